"""Issue 14, signed webhooks: receivers get every accepted event they filter for, signed, in order,
retried with back-off; a receiver that is slow or down never slows or fails ingestion."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from eventclient import KosmosClient, TenDukeClient
from mockserver.db import SqliteDatabase
from mockserver.inprocess import MockServer
from mockserver.stream import Position, StreamedEvent
from mockserver.webhooks import RETRY_DELAYS, WebhookStore
from tests.conftest import rsa_pair

SECRET = "receiver-secret"


class Receiver:
    """A real HTTP server that records each POST; it answers the statuses in ``answers`` first, then 200."""

    def __init__(self, answers: list[int] | None = None, hang_seconds: float = 0) -> None:
        self.got: list[tuple[float, dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hang_seconds:
                    time.sleep(hang_seconds)
                receiver.got.append((time.monotonic(), dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.got]

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def expected_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- the admin API ---------------------------------------------------------------------------------


def test_a_receiver_is_registered_listed_and_removed_and_its_secret_never_shown(client: FlaskClient) -> None:
    created = client.post("/__admin/webhooks", json={"url": "http://127.0.0.1:1/h", "secret": SECRET, "api": "kosmos"})
    assert created.status_code == 201
    hook = created.json
    assert hook["api"] == "kosmos" and hook["delivered"] == 0 and hook["failed"] == 0
    assert SECRET not in json.dumps(client.get("/__admin/webhooks").json)
    assert client.get(f"/__admin/webhooks/{hook['id']}").json == hook
    assert client.get(f"/__admin/webhooks/{hook['id']}/deliveries").json == []
    assert client.delete(f"/__admin/webhooks/{hook['id']}", content_type="application/json").status_code == 204
    assert client.get(f"/__admin/webhooks/{hook['id']}").status_code == 404
    assert client.get(f"/__admin/webhooks/{hook['id']}/deliveries").status_code == 404


@pytest.mark.parametrize(
    "body, message",
    [
        ({"url": "ftp://example.com/x", "secret": "s"}, "does not match"),
        ({"url": "http:///nohost", "secret": "s"}, "url: an http:// or https:// URL with a host"),
        ({"url": "http://127.0.0.1/h"}, "'secret' is a required property"),
        ({"url": "http://127.0.0.1/h", "secret": ""}, "should be non-empty"),
        ({"url": "http://127.0.0.1/h", "secret": "s", "api": "both"}, "is not one of"),
    ],
)
def test_a_receiver_that_cannot_work_is_refused(client: FlaskClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/__admin/webhooks", json=body)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert client.get("/__admin/webhooks").json == []


def test_reset_keeps_receivers_and_reset_all_removes_them(client: FlaskClient) -> None:
    client.post("/__admin/webhooks", json={"url": "http://127.0.0.1:1/h", "secret": SECRET})
    client.post("/__admin/reset", content_type="application/json")
    assert len(client.get("/__admin/webhooks").json) == 1
    client.post("/__admin/reset?all=true", content_type="application/json")
    assert client.get("/__admin/webhooks").json == []


# --- retries and giving up, on the store with a clock of our own -------------------------------------


def test_a_failing_event_is_retried_after_1_2_4_8_16_seconds_then_given_up() -> None:
    now = [1000.0]
    store = WebhookStore(SqliteDatabase(), lambda: now[0])
    hook_id = store.register({"url": "http://127.0.0.1:1/h", "secret": SECRET}, Position())["id"]
    event = StreamedEvent("tenduke", {"eventType": "x"}, Position(0, 7))
    waits = []
    for _ in range(len(RETRY_DELAYS) + 1):
        (hook,) = store.due()
        moves_on = store.record(hook, event, 503, "unavailable")
        if not moves_on:
            waits.append(round(store.db.query("SELECT next_attempt FROM webhooks")[0][0] - now[0]))
            assert store.due() == []  # not before its time
            now[0] += 100
    assert waits == [1, 2, 4, 8, 16]
    view = store.get(hook_id)
    assert view is not None
    assert (view["failed"], view["delivered"], view["position"]) == (1, 0, "0.7")
    outcomes = [d["outcome"] for d in store.deliveries(hook_id)]
    assert outcomes == ["will retry"] * 5 + ["given up"]


# --- delivery, in-process --------------------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer() as srv:
        yield srv


def test_each_event_is_delivered_signed_in_order_and_only_if_the_filter_passes(mock: MockServer) -> None:
    receiver = Receiver()
    pair = rsa_pair(2048, slot=7)
    mock.register_tenduke_client(pair.public_pem)
    license_key = mock.create_license()["licenseKey"]
    hook = httpx.post(f"{mock.url}/__admin/webhooks", json={"url": receiver.url, "secret": SECRET, "api": "tenduke"})
    with TenDukeClient(mock.url, pair.private_pem) as tenduke, KosmosClient(mock.url, license_key) as kosmos:
        kosmos.put_event("t", "c", "E_NOT_FOR_THIS_HOOK", {"type": "event"})
        for n in range(5):
            tenduke.put({"eventSourceId": "s", "eventType": str(n)})
    receiver.wait_for(5)
    time.sleep(0.3)  # a sixth (the 1Kosmos event) would have come by now
    assert [m["event"]["eventType"] for m in receiver.messages()] == ["0", "1", "2", "3", "4"]
    assert all(m["api"] == "tenduke" for m in receiver.messages())
    for _, headers, body in receiver.got:
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Eventdouble-Signature"] == expected_signature(body)
        assert headers["X-Eventdouble-Attempt"] == "1"
    stored = mock.events("tenduke")
    assert [m["event"] for m in receiver.messages()] == stored
    view = httpx.get(f"{mock.url}/__admin/webhooks/{hook.json()['id']}").json()
    assert view["delivered"] == 5
    receiver.close()


def test_a_refused_delivery_is_retried_and_the_attempts_are_shown(mock: MockServer) -> None:
    receiver = Receiver(answers=[500])
    pair = rsa_pair(2048, slot=7)
    mock.register_tenduke_client(pair.public_pem)
    hook = httpx.post(f"{mock.url}/__admin/webhooks", json={"url": receiver.url, "secret": SECRET}).json()
    with TenDukeClient(mock.url, pair.private_pem) as tenduke:
        tenduke.put({"eventSourceId": "s", "eventType": "retried"})
    receiver.wait_for(2, timeout=10)
    (first_at, first, body), (second_at, second, again) = receiver.got
    assert body == again and first["X-Eventdouble-Delivery"] == second["X-Eventdouble-Delivery"]
    assert (first["X-Eventdouble-Attempt"], second["X-Eventdouble-Attempt"]) == ("1", "2")
    assert second_at - first_at >= RETRY_DELAYS[0] - 0.05
    time.sleep(0.2)
    attempts = httpx.get(f"{mock.url}/__admin/webhooks/{hook['id']}/deliveries").json()
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "will retry"),
        (2, 200, "delivered"),
    ]
    receiver.close()


def test_a_receiver_that_hangs_or_is_down_does_not_slow_ingestion(mock: MockServer) -> None:
    hanging = Receiver(hang_seconds=4)
    httpx.post(f"{mock.url}/__admin/webhooks", json={"url": hanging.url, "secret": SECRET})
    httpx.post(f"{mock.url}/__admin/webhooks", json={"url": dead_url(), "secret": SECRET})
    pair = rsa_pair(2048, slot=7)
    mock.register_tenduke_client(pair.public_pem)
    with TenDukeClient(mock.url, pair.private_pem) as tenduke:
        took = []
        for n in range(10):
            started = time.perf_counter()
            tenduke.put({"eventSourceId": "s", "eventType": str(n)})
            took.append(time.perf_counter() - started)
    assert max(took) < 1.0, took  # a put that waited for the hanging receiver would take 4 s
    assert len(mock.events("tenduke")) == 10
    hanging.close()


# --- served: both server modes ---------------------------------------------------------------------


def test_served_every_event_reaches_the_receiver_once_signed_and_a_dead_one_slows_nothing(served: str) -> None:
    receiver = Receiver()
    marker = f"hook-{time.time_ns()}"
    live = httpx.post(
        f"{served}/__admin/webhooks", json={"url": receiver.url, "secret": SECRET, "eventSourceId": marker}
    ).json()
    dead = httpx.post(f"{served}/__admin/webhooks", json={"url": dead_url(), "secret": SECRET}).json()
    pair = rsa_pair(2048, slot=8)
    httpx.post(f"{served}/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem})
    took = []
    with TenDukeClient(served, pair.private_pem) as tenduke:
        tenduke.http.client.headers["Connection"] = "close"  # both workers take requests
        for n in range(8):
            started = time.perf_counter()
            tenduke.put({"eventSourceId": marker, "eventType": str(n)})
            took.append(time.perf_counter() - started)
    receiver.wait_for(8)
    time.sleep(0.5)  # a duplicate would have come by now
    assert [m["event"]["eventType"] for m in receiver.messages()] == [str(n) for n in range(8)]
    assert all(h["X-Eventdouble-Signature"] == expected_signature(b) for _, h, b in receiver.got)
    assert max(took) < 1.0, took
    attempts = httpx.get(f"{served}/__admin/webhooks/{dead['id']}/deliveries").json()
    assert attempts and all(a["status"] is None and "Connect" in a["error"] for a in attempts)
    for hook in (live, dead):
        httpx.delete(f"{served}/__admin/webhooks/{hook['id']}", headers={"Content-Type": "application/json"})
    receiver.close()
