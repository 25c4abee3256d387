"""RFC 5005 paging: page count, page URLs and first/previous/next/last links (pure)."""

from __future__ import annotations

from feeds.model import Link


def last_page(total: int, limit: int) -> int:
    """Pages needed for `total` items; an empty feed still has its page 1."""
    return max(1, -(-total // limit))


def page_url(base: str, page: int, limit: int, default_limit: int) -> str:
    """The public URL of one page; a non-default limit stays in every link so a reader that
    asked for it keeps walking the same pages."""
    query = []
    if page > 1:
        query.append(f"page={page}")
    if limit != default_limit:
        query.append(f"limit={limit}")
    return f"{base}?{'&'.join(query)}" if query else base


def paging_links(
    base: str, page: int, last: int, limit: int, default_limit: int
) -> tuple[Link, ...]:
    def url(n: int) -> str:
        return page_url(base, n, limit, default_limit)

    links = [Link("first", url(1))]
    if page > 1:
        links.append(Link("previous", url(page - 1)))
    if page < last:
        links.append(Link("next", url(page + 1)))
    links.append(Link("last", url(last)))
    return tuple(links)
