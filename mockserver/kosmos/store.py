"""State of the 1Kosmos mock: service keys, licenses, seen request ids and events. No Flask here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventclient import kosmos_crypto
from mockserver import rfc3339
from mockserver.db import Database, Transaction, Write, add_columns, compact_json, equality_filters

__all__ = ["AUTH_LEVELS", "SERVICES", "EventPage", "KosmosStore", "License", "LicenseFieldInvalid", "ServiceKey"]

AUTH_LEVELS = ("system", "service", "tenant", "community")
SERVICES = ("events", "reports")
"""The 1Kosmos services the mock serves, each at its own root with its own key pair."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS kosmos_service_keys (
    key_id TEXT PRIMARY KEY, private_key TEXT NOT NULL, public_key TEXT NOT NULL,
    created_at TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kosmos_licenses (
    key_id TEXT PRIMARY KEY, license_key TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    auth_level TEXT NOT NULL, tenant_id TEXT, community_id TEXT, expiry TEXT,
    disabled INTEGER NOT NULL DEFAULT 0, tag TEXT, created_at TEXT NOT NULL);
-- a table keyed by text is WITHOUT ROWID: a row written is one B-tree changed, not a table and its key's index
CREATE TABLE IF NOT EXISTS kosmos_request_ids (uuid TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kosmos_request_ids_expires ON kosmos_request_ids (expires);
CREATE TABLE IF NOT EXISTS kosmos_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, community_id TEXT NOT NULL,
    event_name TEXT NOT NULL, event_ts INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kosmos_events_scope ON kosmos_events (tenant_id, community_id, event_ts);
CREATE INDEX IF NOT EXISTS kosmos_events_name ON kosmos_events (tenant_id, community_id, event_name, event_ts);
"""
FIRST_EVENT_SECOND, LAST_EVENT_SECOND = -62_135_596_800, 253_402_300_799
"""The event times the mock stores: years 1 to 9999, in epoch seconds."""
MIN_EVENT_TS, MAX_EVENT_TS = FIRST_EVENT_SECOND * 1000, LAST_EVENT_SECOND * 1000 + 999
"""The same in epoch ms, as ``event_ts`` is kept: an open query bound is one of these."""
ALL_TIME = 0
"""The span of the one bucket (starting at 0) that counts all of an event name's events: a total without from/to."""
BUCKET_SPANS_MS = (86_400_000, 3_600_000, 60_000)
"""Days, hours and minutes: the events counted per bucket of each, so a total over any from/to
sums whole buckets and counts single events only in the two partial minutes at its edges."""
COUNTED_SPANS = (ALL_TIME, *BUCKET_SPANS_MS)
"""The spans each event is counted in, in this order."""
BUCKETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS kosmos_event_buckets (
    tenant_id TEXT NOT NULL, community_id TEXT NOT NULL, span INTEGER NOT NULL, start INTEGER NOT NULL,
    event_name TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, community_id, span, start, event_name)) WITHOUT ROWID;
DROP TABLE IF EXISTS kosmos_event_counts;
"""
BUCKET_EVENT = (
    "INSERT INTO kosmos_event_buckets VALUES "
    + ", ".join("(?, ?, ?, ?, ?, 1)" for _ in COUNTED_SPANS)
    + " ON CONFLICT (tenant_id, community_id, span, start, event_name) DO UPDATE SET n = kosmos_event_buckets.n + 1"
)


REMEMBER_REQUEST_ID = (
    "INSERT INTO kosmos_request_ids VALUES (?, ?)"
    " ON CONFLICT (uuid) DO UPDATE SET expires = excluded.expires WHERE kosmos_request_ids.expires < ?"
)
"""Record a request id, unless it is recorded and not yet forgotten (then no row changes: a replay)."""
REQUEST_ID_SWEEP_SECONDS = 1.0
"""How often (at most) forgotten request ids are deleted; one that is not deleted yet counts as absent."""


def _fill_span(span: int) -> str:
    """Count the stored events into the buckets of ``span``."""
    start = "0" if span == ALL_TIME else f"event_ts - ((event_ts % {span}) + {span}) % {span}"
    return (
        f"INSERT INTO kosmos_event_buckets SELECT tenant_id, community_id, {span}, start, event_name, COUNT(*) FROM"
        f" (SELECT *, {start} AS start FROM kosmos_events) AS timed GROUP BY tenant_id, community_id, start, event_name"
    )


def _bucket_start(ts_ms: int, span: int) -> int:
    if span == ALL_TIME:
        return 0
    return ts_ms - ts_ms % span  # Python's % floors, so times before 1970 fall in the right bucket


class LicenseFieldInvalid(ValueError):
    """A license field the store cannot keep, because it could not be used later."""


def _check_expiry(expiry: str | None) -> None:
    if expiry is not None:
        try:
            rfc3339.parse(expiry)
        except ValueError as exc:
            raise LicenseFieldInvalid(f"expiry: {exc}") from None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ServiceKey:
    """A key pair of a service; a service's first one answers its ``/publickeys``."""

    key_id: str
    private_key: str
    public_key: str
    created_at: str
    service: str = "events"
    curve: str = kosmos_crypto.CURVE_NAME

    def public_view(self) -> dict[str, Any]:
        """The record as ``GET /events/servicekeys`` shows it (no private key)."""
        return {"keyId": self.key_id, "publicKey": self.public_key, "createdAt": self.created_at}


