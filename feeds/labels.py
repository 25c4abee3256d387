"""Russian UI text shared by feed titles, OPML and the index page."""

from __future__ import annotations

from syndication.timeutil import parse_month

MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
          "октябрь", "ноябрь", "декабрь")  # fmt: skip

TAG_KINDS = {"topic": "Темы", "person": "Персоны", "org": "Организации"}

FORMATS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
# The registered media types, as autodiscovery links name them.
FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


def month_title(key: str) -> str:
    """'2025-12' → 'декабрь 2025'."""
    year, month = parse_month(key)
    return f"{MONTHS[month - 1]} {year}"


def tag_description(name: str, kind: str) -> str:
    if kind == "person":
        return f"Материалы о персоне: {name}"
    if kind == "org":
        return f"Новости организации: {name}"
    return f"Новости по теме «{name}»"
