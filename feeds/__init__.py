"""Feed documents: RSS 2.0, Atom 1.0, JSON Feed 1.1, Yandex News, OPML and the index page.

Pure renderers (model in, bytes out) live beside thin async builders that query the store and
then run the renderer in a worker thread; the serving layer calls only the builders re-exported
here.
"""

from feeds.build import build_feed, build_yandex
from feeds.listing import build_index_page, build_opml
from feeds.pages import build_feed_page

__all__ = ["build_feed", "build_feed_page", "build_index_page", "build_opml", "build_yandex"]
