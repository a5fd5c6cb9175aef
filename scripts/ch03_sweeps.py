"""Run Chapter 3's two sweeps into results/ch03_depth_lr/ and results/ch03_weight_decay/, and the seed
repeats of its weight-decay trajectories into results/ch03_decay_seeds/.

    python scripts/ch03_sweeps.py depth_lr --shard 1/2 --workers 1
    python scripts/ch03_sweeps.py weight_decay --shard 2/2 --workers 1
    python scripts/ch03_sweeps.py decay_seeds --seeds 0-4

Each run is one JSON file; a rerun skips what is stored. The grids live in gqa_mup_ref.completep.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from gqa_mup_ref import completep
from gqa_mup_ref.sweep import parse_shard, run_sweep

SWEEPS = {
    "depth_lr": (completep.depth_lr_sweep, completep.DEPTH_LR_RESULTS),
    "weight_decay": (completep.weight_decay_sweep, completep.WEIGHT_DECAY_RESULTS),
}


DECAY_SETTINGS = (("mup", 32), ("mup", 128), ("mup-fixed-wd", 128))
"""At width 32 (m = 1) the two decay rules are the same model, so it runs once."""


def decay_seeds(seeds: list[int]) -> int:
    """``completep.decay_trajectory`` of ``completep.decay_config`` per setting and seed, one JSON each
    (``<parameterization>_w<width>_s<seed>.json``: the config, the rows, seconds), single-threaded."""
    import torch

    torch.set_num_threads(1)
    folder = completep.results_path(completep.DECAY_SEEDS_RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        for param, width in DECAY_SETTINGS:
            path = folder / f"{param}_w{width}_s{seed}.json"
            if path.exists():
                continue
            config = completep.decay_config(param, width, seed)
            start = time.perf_counter()
            rows = completep.decay_trajectory(config, every=10)
            record = {"config": config.to_dict(), "rows": rows,
                      "seconds": round(time.perf_counter() - start, 1)}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, path)
            print(f"{path.name}: {record['seconds']} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=[*SWEEPS, "decay_seeds"])
    parser.add_argument("--seeds", default="0-4", help="decay_seeds only: a range a-b")
    parser.add_argument("--shard", help="run only shard i of N, e.g. 1/2")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--dry-run", action="store_true", help="print the number of runs and stop")
    args = parser.parse_args(argv)
    if args.sweep == "decay_seeds":
        first, last = (int(v) for v in args.seeds.split("-"))
        return decay_seeds(list(range(first, last + 1)))
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
