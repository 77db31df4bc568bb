"""Waiting inside a request without holding up the server's other connections.

Under ``eventdouble serve --workers N`` each request runs in a greenlet on the worker's event
loop (:mod:`mockserver.loop_server`); :func:`pause` there hands the loop back until the time is
up. Elsewhere (the threaded server, the test client, a script) it is ``time.sleep``.
"""

from __future__ import annotations

import time

import greenlet

__all__ = ["RequestGreenlet", "pause"]


class RequestGreenlet(greenlet.greenlet):  # type: ignore[misc] - greenlet ships no stubs for subclassing
    """A greenlet the event loop runs one request in; :func:`pause` switches back to the loop."""

    def pause(self, seconds: float) -> None:
        """Give the loop back for ``seconds`` (the loop switches here again when they are over)."""
        self.parent.switch(seconds)


def pause(seconds: float) -> None:
    """Wait ``seconds``: the event loop serves other connections meanwhile, if this request runs on one.

    Never call it while holding a lock another request may want: the next request runs on the
    same thread.
    """
    current = greenlet.getcurrent()
    if isinstance(current, RequestGreenlet):
        current.pause(seconds)
    else:
        time.sleep(seconds)
