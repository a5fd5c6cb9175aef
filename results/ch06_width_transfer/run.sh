#!/usr/bin/env bash
# Chapter 6 width-transfer sweep, shard $1 of 2 of each grid (run both shards in parallel, one core each):
#   bash results/ch06_width_transfer/run.sh 1 & bash results/ch06_width_transfer/run.sh 2 & wait
# Reruns skip finished runs (one JSON per run in this folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
for grid in gqa-mup sp mup; do
  python -m gqa_mup_ref sweep --config "results/ch06_width_transfer/$grid.toml" --shard "$1/2" --workers 1 --quiet
done
