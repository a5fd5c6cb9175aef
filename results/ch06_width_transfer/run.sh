#!/usr/bin/env bash
# Chapter 6 width-transfer sweep. Run it as two workers, one core each, that take the grid's six shards in
# opposite orders (a rerun skips finished runs, one JSON per run in this folder, so a worker that finds
# its shards done moves on and the two never need each other):
#   bash results/ch06_width_transfer/run.sh A & bash results/ch06_width_transfer/run.sh B & wait
# One worker alone runs the whole sweep.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "$1" in
  A) order="1 3 5 2 4 6" ;;
  B) order="2 4 6 1 3 5" ;;
  *) echo "usage: run.sh A|B" >&2; exit 2 ;;
esac
for shard in $order; do
  for grid in gqa-mup sp mup; do
    python -m gqa_mup_ref sweep --config "results/ch06_width_transfer/$grid.toml" --shard "$shard/6" \
      --workers 1 --quiet
  done
done
