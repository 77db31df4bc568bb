"""The conformance checks as pytest tests: ``pytest --pyargs conformance --target-url URL ...``.

Options (from the eventdouble pytest plugin): ``--target-url`` or ``--against-mock``;
``--kosmos-license --tenant --community [--kosmos-scoped-license] [--kosmos-disabled-license]``;
``--tenduke-key PEM --feed NAME``. An API without credentials is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance import kosmos_checks, tenduke_checks  # noqa: F401 - they register their checks
from conformance.core import CHECKS, Context, KosmosTarget, Target, TenDukeTarget, run_check


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    if option("--against-mock"):
        from conformance.mock_target import provision
        from mockserver import MockServer

        with MockServer() as server:
            yield provision(server)
        return
    if not option("--target-url"):
        pytest.skip("give --target-url URL (or --against-mock) to run the conformance suite")
    kosmos = tenduke = None
    if option("--kosmos-license"):
        kosmos = KosmosTarget(
            option("--kosmos-license"), option("--tenant"), option("--community"),
            option("--kosmos-scoped-license"), option("--kosmos-disabled-license"),
        )  # fmt: skip
    if option("--tenduke-key"):
        tenduke = TenDukeTarget(Path(option("--tenduke-key")).read_text(), option("--feed"))
    yield Target(option("--target-url"), kosmos, tenduke)


@pytest.fixture(scope="session")
def conformance_context(conformance_target: Target) -> Iterator[Context]:
    with httpx.Client(timeout=30) as http:
        yield Context(conformance_target, http)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_conformance(name: str, conformance_context: Context) -> None:
    result = run_check(CHECKS[name], conformance_context)
    if result.status == "skipped":
        pytest.skip(result.detail)
    assert result.status == "passed", f"{result.detail}\n{result.reproduction or ''}"