@dataclass(frozen=True)
class License:
    """A 1Kosmos license record."""

    key_id: str
    license_key: str
    type: str
    auth_level: str
    tenant_id: str | None
    community_id: str | None
    expiry: str | None
    disabled: bool
    tag: str | None
    created_at: str

    def as_json(self) -> dict[str, Any]:
        """The record as the admin API shows it."""
        return {
            "keyId": self.key_id,
            "licenseKey": self.license_key,
            "type": self.type,
            "authLevel": self.auth_level,
            "tenantId": self.tenant_id,
            "communityId": self.community_id,
            "expiry": self.expiry,
            "disabled": self.disabled,
            "tag": self.tag,
            "createdAt": self.created_at,
        }

    def refusal(self, now: float) -> str | None:
        """Why this license cannot be used at ``now``, or None."""
        if self.disabled:
            return "license is disabled"
        if self.expiry is not None and rfc3339.parse(self.expiry).timestamp() <= now:
            return f"license expired at {self.expiry}"
        return None

    def allows(self, level: str, tenant_id: str | None = None, community_id: str | None = None) -> str | None:
        """Why this license may not do an operation of ``level``, or None if it may.

        ``level`` is ``system`` for key administration, ``community`` for per tenant/community calls.
        """
        if level == "system":
            return None if self.auth_level == "system" else "this operation needs a license of authLevel 'system'"
        if self.auth_level in ("system", "service"):
            return None
        if self.tenant_id != tenant_id:
            return f"license is not allowed for tenant {tenant_id}"
        if self.auth_level == "community" and self.community_id != community_id:
            return f"license is not allowed for community {community_id}"
        return None


@dataclass(frozen=True)
class EventPage:
    """One page of a query: the events and the total that match."""

    total: int
    events: list[dict[str, Any]]


def _license(row: Any) -> License:
    return License(
        key_id=row["key_id"],
        license_key=row["license_key"],
        type=row["type"],
        auth_level=row["auth_level"],
        tenant_id=row["tenant_id"],
        community_id=row["community_id"],
        expiry=row["expiry"],
        disabled=bool(row["disabled"]),
        tag=row["tag"],
        created_at=row["created_at"],
    )


