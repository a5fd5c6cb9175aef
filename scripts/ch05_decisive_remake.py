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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the runs to re-make; train nothing")
    parser.add_argument("--json", help="write the analysis with the re-made windows to this file")
    args = parser.parse_args(argv)
    isa, index = this_isa(), REMADE / "provenance.json"
    while True:  # a re-made run can move a window's argmin onto another run made elsewhere
        curves, missing, provenance = decisive.load_remade(FOLDER)
        mixed = decisive.mixed_windows(curves, provenance)
        todo = sorted({p.key for window in mixed.values() for p in window if provenance[p.key]["isa"] != isa})
        print(f"{len(mixed)} mixed window(s): {', '.join(f'r={r} seed={s}' for r, s in mixed) or 'none'}; "
              f"{len(todo)} run(s) to re-make on {isa}")
        if not todo or args.dry_run:
            break
        REMADE.mkdir(exist_ok=True)
        for key in todo:
            config = RunConfig(**runstore.load_record(FOLDER / f"{key}.json")["config"])
            print(f"  training {key}: r={config.n_head // config.n_kv_head} seed={config.seed} "
                  f"multipliers={dict(config.lr_multipliers)}", flush=True)
            runstore.save_result(REMADE, train(config))
            remade = json.loads(index.read_text()) if index.exists() else {}
            remade[key] = {"isa": isa, "made": "re-made for amendment 1", "torch": torch.__version__,
                           "replaces": provenance[key]}
            index.write_text(json.dumps(remade, indent=1, sort_keys=True) + "\n")
    if args.dry_run:
        return 0
    result = decisive.analyse(curves, missing, provenance)
    v = result["estimators"]["primary"]["verdict"]
    print(f"with {len(json.loads(index.read_text())) if index.exists() else 0} re-made run(s): "
          f"case {v['case']}: {v['summary']}")
    print(f"windows mixing instruction sets now: {result['windows_mixing_machines'] or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
