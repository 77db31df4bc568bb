"""State of the 10Duke mock: registered client keys and events with their receive times. No Flask."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from eventclient import jws
from eventclient.exceptions import CryptoError
from mockserver.db import Database, compact_json, equality_filters
from mockserver.rfc3339 import format_utc

__all__ = ["ClientKey", "FeedKey", "TenDukeStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenduke_clients (
    client_id TEXT PRIMARY KEY, name TEXT, public_key_pem TEXT NOT NULL,
    thumbprint TEXT NOT NULL UNIQUE, bits INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenduke_events (
    received INTEGER PRIMARY KEY, event_id TEXT NOT NULL, source_id TEXT, event_type TEXT,
    object_type TEXT, object_id TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tenduke_events_source ON tenduke_events (source_id, received);
CREATE INDEX IF NOT EXISTS tenduke_events_object ON tenduke_events (object_type, object_id, received);
"""


def _random_uuids(count: int) -> Iterator[str]:
    """``count`` random (version 4) UUIDs, from one read of the system's randomness, spelt as ``str(UUID)``.

    The version and variant bits are set in the bytes and the text cut from one hex string: building a
    ``uuid.UUID`` per id cost a tenth of a 100-event ``/put``.
    """
    pool = bytearray(os.urandom(16 * count))
    for start in range(0, 16 * count, 16):
        pool[start + 6] = pool[start + 6] & 0x0F | 0x40  # version 4
        pool[start + 8] = pool[start + 8] & 0x3F | 0x80  # RFC 4122 variant
    text = pool.hex()
    for s in range(0, 32 * count, 32):
        head, middle, tail = text[s : s + 8], text[s + 8 : s + 20], text[s + 20 : s + 32]
        yield f"{head}-{middle[:4]}-{middle[4:8]}-{middle[8:]}-{tail}"


