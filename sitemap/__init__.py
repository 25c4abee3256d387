"""Sitemap writers: the index, month article sitemaps with images, rubric and tag pages, Google
News, robots.txt. Rows in, bytes out, streamed with lxml's incremental writer."""

from sitemap.articles import build_month
from sitemap.index import build_index
from sitemap.news import build_news
from sitemap.robots import build_robots
from sitemap.terms import build_rubrics, build_tags

__all__ = [
    "build_index",
    "build_month",
    "build_news",
    "build_robots",
    "build_rubrics",
    "build_tags",
]
