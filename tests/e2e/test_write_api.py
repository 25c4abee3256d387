"""Every write-API behaviour of CONTRACT.md against a real hypercorn server, on a SQLite file and
on a PostgreSQL database (the module-scoped `server` follows the `backend` parameter)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import TOKEN, Server, start_server

pytestmark = pytest.mark.backends

ARTICLE: dict[str, Any] = {
    "title": "Визит официальной делегации в Вологду",
    "url": "https://example.ru/novosti/novosti_organov_vlasti/vizit/",
    "summary": "Лид новости",
    "content_html": '<p>Текст <a href="/docs/1">документа</a></p><script>alert(1)</script>',
    "published_at": "2025-12-10T18:08:00+03:00",
    "updated_at": "2025-12-11T09:00:00+03:00",
    "author": "Пресс-служба",
    "rubrics": ["novosti_organov_vlasti", "glavnoe"],
    "tags": ["Общество", {"name": "Александр Михайлович Мордвинов", "kind": "person"}],
    "image": {"url": "https://example.ru/i/1.jpg", "type": "image/jpeg", "length": 123456,
              "caption": "Фото"},
    "status": "published",
}  # fmt: skip


def with_(**changes: Any) -> dict[str, Any]:
    data = dict(ARTICLE)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def assert_problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert field in [e.get("field") for e in body.get("errors", [])], body
    return body


def test_create_replace_get_delete(client: httpx.Client) -> None:
    created = client.put("/api/articles/crud-1", json=ARTICLE)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/articles/crud-1"
    body = created.json()
    assert body["id"] == "crud-1"
    assert body["published_at"] == "2025-12-10T18:08:00+03:00"
    assert body["rubrics"] == ["novosti_organov_vlasti", "glavnoe"]
    assert body["tags"] == [
        {"name": "Общество", "slug": "obshchestvo", "kind": "topic"},
        {"name": "Александр Михайлович Мордвинов", "slug": "aleksandr_mikhaylovich_mordvinov",
         "kind": "person"},
    ]  # fmt: skip
    # Sanitised and absolutised at ingest.
    assert "<script" not in body["content_html"]
    assert 'href="https://example.ru/docs/1"' in body["content_html"]

    assert client.get("/api/articles/crud-1").json() == body

    replaced = client.put("/api/articles/crud-1", json=with_(title="Новый заголовок"))
    assert replaced.status_code == 200
    assert replaced.json()["title"] == "Новый заголовок"
    again = client.put("/api/articles/crud-1", json=with_(title="Новый заголовок"))
    assert again.status_code == 200  # idempotent
    assert {k: v for k, v in again.json().items() if k != "modified_at"} == {
        k: v for k, v in replaced.json().items() if k != "modified_at"
    }

    assert client.delete("/api/articles/crud-1").status_code == 204
    assert client.get("/api/articles/crud-1").status_code == 404
    gone = client.delete("/api/articles/crud-1")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


def test_defaults_naive_dates_and_derived_fields(client: httpx.Client) -> None:
    response = client.put(
        "/api/articles/min.1",
        json={"title": "  Коротко  ", "published_at": "2025-12-10T18:08:00",
              "content_html": "<p>Первый абзац.</p><p>Второй абзац.</p>"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Коротко"
    assert body["published_at"] == "2025-12-10T18:08:00+03:00"  # naive = Europe/Moscow
    assert body["url"] == "https://example.ru/news/min.1/"
    assert body["summary"] == "Первый абзац. Второй абзац."
    assert body["status"] == "published"
    assert body["rubrics"] == []
    assert body["tags"] == []
    assert body["image"] is None


def test_utc_input_is_presented_in_site_zone(client: httpx.Client) -> None:
    body = client.put("/api/articles/utc", json=with_(published_at="2025-12-10T15:08:00Z",
                                                      updated_at=...)).json()  # fmt: skip
    assert body["published_at"] == "2025-12-10T18:08:00+03:00"


LONG = "я" * 501
BAD_INPUTS: list[tuple[str, str, dict[str, Any] | bytes, int, str]] = [
    # (case, article id, body, status, field)
    ("missing title", "bad1", with_(title=...), 422, "title"),
    ("empty title", "bad1", with_(title=""), 422, "title"),
    ("blank title", "bad1", with_(title=" \t\n"), 422, "title"),
    ("over-long title", "bad1", with_(title=LONG), 422, "title"),
    ("title not a string", "bad1", with_(title=42), 422, "title"),
    ("unparseable date", "bad1", with_(published_at="10.12.2025 18:08"), 422, "published_at"),
    ("missing date", "bad1", with_(published_at=...), 422, "published_at"),
    ("date not a string", "bad1", with_(published_at=1733843280), 422, "published_at"),
    ("updated before published", "bad1",
     with_(updated_at="2025-12-09T09:00:00+03:00"), 422, "updated_at"),
    ("unknown status", "bad1", with_(status="archived"), 422, "status"),
    ("relative url", "bad1", with_(url="/novosti/1/"), 422, "url"),
    ("javascript url", "bad1", with_(url="javascript:alert(1)"), 422, "url"),
    ("bad rubric slug", "bad1", with_(rubrics=["Главное"]), 422, "rubrics[0]"),
    ("rubrics not a list", "bad1", with_(rubrics="glavnoe"), 422, "rubrics"),
    ("bad tag kind", "bad1", with_(tags=["a", {"name": "b", "kind": "place"}]), 422, "tags[1].kind"),
    ("empty tag name", "bad1", with_(tags=[""]), 422, "tags[0].name"),
    ("image without url", "bad1", with_(image={"type": "image/jpeg"}), 422, "image.url"),
    ("image negative length", "bad1",
     with_(image={"url": "https://e.ru/i.jpg", "length": -1}), 422, "image.length"),
    ("image wrong type", "bad1",
     with_(image={"url": "https://e.ru/i.jpg", "type": "text/html"}), 422, "image.type"),
    ("content not a string", "bad1", with_(content_html=["<p>"]), 422, "content_html"),
    ("id differs from URL", "bad1", with_(id="other"), 422, "id"),
    ("not an object", "bad1", b"[1, 2, 3]", 422, "body"),
    ("malformed JSON", "bad1", b'{"title": "x",', 400, "body"),
    ("not UTF-8", "bad1", b'{"title": "\xff\xfe"}', 400, "body"),
    ("bad id characters", "bad%20id!", ARTICLE, 400, "id"),
    ("cyrillic id", "статья", ARTICLE, 400, "id"),
    ("id too long", "a" * 65, ARTICLE, 400, "id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("article_id", "body", "status", "field"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input(
    client: httpx.Client, article_id: str, body: dict[str, Any] | bytes, status: int, field: str
) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    response = client.put(
        f"/api/articles/{article_id}",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, status, field)
    assert client.get("/api/articles/bad1").status_code == 404


def test_every_error_is_reported_at_once(client: httpx.Client) -> None:
    body = assert_problem(
        client.put("/api/articles/many", json={"title": "", "published_at": "x", "status": "?"}),
        422,
        "title",
    )
    assert {e["field"] for e in body["errors"]} == {"title", "published_at", "status"}


def test_wrong_content_type(client: httpx.Client) -> None:
    response = client.put(
        "/api/articles/ct", content=orjson.dumps(ARTICLE), headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "Content-Type")
    assert_problem(client.put("/api/articles/ct", data={"title": "x"}), 415, "Content-Type")


def test_body_over_the_limit_by_declared_length(client: httpx.Client) -> None:
    big = with_(content_html="<p>" + "я" * (1024 * 1024) + "</p>")  # > 2 MiB as UTF-8
    assert_problem(client.put("/api/articles/big", json=big), 413, "body")
    assert client.get("/api/articles/big").status_code == 404


def test_body_over_the_limit_while_streaming(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        yield b'{"title": "x", "content_html": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    response = client.put(
        "/api/articles/big2", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "body")


def test_just_under_the_limit_is_accepted(client: httpx.Client) -> None:
    payload = with_(content_html="")
    filler = 2 * 1024 * 1024 - len(orjson.dumps(payload)) - 100
    payload["content_html"] = "<p>" + "a" * filler + "</p>"
    assert client.put("/api/articles/edge", json=payload).status_code == 201


def test_missing_and_wrong_token(server: Server) -> None:
    with server.client(token=None) as anonymous:
        response = anonymous.put("/api/articles/auth", json=ARTICLE)
        assert_problem(response, 401, "Authorization")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_problem(anonymous.delete("/api/articles/auth"), 401, "Authorization")
        assert_problem(
            anonymous.post("/api/articles:bulk", content=b"{}",
                           headers={"Content-Type": "application/x-ndjson"}),
            401, "Authorization",
        )  # fmt: skip
        basic = anonymous.put(
            "/api/articles/auth", json=ARTICLE, headers={"Authorization": f"Basic {TOKEN}"}
        )
        assert_problem(basic, 401, "Authorization")
        # Reads need no token.
        assert anonymous.get("/api/openapi.json").status_code == 200
    with server.client(token=TOKEN + "x") as wrong:
        assert_problem(wrong.put("/api/articles/auth", json=ARTICLE), 401, "Authorization")
    with server.client(token=TOKEN[:-1]) as short:
        assert_problem(short.put("/api/articles/auth", json=ARTICLE), 401, "Authorization")


def test_writes_disabled_without_a_configured_token(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"SYNDICATION_API_TOKEN": ""})
    try:
        with server.client() as c:
            assert_problem(c.put("/api/articles/x", json=ARTICLE), 403, "Authorization")
            assert_problem(c.delete("/api/articles/x"), 403, "Authorization")
            assert_problem(c.put("/api/rubrics/glavnoe", json={"title": "Главное"}), 403,
                           "Authorization")  # fmt: skip
            assert c.get("/api/articles/x").status_code == 404
    finally:
        server.stop()


def ndjson(*lines: dict[str, Any] | bytes) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)


BULK_HEADERS = {"Content-Type": "application/x-ndjson"}


def test_bulk_creates_and_replaces(client: httpx.Client) -> None:
    body = ndjson(with_(id="bulk-1"), with_(id="bulk-2"), b"", with_(id="bulk-3"))
    response = client.post("/api/articles:bulk", content=body + b"\n", headers=BULK_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "replaced": 0, "rejected_lines": []}
    response = client.post(
        "/api/articles:bulk",
        content=ndjson(with_(id="bulk-3", title="Заменено"), with_(id="bulk-4")),
        headers=BULK_HEADERS,
    )
    assert response.json() == {"created": 1, "replaced": 1, "rejected_lines": []}
    assert client.get("/api/articles/bulk-3").json()["title"] == "Заменено"


def test_bulk_with_one_bad_line_stores_nothing(client: httpx.Client) -> None:
    body = ndjson(with_(id="atomic-1"), with_(id="atomic-2", published_at="вчера"),
                  with_(id="atomic-3"), b"{not json", with_(id="atomic-4"))  # fmt: skip
    response = client.post("/api/articles:bulk", content=body, headers=BULK_HEADERS)
    problem = assert_problem(response, 422, "published_at")
    assert problem["rejected_lines"] == [2, 4]
    assert {(e["line"], e["field"]) for e in problem["errors"]} == {
        (2, "published_at"),
        (4, "body"),
    }
    for n in (1, 3, 4):
        assert client.get(f"/api/articles/atomic-{n}").status_code == 404


def test_bulk_line_without_id(client: httpx.Client) -> None:
    response = client.post("/api/articles:bulk", content=ndjson(ARTICLE), headers=BULK_HEADERS)
    assert assert_problem(response, 422, "id")["rejected_lines"] == [1]


def test_bulk_bad_content_type_and_empty_body(client: httpx.Client) -> None:
    assert_problem(
        client.post("/api/articles:bulk", content=ndjson(with_(id="x")),
                    headers={"Content-Type": "text/csv"}),
        415, "Content-Type",
    )  # fmt: skip
    assert_problem(
        client.post("/api/articles:bulk", content=b"\n\n", headers=BULK_HEADERS), 422, "body"
    )


def test_bulk_over_the_limit(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"SYNDICATION_MAX_BULK_BYTES": "100000"})
    try:
        with server.client() as c:
            lines = [with_(id=f"big-{i}") for i in range(200)]
            assert_problem(
                c.post("/api/articles:bulk", content=ndjson(*lines), headers=BULK_HEADERS),
                413, "body",
            )  # fmt: skip
            assert c.get("/api/articles/big-0").status_code == 404
    finally:
        server.stop()


def test_rubrics(client: httpx.Client) -> None:
    created = client.put("/api/rubrics/sport", json={"title": "Спорт", "position": 1})
    assert created.status_code == 201, created.text
    replaced = client.put(
        "/api/rubrics/sport",
        json={"title": "Спорт", "description": "Самое важное", "position": 0},
    )
    assert replaced.status_code == 200
    child = client.put("/api/rubrics/futbol", json={"title": "Футбол", "parent": "sport"})
    assert child.json()["parent"] == "sport"
    assert client.get("/api/rubrics/sport").json()["description"] == "Самое важное"
    assert_problem(client.put("/api/rubrics/sport", json={"title": ""}), 422, "title")
    assert_problem(client.put("/api/rubrics/Спорт", json={"title": "x"}), 422, "slug")
    assert_problem(client.put("/api/rubrics/x", json={"title": "x", "parent": "x"}), 422, "parent")
    assert client.get("/api/rubrics/nope").status_code == 404


def test_unknown_rubric_in_article_is_created(client: httpx.Client) -> None:
    client.put("/api/articles/rub", json=with_(rubrics=["novaya_rubrika"]))
    assert client.get("/api/rubrics/novaya_rubrika").json()["title"] == "novaya_rubrika"


def test_openapi_document(client: httpx.Client) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/articles/{article_id}",
        "/api/articles:bulk",
        "/api/rubrics/{slug}",
    }
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_unknown_api_route_and_method(client: httpx.Client) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert client.post("/api/articles/x", json=ARTICLE).status_code == 405


def test_large_bulk_goes_through_worker_processes(client: httpx.Client) -> None:
    """Past PARALLEL_FROM_LINES the lines are validated in a process pool while the store writes:
    still one transaction, and one bad line at the very end still stores nothing."""
    from syndication.api import PARALLEL_FROM_LINES

    count = PARALLEL_FROM_LINES + 500
    good = [with_(id=f"big-bulk-{i}", content_html=f"<p>Текст {i}</p>") for i in range(count)]
    bad = ndjson(*good, with_(id="big-bulk-bad", title=""))
    problem = assert_problem(client.post("/api/articles:bulk", content=bad, headers=BULK_HEADERS),
                             422, "title")  # fmt: skip
    assert problem["rejected_lines"] == [count + 1]
    assert client.get("/api/articles/big-bulk-0").status_code == 404
    ok = client.post("/api/articles:bulk", content=ndjson(*good), headers=BULK_HEADERS)
    assert ok.json() == {"created": count, "replaced": 0, "rejected_lines": []}
    assert client.get(f"/api/articles/big-bulk-{count - 1}").json()["content_html"] == (
        f"<p>Текст {count - 1}</p>"
    )
