"""Forget the session's survivors, so the next ``run.sh`` judges them again with the kit as it is now.

    python bench/mutation/retest_survivors.py [SESSION]

Use it after adding or strengthening checks; killed and skipped mutants keep their results.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

SESSION = Path(__file__).parent / ".work" / "session.sqlite"


def main(session: Path) -> int:
    """Delete the results of mutants that survived a normal run."""
    with sqlite3.connect(session) as db:
        deleted = db.execute(
            "DELETE FROM work_results WHERE worker_outcome = 'NORMAL' AND test_outcome = 'SURVIVED'"
        ).rowcount
    print(f"{deleted} survivors will be run again by bench/mutation/run.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else SESSION))
