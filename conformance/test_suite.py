"""The conformance checks as pytest tests: ``pytest --pyargs conformance --target-url URL --credentials FILE``.

Options (from the eventdouble pytest plugin): ``--target-url URL --credentials FILE
[--allow-destructive]``, or ``--against-mock``. A check whose credentials are missing is skipped
and names the key to add.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance import wire
from conformance.core import CHECKS, Context, Target, run_check
from conformance.runner import selected


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    wire.self_test()
    if option("--against-mock"):
        from conformance.mock_target import provision
        from mockserver import MockServer

        with MockServer() as server:
            yield provision(server.url)
        return
    if not option("--target-url") or not option("--credentials"):
        pytest.skip("give --target-url URL --credentials FILE (or --against-mock) to run the conformance suite")
    from conformance.credentials import load_credentials

    target = load_credentials(option("--credentials"), option("--target-url"))
    target.allow_destructive = bool(option("--allow-destructive"))
    yield target


@pytest.fixture(scope="session")
def conformance_context(conformance_target: Target) -> Iterator[Context]:
    with httpx.Client(timeout=30) as http:
        yield Context(conformance_target, http)


@pytest.mark.parametrize("name", selected(["kosmos", "tenduke"]))
def test_conformance(name: str, conformance_context: Context) -> None:
    result = run_check(CHECKS[name], conformance_context)
    if result.status == "skipped":
        pytest.skip(result.detail)
    assert result.status == "passed", f"{result.detail}\n{result.reproduction or ''}"
