"""Forget survivors' results, so the next ``run.sh`` judges them again with the kit as it is now.

    python bench/mutation/retest_survivors.py [--untriaged] [SESSION]

Use it after adding or strengthening checks. ``--untriaged`` forgets only the survivors that
``triage.toml`` does not explain (the quick way after a small change); killed and skipped
mutants always keep their results.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from triage import explanation

SESSION = Path(__file__).parent / ".work" / "session.sqlite"


def main(argv: list[str]) -> int:
    """Delete the results of mutants that survived a normal run (or only of the unexplained ones)."""
    untriaged = "--untriaged" in argv
    session = Path(next((a for a in argv if not a.startswith("--")), SESSION))
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT r.job_id, s.module_path, s.start_pos_row, s.start_pos_col, s.operator_name"
            " FROM work_results r JOIN mutation_specs s ON s.job_id = r.job_id"
            " WHERE r.worker_outcome = 'NORMAL' AND r.test_outcome = 'SURVIVED'"
        ).fetchall()
        chosen = [
            job for job, module, row, col, operator in rows
            if not untriaged or explanation(module, [row, col], operator) is None
        ]  # fmt: skip
        db.executemany("DELETE FROM work_results WHERE job_id = ?", [(job,) for job in chosen])
    print(json.dumps({"forgotten": len(chosen), "survivors": len(rows)}), "- run bench/mutation/run.sh again")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
