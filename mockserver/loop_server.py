"""``eventdouble serve --workers N``: uvicorn worker processes, the WSGI app run on their event loops.

Each worker is an asyncio event loop (uvloop) parsing HTTP with httptools, so a connection that
sends nothing, drips its headers or drips its body is only a socket waiting, never a held worker.
When a request has arrived whole, the app (Flask and SQLite, synchronous) runs inline on the
loop, in a greenlet of its own: no thread hand-off per request. Where the app waits (a fault
rule's delay, the event stream's poll) it calls :func:`mockserver.waits.pause`, which gives the
loop back until the time is up, so the other connections go on.

What the HTTP parser refuses itself (a request line or headers too long, too many header fields,
a malformed request) is answered in the API's JSON error format, like everything the app refuses.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import io
import logging
import sys
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

import greenlet
import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.backend import EXTENSION, Backend
from mockserver.error_format import raw_refusal
from mockserver.lingering import LINGER_BYTES, LINGER_SECONDS
from mockserver.logs import ACCESS_LOGGER
from mockserver.waits import RequestGreenlet

__all__ = ["JsonRefusingProtocol", "WsgiOnLoop"]

access_log = logging.getLogger(ACCESS_LOGGER)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TRANSPORT = "eventdouble.transport"
"""The scope key (and WSGI environ key) of the connection's asyncio transport, to drop it."""
MAX_REQUEST_LINE = 8190
"""Bytes of request target the parser takes before answering 414."""
MAX_HEADER_FIELDS = 100
"""Header fields in one request before the parser answers 431."""
DEFAULT_BODY_LIMIT = 1024 * 1024
DEFAULT_HEADERS_SIZE = 32 * 1024
"""Limits for an app without the mock's settings (the benchmark's bare Flask)."""
HEAD_READ_LIMIT = 4
"""The parser reads a request head up to this many times the app's MAX_HEADERS_SIZE, so the app
itself answers 431 with the field at fault; only beyond that does the parser refuse on its own."""


