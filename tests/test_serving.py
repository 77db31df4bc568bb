"""Issue 11 findings 4 and 12 against `eventdouble serve`, in both server modes: idle and slow
connections do not freeze the mock, and what the servers refuse themselves is JSON in the API's format."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import SERVER_MODES
from tests.servers import start_server, stop_server


@pytest.fixture(scope="module")
def server(served: str) -> tuple[str, int]:
    """The served mock's address, in each server mode."""
    parts = urlsplit(served)
    return str(parts.hostname), int(parts.port or 80)


def raw(address: tuple[str, int], data: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send ``data`` as is on a new connection; the status, headers and body of the answer."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read()


def healthz_seconds(address: tuple[str, int]) -> float:
    """Seconds from connecting to healthz's answer, on a new connection; the client (which loads CA
    certificates when made) is made before the clock starts, so only the server's answer is timed."""
    with httpx.Client(timeout=5) as client:
        started = time.perf_counter()
        response = client.get(f"http://{address[0]}:{address[1]}/events/healthz")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return elapsed


# --- finding 4 -----------------------------------------------------------------------------------------


def test_200_idle_connections_do_not_freeze_the_mock(server: tuple[str, int]) -> None:
    idle = [socket.create_connection(server, timeout=5) for _ in range(200)]
    try:
        time.sleep(0.5)
        assert max(healthz_seconds(server) for _ in range(10)) < 1.0
    finally:
        for sock in idle:
            sock.close()


DRIPS = {
    "headers": (b"GET /events/healthz HTTP/1.1\r\nHost: x\r\n", b"X-Drip: 1\r\n"),
    "body": (
        b"POST /__admin/licenses HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
        b" ",
    ),
}


@pytest.mark.parametrize("part", list(DRIPS))
def test_connections_that_drip_a_request_do_not_freeze_the_mock(server: tuple[str, int], part: str) -> None:
    """100 clients send their headers, or their body, a little at a time: each is a wait like any
    other and must not hold the server (a body read in a few blocking threads is why granian's
    WSGI mode is not the load server; see the README)."""
    opening, drip = DRIPS[part]
    slow = [socket.create_connection(server, timeout=5) for _ in range(100)]
    try:
        for sock in slow:
            sock.sendall(opening)
        for _ in range(3):
            for sock in slow:
                sock.sendall(drip)
            assert healthz_seconds(server) < 1.0
            time.sleep(0.3)
    finally:
        for sock in slow:
            sock.close()


# --- finding 12 ----------------------------------------------------------------------------------------


def assert_json_refusal(status: int, headers: http.client.HTTPMessage, body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers.get_content_type() == "application/json", body[:300]
    value = json.loads(body)
    assert isinstance(value.get("error"), str) and isinstance(value.get("message"), str), value
    return value


@pytest.mark.parametrize("path", ["/events/healthz", "/get/feed", "/__admin/licenses"])
def test_too_many_headers_is_json_in_the_api_format(server: tuple[str, int], path: str) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = raw(server, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    value = assert_json_refusal(*answer, 431)
    assert ("statusCode" in value) == path.startswith("/events")


def test_a_request_line_too_long_is_json(server: tuple[str, int]) -> None:
    answer = raw(server, b"GET /events/" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_refusal(*answer, 414)


def test_a_nul_in_a_header_is_refused_in_json(server: tuple[str, int]) -> None:
    status, headers, body = raw(server, b"GET /events/healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
    assert "header" in assert_json_refusal(status, headers, body, 400)["message"].lower()  # says what is wrong


@pytest.mark.parametrize("path", [b"/get/f\xc3\xa9ed", b"/events/caf\xc3\xa9"])
def test_raw_utf8_in_the_path_is_refused_in_that_apis_format(server: tuple[str, int], path: bytes) -> None:
    """Not valid HTTP (a target is ASCII); whichever server refuses it, the body is the path's API's JSON."""
    status, headers, body = raw(server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert 400 <= status < 500 and headers.get_content_type() == "application/json", body[:300]
    assert ("statusCode" in json.loads(body)) == path.startswith(b"/events")


def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(server: tuple[str, int]) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    head = b"POST /__admin/licenses HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    answer = raw(server, head + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert_json_refusal(*answer, 413)
    small = json.dumps({"authLevel": "system", "tag": "chunked"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small)
    status, _, created = raw(server, head + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
    assert status == 201, created
    licenses = httpx.get(f"http://{server[0]}:{server[1]}/__admin/licenses").json()
    assert [record["tag"] for record in licenses].count("chunked") == 1


# --- answers sent before the body was read (lingering close) ------------------------------------------

OVER_LIMIT = 1024 * 1024 + 512 * 1024
"""A declared body over the 1 MiB limit: refused 413 on its ``Content-Length``, before it is read."""
REFUSED_HEAD = (
    b"POST /__admin/licenses HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)


def _read_until_eof(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_an_answer_before_the_body_reaches_a_client_still_sending_it(server: tuple[str, int]) -> None:
    """The mock answers 413 on the declared length, then the client pauses and sends the rest (as
    nginx relaying a slow client does): the rest is read and discarded, not answered with a reset
    that destroys the 413 (nginx: 502) or parsed as a next request (a second answer)."""
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(REFUSED_HEAD % OVER_LIMIT)
        time.sleep(0.3)  # the answer is sent meanwhile
        sock.sendall(b"x" * OVER_LIMIT)  # a reset here: the mock stopped reading
        sock.sendall(b"GET /events/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        received = _read_until_eof(sock)
    answers = re.findall(rb"^HTTP/1\.1 (\d{3}) ", received, re.M)
    # the threaded server closes after each answer; the workers keep the connection for the next request
    assert answers in ([b"413"], [b"413", b"200"]), received[:600]
    status, headers, body = _parse(received)
    assert_json_refusal(status, headers, body, 413)


def _parse(received: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
    """The first answer in ``received``."""

    class _Bytes:
        def makefile(self, mode: str) -> io.BytesIO:
            return io.BytesIO(received)

    response = http.client.HTTPResponse(_Bytes())  # type: ignore[arg-type]
    response.begin()
    return response.status, response.headers, response.read()


def test_a_refusal_decided_before_the_body_is_sent_once_the_body_is_in(server: tuple[str, int]) -> None:
    """nginx relaying a body stops when the answer is whole, then drops its client's connection; so
    the mock reads (and throws away) the rest of the body before it answers."""
    healthz_seconds(server)  # the workers are up: a late answer below is not a late start
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(REFUSED_HEAD % OVER_LIMIT)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # no answer while the body is still to come
        sock.settimeout(10)
        sock.sendall(b"x" * OVER_LIMIT)
        sock.shutdown(socket.SHUT_WR)
        assert_json_refusal(*_parse(_read_until_eof(sock)), 413)


def test_a_client_that_asked_to_close_gets_its_answer_before_the_body_too(server: tuple[str, int]) -> None:
    """``Connection: close`` (urllib, HTTP/1.0 clients): the close waits until the body has arrived."""
    with socket.create_connection(server, timeout=10) as sock:
        head = REFUSED_HEAD.replace(b"Host: localhost\r\n", b"Host: localhost\r\nConnection: close\r\n")
        sock.sendall(head % OVER_LIMIT)
        time.sleep(0.3)
        sock.sendall(b"x" * OVER_LIMIT)
        received = _read_until_eof(sock)  # the mock closes once the body is in
    assert_json_refusal(*_parse(received), 413)


def test_discarding_an_answered_body_is_bounded_in_bytes(
    server: tuple[str, int], request: pytest.FixtureRequest
) -> None:
    """A client that declares a huge body and sends it fast is cut off after LINGER_BYTES."""
    from mockserver.lingering import LINGER_BYTES

    mode, _engine = request.node.callspec.params["served"]
    if not SERVER_MODES[mode]:
        pytest.skip("werkzeug itself discards up to 10 GB before the threaded server's own bound applies")
    sent = 0
    with socket.create_connection(server, timeout=10) as sock:
        sock.sendall(REFUSED_HEAD % (100 * LINGER_BYTES))
        block = b"x" * (1024 * 1024)
        with pytest.raises(OSError):  # reset or broken pipe once the mock has closed
            while sent < 4 * LINGER_BYTES:
                sock.sendall(block)
                sent += len(block)
    assert sent < 2 * LINGER_BYTES


def test_a_body_that_stops_arriving_is_closed_after_the_idle_limit(server: tuple[str, int]) -> None:
    """A client that declares a body and sends nothing more holds the connection 5 s, not forever;
    the threaded server has answered 413 by then, the workers just close."""
    from mockserver.serving import KEEPALIVE_SECONDS

    for declared in (OVER_LIMIT, 100):
        with socket.create_connection(server, timeout=KEEPALIVE_SECONDS + 10) as sock:
            sock.sendall(REFUSED_HEAD % declared + b"{")
            started = time.monotonic()
            with contextlib.suppress(ConnectionResetError):
                received = _read_until_eof(sock)
                if received:
                    assert_json_refusal(*_parse(received), 413 if declared == OVER_LIMIT else 400)
            assert KEEPALIVE_SECONDS - 1 < time.monotonic() - started < KEEPALIVE_SECONDS + 3


def test_405_names_the_allowed_methods(server: tuple[str, int]) -> None:
    response = httpx.delete(f"http://{server[0]}:{server[1]}/events/healthz")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert response.json()["statusCode"] == 405


# --- finding 1, served: the echo of any request id spelling is a valid header in both modes ----------


@pytest.mark.parametrize(
    "request_id",
    [
        '{\n  "ts": %d,\n  "uuid": "%s",\n  "appid": "pretty"\n}',
        '{"ts": %d, "uuid": "%s", "appid": "日本\\r\\n"}',
        '{"ts": %d, "uuid": "%s", "appid": "日本"}',
    ],
    ids=["newlines", "CR LF escaped", "raw UTF-8"],
)
def test_any_request_id_is_answered_once_and_stored_once(server: tuple[str, int], request_id: str) -> None:
    import uuid

    from eventclient import kosmos_crypto

    base = f"http://{server[0]}:{server[1]}"
    license_key = httpx.post(f"{base}/__admin/licenses", json={"authLevel": "system"}).json()["licenseKey"]
    caller = kosmos_crypto.generate_keypair()
    key = kosmos_crypto.shared_key(caller.private_key, httpx.get(f"{base}/events/publickeys").json()["publicKey"])
    name = f"E_ECHO_{uuid.uuid4().hex[:8]}"
    text = request_id % (int(time.time()), uuid.uuid4())
    headers = {
        "publickey": caller.public_key,
        "licensekey": kosmos_crypto.encrypt(license_key, key),
        "requestid": kosmos_crypto.encrypt(text.encode(), key),
    }
    body = {"data": kosmos_crypto.encrypt('{"type": "echo"}', key)}
    response = httpx.put(f"{base}/events/tenant/t/community/c/event/{name}", headers=headers, json=body, timeout=10)
    assert response.status_code == 200
    assert json.loads(response.headers["requestid"]) == json.loads(text)
    stored = httpx.get(f"{base}/__admin/events", params={"api": "kosmos", "eventName": name}).json()
    assert len(stored) == 1


# --- issue 12: one journal for all workers, the pages, IPv6 ----------------------------------------------


def test_the_journal_sees_every_request_whichever_worker_served_it(server: tuple[str, int]) -> None:
    import uuid

    base = f"http://{server[0]}:{server[1]}"
    marker = uuid.uuid4().hex
    with httpx.Client() as http:
        for n in range(20):
            http.get(f"{base}/no-such-route-{marker}-{n}", headers={"Connection": "close"})
    seen = 0
    for _ in range(30):  # each worker writes its entries within FLUSH_SECONDS (0.2 s)
        entries = httpx.get(f"{base}/__admin/journal", params={"limit": 1000, "status": 404}).json()
        seen = sum(marker in e["path"] for e in entries)
        if seen == 20:
            break
        time.sleep(0.1)
    assert seen == 20


def test_the_docs_and_the_index_are_served_by_the_mock(server: tuple[str, int]) -> None:
    base = f"http://{server[0]}:{server[1]}"
    docs = httpx.get(f"{base}/docs")
    assert (
        docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "http" not in docs.text.split("<body>")[1]
    )
    assert httpx.get(f"{base}/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(f"{base}/docs/assets/../../etc/passwd").status_code == 404
    assert httpx.get(f"{base}/", headers={"Accept": "application/json"}).json()["links"]["docs"] == "/docs"
    assert "/__admin/ui" in httpx.get(f"{base}/", headers={"Accept": "text/html"}).text


# --- issue 13: the workers run the app on an event loop; its waits must not hold the other connections --


def test_a_delayed_answer_does_not_hold_up_the_other_connections(server: tuple[str, int]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    base = f"http://{server[0]}:{server[1]}"
    rule = httpx.post(f"{base}/__admin/faults", json={"path": "^/events/publickeys$", "delayMs": 1500}).json()

    def slow_get() -> tuple[int, float]:
        started = time.perf_counter()
        status = httpx.get(f"{base}/events/publickeys", timeout=10).status_code
        return status, time.perf_counter() - started

    try:
        with ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(slow_get) for _ in range(3)]
            time.sleep(0.3)
            assert max(healthz_seconds(server) for _ in range(3)) < 0.5
            assert [(status, seconds >= 1.4) for status, seconds in (f.result() for f in slow)] == [(200, True)] * 3
    finally:
        httpx.delete(f"{base}/__admin/faults/{rule['id']}")


def test_a_request_head_over_the_read_limit_is_431_json(server: tuple[str, int]) -> None:
    """One header of 200 KB: more than any server reads before refusing (the app refuses from 8 KiB)."""
    answer = raw(server, b"GET /get/feed HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert_json_refusal(*answer, 431)


def test_a_connection_silent_from_the_start_is_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=10) as sock:
        started = time.perf_counter()
        assert sock.recv(1) == b""  # closed by the server, not timed out by the client
        assert 4 <= time.perf_counter() - started < 9


def test_a_write_waiting_for_another_process_lets_the_worker_serve_others(tmp_path: Path) -> None:
    """One worker; another process holds SQLite's write lock: a write waits (in pauses, giving the
    loop back), while healthz on the same worker still answers at once; then the write goes through."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    database = tmp_path / "locked.sqlite"
    process, base, _ = start_server("--db", str(database), "--workers", "1")
    address = (str(urlsplit(base).hostname), int(urlsplit(base).port or 80))
    holder = sqlite3.connect(database, isolation_level=None, timeout=5)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(1) as pool:
            write = pool.submit(httpx.post, f"{base}/__admin/licenses", json={"authLevel": "system"}, timeout=20)
            time.sleep(0.5)
            assert not write.done()
            assert max(healthz_seconds(address) for _ in range(5)) < 0.5
            holder.execute("COMMIT")
            assert write.result().status_code == 201
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        stop_server(process)


def _worker_pids(supervisor: int) -> list[int]:
    """The worker processes of a ``serve --workers`` supervisor (not multiprocessing's resource tracker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == supervisor and b"spawn_main" in command:
            pids.append(int(entry.name))
    return pids


def test_a_worker_killed_with_sigkill_is_started_again(tmp_path: Path) -> None:
    import signal

    process, base, _ = start_server("--db", str(tmp_path / "k.sqlite"), "--workers", "1")
    try:
        healthz_seconds((str(urlsplit(base).hostname), int(urlsplit(base).port or 80)))  # the worker is up
        [worker] = _worker_pids(process.pid)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            replacements = [pid for pid in _worker_pids(process.pid) if pid != worker]
            if replacements:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/events/healthz", timeout=2).status_code == 200:
                        break
            time.sleep(0.2)
        else:
            pytest.fail("no worker answered within 10 s of the kill")
        assert httpx.get(f"{base}/events/healthz", timeout=2).status_code == 200
    finally:
        stop_server(process)
