"""The schema is created and upgraded by the mock itself, in versioned steps, on both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.backend import Backend
from mockserver.db import Database, add_columns, open_database
from tests.engines import ENGINES, database_in

STEPS = [
    "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",  # no IF NOT EXISTS: runs once or fails
    "ALTER TABLE things ADD COLUMN colour TEXT",
]


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_in(request.param, tmp_path) as db:
        yield db


def _versions(db: Database) -> dict[str, int]:
    return {row[0]: int(row[1]) for row in db.query("SELECT component, version FROM schema_versions")}


def test_each_step_runs_once_and_its_version_is_recorded(target: str) -> None:
    db = open_database(target)
    try:
        db.upgrade("things", STEPS[:1])
        db.upgrade("things", STEPS[:1])  # already done: not run again (it would fail)
        assert _versions(db)["things"] == 1
        db.upgrade("things", STEPS)  # a newer version of the component: only the new step runs
        assert _versions(db)["things"] == 2
        with db.transaction() as tx:
            tx.execute("INSERT INTO things (id, name, colour) VALUES (1, 'a', 'red')")
    finally:
        db.close()


def test_processes_starting_together_agree(target: str) -> None:
    databases = [open_database(target) for _ in range(4)]
    failures: list[BaseException] = []

    def start(db: Database) -> None:
        try:
            db.upgrade("things", STEPS)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert failures == []
        assert _versions(databases[0])["things"] == 2
    finally:
        for db in databases:
            db.close()


def test_a_database_newer_than_the_mock_is_refused(target: str) -> None:
    db = open_database(target)
    try:
        db.upgrade("things", STEPS)
        with pytest.raises(RuntimeError, match="things tables are at version 2; this eventdouble knows 1"):
            db.upgrade("things", STEPS[:1])
    finally:
        db.close()


def test_a_failed_step_leaves_the_schema_as_it_was(target: str) -> None:
    db = open_database(target)
    try:
        with pytest.raises(Exception):  # noqa: B017 - each engine says it its own way
            db.upgrade("things", [STEPS[0], "ALTER TABLE no_such_table ADD COLUMN x TEXT"])
        assert "schema_versions" not in _tables(db) or "things" not in _versions(db)
        assert "things" not in _tables(db)
        db.upgrade("things", STEPS)  # and a corrected version goes through
    finally:
        db.close()


def _tables(db: Database) -> set[str]:
    if db.dialect == "sqlite":
        return {row[0] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {
        row[0]
        for row in db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    }


def test_adding_a_column_that_an_older_version_already_added(target: str) -> None:
    """Before versions were kept, the journal's ``fault_id`` was added when missing; such a database upgrades."""
    db = open_database(target)
    try:
        db.migrate("CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT, colour TEXT)")
        db.upgrade("things", ["CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT)",
                              add_columns("things", {"colour": "TEXT", "size": "INTEGER"})])  # fmt: skip
        with db.transaction() as tx:
            tx.execute("INSERT INTO things VALUES (1, 'a', 'red', 3)")
    finally:
        db.close()


def test_the_mock_records_the_version_of_every_store(target: str) -> None:
    backend = Backend.open(target, lambda: 0.0)
    try:
        assert _versions(backend.db) == {
            "kosmos": 2, "tenduke": 1, "journal": 2, "rate_limits": 1, "faults": 1, "webhooks": 1,
        }  # fmt: skip
    finally:
        backend.close()


def test_a_start_on_a_current_database_waits_for_no_writer(target: str) -> None:
    """Another process in the middle of a write transaction does not hold up a mock starting (the usual start)."""
    Backend.open(target, lambda: 0.0).close()  # created and upgraded once
    if target.startswith("postgresql"):
        import psycopg

        holder: Any = psycopg.connect(target, autocommit=True)
        holder.execute("BEGIN")
        holder.execute("UPDATE kosmos_licenses SET tag = 'held'")  # a writer's locks on a watched table
        holder.execute("UPDATE schema_versions SET version = version")
    else:
        import sqlite3

        holder = sqlite3.connect(target, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
    try:
        started = time.monotonic()
        Backend.open(target, lambda: 0.0).close()
        assert time.monotonic() - started < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
