"""Payload → model: every check the write API makes, with errors that name the field."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import orjson

from syndication.config import Settings
from syndication.content import body_images, clean_text, derive_summary, sanitize_html
from syndication.model import ArticleIn, Image, Rubric, Status, TagKind, TagRef
from syndication.weburl import normalise_url

# \Z, not $: `$` also matches before a trailing newline ("a1\n" would pass). `.` and `..` are
# refused: as path segments of the default article URL (/news/./) they mean something else.
ID_PATTERN = re.compile(r"^(?!\.\.?\Z)[A-Za-z0-9_.-]{1,64}\Z")
ID_RULE = "must be 1-64 characters of A-Z a-z 0-9 _ . - (and not . or ..)"
RUBRIC_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}\Z")
TITLE_MAX = 500
SUMMARY_MAX_INPUT = 10_000
NAME_MAX = 200
MAX_TAGS = 100
MAX_RUBRICS = 20
# Integers go into SQLite's signed 64-bit columns; past these bounds they are refused by field
# (not left to overflow in the store). 2^53 - 1 is the largest integer every JSON reader keeps
# exact (JavaScript's Number.MAX_SAFE_INTEGER), far above any real image.
IMAGE_LENGTH_MAX = 2**53 - 1
POSITION_MIN, POSITION_MAX = -(2**31), 2**31 - 1
# orjson's own nesting limit; the stdlib fallback stops at Python's recursion limit (~1,000).
MAX_JSON_DEPTH = 1024
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidPayload(ValueError):
    """The payload is not an acceptable article/rubric; `errors` says which fields and why."""

    def __init__(self, errors: list[FieldError], status: int = 422) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.status = status


def parse_json(data: bytes | str) -> Any:
    """JSON (UTF-8) → Python, raising InvalidPayload(400) for anything unparseable.

    orjson first for speed; stdlib json as a fallback only for what orjson refuses but we can
    clean instead of refusing the article: lone surrogate escapes (`"\\ud800"`). The fallback
    must not widen what is accepted otherwise: it gets text already decoded as strict UTF-8 (the
    stdlib would detect and accept UTF-16 or UTF-32 bytes), no NaN or Infinity, and a nesting
    too deep for it is a 400 like any other unreadable body, not a RecursionError.
    """
    if isinstance(data, bytes) and data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]  # allowed by RFC 8259; orjson refuses it
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        first = exc
    if isinstance(data, bytes):
        try:
            # A NUL is valid UTF-8 but never in JSON text: UTF-16 or UTF-32 ASCII looks like this.
            text = data.decode("utf-8") if b"\x00" not in data else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            raise _unreadable("must be JSON encoded as UTF-8") from None
    else:
        text = data
    if "\\u" not in text:  # no escape, no lone surrogate: orjson's verdict stands
        raise _unreadable(f"malformed JSON: {first}") from None
    too_deep = _unreadable(f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    try:
        parsed = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise _unreadable(f"malformed JSON: {exc}") from None
    if _deeper_than(parsed, MAX_JSON_DEPTH):  # the same bound whichever parser read it
        raise too_deep
    return parsed


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (iterative: the value may be deep)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _unreadable(message: str) -> InvalidPayload:
    return InvalidPayload([FieldError("body", message)], status=400)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


class _Checker:
    """Collects every error of a payload instead of stopping at the first."""

    def __init__(self, prefix: str = "") -> None:
        self.errors: list[FieldError] = []
        self.prefix = prefix

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(self.prefix + field, message))

    def text(
        self, data: dict[str, Any], field: str, *, required: bool = False, max_len: int = NAME_MAX
    ) -> str | None:
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(value, str):
            self.fail(field, "must be a string")
            return None
        # NFC: the same text typed on two systems (composed é or e + combining accent) is one name,
        # one tag, one slug.
        cleaned = unicodedata.normalize("NFC", clean_text(value))
        if not cleaned:
            if required:
                self.fail(field, "must not be empty")
            return None
        if len(cleaned) > max_len:
            self.fail(field, f"must be at most {max_len} characters (got {len(cleaned)})")
            return None
        return cleaned

    def url(self, data: dict[str, Any], field: str, *, required: bool = False) -> str | None:
        """The field as the URL sitemaps and feeds accept (syndication.weburl), or an error."""
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(value, str):
            self.fail(field, "must be a string")
            return None
        try:
            return normalise_url(value)
        except ValueError as exc:
            self.fail(field, str(exc))
            return None

    def datetime(
        self, data: dict[str, Any], field: str, zone: tzinfo, *, required: bool = False
    ) -> datetime | None:
        value = data.get(field)
        if value is None:
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(value, str):
            self.fail(field, "must be an ISO 8601 date-time string")
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            self.fail(field, f"is not an ISO 8601 date-time: {value[:60]!r}")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        try:
            return parsed.astimezone(UTC).replace(microsecond=0)
        except OverflowError:
            self.fail(field, "is out of range")
            return None


def parse_article(data: bytes, settings: Settings, *, article_id: str | None = None) -> ArticleIn:
    """JSON bytes of one article → ArticleIn, keeping the bytes as the raw payload."""
    return validate_article(parse_json(data), settings, article_id=article_id, raw=data)


def validate_article(
    payload: Any,
    settings: Settings,
    *,
    article_id: str | None = None,
    prefix: str = "",
    raw: bytes | None = None,
) -> ArticleIn:
    """A PUT body (id from the path) or a bulk line (id inside) → ArticleIn, or InvalidPayload."""
    check = _Checker(prefix)
    if not isinstance(payload, dict):
        raise InvalidPayload([FieldError(prefix.rstrip(".") or "body", "must be a JSON object")])

    if article_id is None:
        raw_id = payload.get("id")
        if raw_id is None:
            check.fail("id", "is required")
        article_id = raw_id if isinstance(raw_id, str) else None
        if raw_id is not None and article_id is None:
            check.fail("id", "must be a string")
    elif "id" in payload and payload["id"] != article_id:
        check.fail("id", "differs from the id in the URL")
    if article_id is not None and not ID_PATTERN.match(article_id):
        check.fail("id", ID_RULE)

    title = check.text(payload, "title", required=True, max_len=TITLE_MAX)
    url = check.url(payload, "url")
    summary = check.text(payload, "summary", max_len=SUMMARY_MAX_INPUT)
    author = check.text(payload, "author")
    published_at = check.datetime(payload, "published_at", settings.zone, required=True)
    updated_at = check.datetime(payload, "updated_at", settings.zone)
    if published_at and updated_at and updated_at < published_at:
        check.fail("updated_at", "must not be earlier than published_at")

    content = payload.get("content_html")
    if content is not None and not isinstance(content, str):
        check.fail("content_html", "must be a string")
        content = None

    status_value = payload.get("status", Status.PUBLISHED.value)
    try:
        status = Status(status_value)
    except ValueError:
        check.fail("status", f"must be one of {', '.join(s.value for s in Status)}")
        status = Status.DRAFT

    rubrics = _rubric_list(check, payload.get("rubrics"))
    tags = _tag_list(check, payload.get("tags"))
    image = _image(check, payload.get("image"))

    if check.errors:
        raise InvalidPayload(check.errors)
    assert article_id is not None
    assert title is not None
    assert published_at is not None
    url = url or f"{settings.site}/news/{article_id}/"
    content_html = sanitize_html(content, url) if content else None
    return ArticleIn(
        id=article_id,
        title=title,
        url=url,
        summary=summary or derive_summary(content_html),
        content_html=content_html or None,
        published_at=published_at,
        updated_at=updated_at,
        author=author,
        rubrics=rubrics,
        tags=tags,
        image=image,
        status=status,
        raw=raw if raw is not None else _dump_raw(payload),
        body_images=body_images(content_html, image.url if image else None),
    )


def _dump_raw(payload: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:  # lone surrogates: orjson refuses them, stdlib escapes them
        return json.dumps(payload).encode()


def _rubric_list(check: _Checker, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail("rubrics", "must be a list of rubric slugs")
        return ()
    if len(value) > MAX_RUBRICS:
        check.fail("rubrics", f"must have at most {MAX_RUBRICS} entries")
        return ()
    slugs = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not RUBRIC_SLUG.match(item):
            check.fail(f"rubrics[{i}]", "must be a slug of a-z 0-9 _ - (at most 100 characters)")
        else:
            slugs.append(item)
    return tuple(dict.fromkeys(slugs))


def _tag_list(check: _Checker, value: Any) -> tuple[TagRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.fail("tags", "must be a list")
        return ()
    if len(value) > MAX_TAGS:
        check.fail("tags", f"must have at most {MAX_TAGS} entries")
        return ()
    tags: dict[str, TagRef] = {}
    for i, item in enumerate(value):
        field = f"tags[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            check.fail(field, "must be a name or an object with name and kind")
            continue
        sub = _Checker(f"{check.prefix}{field}.")
        name = sub.text(item, "name", required=True)
        kind = TagKind.TOPIC
        if "kind" in item:
            try:
                kind = TagKind(item["kind"])
            except ValueError:
                sub.fail("kind", f"must be one of {', '.join(k.value for k in TagKind)}")
        check.errors.extend(sub.errors)
        if name and not sub.errors:
            tags.setdefault(name, TagRef(name=name, kind=kind))
    return tuple(tags.values())


def _image(check: _Checker, value: Any) -> Image | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        check.fail("image", "must be an object with url, type, length, caption")
        return None
    sub = _Checker(f"{check.prefix}image.")
    url = sub.url(value, "url", required=True)
    mime = sub.text(value, "type", max_len=100)
    if mime is not None and not re.fullmatch(r"image/[A-Za-z0-9.+-]+", mime):
        sub.fail("type", "must be an image MIME type such as image/jpeg")
    length = value.get("length")
    if length is not None and (
        not isinstance(length, int)
        or isinstance(length, bool)
        or not 0 <= length <= IMAGE_LENGTH_MAX
    ):
        sub.fail("length", f"must be an integer from 0 to {IMAGE_LENGTH_MAX}")
        length = None
    caption = sub.text(value, "caption", max_len=1000)
    check.errors.extend(sub.errors)
    if sub.errors or url is None:
        return None
    return Image(url=url, type=mime, length=length, caption=caption)


def validate_rubric(payload: Any, slug: str) -> Rubric:
    check = _Checker()
    if not isinstance(payload, dict):
        raise InvalidPayload([FieldError("body", "must be a JSON object")])
    if not RUBRIC_SLUG.match(slug):
        check.fail("slug", "must be a slug of a-z 0-9 _ - (at most 100 characters)")
    title = check.text(payload, "title", required=True, max_len=TITLE_MAX)
    description = check.text(payload, "description", max_len=SUMMARY_MAX_INPUT)
    url = check.url(payload, "url")
    parent = payload.get("parent")
    if parent is not None and (not isinstance(parent, str) or not RUBRIC_SLUG.match(parent)):
        check.fail("parent", "must be a rubric slug")
        parent = None
    if parent == slug:
        check.fail("parent", "must not be the rubric itself")
    position = payload.get("position", 0)
    if (
        not isinstance(position, int)
        or isinstance(position, bool)
        or not POSITION_MIN <= position <= POSITION_MAX
    ):
        check.fail("position", f"must be an integer from {POSITION_MIN} to {POSITION_MAX}")
        position = 0
    if check.errors:
        raise InvalidPayload(check.errors)
    assert title is not None
    return Rubric(
        slug=slug, title=title, description=description, url=url, parent=parent, position=position
    )
