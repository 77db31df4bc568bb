#!/usr/bin/env bash
# Mutation testing of the mock's protocol modules, with the conformance kit as the only judge.
#
#   bash bench/mutation/run.sh [--fresh] [--workers N] [--config FILE]
#
# --config picks the modules (default bench/mutation/cosmic-ray.toml, the protocol modules;
# bench/mutation/framework.toml is the framework layer); each config has its own session.
# --fresh starts a new session (else the one in bench/mutation/.work is resumed); --workers N
# (default 2) runs N mutants at a time, each worker in its own copy of the tree, since cosmic-ray
# edits files in place. Each mutant runs bench/mutation/kit_on_mock.py (the kit's named checks
# against an in-process mock of the mutated tree); a failed check kills it. Then
# `python bench/mutation/triage.py` writes bench/mutation/report.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/.venv/bin"
workers=2
config="bench/mutation/cosmic-ray.toml"
fresh=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --fresh) fresh=1; shift ;;
        --workers) workers="$2"; shift 2 ;;
        --config) config="$2"; shift 2 ;;
        *) echo "usage: $0 [--fresh] [--workers N] [--config FILE]" >&2; exit 2 ;;
    esac
done
name="$(basename "$config" .toml)"
work="$root/bench/mutation/.work"
[[ "$name" == "cosmic-ray" ]] || work="$root/bench/mutation/.work-$name"
[[ "$fresh" == 0 ]] || rm -rf "$work"
copy_tree() { mkdir -p "$1" && (cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$1"); }

if [[ ! -f "$work/session.sqlite" ]]; then
    "$bin/python" -m pip install --quiet 'cosmic-ray>=8.4'
    copy_tree "$work/tree1"
    (cd "$work/tree1" && "$bin/cosmic-ray" init "$config" "$work/session.sqlite")
    (cd "$work/tree1" && PYTHONPATH=. "$bin/python" bench/mutation/skip_annotations.py "$work/session.sqlite")
fi

urls=()
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in $(seq 1 "$workers"); do
    tree="$work/tree$i"
    copy_tree "$tree"  # also undoes a mutant left on disk by an interrupted run
    port=$((9875 + i))
    (cd "$tree" && PATH="$bin:$PATH" PYTHONPATH="$tree" exec "$bin/cosmic-ray" http-worker --port "$port") \
        > "$work/worker$i.log" 2>&1 &
    pids+=($!)
    urls+=("\"http://127.0.0.1:$port\"")
done
sleep 3
sed -e 's/^name = "local"/name = "http"/' "$root/$config" > "$work/parallel.toml"
printf '\n[cosmic-ray.distributor.http]\nworker-urls = [%s]\n' "$(IFS=,; echo "${urls[*]}")" >> "$work/parallel.toml"
(cd "$work/tree1" && "$bin/cosmic-ray" exec "$work/parallel.toml" "$work/session.sqlite")
report="$root/bench/mutation/report.md"
[[ "$name" == "cosmic-ray" ]] || report="$root/bench/mutation/report-$name.md"
"$bin/python" "$root/bench/mutation/triage.py" "$work/session.sqlite" "$report"
