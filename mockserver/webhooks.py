"""Signed webhooks: every accepted event is POSTed to each registered receiver whose filters it passes.

The body is ``{"api": ..., "event": <the stored event>}`` (compact JSON) with the header
``X-Eventdouble-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the receiver's secret>``.
Deliveries run in one background thread per process, never in a request: a slow or dead receiver
cannot slow down or fail an ingest. Each receiver gets its events in the order they were
accepted; a failed delivery is retried after 1, 2, 4, 8 and 16 s (as the official 10Duke reader
retries), then given up, and the receiver's next event is tried. Every attempt is recorded.

Receivers, their positions and the attempts are in the database: with several workers, the one
that holds a short lease delivers, and a restart goes on where delivery stopped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from mockserver.background import ProcessLoop
from mockserver.db import Database, compact_json
from mockserver.rfc3339 import format_utc
from mockserver.stream import EventFilter, Position, StreamedEvent, read_after

if TYPE_CHECKING:
    from mockserver.backend import Backend

__all__ = [
    "RETRY_DELAYS",
    "SIGNATURE_HEADER",
    "WebhookInvalid",
    "WebhookStore",
    "signature_of",
    "start_delivering",
]

log = logging.getLogger("eventdouble")

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, filter TEXT NOT NULL, created REAL NOT NULL,
    kosmos_after INTEGER NOT NULL, tenduke_after INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, time REAL NOT NULL, event TEXT NOT NULL,
    attempt INTEGER NOT NULL, status INTEGER, error TEXT, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);
CREATE TABLE IF NOT EXISTS webhook_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until REAL NOT NULL);
"""
SIGNATURE_HEADER = "X-Eventdouble-Signature"
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Seconds before each retry of a failed delivery; after the last, the event is given up."""
TIMEOUT_SECONDS = 5.0
"""How long a receiver may take to answer one delivery."""
POLL_SECONDS = 0.1
LEASE_SECONDS = 3.0
"""How long a process may deliver without renewing its lease; another takes over after it stops."""
DELIVERIES_KEPT = 500
"""Attempts kept per receiver (the newest)."""
BATCH = 50


class WebhookInvalid(ValueError):
    """A receiver the spec's schema lets through but that cannot be delivered to."""


