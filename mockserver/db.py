"""The one storage interface: a SQLite database (WAL) shared by the service stores.

Stores talk SQL through :meth:`Database.transaction` and :meth:`Database.query`, so a server
database can replace SQLite behind this class later.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Database", "equality_filters"]


def equality_filters(pairs: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A WHERE clause of ``column = ?`` for each pair whose value is not None (``1 = 1`` if none)."""
    used = [(column, value) for column, value in pairs if value is not None]
    clause = " AND ".join(f"{column} = ?" for column, _ in used) or "1 = 1"
    return clause, [value for _, value in used]


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only: it holds the service private key and licenses.

    SQLite gives its -wal and -shm files the same permissions. An existing file is left as it is.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Database:
    """A SQLite connection guarded by a lock; ``:memory:`` works for tests and notebooks."""

    def __init__(self, path: str = ":memory:", synchronous: str = "NORMAL") -> None:
        self.path = path
        self._lock = threading.RLock()
        if path != ":memory:" and not path.startswith("file:"):
            _create_private(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._conn.execute("PRAGMA busy_timeout=10000")

    def migrate(self, ddl: str) -> None:
        """Run idempotent ``CREATE ... IF NOT EXISTS`` statements."""
        with self._lock:
            self._conn.executescript(ddl)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements atomically; committed (and durable) when the block ends without error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one read statement and return its rows."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