class KosmosStore:
    """Everything the 1Kosmos mock remembers, in the shared :class:`Database`."""

    def __init__(self, db: Database, clock: Callable[[], float], curve: str = kosmos_crypto.CURVE_NAME) -> None:
        self.db = db
        self.clock = clock
        self.curve = kosmos_crypto.curve_named(curve)
        """The curve of the service keys, and of the keys callers must use."""
        self._swept_until = float("-inf")
        db.upgrade(
            "kosmos",
            [
                SCHEMA + BUCKETS_SCHEMA,
                add_columns(
                    "kosmos_service_keys",
                    {"service": "TEXT NOT NULL DEFAULT 'events'", "curve": "TEXT NOT NULL DEFAULT 'secp256k1'"},
                ),
            ],
        )
        db.keep_insertion_order("kosmos_licenses")
        db.watch("kosmos_service_keys")
        db.watch("kosmos_licenses")
        self._count_existing_events()
        for service in SERVICES:
            self.ensure_service_key(service)

    def _count_existing_events(self) -> None:
        """Fill the buckets of a database written before they were kept, span by span (once; any process may)."""
        if not self.db.query("SELECT 1 FROM kosmos_events LIMIT 1"):
            return  # nothing to count: no write lock at start
        counted = "SELECT 1 FROM kosmos_event_buckets WHERE span = ? LIMIT 1"
        for span in COUNTED_SPANS:
            if self.db.query(counted, (span,)):
                continue
            with self.db.transaction() as tx:
                if tx.execute(counted, (span,)).fetchone() is None:
                    tx.execute(_fill_span(span))

    # service keys -----------------------------------------------------------------------------
    def ensure_service_key(self, service: str = "events") -> ServiceKey:
        """Return ``service``'s primary key, creating one on first start (and anew after a change of curve)."""
        keys = self.service_keys(service)
        if keys and keys[0].curve == self.curve:
            return keys[0]
        key = self.new_service_key(str(uuid.uuid4()), service)
        # check and write in one write transaction: processes starting together create one key
        with self.db.transaction() as tx:
            found = tx.execute(
                "SELECT key_id, curve FROM kosmos_service_keys WHERE service = ? ORDER BY position, key_id", (service,)
            ).fetchall()
            if not found:
                tx.execute(
                    "INSERT INTO kosmos_service_keys (key_id, private_key, public_key, created_at, position,"
                    " service, curve) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (key.key_id, key.private_key, key.public_key, key.created_at, service, self.curve),
                )
            elif found[0][1] != self.curve:  # EC_CURVE_NAME changed: the same key ids, new pairs
                for row in found:
                    self.replace_service_key(tx, self.new_service_key(row[0], service))
        return self.service_keys(service)[0]

    def service_keys(self, service: str = "events") -> list[ServiceKey]:
        """The service keys of ``service``, the primary first."""
        return [
            key
            for key in self.db.cached("kosmos_service_keys", "all", self._read_service_keys)
            if key.service == service
        ]

    def _read_service_keys(self) -> tuple[ServiceKey, ...]:
        rows = self.db.query("SELECT * FROM kosmos_service_keys ORDER BY position, key_id")
        return tuple(
            ServiceKey(r["key_id"], r["private_key"], r["public_key"], r["created_at"], r["service"], r["curve"])
            for r in rows
        )

    def primary_key(self, service: str = "events") -> ServiceKey:
        """The key callers of ``service`` encrypt to (its ``/publickeys``)."""
        return self.ensure_service_key(service)

    def new_service_key(self, key_id: str, service: str = "events") -> ServiceKey:
        """A fresh key pair for ``key_id``, not stored yet (:meth:`replace_service_key` stores it)."""
        pair = kosmos_crypto.generate_keypair(self.curve)
        return ServiceKey(key_id, pair.private_key, pair.public_key, _iso(self.clock()), service, self.curve)

    @staticmethod
    def replace_service_key(tx: Transaction, key: ServiceKey) -> bool:
        """In transaction ``tx``, give ``key.key_id`` the key pair of ``key``; False if there is no such key."""
        cursor = tx.execute(
            "UPDATE kosmos_service_keys SET private_key = ?, public_key = ?, created_at = ?, curve = ?"
            " WHERE key_id = ? AND service = ?",
            (key.private_key, key.public_key, key.created_at, key.curve, key.key_id, key.service),
        )
        return cursor.rowcount > 0

    # licenses ---------------------------------------------------------------------------------
    def create_license(self, fields: dict[str, Any]) -> License | None:
        """Store a license from admin-API fields; None if ``licenseKey`` is taken.

        :class:`LicenseFieldInvalid` if ``expiry`` is not an RFC 3339 date-time: it is read on every request.
        """
        _check_expiry(fields.get("expiry"))
        record = License(
            key_id=str(uuid.uuid4()),
            license_key=fields.get("licenseKey") or str(uuid.uuid4()),
            type=fields.get("type", "license"),
            auth_level=fields["authLevel"],
            tenant_id=fields.get("tenantId"),
            community_id=fields.get("communityId"),
            expiry=fields.get("expiry"),
            disabled=bool(fields.get("disabled", False)),
            tag=fields.get("tag"),
            created_at=_iso(self.clock()),
        )
        with self.db.transaction() as tx:
            taken = tx.execute("SELECT 1 FROM kosmos_licenses WHERE license_key = ?", (record.license_key,))
            if taken.fetchone():
                return None
            tx.execute(
                "INSERT INTO kosmos_licenses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.key_id, record.license_key, record.type, record.auth_level, record.tenant_id,
                    record.community_id, record.expiry, int(record.disabled), record.tag, record.created_at,
                ),
            )  # fmt: skip
        return record

    def licenses(self) -> list[License]:
        """All licenses, oldest first."""
        return [_license(r) for r in self.db.query("SELECT * FROM kosmos_licenses ORDER BY created_at, rowid")]

    def license_by_key(self, license_key: str) -> License | None:
        """The license whose key string is ``license_key``."""

        def read() -> License | None:
            rows = self.db.query("SELECT * FROM kosmos_licenses WHERE license_key = ?", (license_key,))
            return _license(rows[0]) if rows else None

        return self.db.cached("kosmos_licenses", license_key, read)

    def update_license(self, key_id: str, changes: dict[str, Any]) -> License | None:
        """Apply ``disabled``/``expiry``/``tag`` changes; None if there is no such license."""
        columns = {"disabled": "disabled", "expiry": "expiry", "tag": "tag"}
        _check_expiry(changes.get("expiry"))
        with self.db.transaction() as tx:
            for name, value in changes.items():
                value = int(value) if name == "disabled" else value
                tx.execute(f"UPDATE kosmos_licenses SET {columns[name]} = ? WHERE key_id = ?", (value, key_id))
            rows = tx.execute("SELECT * FROM kosmos_licenses WHERE key_id = ?", (key_id,)).fetchall()
        return _license(rows[0]) if rows else None

    def delete_license(self, key_id: str) -> bool:
        """Delete a license; False if there was none."""
        with self.db.transaction() as tx:
            return tx.execute("DELETE FROM kosmos_licenses WHERE key_id = ?", (key_id,)).rowcount > 0

    # request ids ------------------------------------------------------------------------------
    def request_id_seen(self, request_uuid: str, keep_after: float = 0) -> bool:
        """Whether ``request_uuid`` is recorded and not yet forgotten (a replay); records nothing."""
        rows = self.db.query(
            "SELECT 1 FROM kosmos_request_ids WHERE uuid = ? AND expires >= ?",
            (request_uuid, self.clock() - keep_after),
            see_pending=True,
        )
        return bool(rows)

    def remember_request_id(
        self,
        request_uuid: str,
        expires: float,
        keep_after: float = 0,
        then: Write | None = None,
    ) -> bool:
        """Record a request id valid until ``expires``, and run ``then`` in the same transaction.

        False if the id is already recorded (a replay): then nothing is written. The id is kept
        ``keep_after`` seconds longer, so a clock stepped by less than that cannot bring it back.
        """
        forgotten_before = self.clock() - keep_after
        with self.db.transaction() as tx:
            if forgotten_before >= self._swept_until + REQUEST_ID_SWEEP_SECONDS or forgotten_before < self._swept_until:
                tx.execute("DELETE FROM kosmos_request_ids WHERE expires < ?", (forgotten_before,))
                self._swept_until = forgotten_before
            cursor = tx.execute(REMEMBER_REQUEST_ID, (request_uuid, expires, forgotten_before))
            if cursor.rowcount != 1:
                return False
            if then is not None:
                then(tx)
            return True

    # events -----------------------------------------------------------------------------------
    def add_event(self, event: dict[str, Any]) -> None:
        """Store an event that already carries its server fields (committed when this returns)."""
        with self.db.transaction() as tx:
            self.write_event(tx, event)

    @staticmethod
    def write_event(tx: Transaction, event: dict[str, Any]) -> None:
        """Store an event in transaction ``tx`` (with its count)."""
        tx.execute(
            "INSERT INTO kosmos_events (tenant_id, community_id, event_name, event_ts, body) VALUES (?, ?, ?, ?, ?)",
            (
                event["tenant_id"], event["community_id"], event["eventName"], event["event_ts"],
                compact_json(event),
            ),
        )  # fmt: skip
        scope, ts = (event["tenant_id"], event["community_id"]), int(event["event_ts"])
        buckets = [(*scope, span, _bucket_start(ts, span), event["eventName"]) for span in COUNTED_SPANS]
        tx.execute(BUCKET_EVENT, [value for bucket in buckets for value in bucket])

    def query_events(
        self,
        tenant_id: str,
        community_id: str,
        *,
        page_size: int,
        page_index: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
        event_name: str | None = None,
    ) -> EventPage:
        """A page of a tenant/community's events, oldest first; bounds are inclusive, in epoch ms."""
        where = ["tenant_id = ?", "community_id = ?"]
        params: list[Any] = [tenant_id, community_id]
        if start_ms is not None:
            where.append("event_ts >= ?")
            params.append(start_ms)
        if end_ms is not None:
            where.append("event_ts <= ?")
            params.append(end_ms)
        if event_name is not None:
            where.append("event_name = ?")
            params.append(event_name)
        clause = " AND ".join(where)
        total = self.count_events(tenant_id, community_id, start_ms=start_ms, end_ms=end_ms, event_name=event_name)
        if page_size * page_index >= total:
            return EventPage(total, [])
        # the page's ids from the index alone, then their bodies: skipped rows are never read
        rows = self.db.query(
            f"SELECT body FROM kosmos_events WHERE id IN (SELECT id FROM kosmos_events WHERE {clause}"
            " ORDER BY event_ts, id LIMIT ? OFFSET ?) ORDER BY event_ts, id",
            [*params, page_size, page_size * page_index],
        )
        return EventPage(total, [json.loads(r["body"]) for r in rows])

    def count_events(
        self,
        tenant_id: str,
        community_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        event_name: str | None = None,
    ) -> int:
        """How many of a tenant/community's events (of ``event_name``) lie within the inclusive bounds, in epoch ms.

        From the kept counts: no scan of the events but at the edges of the bounds.
        """
        if start_ms is None and end_ms is None:  # the all-time buckets
            counted, count_params = equality_filters(
                [("tenant_id", tenant_id), ("community_id", community_id), ("span", ALL_TIME), ("start", 0),
                 ("event_name", event_name)]
            )  # fmt: skip
            total = self.db.query(f"SELECT COALESCE(SUM(n), 0) FROM kosmos_event_buckets WHERE {counted}", count_params)
            return int(total[0][0])
        low, high = MIN_EVENT_TS if start_ms is None else start_ms, MAX_EVENT_TS if end_ms is None else end_ms
        return self._count_between((tenant_id, community_id), event_name, low, high, BUCKET_SPANS_MS)

    def _count_between(
        self, scope: tuple[str, str], event_name: str | None, low: int, high: int, spans: tuple[int, ...]
    ) -> int:
        """The events of ``scope`` (and ``event_name``) with ``low <= event_ts <= high``.

        Whole buckets of the largest span inside the range are summed; the parts left at either
        edge are shorter than that span and are counted with the next span down, and so on; what
        is left below the smallest span is counted event by event.
        """
        if low > high:
            return 0
        named, name_params = ("AND event_name = ?", [event_name]) if event_name is not None else ("", [])
        if not spans:
            return int(
                self.db.query(
                    "SELECT COUNT(*) FROM kosmos_events WHERE tenant_id = ? AND community_id = ?"
                    f" AND event_ts >= ? AND event_ts <= ? {named}",
                    [*scope, low, high, *name_params],
                )[0][0]
            )
        span, smaller = spans[0], spans[1:]
        first = -(-low // span) * span  # the first bucket that starts at or after low
        end = (high + 1) // span * span  # the end of the last bucket that ends at or before high
        if first >= end:
            return self._count_between(scope, event_name, low, high, smaller)
        whole = self.db.query(
            "SELECT COALESCE(SUM(n), 0) FROM kosmos_event_buckets WHERE tenant_id = ? AND community_id = ?"
            f" AND span = ? AND start >= ? AND start < ? {named}",
            [*scope, span, first, end, *name_params],
        )[0][0]
        return (
            int(whole)
            + self._count_between(scope, event_name, low, first - 1, smaller)
            + self._count_between(scope, event_name, end, high, smaller)
        )

    def events(
        self,
        tenant_id: str | None = None,
        community_id: str | None = None,
        event_name: str | None = None,
        limit: int = 1000,
        max_bytes: int = 2**62,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` stored events matching the filters that fit in ``max_bytes``, newest last."""
        where, params = equality_filters(
            [("tenant_id", tenant_id), ("community_id", community_id), ("event_name", event_name)]
        )
        rows = self.db.query_within(
            f"SELECT body, {self.db.octet_length('body')} AS size FROM kosmos_events WHERE {where} "
            "ORDER BY id DESC LIMIT ?",
            [*params, limit],
            max_bytes,
            lambda row: int(row["size"]),
        )
        return [json.loads(r["body"]) for r in reversed(rows)]

    def events_after(self, last_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` events stored after the one with row id ``last_id``, in the order stored, with their ids."""
        rows = self.db.query("SELECT id, body FROM kosmos_events WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit))
        return [(int(r["id"]), json.loads(r["body"])) for r in rows]

    def last_event_id(self) -> int:
        """The row id of the newest stored event (0 if none); ids are never reused, even after a reset."""
        return self.db.last_id("kosmos_events")

    def reset(self, everything: bool = False) -> None:
        """Forget events and request ids; with ``everything``, also licenses and service keys."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM kosmos_events")
            tx.execute("DELETE FROM kosmos_event_buckets")
            tx.execute("DELETE FROM kosmos_request_ids")
            if everything:
                tx.execute("DELETE FROM kosmos_licenses")
                tx.execute("DELETE FROM kosmos_service_keys")
        if everything:
            for service in SERVICES:
                self.ensure_service_key(service)
