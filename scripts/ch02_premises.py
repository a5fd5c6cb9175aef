"""Chapter 2: both premises of the spectral key/value factor, recorded over training.

Trains chapter 5's runs at η = 2⁻⁶ (400 steps, cosine, 10 % warm-up, clip 1, no weight decay) with
``gqa_mup_ref.kv_premises.PremiseProbe`` attached and stores one JSON per run in
``results/ch02_premises/<run_key>.json`` (the run record plus ``premises`` and ``cpu_time``).
Resumable: a run whose file exists is skipped; a shard claims a run with a hidden
``.<run_key>.claim`` file (delete stale ones after an interrupted run). Runs in priority order (d = 4 first, then d = 32
seed by seed), so a partial run is complete seeds.

    OMP_NUM_THREADS=1 nice -n 5 python scripts/ch02_premises.py [--shard i/N] [--limit-cpu-min M]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gqa_mup_ref  # noqa: E402,F401  (sets quiet OpenMP waiting before torch)
import torch  # noqa: E402

from gqa_mup_ref.config import RunConfig  # noqa: E402
from gqa_mup_ref.kv_premises import FACTORS, train_with_premises  # noqa: E402
from gqa_mup_ref.runstore import _jsonable, run_key  # noqa: E402  (NaN -> null, as in stored runs)

RESULTS = ROOT / "results" / "ch02_premises"
COMMON = dict(parameterization="mup", base_width=64, depth=2, base_depth=1, lr=2**-6, weight_decay=0.0, steps=400,
              batch_size=32, context_length=64, warmup_fraction=0.1, schedule="cosine", grad_clip=1.0,
              data="pydoc")


def configs() -> list[RunConfig]:
    """d = 4 (width 64, H = 16, r ∈ {1, 4, 16}) for seeds 0–2, then d = 32 (width 256, H = 8, r ∈ {1, 8})."""
    out = []
    for seed in (0, 1, 2):
        out.append(RunConfig(width=64, n_head=16, n_kv_head=16, kv_factor="none", seed=seed, **COMMON))
        for r in (16, 4):
            out += [RunConfig(width=64, n_head=16, n_kv_head=16 // r, kv_factor=f, seed=seed, **COMMON)
                    for f in FACTORS]
    for seed in (0, 1, 2):
        out.append(RunConfig(width=256, n_head=8, n_kv_head=8, kv_factor="none", seed=seed, **COMMON))
        out += [RunConfig(width=256, n_head=8, n_kv_head=1, kv_factor=f, seed=seed, **COMMON) for f in FACTORS]
    return out


def _write(path: Path, record: dict) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(_jsonable(record), file, indent=0, allow_nan=False)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shard", default="1/1", help="i/N: run every N-th pending config, starting at the i-th")
    parser.add_argument("--limit-cpu-min", type=float, default=math.inf, help="stop after this much CPU time")
    parser.add_argument("--head-dim", type=int, help="only runs of this head dimension (4 or 32)")
    parser.add_argument("--seed", type=int, help="only runs of this seed")
    parser.add_argument("--factor", help="only runs of this key/value factor (r > 1)")
    args = parser.parse_args()
    i, n = (int(v) for v in args.shard.split("/"))
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    todo = [c for c in configs()[i - 1::n] if (args.head_dim in (None, c.width // c.n_head))
            and args.seed in (None, c.seed) and args.factor in (None, c.kv_factor)]
    spent = 0.0
    for config in todo:
        if (RESULTS / f"{run_key(config)}.json").exists():  # done, perhaps by another shard
            continue
        if spent / 60 > args.limit_cpu_min:
            print(f"CPU limit reached after {spent / 60:.1f} min; {len(todo)} runs were pending", flush=True)
            break
        try:  # claim the run, so that concurrent shards do not repeat it
            os.close(os.open(RESULTS / f".{run_key(config)}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        cpu = time.process_time()
        record = train_with_premises(config)
        record["cpu_time"] = time.process_time() - cpu
        record["key"] = run_key(config)
        spent += record["cpu_time"]
        _write(RESULTS / f"{record['key']}.json", record)
        (RESULTS / f".{record['key']}.claim").unlink()
        print(f"{time.strftime('%H:%M:%S')} d={config.width // config.n_head} r={config.n_head // config.n_kv_head} "
              f"{config.kv_factor} seed {config.seed}: val {record['val_loss']:.3f}, cpu {record['cpu_time']:.0f} s, "
              f"wall {record['wall_time']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
