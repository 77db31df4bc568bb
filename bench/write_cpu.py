"""CPU time of the 10Duke store writing 100-event batches into a database file: no HTTP, no JWS.

    .venv/bin/python bench/write_cpu.py               # 3,000 batches (300,000 events)

What the write-ahead log's checkpoint interval, the JSON encoder and the event ids cost is
measured with this; run it a few times and compare the lowest figures (a shared machine only
ever adds time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockserver.db import SqliteDatabase
from mockserver.tenduke.store import TenDukeStore


def main() -> int:
    """Write the batches; print CPU and wall time per batch."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=3000, help="100-event batches (default: %(default)s)")
    args = parser.parse_args()
    events = [{"eventSourceId": "bench-put", "eventType": "bench", "eventObjectType": "item",
               "eventObjectId": str(n % 97), "data": {"n": n}} for n in range(100)]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = TenDukeStore(SqliteDatabase(f"{tmp}/write.sqlite"), time.time)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.batches):
            store.put_events(events)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        store.db.close()
    print(f"{cpu / args.batches * 1e6:,.0f} µs CPU, {wall / args.batches * 1e6:,.0f} µs wall per 100-event batch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
