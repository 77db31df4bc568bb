"""The state of one mock: the database, the per-API stores and the journal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from mockserver.db import Database, open_database
from mockserver.faults import FaultStore
from mockserver.journal import Journal
from mockserver.kosmos.store import KosmosStore
from mockserver.ratelimit import RateLimiter
from mockserver.tenduke.store import TenDukeStore
from mockserver.webhooks import WebhookStore, start_delivering

__all__ = ["Backend", "backend_of", "current_backend", "init_app"]

EXTENSION = "eventdouble"


@dataclass(eq=False)  # compared and hashed by identity: held in weak sets
class Backend:
    """Owns every store; usable without Flask (in-process, scripts, tests)."""

    db: Database
    kosmos: KosmosStore
    tenduke: TenDukeStore
    journal: Journal
    rate: RateLimiter
    faults: FaultStore
    webhooks: WebhookStore
    clock: Callable[[], float]
    closed: bool = False
    """Set by :meth:`close`: listeners of the event stream and webhook deliveries stop."""
    stopping: bool = False
    """Set when the server begins to stop (and by :meth:`close`): event streams end, so their
    connections close and the requests still in progress can finish."""

    @classmethod
    def open(
        cls,
        path: str,
        clock: Callable[[], float],
        journal_size: int = 1000,
        synchronous: str = "NORMAL",
        curve: str = "secp256k1",
    ) -> Backend:
        """Open (or create) the database ``path`` names (SQLite file, ``postgresql://`` URL) and the stores on it.

        ``curve`` is the 1Kosmos services' curve (``EC_CURVE_NAME``).
        """
        db = open_database(path, synchronous)
        return cls(
            db=db,
            kosmos=KosmosStore(db, clock, curve),
            tenduke=TenDukeStore(db, clock),
            journal=Journal(db, journal_size),
            rate=RateLimiter(db, clock),
            faults=FaultStore(db),
            webhooks=WebhookStore(db, clock),
            clock=clock,
        )

    def reset(self, everything: bool = False) -> None:
        """Forget events, the journal, request ids, fault rules and delivery attempts.

        With ``everything``, also credentials, keys and webhook receivers.
        """
        self.kosmos.reset(everything)
        self.tenduke.reset(everything)
        self.rate.reset()
        self.faults.clear()
        self.webhooks.reset(everything)
        self.journal.clear()

    def close(self) -> None:
        """Stop the listeners and close the database."""
        self.stopping = self.closed = True
        self.db.close()


def init_app(app: Flask) -> Backend:
    """Attach a backend built from ``app.config`` to ``app``."""
    backend = Backend.open(
        app.config["DATABASE"],
        app.config["CLOCK"],
        int(app.config["JOURNAL_SIZE"]),
        str(app.config["SQLITE_SYNCHRONOUS"]),
        str(app.config["EC_CURVE_NAME"]),
    )
    app.extensions[EXTENSION] = backend
    if backend.webhooks.any():  # receivers registered before a restart, or by another worker
        start_delivering(backend)
    return backend


def backend_of(app: Flask) -> Backend:
    """The backend of ``app``."""
    backend: Backend = app.extensions[EXTENSION]
    return backend


def current_backend() -> Backend:
    """The backend of the app handling the current request."""
    return backend_of(current_app)
