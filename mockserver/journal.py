"""A bounded record of recent requests, with why each refused one was refused.

It is kept in the database, so all workers share it. Writing it is best effort: a journal that
cannot be written never turns an answer into an error.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from mockserver.db import Database, equality_filters
from mockserver.errors import ApiError

__all__ = ["Journal", "JournalEntry"]

log = logging.getLogger("eventdouble")

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    status INTEGER NOT NULL, api TEXT, reason TEXT, request_id TEXT, license_key_id TEXT);
CREATE INDEX IF NOT EXISTS journal_status ON journal (status, id);
"""
COLUMNS = ("time", "method", "path", "status", "api", "reason", "request_id", "license_key_id")
MAX_FIELD = 2000
INSERT = f"INSERT INTO journal ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(frozen=True)
class JournalEntry:
    """One request as the journal shows it.

    For 1Kosmos requests that got as far, ``request_id`` is the decrypted request id (as echoed)
    and ``license_key_id`` the key id of the license; the license key itself is never recorded.
    """

    time: str
    method: str
    path: str
    status: int
    api: str | None
    reason: str | None
    request_id: str | None = None
    license_key_id: str | None = None


class Journal:
    """The newest ``size`` requests, kept in the database."""

    def __init__(self, db: Database, size: int = 1000) -> None:
        self.db = db
        self.size = size
        db.migrate(SCHEMA)

    def record(self, entry: JournalEntry) -> None:
        """Add an entry and drop the oldest beyond ``size``; a failure is logged, never raised."""
        values = [v[:MAX_FIELD] if isinstance(v, str) else v for v in asdict(entry).values()]
        try:
            with self.db.transaction() as tx:
                cursor = tx.execute(INSERT, values)
                tx.execute("DELETE FROM journal WHERE id <= ?", (int(cursor.lastrowid or 0) - self.size,))
        except ApiError as exc:  # a full or busy database: the answer matters more than its record
            log.warning("journal entry not recorded: %s", exc.message)

    def entries(self, limit: int = 100, *, api: str | None = None, status: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` entries matching ``api`` and ``status``, newest last."""
        where, params = equality_filters([("api", api), ("status", status)])
        rows = self.db.query(
            f"SELECT {', '.join(COLUMNS)} FROM journal WHERE {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        return [dict(row) for row in reversed(rows)]

    def clear(self) -> None:
        """Forget everything."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM journal")
