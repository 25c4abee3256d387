"""The OpenAPI 3.1 description of the write API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from syndication import __version__
from syndication.config import Settings
from syndication.ingest import NAME_MAX, TITLE_MAX

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


_ERRORS = {
    "400": _problem("Malformed JSON or a bad id in the URL"),
    "401": _problem("Missing or wrong bearer token"),
    "403": _problem("Writes are disabled (no token configured)"),
    "413": _problem("Body too large"),
    "415": _problem("Wrong Content-Type"),
    "422": _problem("Invalid fields; `errors` names each"),
}

_DATETIME = {
    "type": "string",
    "description": "ISO 8601; without an offset it is in the site's time zone",
    "examples": ["2025-12-10T18:08:00+03:00"],
}


def openapi_document(settings: Settings) -> dict[str, Any]:
    article_in: dict[str, Any] = {
        "type": "object",
        "required": ["title", "published_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$",
                   "description": "required in bulk lines; must match the URL in PUT"},
            "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
            "url": {"type": "string", "format": "uri",
                    "description": "absolute; built from the site URL when absent"},
            "summary": {"type": "string", "description": "derived from content when absent"},
            "content_html": {"type": "string", "description": "sanitised, links made absolute"},
            "published_at": _DATETIME,
            "updated_at": {**_DATETIME, "description": "must not be before published_at"},
            "author": {"type": "string", "maxLength": NAME_MAX},
            "rubrics": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"},
                        "description": "rubric slugs, primary first; unknown slugs are created"},
            "tags": {"type": "array", "items": {"oneOf": [
                {"type": "string"},
                {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": NAME_MAX},
                    "kind": {"enum": ["topic", "person", "org"]}}},
            ]}},
            "image": {"type": "object", "required": ["url"], "properties": {
                "url": {"type": "string", "format": "uri"},
                "type": {"type": "string", "examples": ["image/jpeg"]},
                "length": {"type": "integer", "minimum": 0},
                "caption": {"type": "string"}}},
            "status": {"enum": ["published", "draft"], "default": "published"},
        },
    }  # fmt: skip
    article_out = {
        "type": "object",
        "properties": {
            **article_in["properties"],
            "tags": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "slug": {"type": "string"},
                "kind": {"enum": ["topic", "person", "org"]}}}},
            "modified_at": _DATETIME,
        },
    }  # fmt: skip
    id_param = {
        "name": "article_id", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
    }  # fmt: skip
    article_response = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Article"}}}
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
                                  "404": _problem("Unknown article"), **_ERRORS},
                },
            },
            "/api/articles:bulk": {
                "post": {
                    "summary": "Create or replace many articles, all or nothing",
                    "requestBody": {"required": True, "content": {"application/x-ndjson": {
                        "schema": {"type": "string",
                                   "description": "one ArticleIn (with id) per line"}}}},
                    "responses": {
                        "200": {"description": "Stored", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {
                                "created": {"type": "integer"}, "replaced": {"type": "integer"},
                                "rejected_lines": {"type": "array", "items": {"type": "integer"}}}}}}},
                        **_ERRORS,
                    },
                },
            },
            "/api/rubrics/{slug}": {
                "parameters": [{"name": "slug", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "get": {"summary": "A rubric", "security": [],
                        "responses": {"200": {"description": "The rubric"},
                                      "404": _problem("Unknown rubric")}},
                "put": {
                    "summary": "Create or replace a rubric",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["title"], "properties": {
                            "title": {"type": "string"}, "description": {"type": "string"},
                            "url": {"type": "string", "format": "uri"},
                            "parent": {"type": "string"}, "position": {"type": "integer"}}}}}},
                    "responses": {"200": {"description": "Replaced"}, "201": {"description": "Created"},
                                  **_ERRORS},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ArticleIn": article_in,
                "Article": article_out,
                "Problem": {"type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "message": {"type": "string"},
                        "line": {"type": "integer"}}}}}},
            },
        },
    }  # fmt: skip
