"""Syndication service: feeds and sitemaps for a news portal."""

__version__ = "0.1.0"
