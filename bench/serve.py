"""Serving: a cached feed vs the bare stack (wrk), hits under cold renders, memory under a crawl.

    .venv/bin/python bench/serve.py [--rounds 3] [--seconds 5] [--connections 32] [--uvloop]
                                    [--rows abde] [--crawl-urls 10000] [--crawl-bound-mib 64]
                                    [--crawl-env NAME=VALUE ...] [--postgres URL]

Needs wrk (Debian: apt-get install wrk). One hypercorn worker each for:
  (a) /feeds/all.rss?limit=50 from the service's cache, Accept-Encoding: gzip
  (b) the same with If-None-Match -> 304
  (c) a bare Starlette endpoint (bench/bare_app.py) returning the same gzip bytes from memory
The three runs are interleaved round by round; medians of req/s and p99 latency are printed
with the ratios a/c and b/c (target: both >= 0.9). With --postgres URL, the same 600 articles
in a scratch database on that server, served by a fourth process, join the rounds:
  (a') and (b') as (a) and (b) on PostgreSQL: the ratios a'/a and b'/b (target: >= 0.95; each
       request waits for a change-head query, shared by the requests that arrive meanwhile).

On a second store (6,000 full-text articles over a year, ~500 a month):
  (d) p99 of cached hits (/robots.txt, wrk, 4 connections) while the same worker renders the
      largest documents cold: a write, then the current month's archive and the sitemap index;
      and `?limit=` feed pages (401-500, every one distinct). Rounds alternate with the same
      wrk run on an idle worker; the ratio loaded/idle is printed (target: p99 <= 20 ms).
  (e) a crawl of --crawl-urls distinct URLs (feed pages of every format, limit and page, and tag
      feeds; 4 at a time) with SYNDICATION_CACHE_MAX_BYTES at --crawl-bound-mib: the worker's
      peak RSS (VmHWM) against the bound + 100 MB, and what the cache says it holds.

Row m (needs nginx, with libnginx-mod-http-brotli-static when installed): `serve --mirror DIR`
behind deploy/nginx/syndication-mirror.conf (one nginx worker), /feeds/all.rss (Accept-Encoding:
gzip) answered from the mirror's files, against the same nginx serving the same files (copied
with their mtimes) from a plain directory with the same types, compression and headers:
  (m1) nginx + mirror, 200        (p1) plain directory, 200
  (m2) nginx + mirror, 304        (p2) plain directory, 304 (If-None-Match: nginx's ETag)
Interleaved round by round; medians and the ratios m1/p1, m2/p2 (target: both >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def load_store(db: Path | str, count: int, years: float = 3.0) -> None:
    """Demo articles with 3 KB bodies so that a 50-item feed carries full text."""
    code = (
        "import asyncio, sys\n"
        "from syndication.config import Settings\n"
        "from syndication.store import make_store\n"
        "from syndication.ingest import validate_article\n"
        "from syndication.demo import articles\n"
        "from datetime import datetime, UTC\n"
        "async def main():\n"
        "    s = Settings.load()\n"
        "    st = make_store(s); await st.open()\n"
        f"    items = [validate_article(p, s) for p in articles({count}, body_bytes=3000,"
        f" years={years}, end=datetime.now(UTC))]\n"
        "    await st.put_articles(items); await st.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "SYNDICATION_DB": str(db)},
                   check=True, cwd=ROOT)  # fmt: skip


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(url: str, seconds: int, connections: int, headers: list[str]) -> tuple[float, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--uvloop", action="store_true", help="hypercorn's uvloop worker class")
    parser.add_argument("--rows", default="abdem", help="which rows to run (a-c go together)")
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="also rows a-b on PostgreSQL: a scratch database is made on this "
                             "server (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")  # fmt: skip
    parser.add_argument("--crawl-urls", type=int, default=10_000)
    parser.add_argument("--crawl-bound-mib", type=int, default=64)
    parser.add_argument("--crawl-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the crawled worker (e.g. MALLOC_ARENA_MAX=2)")  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if set(args.rows) & set("abc"):
        throughput(args)
    if "m" in args.rows:
        mirror_throughput(args)
    if set(args.rows) & set("de"):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "big.db"
            load_store(db, 6000, years=1.0)
            if "d" in args.rows:
                hits_under_renders(args, db)
            if "e" in args.rows:
                crawl_memory(args, db)


def _start_app(db: str, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SYNDICATION_DB": db,
           "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    serve = [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port)]
    if args.uvloop:
        serve.append("--uvloop")
    return subprocess.Popen(serve, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


@contextlib.contextmanager
def scratch_database(server: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database on `server` (a postgresql:// URL), dropped afterwards."""
    if not server:
        yield None
        return
    import asyncpg

    name = f"bench_serve_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name} TEMPLATE template0"))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.postgres) as pg:
        db = Path(tmp) / "bench.db"
        load_store(db, 600)
        port_app, port_bare, port_pg = free_port(), free_port(), free_port()
        app = _start_app(str(db), port_app, args)
        bare: subprocess.Popen[bytes] | None = None
        pg_app: subprocess.Popen[bytes] | None = None
        try:
            feed = f"http://127.0.0.1:{port_app}/feeds/all.rss?limit=50"
            wait_ready(f"http://127.0.0.1:{port_app}/healthz")
            plain = httpx.get(feed)
            with httpx.stream("GET", feed, headers={"Accept-Encoding": "gzip"}) as zipped:
                gz_size = len(b"".join(zipped.iter_raw()))
            assert zipped.headers["content-encoding"] == "gzip"
            etag = zipped.headers["etag"]
            body_file = Path(tmp) / "body.gz"
            body_file.write_bytes(gzip.compress(plain.content, compresslevel=6, mtime=0))
            bare_cmd = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port_bare}",
                        "bench.bare_app:app"]  # fmt: skip
            if args.uvloop:
                bare_cmd[3:3] = ["--worker-class", "uvloop"]
            bare = subprocess.Popen(
                bare_cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_ENCODING": "gzip"},
            )  # fmt: skip
            wait_ready(f"http://127.0.0.1:{port_bare}/")
            print(f"feed: {len(plain.content):,} B, gzip {gz_size:,} B; "
                  f"{args.connections} connections, {args.seconds} s x {args.rounds} rounds, "
                  f"worker class {'uvloop' if args.uvloop else 'asyncio'}")  # fmt: skip
            cases = {
                "a cached feed, gzip": (feed, ["Accept-Encoding: gzip"]),
                "b If-None-Match 304": (feed, ["Accept-Encoding: gzip", f"If-None-Match: {etag}"]),
                "c bare Starlette": (f"http://127.0.0.1:{port_bare}/feeds/all.rss",
                                     ["Accept-Encoding: gzip"]),
            }  # fmt: skip
            if pg:
                # The same 600 articles on PostgreSQL: what each request costs there is the
                # change-head query (shared by the requests that arrive while one runs).
                load_store(pg, 600)
                pg_app = _start_app(pg, port_pg, args)
                pg_feed = f"http://127.0.0.1:{port_pg}/feeds/all.rss?limit=50"
                wait_ready(f"http://127.0.0.1:{port_pg}/healthz")
                pg_etag = httpx.get(pg_feed, headers={"Accept-Encoding": "gzip"}).headers["etag"]
                cases["a' PostgreSQL cached"] = (pg_feed, ["Accept-Encoding: gzip"])
                cases["b' PostgreSQL 304"] = (
                    pg_feed, ["Accept-Encoding: gzip", f"If-None-Match: {pg_etag}"]
                )  # fmt: skip
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, (url, headers) in cases.items():
                    results[name].append(run_wrk(url, args.seconds, args.connections, headers))
        finally:
            for proc in (app, bare, pg_app):
                if proc is not None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)

    medians = {name: (statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs))
               for name, runs in results.items()}  # fmt: skip
    print(
        f"{'case':<22} {'req/s':>9} {'p99 ms':>8}   (median of {args.rounds}, {datetime.now(UTC):%Y-%m-%d})"
    )
    for name, (rps, p99) in medians.items():
        print(f"{name:<22} {rps:>9,.0f} {p99:>8.2f}")
    bare_rps = medians["c bare Starlette"][0]
    print(f"ratio a/c: {medians['a cached feed, gzip'][0] / bare_rps:.2f}   "
          f"ratio b/c: {medians['b If-None-Match 304'][0] / bare_rps:.2f}   (target >= 0.9)")  # fmt: skip
    if "a' PostgreSQL cached" in medians:
        cached = medians["a' PostgreSQL cached"][0] / medians["a cached feed, gzip"][0]
        revalidated = medians["b' PostgreSQL 304"][0] / medians["b If-None-Match 304"][0]
        print(f"PostgreSQL/SQLite: cached {cached:.2f}   304 {revalidated:.2f}   (target >= 0.95)")