class _Refused(Exception):
    """Raised from a parser callback: the request is answered ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class JsonRefusingProtocol(HttpToolsProtocol):  # type: ignore[misc] - uvicorn's protocol is not typed for subclassing
    """uvicorn's httptools protocol, with limits on the request head and its refusals in JSON.

    A connection that stays silent for ``timeout_keep_alive`` seconds before, between or in the
    middle of its requests is closed, also before its first request; the app sees the transport
    in its environ.
    """

    refusal: _Refused | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start counting silence at once: a connection that never sends is closed like an idle one."""
        super().connection_made(transport)
        self._head_limit = getattr(self.app, "head_limit", DEFAULT_HEADERS_SIZE * HEAD_READ_LIMIT)
        self._head_bytes = 0
        self._head_start = b""
        self._body_done = True
        self._close_after_body = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self._discarded = 0
        self._closing_after_body = _ClosingAfterBody(self)
        self._idle_timer()

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse a head over the limit; while waiting for a head, count silence anew."""
        if self._linger_timer is not None:
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()  # a body past all bounds: not worth keeping the connection for
                return
        waiting = self._between_requests()
        if waiting:
            if not self._head_bytes:
                self._head_start = data[: MAX_REQUEST_LINE + 16]  # to name the path if the parser refuses
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if not self._between_requests():
            if not self._body_done:
                self._idle_timer()  # a body that stops arriving is silence like any other
            return
        if waiting and self._head_bytes > self._head_limit:
            self._refuse(_Refused(431, "Request Header Fields Too Large", "the request's header fields are too large"))
        else:
            self._idle_timer()

    def _between_requests(self) -> bool:
        """No request is being answered or received: the connection waits for (the rest of) the next head."""
        return self.cycle is None or (self.cycle.response_complete and self._body_done)

    def _idle_timer(self) -> None:
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def on_message_begin(self) -> None:
        """A new request: its scope carries the transport, and its head is counted from here."""
        super().on_message_begin()
        self.scope[TRANSPORT] = self.transport  # type: ignore[literal-required]
        self._fields = 0
        self._body_done = self._close_after_body = False

    def on_headers_complete(self) -> None:
        """The head is whole: the next head is counted from zero; the answer's close waits for the body."""
        self._head_bytes = 0
        super().on_headers_complete()
        self.cycle.transport = self._closing_after_body

    def on_message_complete(self) -> None:
        """The request's body has arrived whole (also one answered before it was read, and discarded)."""
        self._body_done = True
        self._unset_keepalive_if_required()  # the app may take its time: only the client's silence is timed
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        if self._close_after_body:
            self.transport.close()
            return
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """The answer is sent; if the body is still arriving, it is read and discarded, within bounds.

        Closing now would reset the connection under a client (or nginx) still sending, and the
        reset can destroy the answer (:mod:`mockserver.lingering`).
        """
        super().on_response_complete()
        if not self._body_done and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            self._discarded = 0
            self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def close_after_body(self) -> None:
        """Close the connection now, or once the request's body has arrived (see :class:`_ClosingAfterBody`)."""
        if self._body_done:
            self.transport.close()
        else:
            self._close_after_body = True

    def on_url(self, url: bytes) -> None:
        """Collect the request target; 414 past :data:`MAX_REQUEST_LINE` bytes."""
        super().on_url(url)
        if len(self.url) > MAX_REQUEST_LINE:
            self._stop(_Refused(414, "URI Too Long", f"the request target is over {MAX_REQUEST_LINE} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect a header field; 431 past :data:`MAX_HEADER_FIELDS` of them."""
        self._fields += 1
        if self._fields > MAX_HEADER_FIELDS:
            self._stop(_Refused(431, "Request Header Fields Too Large", f"over {MAX_HEADER_FIELDS} header fields"))
        super().on_header(name, value)

    def _stop(self, refusal: _Refused) -> None:
        """Stop parsing: httptools turns the exception into its own error, answered by send_400_response."""
        self.refusal = refusal
        raise refusal

    def shutdown(self) -> None:
        """The server is stopping: tell the app first, so its event streams end instead of being cut off."""
        stopping = getattr(self.app, "stopping", None)
        if stopping is not None:
            stopping()
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        """What httptools refused (or a limit above): answered in the API's JSON format, then closed."""
        parser_error = sys.exc_info()[1]  # called inside uvicorn's handler of httptools' error: say what it was
        why = f": {parser_error}" if isinstance(parser_error, httptools.HttpParserError) and str(parser_error) else ""
        self._refuse(self.refusal or _Refused(400, "Bad Request", f"the request is not valid HTTP/1.1{why}"))

    def _refuse(self, refusal: _Refused) -> None:
        target = bytes(getattr(self, "url", b"") or b"")
        if not target:  # refused before httptools reported the target: read it from the request line
            words = self._head_start.split(b"\r\n", 1)[0].split(b" ")
            target = words[1] if len(words) > 1 else b""
        path = target.decode("latin-1").split("?", 1)[0] or None
        self._unset_keepalive_if_required()
        self.transport.write(raw_refusal(path, refusal.status, refusal.reason, str(refusal)))
        self.transport.close()


class _ClosingAfterBody:
    """The connection as uvicorn's answer to one request sees it: closing it waits for the request's body.

    uvicorn closes the connection as soon as an answer marked ``Connection: close`` is sent; if the
    body is still arriving, that close is deferred until the body has been read and discarded.
    """

    def __init__(self, protocol: JsonRefusingProtocol) -> None:
        self._protocol = protocol
        self.write = protocol.transport.write  # the hot path, without __getattr__

    def close(self) -> None:
        """Close once the request's body has arrived (:meth:`JsonRefusingProtocol.close_after_body`)."""
        self._protocol.close_after_body()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol.transport, name)


_DONE = object()
"""What a runner switches back with when its answer is complete (a pause switches back seconds)."""
KEEP_RUNNERS = 64
"""Finished runners kept for the next requests: making a greenlet costs about 8 µs, reusing one 1."""


class _Runner(RequestGreenlet):
    """A greenlet of the event loop that computes answers, one after another (kept and reused)."""

    def run(self, answer: _Answer) -> None:
        while True:
            answer.compute()
            answer = self.parent.switch(_DONE)


class _Answer:
    """One WSGI call and the iteration of its answer, computed in a :class:`_Runner`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
        self.app, self.environ = app, environ
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.started = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        """PEP 3333's ``start_response``; the answer is sent by the loop, not here."""
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.chunks.append

    def compute(self) -> None:
        """Call the app and collect its answer; pauses switch to the loop (:func:`mockserver.waits.pause`)."""
        result = self.app(self.environ, self.start_response)
        try:
            for chunk in result:
                if chunk:
                    self.chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI request whose body has been read (PEP 3333 strings)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(scope["raw_path"]).decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        TRANSPORT: scope.get(TRANSPORT),
    }
    declared = None
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name == "content-length":
            declared = value
            continue
        if name == "transfer-encoding":  # the body below is whole and de-chunked
            continue
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["CONTENT_LENGTH"] = declared if declared is not None and not body else str(len(body))
    return environ


GC_YOUNG_THRESHOLD = 5_000
"""Allocations (net) between two collections of the youngest generation in a worker; Python's default is 700."""


