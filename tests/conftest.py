"""Shared fixtures: settings on a real SQLite file (or a fresh PostgreSQL database), an open
store, a real hypercorn server.

A test module marked `pytest.mark.backends` runs its store-backed tests on both backends: the
`backend` fixture is "sqlite" or "postgres", and `settings`, `store` and `server` follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import hypothesis
import pytest

from syndication.config import Settings
from syndication.store import PostgresStore, SQLiteStore, Store, is_postgres_url, make_store

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


BACKENDS = ("sqlite", "postgres")
# The server each PostgreSQL test gets a database of its own on (trust auth on the project's
# machines; another one can be named).
PG_ADMIN_URL = os.environ.get(
    "SYNDICATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `backends("sqlite")` on one test of a marked module keeps it to the backends named.
    marker = metafunc.definition.get_closest_marker("backends")
    if "backend" in metafunc.fixturenames and marker is not None:
        metafunc.parametrize("backend", marker.args or BACKENDS, indirect=True, scope="module")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test: "sqlite" unless its module is marked `backends`."""
    return str(getattr(request, "param", "sqlite"))


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _postgres_unreachable(exc: BaseException) -> None:
    message = f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"
    if in_ci():
        pytest.fail(f"CI is set, but {message}; .ci/run starts it", pytrace=False)
    pytest.skip(f"{message}: the PostgreSQL variants are skipped (set SYNDICATION_TEST_POSTGRES)")


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards: no PostgreSQL
    test sees another's rows. Unreachable: a skip on a fresh clone, a failure under CI."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
    except (OSError, asyncpg.PostgresError) as exc:
        _postgres_unreachable(exc)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_store_at(db: str | Path, zone: ZoneInfo) -> Store:
    """A store (not yet open) on `db`, a SQLite path or a PostgreSQL URL, in the site `zone`."""
    if is_postgres_url(str(db)):
        return PostgresStore(str(db), zone)
    return SQLiteStore(db, zone)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """SYNDICATION_DB for this test: a SQLite file in its tmp_path, or a fresh database."""
    if backend == "postgres":
        with fresh_postgres_database() as url:
            yield url
    else:
        yield str(tmp_path / "store.db")


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings.load(
        environ={},
        db=db_url,
        public_url="https://feeds.example.ru",
        site_url="https://example.ru",
        api_token=TOKEN,
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    s = make_store(settings)
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
    """A `syndication serve` process on 127.0.0.1 with its own SQLite file `db`, or the
    PostgreSQL database named by `database` (SYNDICATION_DB as given)."""

    base_url: str
    db: Path
    process: subprocess.Popen[bytes]
    log: Path
    database: str = ""

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
    tmp: Path,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    db: Path | str | None = None,
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
    server = Server(f"http://127.0.0.1:{port}", Path(db), process, log, str(db))
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
def server(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(fresh_postgres_database()) if backend == "postgres" else None
        s = start_server(tmp_path_factory.mktemp("server"), db=db)
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
