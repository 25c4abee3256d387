"""Soak: readers over every kind of document while a writer changes articles, against
`syndication serve --workers 2` on a fresh SQLite file.

    .venv/bin/python bench/soak.py [--seconds 60] [--readers 6] [--seed 1]

Readers GET feeds (all, rubric, tag; RSS, Atom, JSON; whole, first page, ?page=2), the Yandex
feed, month archives, every sitemap, OPML, the index page and robots.txt, plainly or with
If-None-Match / If-Modified-Since from their last answer. One writer creates, edits, moves
(rubric, tags, month), hides (draft) and deletes articles through the API, one request at a time.

Stale reads: the writer numbers its requests and keeps each article's history. A read records
the number of the last *acknowledged* write when it starts and of the last *sent* write when it
ends; for each article, what the document shows must be the article's state after that
acknowledged write or after one sent while the read ran. Checked on every feed and archive in
every format (the items' ids and titles: whole lists must hold exactly the articles in scope,
pages no article out of scope), on month sitemaps (article URLs), and on one feed per article
(`/feeds/tag/u{id}.json`, a tag only that article has). A 304 is checked with the bytes the reader
holds: a validator that matched bytes older than an acknowledged write is a stale read.

At the end: requests, errors, 5xx, stale reads, the store against the writer's model
(`GET /api/articles/{id}` for every id, 404 for deleted ones, the all-news and rubric feeds
holding exactly the visible articles), tracebacks in the server log, and each worker's RSS
(/proc) at start and end. Exit status 1 when anything is off. `run()` is what
tests/e2e/test_soak.py calls for a short run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "soak-token-0123456789"
SITE = "https://example.ru"
ZONE = ZoneInfo("Europe/Moscow")  # the service's default SYNDICATION_TIMEZONE
RUBRICS = ("glavnoe", "ekonomika", "sport", "kultura")
TAGS = ("topic1", "topic2", "topic3", "topic4", "topic5", "topic6")
MAX_LIVE = 300  # whole lists are read with ?limit=500: every article in scope fits on one page
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
FORMATS = ("rss", "atom", "json")


# --- the writer's model -------------------------------------------------------------------------
@dataclass(frozen=True)
class State:
    """What readers may see of one article after one write."""

    title: str
    rubrics: tuple[str, ...]
    tags: tuple[str, ...]
    published_at: datetime
    visible: bool  # published (drafts appear nowhere); dates are always in the past

    @property
    def month(self) -> str:
        return self.published_at.astimezone(ZONE).strftime("%Y-%m")


@dataclass
class Entry:
    seq: int
    state: State | None  # None: deleted
    ok: bool = True  # False when the write was not acknowledged: it may or may not have happened


class Model:
    """Articles' histories, numbered by the writer's requests (one at a time, so in order)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.history: dict[str, list[Entry]] = {}
        self.sent = 0  # number of the last write sent
        self.acked = 0  # number of the last write answered (acknowledged or failed)

    def begin(self, article_id: str, state: State | None) -> Entry:
        with self.lock:
            self.sent += 1
            entry = Entry(self.sent, state)
            self.history.setdefault(article_id, []).append(entry)
            return entry

    def end(self, entry: Entry, ok: bool) -> None:
        with self.lock:
            entry.ok = ok
            self.acked = entry.seq

    def marks(self) -> tuple[int, int]:
        with self.lock:
            return self.acked, self.sent

    def ids(self) -> list[str]:
        with self.lock:
            return list(self.history)

    def current(self, article_id: str) -> State | None:
        """The state after the last acknowledged write (the writer's own view)."""
        with self.lock:
            for entry in reversed(self.history.get(article_id, [])):
                if entry.ok:
                    return entry.state
            return None

    def possible(self, article_id: str, acked: int, sent: int) -> list[State | None]:
        """States a read may show: after the last write acknowledged when it started, or after
        any write sent before it ended."""
        with self.lock:
            entries = self.history.get(article_id, [])
            base: State | None = None
            later: list[State | None] = []
            for entry in entries:
                if entry.seq <= acked:
                    if entry.ok:
                        base = entry.state
                elif entry.seq <= sent:
                    later.append(entry.state)
            return [base, *later]


