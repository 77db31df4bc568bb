"""Issue 14: the 10Duke client and `eventdouble read tenduke` survive a burst of failures by retrying
as the official reader does (1, 2, 4, 8, 16 s), shown against the mock's own fault rules."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eventclient import TenDukeClient
from eventclient._http import Retry
from eventclient.exceptions import ServiceUnreachable, TenDukeApiError
from mockserver import faults
from mockserver.inprocess import MockServer
from tests.conftest import rsa_pair
from tests.servers import start_server, stop_server

FEED = "retry-feed"


def test_the_default_schedule_is_the_official_readers() -> None:
    assert Retry().delays() == [1, 2, 4, 8, 16]
    with MockServer() as srv:
        client = TenDukeClient(srv.url, rsa_pair(2048, slot=9).private_pem)
        assert client.read_retry.delays() == [1, 2, 4, 8, 16]
        assert client.put_retry.statuses == {429, 503} and not client.put_retry.transport_errors
        assert TenDukeClient(srv.url, client.private_key_pem, retries=0).read_retry.delays() == []


@pytest.fixture
def mock() -> Iterator[tuple[MockServer, TenDukeClient]]:
    pair = rsa_pair(2048, slot=9)
    with MockServer() as srv:
        srv.register_tenduke_client(pair.public_pem)
        with TenDukeClient(srv.url, pair.private_pem, backoff=0.05) as client:
            client.put([{"eventSourceId": FEED, "eventType": str(n)} for n in range(3)])
            yield srv, client


def feed_statuses(srv: MockServer) -> list[int]:
    return [e["status"] for e in srv.journal(1000) if e["path"].startswith("/get/")]


def test_a_reader_survives_a_burst_of_503s(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    srv.add_fault(faults.burst(3, 503))
    started = time.monotonic()
    events = list(client.read(FEED))
    assert [e["eventType"] for e in events] == ["0", "1", "2"]
    assert feed_statuses(srv)[:4] == [503, 503, 503, 200]
    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2  # the back-off was waited


def test_a_burst_longer_than_the_retries_is_reported(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    srv.add_fault(faults.burst(6, 502))
    with pytest.raises(TenDukeApiError) as refusal:
        list(client.read(FEED))
    assert refusal.value.status == 502
    assert feed_statuses(srv) == [502] * 6


def test_a_dropped_connection_is_retried_on_a_read_but_not_on_a_put(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    with srv.fault(path="^/get/", action="reset", times=2):
        assert len(list(client.read(FEED))) == 3
    with srv.fault(path="^/put$", action="reset"), pytest.raises(ServiceUnreachable):
        client.put({"eventSourceId": FEED, "eventType": "maybe stored"})
    # the dropped request's journal entry may be written after the client gave up (CI under load): wait for it
    deadline = time.monotonic() + 10
    while not (dropped := [e for e in srv.journal(1000) if e["path"] == "/put" and e["status"] == 0]):
        assert time.monotonic() < deadline, "the dropped /put never reached the journal"
        time.sleep(0.05)
    assert len(dropped) == 1  # tried once, not again


def test_a_put_refused_with_503_is_sent_again_and_stored_once(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    srv.add_fault(path="^/put$", status=503, times=2)
    client.put({"eventSourceId": FEED, "eventType": "again"})
    assert [e["eventType"] for e in srv.events("tenduke", source_id=FEED)] == ["0", "1", "2", "again"]


def test_a_put_refused_with_400_is_not_sent_again(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    srv.add_fault(path="^/put$", status=400)
    with pytest.raises(TenDukeApiError):
        client.put({"eventSourceId": FEED, "eventType": "bad"})
    assert [e["status"] for e in srv.journal(1000) if e["path"] == "/put"][-1:] == [400]
    assert len([e for e in srv.journal(1000) if e["path"] == "/put" and e["status"] == 400]) == 1


def test_retry_after_is_waited_for_when_longer_than_the_backoff(mock: tuple[MockServer, TenDukeClient]) -> None:
    srv, client = mock
    srv.add_fault(path="^/get/", status=429, retryAfter=1, times=1)
    started = time.monotonic()
    assert len(list(client.read(FEED))) == 3
    assert time.monotonic() - started >= 1.0


def test_read_tenduke_survives_a_burst_served(tmp_path: Path) -> None:
    pair = rsa_pair(2048, slot=9)
    key = tmp_path / "client.pem"
    key.write_text(pair.private_pem)
    process, url, _ = start_server("--db", str(tmp_path / "m.sqlite"), "--workers", "2", "--fault", "burst=3")
    try:
        with TenDukeClient(url, pair.private_pem, retries=0) as client:
            httpx.post(f"{url}/__admin/tenduke/clients", json={"publicKeyPem": pair.public_pem}).raise_for_status()
            client.put([{"eventSourceId": FEED, "eventType": str(n)} for n in range(2)])
        command = [sys.executable, "-m", "eventdouble", "read", "tenduke", FEED, "--base", url, "--key", str(key)]
        done = subprocess.run([*command, "--backoff", "0.05"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == 2
        httpx.post(f"{url}/__admin/faults", json=faults.burst(1)).raise_for_status()
        refused = subprocess.run([*command, "--retries", "0"], capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert "503" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        stop_server(process)


@pytest.mark.parametrize("value", ["-1", "nan", "61", "soon"])
def test_read_tenduke_refuses_a_bad_backoff(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eventdouble", "read", "tenduke", "f", "--base", "http://127.0.0.1:1", "--key", "k",
         "--backoff", value],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--backoff" in done.stderr and "Traceback" not in done.stderr
