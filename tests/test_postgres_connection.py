"""A PostgreSQL connection lost under the mock (the server restarted, an operator ended it): it recovers.

A read, or a write not yet begun, runs again on a new connection; a write whose connection broke
in the middle is refused with 503 and nothing of it is stored; the next request is served.
Needs ``POSTGRES_TEST_URL`` (``.ci/run`` sets it); connections are ended with
``pg_terminate_backend``, which is what a server restart does to them.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventclient import ApiError, ClientError, KosmosClient, TenDukeClient
from mockserver.backend import backend_of
from mockserver.db import Database, open_database
from mockserver.errors import StorageUnavailable
from mockserver.postgres import APPLICATION_NAME
from tests.conftest import KosmosSigner, rsa_pair, run_as_request, stored_events
from tests.engines import POSTGRES_URL, fresh_postgres
from tests.servers import start_server, write_seed

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="set POSTGRES_TEST_URL (.ci/run does)")
LICENSE = "connection-test-license-01"


def _end(where: str, condition: str, params: tuple[object, ...]) -> int:
    """End the backends of ``where``'s database that match ``condition``; how many there were."""
    with psycopg.connect(where, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND {condition}",
            params,
        ).fetchall()
    return len(rows)


def _end_connection_of(db: Database, url: str) -> int:
    pid = int(db.query("SELECT pg_backend_pid() AS pid")[0]["pid"])
    assert _end(url, "pid = %s", (pid,)) == 1
    return pid


@pytest.fixture
def things() -> Iterator[tuple[Database, str]]:
    with fresh_postgres() as url:
        db = open_database(url)
        db.migrate("CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY)")
        try:
            yield db, url
        finally:
            db.close()


def test_a_read_after_the_connection_was_lost_runs_on_a_new_one(things: tuple[Database, str]) -> None:
    db, url = things
    old = _end_connection_of(db, url)
    assert int(db.query("SELECT pg_backend_pid() AS pid")[0]["pid"]) != old


def test_a_write_after_the_connection_was_lost_is_stored_once(things: tuple[Database, str]) -> None:
    db, url = things
    _end_connection_of(db, url)
    with db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
    assert [r["name"] for r in db.query("SELECT name FROM things")] == ["a"]