# --- documents and what they must show ----------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """What a document shows of articles: id -> title (feeds) or id -> None (sitemaps)."""

    items: dict[str, str | None]


Scope = Callable[[State], bool]


@dataclass(frozen=True)
class Doc:
    path: str
    parse: Callable[[bytes], Shown] | None  # None: status and well-formedness only
    scope: Scope | None = None
    whole: bool = False  # the document lists every article in scope (not one page)
    may_404: bool = False
    unique: str | None = None  # the one article this document is about (its own tag's feed)


def _article_id(guid: str) -> str:
    return guid.rsplit(":article:", 1)[-1]


def parse_rss(body: bytes) -> Shown:
    root = etree.fromstring(body)
    return Shown({_article_id(i.findtext("guid") or ""): i.findtext("title") or ""
                  for i in root.iterfind("channel/item")})  # fmt: skip


def parse_atom(body: bytes) -> Shown:
    root = etree.fromstring(body)
    return Shown({_article_id(e.findtext(f"{ATOM}id") or ""): e.findtext(f"{ATOM}title") or ""
                  for e in root.iterfind(f"{ATOM}entry")})  # fmt: skip


def parse_json(body: bytes) -> Shown:
    return Shown({_article_id(i["id"]): i["title"] for i in json.loads(body)["items"]})


def parse_sitemap(body: bytes) -> Shown:
    root = etree.fromstring(body)
    found: dict[str, str | None] = {}
    for loc in root.iterfind(f"{SITEMAP}url/{SITEMAP}loc"):
        match = re.fullmatch(re.escape(SITE) + r"/news/([^/]+)/", loc.text or "")
        if match:
            found[match.group(1)] = None
    return Shown(found)


def parse_xml(body: bytes) -> Shown:
    etree.fromstring(body)  # well-formed
    return Shown({})


PARSERS = {"rss": parse_rss, "atom": parse_atom, "json": parse_json}


def months(now: datetime) -> list[str]:
    first = now.astimezone(ZONE).replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    before = (previous - timedelta(days=1)).replace(day=1)
    return [m.strftime("%Y-%m") for m in (first, previous, before)]


def catalogue(model: Model, month_keys: list[str]) -> list[Doc]:
    """Every kind of document, the modelled ones with the articles they must show."""
    docs: list[Doc] = []

    def visible(s: State) -> bool:
        return s.visible

    def in_rubric(r: str) -> Scope:
        return lambda s: s.visible and r in s.rubrics

    def in_tag(t: str) -> Scope:
        return lambda s: s.visible and t in s.tags

    def in_month(m: str) -> Scope:
        return lambda s: s.visible and s.month == m

    for fmt in FORMATS:
        parse = PARSERS[fmt]
        docs += [
            Doc(f"/feeds/all.{fmt}?limit=500", parse, visible, whole=True),
            Doc(f"/feeds/all.{fmt}", parse, visible),
            Doc(f"/feeds/all.{fmt}?page=2&limit=20", parse, visible, may_404=True),
        ]
        docs += [Doc(f"/feeds/rubric/{r}.{fmt}?limit=500", parse, in_rubric(r), whole=True,
                     may_404=True) for r in RUBRICS]  # fmt: skip
        docs += [Doc(f"/feeds/rubric/{r}.{fmt}?page=2&limit=10", parse, in_rubric(r),
                     may_404=True) for r in RUBRICS]  # fmt: skip
        docs += [Doc(f"/feeds/tag/{t}.{fmt}?limit=500", parse, in_tag(t), whole=True,
                     may_404=True) for t in TAGS]  # fmt: skip
        docs += [Doc(f"/feeds/archive/{m}.{fmt}", parse, in_month(m), whole=True, may_404=True)
                 for m in month_keys]  # fmt: skip
    for m in month_keys:
        docs.append(Doc(f"/sitemaps/articles-{m}.xml", parse_sitemap, in_month(m), whole=True,
                        may_404=True))  # fmt: skip
    docs += [
        Doc("/feeds/yandex.rss", parse_xml),
        Doc("/sitemap.xml", parse_xml),
        Doc("/sitemap.xml.gz", None),
        Doc("/sitemaps/rubrics.xml", parse_xml, may_404=True),
        Doc("/sitemaps/tags.xml", parse_xml, may_404=True),
        Doc("/sitemaps/news.xml", parse_xml, may_404=True),
        Doc("/opml.xml", parse_xml),
        Doc("/opml.xml?format=atom", parse_xml),
        Doc("/opml.xml?format=json", None),
        Doc("/", None),
        Doc("/robots.txt", None),
    ]
    return docs


