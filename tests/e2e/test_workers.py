"""`serve --workers 2`: the supervisor keeps workers running, a bulk works in any worker and leaves
the write lock free while it validates, and no process outlives its parent."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from syndication.demo import articles as demo_articles
from syndication.supervisor import RestartPolicy
from tests.conftest import ROOT, TOKEN, Server, free_port, start_server
from tests.processes import children, process, wait_until_gone

pytestmark = pytest.mark.e2e

BULK = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
ARTICLE = {"title": "Новость", "published_at": "2025-12-10T18:08:00+03:00", "rubrics": ["glavnoe"]}
READY = re.compile(rb"syndication\.supervisor: worker \d+ ready \(pid (\d+)\)")


def _ndjson(count: int, prefix: str, body_bytes: int = 1500) -> bytes:
    lines = []
    for payload in demo_articles(count, seed=3, body_bytes=body_bytes):
        payload["id"] = f"{prefix}-{payload['id']}"
        lines.append(orjson.dumps(payload))
    return b"\n".join(lines)


def _puts_at_once(server: Server, ids: list[str]) -> dict[str, int]:
    """PUT an article under each id at the same time, each on a new connection: the shared
    listening socket then hands some of them to each worker. Status by id."""
    statuses: dict[str, int] = {}

    def put(article_id: str) -> None:
        statuses[article_id] = httpx.put(
            f"{server.base_url}/api/articles/{article_id}",
            json=ARTICLE,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=300,
        ).status_code

    threads = [threading.Thread(target=put, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _wait_for_log(server: Server, pattern: bytes, count: int = 1) -> list[re.Match[bytes]]:
    """The first `count` matches of `pattern` in the server's log, once there are that many."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(regex.finditer(server.log.read_bytes()))
        if len(found) >= count:
            return found[:count]
        assert server.process.poll() is None, server.log.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{pattern!r} x{count} never logged:\n{server.log.read_text()}")


def _ready_pids(server: Server, count: int) -> list[int]:
    return [int(m[1]) for m in _wait_for_log(server, READY.pattern, count)]


def _answering_pid(base_url: str) -> int:
    """Which worker answers a new connection (/metrics says)."""
    response = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    found = re.search(r'syndication_worker\{pid="(\d+)"\}', response.text)
    assert found is not None
    return int(found[1])