class Service:
    """`syndication serve` with one worker (hypercorn then serves in this very process)."""

    def __init__(self, db: Path, args: argparse.Namespace, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "SYNDICATION_DB": str(db), "SYNDICATION_PUBLIC_URL": self.base,
                    "SYNDICATION_API_TOKEN": TOKEN, **env}  # fmt: skip
        cmd = [sys.executable, "-m", "syndication.cli", "serve", "--port", str(self.port)]
        if args.uvloop:
            cmd.append("--uvloop")
        self.process = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        wait_ready(f"{self.base}/healthz")

    def status(self, field: str) -> int:
        """A figure of /proc/PID/status in bytes (VmRSS, VmHWM)."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        assert match is not None, text
        return int(match.group(1)) * 1024

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else float("nan")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


TOKEN = "bench-token-0123456789"


def cold_renders(base: str, stop: threading.Event, seen: list[float]) -> None:
    """Keep the worker rendering the largest documents until `stop`: every write drops the
    month archive and the sitemap index; every `?limit=` below is a page never asked before."""
    from syndication.demo import articles

    month = datetime.now(UTC).strftime("%Y-%m")
    template = next(articles(1, body_bytes=3000, end=datetime.now(UTC), seed=7))
    formats = itertools.cycle(("rss", "atom", "json"))
    rounds = itertools.count()

    def writer() -> None:
        with httpx.Client(base_url=base, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client:  # fmt: skip
            while not stop.is_set():
                n = next(rounds)
                payload = {**template, "id": f"bench-{n}", "title": f"Событие {n}",
                           "published_at": datetime.now(UTC).isoformat()}  # fmt: skip
                client.put(f"/api/articles/bench-{n}", json=payload).raise_for_status()
                for path in (f"/feeds/archive/{month}.rss", "/sitemap.xml"):
                    started = time.perf_counter()
                    client.get(path).raise_for_status()
                    seen.append(time.perf_counter() - started)

    def pages() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for n in itertools.count():
                if stop.is_set():
                    return
                # 1,200 distinct pages of 401-500 items; the writes make repeats cold again.
                limit, page = 500 - n % 100, 1 + n // 100 % 12
                started = time.perf_counter()
                client.get(f"/feeds/all.{next(formats)}?limit={limit}&page={page}")
                seen.append(time.perf_counter() - started)

    threads = [threading.Thread(target=writer), threading.Thread(target=pages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def hits_under_renders(args: argparse.Namespace, db: Path) -> None:
    service = Service(db, args)
    try:
        hit = f"{service.base}/robots.txt"
        httpx.get(hit).raise_for_status()
        idle: list[float] = []
        loaded: list[float] = []
        renders: list[float] = []
        for _ in range(args.rounds):
            idle.append(run_wrk(hit, args.seconds, 4, [])[1])
            stop = threading.Event()
            driver = threading.Thread(target=cold_renders, args=(service.base, stop, renders))
            driver.start()
            time.sleep(0.5)  # the renders are under way before the first measured hit
            try:
                loaded.append(run_wrk(hit, args.seconds, 4, [])[1])
            finally:
                stop.set()
                driver.join()
    finally:
        service.stop()
    renders.sort()
    p99_idle, p99_loaded = statistics.median(idle), statistics.median(loaded)
    print(f"\n(d) cached /robots.txt, 4 connections, {args.seconds} s x {args.rounds} rounds; "
          f"{len(renders)} cold renders alongside (client-side median "
          f"{statistics.median(renders) * 1e3:.0f} ms, max {renders[-1] * 1e3:.0f} ms)")  # fmt: skip
    print(f"    p99 idle {p99_idle:.2f} ms   p99 while rendering {p99_loaded:.2f} ms   "
          f"ratio {p99_loaded / p99_idle:.1f}   (target: p99 while rendering <= 20 ms)")  # fmt: skip


def crawl_urls(base: str, count: int) -> list[str]:
    opml = httpx.get(f"{base}/opml.xml").text
    tags = sorted(set(re.findall(r"/feeds/tag/([^\"/]+)\.rss", opml)))
    urls = [f"/feeds/tag/{slug}.{fmt}" for slug in tags for fmt in ("rss", "atom", "json")]
    pages = ((fmt, limit, page) for page in range(1, 100) for limit in range(1, 101)
             for fmt in ("rss", "atom", "json"))  # fmt: skip
    for fmt, limit, page in pages:
        if len(urls) >= count:
            break
        if (page - 1) * limit < 5000:
            urls.append(f"/feeds/all.{fmt}?limit={limit}&page={page}")
    random.Random(1).shuffle(urls)
    return urls[:count]


async def crawl(base: str, urls: list[str], concurrency: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    queue = iter(urls)

    async def worker(client: httpx.AsyncClient) -> None:
        for url in queue:
            response = await client.get(url, headers={"Accept-Encoding": "gzip, br"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return statuses


def crawl_memory(args: argparse.Namespace, db: Path) -> None:
    """The crawl against the configured bound, then against the smallest (1 MiB): the second
    worker's peak is what the worker needs besides the cache (store page cache, renders)."""
    mb = 1024 * 1024
    bound = args.crawl_bound_mib * mb
    extra = dict(item.split("=", 1) for item in args.crawl_env)
    peaks: dict[int, int] = {}
    for cache_bytes in (bound, mb):
        service = Service(db, args, SYNDICATION_CACHE_MAX_BYTES=str(cache_bytes), **extra)
        try:
            urls = crawl_urls(service.base, args.crawl_urls)
            start_rss = service.status("VmRSS")
            started = time.perf_counter()
            statuses = asyncio.run(crawl(service.base, urls, 4))
            took = time.perf_counter() - started
            peaks[cache_bytes] = service.status("VmHWM")
            held = service.metric("syndication_cache_bytes")
            documents = service.metric("syndication_cached_documents")
        finally:
            service.stop()
        print(
            f"\n(e) crawl of {len(urls):,} distinct URLs in {took:.0f} s (statuses {statuses}), "
            f"SYNDICATION_CACHE_MAX_BYTES {cache_bytes / mb:.0f} MiB {' '.join(args.crawl_env)}"
        )
        print(
            f"    worker RSS at start {start_rss / mb:.0f} MiB, peak {peaks[cache_bytes] / mb:.0f}"
            f" MiB; the cache holds {held / mb:.1f} MiB in {documents:.0f} documents"
        )
    print(f"    peak {peaks[bound] / mb:.0f} MiB against bound + 100 MB = "
          f"{(bound + 100 * 1000 * 1000) / mb:.0f} MiB; the cache's share of the peak "
          f"{(peaks[bound] - peaks[mb]) / mb:.0f} MiB for a {bound / mb:.0f} MiB bound")  # fmt: skip


