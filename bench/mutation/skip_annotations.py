"""Mark the session's mutants of type annotations as skipped: they are equivalent by construction.

Every mutated module starts with ``from __future__ import annotations``, so an annotation is a
string that is never evaluated; ``int | None`` turned into ``int // None`` changes nothing. There
are about 600 of them; running the kit on each would only add hours.

    python bench/mutation/skip_annotations.py SESSION
"""

from __future__ import annotations

import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult
from triage import ANNOTATION, in_annotation


def main(session: str) -> int:
    """Skip the pending annotation mutants of ``session``."""
    skipped = 0
    with use_db(session, WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            mutation = item.mutations[0]
            if in_annotation(str(mutation.module_path), list(mutation.start_pos)):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=ANNOTATION))
                skipped += 1
    print(f"skipped {skipped} mutants of type annotations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
