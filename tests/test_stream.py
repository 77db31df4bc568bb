"""Issue 14, the live stream: GET /__admin/stream (server-sent events) and MockServer.wait_for_event."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from flask.testing import FlaskClient

from eventclient import KosmosClient, TenDukeClient
from mockserver.inprocess import MockServer
from mockserver.stream import EventFilter, Position
from tests.conftest import SERVER_MODES, KosmosSigner, TenDukeSigner, rsa_pair
from tests.servers import launch_server


def messages(body: str) -> list[tuple[str, dict[str, Any]]]:
    """The (id, data) of each message of an event-stream body; comments and retry lines skipped."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            found.append((fields["id"], json.loads(fields["data"])))
    return found


def test_a_bounded_stream_from_the_start_holds_every_stored_event_in_order(
    client: FlaskClient, signer: KosmosSigner, tenduke: TenDukeSigner, make_license: Any
) -> None:
    license_key = make_license()
    assert signer.put_event(license_key, name="E_ONE").status_code == 200
    assert (
        tenduke.put([{"eventSourceId": "s", "eventType": "a"}, {"eventSourceId": "s", "eventType": "b"}]).status_code
        == 200
    )
    response = client.get("/__admin/stream", query_string={"from": "start", "maxSeconds": 0.3})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    got = messages(response.get_data(as_text=True))
    assert [(m["api"], m["event"].get("eventName") or m["event"]["eventType"]) for _, m in got] == [
        ("kosmos", "E_ONE"),
        ("tenduke", "a"),
        ("tenduke", "b"),
    ]
    assert got[-1][1]["event"]["eventReceived"] > got[-2][1]["event"]["eventReceived"]
    # resuming after the first message gives the rest, and nothing twice
    resumed = client.get("/__admin/stream", query_string={"maxSeconds": 0.3}, headers={"Last-Event-ID": got[0][0]})
    assert [m for _, m in messages(resumed.get_data(as_text=True))] == [m for _, m in got[1:]]


def test_a_stream_from_now_skips_what_was_stored_before(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put({"eventSourceId": "s", "eventType": "old"})
    response = client.get("/__admin/stream", query_string={"maxSeconds": 0.2})
    assert messages(response.get_data(as_text=True)) == []


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"api": "kosmos"}, ["E_A", "E_B"]),
        ({"api": "tenduke"}, ["a", "b"]),
        ({"eventName": "E_B"}, ["E_B"]),
        ({"tenantId": "t1", "communityId": "c1"}, ["E_A", "E_B"]),
        ({"tenantId": "other"}, []),
        ({"eventSourceId": "s2"}, ["b"]),
        ({"eventType": "a", "api": "tenduke"}, ["a"]),
        ({"eventType": "a", "api": "kosmos"}, []),
    ],
)
def test_filters_pass_only_the_events_asked_for(
    client: FlaskClient,
    signer: KosmosSigner,
    tenduke: TenDukeSigner,
    make_license: Any,
    query: dict[str, str],
    expected: list[str],
) -> None:
    license_key = make_license()
    signer.put_event(license_key, name="E_A")
    signer.put_event(license_key, name="E_B")
    tenduke.put([{"eventSourceId": "s1", "eventType": "a"}, {"eventSourceId": "s2", "eventType": "b"}])
    response = client.get("/__admin/stream", query_string={"from": "start", "maxSeconds": 0.2, **query})
    names = [
        m["event"].get("eventName") or m["event"]["eventType"] for _, m in messages(response.get_data(as_text=True))
    ]
    assert names == expected


def test_a_filter_and_a_position_round_trip() -> None:
    assert Position.parse(Position(12, 1795499282551618773).text()) == Position(12, 1795499282551618773)
    assert Position.parse("12") is None and Position.parse("a.b") is None and Position.parse(None) is None
    assert Position.parse(f"{2**63}.0") is None and Position.parse(f"0.{2**63}") is None  # beyond SQLite's integers
    assert Position.parse(f"{2**63 - 1}.0") == Position(2**63 - 1, 0)
    wanted = EventFilter.of({"api": "tenduke", "eventSourceId": "s", "tenantId": None})
    assert wanted.as_json() == {"api": "tenduke", "eventSourceId": "s"}
    assert wanted.matches("tenduke", {"eventSourceId": "s"})
    assert not wanted.matches("tenduke", {"eventSourceId": "t"})
    assert not wanted.matches("kosmos", {"eventSourceId": "s"})


def test_an_unusable_last_event_id_starts_from_now(client: FlaskClient, tenduke: TenDukeSigner) -> None:
    tenduke.put({"eventSourceId": "s", "eventType": "old"})
    for header in ("99999999999999999999.1", "1.99999999999999999999", "junk", "-1.-1"):
        response = client.get("/__admin/stream", query_string={"maxSeconds": 0.1}, headers={"Last-Event-ID": header})
        assert response.status_code == 200
        assert messages(response.get_data(as_text=True)) == []


