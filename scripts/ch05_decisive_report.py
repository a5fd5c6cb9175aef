"""Chapter 5's decisive experiment: the protocol's checks and its analysis (results/ch05_decisive/protocol.md).

    python scripts/ch05_decisive_report.py --edge-check   # after seeds 0-3: grid argmins only, no shifts
    python scripts/ch05_decisive_report.py                # after seeds 0-7 (or 0-11): the full analysis
    python scripts/ch05_decisive_report.py --json results/ch05_decisive/analysis.json

Reads stored runs of sweep.toml (and, where they exist, sweep_edge.toml and sweep_more_seeds.toml); trains
nothing. The analysis refuses to run on incomplete seeds: the protocol analyses whole seeds 0-7 only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gqa_mup_ref import decisive, runstore, sweep

FOLDER = Path(__file__).resolve().parents[1] / "results" / "ch05_decisive"
STAGE1 = ("sweep.toml", "sweep_edge.toml", "sweep_more_seeds.toml")


def load(files=STAGE1) -> tuple[dict, dict[int, int]]:
    """Stored stage-1 curves ``{(r, seed): points}`` and, per seed, how many planned runs are missing."""
    records, missing = [], {}
    for name in files:
        if not (FOLDER / name).exists():
            continue
        configs, _ = sweep.load_sweep_config(FOLDER / name)
        stored = {runstore.result_path(FOLDER, c) for c in configs if runstore.result_path(FOLDER, c).exists()}
        if name != "sweep.toml" and not stored:
            continue  # a contingent file that was never triggered
        for config in configs:
            if runstore.result_path(FOLDER, config) not in stored:
                missing[config.seed] = missing.get(config.seed, 0) + 1
        records += runstore.load_records(FOLDER, [c for c in configs if runstore.result_path(FOLDER, c) in stored])
    return decisive.curves_from_records(records), missing


def edge_check(curves: dict, missing: dict[int, int], seeds=range(4)) -> int:
    incomplete = [s for s in seeds if missing.get(s)]
    if incomplete:
        print(f"edge check waits: seeds {incomplete} are incomplete ({sum(missing[s] for s in incomplete)} runs)")
        return 1
    low = []
    for (r, seed), points in curves.items():
        if seed not in seeds:
            continue
        finite = [p for p in points if p.loss != float("inf")]
        best = min(finite, key=lambda p: p.loss)
        where = "LOWEST" if best.x == points[0].x else "highest" if best.x == points[-1].x else "inside"
        low += [(r, seed)] if where == "LOWEST" else []
        print(f"r = {r}, seed {seed}: grid argmin log2 mu = {best.x:+.2f} ({where})")
    print("edge rule: " + (f"TRIGGERED by {low}: run sweep_edge.toml" if low else "not triggered"))
    return 0


def analyse(curves: dict, missing: dict[int, int]) -> dict:
    seeds = sorted({seed for (_, seed) in curves})
    complete = [s for s in seeds if not missing.get(s)]
    if missing and any(missing.get(s) for s in seeds):
        raise SystemExit(f"incomplete seeds {sorted(s for s in seeds if missing.get(s))}: "
                         "the protocol analyses whole seeds only")
    out = {"seeds": complete, "estimators": {}}
    for estimator in decisive.ESTIMATORS:
        per_seed = decisive.shifts(curves, estimator)
        values = [v["s"] for v in per_seed.values()]
        censored = {seed: [side for side in ("low", "high") if v[side]["censored"]] for seed, v in per_seed.items()}
        uncensored = [v["s"] for seed, v in per_seed.items() if not censored[seed]]
        entry = {"per_seed": per_seed, "verdict": decisive.verdict(values),
                 "censored_seeds": [s for s, c in censored.items() if c],
                 "dropped_seeds": [s for s in complete if s not in per_seed]}
        if entry["censored_seeds"] and len(uncensored) >= 2:
            entry["verdict_without_censored"] = decisive.verdict(uncensored)
        out["estimators"][estimator] = entry
    collapsed = {}
    for (r, seed), points in curves.items():
        for p in points:
            if p.collapsed:
                collapsed.setdefault(f"r={r} log2mu={p.x:+.2f}", []).append(seed)
    out["collapsed"] = collapsed
    out["diverged"] = sum(p.diverged for points in curves.values() for p in points)
    provenance_file = FOLDER / "provenance.json"
    provenance = json.loads(provenance_file.read_text()) if provenance_file.exists() else {}
    mixed = {}
    for (r, seed), points in curves.items():  # the instruction sets inside each primary window
        i = min(range(len(points)), key=lambda k: points[k].loss)
        window = points[max(0, i - 1): i + 2]
        kinds = sorted({provenance.get(p.key, {}).get("isa", "unknown") for p in window})
        if len(kinds) > 1:
            mixed[f"r={r} seed={seed}"] = kinds
    out["windows_mixing_machines"] = mixed
    primary = out["estimators"]["primary"]["verdict"]["case"]
    out["estimator_dependent"] = [e for e in ("argmin", "no-collapsed")
                                  if out["estimators"][e]["verdict"]["case"] != primary]
    return out


def show(result: dict) -> None:
    for name, entry in result["estimators"].items():
        v = entry["verdict"]
        print(f"\n[{name}] {decisive.ESTIMATORS[name]}")
        for seed, s in entry["per_seed"].items():
            print(f"  seed {seed}: x*(1) = {s['low']['x']:+.3f} ({s['low']['how']}), "
                  f"x*(8) = {s['high']['x']:+.3f} ({s['high']['how']}), s = {s['s']:+.3f}")
        for h, t in v["tests"].items():
            print(f"  {h:>10}: pred {t['prediction']:+.3f}  t = {t['t']:+.2f}  p = {t['p']:.4f}  "
                  f"sign-flip p = {t['sign_flip_p']:.4f}  {'EXCLUDED' if t['excluded'] else 'not excluded'}")
        d = v["direct"]
        print(f"  direct (midpoint {d['null']:+.3f}): p = {d['p']:.4f}, sign-flip p = {d['sign_flip_p']:.4f}, "
              f"towards {d['towards']}, MDE {d['mde']:.2f}")
        print(f"  case {v['case']}: {v['summary']}")
        if entry["censored_seeds"] or entry["dropped_seeds"]:
            print(f"  censored seeds {entry['censored_seeds']}, dropped {entry['dropped_seeds']}")
    print(f"\ncollapsed runs (seeds) per grid point: {result['collapsed']}; diverged: {result['diverged']}")
    print(f"primary windows that mix instruction sets: {result['windows_mixing_machines'] or 'none'}")
    dep = result["estimator_dependent"]
    print("estimator-dependent: " + (", ".join(dep) if dep else "no (B and C give the primary's case)"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge-check", action="store_true", help="the edge rule after seeds 0-3 only")
    parser.add_argument("--json", help="also write the analysis to this file")
    args = parser.parse_args(argv)
    curves, missing = load()
    if args.edge_check:
        return edge_check(curves, missing)
    result = analyse(curves, missing)
    show(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
