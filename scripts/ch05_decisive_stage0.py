"""Stage 0 of chapter 5's decisive experiment: the protocol's rule for stage 1's learning rate.

Per seed, the grid argmin of the validation loss over ``results/ch05_decisive/sweep_lr.toml`` (r = 1,
half-octave grid); stage 1's log2 learning rate is the median of the seeds' argmins
(``results/ch05_decisive/protocol.md``, "Stage 0")::

    python scripts/ch05_decisive_stage0.py
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

from gqa_mup_ref import runstore, sweep

FOLDER = Path(__file__).resolve().parents[1] / "results" / "ch05_decisive"


def main() -> int:
    configs, _ = sweep.load_sweep_config(FOLDER / "sweep_lr.toml")
    by_seed: dict[int, dict[float, float]] = {}
    missing = 0
    for config in configs:
        path = runstore.result_path(FOLDER, config)
        if not path.exists():
            missing += 1
            continue
        record = runstore.load_record(path)
        loss = record["val_loss"] if not record["diverged"] else float("inf")
        by_seed.setdefault(config.seed, {})[round(math.log2(config.lr), 2)] = loss
    if missing:
        print(f"stage 0 incomplete: {missing} of {len(configs)} runs missing")
        return 1
    argmins = {}
    for seed, curve in sorted(by_seed.items()):
        argmins[seed] = min(curve, key=curve.get)
        row = "  ".join(f"{x:+.1f}: {curve[x]:.4f}" for x in sorted(curve))
        print(f"seed {seed}: argmin log2 lr = {argmins[seed]:+.1f}   ({row})")
    chosen = statistics.median(argmins.values())
    print(f"stage 1 log2 lr = median of argmins = {chosen:+.1f}"
          + ("  (as committed: stage 1 runs unchanged)" if chosen == -6 else "  (amend stage 1 files first)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