def _answering_pids(base_url: str, connections: int) -> set[int]:
    """Which workers answer `connections` new connections made at the same time."""
    pids: list[int] = []
    threads = [
        threading.Thread(target=lambda: pids.append(_answering_pid(base_url)))
        for _ in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return set(pids)


@contextmanager
def _two_workers(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path, workers=2)
    try:
        _ready_pids(server, 2)
        yield server
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log.read_text()
    assert b"all workers stopped" in server.log.read_bytes()


@contextmanager
def _migrations_locked(db: Path) -> Iterator[None]:
    """Hold the lock every opening store takes to migrate: a starting worker waits at it, before
    its app is ready, while the running ones serve on."""
    with db.with_name(db.name + "-migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def test_a_killed_worker_is_replaced_while_the_survivor_answers(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as server:
        victim, survivor = _ready_pids(server, 2)
        with _migrations_locked(server.db):
            os.kill(victim, signal.SIGKILL)
            _wait_for_log(server, rb"worker \d+ \(pid %d\) exited: killed by SIGKILL" % victim)
            replacement = int(_wait_for_log(server, rb"worker \d+ started \(pid (\d+)\)", 3)[2][1])
            # The replacement is starting but held before it is ready: every answer is the
            # survivor's, and none is lost.
            assert {_answering_pid(server.base_url) for _ in range(20)} == {survivor}
            assert len(READY.findall(server.log.read_bytes())) == 2
        assert _ready_pids(server, 3)[2] == replacement
        # Back to two workers: new connections reach the replacement too. Four at once, since a
        # lone sequential client may keep landing on one worker of a shared socket.
        deadline = time.monotonic() + 60
        while replacement not in _answering_pids(server.base_url, 4):
            assert time.monotonic() < deadline, "the replacement never answered"
        assert process(survivor).alive()


def test_a_large_bulk_in_a_worker(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as server, server.client() as client:
        response = client.post("/api/articles:bulk", content=_ndjson(2500, "big"), headers=BULK)
        assert response.status_code == 200, response.text
        assert response.json() == {"created": 2500, "replaced": 0, "rejected_lines": []}
        bad = _ndjson(2500, "bad") + b"\n" + orjson.dumps({"id": "x", "title": ""})
        rejected = client.post("/api/articles:bulk", content=bad, headers=BULK)
        assert rejected.status_code == 422
        assert rejected.json()["rejected_lines"] == [2501]
        assert client.get("/api/articles/bad-demo-000001").status_code == 404
        assert client.get("/api/articles/big-demo-002500").status_code == 200
        assert b"Traceback" not in server.log.read_bytes()


def test_a_put_on_another_worker_is_not_held_up_by_a_bulk(tmp_path: Path) -> None:
    # Close to the 64 MB bulk limit, with 3 KB bodies: validating takes about twice as long as
    # storing (the test prints both), and only storing holds the write lock.
    lines = 15_000
    body = _ndjson(lines, "bulk", body_bytes=3000)
    assert len(body) < 64 * 2**20
    with _two_workers(tmp_path) as server:
        bulk: list[httpx.Response] = []

        def send_bulk() -> None:
            bulk.append(
                httpx.post(
                    f"{server.base_url}/api/articles:bulk",
                    content=body,
                    headers=BULK,
                    timeout=300,
                )
            )

        sender = threading.Thread(target=send_bulk)
        sender.start()
        try:
            started = _wait_for_log(server, rb"\[(\d+)\] INFO syndication.api: bulk: validating")
            bulk_pid = int(started[0][1])
            validated = rb"\[\d+\] INFO syndication.api: bulk: validated"
            # PUTs on new connections, four at a time (so that the shared socket hands some to the
            # other worker), until one lands on the other worker while the bulk is still
            # validating; each is checked against the log after its answer, so "before the bulk
            # finished validating" is a fact, not a guess.
            puts: list[tuple[int, int, bool]] = []  # (status, worker pid, bulk still validating)

            while sender.is_alive():
                first = len(puts)
                statuses = _puts_at_once(server, [f"put-{n}" for n in range(first, first + 4)])
                validating = not re.search(validated, server.log.read_bytes())
                for n in range(first, first + 4):
                    line = _wait_for_log(
                        server, rb"\[(\d+)\] INFO syndication.api: created article put-%d " % n
                    )
                    puts.append((statuses.get(f"put-{n}", 0), int(line[0][1]), validating))
                if any(validating and pid != bulk_pid for _, pid, _ in puts[first:]):
                    break
        finally:
            sender.join()
        assert bulk[0].status_code == 200, bulk[0].text
        assert bulk[0].json()["created"] == lines
        assert all(status == 201 for status, _, _ in puts), puts
        assert any(pid != bulk_pid and during for _, pid, during in puts), puts
        log = server.log.read_text()
        assert "Traceback" not in log
        # How the bulk's time was spent (validation dominates, so the race had room).
        validation = re.search(r"bulk: validated in ([\d.]+) s", log)
        storing = re.search(r"bulk: \d+ created.* stored in ([\d.]+) s", log)
        assert validation is not None
        assert storing is not None
        print(f"validated in {validation[1]} s, stored in {storing[1]} s; {len(puts)} PUT(s)")


def test_no_validator_outlives_a_killed_worker(tmp_path: Path) -> None:
    body = _ndjson(8000, "killed", body_bytes=3000)
    with _two_workers(tmp_path) as server:

        def send() -> None:
            # The worker dies under this request: that is the point.
            with contextlib.suppress(httpx.TransportError):
                httpx.post(f"{server.base_url}/api/articles:bulk", content=body, headers=BULK,
                           timeout=120)  # fmt: skip

        sender = threading.Thread(target=send)
        sender.start()
        try:
            started = _wait_for_log(server, rb"\[(\d+)\] INFO syndication.api: bulk: validating")
            worker = int(started[0][1])
            deadline = time.monotonic() + 60
            while not any("spawn_main" in p.cmdline() for p in children(worker)):
                assert time.monotonic() < deadline, "no validator started"
                time.sleep(0.01)
            helpers = children(worker)
            os.kill(worker, signal.SIGKILL)
        finally:
            sender.join()
        assert wait_until_gone(helpers) == [], [p.cmdline() for p in helpers]
        # The service answers on; the bulk stored nothing.
        with server.client() as client:
            assert client.get("/api/articles/killed-demo-000001").status_code == 404


def test_the_supervisor_gives_up_when_workers_cannot_start(tmp_path: Path) -> None:
    # The store's directory is a file: every worker fails while its app starts.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    port = free_port()
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port),
             "--workers", "2"],
            env={**os.environ, "SYNDICATION_DB": str(blocker / "store.db")},
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        status = supervisor.wait(timeout=300)
    finally:
        supervisor.kill()
        supervisor.wait()
    text = log.read_text()
    assert status == 1, text
    assert "giving up: 5 workers in a row exited before they were ready" in text
    # Two at first, then a restart after each failure but the last (which may come before the
    # restart after the one before it).
    assert len(re.findall(r"worker \d started", text)) in (5, 6), text
    assert not READY.search(text.encode())


def test_sigint_stops_the_workers_and_exits_0(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    try:
        workers = [process(pid) for pid in _ready_pids(server, 2)]
    finally:
        server.stop(signal.SIGINT)
    assert server.process.returncode == 0
    assert wait_until_gone(workers) == []
    assert "SIGINT: stopping 2 worker(s)" in server.log.read_text()


def test_workers_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    try:
        workers = [process(pid) for pid in _ready_pids(server, 2)]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    finally:
        server.stop()
    assert wait_until_gone(workers) == []


def test_restart_policy() -> None:
    policy = RestartPolicy(max_failed_starts=3, max_exits=4, window=60, first_delay=0.5)
    # A worker that was serving is restarted at once; repeated exits back off.
    assert policy.exited(was_ready=True, now=0) == 0
    assert policy.exited(was_ready=True, now=1) == 0.5
    assert policy.exited(was_ready=True, now=2) == 1.0
    # Exits older than the window no longer count.
    assert policy.exited(was_ready=True, now=100) == 0
    # Failed starts in a row: give up at the third, unless a worker became ready in between.
    assert policy.exited(was_ready=False, now=101) is not None
    policy.ready()
    assert policy.exited(was_ready=False, now=102) is not None
    assert policy.exited(was_ready=False, now=103) is not None
    assert policy.exited(was_ready=False, now=104) is None
    assert "3 workers in a row" in policy.reason()
    # A crash loop: more than max_exits within the window.
    loop = RestartPolicy(max_exits=4, window=60)
    assert [loop.exited(was_ready=True, now=t) is None for t in range(5)] == [False] * 4 + [True]
    assert "5 worker exits within 60 s" in loop.reason()


def test_a_put_waits_out_a_100000_line_bulk_insert_and_answers(tmp_path: Path) -> None:
    """A bulk is all or nothing, so it holds SQLite's write lock while it inserts; a PUT on the
    other worker sent in that window queues behind it and answers 201, never 503."""
    lines = 100_000
    body = b"\n".join(
        orjson.dumps(
            {
                "id": f"small-{i}",
                "title": f"Новость {i}",
                "published_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+03:00",
                "rubrics": ["glavnoe"],
                "tags": [f"Тема {i % 50}"],
            }
        )
        for i in range(lines)
    )
    assert len(body) < 64 * 2**20
    with _two_workers(tmp_path) as server:
        bulk: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: bulk.append(
                httpx.post(
                    f"{server.base_url}/api/articles:bulk", content=body, headers=BULK, timeout=600
                )
            )
        )
        sender.start()
        try:
            done = _wait_for_log(server, rb"\[(\d+)\] INFO syndication.api: bulk: validated")
            bulk_pid = int(done[0][1])
            # Sixteen PUTs at once, each on a new connection: the shared socket hands some to
            # the other worker. All are sent before the bulk has finished inserting.
            inserting = not re.search(
                rb"syndication.api: bulk: \d+ created", server.log.read_bytes()
            )
            answers = _puts_at_once(server, [f"wait-{n}" for n in range(16)])
        finally:
            sender.join()
        log = server.log.read_bytes()
        created = {
            n: _wait_for_log(
                server,
                rb"\[(\d+)\] INFO syndication.api: created article wait-%d \(change (\d+)\)" % n,
            )[0]
            for n in range(16)
        }
        assert bulk[0].status_code == 200, bulk[0].text
        assert bulk[0].json()["created"] == lines
        assert answers == {f"wait-{n}": 201 for n in range(16)}
        # The race was run: PUTs went out while the bulk was inserting, and the other worker
        # answered some of them (it had to wait for SQLite's write lock to do so).
        assert inserting
        # ...after waiting for the bulk's commit: its change follows the bulk's.
        stored = _wait_for_log(server, rb"bulk: \d+ created, \d+ replaced \(change (\d+)\)")
        bulk_change = int(stored[0][1])
        assert any(int(m[1]) != bulk_pid and int(m[2]) > bulk_change for m in created.values()), (
            created
        )
        assert b"Traceback" not in log


def test_sigusr1_logs_a_workers_stacks_and_it_serves_on(tmp_path: Path) -> None:
    with _two_workers(tmp_path) as server:
        first, second = _ready_pids(server, 2)
        os.kill(first, signal.SIGUSR1)
        # faulthandler's dump of every thread, the watchdog's among them (started by the app's
        # lifespan: its thread waits in `_watch`).
        _wait_for_log(server, rb'File "[^"]*syndication/watchdog\.py", line \d+ in _watch')
        _wait_for_log(server, rb"Thread 0x[0-9a-f]+ \(most recent call first\)")
        assert process(first).alive()
        assert process(second).alive()
        deadline = time.monotonic() + 60
        while first not in _answering_pids(server.base_url, 4):
            assert time.monotonic() < deadline, "the worker stopped answering after SIGUSR1"
