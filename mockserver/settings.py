"""All options of the mock in one typed place; each is also read from ``EVENTDOUBLE_<NAME>``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Settings"]


@dataclass
class Settings:
    """Defaults of :func:`mockserver.create_app`; override with a mapping or the environment."""

    DATABASE: str = "eventdouble.sqlite"
    """SQLite file holding events, licenses and keys; ``:memory:`` keeps nothing."""

    SQLITE_SYNCHRONOUS: str = "NORMAL"
    """``NORMAL`` survives a killed process (WAL); ``FULL`` also survives a power loss."""

    ALLOWED_TIME_SPAN: int = 60
    """Seconds a 1Kosmos request id ``ts`` may differ from the server clock."""

    REPLAY_PROTECTION: bool = True
    """Refuse a request id ``uuid`` seen before within its window."""

    REPLAY_MEMORY: float = 86400
    """Seconds a request id ``uuid`` is kept after its ``ts`` left the window: a server clock stepped
    back or forward by less than this never lets a replay through."""

    QUERY_HISTORY_DAYS: int = 90
    """How far back (days) a 1Kosmos query's ``from`` may reach, as in the vendor's reports service;
    widen it for tests with old fixtures."""

    ADMIN_ENABLED: bool = True
    """Serve ``/__admin``."""

    JOURNAL_SIZE: int = 1000
    """How many recent requests ``/__admin/journal`` keeps (in memory)."""

    MAX_CONTENT_LENGTH: int = 1024 * 1024
    """Largest request body in bytes; larger bodies get 413."""

    MAX_EVENTS_PER_PUT: int = 1000
    """Most 10Duke events in one ``/put``; more get 413."""

    MAX_HEADER_LENGTH: int = 8192
    """Largest request header field (name and value) in bytes; a larger one gets 431."""

    MAX_HEADERS_SIZE: int = 32768
    """Largest total of all request header fields in bytes; more gets 431."""

    RATE_LIMIT: int = 0
    """Requests a license (1Kosmos) or client key (10Duke) may make per ``RATE_LIMIT_WINDOW``;
    more get 429 with ``Retry-After``. 0: no limit (the default). Shared by all workers."""

    RATE_LIMIT_WINDOW: float = 1.0
    """Length in seconds of the windows ``RATE_LIMIT`` counts in."""

    VERSION: str = "0.1.0"
    """Reported in ``/events/healthz`` as ``<VERSION>.<COMMIT>.<BUILD_TIME>``."""

    CLOCK: Callable[[], float] = field(default=time.time)
    """Server clock, epoch seconds; tests inject a fixed one."""

    def as_mapping(self) -> dict[str, Any]:
        """The settings as a Flask config mapping."""
        return asdict(self)
