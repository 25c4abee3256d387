"""The OpenAPI 3.1 description of the write API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from syndication import __version__
from syndication.config import Settings
from syndication.ingest import (
    IMAGE_LENGTH_MAX,
    MAX_RUBRICS,
    MAX_TAGS,
    NAME_MAX,
    POSITION_MAX,
    POSITION_MIN,
    SUMMARY_MAX_INPUT,
    TITLE_MAX,
)
from syndication.model import Status, TagKind

_PROBLEM = {"$ref": "#/components/schemas/Problem"}

# Optional fields take `null` as "absent", and the stored article answers `null` for what it has
# not got: both are declared, so the document and the API agree (a fuzzer checks it).
_ID_PATTERN = "^[A-Za-z0-9_.-]{1,64}$"
_ID = {"type": "string", "pattern": _ID_PATTERN, "not": {"enum": [".", ".."]}}
_SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


_AUTH_ERRORS = {
    "401": _problem("Missing or wrong bearer token"),
    "403": _problem("Writes are disabled (no token configured)"),
}
_ERRORS = {
    "400": _problem(
        "Unreadable body (not JSON, not UTF-8, nested too deeply) or a bad id in the URL"
    ),
    **_AUTH_ERRORS,
    "413": _problem("Body too large"),
    "415": _problem("Wrong Content-Type"),
    "422": _problem("Invalid fields; `errors` names each"),
}

_DATETIME = {
    "type": "string",
    "description": "ISO 8601; without an offset it is in the site's time zone",
    "examples": ["2025-12-10T18:08:00+03:00"],
}
_KIND = {"enum": [k.value for k in TagKind]}


def openapi_document(settings: Settings) -> dict[str, Any]:
    image_in = {
        "type": "object", "required": ["url"],
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "type": {"type": ["string", "null"], "pattern": "^image/[A-Za-z0-9.+-]+$",
                     "examples": ["image/jpeg"]},
            "length": {"type": ["integer", "null"], "minimum": 0, "maximum": IMAGE_LENGTH_MAX,
                       "description": "bytes"},
            "caption": {"type": ["string", "null"], "maxLength": 1000},
        },
    }  # fmt: skip
    article_in: dict[str, Any] = {
        "type": "object",
        "required": ["title", "published_at"],
        "properties": {
            "id": {**_ID, "description": "required in bulk lines; must match the URL in PUT"},
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
            "url": {"type": ["string", "null"], "format": "uri",
                    "description": "absolute; built from the site URL when absent"},
            "summary": {"type": ["string", "null"], "maxLength": SUMMARY_MAX_INPUT,
                        "description": "derived from content when absent"},
            "content_html": {"type": ["string", "null"],
                             "description": "sanitised, links made absolute"},
            "published_at": _DATETIME,
            "updated_at": {**_nullable(_DATETIME), "description": "must not be before published_at"},
            "author": {"type": ["string", "null"], "maxLength": NAME_MAX},
            "rubrics": {"type": ["array", "null"], "maxItems": MAX_RUBRICS, "items": _SLUG,
                        "description": "rubric slugs, primary first; unknown slugs are created"},
            "tags": {"type": ["array", "null"], "maxItems": MAX_TAGS, "items": {"oneOf": [
                {"type": "string", "maxLength": NAME_MAX},
                {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": NAME_MAX}, "kind": _KIND}},
            ]}, "description": "names; the same name in any Unicode normal form is one tag"},
            "image": {"oneOf": [
                {"type": "string", "format": "uri", "description": "short for {\"url\": ...}"},
                image_in,
                {"type": "null"},
            ]},
            "status": {"enum": [s.value for s in Status], "default": Status.PUBLISHED.value},
        },
    }  # fmt: skip
    bulk_line = {**article_in, "required": ["id", *article_in["required"]]}
    article_out = {
        "type": "object",
        "required": ["id", "title", "url", "summary", "content_html", "published_at",
                     "updated_at", "author", "rubrics", "tags", "image", "status", "modified_at"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "summary": {"type": ["string", "null"]},
            "content_html": {"type": ["string", "null"]},
            "published_at": _DATETIME,
            "updated_at": _nullable(_DATETIME),
            "author": {"type": ["string", "null"]},
            "rubrics": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {
                "type": "object", "required": ["name", "slug", "kind"], "properties": {
                    "name": {"type": "string"}, "slug": {"type": "string"}, "kind": _KIND}}},
            "image": {"type": ["object", "null"], "required": ["url", "type", "length", "caption"],
                      "properties": {
                          "url": {"type": "string"},
                          "type": {"type": ["string", "null"]},
                          "length": {"type": ["integer", "null"]},
                          "caption": {"type": ["string", "null"]}}},
            "status": {"enum": [s.value for s in Status]},
            "modified_at": _DATETIME,
        },
    }  # fmt: skip
    rubric_in = {
        "type": "object", "required": ["title"], "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
            "description": {"type": ["string", "null"], "maxLength": SUMMARY_MAX_INPUT},
            "url": {"type": ["string", "null"], "format": "uri"},
            "parent": {**_nullable(_SLUG), "description": "a rubric slug, not the rubric itself"},
            "position": {"type": "integer", "minimum": POSITION_MIN, "maximum": POSITION_MAX,
                         "default": 0}},
    }  # fmt: skip
    rubric_out = {
        "type": "object",
        "required": ["slug", "title", "description", "url", "parent", "position"],
        "properties": {
            "slug": {"type": "string"}, "title": {"type": "string"},
            "description": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]},
            "parent": {"type": ["string", "null"]}, "position": {"type": "integer"}},
    }  # fmt: skip
    id_param = {"name": "article_id", "in": "path", "required": True, "schema": _ID}
    article_response = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Article"}}}
    }
    rubric_response = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rubric"}}}
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.site_title}: syndication write API",
            "version": __version__,
            "description": "The CMS pushes articles and rubrics here; feeds and sitemaps follow.",
        },
        "servers": [{"url": settings.public_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/articles/{article_id}": {
                "parameters": [id_param],
                "get": {
                    "summary": "The stored article",
                    "security": [],
                    "responses": {"200": {"description": "The article", **article_response},
                                  "400": _problem("A bad id in the URL"),
                                  "404": _problem("Unknown article")},
                },
                "put": {
                    "summary": "Create or replace an article (idempotent)",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ArticleIn"}}}},
                    "responses": {"200": {"description": "Replaced", **article_response},
                                  "201": {"description": "Created", **article_response},
                                  **_ERRORS},
                },
                "delete": {
                    "summary": "Remove an article from every feed and sitemap",
                    "responses": {"204": {"description": "Deleted"},
                                  "400": _problem("A bad id in the URL"),
                                  "404": _problem("Unknown article"), **_AUTH_ERRORS},
                },
            },
            "/api/articles:bulk": {
                "post": {
                    "summary": "Create or replace many articles, all or nothing",
                    "description": "NDJSON: each item of the array is one line of the body, an "
                                   "ArticleIn with its `id`. One bad line stores nothing; the "
                                   "422 names every bad line (`rejected_lines`, `errors[].line`).",
                    "requestBody": {"required": True, "content": {"application/x-ndjson": {
                        "schema": {"type": "array", "minItems": 1,
                                   "items": {"$ref": "#/components/schemas/BulkLine"}}}}},
                    "responses": {
                        "200": {"description": "Stored", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["created", "replaced", "rejected_lines"],
                            "properties": {
                                "created": {"type": "integer"}, "replaced": {"type": "integer"},
                                "rejected_lines": {"type": "array", "items": {"type": "integer"}}}}}}},
                        **_ERRORS,
                    },
                },
            },
            "/api/rubrics/{slug}": {
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _SLUG}],
                "get": {"summary": "A rubric", "security": [],
                        "responses": {"200": {"description": "The rubric", **rubric_response},
                                      "404": _problem("Unknown rubric")}},
                "put": {
                    "summary": "Create or replace a rubric",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/RubricIn"}}}},
                    "responses": {"200": {"description": "Replaced", **rubric_response},
                                  "201": {"description": "Created", **rubric_response},
                                  **_ERRORS},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ArticleIn": article_in,
                "BulkLine": bulk_line,
                "Article": article_out,
                "RubricIn": rubric_in,
                "Rubric": rubric_out,
                "Problem": {"type": "object", "required": ["type", "title", "status", "detail"],
                            "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"},
                    "instance": {"type": "string"},
                    "errors": {"type": "array", "items": {
                        "type": "object", "required": ["message"], "properties": {
                            "field": {"type": "string"}, "message": {"type": "string"},
                            "line": {"type": "integer"}}}},
                    "rejected_lines": {"type": "array", "items": {"type": "integer"}},
                    "created": {"type": "integer"}, "replaced": {"type": "integer"}}},
            },
        },
    }  # fmt: skip
