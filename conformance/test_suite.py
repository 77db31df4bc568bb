"""The conformance checks as pytest tests: ``pytest --pyargs conformance --target-url URL --credentials FILE``.

Options (from the eventdouble pytest plugin): ``--target-url URL --credentials FILE
[--allow-destructive]``, or ``--against-mock``; the gates of ``eventdouble conform``:
``--conformance-fail-on WHAT[,WHAT]`` and ``--conformance-baseline FILE``. Each test is named by
its rule code and check (``KOS-RID-005-kosmos.replayed_request_id_refused``). A check whose
credentials are missing is skipped and names the key to add.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance import wire
from conformance.core import CHECKS, Context, Target, run_check
from conformance.gates import Gate, load_baseline
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


@pytest.fixture(scope="session")
def conformance_gate(request: pytest.FixtureRequest) -> Gate:
    option = request.config.getoption
    fail_on = frozenset(p.strip() for p in (option("--conformance-fail-on") or "").split(",") if p.strip())
    baseline = option("--conformance-baseline")
    return Gate(fail_on, None, load_baseline(baseline) if baseline else {})


@pytest.mark.parametrize("name", selected(["kosmos", "tenduke"]), ids=lambda name: f"{CHECKS[name].code}-{name}")
def test_conformance(name: str, conformance_context: Context, conformance_gate: Gate) -> None:
    result = run_check(CHECKS[name], conformance_context)
    if result.status == "skipped":
        pytest.skip(result.detail)
    if result.status == "passed":
        assert result.code not in conformance_gate.baseline, f"{result.code} is on the baseline but passes now"
        return
    if result.code in conformance_gate.baseline:
        pytest.xfail(f"{result.code} on the baseline: {conformance_gate.baseline[result.code]}")
    if conformance_gate.fail_on and not {result.severity, result.family} & conformance_gate.fail_on:
        pytest.xfail(f"{result.code} ({result.severity}, {result.family}) is not in --conformance-fail-on")
    pytest.fail(f"{result.code} {result.name}: {result.detail}\n{result.reproduction or ''}", pytrace=False)