def settle_garbage_collector() -> None:
    """Keep a worker's built app out of the cyclic garbage collector, and collect the young less often.

    The app's objects (modules, specs, validators: about 100,000) live as long as the worker, yet
    every full collection walked them all; frozen, they are never walked again. Cyclic garbage
    made by requests is still collected. The figures: README, "Serving at load". Only in the
    workers, processes the mock owns: never in a process that hosts :class:`~mockserver.MockServer`.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


class WsgiOnLoop:
    """An ASGI app serving a Flask app that ``factory`` (``module:function``) builds from ``config``.

    The app is built in each worker when it starts, so each has its own database connection.
    """

    def __init__(self, config: Mapping[str, Any], factory: str = "mockserver.app:create_app") -> None:
        self.config, self.factory = dict(config), factory
        self.app: Any = None
        self.head_limit = DEFAULT_HEADERS_SIZE * HEAD_READ_LIMIT
        """Bytes of request head the parser reads before refusing on its own (431)."""
        self._runners: list[_Runner] = []
        self._paused: set[asyncio.Future[None]] = set()

    def _load(self) -> Any:
        module, name = self.factory.split(":")
        self.app = getattr(importlib.import_module(module), name)(self.config)
        self.body_limit = int(self.app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_BODY_LIMIT)
        self.head_limit = int(self.app.config.get("MAX_HEADERS_SIZE") or DEFAULT_HEADERS_SIZE) * HEAD_READ_LIMIT
        return self.app

    def _backend(self) -> Backend | None:
        """The mock's backend; None before the app is built, or for an app that is not the mock."""
        return self.app.extensions.get(EXTENSION) if self.app is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry: uvicorn's start and stop, and HTTP requests."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    def stopping(self) -> None:
        """The server begins to stop: event streams end, and paused requests go on at once."""
        if (backend := self._backend()) is not None:
            backend.stopping = True
        for wake in self._paused:
            if not wake.done():
                wake.set_result(None)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._load()
                except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which stops the worker
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                settle_garbage_collector()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if (backend := self._backend()) is not None:
                    backend.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body, read whole before the app answers; None if the client left.

        Past the limit only the first ``limit + 1`` bytes are kept (the app answers 413) and the
        rest is read and thrown away, up to :data:`LINGER_BYTES` (:mod:`mockserver.lingering`).
        Not read at all: a body declared larger than that, or one the client waits to be asked
        for (``Expect: 100-continue``) that is declared over the limit.
        """
        declared, expects = None, False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"expect":
                expects = value.lower() == b"100-continue"
        if declared is not None and declared > self.body_limit + (0 if expects else LINGER_BYTES):
            return b""  # refused on its declared length
        chunks, kept, size = [], 0, 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if chunk and kept <= self.body_limit:
                chunks.append(chunk)
                kept += len(chunk)
            if not message.get("more_body") or size > self.body_limit + LINGER_BYTES:
                return b"".join(chunks)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            self._load()
        body = await self._read_body(scope, receive)
        if body is None:
            return
        request = _Answer(self.app, _environ(scope, body))
        transport = scope.get(TRANSPORT)
        runner = self._runners.pop() if self._runners else _Runner()
        watch: asyncio.Future[Any] | None = None
        done = False
        try:
            seconds = runner.switch(request)
            while seconds is not _DONE:
                if isinstance(seconds, asyncio.Future):  # the app waits for the loop (waits.wait_for)
                    seconds = runner.switch(await seconds)
                    continue
                # the app paused: send what it has answered so far, then wait
                if request.status is not None and not (transport is not None and transport.is_closing()):
                    if not request.started:
                        await send(_start(request))
                        request.started = True
                    if request.chunks:
                        chunk, request.chunks[:] = b"".join(request.chunks), []
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                watch = watch or asyncio.ensure_future(receive())
                wake = asyncio.get_running_loop().create_future()
                self._paused.add(wake)
                try:
                    finished, _ = await asyncio.wait([watch, wake], timeout=seconds, return_when=FIRST_COMPLETED)
                finally:
                    self._paused.discard(wake)
                if watch in finished and watch.result().get("type") == "http.disconnect":
                    runner.throw(greenlet.GreenletExit)  # the client left: the app's answer is closed, not sent
                    return
                if watch in finished:
                    watch = None
                seconds = runner.switch()
            done = True
        except BaseException:
            if not runner.dead:
                runner.throw(greenlet.GreenletExit)
            raise
        finally:
            if watch is not None:
                watch.cancel()
            if done and len(self._runners) < KEEP_RUNNERS:
                self._runners.append(runner)
        if transport is not None and transport.is_closing():
            return  # the app dropped the connection (a fault rule): nobody reads an answer
        if not request.started:
            await send(_start(request))
        await send({"type": "http.response.body", "body": b"".join(request.chunks)})
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s "%s %s HTTP/%s" %s', (scope.get("client") or ("-",))[0], scope["method"],
                _target(scope), scope["http_version"], (request.status or "").split(" ", 1)[0],
            )  # fmt: skip


def _start(request: _Answer) -> dict[str, Any]:
    status = request.status or "500 Internal Server Error"
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers]
    return {"type": "http.response.start", "status": int(status[:3]), "headers": headers}


def _target(scope: Scope) -> str:
    path = scope["raw_path"].decode("latin-1")
    return f"{path}?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else path
