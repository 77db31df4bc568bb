"""All options of the mock in one typed place; each is also read from ``EVENTDOUBLE_<NAME>``.

:func:`load_settings` validates the defaults, the environment and the caller's values together
and raises :class:`SettingsInvalid` with one line per bad value, so a mistake stops the mock at
start instead of failing every request later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "SettingsInvalid", "load_settings"]

ENV_PREFIX = "EVENTDOUBLE_"
CLIENT_VARIABLES = ("URL", "LICENSE")
"""``EVENTDOUBLE_*`` variables the README's client examples read; not settings of the mock."""

Names = Annotated[list[str], NoDecode]
"""A list given in the environment as comma-separated text."""


class SettingsInvalid(ValueError):
    """A setting has a value the mock cannot run with; the message names each one."""


class Settings(BaseSettings):
    """Defaults of :func:`mockserver.create_app`; override with a mapping or the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, use_attribute_docstrings=True
    )

    DATABASE: str = "eventdouble.sqlite"
    """SQLite file holding events, licenses and keys (``:memory:`` keeps nothing), or a
    ``postgresql://USER@HOST/DB`` URL: many mock processes, on any hosts, sharing one database."""

    SQLITE_SYNCHRONOUS: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    """``NORMAL`` survives a killed process (WAL); ``FULL`` also survives a power loss."""

    ALLOWED_TIME_SPAN: int = Field(60, ge=1)
    """Seconds a 1Kosmos request id ``ts`` may differ from the server clock."""

    REPLAY_PROTECTION: bool = True
    """Refuse a request id ``uuid`` seen before within its window."""

    REPLAY_MEMORY: float = Field(86400, ge=0)
    """Seconds a request id ``uuid`` is kept after its ``ts`` left the window: a server clock stepped
    back or forward by less than this never lets a replay through."""

    EC_CURVE_NAME: Literal["secp256k1", "prime256v1"] = "secp256k1"
    """The curve of the 1Kosmos service keys and of the callers' keys (``prime256v1`` is P-256; ``P-256``
    and ``secp256r1`` are read as it), advertised by ``/events/environment`` as the vendor's services do.
    Changing it gives the services new key pairs at the next start."""

    QUERY_HISTORY_DAYS: int = Field(90, ge=1)
    """How far back (days) a 1Kosmos query's ``from`` may reach, as in the vendor's reports service;
    widen it for tests with old fixtures."""

    ADMIN_ENABLED: bool = True
    """Serve ``/__admin``."""

    ADMIN_TOKEN: str = ""
    """When set, every admin request needs ``Authorization: Bearer <ADMIN_TOKEN>``. ``eventdouble serve``
    sets one on any non-loopback address unless told ``--admin-open``."""

    ADMIN_HOSTS: Names = ["localhost", "127.0.0.1", "::1"]
    """Host names the admin API answers when it has no token (against DNS rebinding); ``*`` for any."""

    CORS_ORIGINS: Names = []
    """Origins (``https://app.example``, or ``*``) whose pages may call the vendor APIs; off by default."""

    JOURNAL_SIZE: int = Field(1000, ge=0)
    """How many recent requests ``/__admin/journal`` and the inspector keep (in the database, shared by
    all workers)."""

    MAX_CONTENT_LENGTH: int = Field(1024 * 1024, ge=1)
    """Largest request body in bytes; larger bodies get 413."""

    MAX_PAGE_BYTES: int = Field(8 * 1024 * 1024, ge=1024)
    """Most bytes of events in one 10Duke feed page or admin listing (a page holds at least one
    event); the feed's instructions continue exactly after the last event on the page."""

    MAX_EVENTS_PER_PUT: int = Field(1000, ge=1)
    """Most 10Duke events in one ``/put``; more get 413."""

    MAX_HEADER_LENGTH: int = Field(8192, ge=64)
    """Largest request header field (name and value) in bytes; a larger one gets 431."""

    MAX_HEADERS_SIZE: int = Field(32768, ge=64)
    """Largest total of all request header fields in bytes; more gets 431."""

    RATE_LIMIT: int = Field(0, ge=0)
    """Requests a license (1Kosmos) or client key (10Duke) may make per ``RATE_LIMIT_WINDOW``;
    more get 429 with ``Retry-After``. 0: no limit (the default). Shared by all workers."""

    RATE_LIMIT_WINDOW: float = Field(1.0, gt=0)
    """Length in seconds of the windows ``RATE_LIMIT`` counts in."""

    VERSION: str = "0.1.0"
    """Reported in ``/events/healthz`` as ``<VERSION>.<COMMIT>.<BUILD_TIME>``."""

    COMMIT: str = "dev"
    """The commit reported in ``/events/healthz``."""

    CLOCK: Callable[[], float] = Field(default=time.time, exclude=True)
    """Server clock, epoch seconds; tests inject a fixed one. Not read from the environment."""

    @field_validator("SQLITE_SYNCHRONOUS", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("EC_CURVE_NAME", mode="before")
    @classmethod
    def _curve(cls, value: Any) -> Any:
        from eventclient.kosmos_crypto import curve_named

        try:
            return curve_named(value) if isinstance(value, str) else value
        except ValueError:
            return value  # the Literal names the choices

    @field_validator("ADMIN_HOSTS", "CORS_ORIGINS", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    def as_mapping(self) -> dict[str, Any]:
        """The settings as a Flask config mapping."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value) if value else "(none)"
    if value == "":
        return "(none)"
    return str(value)


def settings_table() -> str:
    """The README's table of settings, made from :class:`Settings` so the two cannot drift apart.

    ``eventdouble settings`` prints it.
    """
    rows = ["| setting (`EVENTDOUBLE_<NAME>`) | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.exclude:
            continue
        about = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{name}` | `{_shown(field.default)}` | {about} |")
    return "\n".join(rows) + "\n"


def _describe(error: Any) -> str:
    name = str(error["loc"][0]) if error["loc"] else "?"
    shown = repr(error.get("input"))[:60]
    return f"{name} (or {ENV_PREFIX}{name}) = {shown}: {error['msg']}"


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then ``EVENTDOUBLE_*`` environment variables, then ``overrides``, validated together."""
    try:
        return Settings(**dict(overrides or {}))
    except ValidationError as exc:
        raise SettingsInvalid("; ".join(_describe(e) for e in exc.errors())) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``EVENTDOUBLE_*`` variables that are neither a setting nor one the client examples read."""
    known = set(Settings.model_fields) | set(CLIENT_VARIABLES)
    return sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k[len(ENV_PREFIX) :].upper() not in known)
