"""A bounded in-memory record of recent requests, with why each refused one was refused."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Journal", "JournalEntry"]


@dataclass(frozen=True)
class JournalEntry:
    """One request as the journal shows it."""

    time: str
    method: str
    path: str
    status: int
    api: str | None
    reason: str | None


class Journal:
    """The newest ``size`` requests, oldest first."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        """Add an entry, dropping the oldest when full."""
        with self._lock:
            self._entries.append(entry)

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest last."""
        with self._lock:
            items = list(self._entries)[-limit:]
        return [asdict(e) for e in items]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
