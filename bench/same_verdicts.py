"""Every broken variant, the whole kit one check after the other and at once: the same verdicts.

Issue 31: the concurrent run (child processes, threads) must give the verdicts of the sequential
one. tests/test_conformance.py compares them on a few variants; this script does every variant (not
CI: some 25 minutes).

    .venv/bin/python bench/same_verdicts.py [--workers 4] [--max-examples 3] [--only NAME]

Prints one line per variant (the checks that failed, and whether both runs agree); exits 1 if any
variant's verdicts differ.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests.broken_servers

from conformance import run
from conformance.mock_target import provision
from tests.broken_servers import BROKEN, broken_mock


def main(argv: list[str] | None = None) -> int:
    """Run every variant both ways; 1 if any verdicts differ."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--workers", type=int, default=4, help="the concurrent run's workers (default: %(default)s)")
    parser.add_argument(
        "--max-examples", type=int, default=3, help="the schema phase's examples (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=5, help="the schema phase's seed (default: %(default)s)")
    parser.add_argument("--only", action="append", help="only this variant (repeatable)")
    args = parser.parse_args(argv)
    started, differ = time.monotonic(), []
    for name in sorted(args.only or BROKEN):
        with broken_mock(name) as server:
            target = provision(server.url)
            verdicts = [
                [(r.code, r.status) for r in run(target, max_examples=args.max_examples, seed=args.seed,
                                                 workers=workers).results]
                for workers in (1, args.workers)
            ]  # fmt: skip
        failed = [code for code, status in verdicts[0] if status != "passed"]
        same = verdicts[0] == verdicts[1]
        if not same:
            differ.append(name)
            changed = [(a, b) for a, b in zip(*verdicts, strict=True) if a != b]
            print(f"{name}: DIFFER {changed}", flush=True)
        else:
            print(f"{name}: same ({', '.join(failed) or 'nothing failed'})", flush=True)
    minutes = (time.monotonic() - started) / 60
    count = len(args.only or BROKEN)
    print(f"{count} variants in {minutes:.1f} min: {count - len(differ)} the same, {len(differ)} differ {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
