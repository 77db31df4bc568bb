"""The two ways to serve the app: one threaded process (werkzeug) or uvicorn worker processes.

Both answer the requests they refuse themselves (a request line or header too long, too many
headers, a malformed header) in the API's JSON error format, like the app does.

The workers run an event loop each (:mod:`mockserver.loop_server`): a connection that sends
nothing, or drips its headers or body, is a socket waiting and not a held worker, and is closed
after ``KEEPALIVE_SECONDS`` of silence, so hundreds of them leave the mock answering everyone else.
"""

from __future__ import annotations

import logging
import signal
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from mockserver.error_format import raw_refusal
from mockserver.lingering import close_lingering, read_whole_body_first
from mockserver.logs import ACCESS_LOGGER, loop_logconfig
from mockserver.loop_server import JsonRefusingProtocol, WsgiOnLoop
from mockserver.tls import TlsFiles

__all__ = ["JsonErrorRequestHandler", "listen", "serve_threaded", "serve_workers", "threaded_server"]

KEEPALIVE_SECONDS = 5
"""How long a worker waits for the (next) request on a connection before closing it."""
GRACEFUL_SECONDS = 5
"""How long a stopping worker lets requests in progress (an event stream) finish."""


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


class JsonErrorRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with the refusals of its HTTP parser in JSON and plain access lines."""

    access_log = False
    """Log a line per request to ``eventdouble.access`` (``--access-log``)."""
    timeout = KEEPALIVE_SECONDS
    """Seconds a connection may stay silent (before its request, or in the middle of it) before it is closed."""

    def setup(self) -> None:
        """Set the connection up; on https, its TLS handshake happens here, in its own thread, within the timeout."""
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (OSError, ValueError):  # a plain-http client, a bad handshake, or silence: close, answer nothing
                self.close_connection = True
                self.handshake_failed = True

    handshake_failed = False

    def handle(self) -> None:
        """Serve the connection's requests, unless its TLS handshake failed."""
        if not self.handshake_failed:
            super().handle()

    def log_error(self, format: str, *args: Any) -> None:
        """Log what went wrong, except a silent connection closed on time (the workers close them quietly too)."""
        if not format.startswith("Request timed out"):
            super().log_error(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One access line, without werkzeug's terminal colours; only with ``--access-log``."""
        if self.access_log:
            logging.getLogger(ACCESS_LOGGER).info('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the parser refused (414, 431, 400) in the API's error format, and close."""
        words = (self.requestline or "").split()
        path = words[1].split("?", 1)[0] if len(words) >= 2 else None
        reason = self.responses.get(code, ("Error",))[0]
        if self.access_log:  # a line per request answered, as for the app's answers; none in a notebook or a kit run
            self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        text = ": ".join(part for part in (message, explain) if part)
        self.wfile.write(raw_refusal(path, code, reason, text or reason))


class _LingeringServer(ThreadedWSGIServer):
    """werkzeug's threaded server, closing each connection only once the client stopped sending.

    On https, an accepted connection's TLS handshake is left to its own thread (the request
    handler's ``setup``, with the idle timeout): a client that connects and says nothing cannot
    hold the accepting thread, as it would if werkzeug wrapped the listening socket.
    """

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; on https, wrapped for TLS without its handshake yet."""
        sock, address = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        """Close the connection after its answer without resetting it (:mod:`mockserver.lingering`)."""
        close_lingering(request)


def threaded_server(
    app: Flask,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    fd: int | None = None,
    access_log: bool = False,
    tls: ssl.SSLContext | None = None,
) -> ThreadedWSGIServer:
    """A server of ``app`` with a thread per connection, not yet serving (call ``serve_forever``); https with ``tls``.

    Used by ``eventdouble serve`` without ``--workers`` and by :class:`mockserver.MockServer`.
    """
    handler = type("RequestHandler", (JsonErrorRequestHandler,), {"access_log": access_log})
    server = _LingeringServer(host, port, read_whole_body_first(app), handler, fd=fd)
    server.ssl_context = tls  # set after werkzeug's init, which would wrap the listening socket; read for the scheme
    return server


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve_threaded(app: Flask, sock: socket.socket, access_log: bool = False, tls: TlsFiles | None = None) -> None:
    """Serve ``app`` on ``sock`` from this process, a thread per connection, until Ctrl+C or SIGTERM."""
    context = tls.server_context() if tls is not None else None
    server = threaded_server(app, *sock.getsockname()[:2], fd=sock.fileno(), access_log=access_log, tls=context)
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_workers(
    config: Mapping[str, Any],
    sock: socket.socket,
    workers: int,
    access_log: bool = False,
    factory: str = "mockserver.app:create_app",
    tls: TlsFiles | None = None,
) -> None:
    """Serve on ``sock`` with ``workers`` uvicorn processes until stopped (Ctrl+C, SIGTERM); https with ``tls``.

    Each worker builds the app, ``factory(config)``, itself (a SQLite connection must not cross
    a process boundary); a worker that dies is replaced.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options = uvicorn.Config(
        WsgiOnLoop(config, factory),
        http=JsonRefusingProtocol,
        loop="uvloop",
        ws="none",
        lifespan="on",
        workers=workers,
        access_log=False,
        log_config=loop_logconfig(access_log),
        timeout_keep_alive=KEEPALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        proxy_headers=False,  # the mock reports the address it was called from, as the threaded server does
        server_header=False,
        date_header=True,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )
    Multiprocess(options, sockets=[sock]).run()
