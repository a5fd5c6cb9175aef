"""Run Chapter 3's two sweeps into results/ch03_depth_lr/ and results/ch03_weight_decay/.

    python scripts/ch03_sweeps.py depth_lr --shard 1/2 --workers 1
    python scripts/ch03_sweeps.py weight_decay --shard 2/2 --workers 1

Each run is one JSON file; a rerun skips what is stored. The grids live in gqa_mup_ref.completep.
"""

from __future__ import annotations

import argparse
import sys
from gqa_mup_ref import completep
from gqa_mup_ref.sweep import parse_shard, run_sweep

SWEEPS = {
    "depth_lr": (completep.depth_lr_sweep, completep.DEPTH_LR_RESULTS),
    "weight_decay": (completep.weight_decay_sweep, completep.WEIGHT_DECAY_RESULTS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=list(SWEEPS))
    parser.add_argument("--shard", help="run only shard i of N, e.g. 1/2")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--dry-run", action="store_true", help="print the number of runs and stop")
    args = parser.parse_args(argv)
    configs_fn, results = SWEEPS[args.sweep]
    configs = configs_fn()
    results = completep.results_path(results)
    if args.dry_run:
        print(f"{len(configs)} runs -> {results}")
        return 0
    shard = parse_shard(args.shard) if args.shard else None
    report = run_sweep(configs, results, workers=args.workers, device=args.device, shard=shard, quiet=True)
    print(report.summary())
    for config, error in report.failed:
        print("failed:", config, error)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
