#!/usr/bin/env bash
# Chapter 5's CPU sweeps, in priority order, as shard $1 of 2 (run "1" and "2" side by side).
#   nice -n 19 /work/bin/cpu-slot bash scripts/ch05_run.sh 1 &   # (and 2)
# Every sweep resumes: runs already stored in its results folder are skipped. Each stage runs this
# shard's half of the list, then the whole list, so a shard that finishes first (or runs alone,
# when the other never gets a CPU slot) completes the stage instead of leaving half of each scan;
# at most the one run the other shard is doing at that moment is done twice (atomic writes: harmless).
# Each stage's start/end time and the shard's CPU time go to $LOG (default /tmp/ch5logs).
set -u
shard=${1:?usage: ch05_run.sh SHARD (1 or 2)}
log=${LOG:-/tmp/ch5logs}
mkdir -p "$log"
for config in results/ch05_small_mult/sweep.toml \
              results/ch05_wide_pilot/sweep.toml \
              results/ch05_small_lr/sweep.toml \
              results/ch05_small_mult/sweep_roles.toml; do
  name=$(echo "$config" | tr '/' '_')
  for part in "$shard/2" "1/1"; do
    echo "start $(date -u +%FT%TZ) $config shard $shard part $part" >> "$log/stages_$shard.log"
    /usr/bin/time -v python -m gqa_mup_ref sweep --config "$config" --workers 1 --shard "$part" \
      --quiet >> "$log/${name}_$shard.log" 2>> "$log/${name}_$shard.time"
    echo "end $(date -u +%FT%TZ) $config shard $shard part $part rc=$?" >> "$log/stages_$shard.log"
  done
done
