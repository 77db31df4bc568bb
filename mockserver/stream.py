"""Accepted events of both APIs, in the order they were committed, for listeners that follow them.

Every worker reads the one database, so a listener connected to any worker sees every worker's
events: a position is the newest 1Kosmos row id and 10Duke ``eventReceived`` seen, both only
ever growing. Used by ``GET /__admin/stream`` (server-sent events), the webhooks and
``MockServer.wait_for_event``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockserver.waits import pause

if TYPE_CHECKING:
    from mockserver.backend import Backend

__all__ = ["POLL_SECONDS", "EventFilter", "Position", "StreamedEvent", "follow", "head", "read_after", "sse_stream"]

POLL_SECONDS = 0.1
"""How often a listener looks for new events: one small read per API."""
KEEPALIVE_SECONDS = 10.0
"""A comment line is sent after this long without events, so proxies keep the stream and a listener
that left is noticed."""
BATCH = 200


@dataclass(frozen=True)
class Position:
    """Where a listener is: the last 1Kosmos row id and 10Duke ``eventReceived`` it has seen."""

    kosmos: int = 0
    tenduke: int = 0

    def text(self) -> str:
        """The position as an SSE ``id`` (``<kosmos>.<tenduke>``), for ``Last-Event-ID``."""
        return f"{self.kosmos}.{self.tenduke}"

    @classmethod
    def parse(cls, text: str | None) -> Position | None:
        """A position from :meth:`text`; None if ``text`` is not one."""
        match = re.fullmatch(r"(\d{1,19})\.(\d{1,19})", (text or "").strip())
        if match is None or max(int(match.group(1)), int(match.group(2))) >= 2**63:  # SQLite's integers
            return None
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class StreamedEvent:
    """An accepted event as a listener gets it, with the position just after it."""

    api: str
    event: dict[str, Any]
    position: Position

    def message(self) -> dict[str, Any]:
        """What the stream and the webhooks send: ``{"api": ..., "event": <the stored event>}``."""
        return {"api": self.api, "event": self.event}


FILTER_FIELDS = {
    "tenantId": ("kosmos", "tenant_id"),
    "communityId": ("kosmos", "community_id"),
    "eventName": ("kosmos", "eventName"),
    "eventSourceId": ("tenduke", "eventSourceId"),
    "eventType": ("tenduke", "eventType"),
    "eventObjectType": ("tenduke", "eventObjectType"),
    "eventObjectId": ("tenduke", "eventObjectId"),
}
"""The filters a listener may give (as in admin.yaml), the API each applies to and the stored field it compares."""


@dataclass(frozen=True)
class EventFilter:
    """Which events a listener wants: one API, and stored fields equal to given values."""

    api: str | None = None
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> EventFilter:
        """The filter of a query or a webhook: ``api`` and any of :data:`FILTER_FIELDS`."""
        given = tuple((name, str(values[name])) for name in FILTER_FIELDS if values.get(name) is not None)
        return cls(values.get("api"), given)

    def as_json(self) -> dict[str, str]:
        """The filter as given (for the admin API)."""
        shown = {"api": self.api} if self.api else {}
        return {**shown, **dict(self.fields)}

    def matches(self, api: str, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` of ``api`` passes: a filter of the other API excludes it."""
        if self.api not in (None, api):
            return False
        for name, value in self.fields:
            field_api, stored = FILTER_FIELDS[name]
            if field_api != api or str(event.get(stored)) != value:
                return False
        return True


def head(backend: Backend) -> Position:
    """The position after the newest event of each API: a listener starting here gets only new events."""
    return Position(backend.kosmos.last_event_id(), backend.tenduke.last_received())


def read_after(backend: Backend, position: Position, limit: int = BATCH) -> list[StreamedEvent]:
    """The events committed after ``position`` (up to ``limit`` of each API), 1Kosmos first."""
    found = []
    at = position
    for row_id, event in backend.kosmos.events_after(position.kosmos, limit):
        at = Position(row_id, at.tenduke)
        found.append(StreamedEvent("kosmos", event, at))
    for received, event in backend.tenduke.events_after(position.tenduke, limit):
        at = Position(at.kosmos, received)
        found.append(StreamedEvent("tenduke", event, at))
    return found


def follow(
    backend: Backend, position: Position, keep_going: Callable[[], bool], poll: float = POLL_SECONDS
) -> Iterator[list[StreamedEvent]]:
    """Batches of events after ``position`` as they are committed (an empty one at each quiet poll)."""
    while keep_going():
        batch = read_after(backend, position)
        if batch:
            position = batch[-1].position
        yield batch
        if not batch:
            pause(poll)  # the other connections go on meanwhile


def sse_stream(
    backend: Backend, wanted: EventFilter, position: Position, max_seconds: float | None = None
) -> Iterator[str]:
    """Server-sent events: a ``data:`` line of JSON per accepted event that ``wanted`` passes.

    Each message's ``id`` is the position after it, so a client reconnecting with
    ``Last-Event-ID`` misses nothing. Ends after ``max_seconds``, when the mock stops, or when the
    client leaves (the server fails to write a keep-alive comment).
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    yield f"retry: 1000\n: following accepted events after {position.text()}\n\n"
    quiet_since = time.monotonic()

    def keep_going() -> bool:
        return not backend.stopping and (deadline is None or time.monotonic() < deadline)

    try:
        for batch in follow(backend, position, keep_going):
            sent = [e for e in batch if wanted.matches(e.api, e.event)]
            for event in sent:
                yield f"id: {event.position.text()}\ndata: {json.dumps(event.message(), ensure_ascii=True)}\n\n"
            if sent:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
    except Exception:  # the database closed under a stopping mock: the stream just ends
        if not backend.closed:
            raise
