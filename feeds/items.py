"""Store articles → feed items: identity, categories with their taxonomy, summaries."""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import urlsplit

from feeds.model import Category, Item
from syndication.config import Settings
from syndication.content import derive_summary
from syndication.model import Article, Image, Rubric, Scope
from syndication.urls import rubric_page, tag_page

# The date in a tag: URI names when the authority owned the name, not when the article appeared:
# it is fixed so that an id never changes, whatever happens to the article.
TAG_DATE = "2025"


def _authority(settings: Settings) -> str:
    return urlsplit(settings.site).hostname or "localhost"


def article_guid(settings: Settings, article_id: str) -> str:
    """An article's permanent id: from the CMS id, not the URL, which editors may change."""
    return f"tag:{_authority(settings)},{TAG_DATE}:article:{article_id}"


def feed_guid(settings: Settings, scope: Scope) -> str:
    return f"tag:{_authority(settings)},{TAG_DATE}:feed:{scope.name}"


def rubric_scheme(settings: Settings) -> str:
    """The scheme of every rubric, also one with a page of its own (`Rubric.url`): the scheme
    names the taxonomy, which is one for all rubrics, not the page of one of them."""
    return f"{settings.site}/rubric/"


def tag_scheme(settings: Settings) -> str:
    return f"{settings.site}/tag/"


def with_lead_image(content_html: str | None, image: Image | None) -> str | None:
    """The full text with the lead image on top, unless the text already shows it: newsboat
    and e-mail readers show no enclosure, so the article would reach them without its picture.
    Text without full content stays without (the summary stands for it)."""
    if not content_html or image is None:
        return content_html
    url = html.escape(image.url)
    if image.url in content_html or url in content_html:
        return content_html
    alt = html.escape(image.caption or "", quote=True)
    return f'<p><img src="{url}" alt="{alt}"></p>{content_html}'


def to_item(article: Article, settings: Settings, rubrics: Mapping[str, Rubric]) -> Item:
    categories: list[Category] = []
    for slug in article.rubrics:
        rubric = rubrics.get(slug)
        categories.append(
            Category(
                slug=slug,
                label=rubric.title if rubric else slug,
                scheme=rubric_scheme(settings),
                page=rubric_page(settings, slug, rubric.url if rubric else None),
                kind="rubric",
            )
        )
    for tag in article.tags:
        categories.append(
            Category(
                slug=tag.slug,
                label=tag.name,
                scheme=tag_scheme(settings),
                page=tag_page(settings, tag.slug),
                kind=tag.kind.value,
            )
        )
    return Item(
        id=article_guid(settings, article.id),
        title=article.title,
        url=article.url,
        # Ingest derives a summary whenever there is content; this covers rows that predate it.
        summary=article.summary or derive_summary(article.content_html),
        content_html=with_lead_image(article.content_html, article.image),
        published=article.published_at,
        updated=article.updated_at,
        author=article.author,
        categories=tuple(categories),
        image=article.image,
    )


_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}


def image_type(image: Image) -> str:
    """The image's media type; guessed from its name with a fixed table (not the `mimetypes`
    module, whose answers depend on the host's files) so output is the same everywhere."""
    if image.type:
        return image.type
    path = urlsplit(image.url).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return _IMAGE_TYPES.get(ext, "image/jpeg")
