#!/usr/bin/env bash
# Chapter 5's CPU sweeps, in priority order, as shard $1 of 2 (run "1" and "2" side by side).
# Every sweep resumes: runs already stored in its results folder are skipped.
#   nice -n 19 /work/bin/cpu-slot bash scripts/ch05_run.sh 1 &   # (and 2)
# Each stage's start/end time and the CPU time of the shard go to $LOG (default /tmp/ch5logs).
set -u
shard=${1:?usage: ch05_run.sh SHARD (1 or 2)}
log=${LOG:-/tmp/ch5logs}
mkdir -p "$log"
for config in results/ch05_small_mult/sweep.toml \
              results/ch05_wide_pilot/sweep.toml \
              results/ch05_small_lr/sweep.toml \
              results/ch05_small_mult/sweep_roles.toml; do
  name=$(echo "$config" | tr '/' '_')
  echo "start $(date -u +%FT%TZ) $config shard $shard" >> "$log/stages_$shard.log"
  /usr/bin/time -v python -m gqa_mup_ref sweep --config "$config" --workers 1 --shard "$shard/2" \
    --quiet > "$log/${name}_$shard.log" 2> "$log/${name}_$shard.time"
  echo "end $(date -u +%FT%TZ) $config shard $shard rc=$?" >> "$log/stages_$shard.log"
done
