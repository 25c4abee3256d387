"""Settings from the environment and an optional TOML file, validated once at start."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndication.weburl import normalise_url

PREFIX = "SYNDICATION_"
_INDEXNOW_KEY = re.compile(r"[a-zA-Z0-9-]{8,128}")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# The bundled icon and logo (feeds/brand.py), used when no other is configured.
ICON_PATH = "/favicon.ico"
LOGO_PATH = "/logo.png"


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = "./data/syndication.db"
    public_url: str = DEFAULT_PUBLIC_URL
    site_url: str = ""  # empty = same as public_url
    site_title: str = "Новости региона"
    site_description: str = "Новости региона: органы власти, территории, события"
    site_language: str = "ru"
    # The site's icon (square, small) and logo (square, 180 px or more: Yandex's minimum), shown
    # by readers beside the feed; empty: the bundled ones the service serves itself.
    site_icon: str = ""
    site_logo: str = ""
    timezone: str = "Europe/Moscow"
    api_token: str | None = None
    feed_limit: int = 50
    feed_max_limit: int = 500
    # How long an Atom feed lists a deleted or unpublished article as an RFC 6721 deleted
    # entry, so that aggregators drop their copy; 0: never.
    retraction_days: int = 7
    max_article_bytes: int = 2 * 1024 * 1024
    max_bulk_bytes: int = 64 * 1024 * 1024
    sitemap_max_urls: int = 50_000
    sitemap_max_bytes: int = 50 * 1024 * 1024
    # Per worker process: every cached body with its compressed forms and prepared headers,
    # cached 404s and per-URL validators count against it (least recently used out first).
    cache_max_bytes: int = 256 * 1024 * 1024
    websub_hub: str | None = None
    indexnow_endpoint: str | None = None
    indexnow_key: str | None = None
    # Push delivery (syndication/notify): a burst of writes within the debounce window goes out
    # as one batch; failures retry with exponential backoff (base doubling up to the cap, with
    # jitter) until max attempts, then the batch is dropped and logged.
    notify_debounce_seconds: float = 2.0
    notify_timeout: float = 10.0
    notify_max_attempts: int = 10
    notify_backoff_seconds: float = 1.0
    notify_backoff_max_seconds: float = 600.0
    # Slow clients (README, "Slow clients"): a connection must deliver a complete request head
    # within `idle_timeout` seconds of opening or of its previous response (hypercorn's
    # keep-alive timer, which runs until the head is complete); a request body must arrive in
    # full within `body_timeout` seconds of its head, or the request is answered 408.
    idle_timeout: float = 10.0
    body_timeout: float = 60.0
    # A worker whose event loop has not turned for this many seconds is ended and replaced
    # (syndication/watchdog.py); 0 = never.
    stall_seconds: float = 30.0
    # Who may read /metrics: a bearer of this token; when unset, of the API token; with neither,
    # nobody (403).
    metrics_token: str | None = None
    # The static mirror's directory (syndication/mirror.py): unset = no mirror.
    mirror: str | None = None

    @property
    def site(self) -> str:
        return self.site_url or self.public_url

    @property
    def icon_url(self) -> str:
        return self.site_icon or f"{self.public_url}{ICON_PATH}"

    @property
    def logo_url(self) -> str:
        return self.site_logo or f"{self.public_url}{LOGO_PATH}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def writes_enabled(self) -> bool:
        return bool(self.api_token)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < TOML file (`SYNDICATION_CONFIG`) < environment < keyword overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = env.get(PREFIX + "CONFIG")
        if config_file:
            values.update(_read_toml(Path(config_file)))
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = raw
        values.update(overrides)
        return cls()._with(values)

    def _with(self, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in fields(self)}
        converted: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r}")
            default = getattr(self, key)
            converted[key] = _convert(key, value, default)
            if key in ("public_url", "site_url") and converted[key]:
                # The bases of every URL we build: as the ingest normalises URLs (an IDN host
                # in IDNA, so that default article URLs match the site's host for IndexNow).
                # Trailing slashes would double up when URLs are joined.
                try:
                    converted[key] = normalise_url(converted[key]).rstrip("/")
                except ValueError as exc:
                    raise ConfigError(f"{PREFIX}{key.upper()}: {exc}") from exc
        settings = replace(self, **converted)
        settings._validate()
        return settings

    def _validate(self) -> None:
        for name in (
            "public_url",
            "site_url",
            "websub_hub",
            "indexnow_endpoint",
            "site_icon",
            "site_logo",
        ):
            value = getattr(self, name)
            if value:
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    raise ConfigError(
                        f"{PREFIX}{name.upper()} must be an absolute http(s) URL, got {value!r}"
                    )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{PREFIX}TIMEZONE: unknown time zone {self.timezone!r}") from exc
        if not 0 <= self.retraction_days <= 3660:
            raise ConfigError(f"{PREFIX}RETRACTION_DAYS must be between 0 and 3660")
        if not 1 <= self.feed_limit <= self.feed_max_limit:
            raise ConfigError(f"{PREFIX}FEED_LIMIT must be between 1 and {self.feed_max_limit}")
        if bool(self.indexnow_endpoint) != bool(self.indexnow_key):
            raise ConfigError(f"{PREFIX}INDEXNOW_ENDPOINT and {PREFIX}INDEXNOW_KEY go together")
        # IndexNow's rule for keys; it also keeps the key file's URL path plain.
        if self.indexnow_key and not _INDEXNOW_KEY.fullmatch(self.indexnow_key):
            raise ConfigError(f"{PREFIX}INDEXNOW_KEY must be 8-128 of [a-zA-Z0-9-]")
        if self.stall_seconds < 0:
            raise ConfigError(f"{PREFIX}STALL_SECONDS must not be negative (0 = no watchdog)")
        if self.cache_max_bytes < 1024 * 1024:
            raise ConfigError(f"{PREFIX}CACHE_MAX_BYTES must be at least 1048576 (1 MiB)")
        for name in ("notify_debounce_seconds", "notify_backoff_seconds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must not be negative")
        for name in ("notify_timeout", "notify_max_attempts", "notify_backoff_max_seconds",
                     "idle_timeout", "body_timeout"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must be positive")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.lower().removeprefix(PREFIX.lower())
        out[name] = value
    return out


def _convert(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{PREFIX}{key.upper()} must be a number, got {value!r}") from exc
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{PREFIX}{key.upper()} must be an integer, got {value!r}") from exc
    if value is None or value == "":
        return None if default is None else ""
    return str(value)


# Settings that change no document's bytes: where the store is, secrets, limits of one process
# and how pushes are delivered.
_NOT_RENDERED = frozenset(
    {"db", "api_token", "indexnow_key", "cache_max_bytes", "idle_timeout", "body_timeout",
     "metrics_token", "mirror", "stall_seconds"}
)  # fmt: skip


def _release() -> str:
    try:
        return version("syndication")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0"


# The service's version: feeds name it as their generator, and it shapes every document.
RELEASE = _release()


def settings_digest(settings: Settings) -> str:
    """A digest of everything that shapes the documents' bytes: the settings they show and the
    service's version. When it changes, every document's Last-Modified moves to that moment."""
    shown = {
        f.name: getattr(settings, f.name)
        for f in fields(settings)
        if f.name not in _NOT_RENDERED and not f.name.startswith("notify_")
    }
    text = repr(sorted(shown.items())) + RELEASE
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
