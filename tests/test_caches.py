"""Issue 13: service keys, licenses and 10Duke client keys are cached in memory, and every process
sees a change made by any other (two apps on one database file are two workers)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventclient import jws
from mockserver import create_app
from mockserver.backend import backend_of
from mockserver.db import CACHE_ENTRIES, SqliteDatabase, end_request, open_database, start_request
from tests.conftest import Clock, KosmosSigner, TenDukeSigner, rsa_pair, run_as_request
from tests.engines import ENGINES, database_in


@pytest.fixture
def workers(tmp_path: Path, clock: Clock) -> tuple[Flask, Flask]:
    """Two apps on one database file, as two worker processes are."""
    config = {"DATABASE": str(tmp_path / "shared.sqlite"), "CLOCK": clock, "TESTING": True}
    return create_app(config), create_app(config)


def event() -> dict[str, object]:
    return {"eventSourceId": "s", "eventType": "t", "eventObjectType": "item", "eventObjectId": "o"}


def new_license(client: FlaskClient) -> tuple[str, str]:
    response = client.post("/__admin/licenses", json={"authLevel": "system"})
    assert response.status_code == 201
    return response.json["licenseKey"], response.json["keyId"]


def test_a_license_disabled_by_another_worker_is_refused_at_once(workers: tuple[Flask, Flask], clock: Clock) -> None:
    first, second = (app.test_client() for app in workers)
    license_key, key_id = new_license(first)
    signer = KosmosSigner(first, clock)
    assert signer.put_event(license_key).status_code == 200  # the license is cached by the first worker now
    assert second.patch(f"/__admin/licenses/{key_id}", json={"disabled": True}).status_code == 200
    refused = signer.put_event(license_key)
    assert refused.status_code == 401, refused.json
    assert second.patch(f"/__admin/licenses/{key_id}", json={"disabled": False}).status_code == 200
    assert signer.put_event(license_key).status_code == 200


def test_a_license_created_by_another_worker_works_even_after_it_was_refused(
    workers: tuple[Flask, Flask], clock: Clock
) -> None:
    first, second = (app.test_client() for app in workers)
    signer = KosmosSigner(first, clock)
    assert signer.put_event("made-later-0000000000000001").status_code == 401  # "unknown" is cached too
    fields = {"authLevel": "system", "licenseKey": "made-later-0000000000000001"}
    assert second.post("/__admin/licenses", json=fields).status_code == 201
    assert signer.put_event("made-later-0000000000000001").status_code == 200


def test_a_service_key_reset_by_another_worker_is_used_at_once(workers: tuple[Flask, Flask], clock: Clock) -> None:
    first, second = (app.test_client() for app in workers)
    license_key, _ = new_license(first)
    before = first.get("/events/publickeys").json["publicKey"]
    keys = backend_of(workers[1]).kosmos.service_keys()
    rotating = KosmosSigner(second, clock)
    reset = second.delete(f"/events/servicekey/{keys[0].key_id}", headers=rotating.headers(license_key))
    assert reset.status_code == 200, reset.json
    after = first.get("/events/publickeys").json["publicKey"]
    assert after == reset.json["publicKey"] != before
    assert KosmosSigner(first, clock).put_event(license_key).status_code == 200  # encrypted to the new key


def test_a_client_key_registered_or_deleted_by_another_worker_counts_at_once(
    workers: tuple[Flask, Flask], clock: Clock
) -> None:
    first, second = (app.test_client() for app in workers)
    unregistered = jws.sign_jws([event()], rsa_pair().private_pem)
    assert first.post("/put", data=unregistered, content_type="application/jose").status_code == 401  # ring cached
    registered = TenDukeSigner(second, clock)
    writer = TenDukeSigner(first, clock)  # the same key: 409 from the first worker, it sees the registration
    assert writer.put(event()).status_code == 200
    assert second.delete(f"/__admin/tenduke/clients/{registered.record['clientId']}").status_code == 204
    assert writer.put(event()).status_code == 401


def test_a_change_written_by_another_program_is_seen(
    workers: tuple[Flask, Flask], tmp_path: Path, clock: Clock
) -> None:
    client = workers[0].test_client()
    license_key, _ = new_license(client)
    signer = KosmosSigner(client, clock)
    assert signer.put_event(license_key).status_code == 200
    with sqlite3.connect(tmp_path / "shared.sqlite") as other:  # e.g. the sqlite3 shell
        other.execute("UPDATE kosmos_licenses SET disabled = 1 WHERE license_key = ?", (license_key,))
    assert signer.put_event(license_key).status_code == 401


def test_the_cache_is_bounded_whatever_keys_callers_send() -> None:
    db = SqliteDatabase()
    db.migrate("CREATE TABLE things (name TEXT)")
    db.watch("things")
    loads = []
    for n in range(3 * CACHE_ENTRIES):
        db.cached("things", f"unknown-{n}", lambda n=n: loads.append(n))
    assert len(db._caches["things"][1]) <= CACHE_ENTRIES
    assert db.cached("things", "unknown-0", lambda: "loaded again") == "loaded again"


def test_a_cached_value_is_loaded_once_until_its_table_changes() -> None:
    db = SqliteDatabase()
    db.migrate("CREATE TABLE things (name TEXT)")
    db.watch("things")
    loads = []

    def load() -> int:
        loads.append(1)
        return len(db.query("SELECT * FROM things"))

    assert [db.cached("things", "count", load) for _ in range(3)] == [0, 0, 0]
    assert len(loads) == 1
    with db.transaction() as tx:
        tx.execute("INSERT INTO things VALUES ('a')")
    assert db.cached("things", "count", load) == 1
    assert len(loads) == 2


def test_a_request_looks_for_other_workers_changes_once(workers: tuple[Flask, Flask], clock: Clock) -> None:
    """Its three cached reads (fault rules, service key, license) check the database once between them."""
    first, second = (app.test_client() for app in workers)
    license_key, _ = new_license(first)
    signer = KosmosSigner(first, clock)
    assert signer.put_event(license_key).status_code == 200
    path = "/events/tenant/t1/community/c1/event/E_LOGIN_ATTEMPT"
    headers, body = signer.headers(license_key), {"data": signer.seal({"type": "event"})}
    statements: list[str] = []
    backend_of(workers[0]).db._conn.set_trace_callback(statements.append)
    try:
        assert first.put(path, headers=headers, json=body).status_code == 200
        checks_in_one_request = statements.count("PRAGMA data_version")
        statements.clear()
        assert second.post("/__admin/licenses", json={"authLevel": "system"}).status_code == 201
        assert backend_of(workers[0]).kosmos.license_by_key(license_key) is not None  # outside a request
        assert backend_of(workers[0]).kosmos.license_by_key(license_key) is not None
    finally:
        backend_of(workers[0]).db._conn.set_trace_callback(None)
    assert checks_in_one_request == 1
    assert statements.count("PRAGMA data_version") == 2  # outside a request, every cached read checks


@pytest.mark.parametrize("engine", ENGINES)
def test_a_request_joining_a_batch_sees_what_was_committed_before_the_batch_took_the_lock(
    engine: str, tmp_path: Path
) -> None:
    """Generations are read once per batch, after it took the write lock: not before (a commit may come between)."""
    with database_in(engine, tmp_path) as target:
        mine, other = open_database(target), open_database(target)
        try:
            for db in (mine, other):
                db.migrate("CREATE TABLE IF NOT EXISTS things (name TEXT); CREATE TABLE IF NOT EXISTS log (n TEXT)")
                db.watch("things")
            count = lambda: len(mine.query("SELECT * FROM things", see_pending=True))  # noqa: E731
            seen: list[int] = []

            def first() -> None:  # reads the cache, then another process commits, then it writes: a batch opens
                token = start_request()
                try:
                    seen.append(mine.cached("things", "count", count))
                    with other.transaction() as tx:
                        tx.execute("INSERT INTO things VALUES ('a')")
                    with mine.transaction() as tx:
                        tx.execute("INSERT INTO log VALUES ('first')")
                finally:
                    end_request(token)

            def second() -> None:  # answered while the first's batch holds the write lock
                token = start_request()
                try:
                    seen.append(mine.cached("things", "count", count))
                    with mine.transaction() as tx:
                        tx.execute("INSERT INTO log VALUES ('second')")
                finally:
                    end_request(token)

            async def both() -> None:
                one = asyncio.ensure_future(run_as_request(first))
                while not mine.query("SELECT 1 FROM log", see_pending=True):  # the first's batch is open
                    await asyncio.sleep(0)
                await asyncio.gather(one, run_as_request(second))

            asyncio.run(both())
            assert seen == [0, 1]
            assert sorted(r["n"] for r in mine.query("SELECT n FROM log")) == ["first", "second"]
        finally:
            mine.close()
            other.close()
