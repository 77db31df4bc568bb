"""Run the checks against a target, reporting each result as it finishes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import httpx

from conformance import (  # noqa: F401 - they register their checks
    edge_checks,
    http_checks,
    kosmos_checks,
    kosmos_edge_checks,
    kosmos_scope_checks,
    reports_checks,
    schema_phase,
    tenduke_checks,
    tenduke_feed_checks,
    wire,
)
from conformance.core import CHECKS, ConformanceError, Context, Target
from conformance.report import Report
from conformance.scheduling import Progress, run_checks

__all__ = ["Report", "run", "selected"]


def selected(apis: Iterable[str], names: Sequence[str] | None = None) -> list[str]:
    """The names of the checks to run for ``apis``, optionally narrowed; destructive checks last."""
    wanted = set(apis)
    if names and (unknown := sorted(set(names) - set(CHECKS))):
        raise ConformanceError(f"unknown checks {unknown}; `eventdouble conform --list` shows them")
    chosen = [n for n, c in CHECKS.items() if c.api in wanted and (not names or n in names)]
    return sorted(chosen, key=lambda n: (CHECKS[n].destructive, CHECKS[n].code))  # by code: not by import order


def _meta(target: Target, apis: list[str], names: list[str], max_examples: int, seed: int | None) -> dict[str, Any]:
    """What every report carries about its run: the kit's version, the target, the seed, the options, the date."""
    try:
        version = metadata.version("eventdouble")
    except metadata.PackageNotFoundError:
        version = "unknown"
    now = time.time()
    return {
        "version": version,
        "target": target.base_url,
        "seed": seed,
        "options": {
            "apis": apis,
            "checks": names,
            "max_examples": max_examples,
            "allow_destructive": target.allow_destructive,
        },
        "date": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "started_ms": int(now * 1000),
    }


def run(
    target: Target,
    apis: Iterable[str] = ("kosmos", "tenduke"),
    names: Sequence[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    max_examples: int = 10,
    seed: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> Report:
    """Run the chosen checks against ``target``; raise ConformanceError if the kit cannot run.

    With ``workers`` over 1, independent checks run at once (each check has its own callers,
    request ids, event names and feeds): the schema phase and the other checks in child processes,
    on ``workers`` threads there (see :func:`conformance.scheduling.run_checks`; with a
    ``transport``, on threads here), and destructive checks alone at the end. The report lists the
    results in the same order either way, and the verdicts are the same.
    """
    apis = list(apis)
    if "kosmos" in apis and target.kosmos is None:
        raise ConformanceError("1Kosmos checks need the `kosmos` section of a credentials file (--credentials)")
    if "tenduke" in apis and target.tenduke is None:
        raise ConformanceError("10Duke checks need the `tenduke` section of a credentials file (--credentials)")
    try:
        wire.self_test()
    except wire.WireSelfTestFailed as exc:
        raise ConformanceError(f"the kit's own crypto does not reproduce its fixed vectors: {exc}") from exc
    names = selected(apis, names)
    with httpx.Client(transport=transport, timeout=timeout) as http:
        try:
            http.get(target.base_url)
        except httpx.TransportError as exc:
            raise ConformanceError(f"cannot reach {target.base_url}: {exc}") from exc
        ctx = Context(target, http, options={"max_examples": max_examples, "seed": seed})
        meta = _meta(target, apis, names, max_examples, seed)
        meta["options"]["workers"] = workers
        results = run_checks(names, ctx, workers, progress, processes=transport is None)
        meta["stopped_ms"] = int(time.time() * 1000)
        return Report(target.base_url, results, meta)
