"""A bounded record of recent requests, with why each refused one was refused.

It is kept in the database, so all workers share it. A request only appends its raw values to a
list in memory; one background thread per process writes every journal's list in one transaction
every ``FLUSH_SECONDS`` (and a read writes it first), so recording costs the answer no transaction
and no formatting. Writing is best effort: a journal that cannot be written never turns an answer
into an error, and a killed process loses at most its last ``FLUSH_SECONDS`` of entries.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from mockserver.background import ProcessLoop
from mockserver.db import Database, add_columns, equality_filters
from mockserver.errors import ApiError
from mockserver.rfc3339 import format_utc
from mockserver.waits import pause

__all__ = ["FLUSH_SECONDS", "Journal", "JournalEntry"]

log = logging.getLogger("eventdouble")

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, api TEXT, reason TEXT, request_id TEXT, license_key_id TEXT);
CREATE INDEX IF NOT EXISTS journal_entries_status ON journal_entries (status, id);
DROP TABLE IF EXISTS journal;
"""
COLUMNS = ("time", "method", "path", "status", "api", "reason", "request_id", "license_key_id", "fault_id")
ADDED_COLUMNS = {"fault_id": "TEXT"}
"""Columns added since the table was first created, added to a database that lacks them."""
INSERT = f"INSERT INTO journal_entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
MAX_FIELD = 2000
FLUSH_SECONDS = 0.2


@dataclass(frozen=True)
class JournalEntry:
    """One request, as raw values: ``time`` in epoch seconds, formatted only when read.

    For 1Kosmos requests that got as far, ``request_id`` is the decrypted request id (as echoed)
    and ``license_key_id`` the key id of the license; the license key itself is never recorded.
    """

    time: float
    method: str
    path: str
    status: int
    api: str | None
    reason: str | None
    request_id: str | None = None
    license_key_id: str | None = None
    fault_id: str | None = None
    """The fault rule that fired on the request, if one did; ``status`` 0 when it dropped the connection."""

    def row(self) -> tuple[Any, ...]:
        """The values in ``COLUMNS`` order, text cut at ``MAX_FIELD`` characters."""
        values = (self.time, self.method, self.path, self.status, self.api, self.reason, self.request_id,
                  self.license_key_id, self.fault_id)  # fmt: skip
        return tuple(v[:MAX_FIELD] if isinstance(v, str) else v for v in values)


def _shown(row: Any) -> dict[str, Any]:
    entry = dict(row)
    entry["time"] = format_utc(entry["time"])
    return entry


class Journal:
    """The newest ``size`` requests, kept in the database."""

    def __init__(self, db: Database, size: int = 1000) -> None:
        self.db = db
        self.size = size
        self._pending: list[JournalEntry] = []
        self._lock = threading.Lock()
        self._writing = 0
        """Flushes under way (the writer thread's, a reader's): their entries are not in the table yet."""
        db.upgrade("journal", [SCHEMA, add_columns("journal_entries", ADDED_COLUMNS)])
        _WRITER.watch(self)

    def record(self, entry: JournalEntry) -> None:
        """Add an entry (written within ``FLUSH_SECONDS``)."""
        with self._lock:
            self._pending.append(entry)

    def flush(self) -> None:
        """Write the pending entries in one transaction and drop the oldest beyond ``size``; never raises."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            self._writing += 1
        rows = [entry.row() for entry in pending[-self.size :]]
        try:
            with self.db.transaction() as tx:
                tx.executemany(INSERT, rows)
                last = tx.execute("SELECT MAX(id) FROM journal_entries").fetchone()[0] or 0
                tx.execute("DELETE FROM journal_entries WHERE id <= ?", (int(last) - self.size,))
        except ApiError as exc:  # a full or busy database: the answers matter more than their record
            log.warning("%d journal entries not recorded: %s", len(rows), exc.message)
        except Exception:  # a closed database at shutdown: nothing to tell anyone
            log.debug("journal entries not recorded", exc_info=True)
        finally:
            with self._lock:
                self._writing -= 1

    def _wait_for_other_flushes(self) -> None:
        """Wait until entries another thread took to write (the writer's) are in the table, or failed."""
        while self._writing:  # a pause, not a lock: that thread may be waiting for this loop's batch
            pause(0.001)

    def entries(self, limit: int = 100, *, api: str | None = None, status: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` entries matching ``api`` and ``status``, newest last.

        Entries keep the order they were recorded in: the writer thread's batch in progress (older
        entries) is waited for before this thread writes what is still pending (newer ones), else
        the newer could commit first and get the lower ids (seen on PostgreSQL, where a commit is
        slower).
        """
        self._wait_for_other_flushes()
        self.flush()
        self._wait_for_other_flushes()
        where, params = equality_filters([("api", api), ("status", status)])
        rows = self.db.query(
            f"SELECT {', '.join(COLUMNS)} FROM journal_entries WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [_shown(row) for row in reversed(rows)]

    def clear(self) -> None:
        """Forget everything, pending entries too."""
        with self._lock:
            self._pending.clear()
        self._wait_for_other_flushes()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM journal_entries")


class _Writer(ProcessLoop["Journal"]):
    """The one thread of this process that writes every live journal's pending entries."""

    def step(self, items: list[Journal]) -> None:
        """Write each journal's pending entries."""
        for journal in items:
            journal.flush()


_WRITER = _Writer("eventdouble-journal", FLUSH_SECONDS)
