"""Shared fixtures: settings on a real SQLite file, an open store, a real hypercorn server."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import hypothesis
import pytest

from syndication.config import Settings
from syndication.store import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
# CI lays ../shared (the public schemas) beside its clone; the variable points elsewhere (the
# test of the CI rule below uses it).
SHARED = Path(os.environ.get("SYNDICATION_TEST_SHARED") or ROOT.parent / "shared")
TOKEN = "test-token-0123456789"
# What schema checks need besides ../shared/schemas: they are skipped on a fresh clone without
# them, and CI must not skip them silently.
SCHEMA_CHECK_MODULES = ("jsonschema",)


def in_ci() -> bool:
    """CI sets CI (GitHub, GitLab and .ci/run set it to true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# Property tests explore new examples on every local run; under CI they replay one fixed
# sequence, so a landing is never blocked by an example no one has seen (what a local run finds
# becomes an @example and a fix).
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if in_ci():
    hypothesis.settings.load_profile("ci")


def missing_for_schema_checks(modules: tuple[str, ...] = SCHEMA_CHECK_MODULES) -> list[str]:
    missing = []
    if not (SHARED / "schemas").is_dir():
        missing.append(f"the public schemas at {SHARED}/schemas")
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(f"the Python package {name} (pip install -e '.[dev]')")
    return missing


def pytest_configure(config: pytest.Config) -> None:
    missing = missing_for_schema_checks()
    if missing and in_ci():
        raise pytest.UsageError(
            "CI is set, but the schema checks cannot run: missing "
            + "; ".join(missing)
            + ". CI must lay ../shared beside the clone and install the dev dependencies."
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(
        environ={},
        db=str(tmp_path / "store.db"),
        public_url="https://feeds.example.ru",
        site_url="https://example.ru",
        api_token=TOKEN,
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(settings.db, settings.zone)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `syndication serve` process on 127.0.0.1 with its own SQLite file."""

    base_url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    tmp: Path, *, env: dict[str, str] | None = None, workers: int = 1, db: Path | None = None
) -> Server:
    port = free_port()
    db = db or tmp / "server.db"
    log = tmp / f"server-{port}.log"
    full_env = {
        **os.environ,
        "SYNDICATION_DB": str(db),
        "SYNDICATION_API_TOKEN": TOKEN,
        "SYNDICATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SYNDICATION_SITE_URL": "https://example.ru",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndication.cli", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=full_env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", db, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield s
    finally:
        s.stop()
        assert b"Traceback" not in s.log.read_bytes(), s.log.read_text()


def requires_shared(*modules: str) -> pytest.MarkDecorator:
    """Skip on a fresh clone without ../shared/schemas (or the packages named); under CI the
    run has already failed in pytest_configure instead."""
    missing = missing_for_schema_checks(modules)
    return pytest.mark.skipif(
        bool(missing),
        reason=f"missing {'; '.join(missing)} (only CI lays ../shared beside the clone; "
        "there a missing one fails the run)",
    )


def required_program(name: str, *, also_in: tuple[str, ...] = ("/usr/sbin", "/sbin")) -> str:
    """The path of an external program a test runs (nginx): a fresh clone without it skips the
    test with the reason; under CI, which must install it (.ci/run does), the test fails."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(also_in))
    if found:
        return found
    message = f"{name} is not installed (apt-get install {name}; .ci/run installs it)"
    if in_ci():
        pytest.fail(f"CI is set, but {message}", pytrace=False)
    pytest.skip(message)
