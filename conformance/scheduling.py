"""The order checks run in: one after the other, on threads, or in child processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from conformance import lane
from conformance.core import CHECKS, CheckResult, Context, run_check

__all__ = ["Progress", "run_checks"]

Progress = Callable[[int, int, CheckResult], None]
"""Called after each check: its position, how many run in all, and its result."""


def run_checks(
    names: list[str], ctx: Context, workers: int, progress: Progress | None, processes: bool = True
) -> list[CheckResult]:
    """The results of ``names``, in that order; independent ones at once when ``workers`` is over 1.

    With ``processes``, the schema check with the most operations runs in a child process of its own and the other
    independent checks in one more, on ``workers`` threads there (:mod:`conformance.lane`), while
    this process runs the checks that wait on the clock (and answers, when the target is an
    in-process mock). Else they run here, on ``workers`` threads, the schema phase one check after
    the other (hypothesis is not thread-safe). Destructive checks run alone at the end.
    """
    done: dict[str, CheckResult] = {}
    lock = threading.Lock()

    def finished(result: CheckResult) -> None:
        with lock:
            if result.name in done:
                return
            done[result.name] = result
            if progress:
                progress(len(done), len(names), result)

    at_the_end = [n for n in names if CHECKS[n].destructive]
    if workers > 1:
        schema = [n for n in names if CHECKS[n].family == "schema" and n not in at_the_end]
        independent = [n for n in names if n not in schema and n not in at_the_end]
        independent.sort(key=lambda n: -CHECKS[n].waits)  # stable: code order among equals
        waiting = [n for n in independent if CHECKS[n].waits]
        # the schema check with the most operations alone; the others (one thread there) with the rest
        schema_first = sorted(schema, key=lambda n: -len(CHECKS[n].operations))
        groups = [schema_first[:1], schema_first[1:] + [n for n in independent if n not in waiting]]
        children = [lane.start(group, ctx, workers) for group in groups if group] if processes else []
        if children and all(children):
            _run_on_threads([], waiting, ctx, workers, finished, [c.results for c in children if c])
        else:
            for child in children:  # one could not start: run everything here
                if child:
                    child.stop()
            _run_on_threads(schema, independent, ctx, workers, finished)
    for name in names:
        if name not in done:  # destructive checks, and any a child did not report
            finished(run_check(CHECKS[name], ctx))
    return [done[name] for name in names]


def _run_on_threads(
    schema: list[str],
    independent: list[str],
    ctx: Context,
    workers: int,
    finished: Callable[[CheckResult], None],
    streams: list[Callable[[], object]] | None = None,
) -> None:
    """Run the schema phase one check after the other on one thread, the others on the rest.

    ``streams`` are children's result iterators, each read on a thread of its own.
    """
    with ThreadPoolExecutor(workers + len(streams or ()), thread_name_prefix="conform") as pool:
        lanes = [pool.submit(lambda: [finished(run_check(CHECKS[n], ctx)) for n in schema])] if schema else []
        lanes += [pool.submit(lambda s=s: [finished(r) for r in s()]) for s in streams or ()]  # type: ignore[attr-defined]
        lanes += [pool.submit(lambda n=n: finished(run_check(CHECKS[n], ctx))) for n in independent]
        for future in as_completed(lanes):
            future.result()
