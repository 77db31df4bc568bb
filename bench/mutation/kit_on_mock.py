"""The test command of the mutation run: the conformance kit against an in-process mock of this tree.

Exit 0 when every check passes (the mutant survived), 1 at the first failed check (killed), 2 when
the kit could not run at all (also a kill: the mutant broke the mock's start). The schema phase
(schemathesis) is left out: it is random and slow, and the named checks are what is measured.
"""

from __future__ import annotations

import sys
import time

import httpx

from conformance import wire
from conformance.core import CHECKS, Context, run_check
from conformance.mock_target import provision
from conformance.runner import selected
from mockserver import MockServer


def main() -> int:
    """Run the named checks, stop at the first that fails; print it."""
    started = time.perf_counter()
    wire.self_test()
    names = [n for n in selected(["kosmos", "tenduke"]) if CHECKS[n].family != "schema"]
    with MockServer() as server, httpx.Client(timeout=20) as http:
        ctx = Context(provision(server.url, http), http)
        for name in names:
            result = run_check(CHECKS[name], ctx)
            if result.status != "passed":
                print(f"KILLED by {name} ({result.status}): {result.detail[:300]}")
                return 1
    print(f"SURVIVED: {len(names)} checks passed in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
