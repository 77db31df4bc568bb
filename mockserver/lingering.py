"""Lingering close: an answer sent before the request's body was read must still reach the client.

The mock refuses some requests before reading their body (413 on a declared ``Content-Length``
over the limit, a missing signature header). If it then closed the connection while the client
(or nginx, relaying the body) is still sending, the kernel would answer the unread bytes with a
reset, and the reset can destroy the answer before it is read: nginx reports 502, a client sees
"connection reset". So the servers go on reading and discarding the rest of such a body, as
Apache and nginx do, within bounds a hostile client cannot stretch: at most
:data:`LINGER_SECONDS` and :data:`LINGER_BYTES`, after which the connection is closed anyway.
"""

from __future__ import annotations

import select
import socket
import time

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "close_lingering"]

LINGER_SECONDS = 5.0
"""Longest a connection is kept after its answer to discard input nobody reads (the idle limit)."""
LINGER_BYTES = 64 * 1024 * 1024
"""Most input discarded after an answer; a client sending more gets its connection closed."""
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
