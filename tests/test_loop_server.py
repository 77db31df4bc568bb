"""The workers' bridge (mockserver/loop_server.py) at the ASGI level: a WSGI app on an event loop,
each request in a greenlet, its waits (mockserver.waits.pause) giving the loop to the others."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request

from mockserver.lingering import LINGER_BYTES
from mockserver.loop_server import GC_YOUNG_THRESHOLD, WsgiOnLoop
from mockserver.waits import pause

closed: list[str] = []


def create_test_app(config: dict[str, Any]) -> Flask:
    """A small app with a slow answer, a streamed one, and one echoing the body it was given."""
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.get("/slow")
    def slow() -> str:
        pause(0.5)
        return "slow"

    @app.get("/fast")
    def fast() -> str:
        return "fast"

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            try:
                for n in range(3):
                    yield f"chunk {n}\n"
                    pause(0.05)
            finally:
                closed.append("stream")

        return Response(chunks(), mimetype="text/plain")

    @app.post("/echo")
    def echo() -> str:
        return f"{request.content_length}:{request.get_data(as_text=True)}"

    return app


def scope_of(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
        "http_version": "1.1", "headers": headers or [], "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 1),
    }  # fmt: skip


async def call(
    bridge: WsgiOnLoop,
    scope: dict[str, Any],
    bodies: list[bytes] | None = None,
    leave_after: float | None = None,
    asked: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Run one request through the bridge; what it sent. The client leaves after ``leave_after`` s;
    ``asked`` gets the size of each part of the body the bridge received."""
    bodies = bodies or [b""]
    pending = [{"type": "http.request", "body": b, "more_body": i < len(bodies) - 1} for i, b in enumerate(bodies)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            if asked is not None:
                asked.append(len(pending[0]["body"]))
            return pending.pop(0)
        await asyncio.sleep(leave_after if leave_after is not None else 3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await bridge(scope, receive, send)
    return sent


@pytest.fixture
def bridge() -> WsgiOnLoop:
    loop_app = WsgiOnLoop({}, factory=f"{__name__}:create_test_app")
    loop_app._load()
    return loop_app


def body_of(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_paused_request_lets_another_finish_first(bridge: WsgiOnLoop) -> None:
    finished: list[str] = []

    async def both() -> None:
        async def one(path: str) -> None:
            sent = await call(bridge, scope_of("GET", path))
            finished.append(body_of(sent).decode())

        await asyncio.gather(one("/slow"), one("/fast"))

    started = time.perf_counter()
    asyncio.run(both())
    assert finished == ["fast", "slow"]
    assert 0.45 <= time.perf_counter() - started < 2


def test_a_streamed_answer_is_sent_as_it_comes(bridge: WsgiOnLoop) -> None:
    sent = asyncio.run(call(bridge, scope_of("GET", "/stream")))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    parts = [m for m in sent if m["type"] == "http.response.body"]
    assert len(parts) >= 3 and all(m.get("more_body") for m in parts[:-1])
    assert body_of(sent) == b"chunk 0\nchunk 1\nchunk 2\n"


def test_a_client_that_leaves_a_stream_closes_it_and_gets_nothing_more(bridge: WsgiOnLoop) -> None:
    closed.clear()
    sent = asyncio.run(call(bridge, scope_of("GET", "/stream"), leave_after=0.01))
    assert closed == ["stream"]
    assert body_of(sent) == b"chunk 0\n"
    assert not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent)


def test_a_body_in_parts_reaches_the_app_whole(bridge: WsgiOnLoop) -> None:
    sent = asyncio.run(call(bridge, scope_of("POST", "/echo"), [b"ab", b"cd", b"e"]))
    assert body_of(sent) == b"5:abcde"


def test_a_body_declared_over_the_limit_is_read_whole_then_refused(bridge: WsgiOnLoop) -> None:
    """Read to its end before the answer (mockserver/lingering.py: nginx drops a connection whose
    body it had not relayed whole), but only the first limit + 1 bytes are kept."""
    headers = [(b"content-length", b"1000")]
    parts = [b"x" * 100] * 10
    asked = []
    sent = asyncio.run(call(bridge, scope_of("POST", "/echo", headers), parts, asked=asked))
    assert sent[0]["status"] == 413
    assert len(asked) == 10


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", str(100 + LINGER_BYTES + 1).encode())],
        [(b"content-length", b"1000"), (b"expect", b"100-continue")],
    ],
    ids=["too large even to throw away", "the client waits to be asked for it"],
)
def test_a_body_declared_over_the_limit_is_refused_unread_when(
    bridge: WsgiOnLoop, headers: list[tuple[bytes, bytes]]
) -> None:
    asked: list[int] = []
    sent = asyncio.run(call(bridge, scope_of("POST", "/echo", headers), [b"x" * 100] * 3, asked=asked))
    assert sent[0]["status"] == 413
    assert asked == []


def test_a_chunked_body_over_the_limit_is_refused(bridge: WsgiOnLoop) -> None:
    headers = [(b"transfer-encoding", b"chunked")]
    parts = [b"x" * 60] * 1000
    sent = asyncio.run(call(bridge, scope_of("POST", "/echo", headers), parts))
    assert sent[0]["status"] == 413


def test_a_finished_runner_is_reused_and_one_left_by_its_client_is_not(bridge: WsgiOnLoop) -> None:
    asyncio.run(call(bridge, scope_of("GET", "/fast")))
    kept = list(bridge._runners)
    assert len(kept) == 1
    asyncio.run(call(bridge, scope_of("GET", "/slow")))
    assert bridge._runners == kept  # the same greenlet answered again
    asyncio.run(call(bridge, scope_of("GET", "/stream"), leave_after=0.01))
    assert bridge._runners == [] and kept[0].dead


_WORKER_START = """
import asyncio, gc, json
from mockserver.loop_server import WsgiOnLoop

async def start() -> None:
    messages = [{"type": "lifespan.startup"}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else await asyncio.Event().wait()

    async def send(message):
        sent.append(message["type"])

    task = asyncio.ensure_future(WsgiOnLoop({}, factory="tests.test_loop_server:create_test_app")(
        {"type": "lifespan"}, receive, send))
    while not sent:
        await asyncio.sleep(0.01)
    task.cancel()
    print(json.dumps({"sent": sent, "frozen": gc.get_freeze_count(), "young": gc.get_threshold()[0]}))

asyncio.run(start())
"""


def test_a_started_worker_keeps_its_app_out_of_the_garbage_collector() -> None:
    """The worker's start (uvicorn's lifespan) freezes the built app and collects the young less often.

    In a process of its own: the setting is the process's, and this test's process must keep Python's.
    """
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", _WORKER_START], cwd=root, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    started = json.loads(run.stdout.strip().splitlines()[-1])
    assert started["sent"] == ["lifespan.startup.complete"]
    assert started["frozen"] > 1000  # the modules and the app, built before the worker answers
    assert started["young"] == GC_YOUNG_THRESHOLD
