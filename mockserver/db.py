"""The one storage interface shared by the service stores, and its SQLite engine (the default).

Stores talk SQL through :meth:`Database.transaction` and :meth:`Database.query`, with ``?``
placeholders and the SQL both engines understand. :class:`Database` holds what does not depend
on the engine (group commit, cached reads, the cooperative wait for the write lock);
:class:`SqliteDatabase` (here) and :class:`mockserver.postgres.PostgresDatabase` fill in the
rest. :func:`open_database` picks one from what ``--db`` names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from typing import Any, Protocol, TypeVar

from mockserver.errors import ApiError, StorageBusy, StorageFull, StorageUnavailable
from mockserver.waits import on_event_loop, pause, wait_for

__all__ = [
    "BUSY_MESSAGE",
    "Cursor",
    "Database",
    "Migration",
    "SqliteDatabase",
    "Transaction",
    "Write",
    "add_columns",
    "compact_json",
    "ddl_statements",
    "end_request",
    "equality_filters",
    "is_server_url",
    "open_database",
    "shown_database",
    "start_request",
    "storage_error",
]

T = TypeVar("T")


class Cursor(Protocol):
    """What a statement run in a transaction gives back (a ``sqlite3.Cursor`` has all of it)."""

    rowcount: int

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The rows left."""


class Transaction(Protocol):
    """The handle a :meth:`Database.transaction` block gets: ``?`` placeholders, rows by name or index."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement once for each row of parameters."""


Write = Callable[[Transaction], object]
"""Statements to run inside a transaction the caller opens (see :meth:`Database.transaction`)."""
Migration = str | Callable[["Database"], None]
"""A step of :meth:`Database.upgrade`: DDL, or a function that changes the schema."""
SCHEMA_VERSIONS = "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
"""Which version of its tables each component (a store) has: the steps of :meth:`Database.upgrade` done."""


