"""The site's bundled icon and logo, served at /favicon.ico and /logo.png: what feeds name as
their icon and logo (RSS <image>, Atom <icon>/<logo>, JSON Feed icon/favicon, Yandex's logos)
when no other is configured (SYNDICATION_SITE_ICON, SYNDICATION_SITE_LOGO)."""

from __future__ import annotations

from syndication import assets
from syndication.rendering import RenderContext, Rendered


async def build_icon(ctx: RenderContext) -> Rendered:
    return Rendered(assets.load("favicon.ico"), "image/x-icon")  # 32 px, a PNG inside an ICO


async def build_logo(ctx: RenderContext) -> Rendered:
    # 180 px square: Yandex's minimum for its square logo.
    return Rendered(assets.load("logo.png"), "image/png")
