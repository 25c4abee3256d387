"""The write API fuzzed from its own OpenAPI document (schemathesis), with and without the token.

Every generated request, valid or not, must get an answer the document describes: a documented
status code, its content type and a body of its schema, never a 5xx, and a 4xx for what the
document forbids. The app runs in-process (ASGI) on a real SQLite file; generation is seeded and
derandomised and has no time limits, so a run is repeatable on any machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.openapi import openapi_document
from syndication.serving import DocumentServer
from tests.conftest import TOKEN

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # What the document forbids (a null where it says string, an id of "..") must be refused.
    # Not positive_data_acceptance: the document cannot express every rule (an ISO 8601 string
    # that is a real date, updated_at >= published_at), so valid-looking data may get a 422.
    negative_data_rejection,
]
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}

# Bounded: the whole module stays well under a minute on a loaded 2-core machine.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20251210,
        "generation": {
            "max-examples": 25,
            "deterministic": True,
            "database": "none",
            "mode": "all",
        },
        "suppress-health-check": [
            "all"
        ],  # too_slow is a wall-clock bound; nothing else matters here
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
    }
)


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The document describes a bulk body as an array, one line an item (as the API reads it);
    a negative case may be any other JSON value, sent as a single line."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def fuzz_settings(db: str) -> Settings:
    return Settings.load(
        environ={},
        db=db,
        public_url="http://testserver",
        site_url="https://example.ru",
        api_token=TOKEN,
    )


# Loaded from the document the app serves (test_the_fuzzed_document_is_the_served_one), built
# here because the parametrisation needs it at collection time, before any fixture exists.
schema = schemathesis.openapi.from_dict(openapi_document(fuzz_settings(":unused:")), config=CONFIG)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    try:
        yield create_app(fuzz_settings(str(db)))
    finally:
        # schemathesis starts the app's lifespan on the first call and keeps it for the process;
        # stop it (closing the store) while the temporary directory still exists.
        shutdown_lifespans()


def test_the_fuzzed_document_is_the_served_one(app: DocumentServer) -> None:
    with TestClient(app) as client:
        assert client.get("/api/openapi.json").json() == schema.raw_schema


@schema.parametrize()
def test_with_the_token(case: schemathesis.Case[Any], app: DocumentServer) -> None:
    case.call_and_validate(app=app, headers=AUTHORIZED, checks=CHECKS)


@schema.parametrize()
def test_without_a_token(case: schemathesis.Case[Any], app: DocumentServer) -> None:
    case.call_and_validate(app=app, checks=CHECKS)
