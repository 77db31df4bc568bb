"""One log format for the mock, its single-process server and its workers: time, level, logger, message.

Nothing is coloured, so logs read the same in a terminal, a file or a CI log.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["ACCESS_LOGGER", "DATE_FORMAT", "LOG_FORMAT", "configure_logging", "loop_logconfig"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
ACCESS_LOGGER = "eventdouble.access"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the one it was made with."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send every logger's records to standard error in :data:`LOG_FORMAT` (this process)."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its request lines are ours (access log)


def loop_logconfig(access_log: bool) -> dict[str, Any]:
    """The ``log_config`` of uvicorn: the same format for its supervisor, its workers and the app in them."""
    quiet = {"level": "WARNING", "handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"eventdouble": {"format": LOG_FORMAT, "datefmt": DATE_FORMAT}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "eventdouble", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": quiet,
            ACCESS_LOGGER: {"level": "INFO" if access_log else "WARNING", "handlers": ["stderr"], "propagate": False},
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
    }
