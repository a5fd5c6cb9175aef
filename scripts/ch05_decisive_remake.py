"""Chapter 5's decisive experiment, amendment 1 carried out: the mixed primary windows re-made on one machine.

The protocol (results/ch05_decisive/protocol.md, amendment 1, and 7e) repeats the primary test "with each
seed's three-point window re-made on one machine if any window mixes machines". This script finds the
primary windows (the grid argmin of validation loss and its two neighbours, per r and seed) whose runs were
made on different instruction sets (provenance.json), trains again on this machine every run of such a window
that was made on another instruction set, and stores the new runs under results/ch05_decisive/remade/ (same
run keys; the stage-1 records are not touched). A re-made run can move a window's argmin, so it repeats until
no window mixes. Then the protocol's analysis runs on the curves with the re-made runs in place of the old ones.

    OMP_NUM_THREADS=1 python scripts/ch05_decisive_remake.py --dry-run   # which runs, nothing trained
    OMP_NUM_THREADS=1 python scripts/ch05_decisive_remake.py [--json results/ch05_decisive/remade/analysis.json]

Resumable: a run already stored under remade/ is read, not trained again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from gqa_mup_ref import decisive, runstore
from gqa_mup_ref.config import RunConfig
from gqa_mup_ref.train import train

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "results" / "ch05_decisive"
REMADE = FOLDER / "remade"


def this_isa() -> str:
    """This machine's instruction set as provenance.json writes it (``AVX512``, ``AVX2``, ``DEFAULT``)."""
    return torch.backends.cpu.get_cpu_capability().replace("-", "").upper()


def stage1_records() -> dict[str, dict]:
    """The stage-1 run records by run key (the files ``decisive.load_stage1`` reads)."""
    from gqa_mup_ref.sweep import load_sweep_config

    records = {}
    for i, name in enumerate(decisive.STAGE1_FILES):
        if not (FOLDER / name).exists():
            continue
        configs, _ = load_sweep_config(FOLDER / name)
        stored = [c for c in configs if runstore.result_path(FOLDER, c).exists()]
        if i > 0 and not stored:
            continue
        for record in runstore.load_records(FOLDER, stored):
            records[record["key"]] = record
    return records


def mixed_windows(curves: dict, provenance: dict) -> dict[tuple[int, int], list]:
    """``{(r, seed): points of its primary window}`` for the windows whose runs span instruction sets."""
    mixed = {}
    for (r, seed), points in sorted(curves.items()):
        i = min(range(len(points)), key=lambda k: points[k].loss)
        window = points[max(0, i - 1): i + 2]
        if len({provenance.get(p.key, {}).get("isa", "unknown") for p in window}) > 1:
            mixed[(r, seed)] = window
    return mixed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the runs to re-make; train nothing")
    parser.add_argument("--json", help="write the analysis with the re-made windows to this file")
    args = parser.parse_args(argv)
    isa = this_isa()
    records = stage1_records()
    provenance = json.loads((FOLDER / "provenance.json").read_text())
    remade_provenance_path = REMADE / "provenance.json"
    remade = json.loads(remade_provenance_path.read_text()) if remade_provenance_path.exists() else {}
    for key in remade:  # runs re-made earlier replace their old records
        config = RunConfig(**records[key]["config"])
        records[key] = runstore.load_record(runstore.result_path(REMADE, config))
    merged = provenance | remade
    while True:
        curves = decisive.curves_from_records(records.values())
        mixed = mixed_windows(curves, merged)
        todo = sorted({p.key for window in mixed.values() for p in window if merged[p.key]["isa"] != isa})
        print(f"{len(mixed)} mixed window(s): {', '.join(f'r={r} seed={s}' for r, s in mixed) or 'none'}; "
              f"{len(todo)} run(s) to re-make on {isa}")
        if not todo or args.dry_run:
            break
        REMADE.mkdir(exist_ok=True)
        for key in todo:
            config = RunConfig(**records[key]["config"])
            print(f"  training {key}: r={config.n_head // config.n_kv_head} seed={config.seed} "
                  f"multipliers={dict(config.lr_multipliers)}", flush=True)
            path = runstore.save_result(REMADE, train(config))
            records[key] = runstore.load_record(path)
            remade[key] = {"isa": isa, "made": "re-made for amendment 1", "torch": torch.__version__,
                           "replaces": merged[key]}
            merged[key] = remade[key]
            remade_provenance_path.write_text(json.dumps(remade, indent=1, sort_keys=True) + "\n")
    if args.dry_run:
        return 0
    substituted, missing, provenance = decisive.load_remade(FOLDER)  # what the chapter reads
    assert substituted == decisive.curves_from_records(records.values())
    result = decisive.analyse(substituted, missing, provenance)
    v = result["estimators"]["primary"]["verdict"]
    print(f"with {len(remade)} re-made run(s): case {v['case']}: {v['summary']}")
    print(f"windows mixing instruction sets now: {result['windows_mixing_machines'] or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
