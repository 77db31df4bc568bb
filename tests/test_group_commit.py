"""Group commit (mockserver.db): on a worker's event loop, the writes of the requests answered in
one turn of the loop are committed together, and each request is answered only after that COMMIT.

Driven at the ASGI level through the workers' bridge (mockserver.loop_server), with a small app
whose routes write through a real file-backed :class:`~mockserver.db.SqliteDatabase`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify

from mockserver.db import SqliteDatabase
from mockserver.errors import ApiError
from mockserver.loop_server import WsgiOnLoop
from tests.test_loop_server import call, scope_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS items (
    name TEXT PRIMARY KEY,
    owner TEXT REFERENCES owners (name) DEFERRABLE INITIALLY DEFERRED
);
"""


def create_writing_app(config: dict[str, Any]) -> Flask:
    """Routes that write an item, write one and then fail, write one that breaks a deferred foreign
    key (so the COMMIT fails), write a large one, and read what another connection sees."""
    app = Flask("writes")
    db = SqliteDatabase(config["DATABASE"])
    db.migrate(SCHEMA)
    db.query("PRAGMA foreign_keys = ON")
    app.extensions["test-db"] = db

    @app.errorhandler(ApiError)
    def refused(exc: ApiError) -> Any:
        return jsonify(error=exc.message), exc.status

    @app.put("/items/<name>")
    def write(name: str) -> Any:
        with db.transaction() as tx:
            tx.execute("INSERT INTO items (name) VALUES (?)", (name,))
        return "stored"

    @app.put("/failing/<name>")
    def write_then_fail(name: str) -> Any:
        with db.transaction() as tx:
            tx.execute("INSERT INTO items (name) VALUES (?)", (name,))
            raise ApiError("refused after writing", 422)

    @app.put("/orphans/<name>")
    def write_orphan(name: str) -> Any:
        with db.transaction() as tx:
            tx.execute("INSERT INTO items (name, owner) VALUES (?, 'nobody')", (name,))
        return "stored"

    @app.put("/large/<name>")
    def write_large(name: str) -> Any:
        with db.transaction() as tx:
            tx.execute("INSERT INTO items (name, owner) VALUES (?, NULL)", (name,))
            tx.execute("CREATE TABLE IF NOT EXISTS ballast (blob BLOB)")
            tx.execute("INSERT INTO ballast VALUES (zeroblob(200000))")
        return "stored"

    @app.get("/committed")
    def committed() -> Any:
        db.query("SELECT 1")  # a reader: what this process wrote is committed before it reads
        with sqlite3.connect(config["DATABASE"]) as other:
            return jsonify(sorted(row[0] for row in other.execute("SELECT name FROM items")))

    return app


@pytest.fixture
def bridge(tmp_path: Path) -> WsgiOnLoop:
    bridge = WsgiOnLoop({"DATABASE": str(tmp_path / "writes.sqlite")}, factory=f"{__name__}:create_writing_app")
    bridge._load()
    return bridge


def stored(bridge: WsgiOnLoop) -> set[str]:
    with sqlite3.connect(bridge.config["DATABASE"]) as other:  # another connection: committed rows only
        return {row[0] for row in other.execute("SELECT name FROM items")}


def commits_during(bridge: WsgiOnLoop, *requests: tuple[str, str]) -> tuple[list[int], int]:
    """Run the requests at once on one loop; their statuses and how many COMMITs the app ran."""
    db: SqliteDatabase = bridge.app.extensions["test-db"]
    statements: list[str] = []
    db._conn.set_trace_callback(statements.append)

    async def all_at_once() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(call(bridge, scope_of(method, path)) for method, path in requests))

    try:
        answers = asyncio.run(all_at_once())
    finally:
        db._conn.set_trace_callback(None)
    return [answer[0]["status"] for answer in answers], statements.count("COMMIT")


def test_writes_answered_in_one_turn_are_committed_together(bridge: WsgiOnLoop) -> None:
    statuses, commits = commits_during(bridge, *[("PUT", f"/items/i{n}") for n in range(8)])
    assert statuses == [200] * 8
    assert stored(bridge) == {f"i{n}" for n in range(8)}
    assert commits == 1


def test_one_write_alone_is_committed_before_its_answer(bridge: WsgiOnLoop) -> None:
    statuses, commits = commits_during(bridge, ("PUT", "/items/alone"))
    assert statuses == [200] and commits == 1
    assert stored(bridge) == {"alone"}


def test_a_request_that_fails_undoes_only_its_own_writes(bridge: WsgiOnLoop) -> None:
    statuses, _ = commits_during(bridge, ("PUT", "/items/a"), ("PUT", "/failing/b"), ("PUT", "/items/c"))
    assert statuses == [200, 422, 200]
    assert stored(bridge) == {"a", "c"}


def test_the_first_request_of_a_batch_that_fails_undoes_only_its_own_writes(bridge: WsgiOnLoop) -> None:
    statuses, commits = commits_during(bridge, ("PUT", "/failing/a"), ("PUT", "/items/b"), ("PUT", "/items/c"))
    assert statuses == [422, 200, 200] and commits == 1
    assert stored(bridge) == {"b", "c"}


def test_a_reader_never_sees_writes_that_are_not_committed(bridge: WsgiOnLoop) -> None:
    async def write_then_read() -> list[Any]:
        writes = [call(bridge, scope_of("PUT", f"/items/w{n}")) for n in range(3)]
        answers = await asyncio.gather(*writes, call(bridge, scope_of("GET", "/committed")))
        return answers

    answers = asyncio.run(write_then_read())
    assert [a[0]["status"] for a in answers] == [200, 200, 200, 200]
    assert answers[3][1]["body"] == b'["w0","w1","w2"]\n'  # committed when the reader read, by the reader


def test_a_commit_that_fails_refuses_every_request_of_its_batch(bridge: WsgiOnLoop) -> None:
    statuses, commits = commits_during(bridge, ("PUT", "/items/x"), ("PUT", "/orphans/y"), ("PUT", "/items/z"))
    assert statuses == [503, 503, 503] and commits == 1
    assert stored(bridge) == set()
    statuses, _ = commits_during(bridge, ("PUT", "/items/x"))  # the database is usable again
    assert statuses == [200] and stored(bridge) == {"x"}


def test_a_full_database_in_a_batch_answers_200_only_for_what_is_stored(bridge: WsgiOnLoop) -> None:
    db: SqliteDatabase = bridge.app.extensions["test-db"]
    pages = db.query("PRAGMA page_count")[0][0]
    db.query(f"PRAGMA max_page_count = {pages + 8}")  # about 32 KiB left: the large write cannot fit
    requests = [("PUT", "/items/s1"), ("PUT", "/large/big"), ("PUT", "/items/s2"), ("PUT", "/items/s3")]
    statuses, _ = commits_during(bridge, *requests)
    assert statuses[1] == 507
    assert set(statuses) <= {200, 507}
    names = [path.rsplit("/", 1)[1] for _, path in requests]
    assert stored(bridge) == {name for name, status in zip(names, statuses, strict=True) if status == 200}
