"""Issue 12, the static mirror: a real `syndication serve` (two workers) writing its mirror, and a
real nginx (Debian's package with libnginx-mod-http-brotli-static, as an ordinary process)
serving it with deploy/nginx/syndication-mirror.conf as written: only its ports and root are
substituted (each must appear exactly once), a header that tells file from proxy is added to the
files' location, and the WebSub Link template is filled in as deploy/README.md says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ROOT, TOKEN, Server, in_ci, start_server
from tests.e2e.test_nginx import DEADLINE_S, Nginx, replace_once, start_nginx

CONF = ROOT / "deploy" / "nginx" / "syndication-mirror.conf"
BROTLI = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"
# Nothing listens there: deliveries fail and retry in the background, which is all a feed's
# Link header needs.
HUB = "http://127.0.0.1:9/hub"
RUBRICS = 300  # one month each: a write touches one rubric's feed and one month's sitemap
CYCLES = 500


def months_back(count: int) -> list[str]:
    """YYYY-MM of the `count` months before the current one (site zone: mid-month dates)."""
    today = date.today()
    index = today.year * 12 + today.month - 1
    return [f"{(index - k) // 12:04d}-{(index - k) % 12 + 1:02d}" for k in range(1, count + 1)]


MONTHS = months_back(RUBRICS)


def article(article_id: str, k: int) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": f"Статья {article_id}",
        "url": f"https://example.ru/news/{article_id}/",
        "published_at": f"{MONTHS[k]}-15T12:00:00+03:00",
        "rubrics": [f"r{k}"],
        "content_html": "<p>" + "текст " * 300 + "</p>",
    }


def brotli_module() -> str:
    if Path(BROTLI).exists():
        return BROTLI
    message = "libnginx-mod-http-brotli-static is not installed (.ci/run installs it)"
    if in_ci():
        pytest.fail(f"CI is set, but {message}", pytrace=False)
    pytest.skip(message)


def mirror_site(upstream_port: int, root: Path, public_url: str) -> Callable[[int, Path], str]:
    def site(port: int, prefix: Path) -> str:
        text = CONF.read_text()
        text = replace_once(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        text = replace_once(text, "listen 80;", f"listen 127.0.0.1:{port};")
        text = replace_once(text, "root /var/lib/syndication/mirror;", f"root {root};")
        link = (f'    "~^/feeds/" "<{HUB}>; rel=\\"hub\\", <{public_url}$uri>; rel=\\"self\\"";\n'
                "}")  # fmt: skip
        text = replace_once(text, 'map $uri $syndication_link {\n    default "";\n}',
                            'map $uri $syndication_link {\n    default "";\n' + link)  # fmt: skip
        # Where each answer came from: only the files' location adds this.
        text = replace_once(
            text, "add_header Link $syndication_link;",
            "add_header Link $syndication_link;\n        add_header X-Test-Origin file;",
        )  # fmt: skip
        return text

    return site


@dataclass
class Stack:
    server: Server
    nginx: Nginx
    root: Path
    client: httpx.Client  # to nginx, keeping its connection

    def write(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return self.client.request(method, path, json=body, headers=headers)


def from_file(r: httpx.Response) -> bool:
    return bool(r.headers.get("X-Test-Origin") == "file")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    modules = (brotli_module(),)
    root = tmp_path / "mirror"
    server = start_server(
        tmp_path, workers=2,
        env={"SYNDICATION_MIRROR": str(root), "SYNDICATION_WEBSUB_HUB": HUB},
    )  # fmt: skip
    try:
        with server.client() as c:
            for k in range(RUBRICS):
                r = c.put(f"/api/articles/seed{k}", json=article(f"seed{k}", k))
                assert r.status_code == 201, r.text
        port = int(server.base_url.rsplit(":", 1)[1])
        site = mirror_site(port, root, server.base_url)
        nginx = start_nginx(tmp_path, port, site=site, modules=modules)
        try:
            with httpx.Client(base_url=nginx.base_url, timeout=30) as client:
                yield Stack(server, nginx, root, client)
        finally:
            nginx.stop()
            errors = [line for line in nginx.error_log.read_text().splitlines()
                      if "[emerg]" in line or "[alert]" in line or "[crit]" in line]  # fmt: skip
            assert not errors, errors
    finally:
        server.stop()
        assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


def until_file(stack: Stack, path: str) -> Path:
    """Ask the service for `path` (it offers the render to the mirror) until its file is there
    (a render within a write's margin is written once its date settles)."""
    name = "index.html" if path == "/" else path.lstrip("/")
    target = stack.root / name
    deadline = time.monotonic() + DEADLINE_S
    while not target.exists():
        assert time.monotonic() < deadline, f"{name} never appeared in the mirror"
        httpx.get(stack.server.base_url + path, timeout=30)
        time.sleep(0.2)
    return target


def wait_for_file(stack: Stack, path: str) -> None:
    """Until the mirror holds `path` (no request: the service was asked for it before)."""
    target = stack.root / path.lstrip("/")
    deadline = time.monotonic() + DEADLINE_S
    while not target.exists():
        assert time.monotonic() < deadline, f"{path} never appeared in the mirror"
        time.sleep(0.02)


def raw(base: str, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    with httpx.stream("GET", base + path, headers=headers, timeout=30) as r:
        return r, b"".join(r.iter_raw())


SAME = ["content-type", "content-encoding", "last-modified", "cache-control", "vary",
        "x-content-type-options", "content-security-policy", "x-frame-options", "link"]  # fmt: skip


def test_files_answer_as_the_service_does(stack: Stack) -> None:
    month = MONTHS[0]
    paths = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds/rubric/r0.rss",
             "/feeds/yandex.rss", "/sitemap.xml", f"/sitemaps/articles-{month}.xml",
             "/sitemaps/rubrics.xml", "/robots.txt", "/"]  # fmt: skip
    for path in paths:
        until_file(stack, path)
    paths.append("/sitemap.xml.gz")  # the .xml file's gzip twin
    for path in paths:
        for coding in ("identity", "gzip", "br", "gzip, deflate, br", "br;q=0, gzip"):
            service, service_body = raw(stack.server.base_url, path, **{"Accept-Encoding": coding})
            mirrored, mirrored_body = raw(stack.nginx.base_url, path, **{"Accept-Encoding": coding})
            assert from_file(mirrored), (path, coding)
            assert mirrored.status_code == service.status_code == 200
            assert mirrored_body == service_body, (path, coding)
            for name in SAME:
                assert mirrored.headers.get(name) == service.headers.get(name), (path, coding, name)
        # Conditional requests: the service's Last-Modified validates the file.
        service = httpx.get(stack.server.base_url + path, timeout=30)
        again = stack.nginx.get(path, **{"If-Modified-Since": service.headers["Last-Modified"]})
        assert again.status_code == 304, path
        assert from_file(again)
    assert "Link" in httpx.get(stack.nginx.base_url + "/feeds/all.rss").headers


def test_what_the_files_do_not_answer_goes_to_the_service(stack: Stack) -> None:
    until_file(stack, "/feeds/all.rss")
    until_file(stack, "/")
    for path, status in [
        ("/feeds/all.rss?page=1", 200),
        ("/feeds/all.rss?limit=5", 200),
        ("/feeds/all.rss.gz", 404),  # a twin, not a URL
        ("/feeds/all.rss.br", 404),
        ("/index.html", 404),
        ("/.mirror.sqlite", 404),
        ("/.tmp/", 404),
        ("/feeds/", 404),  # folders: nginx would answer 403 or 301
        ("/feeds", 404),
        ("/sitemaps", 404),
        ("/feeds/all.rss/", 404),
        ("/opml.xml", 200),
        ("/healthz", 200),
    ]:
        r = stack.nginx.get(path)
        assert r.status_code == status, path
        assert not from_file(r), path
    options = httpx.options(stack.nginx.base_url + "/feeds/all.rss", timeout=30)
    assert (options.status_code, options.headers["Allow"]) == (204, "GET, HEAD")
    assert not from_file(options)
    post = httpx.post(stack.nginx.base_url + "/feeds/all.rss", timeout=30)
    assert post.status_code == 405
    assert not from_file(post)
    assert from_file(stack.nginx.get("/feeds/all.rss"))


def test_writes_through_nginx_are_never_read_stale(stack: Stack) -> None:
    """CYCLES cycles of: a write (and the delete of the rubric's previous article) through the
    API, then the affected feed and month sitemap through nginx, and those of two rubrics written
    earlier. 0 stale reads. The affected documents are rendered anew by the service; the earlier
    ones are read once their files are there (a render within a write's STAMP_MARGIN is written
    when its date settles, 1-2 s after the write), and must then come from the files."""
    latest = {k: f"seed{k}" for k in range(RUBRICS)}
    gone: dict[int, str] = {}
    counts = {True: 0, False: 0}  # reads by whether a file answered

    def documents(k: int) -> tuple[str, str]:
        return f"/feeds/rubric/r{k}.rss", f"/sitemaps/articles-{MONTHS[k]}.xml"

    def read(k: int, *, from_files: bool) -> int:
        stale = 0
        for path in documents(k):
            if from_files:
                wait_for_file(stack, path)
            r = stack.client.get(path, headers={"Accept-Encoding": "gzip"})
            counts[from_file(r)] += 1
            if from_files:
                assert from_file(r), path
            body = r.text
            stale += f"/news/{latest[k]}/" not in body
            stale += k in gone and f"/news/{gone[k]}/" in body
        return stale

    # Every document is read once (the service renders it and offers it to the mirror).
    for k in range(RUBRICS):
        read(k, from_files=False)
    counts.update({True: 0, False: 0})
    stale = 0
    for i in range(CYCLES):
        k = i % RUBRICS
        created = stack.write("PUT", f"/api/articles/c{i}", article(f"c{i}", k))
        assert created.status_code == 201, created.text
        deleted = stack.write("DELETE", f"/api/articles/{latest[k]}")
        assert deleted.status_code == 204, deleted.text
        gone[k], latest[k] = latest[k], f"c{i}"
        stale += read(k, from_files=False)
        stale += read((k - RUBRICS // 2) % RUBRICS, from_files=True)
        stale += read((k - 3 * RUBRICS // 4) % RUBRICS, from_files=True)
    reads, from_files = counts[True] + counts[False], counts[True]
    print(f"\n{CYCLES} cycles: {reads} reads, {stale} stale, {from_files} from files")
    assert stale == 0
    assert from_files >= CYCLES * 4


def test_an_import_from_the_command_line_removes_what_it_changes(stack: Stack) -> None:
    feed = until_file(stack, "/feeds/rubric/r1.rss")
    other = until_file(stack, "/feeds/rubric/r2.rss")
    lines = stack.root.parent / "import.ndjson"
    lines.write_bytes(orjson.dumps(article("cli1", 1)) + b"\n")
    env = {**os.environ, "SYNDICATION_DB": str(stack.server.db),
           "SYNDICATION_MIRROR": str(stack.root), "SYNDICATION_WEBSUB_HUB": HUB,
           "SYNDICATION_PUBLIC_URL": stack.server.base_url,
           "SYNDICATION_SITE_URL": "https://example.ru"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "syndication.cli", "-q", "import", str(lines)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not feed.exists()
    assert other.exists()
    assert "/news/cli1/" in stack.nginx.get("/feeds/rubric/r1.rss").text


def test_a_browser_gets_a_feed_from_the_service_as_xml(stack: Stack) -> None:
    """The files hold the registered types; a browser's request for a feed goes to the service,
    which answers application/xml (the stylesheet applies); readers keep getting the file."""
    until_file(stack, "/feeds/all.rss")
    chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    browser = stack.nginx.get("/feeds/all.rss", Accept=chrome)
    assert not from_file(browser)
    assert browser.headers["Content-Type"] == "application/xml; charset=utf-8"
    reader = stack.nginx.get("/feeds/all.rss", Accept="application/rss+xml, */*;q=0.1")
    assert from_file(reader)
    assert reader.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    # Sitemaps and the index page have one view: browsers get the files.
    until_file(stack, "/sitemap.xml")
    assert from_file(stack.nginx.get("/sitemap.xml", Accept=chrome))