def unique_tag(article_id: str) -> str:
    return f"u{article_id}"


def own_feed(article_id: str) -> Doc:
    tag = unique_tag(article_id)
    return Doc(f"/feeds/tag/{tag}.json?limit=500", parse_json,
               lambda s: s.visible and tag in s.tags, whole=True, may_404=True,
               unique=article_id)  # fmt: skip


def stale_items(doc: Doc, shown: Shown, model: Model, acked: int, sent: int) -> list[str]:
    """Articles the document shows (or leaves out) in a way no state it may show allows."""
    assert doc.scope is not None
    scope = doc.scope
    problems = []
    ids = [doc.unique] if doc.unique else model.ids()
    for article_id in set(ids) | set(shown.items):
        states = model.possible(article_id, acked, sent)
        if article_id in shown.items:
            title = shown.items[article_id]
            fits = any(s is not None and scope(s) and (title is None or s.title == title)
                       for s in states)  # fmt: skip
            if not fits:
                problems.append(f"shows {article_id} {title!r}; may show {states}")
        elif doc.whole and not any(s is None or not scope(s) for s in states):
            problems.append(f"leaves out {article_id}; must show one of {states}")
    return problems


# --- the run ------------------------------------------------------------------------------------
@dataclass
class Report:
    seconds: float = 0.0
    requests: int = 0
    not_modified: int = 0
    errors: int = 0
    server_errors: int = 0
    stale: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # the first few of each kind
    store_mismatches: list[str] = field(default_factory=list)
    tracebacks: int = 0
    memory: dict[int, tuple[int, int | None]] = field(default_factory=dict)  # pid: RSS start, end
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, kind: str, example: str) -> None:
        with self.lock:
            seen = self.examples.setdefault(kind, [])
            if len(seen) < 10:
                seen.append(example)

    @property
    def workers_lost(self) -> int:
        return sum(end is None for _, end in self.memory.values())

    @property
    def clean(self) -> bool:
        return not (
            self.errors or self.server_errors or self.stale or self.store_mismatches
            or self.tracebacks or self.workers_lost
        )  # fmt: skip

    def lines(self) -> Iterator[str]:
        mib = 1024 * 1024
        writes = sum(self.writes.values())
        yield (f"{self.seconds:.0f} s: {self.requests:,} requests ({self.not_modified:,} answered "
               f"304), {writes:,} writes {dict(self.writes)}")  # fmt: skip
        yield (f"errors {self.errors}   5xx {self.server_errors}   stale reads {self.stale}   "
               f"tracebacks in the log {self.tracebacks}")  # fmt: skip
        if self.store_mismatches:
            yield f"store differs from the writer's model in {len(self.store_mismatches)} ways"
        else:
            yield "store equals the writer's model"
        for pid, (start, end) in sorted(self.memory.items()):
            after = "gone (restarted?)" if end is None else f"{end / mib:.0f} MiB"
            yield f"worker {pid}: RSS {start / mib:.0f} MiB at start, {after} at the end"
        shown = {**self.examples, "store": self.store_mismatches[:10]}
        for kind, examples in shown.items():
            for example in examples:
                yield f"  {kind}: {example[:600]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


