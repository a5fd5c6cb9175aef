#!/usr/bin/env bash
# Chapter 6 width-transfer sweep. Two workers, one core each, take the work in opposite orders; a rerun
# skips finished runs (one JSON per run in this folder), so a worker that finds work done moves on and
# one worker alone runs the whole sweep:
#   bash results/ch06_width_transfer/run.sh A & bash results/ch06_width_transfer/run.sh B & wait
# Shard k/3 of a three-seed grid is its seed k-1 (seeds vary fastest in the grid), so the sweep fills in
# whole seeds: a cut-short sweep still has complete curves for the seeds it has.
set -euo pipefail
cd "$(dirname "$0")/../.."
run() {  # grid shard
  python -m gqa_mup_ref sweep --config "results/ch06_width_transfer/$1.toml" --shard "$2" --workers 1 --quiet
}
case "$1" in
  A) run gqa-mup 1/3; run sp 1/3; run mup 1/1; for s in 2 3; do run gqa-mup $s/3; run sp $s/3; done ;;
  B) for s in 3 2; do run gqa-mup $s/3; run sp $s/3; done; run mup 1/1; run gqa-mup 1/3; run sp 1/3 ;;
  *) echo "usage: run.sh A|B" >&2; exit 2 ;;
esac
