#!/usr/bin/env bash
# Mutation testing of the mock's protocol modules, with the conformance kit as the only judge.
#
#   bash bench/mutation/run.sh            # new session, or resume the one in bench/mutation/.work
#   bash bench/mutation/run.sh --fresh    # start over
#
# cosmic-ray edits files in place, so it works on a copy of the tree (bench/mutation/.work/tree).
# Each mutant runs bench/mutation/kit_on_mock.py (the kit's named checks against an in-process mock);
# a failed check kills it. Results: bench/mutation/.work/session.sqlite, then
# `python bench/mutation/triage.py` writes bench/mutation/report.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$root/bench/mutation/.work"
python="$root/.venv/bin/python"
if [[ "${1:-}" == "--fresh" ]]; then rm -rf "$work"; fi
if [[ ! -f "$work/session.sqlite" ]]; then
    "$python" -m pip install --quiet 'cosmic-ray>=8.4'
    mkdir -p "$work/tree"
    (cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work/tree")
    (cd "$work/tree" && "$root/.venv/bin/cosmic-ray" init bench/mutation/cosmic-ray.toml "$work/session.sqlite")
    (cd "$work/tree" && "$python" bench/mutation/skip_annotations.py "$work/session.sqlite")
fi
cd "$work/tree"
export PATH="$root/.venv/bin:$PATH" PYTHONPATH="$work/tree"
"$root/.venv/bin/cosmic-ray" exec bench/mutation/cosmic-ray.toml "$work/session.sqlite"
"$root/.venv/bin/cr-report" "$work/session.sqlite" | tail -4
