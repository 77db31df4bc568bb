"""Processes sharing one database (SQLite file or PostgreSQL): what one writes, the other orders and sees."""

from __future__ import annotations

import json
import time

from mockserver.db import open_database
from mockserver.tenduke.store import FeedKey, TenDukeStore


def test_event_received_stays_increasing_across_processes_whose_clocks_differ(server_database: str) -> None:
    """Two processes, one clock an hour behind the other: each feed's order is the order of storing."""
    now = time.time()
    ahead, behind = open_database(server_database), open_database(server_database)
    stores = [TenDukeStore(ahead, lambda: now), TenDukeStore(behind, lambda: now - 3600)]
    try:
        stored = []
        for n in range(20):
            stored += stores[n % 2].put_events([{"eventSourceId": "skew", "eventType": "t", "n": n}])
        received = [e["eventReceived"] for e in stored]
        assert received == sorted(set(received)), "eventReceived went back when the slower clock wrote"
        page = stores[0].page(FeedKey(source_id="skew"), after=None, before=None, limit=100, newest=False)
        assert [json.loads(body)["n"] for _, body in page] == list(range(20))
    finally:
        ahead.close()
        behind.close()