@contextmanager
def serving(tmp: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    env = {**os.environ, "SYNDICATION_DB": str(tmp / "soak.db"), "SYNDICATION_API_TOKEN": TOKEN,
           "SYNDICATION_PUBLIC_URL": base, "SYNDICATION_SITE_URL": SITE}  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # only a server that cannot start reaches it
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield base, process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_pids(base: str, count: int) -> set[int]:
    """The workers, as they name themselves in /metrics (a new connection may reach another)."""
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while len(pids) < count and time.monotonic() < deadline:
        # /metrics is the operators': the API token reads it when no metrics token is set.
        auth = {"Authorization": f"Bearer {TOKEN}"}
        text = httpx.get(f"{base}/metrics", headers=auth, timeout=30).text
        pids.update(int(p) for p in re.findall(r'syndication_worker\{pid="(\d+)"', text))
    return pids


class Writer:
    def __init__(self, base: str, model: Model, report: Report, rng: random.Random,
                 month_keys: list[str]) -> None:  # fmt: skip
        self.client = httpx.Client(base_url=base, timeout=60,
                                   headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        self.model = model
        self.report = report
        self.rng = rng
        self.month_keys = month_keys
        self.live: list[str] = []
        self.created = 0
        self.now = datetime.now(UTC)

    def date_in(self, month: str) -> datetime:
        """A moment of `month` (site zone) in the past, away from the month's edges."""
        if month == self.month_keys[0]:
            start = self.now.astimezone(ZONE).replace(day=1, hour=0, minute=0, second=0,
                                                      microsecond=0)  # fmt: skip
            span = (self.now - start).total_seconds()
            if span > 7200:
                offset = self.rng.uniform(3600, span - 1800)
                return (start + timedelta(seconds=offset)).astimezone(UTC).replace(microsecond=0)
            month = self.month_keys[1]
        year, number = map(int, month.split("-"))
        day, hour = self.rng.randint(2, 27), self.rng.randint(0, 23)
        return datetime(year, number, day, hour, self.rng.randint(0, 59), tzinfo=ZONE).astimezone(
            UTC
        )

    def new_state(self, article_id: str, seq: int, base: State | None = None) -> State:
        rng = self.rng
        if base is None:
            return State(
                title=f"Новость {article_id} правка {seq}",
                rubrics=tuple(rng.sample(RUBRICS, rng.randint(1, 2))),
                tags=(unique_tag(article_id), *rng.sample(TAGS, rng.randint(0, 2))),
                published_at=self.date_in(rng.choice(self.month_keys)),
                visible=rng.random() > 0.05,
            )
        change = rng.choice(("title", "rubric", "tags", "month", "visibility"))
        title = f"Новость {article_id} правка {seq}"
        if change == "rubric":
            return State(title, tuple(rng.sample(RUBRICS, rng.randint(1, 2))), base.tags,
                         base.published_at, base.visible)  # fmt: skip
        if change == "tags":
            tags = (unique_tag(article_id), *rng.sample(TAGS, rng.randint(0, 3)))
            return State(title, base.rubrics, tags, base.published_at, base.visible)
        if change == "month":
            month = rng.choice([m for m in self.month_keys if m != base.month] or self.month_keys)
            return State(title, base.rubrics, base.tags, self.date_in(month), base.visible)
        if change == "visibility":
            return State(title, base.rubrics, base.tags, base.published_at, not base.visible)
        return State(title, base.rubrics, base.tags, base.published_at, base.visible)

    def payload(self, state: State) -> dict[str, Any]:
        return {
            "title": state.title,
            "published_at": state.published_at.isoformat(),
            "content_html": f"<p>{state.title}: текст <a href='/x'>со ссылкой</a>.</p>",
            "rubrics": list(state.rubrics),
            "tags": list(state.tags),
            "status": "published" if state.visible else "draft",
        }

    def step(self) -> None:
        roll = self.rng.random()
        if not self.live or (roll < 0.25 and len(self.live) < MAX_LIVE):
            self.create()
        elif roll < 0.4:
            self.delete(self.rng.choice(self.live))
        else:
            article_id = self.rng.choice(self.live)
            self.put(article_id, self.model.current(article_id), "edit")

    def create(self) -> None:
        self.created += 1
        self.put(f"s{self.created}", None, "create")

    def put(self, article_id: str, base: State | None, kind: str) -> None:
        with self.model.lock:
            seq = self.model.sent + 1
        state = self.new_state(article_id, seq, base)
        entry = self.model.begin(article_id, state)
        ok = False
        try:
            r = self.client.put(f"/api/articles/{article_id}", json=self.payload(state))
            ok = r.status_code in ((201,) if base is None else (200,))
            if not ok:
                self.report.note("error", f"PUT {article_id}: {r.status_code} {r.text[:200]}")
        except httpx.HTTPError as exc:
            self.report.note("error", f"PUT {article_id}: {exc!r}")
        finally:
            self.count(ok)
            self.model.end(entry, ok)
        if ok and base is None:
            self.live.append(article_id)
        self.report.writes[kind] += 1

    def delete(self, article_id: str) -> None:
        entry = self.model.begin(article_id, None)
        ok = False
        try:
            r = self.client.delete(f"/api/articles/{article_id}")
            ok = r.status_code == 204
            if not ok:
                self.report.note("error", f"DELETE {article_id}: {r.status_code} {r.text[:200]}")
        except httpx.HTTPError as exc:
            self.report.note("error", f"DELETE {article_id}: {exc!r}")
        finally:
            self.count(ok)
            self.model.end(entry, ok)
        if ok:
            self.live.remove(article_id)
        self.report.writes["delete"] += 1

    def count(self, ok: bool) -> None:
        with self.report.lock:
            self.report.requests += 1
            if not ok:
                self.report.errors += 1


@dataclass
class Held:
    etag: str | None
    last_modified: str | None
    shown: Shown | None


class Reader:
    def __init__(self, base: str, model: Model, report: Report, rng: random.Random,
                 docs: list[Doc]) -> None:  # fmt: skip
        # No keep-alive: each request may reach either worker, as a crowd of clients would.
        transport = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.client = httpx.Client(base_url=base, timeout=60, transport=transport)
        self.model = model
        self.report = report
        self.rng = rng
        self.docs = docs
        self.held: dict[str, Held] = {}

    def step(self) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            ids = self.model.ids()
            doc = own_feed(rng.choice(ids)) if ids else rng.choice(self.docs)
        else:
            doc = rng.choice(self.docs)
        held = self.held.get(doc.path)
        headers = {}
        if held is not None and held.shown is not None:
            mode = rng.choice(("plain", "etag", "date"))
            if mode == "etag" and held.etag:
                headers["If-None-Match"] = held.etag
            elif mode == "date" and held.last_modified:
                headers["If-Modified-Since"] = held.last_modified
        acked, _ = self.model.marks()
        try:
            r = self.client.get(doc.path, headers=headers)
        except httpx.HTTPError as exc:
            self.fail(f"GET {doc.path}: {exc!r}")
            return
        _, sent = self.model.marks()
        with self.report.lock:
            self.report.requests += 1
            if r.status_code >= 500:
                self.report.server_errors += 1
        if r.status_code == 304:
            with self.report.lock:
                self.report.not_modified += 1
            if held is None or not headers:
                self.fail(f"GET {doc.path}: 304 to an unconditional request")
                return
            shown = held.shown
        elif r.status_code == 200:
            try:
                shown = doc.parse(r.content) if doc.parse else Shown({})
            except Exception as exc:  # a body that does not parse is an error, not a crash
                self.fail(f"GET {doc.path}: unreadable body: {exc!r}")
                return
            self.held[doc.path] = Held(r.headers.get("etag"), r.headers.get("last-modified"),
                                       shown)  # fmt: skip
        elif r.status_code == 404 and doc.may_404:
            shown = Shown({})
            self.held.pop(doc.path, None)
        else:
            self.fail(f"GET {doc.path}: {r.status_code} {r.text[:200]}")
            return
        if doc.scope is not None and shown is not None:
            problems = stale_items(doc, shown, self.model, acked, sent)
            if problems:
                with self.report.lock:
                    self.report.stale += 1
                when = (
                    f"Date {r.headers.get('date')}, Last-Modified {r.headers.get('last-modified')}"
                )
                self.report.note(
                    "stale",
                    f"{doc.path} ({r.status_code}, {headers or 'plain'}, read between writes "
                    f"{acked} and {sent}, {when}): {problems[0]}",
                )

    def fail(self, problem: str) -> None:
        with self.report.lock:
            self.report.errors += 1
        self.report.note("error", problem)


def compare_store(base: str, model: Model, docs: list[Doc]) -> list[str]:
    """The store against the writer's model: every article as last acknowledged, deleted ones
    gone, and every whole list (feeds, archives, month sitemaps, each article's own tag feed)
    holding exactly the articles in its scope."""
    mismatches = []
    with httpx.Client(base_url=base, timeout=60) as client:
        expected = {i: model.current(i) for i in model.ids()}
        for article_id, state in expected.items():
            r = client.get(f"/api/articles/{article_id}")
            if state is None:
                if r.status_code != 404:
                    mismatches.append(f"{article_id}: deleted, but answered {r.status_code}")
                continue
            if r.status_code != 200:
                mismatches.append(f"{article_id}: answered {r.status_code}")
                continue
            got = r.json()
            seen = (got["title"], tuple(got["rubrics"]),
                    tuple(t["name"] if isinstance(t, dict) else t for t in got["tags"]),
                    datetime.fromisoformat(got["published_at"]), got["status"])  # fmt: skip
            want = (state.title, state.rubrics, state.tags, state.published_at,
                    "published" if state.visible else "draft")  # fmt: skip
            if seen != want:
                mismatches.append(f"{article_id}: stored {seen}, model {want}")
        # Nothing is in flight now: every whole document must show exactly the model.
        final, _ = model.marks()
        whole = [d for d in docs if d.whole] + [own_feed(i) for i in expected]
        for doc in whole:
            r = client.get(doc.path)
            if r.status_code not in (200, 404) or (r.status_code == 404 and not doc.may_404):
                mismatches.append(f"{doc.path}: {r.status_code}")
                continue
            assert doc.parse is not None
            shown = doc.parse(r.content) if r.status_code == 200 else Shown({})
            mismatches += [f"{doc.path}: {p}" for p in stale_items(doc, shown, model, final, final)]
    return mismatches


def run(seconds: float = 60, *, readers: int = 6, seed: int = 1, workers: int = 2,
        min_requests: int = 0, tmp: Path | None = None) -> Report:  # fmt: skip
    """Serve, soak for `seconds` (and on until `min_requests` requests were made, so that a slow
    machine does as much as a test expects; a server that stopped answering ends it 600 s
    later), compare, stop; everything in a fresh temporary folder."""
    with (
        tempfile.TemporaryDirectory(prefix="soak-", dir=tmp) as folder,
        serving(Path(folder), workers) as (base, _process, log),
    ):
        report = _soak(base, seconds, readers, seed, workers, min_requests)
        report.tracebacks = log.read_bytes().count(b"Traceback")
        if report.tracebacks:
            report.note("log", log.read_text()[-3000:])
    return report


def _soak(
    base: str, seconds: float, readers: int, seed: int, workers: int, min_requests: int
) -> Report:
    report = Report()
    model = Model()
    rng = random.Random(seed)
    month_keys = months(datetime.now(UTC))
    writer = Writer(base, model, report, random.Random(rng.random()), month_keys)
    for _ in range(40):  # something of every kind to read from the start
        writer.create()
    pids = worker_pids(base, workers)
    start_rss = {pid: rss(pid) or 0 for pid in pids}
    docs = catalogue(model, month_keys)
    stop = threading.Event()
    crashed: list[str] = []

    def loop(step: Callable[[], None]) -> None:
        try:
            while not stop.is_set():
                step()
        except Exception as exc:  # the soak's own bug: reported, not hidden in a thread
            crashed.append(repr(exc))
            stop.set()

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(writer.step,))]
    readers_ = [
        Reader(base, model, report, random.Random(rng.random()), docs) for _ in range(readers)
    ]
    threads += [threading.Thread(target=loop, args=(r.step,)) for r in readers_]
    for t in threads:
        t.start()
    stop.wait(seconds)
    while report.requests < min_requests and not stop.is_set():
        if time.monotonic() > started + seconds + 600:
            report.errors += 1
            report.note("error", f"only {report.requests} requests in {seconds + 600:.0f} s")
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    report.seconds = time.monotonic() - started
    writer.client.close()
    for problem in crashed:
        report.errors += 1
        report.note("error", f"soak thread failed: {problem}")
    report.store_mismatches = compare_store(base, model, docs)
    report.memory = {pid: (start_rss[pid], rss(pid)) for pid in pids}
    if len(pids) < workers:
        report.errors += 1
        report.note("error", f"only {len(pids)} of {workers} workers answered /metrics")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(args.seconds, readers=args.readers, seed=args.seed)
    for line in report.lines():
        print(line)
    sys.exit(0 if report.clean else 1)


if __name__ == "__main__":
    main()
