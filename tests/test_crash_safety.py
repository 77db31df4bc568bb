"""kill -9 the mock while several clients write: every acknowledged event survives, exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

from eventclient import ClientError, KosmosClient, TenDukeClient
from tests.conftest import rsa_pair
from tests.servers import start_server, write_seed

LICENSE = "crash-test-license-0001"


def test_kill_9_mid_stream_loses_no_acknowledged_event(tmp_path: Path, server_database: str) -> None:
    pair = rsa_pair()
    seed = write_seed(tmp_path / "seed.json", LICENSE, pair.public_pem)
    db = server_database
    process, url, _ = start_server("--db", db, "--seed", str(seed))

    acknowledged_tenduke: list[str] = []
    acknowledged_kosmos: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def tenduke_writer() -> None:
        with TenDukeClient(url, pair.private_pem, timeout=5) as client:
            while not stop.is_set():
                batch = [{"eventSourceId": "crash", "eventType": "t", "id": str(uuid.uuid4())} for _ in range(10)]
                try:
                    client.put(batch)
                except ClientError:
                    return  # the server is gone
                with lock:
                    acknowledged_tenduke.extend(e["id"] for e in batch)

    def kosmos_writer() -> None:
        with KosmosClient(url, LICENSE, timeout=5) as client:
            while not stop.is_set():
                marker = str(uuid.uuid4())
                try:
                    client.put_event("t", "c", "E_CRASH", {"type": "crash", "id": marker})
                except ClientError:
                    return
                with lock:
                    acknowledged_kosmos.append(marker)

    writers = [threading.Thread(target=w) for w in (tenduke_writer, tenduke_writer, kosmos_writer, kosmos_writer)]
    for writer in writers:
        writer.start()
    time.sleep(2.0)
    os.kill(process.pid, signal.SIGKILL)  # mid-stream, no chance to clean up
    process.wait(timeout=10)
    assert process.stdout is not None
    process.stdout.close()
    stop.set()
    for writer in writers:
        writer.join(timeout=30)
    assert len(acknowledged_tenduke) > 50
    assert len(acknowledged_kosmos) > 10

    process, url, _ = start_server("--db", db, "--seed", str(seed))
    reader, kosmos = TenDukeClient(url, pair.private_pem), KosmosClient(url, LICENSE)
    try:
        events = list(reader.read("crash", page_size=97))
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an event is stored twice"
        assert set(acknowledged_tenduke) <= set(ids), "an acknowledged event was lost"
        received = [e["eventReceived"] for e in events]
        assert received == sorted(set(received))

        markers: list[str] = []
        for index in range(100):
            page = kosmos.query_events("t", "c", page_size=1000, page_index=index)
            markers += [e["id"] for e in page["data"]]
            if len(markers) >= page["page"]["total"]:
                break
        assert page["page"]["total"] == len(markers)
        assert len(markers) == len(set(markers))
        assert set(acknowledged_kosmos) <= set(markers)

        # the restarted server keeps taking events, after the old ones
        reader.put({"eventSourceId": "crash", "eventType": "t", "id": "after"})
        last = list(reader.read("crash", after=received[-1]))
        assert [e["id"] for e in last] == ["after"]
    finally:
        reader.close()
        kosmos.close()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
