"""The two ways to serve the app: one threaded process (werkzeug) or several gunicorn workers."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from werkzeug.serving import make_server

from mockserver.app import create_app

__all__ = ["GunicornMock", "listen", "serve_threaded", "serve_workers"]

HEADER_READ_LIMIT = 4
"""gunicorn reads header fields up to this many times the app's MAX_HEADER_LENGTH, so the app
itself answers 431 in the API's format; only beyond that does gunicorn refuse on its own (400)."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 picks a free one); OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve_threaded(app: Flask, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` from this process, a thread per request, until Ctrl+C."""
    server = make_server(*sock.getsockname()[:2], app, threaded=True, fd=sock.fileno())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()


class GunicornMock(BaseApplication):  # type: ignore[misc] - gunicorn ships no type hints
    """gunicorn running :func:`create_app` in each worker (not preloaded: SQLite must not cross a fork)."""

    def __init__(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.app_config = dict(config)
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Apply our options to gunicorn's configuration."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """The WSGI app of one worker, with its own database connection."""
        return create_app(self.app_config)


def gunicorn_options(sock: socket.socket, workers: int, threads: int, max_header: int) -> dict[str, Any]:
    """Gunicorn settings serving ``sock``: quiet access log, errors to stderr, a worker class by ``threads``."""
    return {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_field_size": max_header * HEADER_READ_LIMIT,
        "graceful_timeout": 5,
        "proc_name": "eventdouble",
    }


def serve_workers(
    config: Mapping[str, Any], sock: socket.socket, workers: int, threads: int = 1, max_header: int = 8192
) -> None:
    """Serve on ``sock`` with ``workers`` gunicorn processes until the master is stopped."""
    GunicornMock(config, gunicorn_options(sock, workers, threads, max_header)).run()
