"""Write latency with push notifications on: endpoint up vs endpoint down (connection refused).

    .venv/bin/python bench/notify.py [--writes 200] [--rounds 3] [--debounce 2.0]

Each run starts `syndication serve` (one worker, fresh SQLite file) with a WebSub hub and an
IndexNow endpoint configured, and makes `--writes` sequential PUT /api/articles/{id} over one
keep-alive connection, timing each. A short backoff keeps the notifier retrying during the
"down" writes; `--debounce 0.05` makes it deliver every few writes, the worst case. "up": a local
endpoint answering 202; "down": a port nothing listens on; "off": no targets, for reference.
Runs are interleaved round by round; medians over rounds of p50/p99 are printed with the ratio
down/up (target: within 10%).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The stand-in endpoint runs in a process of its own: threads in this one would compete with the
# timing loop for the GIL and inflate the "up" latencies with the benchmark's own overhead.
_ENDPOINT = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Accept)
print("ready", flush=True)
server.serve_forever()
"""


def start_endpoint() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _ENDPOINT, str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}"


def run(
    mode: str, endpoint: str, writes: int, debounce: float, tmp: Path
) -> tuple[list[float], dict[str, float]]:
    port = free_port()
    db = tmp / f"{mode}-{port}.db"
    env = {
        **os.environ,
        "SYNDICATION_DB": str(db),
        "SYNDICATION_API_TOKEN": TOKEN,
        "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SYNDICATION_SITE_URL": "https://example.ru",
        "SYNDICATION_NOTIFY_DEBOUNCE_SECONDS": str(debounce),
        "SYNDICATION_NOTIFY_BACKOFF_SECONDS": "0.05",
        "SYNDICATION_NOTIFY_BACKOFF_MAX_SECONDS": "0.5",
        "SYNDICATION_NOTIFY_MAX_ATTEMPTS": "1000",
    }
    if mode != "off":
        env["SYNDICATION_WEBSUB_HUB"] = f"{endpoint}/hub"
        env["SYNDICATION_INDEXNOW_ENDPOINT"] = f"{endpoint}/indexnow"
        env["SYNDICATION_INDEXNOW_KEY"] = "0123456789abcdef"
    log = (tmp / f"{mode}-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        latencies = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for n in range(20 + writes):  # the first 20 warm up
                body = {
                    "title": f"Новость {n}",
                    "published_at": "2025-12-10T18:08:00+03:00",
                    "rubrics": [f"rubrika{n % 7}"],
                    "tags": [f"Тег {n % 31}", f"Тег {n % 17}"],
                    "content_html": "<p>" + "Текст новости. " * 100 + "</p>",
                }
                started = time.perf_counter()
                r = client.put(f"/api/articles/b{n % 150}", json=body)
                elapsed = time.perf_counter() - started
                assert r.status_code in (200, 201), r.text
                if n >= 20:
                    latencies.append(elapsed)
            time.sleep(0.3)
            exposition = client.get("/metrics").text
        counters = {}
        for name in ("deliveries", "failures", "retries"):
            found = re.findall(rf"^syndication_notify_{name}_total\{{[^}}]*\}} (\S+)$",
                               exposition, re.M)  # fmt: skip
            counters[name] = sum(float(v) for v in found)
        return latencies, counters
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--debounce", type=float, default=2.0,
        help="SYNDICATION_NOTIFY_DEBOUNCE_SECONDS (default: the shipped 2 s; 0.05 = a delivery"
        " every few writes, the stress case)",
    )  # fmt: skip
    args = parser.parse_args()
    endpoint, up_url = start_endpoint()
    down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    results: dict[str, list[tuple[float, float]]] = {"off": [], "up": [], "down": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):
            for mode, url in (("up", up_url), ("down", down_url), ("off", up_url)):
                latencies, counters = run(mode, url, args.writes, args.debounce, Path(tmp))
                p50, p99 = pct(latencies, 0.50), pct(latencies, 0.99)
                results[mode].append((p50, p99))
                print(f"round {round_} {mode:>4}: p50 {p50 * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms"
                      f"  deliveries {counters['deliveries']:.0f}  failures"
                      f" {counters['failures']:.0f}  retries {counters['retries']:.0f}")  # fmt: skip
    endpoint.terminate()
    endpoint.wait()
    med = {
        mode: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
        for mode, rs in results.items()
    }
    print()
    for mode, (p50, p99) in med.items():
        print(f"median {mode:>4}: p50 {p50 * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms")
    print(
        f"down/up: p50 {med['down'][0] / med['up'][0]:.3f}  p99 {med['down'][1] / med['up'][1]:.3f}"
        "  (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
