"""The site's bundled icon and logo, served at /favicon.ico and /logo.png: what feeds name as
their icon and logo (RSS <image>, Atom <icon>/<logo>, JSON Feed icon/favicon, Yandex's logos)
when no other is configured (SYNDICATION_SITE_ICON, SYNDICATION_SITE_LOGO)."""

from __future__ import annotations

from importlib.resources import files

from syndication.rendering import RenderContext, Rendered

_STATIC = files("syndication") / "static"
ICON = (_STATIC / "favicon.ico").read_bytes()  # 32 px, a PNG inside an ICO
LOGO = (_STATIC / "logo.png").read_bytes()  # 180 px square: Yandex's minimum for its square logo


async def build_icon(ctx: RenderContext) -> Rendered:
    return Rendered(ICON, "image/x-icon")


async def build_logo(ctx: RenderContext) -> Rendered:
    return Rendered(LOGO, "image/png")
