"""The two ways to serve the app: one threaded process (werkzeug) or several gunicorn workers.

Both answer the requests they refuse themselves (a request line or header too long, too many
headers, a malformed header) in the API's JSON error format, like the app does.

The workers are gevent workers: a connection that sends nothing, or drips its headers, holds a
greenlet and not a worker, and is closed after ``KEEPALIVE_SECONDS`` of silence, so hundreds of
them leave the mock answering everyone else.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import warnings
from collections.abc import Mapping
from typing import Any

import gevent
from flask import Flask
from gevent.monkey import MonkeyPatchWarning
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.workers.ggevent import GeventWorker
from werkzeug.serving import WSGIRequestHandler, make_server

from mockserver.app import create_app
from mockserver.error_format import error_json
from mockserver.logs import ACCESS_LOGGER, gunicorn_logconfig

__all__ = [
    "GunicornMock",
    "JsonErrorGeventWorker",
    "JsonErrorRequestHandler",
    "QuietAccessLogger",
    "listen",
    "serve_threaded",
    "serve_workers",
]

KEEPALIVE_SECONDS = 5
"""How long a worker waits for the (next) request on a connection before closing it."""
MAX_MESSAGE = 300

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


def _refusal_response(path: str | None, status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 refusal in the API's JSON format; the connection is closed after it."""
    body = error_json(path, status, message[:MAX_MESSAGE] or reason)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with the refusals of its HTTP parser in JSON and plain access lines."""

    access_log = False
    """Log a line per request to ``eventdouble.access`` (``--access-log``)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One access line, without werkzeug's terminal colours; only with ``--access-log``."""
        if self.access_log:
            logging.getLogger(ACCESS_LOGGER).info('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the parser refused (414, 431, 400) in the API's error format, and close."""
        words = (self.requestline or "").split()
        path = words[1].split("?", 1)[0] if len(words) >= 2 else None
        reason = self.responses.get(code, ("Error",))[0]
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        text = ": ".join(part for part in (message, explain) if part)
        self.wfile.write(_refusal_response(path, code, reason, text or reason))


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve_threaded(app: Flask, sock: socket.socket, access_log: bool = False) -> None:
    """Serve ``app`` on ``sock`` from this process, a thread per connection, until Ctrl+C or SIGTERM."""
    handler = type("RequestHandler", (JsonErrorRequestHandler,), {"access_log": access_log})
    server = make_server(*sock.getsockname()[:2], app, threaded=True, fd=sock.fileno(), request_handler=handler)
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class _JsonErrorSocket:
    """The client socket as gunicorn's error writer sees it: its HTML error page goes out as JSON."""

    def __init__(self, sock: Any, path: str | None, message: str) -> None:
        self._sock, self._path, self._message = sock, path, message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        """Send the refusal whose status line starts ``data`` in the API's format instead of ``data``."""
        _, status, reason = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        message = "internal error in the mock; see its log" if status == "500" else self._message
        self._sock.sendall(_refusal_response(self._path, int(status), reason, message))


def _path_being_parsed(exc: BaseException) -> str | None:
    """The path of the request gunicorn was parsing when it refused its headers, if it got that far.

    gunicorn raises from inside its request's constructor, so the request is only reachable as
    ``self`` in a frame of the exception's traceback.
    """
    frame = exc.__traceback__
    while frame is not None:
        path = getattr(frame.tb_frame.f_locals.get("self"), "path", None)
        if isinstance(path, str):
            return path
        frame = frame.tb_next
    return None


class JsonErrorGeventWorker(GeventWorker):  # type: ignore[misc] - gunicorn ships no type hints
    """gunicorn's gevent worker, with the refusals of its HTTP parser in JSON."""

    def patch(self) -> None:
        """Gevent's monkey-patching; its warning that ssl was imported first does not apply (no TLS here)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MonkeyPatchWarning)
            super().patch()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """Serve one request, then let the worker's other connections have their turn.

        gevent switches only when a socket would block: a keep-alive client whose next request is
        already waiting would otherwise be served again and again while the others wait.
        """
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.sleep(0)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Let gunicorn log and choose the status; send the body in the API's error format."""
        path = getattr(req or getattr(exc, "req", None), "path", None) or _path_being_parsed(exc)
        super().handle_error(req, _JsonErrorSocket(client, path, str(exc)), addr, exc)


class QuietAccessLogger(glogging.Logger):  # type: ignore[misc] - gunicorn ships no type hints
    """gunicorn's logger, building an access line only when ``--access-log`` asked for one.

    gunicorn builds each line's fields whenever a logging configuration is given (ours always
    is, for the format), and only then finds the access logger's level too high to print it.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Log the request if the access log is on; otherwise do nothing at all."""
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


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


def gunicorn_options(sock: socket.socket, workers: int, max_header: int, access_log: bool = False) -> dict[str, Any]:
    """Gunicorn settings serving ``sock``: gevent workers, our log format, an access log if asked."""
    return {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "worker_class": f"{__name__}.JsonErrorGeventWorker",
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": "-" if access_log else None,
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s',
        "logger_class": f"{__name__}.QuietAccessLogger",
        "errorlog": "-",
        "loglevel": "warning",
        "logconfig_dict": gunicorn_logconfig(access_log),
        "limit_request_field_size": max_header * HEADER_READ_LIMIT,
        "graceful_timeout": 5,
        "proc_name": "eventdouble",
    }


def serve_workers(
    config: Mapping[str, Any], sock: socket.socket, workers: int, max_header: int = 8192, access_log: bool = False
) -> None:
    """Serve on ``sock`` with ``workers`` gunicorn processes until the master is stopped (Ctrl+C, SIGTERM)."""
    master = os.getpid()
    try:
        GunicornMock(config, gunicorn_options(sock, workers, max_header, access_log)).run()
    except SystemExit as exc:  # gunicorn's master exits this way on SIGINT and SIGTERM; a worker too
        if os.getpid() != master or exc.code not in (0, None):
            raise
