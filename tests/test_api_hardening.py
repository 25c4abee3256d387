"""Hostile or broken write-API input: always a 4xx problem that names the field, never a 500."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from app import create_app
from syndication.config import Settings
from syndication.ingest import IMAGE_LENGTH_MAX, POSITION_MAX, POSITION_MIN
from tests.conftest import TOKEN

ARTICLE: dict[str, Any] = {"title": "Новость", "published_at": "2025-12-01T10:00:00+03:00"}
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
DEEP = 100_000


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(
        environ={}, db=str(tmp_path / "s.db"), site_url="https://example.ru", api_token=TOKEN
    )
    app = create_app(settings)
    # A 500 must show up as a status to assert on, not as an exception inside the client.
    with TestClient(
        app, headers={"Authorization": f"Bearer {TOKEN}"}, raise_server_exceptions=False
    ) as c:
        yield c


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


# --- nesting -------------------------------------------------------------------------------------


def nested(depth: int, *, escape: bool) -> bytes:
    """An article whose `extra` field is `depth` arrays deep. With `escape`, it also holds a
    \\u escape: what sent the body to the stdlib parser, which recursed until it crashed."""
    title = "\\u041d\\u043e\\u0432\\u043e\\u0441\\u0442\\u044c" if escape else "News"
    head = f'{{"title": "{title}", "published_at": "2025-12-01T10:00:00", "extra": '.encode()
    return head + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("escape", [False, True])
def test_deeply_nested_article_is_a_400(client: TestClient, escape: bool) -> None:
    body = problem(
        client.put("/api/articles/a1", content=nested(DEEP, escape=escape), headers=JSON), 400
    )
    assert fields(body) == ["body"]
    assert client.get("/api/articles/a1").status_code == 404


@pytest.mark.parametrize("escape", [False, True])
def test_deeply_nested_rubric_is_a_400(client: TestClient, escape: bool) -> None:
    key = b'"\\u0061"' if escape else b'"a"'
    deep = b"{" + (key + b":{") * DEEP + b"}" * DEEP + b"}"
    assert fields(problem(client.put("/api/rubrics/r1", content=deep, headers=JSON), 400)) == [
        "body"
    ]


@pytest.mark.parametrize("escape", [False, True])
def test_deeply_nested_bulk_line_is_rejected_by_line(client: TestClient, escape: bool) -> None:
    good = orjson.dumps({**ARTICLE, "id": "ok"})
    line = b'{"id": "deep", ' + nested(DEEP, escape=escape)[1:]
    body = problem(
        client.post("/api/articles:bulk", content=good + b"\n" + line, headers=NDJSON), 422
    )
    assert body["rejected_lines"] == [2]
    assert client.get("/api/articles/ok").status_code == 404  # all or nothing


def test_nesting_within_the_limit_is_still_read(client: TestClient) -> None:
    assert (
        client.put("/api/articles/a1", content=nested(500, escape=False), headers=JSON).status_code
        == 201
    )


# --- integers past what the store holds ----------------------------------------------------------


def with_image_length(length: int) -> bytes:
    # Written out by hand: the number must reach the server digit for digit.
    image = f'{{"url": "https://example.ru/i.jpg", "length": {length}}}'
    return orjson.dumps(ARTICLE)[:-1] + b', "image": ' + image.encode() + b"}"


@pytest.mark.parametrize("length", [2**63, 2**64 - 1, 2**64, 10**30, IMAGE_LENGTH_MAX + 1, -1])
def test_image_length_out_of_range_is_a_422_naming_it(client: TestClient, length: int) -> None:
    response = client.put("/api/articles/a1", content=with_image_length(length), headers=JSON)
    assert fields(problem(response, 422)) == ["image.length"]


def test_image_length_at_the_bound_is_stored(client: TestClient) -> None:
    response = client.put(
        "/api/articles/a1", content=with_image_length(IMAGE_LENGTH_MAX), headers=JSON
    )
    assert response.status_code == 201, response.text
    assert response.json()["image"]["length"] == IMAGE_LENGTH_MAX


def test_image_length_out_of_range_in_a_bulk_line(client: TestClient) -> None:
    line = b'{"id": "big", ' + with_image_length(2**63)[1:]
    body = problem(client.post("/api/articles:bulk", content=line, headers=NDJSON), 422)
    assert body["rejected_lines"] == [1]
    assert fields(body) == ["image.length"]


@pytest.mark.parametrize(
    "position", [2**63, 2**63 - 1, -(2**63) - 1, POSITION_MAX + 1, POSITION_MIN - 1]
)
def test_rubric_position_out_of_range_is_a_422_naming_it(client: TestClient, position: int) -> None:
    content = f'{{"title": "Rubric", "position": {position}}}'.encode()
    response = client.put("/api/rubrics/r1", content=content, headers=JSON)
    assert fields(problem(response, 422)) == ["position"]
    assert client.get("/api/rubrics/r1").status_code == 404


@pytest.mark.parametrize("position", [POSITION_MIN, POSITION_MAX])
def test_rubric_position_at_the_bounds_is_stored(client: TestClient, position: int) -> None:
    response = client.put("/api/rubrics/r1", json={"title": "Rubric", "position": position})
    assert response.status_code == 201, response.text
    assert client.get("/api/rubrics/r1").json()["position"] == position


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_body_not_in_utf8_is_refused(client: TestClient, encoding: str) -> None:
    content = orjson.dumps(ARTICLE).decode().encode(encoding)
    body = problem(client.put("/api/articles/a1", content=content, headers=JSON), 400)
    assert fields(body) == ["body"]
    assert "UTF-8" in body["errors"][0]["message"]
    assert client.get("/api/articles/a1").status_code == 404


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", '"utf-32"', "iso-8859-1", "cp1251"])
def test_a_body_declared_in_another_charset_is_a_415(client: TestClient, charset: str) -> None:
    headers = {"Content-Type": f"application/json; charset={charset}"}
    body = problem(client.put("/api/articles/a1", json=ARTICLE, headers=headers), 415)
    assert fields(body) == ["Content-Type"]
    ndjson = {"Content-Type": f"application/x-ndjson; charset={charset}"}
    line = orjson.dumps({**ARTICLE, "id": "a1"})
    assert problem(client.post("/api/articles:bulk", content=line, headers=ndjson), 415)


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"', "utf8"])
def test_a_body_declared_in_utf8_is_fine(client: TestClient, charset: str) -> None:
    headers = {"Content-Type": f"application/json; charset={charset}"}
    assert client.put("/api/articles/a1", json=ARTICLE, headers=headers).status_code == 201


def test_a_rubric_body_not_in_utf8_is_refused(client: TestClient) -> None:
    content = '{"title": "Рубрика"}'.encode("utf-16")
    assert fields(problem(client.put("/api/rubrics/r1", content=content, headers=JSON), 400)) == [
        "body"
    ]


def test_a_utf8_byte_order_mark_is_still_accepted(client: TestClient) -> None:
    content = b"\xef\xbb\xbf" + orjson.dumps(ARTICLE)
    assert client.put("/api/articles/a1", content=content, headers=JSON).status_code == 201


def test_lone_surrogate_escapes_are_still_cleaned_not_refused(client: TestClient) -> None:
    content = b'{"title": "A\\ud800B", "published_at": "2025-12-01T10:00:00"}'
    response = client.put("/api/articles/a1", content=content, headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "AB"


# --- ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["%2E", "%2E%2E", ".%2E", "a1%0A", "%0A"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_dot_segments_and_newlines_are_not_article_ids(
    client: TestClient, raw: str, method: str
) -> None:
    """Percent-encoded so that no client folds the dot segments away before they are sent."""
    kwargs: dict[str, Any] = {"json": ARTICLE} if method == "PUT" else {}
    body = problem(client.request(method, f"/api/articles/{raw}", **kwargs), 400)
    assert fields(body) == ["id"]


@pytest.mark.parametrize("article_id", [".", "..", "a1\n"])
def test_dot_segments_and_newlines_are_not_bulk_ids(client: TestClient, article_id: str) -> None:
    line = orjson.dumps({**ARTICLE, "id": article_id})
    body = problem(client.post("/api/articles:bulk", content=line, headers=NDJSON), 422)
    assert fields(body) == ["id"]


@pytest.mark.parametrize("article_id", ["...", ".a", "a.", "a..b", "_", "-"])
def test_other_dotted_ids_are_still_fine(client: TestClient, article_id: str) -> None:
    assert client.put(f"/api/articles/{article_id}", json=ARTICLE).status_code == 201
    assert client.get(f"/api/articles/{article_id}").json()["id"] == article_id


def test_a_rubric_slug_with_a_trailing_newline_is_refused(client: TestClient) -> None:
    body = problem(client.put("/api/rubrics/news%0A", json={"title": "News"}), 422)
    assert fields(body) == ["slug"]
    line = orjson.dumps({**ARTICLE, "id": "a1", "rubrics": ["news\n"]})
    body = problem(client.post("/api/articles:bulk", content=line, headers=NDJSON), 422)
    assert fields(body) == ["rubrics[0]"]


# --- Unicode normalisation -----------------------------------------------------------------------

NAME = "Йошкар-Ола и Щёлково"  # й and ё decompose in NFD
NFC, NFD = unicodedata.normalize("NFC", NAME), unicodedata.normalize("NFD", NAME)


def test_nfc_and_nfd_tag_names_are_one_tag(client: TestClient) -> None:
    assert NFC != NFD
    first = client.put("/api/articles/a1", json={**ARTICLE, "tags": [NFC]})
    second = client.put(
        "/api/articles/a2", json={**ARTICLE, "tags": [{"name": NFD, "kind": "org"}]}
    )
    assert first.json()["tags"] == [
        {"name": NFC, "slug": "yoshkar_ola_i_shchelkovo", "kind": "topic"}
    ]
    assert second.json()["tags"][0]["slug"] == "yoshkar_ola_i_shchelkovo"
    assert second.json()["tags"][0]["name"] == NFC
    feed = client.get("/feeds/tag/yoshkar_ola_i_shchelkovo.json").json()
    assert sorted(item["url"] for item in feed["items"]) == [
        "https://example.ru/news/a1/",
        "https://example.ru/news/a2/",
    ]


def test_nfc_and_nfd_in_one_article_are_one_tag(client: TestClient) -> None:
    response = client.put("/api/articles/a1", json={**ARTICLE, "tags": [NFD, NFC]})
    assert [t["name"] for t in response.json()["tags"]] == [NFC]


def test_text_fields_are_stored_in_nfc(client: TestClient) -> None:
    payload = {
        **ARTICLE,
        "title": NFD,
        "summary": NFD,
        "author": NFD,
        "image": {"url": "https://example.ru/i.jpg", "caption": NFD},
    }
    stored = client.put("/api/articles/a1", json=payload).json()
    assert stored["title"] == stored["summary"] == stored["author"] == NFC
    assert stored["image"]["caption"] == NFC
    rubric = client.put("/api/rubrics/r1", json={"title": NFD, "description": NFD}).json()
    assert rubric["title"] == rubric["description"] == NFC