MIRROR_CONF = ROOT / "deploy" / "nginx" / "syndication-mirror.conf"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
# The plain directory's server: the same types, compression and headers as the mirror's files'
# location, and nothing else (no method or query checks, no try_files, no fallback).
PLAIN_SERVER = """
server {{
    listen 127.0.0.1:{port};
    root {root};
    gzip off;
    if_modified_since before;
    server_tokens off;
    location / {{
        gzip_static on;
        {brotli}
        max_ranges 0;
        types {{
            "application/rss+xml; charset=utf-8"   rss;
            "application/atom+xml; charset=utf-8"  atom;
            "application/feed+json; charset=utf-8" json;
            "application/xml; charset=utf-8"       xml;
            "text/html; charset=utf-8"             html;
            "text/plain; charset=utf-8"            txt;
            application/gzip                       gz;
        }}
        charset off;
        add_header Cache-Control "public, max-age=60, stale-while-revalidate=300";
        add_header Vary "Accept-Encoding, Accept";  # what the service sends for a feed
        add_header X-Content-Type-Options nosniff;
        add_header Content-Security-Policy $syndication_csp;
        add_header X-Frame-Options $syndication_frame;
        add_header Link $syndication_link;
    }}
}}
"""


def start_nginx(prefix: Path, http: str) -> subprocess.Popen[bytes]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        sys.exit("nginx is not installed: apt-get install nginx libnginx-mod-http-brotli-static")
    module = f"load_module {BROTLI_MODULE};" if BROTLI_MODULE.exists() else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{module}
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
# As deploy/README.md recommends for the mirror configuration (its one regex location).
pcre_jit on;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{http}
}}
""")
    command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    return subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def mirror_throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db, mirror, plain = tmp / "bench.db", tmp / "mirror", tmp / "plain"
        load_store(db, 600)
        service = Service(db, args, SYNDICATION_MIRROR=str(mirror))
        nginx: subprocess.Popen[bytes] | None = None
        try:
            feed = mirror / "feeds" / "all.rss"
            for _ in range(100):  # a render within a write's margin settles within 2 s
                httpx.get(f"{service.base}/feeds/all.rss", timeout=30)
                if feed.exists():
                    break
                time.sleep(0.1)
            else:
                sys.exit("the mirror never wrote /feeds/all.rss")
            (plain / "feeds").mkdir(parents=True)
            for suffix in ("", ".gz", ".br"):
                source = feed.with_name(feed.name + suffix)
                if source.exists():
                    shutil.copy2(source, plain / "feeds" / source.name)  # with its mtime
            port_mirror, port_plain = free_port(), free_port()
            site = MIRROR_CONF.read_text()
            for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{service.port};"),
                             ("listen 80;", f"listen 127.0.0.1:{port_mirror};"),
                             ("root /var/lib/syndication/mirror;", f"root {mirror};")):  # fmt: skip
                assert site.count(old) == 1, old
                site = site.replace(old, new)
            if not BROTLI_MODULE.exists():
                site = site.replace("brotli_static on;", "")
            brotli = "brotli_static on;" if BROTLI_MODULE.exists() else ""
            (tmp / "nginx").mkdir()
            nginx = start_nginx(tmp / "nginx", site + PLAIN_SERVER.format(
                port=port_plain, root=plain, brotli=brotli))  # fmt: skip
            urls = {name: f"http://127.0.0.1:{port}/feeds/all.rss"
                    for name, port in (("mirror", port_mirror), ("plain", port_plain))}  # fmt: skip
            wait_ready(urls["plain"])
            wait_ready(urls["mirror"])
            # The same bytes and the same headers from both (Date aside).
            answers = []
            for url in urls.values():
                with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as r:
                    body = b"".join(r.iter_raw())
                answers.append((r.status_code, body, sorted((k, v) for k, v in r.headers.items()
                                                            if k != "date")))  # fmt: skip
            assert answers[0] == answers[1], (answers[0][2], answers[1][2])
            headers = dict(answers[0][2])
            assert headers["content-encoding"] == "gzip"
            etag = headers["etag"]
            print(f"\nfeed file: {feed.stat().st_size:,} B, gzip {len(answers[0][1]):,} B; "
                  f"brotli_static {'on' if brotli else 'off (module not installed)'}; "
                  f"1 nginx worker; {args.connections} connections, {args.seconds} s x "
                  f"{args.rounds} rounds")  # fmt: skip
            gz = "Accept-Encoding: gzip"
            cases = {
                "m1 nginx + mirror, 200": (urls["mirror"], [gz]),
                "p1 plain directory, 200": (urls["plain"], [gz]),
                "m2 nginx + mirror, 304": (urls["mirror"], [gz, f"If-None-Match: {etag}"]),
                "p2 plain directory, 304": (urls["plain"], [gz, f"If-None-Match: {etag}"]),
            }
            for url, extra in cases.values():
                status = httpx.get(url, headers=dict(h.split(": ", 1) for h in extra)).status_code
                assert status == (304 if len(extra) > 1 else 200), (url, status)
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, (url, extra) in cases.items():
                    results[name].append(run_wrk(url, args.seconds, args.connections, extra))
            assert feed.exists(), "the mirror's file went away during the run"
        finally:
            if nginx is not None:
                nginx.send_signal(signal.SIGQUIT)
                nginx.wait(timeout=30)
            service.stop()
    medians = {name: (statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs))
               for name, runs in results.items()}  # fmt: skip
    print(f"{'case':<26} {'req/s':>9} {'p99 ms':>8}   (median of {args.rounds}, "
          f"{datetime.now(UTC):%Y-%m-%d})")  # fmt: skip
    for name, (rps, p99) in medians.items():
        print(f"{name:<26} {rps:>9,.0f} {p99:>8.2f}")
    ratio_200 = medians["m1 nginx + mirror, 200"][0] / medians["p1 plain directory, 200"][0]
    ratio_304 = medians["m2 nginx + mirror, 304"][0] / medians["p2 plain directory, 304"][0]
    print(f"ratio m1/p1: {ratio_200:.2f}   ratio m2/p2: {ratio_304:.2f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
