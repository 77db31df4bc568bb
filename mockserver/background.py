"""Work done in the background of a process, for every live object of a kind (journals, webhook senders).

One daemon thread per process serves all the objects it watches; they are held weakly, so an app
that is gone stops being worked for. The thread starts with the first object watched in a process
(after a fork, again in the child, on its first watch).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Generic, TypeVar

__all__ = ["ProcessLoop"]

T = TypeVar("T")


class ProcessLoop(Generic[T]):
    """Calls :meth:`step` with the watched objects every ``interval`` seconds, on a thread of this process."""

    def __init__(self, name: str, interval: float) -> None:
        self.name, self.interval = name, interval
        self._watched: weakref.WeakSet[T] = weakref.WeakSet()  # type: ignore[type-var]
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, item: T) -> None:
        """Work for ``item`` from now on (idempotent); start this process's thread if it has none."""
        with self._lock:
            self._watched.add(item)
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self.starting()
                self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
                self._thread.start()

    def watched(self) -> list[T]:
        """The objects still alive and watched."""
        with self._lock:
            return list(self._watched)

    def starting(self) -> None:
        """Called (under the lock) before the thread of a new process starts: per-process state."""

    def run(self) -> None:
        """The thread: :meth:`step` every ``interval`` seconds, forever."""
        while True:
            time.sleep(self.interval)
            self.step(self.watched())

    def step(self, items: list[T]) -> None:
        """One round of work for ``items``."""
        raise NotImplementedError
