"""Issue 12, nginx in front: a real nginx (Debian's package, run as an ordinary process) with
deploy/nginx/syndication.conf in front of a real `syndication serve`.

The configuration is run as written; only its ports and cache directory are substituted (each
must appear exactly once, so a change to the file cannot silently leave the test on something
else). Two tests must see a copy expire, and the service says max-age=60: rather than wait a
minute, they run a *short* variant that ignores the service's Cache-Control and keeps a 200 for
1 s (`proxy_cache_valid 200 304 1s`). Everything else — the cache key, revalidation, stale
serving, the write API's location — is the deployed file's.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import brotli
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as h_settings
from hypothesis import strategies as st

from syndication.cache import STAMP_MARGIN
from tests.conftest import ROOT, TOKEN, Server, free_port, required_program, start_server

CONF = ROOT / "deploy" / "nginx" / "syndication.conf"
FEED = "/feeds/all.rss"
PUBLISHED = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
# Only a real hang misses these.
DEADLINE_S = 60.0
# Set in the short variant only (the deployed file keeps what the service says).
SHORT = "proxy_ignore_headers Vary Cache-Control Expires;\n        proxy_cache_valid 200 304 1s;"


def article(article_id: str, title: str) -> dict[str, Any]:
    return {"id": article_id, "title": title, "published_at": PUBLISHED, "rubrics": ["glavnoe"]}


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{CONF.name} should hold {old!r} exactly once"
    return text.replace(old, new)


def site_config(upstream_port: int, port: int, cache: Path, *, short: bool) -> str:
    text = CONF.read_text()
    text = replace_once(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{port};")
    text = replace_once(text, "/var/cache/nginx/syndication", str(cache))
    if short:
        text = replace_once(text, "proxy_ignore_headers Vary;", SHORT)
    return text


@dataclass
class Nginx:
    base_url: str
    process: subprocess.Popen[bytes]
    error_log: Path

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=headers, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nginx(
    tmp: Path,
    upstream_port: int,
    *,
    short: bool = False,
    site: Callable[[int, Path], str] | None = None,
    modules: tuple[str, ...] = (),
) -> Nginx:
    """nginx with deploy/nginx/syndication.conf, or with what `site(port, prefix)` returns (the
    http-level text of another configuration), loading the dynamic `modules` (.so paths)."""
    binary = required_program("nginx")
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    error_log = prefix / "error.log"
    text = (
        site(port, prefix)
        if site is not None
        else site_config(upstream_port, port, prefix / "cache", short=short)
    )
    # Debian's compiled-in paths (/var/lib/nginx, /var/log/nginx, /run) are root's: everything
    # nginx writes goes under the prefix instead. A root test run keeps its workers root, as
    # pytest's temporary directories are closed to other users.
    main = f"""
{"".join(f"load_module {module};" for module in modules)}
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {error_log} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{text}
}}
"""
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    command = [binary, "-p", str(prefix), "-e", str(error_log), "-c", str(conf)]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    nginx = Nginx(f"http://127.0.0.1:{port}", process, error_log)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, error_log.read_text()
        try:
            nginx.get("/healthz")
            return nginx
        except httpx.TransportError:
            time.sleep(0.05)
    nginx.stop()
    raise AssertionError(f"nginx did not start:\n{error_log.read_text()}")


@dataclass
class Stack:
    server: Server
    nginx: Nginx
    seeded: datetime  # the Date of the seed write

    def settle(self) -> None:
        """A document rendered within a write's STAMP_MARGIN is rendered once more after it,
        with new bytes (its Last-Modified was capped at the render's second): wait for that to
        pass, so that a revalidation meets the bytes nginx keeps."""
        end = self.seeded + STAMP_MARGIN + timedelta(seconds=1)
        while datetime.now(UTC) < end:
            time.sleep(0.05)


def stack(tmp: Path, *, short: bool = False) -> Iterator[Stack]:
    required_program("nginx")  # skip (or fail under CI) before starting anything
    server = start_server(tmp)
    try:
        with server.client() as c:
            seeded = c.put("/api/articles/a1", json=article("a1", "Первая"))
            assert seeded.status_code == 201
        nginx = start_nginx(tmp, int(server.base_url.rsplit(":", 1)[1]), short=short)
        try:
            yield Stack(server, nginx, parsedate_to_datetime(seeded.headers["Date"]))
        finally:
            nginx.stop()
            errors = [line for line in nginx.error_log.read_text().splitlines()
                      if re.search(r"\[(emerg|alert|crit)\]", line)]  # fmt: skip
            assert not errors, errors
    finally:
        server.stop()
        assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Stack]:
    """The deployed configuration, as it is."""
    yield from stack(tmp_path)


@pytest.fixture
def short(tmp_path: Path) -> Iterator[Stack]:
    """The deployed configuration with 1 s freshness (see the module's docstring)."""
    yield from stack(tmp_path, short=True)


def served(server: Server, route: str) -> dict[str, float]:
    """Requests the service answered on `route`, by status (its one worker's /metrics)."""
    with server.client() as c:
        text = c.get("/metrics").text
    pattern = rf'syndication_requests_total\{{route="{route}",status="(\d+)"\}} (\S+)'
    return {status: float(count) for status, count in re.findall(pattern, text)}


def total(counts: dict[str, float]) -> float:
    return sum(counts.values())


def until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)


def after_expiry(nginx: Nginx, path: str) -> httpx.Response:
    """The first answer to `path` that is not a fresh hit (the short variant keeps 1 s)."""
    box: list[httpx.Response] = []

    def expired() -> bool:
        box[:] = [nginx.get(path)]
        return box[0].headers["X-Cache-Status"] != "HIT"

    until(expired, f"the cached {path} to expire")
    return box[0]


def test_fetched_twice_within_max_age_reaches_the_service_once(deployed: Stack) -> None:
    before = total(served(deployed.server, "feed"))
    first = deployed.nginx.get(FEED)
    second = deployed.nginx.get(FEED)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["X-Cache-Status"] == "MISS"
    assert second.headers["X-Cache-Status"] == "HIT"
    assert second.content == first.content
    # What the service says reaches the client: its validators, caching and Vary.
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Cache-Control"] == "public, max-age=60, stale-while-revalidate=300"
    assert second.headers["Vary"] == "Accept-Encoding, Accept"  # browsers: application/xml
    assert total(served(deployed.server, "feed")) == before + 1
    # A client's conditional request is answered by nginx from its copy.
    again = deployed.nginx.get(FEED, **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert total(served(deployed.server, "feed")) == before + 1


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("gzip, deflate, br", "br"),
        ("br", "br"),
        ("deflate, gzip, br, zstd", "br"),
        ("gzip", "gzip"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip", "gzip"),  # br refused: the plain coding listed
        ("gzip;q=0", "identity"),  # a coding with parameters is never assumed accepted
        ("gzip;q=0.5", "identity"),  # and nginx does not compress what the service did not
        ("identity", "identity"),
        ("", "identity"),
    ],
)
def test_one_copy_per_coding_with_the_bytes_it_names(
    deployed: Stack, accept_encoding: str, coding: str
) -> None:
    with deployed.server.client(token=None) as c:
        direct = c.get(FEED, headers={"Accept-Encoding": "identity"}).content
    before = total(served(deployed.server, "feed"))
    for expected_status in ("MISS", "HIT"):
        r = httpx.get(deployed.nginx.base_url + FEED, headers={"Accept-Encoding": accept_encoding},
                      timeout=30)  # fmt: skip
        assert r.headers["X-Cache-Status"] == expected_status
        assert r.content == direct  # as httpx decodes it; the raw bytes: the test below
        assert r.headers.get("Content-Encoding", "identity") == coding
    assert total(served(deployed.server, "feed")) == before + 1


def test_spellings_of_one_choice_share_a_copy(deployed: Stack) -> None:
    """nginx does not compare raw Accept-Encoding headers (Vary): clients that spell the same
    choice differently do not push each other's copy out."""
    spellings = ["gzip, deflate, br", "br", "deflate, gzip, br, zstd", "gzip, deflate, br"]
    statuses = [deployed.nginx.get(FEED, **{"Accept-Encoding": s}).headers["X-Cache-Status"]
                for s in spellings]  # fmt: skip
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]


