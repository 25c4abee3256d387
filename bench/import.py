"""Import throughput: N synthetic articles (3 KB bodies, 5 tags each) into a fresh store,
through the CLI and through the HTTP bulk endpoint, in one run.

    .venv/bin/python bench/import.py [--articles 100000] [--chunk 5000] [--workers 1]

Prints articles/s and the peak resident memory of every process involved for each path: the
importing process (the CLI, or the server with its supervisor and workers) and all its
descendants (validator processes, multiprocessing's resource tracker). `peak MB` is the largest
sum of their resident sets seen by sampling every 50 ms; `hwm MB` adds up each process's own
high-water mark (as last read before it exited): an upper bound, since the peaks need not
coincide, that also catches spikes shorter than the sampling interval.
Targets (issue 2): CLI >= 5,000/s, HTTP >= 2,000/s, peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


class TreeMemory:
    """Samples the resident memory of a process and all its descendants until stopped."""

    def __init__(self, root: int, every: float = 0.05) -> None:
        self.root = root
        self.every = every
        self.peak_kb = 0
        self.hwm_kb: dict[tuple[int, str], int] = {}  # (pid, start time) → VmHWM
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    @property
    def hwm_mb(self) -> float:
        return sum(self.hwm_kb.values()) / 1024

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        total = 0
        todo = [self.root]
        while todo:
            pid = todo.pop()
            todo.extend(_children(pid))
            status = _status(pid)
            if status is None:
                continue
            rss, hwm, started = status
            total += rss
            key = (pid, started)
            self.hwm_kb[key] = max(self.hwm_kb.get(key, 0), hwm)
        self.peak_kb = max(self.peak_kb, total)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in task.read_text().split())
    return found


def _status(pid: int) -> tuple[int, int, str] | None:
    """(VmRSS, VmHWM in kB, start time); None once the process is gone or a zombie."""
    entry = Path(f"/proc/{pid}")
    try:
        lines = (entry / "status").read_text().splitlines()
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    values = {
        key: value.split()[0]
        for key, _, value in (line.partition(":") for line in lines)
        if key in ("VmRSS", "VmHWM")
    }
    if "VmRSS" not in values:
        return None
    started = stat[stat.rindex(")") + 2 :].split()[19]  # tells a reused pid apart
    return int(values["VmRSS"]), int(values["VmHWM"]), started


def bench_cli(data: Path, count: int, workdir: Path) -> tuple[float, TreeMemory]:
    db = workdir / "cli.db"
    env = {**os.environ, "SYNDICATION_DB": str(db)}
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, "-q", "import", str(data)], env=env, stdout=subprocess.DEVNULL)
    with TreeMemory(proc.pid) as memory:
        proc.wait()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed with status {proc.returncode}")
    return count / elapsed, memory


def bench_http(
    data: Path, count: int, chunk: int, workers: int, workdir: Path
) -> tuple[float, TreeMemory]:
    db = workdir / "http.db"
    port = _free_port()
    env = {
        **os.environ,
        "SYNDICATION_DB": str(db),
        "SYNDICATION_API_TOKEN": "bench-token",
        "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    memory = TreeMemory(server.pid)
    try:
        with memory, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
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
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return count / elapsed, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5000, help="lines per HTTP bulk request")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
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
        cli_rate, cli_mem = bench_cli(data, args.articles, workdir)
        http_rate, http_mem = bench_http(data, args.articles, args.chunk, args.workers, workdir)
    print(f"{'path':<6} {'articles/s':>11} {'peak MB':>8} {'hwm MB':>7}   target")
    print(
        f"{'cli':<6} {cli_rate:>11,.0f} {cli_mem.peak_mb:>8.0f} {cli_mem.hwm_mb:>7.0f}"
        "   >= 5,000/s, <= 300 MB"
    )
    print(
        f"{'http':<6} {http_rate:>11,.0f} {http_mem.peak_mb:>8.0f} {http_mem.hwm_mb:>7.0f}"
        f"   >= 2,000/s, <= 300 MB ({args.workers} worker(s))"
    )
    print(f"ratio http/cli: {http_rate / cli_rate:.2f}")
    print(
        f"processes sampled: cli {len(cli_mem.hwm_kb)}, http {len(http_mem.hwm_kb)}"
        " (every process of each tree, validators included)"
    )


if __name__ == "__main__":
    main()
