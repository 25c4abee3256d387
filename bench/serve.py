"""Serving throughput: a cached feed vs the bare stack, measured side by side with wrk.

    .venv/bin/python bench/serve.py [--rounds 3] [--seconds 5] [--connections 32] [--uvloop]

Needs wrk (Debian: apt-get install wrk). One hypercorn worker each for:
  (a) /feeds/all.rss?limit=50 from the service's cache, Accept-Encoding: gzip
  (b) the same with If-None-Match -> 304
  (c) a bare Starlette endpoint (bench/bare_app.py) returning the same gzip bytes from memory
The three runs are interleaved round by round; medians of req/s and p99 latency are printed
with the ratios a/c and b/c (target: both >= 0.9).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
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


def load_store(db: Path, count: int) -> None:
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
        " end=datetime.now(UTC))]\n"
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        load_store(db, 600)
        port_app, port_bare = free_port(), free_port()
        env = {**os.environ, "SYNDICATION_DB": str(db),
               "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port_app}"}  # fmt: skip
        serve = [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port_app)]
        if args.uvloop:
            serve.append("--uvloop")
        app = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        bare: subprocess.Popen[bytes] | None = None
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
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, (url, headers) in cases.items():
                    results[name].append(run_wrk(url, args.seconds, args.connections, headers))
        finally:
            for proc in (app, bare):
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


if __name__ == "__main__":
    main()
