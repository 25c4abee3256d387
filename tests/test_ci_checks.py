"""Schema checks fail the run under CI when ../shared/schemas or jsonschema is missing, and are
skipped with a reason on a fresh clone (pytest in a subprocess, ../shared pointed elsewhere); so
are the PostgreSQL variants of the store tests when no PostgreSQL server answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED

SCHEMA_TEST = "tests/feeds/test_formats.py::test_atom_elements_and_schema[sqlite]"
PG_TEST = "tests/test_store.py::test_term_stats[postgres]"
NO_SERVER = "postgresql://postgres@127.0.0.1:1/postgres"


def pytest_run(tmp: Path, *args: str, ci: bool, shared: Path, hide_jsonschema: bool = False,
               postgres: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["SYNDICATION_TEST_SHARED"] = str(shared)
    if postgres is not None:
        env["SYNDICATION_TEST_POSTGRES"] = postgres
    if ci:
        env["CI"] = "true"
    if hide_jsonschema:
        # A package of that name found first whose import fails, as a missing one would.
        stub = tmp / "stub" / "jsonschema"
        stub.mkdir(parents=True)
        (stub / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(tmp / "stub"), env.get("PYTHONPATH")])
        )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_ci_without_the_schemas_fails_the_run(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SCHEMA_TEST, ci=True, shared=tmp_path / "absent")
    assert run.returncode != 0, run.stdout
    assert f"missing the public schemas at {tmp_path / 'absent'}/schemas" in run.stderr


def test_ci_without_jsonschema_fails_the_run(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SCHEMA_TEST, ci=True, shared=SHARED, hide_jsonschema=True)
    assert run.returncode != 0, run.stdout
    assert "missing the Python package jsonschema" in run.stderr


def test_a_fresh_clone_skips_the_schema_checks_with_a_reason(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SCHEMA_TEST, ci=False, shared=tmp_path / "absent")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "missing the public schemas" in run.stdout


@pytest.mark.skipif(not (SHARED / "schemas").is_dir(), reason="needs ../shared/schemas")
def test_ci_with_everything_runs_the_schema_checks(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, SCHEMA_TEST, ci=True, shared=SHARED)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_ci_without_postgresql_fails_the_postgres_tests(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, PG_TEST, ci=True, shared=SHARED, postgres=NO_SERVER)
    assert run.returncode != 0, run.stdout
    assert "CI is set, but PostgreSQL is not reachable" in run.stdout


def test_a_fresh_clone_without_postgresql_skips_them_with_a_reason(tmp_path: Path) -> None:
    run = pytest_run(
        tmp_path, PG_TEST, PG_TEST.replace("postgres]", "sqlite]"), ci=False, shared=SHARED,
        postgres=NO_SERVER,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout
    assert "PostgreSQL is not reachable at " + NO_SERVER in run.stdout
