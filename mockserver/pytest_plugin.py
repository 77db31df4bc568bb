"""pytest fixtures for projects that test against the mock (installed as the ``eventdouble`` plugin).

* ``eventdouble_server``: one :class:`MockServer` for the session;
* ``eventdouble``: the same server, reset (events, journal, credentials) before each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockserver.inprocess import MockServer


@pytest.fixture(scope="session")
def eventdouble_server() -> Iterator[MockServer]:
    """A mock on a free loopback port for the whole session (in-memory database)."""
    with MockServer() as server:
        yield server


@pytest.fixture
def eventdouble(eventdouble_server: MockServer) -> MockServer:
    """The session's mock with a clean state: no events, licenses or client keys."""
    eventdouble_server.reset(everything=True)
    return eventdouble_server


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the conformance suite: ``pytest --pyargs conformance --target-url URL ...``."""
    group = parser.getgroup("eventdouble conformance")
    group.addoption("--target-url", help="server under test (or --against-mock)")
    group.addoption("--against-mock", action="store_true", help="test an in-process, provisioned mock")
    group.addoption("--credentials", help="YAML credentials file for --target-url (see the README)")
    group.addoption("--allow-destructive", action="store_true", help="also run the service-key reset check")
    group.addoption(
        "--conformance-fail-on",
        metavar="WHAT[,WHAT]",
        help="only failures of these severities or rule families fail; the others are xfail (as conform --fail-on)",
    )
    group.addoption(
        "--conformance-baseline",
        metavar="FILE",
        help="known failures by code are xfail; a listed code that passes fails (as conform --baseline)",
    )
