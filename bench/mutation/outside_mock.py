"""A mock for one outside mutant: the real mock with other spec files or other settings, in this process.

    python bench/mutation/outside_mock.py --spec-dir DIR --config '{"MAX_EVENTS_PER_PUT": 999}'

Prints its URL on one line, then serves until its stdin closes. The spec files are read from
``DIR`` instead of the package (the mutant's edit), the settings are the defaults with ``--config``
on top (the mutant's default). Only this harness does this: the mock itself has no such switch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mockserver.spec
from mockserver import MockServer


def main() -> int:
    """Serve the mutant until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--spec-dir", help="a directory holding kosmos-events.yaml, tenduke-events.yaml, admin.yaml")
    parser.add_argument("--config", default="{}", help="settings over the defaults, as JSON")
    args = parser.parse_args()
    if args.spec_dir:
        mockserver.spec.SPEC_DIR = Path(args.spec_dir)  # type: ignore[assignment]
    with MockServer(config=json.loads(args.config)) as server:
        print(server.url, flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
