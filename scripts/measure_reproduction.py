"""How far a stored run moves when it is trained again on another CPU instruction set or torch.

Picks a fixed sample of stored runs from every results folder, trains each again here (one torch
thread, as stored) and writes the stored and fresh losses side by side. Run it once per instruction
set and torch version; ``--summary`` then prints the largest difference per folder and regime, which
is what the reproduction tests' tolerances are derived from::

    OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 python scripts/measure_reproduction.py
    OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default python scripts/measure_reproduction.py
    python scripts/measure_reproduction.py --summary

The sample, per folder, among the seed-0 runs of its cheapest model size (deterministic, so every
machine re-trains the same runs): the least aggressive non-diverged run ("calm": smallest product of
learning rate and largest per-role multiplier), the median one ("middle"), and the most aggressive
non-diverged one ("edge", nearest the stability cliff). The reproduction tests re-train "calm" runs.
Each machine writes ``results/reproduction/<capability>-torch<version>-<cpu>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "reproduction"
FOLDERS = ["ch03_depth_lr", "ch03_weight_decay", "ch05_small_lr", "ch05_small_mult", "ch05_small_mult_lr6",
           "ch05_wide", "ch05_wide_pilot", "ch06_width_transfer"]


def _aggressiveness(config: dict) -> float:
    multipliers = config.get("lr_multipliers") or {}
    return config["lr"] * max([1.0, *multipliers.values()])


def _cost(config: dict) -> tuple:
    return (config["width"] ** 2 * config["depth"] * config["steps"] * config["batch_size"], config["width"])


def sample(folder: str) -> list[tuple[str, Path]]:
    """(regime, path) of the runs to re-train from ``results/<folder>``."""
    from gqa_mup_ref import sweep

    records = []
    for path in sorted((ROOT / "results" / folder).glob("*.json")):
        if sweep.is_record_name(path.name):
            records.append((path, sweep.load_record(path)))
    seed0 = [(p, r) for p, r in records if r["config"]["seed"] == 0 and not r["diverged"]]
    cheapest = min(_cost(r["config"]) for _, r in seed0)
    pool = sorted((p for p, r in seed0 if _cost(r["config"]) == cheapest),
                  key=lambda p: (_aggressiveness(dict(records)[p]["config"]), p.name))
    return [("calm", pool[0]), ("middle", pool[len(pool) // 2]), ("edge", pool[-1])]


def machine() -> dict:
    import torch

    from gqa_mup_ref.reproducibility import cpu_model

    cpu = cpu_model()
    return {"capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "python": platform.python_version(), "cpu": cpu, "threads": torch.get_num_threads()}


def measure(folders: list[str]) -> Path:
    import torch

    from gqa_mup_ref import sweep
    from gqa_mup_ref.config import RunConfig
    from gqa_mup_ref.train import train

    torch.set_num_threads(1)
    info = machine()
    name = f"{info['capability']}-torch{info['torch'].split('+')[0]}-{info['cpu'].split()[0].lower()}.json"
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / name
    done = json.loads(target.read_text())["runs"] if target.exists() else []
    seen = {(row["folder"], row["key"], row["regime"]) for row in done}
    for folder in folders:
        for regime, path in sample(folder):
            if (folder, path.stem, regime) in seen:
                continue
            stored = sweep.load_record(path)
            start = time.perf_counter()
            fresh = train(RunConfig(**stored["config"]))
            row = {"folder": folder, "regime": regime, "key": path.stem,
                   "stored": {k: stored[k] for k in ("val_loss", "train_loss", "diverged")},
                   "stored_torch": stored.get("torch_version"),
                   "fresh": {"val_loss": fresh.val_loss, "train_loss": fresh.train_loss,
                             "diverged": fresh.diverged},
                   "seconds": round(time.perf_counter() - start, 1)}
            done.append(row)
            print(f"{folder:22s} {regime:6s} {path.stem}  val {stored['val_loss']:.4f} -> {fresh.val_loss:.4f}"
                  f"  train {stored['train_loss']:.4f} -> {fresh.train_loss:.4f}  ({row['seconds']} s)",
                  flush=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps({"machine": info, "command": " ".join(sys.argv), "runs": done}, indent=1))
            os.replace(tmp, target)
    return target


def _gap(row: dict, field: str) -> float:
    if row["stored"]["diverged"] or row["fresh"]["diverged"]:
        return float("nan") if row["stored"]["diverged"] == row["fresh"]["diverged"] else float("inf")
    return abs(row["fresh"][field] - row["stored"][field])


def summary() -> dict:
    """Largest |fresh − stored| per folder and regime over every measured machine (val and train loss)."""
    table: dict = {}
    for path in sorted(OUT.glob("*.json")):
        data = json.loads(path.read_text())
        for row in data["runs"]:
            cell = table.setdefault(row["folder"], {}).setdefault(row["regime"], {"val": 0.0, "train": 0.0,
                                                                               "n": 0})
            cell["val"] = max(cell["val"], _gap(row, "val_loss"))
            cell["train"] = max(cell["train"], _gap(row, "train_loss"))
            cell["n"] += 1
    return table


MARK = ("<!-- reproduction: written by scripts/measure_reproduction.py --readmes -->", "<!-- /reproduction -->")


def readme_section(folder: str, table: dict) -> str:
    """The paragraph a results folder's README gives about re-running its runs elsewhere."""
    cells = table[folder]
    calm = max(max(cells[r]["val"], cells[r]["train"]) for r in ("calm", "middle") if r in cells)
    edge = max(cells["edge"]["val"], cells["edge"]["train"]) if "edge" in cells else float("nan")
    machines = len(list(OUT.glob("*.json")))
    return (f"{MARK[0]}\n**Re-running on other hardware.** Trained again on other CPU instruction sets and torch "
            f"versions ({machines} measurement files in `results/reproduction`; `python "
            f"scripts/measure_reproduction.py --summary`), this folder's sampled runs moved by at most "
            f"{calm:.1g} nats in their final losses away from the learning-rate cliff, and by up to "
            f"{edge:.2g} nats at its edge. Expect differences of that size: largest for runs near the cliff, "
            f"where a last-bit difference in a float32 sum grows into another trajectory.\n{MARK[1]}")


def write_readmes() -> list[Path]:
    """Put :func:`readme_section` into each measured folder's README (replacing an earlier one)."""
    table, written = summary(), []
    for folder in table:
        path = ROOT / "results" / folder / "README.md"
        text = path.read_text()
        section = readme_section(folder, table)
        if MARK[0] in text:
            head, rest = text.split(MARK[0], 1)
            text = head + section + rest.split(MARK[1], 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="print the largest differences measured so far")
    parser.add_argument("--folders", nargs="*", default=FOLDERS, help="results folders to sample")
    parser.add_argument("--readmes", action="store_true", help="write the measured variation into each folder's README")
    args = parser.parse_args(argv)
    if args.readmes:
        for path in write_readmes():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if args.summary:
        print(f"{'folder':22s} {'regime':7s} {'max |Δ val|':>12s} {'max |Δ train|':>14s} {'runs':>5s}")
        for folder, regimes in summary().items():
            for regime, cell in regimes.items():
                print(f"{folder:22s} {regime:7s} {cell['val']:12.1e} {cell['train']:14.1e} {cell['n']:5d}")
        return 0
    print(f"wrote {measure(args.folders)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
