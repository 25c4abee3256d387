"""What the service's HTML pages share: escaping, the document head, Russian dates.

Pages are server-rendered strings: every text and attribute goes through `e`; the only
script is the static file `page.js` (the pages' Content-Security-Policy allows no inline
script or style, serving.HTML_POLICY).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from syndication.content import xml_safe

MEDIA_TYPE = "text/html; charset=utf-8"
_MONTHS_OF = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
              "сентября", "октября", "ноября", "декабря")  # fmt: skip


def e(text: str) -> str:
    """Escaped for text and quoted attributes alike, minus characters HTML cannot carry."""
    return escape(xml_safe(text), quote=True)


def head(
    *,
    language: str,
    title: str,
    assets: str,
    alternates: tuple[tuple[str, str, str], ...] = (),
) -> list[str]:
    """From the doctype to `<body>`: the stylesheet, the script (deferred) and feed
    autodiscovery links, (media type, title, URL) each."""
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f'<link rel="stylesheet" href="{e(assets)}page.css">',
        f'<script src="{e(assets)}page.js" defer></script>',
    ]
    out += [
        f'<link rel="alternate" type="{e(media_type)}" title="{e(name)}" href="{e(url)}">'
        for media_type, name, url in alternates
    ]
    out += ["</head>", "<body>"]
    return out


def russian_date(dt: datetime, zone: ZoneInfo) -> str:
    """'5 декабря 2026, 13:05' in the site's zone."""
    local = dt.astimezone(zone)
    return f"{local.day} {_MONTHS_OF[local.month - 1]} {local.year}, {local:%H:%M}"


def iso(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).isoformat(timespec="seconds")


def plural(n: int, one: str, few: str, many: str) -> str:
    """'1 материал', '3 материала', '5 материалов'."""
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = few
    else:
        word = many
    return f"{n} {word}"