def add_columns(table: str, columns: Mapping[str, str]) -> Callable[[Database], None]:
    """A migration step adding the ``columns`` (name: SQL type) that ``table`` lacks.

    For a column an earlier version added without recording a version: it may be there already.
    """

    def step(db: Database) -> None:
        present = db._columns(table)
        for name, sql_type in columns.items():
            if name not in present:
                db._run_ddl(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")

    return step


def ddl_statements(ddl: str) -> list[str]:
    """The statements of ``ddl``, without ``--`` comments (no statement of the stores holds ``;`` or ``--``)."""
    return [statement.strip() for statement in re.sub(r"--[^\n]*", "", ddl).split(";") if statement.strip()]


BLOCKING_WAIT_MS = 5
"""How long the engine itself waits (blocking) for the write lock before the caller's own, cooperative
wait: SQLite's busy timeout, PostgreSQL's ``lock_timeout`` on the advisory lock."""
WAL_CHECKPOINT_PAGES = 10_000
"""Pages (4 KiB) the write-ahead log may hold before a commit copies them into the database file.

SQLite's default, 1,000, makes every few commits of a busy writer a checkpoint that copies the
same hot index pages again and again; 10,000 (about 40 MB of log) wrote 100-event batches with
17 % less CPU (2,114 -> 1,756 µs a batch, lowest of three runs each). Durability is the same:
a commit is in the log either way."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the log file is truncated to after a checkpoint, so a burst does not leave it large."""
compact_json = json.JSONEncoder(separators=(",", ":")).encode
"""How stores write JSON: ``json.dumps(value, separators=(",", ":"))``, without building an
encoder for every call."""
CACHE_ENTRIES = 1024
"""How many values :meth:`Database.cached` keeps per table."""
WRITE_LOCK_WAIT_SECONDS = 10.0
"""How long a write waits for another process's transaction before it is refused (503)."""


BUSY_MESSAGE = "the mock's database is busy with another writer: nothing was stored; retry"
"""What a write refused because another one held the database's write lock too long says (503)."""


def storage_error(exc: BaseException) -> ApiError | None:
    """The refusal a SQLite failure means for the caller (507 full, 503 busy or I/O); None if it is a bug."""
    text = str(exc).lower()
    if "full" in text:
        return StorageFull("the mock's database is full (no disk space, or its size limit): nothing was stored")
    if "locked" in text or "busy" in text:
        return StorageBusy(BUSY_MESSAGE)
    if "disk i/o" in text or "readonly" in text or "unable to open" in text or "malformed" in text:
        return StorageUnavailable(f"the mock cannot write its database ({text}): nothing was stored")
    return None


class _Batch:
    """The write transactions of requests answered within two turns of an event loop, committed as one.

    The first request's statements open one SQLite transaction, each later request's run in a
    savepoint of it (a savepoint copies the pages it changes, so the first goes without), and a
    request that fails undoes only its own; each waits (:func:`mockserver.waits.wait_for`) for
    the one COMMIT that makes them all durable, or for the error that stored none of them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: list[asyncio.Future[BaseException | None]] = []
        self.generations_current = False
        """Whether the cached tables' generations were read since the batch took the write lock."""

    def join(self) -> asyncio.Future[BaseException | None]:
        """A future resolved with the batch's outcome: None once committed, else the error."""
        waiter = self.loop.create_future()
        self.waiters.append(waiter)
        return waiter

    def settle(self, failure: BaseException | None) -> None:
        """Tell every waiting request the outcome."""
        for waiter in self.waiters:
            if not waiter.done():  # a waiter whose request was cancelled
                waiter.set_result(failure)


_checked_in_request: ContextVar[set[int] | None] = ContextVar("eventdouble_generations_checked", default=None)
"""In a request: the databases whose generations it has checked (:meth:`Database.cached`); None outside one."""


def start_request() -> Token[set[int] | None]:
    """Begin a request: cached values are checked against their tables at its first cached read only.

    A request then reads one view of the cached tables (as of that check, plus its own writes),
    and pays for one check instead of one per read. Pass the token to :func:`end_request`.
    """
    return _checked_in_request.set(set())


def end_request(token: Token[set[int] | None]) -> None:
    """End the request :func:`start_request` began."""
    _checked_in_request.reset(token)


def equality_filters(pairs: Sequence[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """A WHERE clause of ``column = ?`` for each pair whose value is not None (``1 = 1`` if none)."""
    used = [(column, value) for column, value in pairs if value is not None]
    clause = " AND ".join(f"{column} = ?" for column, _ in used) or "1 = 1"
    return clause, [value for _, value in used]


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only: it holds the service private key and licenses.

    SQLite gives its -wal and -shm files the same permissions. An existing file is left as it is.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Database:
    """What every engine shares: one connection guarded by a lock, group commit, cached reads.

    An engine (a subclass) opens the connection and says how to begin a write transaction, how
    its failures map to refusals, how to learn that another process changed a cached table, and
    how to create its tables.
    """

    dialect = ""
    """The engine's name: ``sqlite`` or ``postgresql``."""
    errors: tuple[type[BaseException], ...] = ()
    """The engine's own exception classes, turned into refusals by :meth:`refusal_for`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._caches: dict[str, tuple[int, dict[Hashable, Any]]] = {}
        self._generations_stale = False
        self._generation_snapshot: dict[str, int] = {}
        self._batch: _Batch | None = None

    # what an engine provides --------------------------------------------------------------------
    def refusal_for(self, exc: BaseException) -> ApiError | None:
        """The refusal an engine failure means for the caller (507, 503); None if it is a bug."""
        return storage_error(exc)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement on the connection (``?`` placeholders); its cursor."""
        raise NotImplementedError

    def _handle(self) -> Transaction:
        """What a transaction block gets to run its statements with."""
        raise NotImplementedError

    def _try_begin(self) -> bool:
        """Begin a transaction holding the database's write lock; False (nothing begun) if another has it."""
        raise NotImplementedError

    def _in_transaction(self) -> bool:
        raise NotImplementedError

    def _commit(self) -> None:
        """Commit the open write transaction; an error means nothing of it was stored."""
        self._execute("COMMIT")

    def _changed_elsewhere(self) -> bool:
        """Whether another connection may have committed since this was last asked."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _schema_change(self) -> AbstractContextManager[None]:
        """A transaction in which this process alone changes the schema (processes starting together take turns)."""
        raise NotImplementedError

    def _run_ddl(self, ddl: str) -> None:
        """Run the statements of ``ddl`` (SQLite's spelling, ``;`` between them) in the open transaction."""
        raise NotImplementedError

    def _columns(self, table: str) -> set[str]:
        """The names of ``table``'s columns."""
        raise NotImplementedError

    def watch(self, table: str) -> None:
        """Count every change to ``table`` (from any process), so :meth:`cached` values of it stay right."""
        raise NotImplementedError

    def octet_length(self, column: str) -> str:
        """SQL for the size in bytes of the UTF-8 text in ``column``."""
        raise NotImplementedError

    def keep_insertion_order(self, table: str) -> None:
        """Let queries order ``table``'s rows as inserted, by a ``rowid`` column (SQLite tables have one)."""

    def last_id(self, table: str) -> int:
        """The last id an ``id`` column given by the database handed out in ``table``, used or not (0 if none)."""
        raise NotImplementedError

    # shared -------------------------------------------------------------------------------------
    def migrate(self, ddl: str) -> None:
        """Run idempotent ``CREATE ... IF NOT EXISTS`` statements, one process at a time."""
        with self._schema_change():
            self._run_ddl(ddl)

    def _version_of(self, component: str) -> int:
        """The version of ``component``'s tables, read without a lock (0 before any)."""
        try:
            rows = self.query("SELECT version FROM schema_versions WHERE component = ?", (component,))
        except self.errors:  # no versions table yet
            return 0
        return int(rows[0][0]) if rows else 0

    def upgrade(self, component: str, steps: Sequence[Migration]) -> None:
        """Bring ``component``'s tables to version ``len(steps)``: run the steps not yet done, in order.

        The versions are kept in ``schema_versions``; processes starting together take turns, so
        each step runs once, and all of an upgrade commits or none of it. A step is DDL (SQLite's
        spelling; each engine translates) or a function given this database, for what DDL cannot
        say on both engines (:func:`add_columns`). A database whose ``component`` is newer than
        ``steps`` is refused: an older mock must not write tables it does not know.
        """
        if self._version_of(component) == len(steps):
            return  # the usual start: nothing to change, and no write lock to wait for
        with self._schema_change():
            self._run_ddl(SCHEMA_VERSIONS)
            row = self._execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
            done = int(row[0]) if row else 0
            if done > len(steps):
                raise RuntimeError(
                    f"the database's {component} tables are at version {done}; this eventdouble knows "
                    f"{len(steps)}: use a newer eventdouble"
                )
            for version, step in enumerate(steps[done:], done + 1):
                if isinstance(step, str):
                    self._run_ddl(step)
                else:
                    step(self)
                self._execute(
                    "INSERT INTO schema_versions VALUES (?, ?) ON CONFLICT (component) DO UPDATE"
                    " SET version = excluded.version",
                    (component, version),
                )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except self.errors as exc:
            refusal = self.refusal_for(exc)
            if refusal is None:
                raise
            raise refusal from exc

    def _mark_generations_stale(self) -> None:
        self._generations_stale = True

    def cached(self, table: str, key: Hashable, load: Callable[[], T]) -> T:
        """``load()``, remembered under ``key`` until ``table`` (see :meth:`watch`) next changes.

        The generations of every watched table are read again only when they may have changed:
        another connection committed, or this one wrote them; in a request
        (:func:`start_request`), another connection's commits are looked for once, at its first
        cached read. At most ``CACHE_ENTRIES`` values are kept per table, so keys chosen by
        callers (unknown license keys) cannot fill memory.
        """
        with self._lock:
            checked = _checked_in_request.get()
            if checked is None or id(self) not in checked or self._generations_stale:
                batch = self._batch
                # While a batch holds the write lock, no other connection can commit: generations
                # read during the batch stay current until it commits (one read a batch, not a request).
                if batch is None or not batch.generations_current or self._generations_stale:
                    with self._translated():
                        self._read_generations()
                    if batch is not None:
                        batch.generations_current = True
                if checked is not None:
                    checked.add(id(self))
            generation = self._generation_snapshot.get(table, 0)
            seen, values = self._caches[table]
            if seen != generation or len(values) >= CACHE_ENTRIES:
                values = {}
                self._caches[table] = (generation, values)
            if key not in values:
                values[key] = load()
            return values[key]

    def _read_generations(self) -> None:
        """Every watched table's generation, read again only if they may have changed."""
        if self._changed_elsewhere() or self._generations_stale:
            self._generations_stale = False
            rows = self._execute("SELECT name, n FROM table_generations").fetchall()
            self._generation_snapshot = {row[0]: int(row[1]) for row in rows}

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Run statements atomically; committed (and durable) when the block ends without error.

        A full disk, a busy database or an I/O error becomes a 507 or 503 refusal
        (:meth:`refusal_for`), after the transaction is rolled back: nothing half-written stays.
        In a request on a worker's event loop, the transactions of the requests answered in the
        same two turns of the loop are committed together (:class:`_Batch`); the block's end returns
        once the COMMIT is done, as it does elsewhere. Not to be entered while holding this
        connection's lock (its wait would hold it), nor with a pause inside the block.
        """
        return self._grouped() if on_event_loop() else self._alone()

    @contextmanager
    def _alone(self) -> Iterator[Transaction]:
        with self._translated():
            self._begin(grouped=False)
            try:
                yield self._handle()
                self._commit()
            except BaseException:
                if self._in_transaction():  # SQLite may have rolled back already (SQLITE_FULL)
                    self._execute("ROLLBACK")
                raise
            finally:
                self._lock.release()

    @contextmanager
    def _grouped(self) -> Iterator[Transaction]:
        with self._translated():
            batch = self._begin(grouped=True)
            try:
                assert batch is not None
                first = not batch.waiters  # alone in the transaction so far: no savepoint needed
                outcome = batch.join()
                if not first:
                    self._execute("SAVEPOINT request")
                try:
                    yield self._handle()
                    if not first:
                        self._execute("RELEASE SAVEPOINT request")
                except BaseException as exc:
                    if first:
                        self._end_batch(batch, exc)
                    else:
                        self._undo_request(batch, exc)
                    raise
            finally:
                self._lock.release()
        failure = wait_for(outcome)
        if failure is not None:
            refusal = self.refusal_for(failure) if isinstance(failure, self.errors) else None
            raise refusal or StorageUnavailable(f"the mock could not commit ({failure}): nothing was stored")

    def _undo_request(self, batch: _Batch, exc: BaseException) -> None:
        """Undo one request's statements; if the engine ended the whole transaction, the batch failed."""
        if self._in_transaction():
            try:
                self._execute("ROLLBACK TO SAVEPOINT request")
                self._execute("RELEASE SAVEPOINT request")
                return
            except self.errors as undo_error:
                exc = undo_error
        self._end_batch(batch, exc)

    def _end_batch(self, batch: _Batch, failure: BaseException | None = None) -> None:
        """Commit the open ``batch`` (unless it failed) and tell its requests; nothing if it has ended."""
        if self._batch is not batch:
            return
        self._batch = None
        try:
            if failure is None:
                self._commit()
        except self.errors as exc:
            failure = exc
        finally:
            try:
                if failure is not None and self._in_transaction():
                    self._execute("ROLLBACK")
            finally:
                self._lock.release()  # the batch's own hold, taken when it began
                batch.settle(failure)

    def _flush(self) -> None:
        """Commit the open batch now, before a read (called with this connection's lock held)."""
        if self._batch is not None:
            self._end_batch(self._batch)

    def _begin(self, grouped: bool) -> _Batch | None:
        """Take this connection's lock, then the database's write lock; the caller releases the first.

        While another process holds the write lock, wait in short pauses, up to the lock wait,
        without this connection's lock: the process's other requests go on meanwhile (in a worker,
        on its event loop: :func:`mockserver.waits.pause`). The engine's own wait would block
        inside C, holding everything. On an event loop, a batch already open is joined; a new one
        holds the lock once more itself, until it is committed two turns of the loop later.
        """
        deadline = time.monotonic() + WRITE_LOCK_WAIT_SECONDS
        wait = 0.001
        while True:
            self._lock.acquire()
            if self._batch is not None:  # only ever on the loop's thread: the batch holds the lock
                return self._batch
            try:
                if self._try_begin():
                    break
            except BaseException:
                self._lock.release()
                raise
            self._lock.release()
            if time.monotonic() > deadline:
                raise StorageBusy(BUSY_MESSAGE)
            pause(wait)
            wait = min(wait * 2, 0.02)
        if not grouped:
            return None
        self._lock.acquire()
        self._batch = batch = _Batch(asyncio.get_running_loop())
        # two turns, not one: the requests whose bytes arrive in between join too. Under 8 busy
        # connections a batch grew from 3.6 requests to 7.8, and the signed PUT's server CPU fell
        # by about 4 % (6 of 7 alternating runs).
        batch.loop.call_soon(batch.loop.call_soon, self._end_batch, batch)
        return batch

    def query(self, sql: str, params: Sequence[Any] = (), *, see_pending: bool = False) -> list[Any]:
        """Run one read statement and return its rows (by column name or index).

        A batch of writes not yet committed (:meth:`transaction`) is committed first, so no reader
        sees what may yet fail; unless ``see_pending``: for a check that only refuses, such as the
        replay check (a request id about to be committed is as used as a committed one).
        """
        with self._lock, self._translated():
            if not see_pending:
                self._flush()
            rows: list[Any] = self._execute(sql, params).fetchall()
            return rows

    def query_within(self, sql: str, params: Sequence[Any], budget: int, size_of: Callable[[Any], int]) -> list[Any]:
        """The rows of a read statement, in order, while their sizes add up to at most ``budget``.

        The first row is always returned, whatever its size, so a reader paging through always
        moves on. Rows are fetched a few at a time, so no more than the budget is held.
        """
        rows: list[Any] = []
        used = 0
        with self._lock, self._translated():
            self._flush()
            cursor = self._execute(sql, params)
            try:
                while batch := cursor.fetchmany(16):
                    for row in batch:
                        used += size_of(row)
                        if rows and used > budget:
                            return rows
                        rows.append(row)
            finally:
                cursor.close()
        return rows

    def close(self) -> None:
        """Close the connection (after committing an open batch)."""
        with self._lock:
            self._flush()
            self._close()


class SqliteDatabase(Database):
    """A SQLite database (WAL), the default; ``:memory:`` works for tests and notebooks."""

    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, path: str = ":memory:", synchronous: str = "NORMAL") -> None:
        super().__init__()
        self.path = path
        self._data_version = -1
        if path != ":memory:" and not path.startswith("file:"):
            _create_private(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.create_function("eventdouble_generations_changed", 0, self._mark_generations_stale)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        with self._blocking_waits():
            if path != ":memory:":
                self._switch_to_wal()
                self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")

    def _switch_to_wal(self) -> None:
        """Put the database in WAL mode, also while other processes open it at the same moment.

        SQLite may refuse with "database is locked" at once, without its busy wait (it does not wait
        to upgrade a lock another connection also wants): try again until the lock wait is over.
        """
        deadline = time.monotonic() + WRITE_LOCK_WAIT_SECONDS
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if storage_error(exc).__class__ is not StorageBusy or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)  # before serving: nothing else to keep responsive

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def _handle(self) -> Transaction:
        return self._conn

    def _try_begin(self) -> bool:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if storage_error(exc).__class__ is StorageBusy:
                return False
            raise
        return True

    def _in_transaction(self) -> bool:
        return self._conn.in_transaction

    def _changed_elsewhere(self) -> bool:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    def _close(self) -> None:
        self._conn.close()

    @contextmanager
    def _blocking_waits(self) -> Iterator[None]:
        """Let SQLite itself wait up to the full lock wait, for setup work done before serving.

        Processes opening one fresh database together all create its tables and switch it to WAL;
        at start there are no other connections to keep responsive, so a blocking wait is right.
        """
        self._conn.execute(f"PRAGMA busy_timeout={int(WRITE_LOCK_WAIT_SECONDS * 1000)}")
        try:
            yield
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={BLOCKING_WAIT_MS}")

    @contextmanager
    def _schema_change(self) -> Iterator[None]:
        with self._lock, self._blocking_waits():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._generations_stale = True

    def _run_ddl(self, ddl: str) -> None:
        for statement in ddl_statements(ddl):
            self._conn.execute(statement)

    def _columns(self, table: str) -> set[str]:
        return {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")}

    def watch(self, table: str) -> None:
        """Count every change to ``table`` (from any process), so :meth:`cached` values of it stay right.

        Triggers bump the table's generation inside the writing transaction, whoever writes.
        """
        bump = f"INSERT INTO table_generations VALUES ('{table}', 1) ON CONFLICT (name) DO UPDATE SET n = n + 1"
        script = (
            "CREATE TABLE IF NOT EXISTS table_generations (name TEXT PRIMARY KEY, n INTEGER NOT NULL);\n"
            + "".join(
                f"CREATE TRIGGER IF NOT EXISTS {table}_{event.lower()}_generation AFTER {event} ON {table}"
                f" BEGIN {bump}; END;\n"
                for event in ("INSERT", "UPDATE", "DELETE")
            )
        )
        with self._lock, self._blocking_waits():  # a script of IF NOT EXISTS: no write lock once they exist
            self._conn.executescript(script)
            self._generations_stale = True
        with self._lock:  # this connection's own writes: a TEMP trigger is seen by this connection alone
            for event in ("INSERT", "UPDATE"):
                self._conn.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS generations_{event.lower()}_seen AFTER {event}"
                    " ON main.table_generations BEGIN SELECT eventdouble_generations_changed(); END"
                )
        self._caches.setdefault(table, (-1, {}))

    def octet_length(self, column: str) -> str:
        """The text cast to a BLOB: its UTF-8 bytes (``octet_length`` came in SQLite 3.43; Debian 12 has 3.40)."""
        return f"LENGTH(CAST({column} AS BLOB))"

    def last_id(self, table: str) -> int:
        """From ``sqlite_sequence``: an ``AUTOINCREMENT`` id is never reused, even after the rows are deleted."""
        rows = self.query("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
        return int(rows[0][0]) if rows else 0


def is_server_url(target: str) -> bool:
    """Whether ``--db`` names a database server (``postgresql://...``) rather than a SQLite file."""
    return target.startswith(("postgresql://", "postgres://"))


def shown_database(target: str) -> str:
    """``target`` as it may be printed: a password in a ``postgresql://`` URL is masked."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@", r"\1:***@", target) if is_server_url(target) else target


def open_database(target: str, synchronous: str = "NORMAL") -> Database:
    """The database ``target`` names: a ``postgresql://`` URL, else a SQLite file (or ``:memory:``)."""
    if is_server_url(target):
        from mockserver.postgres import PostgresDatabase  # psycopg is loaded only when it is used

        return PostgresDatabase(target)
    return SqliteDatabase(target, synchronous)
