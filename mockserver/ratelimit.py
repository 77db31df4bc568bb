"""Requests per license or client key in fixed windows, counted in the database so workers share them."""

from __future__ import annotations

import math
from collections.abc import Callable

from mockserver.db import Database

__all__ = ["RateLimiter"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_windows (
    subject TEXT PRIMARY KEY, window_start INTEGER NOT NULL, count INTEGER NOT NULL);
"""


class RateLimiter:
    """Counts requests per subject in windows of ``window`` seconds aligned on the epoch."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock
        db.upgrade("rate_limits", [SCHEMA])

    def hit(self, subject: str, limit: int, window: float) -> float | None:
        """Count one request of ``subject``; None if within ``limit``, else the seconds to wait."""
        now = self.clock()
        start = math.floor(now / window)
        with self.db.transaction() as tx:
            (count,) = tx.execute(
                "INSERT INTO rate_windows VALUES (?, ?, 1) ON CONFLICT (subject) DO UPDATE SET"
                " count = CASE WHEN rate_windows.window_start = excluded.window_start THEN rate_windows.count + 1"
                " ELSE 1 END,"
                " window_start = excluded.window_start RETURNING count",
                (subject, start),
            ).fetchone()
        if count <= limit:
            return None
        return (start + 1) * window - now

    def reset(self) -> None:
        """Forget every count."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM rate_windows")
