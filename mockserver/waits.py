"""Waiting inside a request without holding up the server's other connections.

Under ``eventdouble serve --workers N`` each request runs in a greenlet on the worker's event
loop (:mod:`mockserver.loop_server`); :func:`pause` there hands the loop back until the time is
up, and :func:`wait_for` until a future of the loop is done. Elsewhere (the threaded server, the
test client, a script) :func:`pause` is ``time.sleep``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

import greenlet

__all__ = ["RequestGreenlet", "on_event_loop", "pause", "wait_for"]

T = TypeVar("T")


class RequestGreenlet(greenlet.greenlet):  # type: ignore[misc] - greenlet ships no stubs for subclassing
    """A greenlet the event loop runs one request in; :func:`pause` switches back to the loop."""

    def pause(self, seconds: float) -> None:
        """Give the loop back for ``seconds`` (the loop switches here again when they are over)."""
        self.parent.switch(seconds)

    def wait_for(self, future: asyncio.Future[T]) -> T:
        """Give the loop back until ``future`` is done; its result (the loop switches back with it)."""
        result: T = self.parent.switch(future)
        return result


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


def on_event_loop() -> bool:
    """Whether this code runs in a request on a worker's event loop (where :func:`wait_for` works)."""
    return isinstance(greenlet.getcurrent(), RequestGreenlet)


def wait_for(future: asyncio.Future[T]) -> T:
    """The result of ``future``, a future of the event loop this request runs on, once it is done.

    Only in a request on the loop (:func:`on_event_loop`); the loop serves other connections meanwhile.
    """
    current = greenlet.getcurrent()
    if not isinstance(current, RequestGreenlet):
        raise RuntimeError("wait_for is only for requests running on a worker's event loop")
    return current.wait_for(future)
