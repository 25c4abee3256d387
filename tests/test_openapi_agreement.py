"""The OpenAPI document and the API agree field by field: what the schema allows, the API takes,
and what it forbids, the API refuses (the fuzzer samples this; these tests go through every field)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.openapi import openapi_document
from tests.conftest import TOKEN

SETTINGS = Settings.load(environ={}, site_url="https://example.ru", api_token=TOKEN)
DOC = openapi_document(SETTINGS)
SCHEMAS: dict[str, Any] = DOC["components"]["schemas"]
ARTICLE = {"title": "Новость", "published_at": "2025-12-01T10:00:00+03:00"}
RUBRIC = {"title": "Рубрика"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(
        environ={}, db=str(tmp_path / "s.db"), site_url="https://example.ru", api_token=TOKEN
    )
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def allows_null(schema: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft202012Validator(schema).is_valid(None))


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    responses = DOC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} → {status} is not documented"
    content = responses[str(status)]["content"]
    (media,) = content.values()
    ref: str = media["schema"]["$ref"]
    return {**SCHEMAS[ref.rsplit("/", 1)[-1]], "components": DOC["components"]}


def assert_documented(response: Any, path: str, method: str) -> None:
    schema = response_schema(path, method, response.status_code)
    jsonschema.Draft202012Validator(schema).validate(response.json())


def test_every_schema_is_valid_json_schema() -> None:
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("field", sorted(set(SCHEMAS["ArticleIn"]["properties"]) - {"id"}))
def test_article_field_takes_null_exactly_when_the_schema_says_so(
    client: TestClient, field: str
) -> None:
    nullable = allows_null(SCHEMAS["ArticleIn"]["properties"][field])
    response = client.put("/api/articles/a1", json={**ARTICLE, field: None})
    assert response.status_code == (201 if nullable else 422), (field, nullable, response.text)
    if nullable:
        assert_documented(response, "/api/articles/{article_id}", "put")


@pytest.mark.parametrize("field", sorted(SCHEMAS["RubricIn"]["properties"]))
def test_rubric_field_takes_null_exactly_when_the_schema_says_so(
    client: TestClient, field: str
) -> None:
    nullable = allows_null(SCHEMAS["RubricIn"]["properties"][field])
    response = client.put("/api/rubrics/r1", json={**RUBRIC, field: None})
    assert response.status_code == (201 if nullable else 422), (field, nullable, response.text)
    assert_documented(response, "/api/rubrics/{slug}", "put")


@pytest.mark.parametrize("field", ["type", "length", "caption"])
def test_image_parts_take_null(client: TestClient, field: str) -> None:
    image = {"url": "https://example.ru/i.jpg", field: None}
    response = client.put("/api/articles/a1", json={**ARTICLE, "image": image})
    assert response.status_code == 201, response.text
    assert_documented(response, "/api/articles/{article_id}", "put")


def test_a_bare_article_answers_nulls_the_schema_declares(client: TestClient) -> None:
    """summary, content_html, updated_at, author and image come back as null."""
    response = client.put("/api/articles/a1", json=ARTICLE)
    stored = response.json()
    assert [k for k, v in stored.items() if v is None] == [
        "summary", "content_html", "updated_at", "author", "image",
    ]  # fmt: skip
    assert_documented(response, "/api/articles/{article_id}", "put")
    assert_documented(client.get("/api/articles/a1"), "/api/articles/{article_id}", "get")
    with_image = client.put(
        "/api/articles/a1", json={**ARTICLE, "image": "https://example.ru/i.jpg"}
    )
    assert with_image.json()["image"] == {
        "url": "https://example.ru/i.jpg", "type": None, "length": None, "caption": None,
    }  # fmt: skip
    assert_documented(with_image, "/api/articles/{article_id}", "put")


def test_a_bad_id_on_get_is_a_documented_400(client: TestClient) -> None:
    response = client.get("/api/articles/%2E%2E")
    assert response.status_code == 400
    assert_documented(response, "/api/articles/{article_id}", "get")


def test_the_bulk_endpoint_is_documented_as_ndjson_lines(client: TestClient) -> None:
    body = DOC["paths"]["/api/articles:bulk"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/x-ndjson"}
    line = SCHEMAS["BulkLine"]
    assert "id" in line["required"]
    assert line["properties"] == SCHEMAS["ArticleIn"]["properties"]
    bad = client.post(
        "/api/articles:bulk",
        content=b'{"id": "x", "title": null}\n',
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert bad.status_code == 422
    assert_documented(bad, "/api/articles:bulk", "post")
