"""An answer decided before the request's body was read must still reach the client.

The mock refuses some requests before it needs their body (413 on a declared ``Content-Length``
over the limit, a missing signature header). Two things go wrong if it answers at once:

- it closes the connection while the client (or nginx, relaying the body) is still sending: the
  kernel answers the unread bytes with a reset, which can destroy the answer (nginx: 502);
- nginx, relaying the body as it arrives (the scaling recipe), stops relaying once the answer is
  whole, and then closes its client's connection although the answer said keep-alive: the
  client's next request on it finds it closed ("Server disconnected").

So the servers read the rest of the body, and throw it away, before they answer
(:func:`read_whole_body_first` in the threaded server; ``_read_body`` in the workers), and after an
answer they close only once the client stopped sending (:func:`close_lingering`; the workers'
protocol), as Apache and nginx do. Both within bounds a hostile client cannot stretch:
:data:`LINGER_BYTES` of body beyond the limit, and :data:`LINGER_SECONDS` after the answer.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "close_lingering", "read_whole_body_first"]

LINGER_SECONDS = 5.0
"""Longest a connection is kept after its answer to discard input nobody reads (the idle limit)."""
LINGER_BYTES = 64 * 1024 * 1024
"""Most body read and thrown away (beyond the limit, and again after the answer); beyond it the
answer is sent and the connection closed."""
_CHUNK = 64 * 1024


def close_lingering(sock: socket.socket) -> None:
    """Close a blocking ``sock`` whose answer is sent: stop writing, discard input until EOF (bounded), close.

    A client that read the answer and closed costs one read; one that keeps sending is read until it
    stops, :data:`LINGER_SECONDS` pass or :data:`LINGER_BYTES` arrive.
    """
    try:
        sock.shutdown(socket.SHUT_WR)  # the client sees the answer end; a proxy stops sending the body
        deadline, discarded = time.monotonic() + LINGER_SECONDS, 0
        while discarded < LINGER_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                break
            chunk = sock.recv(_CHUNK)
            if not chunk:
                break
            discarded += len(chunk)
    except OSError:
        pass  # the client is gone: nothing left to protect
    finally:
        sock.close()


class _CountedInput:
    """A request's ``wsgi.input`` that counts how much of it the app read."""

    def __init__(self, stream: Any) -> None:
        self._stream, self.consumed = stream, 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(size)
        self.consumed += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self._stream.readline(size)
        self.consumed += len(line)
        return line

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def read_whole_body_first(app: WsgiApp) -> WsgiApp:
    """``app``, whose answers are sent only once the request's body has been read whole.

    What the app left unread (it refused before it needed the body) is read and thrown away, up to
    :data:`LINGER_BYTES`; a larger rest is left unread, and the connection closes after the answer.
    """

    def whole_body_read(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _CountedInput(environ["wsgi.input"])
        declared, streamed = environ.get("CONTENT_LENGTH", ""), "wsgi.input_terminated" in environ
        environ["wsgi.input"] = body
        answer = app(environ, start_response)  # werkzeug sends nothing before the answer is iterated
        _discard_rest(body, int(declared) if declared.isdigit() else None, streamed)
        return answer

    return whole_body_read


def _discard_rest(body: _CountedInput, declared: int | None, streamed: bool) -> None:
    left = declared - body.consumed if declared is not None else LINGER_BYTES if streamed else 0
    if left > LINGER_BYTES:
        return
    try:
        while left > 0 and (chunk := body.read(min(left, _CHUNK))):
            left -= len(chunk)
    except OSError:
        pass  # silent too long, or gone: the answer is sent and the connection closed
