"""Arbitrary Unicode in every text field: every format stays well-formed, valid and inert."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import feedparser
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds import build_feed, build_yandex
from feeds.atom import render_atom
from feeds.jsonfeed import render_json
from feeds.model import Category
from feeds.rss import render_rss
from feeds.yandex import render_yandex
from syndication.config import Settings
from syndication.content import sanitize_html
from syndication.ingest import InvalidPayload, validate_rubric
from syndication.model import ALL_NEWS, Image
from syndication.store import SQLiteStore
from tests.conftest import SHARED
from tests.feeds.helpers import assert_valid_atom, context, load, make_feed, make_item, payload

NASTY = ["]]>", "&", "<script>alert(1)</script>", "\x00", "\x0b", "\ufffe", "\uffff", "\ud800",
         "\udfff", "\u202e", "\u200f", "עברית", "😀", "\r\n", "&amp;", "<![CDATA[", "\x7f",
         "Ёлка", "\t", "'\""]  # fmt: skip
text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=6).map("".join)
non_empty = text.filter(lambda s: bool(s.strip()))
HAVE_SCHEMA = (SHARED / "schemas").is_dir()


def _check(bodies: dict[str, bytes]) -> None:
    for fmt, body in bodies.items():
        if fmt == "json":
            doc = orjson.loads(body)
            assert b"<" not in body
            assert all("<script" not in (i.get("content_html") or "") for i in doc["items"])
            continue
        assert b"<script" not in body
        root = etree.fromstring(body)  # well-formed
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (fmt, parsed.get("bozo_exception"))
        assert len(parsed.entries) == len(root.findall(".//item")) or fmt == "atom"
        if fmt == "atom" and HAVE_SCHEMA:
            assert_valid_atom(body)


@settings(max_examples=40, deadline=None)
@given(
    title=text,
    summary=st.one_of(st.none(), text),
    content=st.one_of(st.none(), text),
    author=st.one_of(st.none(), text),
    label=text,
    caption=st.one_of(st.none(), text),
    channel=text,
)
def test_pure_renderers(
    title: str,
    summary: str | None,
    content: str | None,
    author: str | None,
    label: str,
    caption: str | None,
    channel: str,
) -> None:
    # Stored HTML is always sanitised (ingest's invariant); every other text arrives raw here.
    html = sanitize_html(content, "https://example.ru/") if content else None
    item = make_item(
        1,
        title=title,
        summary=summary,
        content_html=html,
        author=author,
        categories=(
            Category(label, label, "https://example.ru/tag/", "https://example.ru/tag/x/", "topic"),
        ),
        image=Image("https://example.ru/a.jpg", None, None, caption),
    )
    feed = make_feed([item, make_item(2)], title=channel, description=channel)
    _check(
        {
            "rss": render_rss(feed),
            "atom": render_atom(feed),
            "json": render_json(feed),
            "yandex": render_yandex(feed),
        }
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=non_empty, content=text, author=non_empty, tag=non_empty, rubric=non_empty)
def test_through_ingest_and_store(
    title: str, content: str, author: str, tag: str, rubric: str
) -> None:
    async def run() -> dict[str, bytes]:
        with tempfile.TemporaryDirectory() as tmp:
            s = Settings.load(
                environ={},
                db=str(Path(tmp) / "s.db"),
                public_url="https://feeds.example.ru",
                site_url="https://example.ru",
            )
            store = SQLiteStore(s.db, s.zone)
            await store.open()
            try:
                await load(store, s, [])
                # Rubric titles arrive through the rubric API, so through its validation too.
                await store.put_rubric(validate_rubric({"title": rubric}, "glavnoe"))
                await load(
                    store,
                    s,
                    [payload(1, title=title, content_html=content or None, summary=None,
                             author=author, tags=[tag])],
                )  # fmt: skip
                ctx = context(store, s)
                out = {
                    f: (await build_feed(ctx, ALL_NEWS, f)).body for f in ("rss", "atom", "json")
                }
                out["yandex"] = (await build_yandex(ctx)).body
                return out
            finally:
                await store.close()

    try:
        bodies = anyio.run(run)
    except InvalidPayload:  # ingest refuses e.g. a title that cleaning leaves empty
        return
    _check(bodies)