def test_the_service_is_asked_with_the_coding_of_the_key(deployed: Stack) -> None:
    """A client whose header the map does not read (q-values) shares the identity copy: the
    service must have been asked for identity, or the next plain client would get br."""
    first = deployed.nginx.get(FEED, **{"Accept-Encoding": "br;q=1"})
    then = deployed.nginx.get(FEED, **{"Accept-Encoding": "identity"})
    assert [first.headers["X-Cache-Status"], then.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    assert "Content-Encoding" not in then.headers


def test_raw_bytes_are_the_services(deployed: Stack) -> None:
    """nginx neither compresses again nor decompresses: gzip and br bodies decode to the feed."""
    with deployed.server.client(token=None) as c:
        direct = c.get(FEED, headers={"Accept-Encoding": "identity"}).content
    for coding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        with httpx.stream("GET", deployed.nginx.base_url + FEED, timeout=30,
                          headers={"Accept-Encoding": coding}) as r:  # fmt: skip
            body = b"".join(r.iter_raw())
        assert r.headers["Content-Encoding"] == coding
        assert decode(body) == direct


CODINGS = ["gzip", "GZip", "br", "BR", "deflate", "zstd", "identity", "*", "x-gzip"]
QVALUES = ["0", "0.0", "0.000", "0.001", "0.5", "1", "1.0", "1.000"]


@st.composite
def accept_encodings(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    """A header, and the q each coding it names gets (the last mention wins here; the header
    only repeats a coding with the same q, so the order does not matter)."""
    items, qs = [], {}
    for coding in draw(st.lists(st.sampled_from(CODINGS), max_size=5, unique_by=str.lower)):
        q = draw(st.none() | st.sampled_from(QVALUES))
        space = draw(st.sampled_from(["", " ", "\t"]))
        items.append(coding if q is None else f"{coding}{space};{space}q={q}")
        qs[coding.lower()] = 1.0 if q is None else float(q)
    return draw(st.sampled_from([", ", ",", " , "])).join(items), qs


@h_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=accept_encodings())
def test_never_a_coding_the_client_refused(
    deployed: Stack, header: tuple[str, dict[str, float]]
) -> None:
    """Whatever the header, the coding nginx answers with is one the client accepts (q > 0,
    named or through `*`), and the bytes are the feed's."""
    text, qs = header
    r = httpx.get(deployed.nginx.base_url + FEED, headers={"Accept-Encoding": text}, timeout=30)
    assert r.status_code == 200
    coding = r.headers.get("Content-Encoding")
    if coding is not None:
        assert qs.get(coding, qs.get("*", 0.0)) > 0, (text, coding)
    assert b"<rss" in r.content


def test_head_shares_the_copy(deployed: Stack) -> None:
    got = deployed.nginx.get(FEED)
    head = httpx.head(deployed.nginx.base_url + FEED, timeout=30)
    assert head.headers["X-Cache-Status"] == "HIT"
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.content == b""


def test_a_bulk_write_streams_through(deployed: Stack) -> None:
    """A bulk body of several MiB reaches the service through nginx (bodies are not capped at
    nginx's 1 MiB default, and are streamed, not spooled)."""
    lines = [{**article(f"b{i}", f"Статья {i}"), "content_html": "<p>" + "я" * 2000 + "</p>"}
             for i in range(1500)]  # fmt: skip
    body = b"\n".join(orjson.dumps(line) for line in lines)
    assert len(body) > 5 * 2**20
    r = httpx.post(
        deployed.nginx.base_url + "/api/articles:bulk",
        content=body,
        timeout=120,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text[:500]
    assert r.json()["created"] == 1500
    # nginx warns when it spools a request body to disk.
    assert "buffered to a temporary file" not in deployed.nginx.error_log.read_text()


def test_missing_documents_are_asked_again(deployed: Stack) -> None:
    """A 404 is no-cache: the next write may create the document."""
    for _ in range(2):
        r = deployed.nginx.get("/feeds/tag/nikogda.rss")
        assert r.status_code == 404
        assert r.headers["X-Cache-Status"] == "MISS"


def test_after_max_age_nginx_revalidates_and_gets_a_304(short: Stack) -> None:
    short.settle()
    first = short.nginx.get(FEED)
    assert first.headers["X-Cache-Status"] == "MISS"
    before = served(short.server, "feed")
    r = after_expiry(short.nginx, FEED)
    assert r.status_code == 200
    assert r.headers["X-Cache-Status"] == "REVALIDATED"
    assert r.content == first.content
    # The service was asked conditionally and sent no body.
    after = served(short.server, "feed")
    assert after.get("304", 0) == before.get("304", 0) + 1
    assert total(after) == total(before) + 1


def test_with_the_service_stopped_nginx_serves_the_stale_copy(short: Stack) -> None:
    first = short.nginx.get(FEED)
    assert first.headers["X-Cache-Status"] == "MISS"
    short.server.stop()
    r = after_expiry(short.nginx, FEED)
    assert r.status_code == 200
    assert r.headers["X-Cache-Status"] == "STALE"
    assert r.content == first.content
    # What was never cached cannot be served stale.
    assert short.nginx.get("/feeds/all.atom").status_code == 502


def test_writes_pass_through_untouched_and_uncached(deployed: Stack) -> None:
    nginx, server = deployed.nginx, deployed.server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=nginx.base_url, headers=auth, timeout=30) as c:
        created = c.put("/api/articles/a2", json=article("a2", "Вторая"))
        assert created.status_code == 201, created.text
        assert "X-Cache-Status" not in created.headers
        assert created.json()["title"] == "Вторая"
        # Without the token the service answers, not nginx.
        denied = httpx.put(nginx.base_url + "/api/articles/a3", json=article("a3", "x"))
        assert denied.status_code == 401
        assert denied.headers["Content-Type"].startswith("application/problem+json")
        # Reads of the API are not cached either.
        for _ in range(2):
            r = httpx.get(nginx.base_url + "/api/articles/a2", timeout=30)
            assert r.status_code == 200
            assert "X-Cache-Status" not in r.headers
        # A document asked for with credentials is neither served from the cache nor stored.
        for _ in range(2):
            r = c.get(FEED)
            assert r.headers["X-Cache-Status"] == "BYPASS"
        assert nginx.get(FEED).headers["X-Cache-Status"] == "MISS"
        # /metrics is never cached: a request in between shows in the second answer.
        texts = []
        for _ in range(2):
            r = c.get("/metrics")
            assert r.status_code == 200
            assert "X-Cache-Status" not in r.headers
            texts.append(r.text)
            assert httpx.get(server.base_url + FEED).status_code == 200
        assert texts[0] != texts[1]


def test_a_write_shows_through_nginx_once_the_copy_expires(short: Stack) -> None:
    nginx = short.nginx
    assert "Третья" not in nginx.get(FEED).text
    with httpx.Client(base_url=nginx.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as c:  # fmt: skip
        assert c.put("/api/articles/a3", json=article("a3", "Третья")).status_code == 201
    r = after_expiry(nginx, FEED)
    # Revalidated: the ETag no longer matched, so the service sent the new bytes.
    assert r.headers["X-Cache-Status"] == "EXPIRED"
    assert "Третья" in r.text
    assert nginx.get(FEED).headers["X-Cache-Status"] in ("HIT", "EXPIRED", "REVALIDATED")


def test_a_missing_program_skips_here_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = "syndication-no-such-program"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        required_program(absent)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        required_program(absent)


CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)
READER_ACCEPTS = ("", "application/rss+xml, application/xml;q=0.9, */*;q=0.8", "*/*")


@pytest.mark.parametrize("browser_first", [True, False])
def test_browsers_and_readers_each_get_their_view_through_the_cache(
    deployed: Stack, browser_first: bool
) -> None:
    """A browser gets a feed as application/xml (its stylesheet applies), a reader as RSS;
    whoever comes first, nginx's copy never reaches the other."""

    def browser() -> None:
        r = deployed.nginx.get(FEED, Accept=CHROME_ACCEPT)
        assert r.headers["Content-Type"] == "application/xml; charset=utf-8"

    def readers() -> None:
        for accept in READER_ACCEPTS:
            headers = {"Accept": accept} if accept else {}
            r = deployed.nginx.get(FEED, **headers)
            assert r.headers["Content-Type"] == "application/rss+xml; charset=utf-8", accept

    for step in (browser, readers) if browser_first else (readers, browser):
        step()
    for step in (browser, readers):  # and again, now from nginx's copies
        step()
