"""Import throughput: N synthetic articles (3 KB bodies, 5 tags each) into a fresh store,
through the CLI and through the HTTP bulk endpoint, in one run.

    .venv/bin/python bench/import.py [--articles 100000] [--chunk 5000]

Prints articles/s and the peak resident memory of the importing process for each path.
Targets (issue 2): CLI >= 5,000/s, HTTP >= 2,000/s, peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson

from syndication.demo import articles as demo_articles

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "syndication.cli"]


def write_dataset(path: Path, count: int) -> None:
    """NDJSON of `count` articles: 3 KB bodies, 5 tags; bodies drawn from a pool for speed."""
    zone = ZoneInfo("Europe/Moscow")
    pool = list(
        demo_articles(
            500,
            seed=7,
            body_bytes=3000,
            tags_per_article=(5, 5),
            end=datetime(2025, 12, 1, tzinfo=zone),
        )
    )
    rng = random.Random(11)
    span = 3 * 365 * 24 * 3600
    start = datetime(2022, 12, 1, tzinfo=zone).timestamp()
    with path.open("wb") as out:
        for i in range(count):
            base = dict(pool[i % len(pool)])
            base["id"] = f"bench-{i:07d}"
            base["title"] = f"{base['title']} №{i}"
            base["url"] = f"https://example.ru/novosti/{i}/"
            base["published_at"] = datetime.fromtimestamp(
                start + span * i / count + rng.randint(0, 600), zone
            ).isoformat()
            base.pop("updated_at", None)
            out.write(orjson.dumps(base) + b"\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_mb_of_finished(proc: subprocess.Popen[bytes]) -> float:
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss / 1024


def _peak_mb_of_running(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_cli(data: Path, count: int, workdir: Path) -> tuple[float, float]:
    db = workdir / "cli.db"
    env = {**os.environ, "SYNDICATION_DB": str(db)}
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, "-q", "import", str(data)], env=env, stdout=subprocess.DEVNULL)
    peak = _peak_mb_of_finished(proc)
    elapsed = time.perf_counter() - started
    return count / elapsed, peak


def bench_http(data: Path, count: int, chunk: int, workdir: Path) -> tuple[float, float]:
    db = workdir / "http.db"
    port = _free_port()
    env = {
        **os.environ,
        "SYNDICATION_DB": str(db),
        "SYNDICATION_API_TOKEN": "bench-token",
        "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for _ in range(200):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            headers = {
                "Authorization": "Bearer bench-token",
                "Content-Type": "application/x-ndjson",
            }
            started = time.perf_counter()
            with data.open("rb") as handle:
                while True:
                    lines = [line for _, line in zip(range(chunk), handle, strict=False)]
                    if not lines:
                        break
                    response = client.post(
                        "/api/articles:bulk", content=b"".join(lines), headers=headers
                    )
                    response.raise_for_status()
            elapsed = time.perf_counter() - started
        peak = _peak_mb_of_running(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return count / elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5000, help="lines per HTTP bulk request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data = workdir / "articles.ndjson"
        t = time.perf_counter()
        write_dataset(data, args.articles)
        size_mb = data.stat().st_size / 2**20
        print(
            f"data set: {args.articles} articles, {size_mb:.0f} MB ({time.perf_counter() - t:.1f} s)"
        )
        cli_rate, cli_peak = bench_cli(data, args.articles, workdir)
        http_rate, http_peak = bench_http(data, args.articles, args.chunk, workdir)
    print(f"{'path':<6} {'articles/s':>11} {'peak MB':>8}   target")
    print(f"{'cli':<6} {cli_rate:>11,.0f} {cli_peak:>8.0f}   >= 5,000/s, <= 300 MB")
    print(f"{'http':<6} {http_rate:>11,.0f} {http_peak:>8.0f}   >= 2,000/s, <= 300 MB")
    print(f"ratio http/cli: {http_rate / cli_rate:.2f}")


if __name__ == "__main__":
    main()
