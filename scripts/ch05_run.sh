#!/usr/bin/env bash
# Chapter 5's CPU sweeps, as shard $1 of 2: run "1" and "2" side by side, one core each.
#   bash scripts/ch05_run.sh 1 &  bash scripts/ch05_run.sh 2 &
# Every sweep resumes: runs already stored in its results folder are skipped, so a rerun with every
# run committed does nothing. Each stage runs this shard's half of the list, then the whole list, so a
# shard that finishes first (or runs alone) completes the stage; at most the one run the other shard
# is doing at that moment is done twice (writes are atomic: harmless). Stage times and CPU seconds go
# to $LOG (default /tmp/ch5logs). Idle 2-core machine: about 20 s per d = 4 run and 100 s per
# width-256 run, per core; see each results folder's README for the measured cost.
set -u
shard=${1:?usage: ch05_run.sh SHARD (1 or 2)}
log=${LOG:-/tmp/ch5logs}
mkdir -p "$log"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for config in results/ch05_small_lr/sweep.toml \
              results/ch05_small_mult_lr6/sweep.toml \
              results/ch05_small_mult/sweep.toml \
              results/ch05_small_mult/sweep_roles.toml \
              results/ch05_wide_pilot/sweep.toml \
              results/ch05_wide/sweep.toml \
              results/ch05_wide/sweep_low.toml; do
  name=$(echo "$config" | tr '/' '_')
  for part in "$shard/2" "1/1"; do
    echo "start $(date -u +%FT%TZ) $config shard $shard part $part" >> "$log/stages_$shard.log"
    /usr/bin/time -f "%e s wall %U s user" python -m gqa_mup_ref sweep --config "$config" --workers 1 \
      --shard "$part" --quiet >> "$log/${name}_$shard.log" 2>> "$log/${name}_$shard.time"
    echo "end $(date -u +%FT%TZ) $config shard $shard part $part rc=$?" >> "$log/stages_$shard.log"
  done
done
