"""8 concurrent writers to both APIs against a multi-worker server: nothing lost, doubled or reordered."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from eventclient import KosmosClient, TenDukeClient
from tests.conftest import rsa_pair
from tests.servers import start_server, write_seed

LICENSE = "concurrency-test-license-01"
FEEDS = ("conc-a", "conc-b")
WORKERS = "3"
SECONDS = 3.0
MIN_ROUNDS = 6
"""Requests each writer sends at least, however slow the machine: the writers go on for SECONDS, and longer
until each has sent this many (a fixed time alone left a slow machine with too few to judge)."""


@pytest.fixture
def server(tmp_path: Path, server_database: str) -> tuple[str, str]:
    """A 3-worker server; yields its URL and the RSA private key registered with it."""
    pair = rsa_pair()
    seed = write_seed(tmp_path / "seed.json", LICENSE, pair.public_pem)
    process, url, _ = start_server("--db", server_database, "--seed", str(seed), "--workers", WORKERS)
    try:
        yield url, pair.private_pem
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def _rounds(deadline: float) -> Iterator[int]:
    """Round numbers until ``deadline`` has passed and at least MIN_ROUNDS were given."""
    rounds = 0
    while time.monotonic() < deadline or rounds < MIN_ROUNDS:
        yield rounds
        rounds += 1


def test_eight_writers_on_both_apis_against_several_workers(server: tuple[str, str]) -> None:
    url, private_pem = server
    statuses: Counter[int] = Counter()
    acknowledged: dict[str, list[str]] = {feed: [] for feed in FEEDS}
    markers: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def record(response: httpx.Response) -> None:
        with lock:
            statuses[response.status_code] += 1

    def watched() -> httpx.Client:
        return httpx.Client(timeout=30, event_hooks={"response": [record]})

    def tenduke_writer(n: int) -> None:
        feed = FEEDS[n % 2]
        with TenDukeClient(url, private_pem, session=watched()) as client:
            for _ in _rounds(deadline):
                batch = [{"eventSourceId": feed, "eventType": "t", "id": str(uuid.uuid4())} for _ in range(5)]
                client.put(batch)
                with lock:
                    acknowledged[feed] += [e["id"] for e in batch]

    def kosmos_writer() -> None:
        with KosmosClient(url, LICENSE, session=watched()) as client:
            for _ in _rounds(deadline):
                marker = str(uuid.uuid4())
                client.put_event("t", "c", "E_CONC", {"type": "conc", "id": marker})
                with lock:
                    markers.append(marker)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(tenduke_writer, n) for n in range(4)] + [pool.submit(kosmos_writer) for _ in range(4)]
        for future in futures:
            future.result()  # a refusal raises here, with the server's message

    assert all(status < 500 for status in statuses), statuses

    with TenDukeClient(url, private_pem) as reader:
        for feed in FEEDS:
            events = list(reader.read(feed, page_size=173))
            ids = [e["id"] for e in events]
            assert len(ids) == len(set(ids)), f"{feed}: an event is stored twice"
            assert sorted(ids) == sorted(acknowledged[feed]), f"{feed}: events lost or unexpected"
            received = [e["eventReceived"] for e in events]
            assert all(a < b for a, b in pairwise(received)), f"{feed}: not increasing"

    with KosmosClient(url, LICENSE) as kosmos:
        page = kosmos.query_events("t", "c", page_size=1000)
        stored = [e["id"] for e in page["data"]]
        while len(stored) < page["page"]["total"]:
            page = kosmos.query_events("t", "c", page_size=1000, page_index=page["page"]["pIndex"] + 1)
            stored += [e["id"] for e in page["data"]]
    assert sorted(stored) == sorted(markers)


def test_replay_protection_is_shared_by_the_workers(server: tuple[str, str]) -> None:
    """One signed request sent on eight fresh connections at once: exactly one is accepted."""
    url, _ = server
    with KosmosClient(url, LICENSE) as client:
        headers = client.auth_headers()
        body = {"data": client.encrypt({"type": "replay"})}
    target = f"{url}/events/tenant/t/community/c/event/E_REPLAY"
    barrier = threading.Barrier(8)

    def send(_: int) -> int:
        with httpx.Client(timeout=30) as http:  # a new connection each, so the workers share them
            barrier.wait()
            return http.put(target, headers=headers, json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(send, range(8)))
    assert statuses == [200] + [401] * 7