def test_a_bad_stream_query_is_refused(client: FlaskClient) -> None:
    response = client.get("/__admin/stream", query_string={"api": "both"})
    assert response.status_code == 400
    assert client.get("/__admin/stream", query_string={"maxSeconds": -1}).status_code == 400


# --- MockServer.wait_for_event ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def test_wait_for_event_finds_an_event_sent_before_and_one_sent_after(srv: MockServer) -> None:
    pair = rsa_pair(2048, slot=4)
    srv.register_tenduke_client(pair.public_pem)
    with TenDukeClient(srv.url, pair.private_pem) as client:
        client.put({"eventSourceId": "w", "eventType": "before"})
        found = srv.wait_for_event("tenduke", lambda e: e["eventType"] == "before", timeout=5)
        assert found["eventSourceId"] == "w"

        later = threading.Timer(0.3, lambda: client.put({"eventSourceId": "w", "eventType": "after"}))
        later.start()
        started = time.monotonic()
        found = srv.wait_for_event("tenduke", lambda e: e["eventType"] == "after", timeout=5, new_only=True)
        later.join()
    assert found["eventType"] == "after"
    assert time.monotonic() - started < 3


def test_wait_for_event_times_out_with_a_clear_message(srv: MockServer) -> None:
    with pytest.raises(TimeoutError, match=r"no matching kosmos event within 0\.2 s"):
        srv.wait_for_event("kosmos", lambda e: e.get("eventName") == "NEVER", timeout=0.2)
    with pytest.raises(ValueError, match="api must be"):
        srv.wait_for_event("both")


# --- served: both server modes ---------------------------------------------------------------------


class Listener:
    """An SSE client in a thread, on a plain socket, recording each message with the time it arrived."""

    def __init__(self, url: str, **query: Any) -> None:
        parts = urlsplit(url)
        self.got: list[tuple[float, dict[str, Any]]] = []
        self._sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self._sock.sendall(f"GET /__admin/stream?{urlencode(query)} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        self._lines = self._sock.makefile("rb")
        assert b" 200 " in self._lines.readline()
        while self._lines.readline() not in (b"\r\n", b""):  # the response headers
            pass
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed by close()
            for line in self._lines:  # chunk-size lines are skipped like any line that is not data
                if line.startswith(b"data: "):
                    self.got.append((time.monotonic(), json.loads(line[6:])))

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        """Leave the stream, as a client going away does."""
        self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)
        self._sock.close()


def test_served_a_listener_gets_each_accepted_event_within_a_second(served: str) -> None:
    license_key = httpx.post(f"{served}/__admin/licenses", json={"authLevel": "system"}).json()["licenseKey"]
    pair = rsa_pair(2048, slot=5)
    httpx.post(f"{served}/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
    marker = f"live-{time.time_ns()}"
    listener = Listener(served, maxSeconds=8)
    with KosmosClient(served, license_key) as kosmos, TenDukeClient(served, pair.private_pem) as tenduke:
        kosmos.put_event("t", "c", marker, {"type": "event"})
        sent_kosmos = time.monotonic()
        tenduke.put({"eventSourceId": marker, "eventType": "x"})
        sent_tenduke = time.monotonic()
    listener.wait_for(2)
    got = {message["api"]: (arrived, message["event"]) for arrived, message in listener.got}
    assert got["kosmos"][1]["eventName"] == marker and got["tenduke"][1]["eventSourceId"] == marker
    assert got["kosmos"][0] - sent_kosmos < 1.0
    assert got["tenduke"][0] - sent_tenduke < 1.0
    listener.close()


def test_served_a_listener_gets_every_workers_events(served: str) -> None:
    pair = rsa_pair(2048, slot=6)
    httpx.post(f"{served}/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
    marker = f"many-{time.time_ns()}"
    listener = Listener(served, maxSeconds=10, eventSourceId=marker)
    with TenDukeClient(served, pair.private_pem) as tenduke:
        for n in range(12):  # a new connection each time: the workers share them out
            tenduke.http.client.headers["Connection"] = "close"
            tenduke.put({"eventSourceId": marker, "eventType": str(n)})
    listener.wait_for(12)
    assert [m["event"]["eventType"] for _, m in listener.got] == [str(n) for n in range(12)]
    listener.close()


@pytest.mark.parametrize("mode", list(SERVER_MODES))
def test_stopping_the_mock_ends_its_streams_at_once_and_quietly(tmp_path: Path, mode: str) -> None:
    """Ctrl+C with a listener connected: the stream ends (the listener sees its end), the mock stops
    within a few seconds, and it prints no traceback."""
    process, base, _ = launch_server("--db", str(tmp_path / "s.sqlite"), *SERVER_MODES[mode])
    ended = threading.Event()

    def listen() -> None:
        with contextlib.suppress(httpx.HTTPError), httpx.stream("GET", f"{base}/__admin/stream", timeout=30) as reply:
            for _ in reply.iter_raw():
                pass
        ended.set()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=15)
    assert time.monotonic() - started < 3, output
    assert ended.wait(5)
    assert "Traceback" not in output and "stopped" in output, output
