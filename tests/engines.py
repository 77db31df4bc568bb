"""The storage engines the tests run against: SQLite always, PostgreSQL when one is given.

Set ``POSTGRES_TEST_URL`` to a ``postgresql://`` URL of a database the tests may create
schemas in (``.ci/run`` starts Debian's cluster and sets it); every test then gets a schema of
its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

POSTGRES_URL = os.environ.get("POSTGRES_TEST_URL", "")
ENGINES = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
"""What the ``database`` fixture is parametrized with."""


def in_schema(url: str, schema: str) -> str:
    """``url``, with every connection made from it working in ``schema`` (libpq's ``options``)."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A URL of an empty schema of the test database, dropped when the block ends."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield in_schema(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def database_in(engine: str, directory: Path) -> Iterator[str]:
    """What ``--db`` takes for a server of ``engine``: a SQLite file in ``directory``, or a fresh PostgreSQL schema."""
    if engine == "sqlite":
        yield str(directory / "mock.sqlite")
        return
    with fresh_postgres() as url:
        yield url