@dataclass(frozen=True)
class ClientKey:
    """A registered client public key."""

    client_id: str
    name: str | None
    public_key_pem: str
    thumbprint: str
    bits: int
    created_at: str

    def as_json(self) -> dict[str, Any]:
        """The record as the admin API shows it."""
        return {
            "clientId": self.client_id,
            "name": self.name,
            "thumbprint": self.thumbprint,
            "bits": self.bits,
            "publicKeyPem": self.public_key_pem,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class FeedKey:
    """A feed: an event source (``object_type`` None) or an object type and id."""

    source_id: str | None = None
    object_type: str | None = None
    object_id: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The path segments after ``/get/``: the source id, or the object type and id."""
        if self.object_type is None:
            return (str(self.source_id),)
        return (self.object_type, str(self.object_id))

    @property
    def name(self) -> str:
        """The feed's name: the path after ``/get/``, and the claim a bearer token needs."""
        return "/".join(self.parts)

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition selecting this feed's events."""
        if self.object_type is None:
            return "source_id = ?", [self.source_id]
        return "object_type = ? AND object_id = ?", [self.object_type, self.object_id]


def _window(feed: FeedKey, after: int | None, before: int | None) -> tuple[str, list[Any]]:
    """The SQL condition for ``feed``'s events strictly between ``after`` and ``before``."""
    where, params = feed.where()
    if after is not None:
        where += " AND received > ?"
        params.append(after)
    if before is not None:
        where += " AND received < ?"
        params.append(before)
    return where, params


def _usable(row: Any) -> rsa.RSAPublicKey | None:
    """The client's key if signatures may be verified with it (RSA of at least 2048 bits), else None."""
    try:
        return jws.load_rsa_public_key(row["public_key_pem"])
    except CryptoError:
        return None


def _client(row: Any) -> ClientKey:
    return ClientKey(
        row["client_id"], row["name"], row["public_key_pem"], row["thumbprint"], row["bits"], row["created_at"]
    )


class TenDukeStore:
    """Everything the 10Duke mock remembers, in the shared :class:`Database`."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock
        db.upgrade("tenduke", [SCHEMA])
        db.keep_insertion_order("tenduke_clients")
        db.watch("tenduke_clients")

    # clients ----------------------------------------------------------------------------------
    def register_client(
        self, public_key_pem: str, name: str | None = None, allow_unusable: bool = False
    ) -> ClientKey | None:
        """Register an RSA public key (>= 2048 bits, else CryptoError); None if already registered.

        ``allow_unusable`` registers any public key (a weak RSA or an EC key): it is stored, but
        ``/put`` and ``/get`` never verify with it, which is what a conformance kit checks.
        """
        key = jws.load_public_key_any(public_key_pem) if allow_unusable else jws.load_rsa_public_key(public_key_pem)
        record = ClientKey(
            client_id=str(uuid.uuid4()),
            name=name,
            public_key_pem=public_key_pem.strip() + "\n",
            thumbprint=jws.thumbprint(key),
            bits=key.key_size,
            created_at=format_utc(self.clock()),
        )
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM tenduke_clients WHERE thumbprint = ?", (record.thumbprint,)).fetchone():
                return None
            tx.execute(
                "INSERT INTO tenduke_clients VALUES (?, ?, ?, ?, ?, ?)",
                (record.client_id, name, record.public_key_pem, record.thumbprint, record.bits, record.created_at),
            )
        return record

    def clients(self) -> list[ClientKey]:
        """All registered clients, oldest first."""
        return [_client(r) for r in self.db.query("SELECT * FROM tenduke_clients ORDER BY created_at, rowid")]

    def client(self, client_id: str) -> ClientKey | None:
        """One client by id."""
        rows = self.db.query("SELECT * FROM tenduke_clients WHERE client_id = ?", (client_id,))
        return _client(rows[0]) if rows else None

    def delete_client(self, client_id: str) -> bool:
        """Forget a client key; False if there was none."""
        with self.db.transaction() as tx:
            return tx.execute("DELETE FROM tenduke_clients WHERE client_id = ?", (client_id,)).rowcount > 0

    def key_ring(self) -> list[tuple[str, rsa.RSAPublicKey]]:
        """(key id, key) of every client; a key answers to its client id and its thumbprint as ``kid``.

        Kept in memory until any process registers or deletes a client (:meth:`Database.cached`).
        """
        return list(self.db.cached("tenduke_clients", "ring", self._read_key_ring))

    def _read_key_ring(self) -> tuple[tuple[str, rsa.RSAPublicKey], ...]:
        rows = self.db.query("SELECT client_id, thumbprint, public_key_pem FROM tenduke_clients")
        ring = []
        for row in rows:
            if (key := _usable(row)) is not None:
                ring.append((row["thumbprint"], key))
                ring.append((row["client_id"], key))
        return tuple(ring)

    def client_id_of(self, key_id: str) -> str:
        """The client id of a key-ring id (a client id or a thumbprint); ``key_id`` itself if unknown."""
        rows = self.db.query(
            "SELECT client_id FROM tenduke_clients WHERE client_id = ? OR thumbprint = ?", (key_id, key_id)
        )
        return str(rows[0]["client_id"]) if rows else key_id

    # events -----------------------------------------------------------------------------------
    def put_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store events atomically; stamp ``eventId`` when absent and a unique, increasing ``eventReceived``."""
        stored = []
        with self.db.transaction() as tx:
            last = tx.execute("SELECT MAX(received) FROM tenduke_events").fetchone()[0] or 0
            # the real clock in whole nanoseconds; an injected one (tests) in float seconds
            now_ns = time.time_ns() if self.clock is time.time else int(self.clock() * 1_000_000_000)
            rows = []
            new_ids = _random_uuids(sum("eventId" not in event for event in events))
            for event in events:
                last = max(now_ns, last + 1)
                record = {**event, "eventReceived": last}
                if "eventId" not in record:
                    record["eventId"] = next(new_ids)
                body = compact_json(record)
                rows.append((
                    last, record["eventId"], record.get("eventSourceId"), record.get("eventType"),
                    record.get("eventObjectType"), record.get("eventObjectId"), body,
                ))  # fmt: skip
                stored.append(record)
            tx.executemany("INSERT INTO tenduke_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return stored

    def page(
        self,
        feed: FeedKey,
        *,
        after: int | None,
        before: int | None,
        limit: int,
        newest: bool,
        max_bytes: int = 2**62,
    ) -> list[tuple[int, str]]:
        """Up to ``limit`` events of ``feed`` strictly between ``after`` and ``before``, oldest first.

        The oldest such events, or with ``newest`` the newest ones; each as its ``eventReceived``
        and its stored JSON text (a page is sent as it is stored, without decoding it). The page
        stops before the event that would take its events over ``max_bytes`` (UTF-8), but holds
        at least one: the instructions then continue exactly after (or before) the last one.
        """
        where, params = _window(feed, after, before)
        order = "DESC" if newest else "ASC"
        rows = self.db.query_within(
            f"SELECT received, body, {self.db.octet_length('body')} AS size FROM tenduke_events WHERE {where} "
            f"ORDER BY received {order} LIMIT ?",
            [*params, limit],
            max_bytes,
            lambda row: int(row["size"]) + 1,  # the comma between events
        )
        events = [(int(r["received"]), str(r["body"])) for r in rows]
        return events[::-1] if newest else events

    def has_events(self, feed: FeedKey, *, after: int | None = None, before: int | None = None) -> bool:
        """Whether ``feed`` holds an event strictly after ``after`` / before ``before``."""
        where, params = _window(feed, after, before)
        return bool(self.db.query(f"SELECT 1 FROM tenduke_events WHERE {where} LIMIT 1", params))

    def events(
        self,
        source_id: str | None = None,
        event_type: str | None = None,
        limit: int = 1000,
        max_bytes: int = 2**62,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` stored events matching the filters that fit in ``max_bytes``, newest last."""
        where, params = equality_filters([("source_id", source_id), ("event_type", event_type)])
        rows = self.db.query_within(
            f"SELECT body, {self.db.octet_length('body')} AS size FROM tenduke_events WHERE {where} "
            "ORDER BY received DESC LIMIT ?",
            [*params, limit],
            max_bytes,
            lambda row: int(row["size"]),
        )
        return [json.loads(r["body"]) for r in reversed(rows)]

    def events_after(self, received: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` events received after ``received``, oldest first, with their ``eventReceived``."""
        rows = self.db.query(
            "SELECT received, body FROM tenduke_events WHERE received > ? ORDER BY received LIMIT ?", (received, limit)
        )
        return [(int(r["received"]), json.loads(r["body"])) for r in rows]

    def last_received(self) -> int:
        """The ``eventReceived`` of the newest stored event (0 if none)."""
        return int(self.db.query("SELECT COALESCE(MAX(received), 0) FROM tenduke_events")[0][0])

    def reset(self, everything: bool = False) -> None:
        """Forget events; with ``everything``, also the client keys."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM tenduke_events")
            if everything:
                tx.execute("DELETE FROM tenduke_clients")