@pytest.mark.parametrize("next_statement", ["INSERT INTO things VALUES ('b')", "SELECT name FROM things"])
def test_a_write_whose_connection_breaks_midway_is_refused_with_503_and_nothing_is_stored(
    things: tuple[Database, str], next_statement: str
) -> None:
    """Not even a read is repeated inside a transaction: the transaction went with the connection."""
    db, url = things
    with pytest.raises(StorageUnavailable) as refused, db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
        pid = int(tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"])
        assert _end(url, "pid = %s", (pid,)) == 1
        tx.execute(next_statement)
    assert refused.value.status == 503
    assert "nothing was stored" in str(refused.value)
    assert db.query("SELECT name FROM things") == []
    with db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('c')")
    assert [r["name"] for r in db.query("SELECT name FROM things")] == ["c"]


def test_a_commit_after_the_connection_was_lost_is_not_run_on_a_new_one(things: tuple[Database, str]) -> None:
    """A caller that swallowed the broken statement's error: the COMMIT is refused, not answered by a
    new connection that has no transaction (which would report success for a write that was lost)."""
    db, url = things
    with pytest.raises(StorageUnavailable) as refused, db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
        pid = int(tx.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"])
        assert _end(url, "pid = %s", (pid,)) == 1
        with pytest.raises(psycopg.OperationalError):
            tx.execute("INSERT INTO things VALUES ('b')")
    assert "nothing was stored" in str(refused.value)
    assert db.query("SELECT name FROM things") == []


class _ConnectionBreakingAtCommit:
    """A connection that breaks at its next COMMIT: after the server committed (its answer is
    lost), or before the COMMIT reached it. Either way psycopg raises as for a dropped connection."""

    def __init__(self, conn: psycopg.Connection[Any], url: str, *, after_commit: bool) -> None:
        self._conn, self._url, self._after_commit = conn, url, after_commit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if query != "COMMIT":
            return self._conn.execute(query, params, **kwargs)
        pid = self._conn.info.backend_pid
        if self._after_commit:
            self._conn.execute("COMMIT")
        assert _end(self._url, "pid = %s", (pid,)) == 1
        return self._conn.execute("COMMIT" if not self._after_commit else "SELECT 1")  # raises: the server is gone


def _break_at_commit(db: Database, url: str, *, after_commit: bool) -> None:
    db._conn = _ConnectionBreakingAtCommit(db._conn, url, after_commit=after_commit)  # type: ignore[attr-defined]


def test_a_commit_whose_answer_was_lost_counts_as_done(things: tuple[Database, str]) -> None:
    """The server committed and the connection broke before its answer: stored once, no error."""
    db, url = things
    _break_at_commit(db, url, after_commit=True)
    with db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
    assert [r["name"] for r in db.query("SELECT name FROM things")] == ["a"]


def test_a_batch_whose_commit_answer_was_lost_counts_as_done(things: tuple[Database, str]) -> None:
    """The same on a worker's event loop, where the requests of two turns are committed as one."""
    db, url = things
    _break_at_commit(db, url, after_commit=True)

    def write(name: str) -> Callable[[], None]:
        def request() -> None:
            with db.transaction() as tx:
                tx.execute("INSERT INTO things VALUES (?)", (name,))

        return request

    async def both() -> None:
        await asyncio.gather(run_as_request(write("a")), run_as_request(write("b")))

    asyncio.run(both())
    assert sorted(r["name"] for r in db.query("SELECT name FROM things")) == ["a", "b"]


def test_a_commit_that_never_reached_the_server_is_refused_with_503(things: tuple[Database, str]) -> None:
    db, url = things
    _break_at_commit(db, url, after_commit=False)
    with pytest.raises(StorageUnavailable) as refused, db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
    assert "nothing was stored" in str(refused.value)
    assert db.query("SELECT name FROM things") == []


def test_a_commit_whose_outcome_cannot_be_learnt_says_so(
    things: tuple[Database, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database cannot be reached again: 503, and the answer does not claim that nothing was stored."""
    db, url = things
    _break_at_commit(db, url, after_commit=True)

    def unreachable(url: str) -> psycopg.Connection[Any]:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(db, "_connect", unreachable)
    with pytest.raises(StorageUnavailable) as refused, db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
    assert "whether it was stored is unknown" in str(refused.value)
    assert "nothing was stored" not in str(refused.value)
    monkeypatch.undo()
    assert [r["name"] for r in db.query("SELECT name FROM things")] == ["a"]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("after_commit", [True, False], ids=["answer-lost", "commit-lost"])
def test_a_kosmos_put_whose_commit_answer_was_lost_is_accepted_once(
    app: Flask, client: FlaskClient, signer: KosmosSigner, make_license: Callable[..., str], after_commit: bool
) -> None:
    """Not 401 for its own request id, not 503 for a stored event; and 503 only when nothing was stored."""
    license_key = make_license()
    headers = signer.headers(license_key)
    body = {"data": signer.seal({"type": "event", "marker": "m"})}
    db = backend_of(app).db
    _break_at_commit(db, db.path, after_commit=after_commit)
    url = "/events/tenant/t1/community/c1/event/E_LOST"
    answer = client.put(url, headers=headers, json=body)
    assert answer.status_code == (200 if after_commit else 503), answer.json
    assert len(stored_events(client)) == (1 if after_commit else 0)
    again = client.put(url, headers=headers, json=body)  # the same request id
    assert again.status_code == (401 if after_commit else 200), again.json
    assert len(stored_events(client)) == 1


def test_the_mock_rides_out_its_connections_being_ended_under_load(tmp_path: Path) -> None:
    """A served mock whose connection is ended five times while four clients write: only 503s, nothing lost."""
    pair = rsa_pair()
    seed = write_seed(tmp_path / "seed.json", LICENSE, pair.public_pem)
    with fresh_postgres() as url:
        process, base, _ = start_server("--db", url, "--seed", str(seed))
        acknowledged: dict[str, list[str]] = {"tenduke": [], "kosmos": []}
        refusals: list[int] = []
        unexpected: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def outcome(exc: ClientError) -> None:
            with lock:
                if isinstance(exc, ApiError) and exc.status == 503:
                    refusals.append(exc.status)
                else:
                    unexpected.append(repr(exc))

        def tenduke_writer() -> None:
            with TenDukeClient(base, pair.private_pem, timeout=10, retries=0) as client:
                while not stop.is_set():
                    batch = [{"eventSourceId": "lost", "eventType": "t", "id": str(uuid.uuid4())} for _ in range(5)]
                    try:
                        client.put(batch)
                    except ClientError as exc:
                        outcome(exc)
                        continue
                    with lock:
                        acknowledged["tenduke"] += [e["id"] for e in batch]

        def kosmos_writer() -> None:
            with KosmosClient(base, LICENSE, timeout=10) as client:
                while not stop.is_set():
                    marker = str(uuid.uuid4())
                    try:
                        client.put_event("t", "c", "E_LOST", {"type": "lost", "id": marker})
                    except ClientError as exc:
                        outcome(exc)
                        continue
                    with lock:
                        acknowledged["kosmos"].append(marker)

        writers = [threading.Thread(target=w) for w in [tenduke_writer, kosmos_writer] * 2]
        try:
            for writer in writers:
                writer.start()
            ended = 0
            for _ in range(5):
                time.sleep(0.3)
                ended += _end(url, "application_name = %s", (APPLICATION_NAME,))
            time.sleep(0.5)
            stop.set()
            for writer in writers:
                writer.join(timeout=30)
            assert ended >= 5, "the mock's connections were not found to end"
            assert not unexpected, unexpected[:5]
            assert len(acknowledged["tenduke"]) > 50 and len(acknowledged["kosmos"]) > 10

            with TenDukeClient(base, pair.private_pem) as reader, KosmosClient(base, LICENSE) as kosmos:
                ids = [e["id"] for e in reader.read("lost", page_size=97)]
                assert len(ids) == len(set(ids)), "an event is stored twice"
                assert set(acknowledged["tenduke"]) <= set(ids), "an acknowledged event was lost"
                page = kosmos.query_events("t", "c", page_size=1000)
                markers = [e["id"] for e in page["data"]]
                while len(markers) < page["page"]["total"]:
                    page = kosmos.query_events("t", "c", page_size=1000, page_index=len(markers) // 1000)
                    markers += [e["id"] for e in page["data"]]
                assert len(markers) == len(set(markers))
                assert set(acknowledged["kosmos"]) <= set(markers), "an acknowledged event was lost"
                reader.put({"eventSourceId": "lost", "eventType": "t", "id": "after"})  # and it goes on
        finally:
            stop.set()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)
            if process.stdout:
                process.stdout.close()