def signature_of(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body`` keyed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Receiver:
    """A registered receiver and where its delivery stands."""

    id: str
    url: str
    secret: str
    wanted: EventFilter
    position: Position
    attempts: int
    next_attempt: float


class WebhookStore:
    """The receivers of one mock and their delivery attempts."""

    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock
        db.upgrade("webhooks", [SCHEMA])

    def register(self, fields: dict[str, Any], start: Position) -> dict[str, Any]:
        """Add a receiver of the events accepted after ``start``; its view (without the secret)."""
        url = fields["url"]
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a malformed IPv6 address or port
            usable = False
        if not usable:
            raise WebhookInvalid("url: an http:// or https:// URL with a host")
        hook_id = str(uuid.uuid4())
        wanted = EventFilter.of(fields)
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO webhooks (id, url, secret, filter, created, kosmos_after, tenduke_after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hook_id, url, fields["secret"], compact_json(wanted.as_json()), self.clock(), start.kosmos,
                 start.tenduke),
            )  # fmt: skip
        view = self.get(hook_id)
        assert view is not None
        return view

    def _views(self, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        rows = self.db.query(f"SELECT * FROM webhooks WHERE {where} ORDER BY created, id", params)
        return [
            {
                "id": r["id"],
                "url": r["url"],
                **json.loads(r["filter"]),
                "createdAt": format_utc(r["created"]),
                "delivered": r["delivered"],
                "failed": r["failed"],
                "failingAttempts": r["attempts"],
                "nextAttemptAt": format_utc(r["next_attempt"]) if r["attempts"] else None,
                "position": Position(r["kosmos_after"], r["tenduke_after"]).text(),
            }
            for r in rows
        ]

    def receivers_view(self) -> list[dict[str, Any]]:
        """Every receiver, oldest first, with its delivery counts (never its secret)."""
        return self._views()

    def get(self, hook_id: str) -> dict[str, Any] | None:
        """One receiver's view; None if there is none."""
        views = self._views("id = ?", (hook_id,))
        return views[0] if views else None

    def remove(self, hook_id: str) -> bool:
        """Remove a receiver and its attempts; False if there was none."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (hook_id,))
            return tx.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,)).rowcount > 0

    def reset(self, everything: bool = False) -> None:
        """Forget the attempts; with ``everything``, the receivers too."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM webhook_deliveries")
            if everything:
                tx.execute("DELETE FROM webhooks")
            else:
                tx.execute("UPDATE webhooks SET delivered = 0, failed = 0")

    def deliveries(self, hook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` attempts for a receiver, newest last."""
        rows = self.db.query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", (hook_id, limit)
        )
        return [
            {"time": format_utc(r["time"]), "event": json.loads(r["event"]), "attempt": r["attempt"],
             "status": r["status"], "error": r["error"], "outcome": r["outcome"]}
            for r in reversed(rows)
        ]  # fmt: skip

    # delivery ---------------------------------------------------------------------------------
    def any(self) -> bool:
        """Whether a receiver is registered."""
        return bool(self.db.query("SELECT 1 FROM webhooks LIMIT 1"))

    def take_lease(self, holder: str) -> bool:
        """Become (or stay) the one process that delivers, for ``LEASE_SECONDS``; False if another is."""
        now = self.clock()
        with self.db.transaction() as tx:
            row = tx.execute("SELECT holder, until FROM webhook_lease WHERE name = 'deliveries'").fetchone()
            if row is not None and row["holder"] != holder and row["until"] > now:
                return False
            until = now + LEASE_SECONDS
            tx.execute(
                "INSERT INTO webhook_lease VALUES ('deliveries', ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until",
                (holder, until),
            )
        return True

    def due(self) -> list[Receiver]:
        """The receivers not waiting to retry."""
        rows = self.db.query("SELECT * FROM webhooks WHERE next_attempt <= ? ORDER BY created", (self.clock(),))
        return [
            Receiver(r["id"], r["url"], r["secret"], EventFilter.of(json.loads(r["filter"])),
                     Position(r["kosmos_after"], r["tenduke_after"]), r["attempts"], r["next_attempt"])
            for r in rows
        ]  # fmt: skip

    def move_on(self, hook: Receiver, position: Position) -> None:
        """The receiver has nothing to get before ``position`` (events its filters do not pass)."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE webhooks SET kosmos_after = ?, tenduke_after = ? WHERE id = ?",
                (position.kosmos, position.tenduke, hook.id),
            )

    def record(self, hook: Receiver, event: StreamedEvent, status: int | None, error: str | None) -> bool:
        """Record one attempt to deliver ``event``; True if the receiver may get its next event now."""
        attempt = hook.attempts + 1
        delivered = status is not None and 200 <= status < 300
        gave_up = not delivered and attempt > len(RETRY_DELAYS)
        outcome = "delivered" if delivered else ("given up" if gave_up else "will retry")
        now = self.clock()
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO webhook_deliveries (webhook_id, time, event, attempt, status, error, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hook.id, now, compact_json({"api": event.api, "position": event.position.text()}), attempt, status,
                 error, outcome),
            )  # fmt: skip
            if delivered or gave_up:
                tx.execute(
                    "UPDATE webhooks SET kosmos_after = ?, tenduke_after = ?, attempts = 0, next_attempt = 0, "
                    f"{'delivered' if delivered else 'failed'} = {'delivered' if delivered else 'failed'} + 1 "
                    "WHERE id = ?",
                    (event.position.kosmos, event.position.tenduke, hook.id),
                )
            else:
                tx.execute(
                    "UPDATE webhooks SET attempts = ?, next_attempt = ? WHERE id = ?",
                    (attempt, now + RETRY_DELAYS[attempt - 1], hook.id),
                )
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND id <= "
                "(SELECT MAX(id) FROM webhook_deliveries WHERE webhook_id = ?) - ?",
                (hook.id, hook.id, DELIVERIES_KEPT),
            )
        return delivered or gave_up


def _post(http: httpx.Client, hook: Receiver, event: StreamedEvent, attempt: int) -> tuple[int | None, str | None]:
    """POST one event to a receiver: its status, or None and why nothing came back."""
    body = compact_json(event.message()).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_of(hook.secret, body),
        "X-Eventdouble-Delivery": f"{hook.id}/{event.api}/{event.position.text()}",
        "X-Eventdouble-Attempt": str(attempt),
    }
    try:
        response = http.post(hook.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, response.text[:500] or response.reason_phrase


def deliver_due(backend: Backend, holder: str, http: httpx.Client) -> None:
    """Deliver what is due to each receiver, if this process holds the lease."""
    store = backend.webhooks
    hooks = store.due()
    if not hooks or not store.take_lease(holder):
        return
    for hook in hooks:
        batch = read_after(backend, hook.position, BATCH)
        passed = hook.position
        for event in batch:
            if backend.closed:
                return
            if not hook.wanted.matches(event.api, event.event):
                passed = event.position
                continue
            if passed != hook.position:
                store.move_on(hook, passed)
            status, error = _post(http, hook, event, hook.attempts + 1)
            if not store.record(hook, event, status, error):
                break
            hook = Receiver(hook.id, hook.url, hook.secret, hook.wanted, event.position, 0, 0)
            passed = event.position
        else:
            if passed != hook.position:
                store.move_on(hook, passed)


class _Deliverer(ProcessLoop["Backend"]):
    """The one thread of this process that delivers for every backend with receivers.

    A backend is watched once it has (or had at start) a receiver, so mocks without webhooks
    cost nothing. Each process takes the delivery lease under its own holder id.
    """

    holder = ""
    _last_error = ""

    def starting(self) -> None:
        """A holder id of this process, for the lease."""
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run(self) -> None:
        """Every poll, deliver what is due, with one HTTP client for the thread's life."""
        with httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=False) as http:
            while True:
                time.sleep(self.interval)
                for backend in self.watched():
                    if backend.closed:
                        continue
                    try:
                        deliver_due(backend, self.holder, http)
                    except Exception as exc:  # noqa: BLE001 - a closed or busy database: try again at the next poll
                        if not backend.closed and str(exc) != self._last_error:
                            log.warning("webhook delivery stopped (%s); retrying", exc)
                        self._last_error = str(exc)


_DELIVERER = _Deliverer("eventdouble-webhooks", POLL_SECONDS)


def start_delivering(backend: Backend) -> None:
    """Deliver this backend's events to its receivers from now on (idempotent)."""
    _DELIVERER.watch(backend)
