"""Power calculation for chapter 5's decisive experiment (results/ch05_decisive/protocol.md).

Reads committed runs only (no training). Estimand: the same-seed shift s = log2 mu*(r=8) - log2 mu*(r=1)
of the best key+value LR multiplier under plain muP at d = 32. Each seed's optimum is a three-point
parabola around its grid argmin (kv_transfer with window=1). Test: paired (one-sample) t on the shifts,
two-sided alpha = 0.05; power and MDE from gqa_mup_ref.decisive (noncentral t).

    python scripts/ch05_power.py            # prints the table
    python scripts/ch05_power.py --json results/ch05_decisive/power.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from gqa_mup_ref import analysis, kv_transfer, sweep
from gqa_mup_ref.decisive import mde, power  # the protocol's power and MDE, written once

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.05
POWER = 0.8
GAP = kv_transfer.predicted_shift("gqa", 8)  # none predicts 0, gqa log2 c(8)
UPPER = 0.80  # one-sided level of the upper confidence bound on an sd estimated from few seeds


def rows(folder: str, *files: str) -> list[dict]:
    records = []
    for name in files:
        configs, _ = sweep.load_sweep_config(ROOT / folder / name)
        records += sweep.load_records(ROOT / folder, configs)
    return analysis.tidy_rows(records)


def pooled(sds: list[float], dfs: list[int]) -> tuple[float, int]:
    df = sum(dfs)
    return math.sqrt(sum(d * s * s for s, d in zip(sds, dfs)) / df), df


def sd_upper(sd: float, df: int, level: float = UPPER) -> float:
    """One-sided upper confidence bound on a normal sd: sd * sqrt(df / chi2_{1-level}(df))."""
    return sd * math.sqrt(df / stats.chi2.ppf(1 - level, df))


def seeds_needed(effect: float, sd: float, target: float = POWER, cap: int = 200) -> int | None:
    for n in range(2, cap + 1):
        if power(n, effect, sd) >= target:
            return n
    return None


def largest_sd(n: int, effect: float, target: float = POWER) -> float:
    """Largest per-seed sd of the shift at which n seeds still have power `target` for `effect`."""
    return effect / mde(n, 1.0, target)


def sources() -> dict:
    out = {}
    # (a) d = 32 global-LR curves (results/ch05_wide): per-seed log2 eta* by three points,
    # same-seed shift r = 8 - r = 1 under each factor (r = 1 shared). Right scale, another curve.
    wide = rows("results/ch05_wide", "sweep.toml", "sweep_low.toml")
    lr = kv_transfer.lr_shifts(wide, window=1)
    lr8 = [s for s in lr if s["r"] == 8]
    per_r1 = [t for t in kv_transfer.lr_optima_per_seed(
        kv_transfer.share_reference(wide, ["none"]), window=1) if t["r"] == 1][0]
    sd, df = pooled([s["sd"] for s in lr8], [s["n_pairs"] - 1 for s in lr8])
    out["d32_lr_shift"] = {
        "what": "d=32 global-LR optimum, same-seed shift r=8 - r=1, three-point, pooled over none/gqa/sqrt-r",
        "per_factor_sd": {s["kv_factor"]: s["sd"] for s in lr8},
        "r1_per_seed_sd": per_r1["sd"], "sd": sd, "df": df}
    # (b) d = 4 key+value multiplier scans: the same estimand (mu* shift, three points), another scale
    # (head dim 4, weak K/V leverage) and a one-octave grid. Rows with an edge seed are left out.
    mult = []
    for folder in ("results/ch05_small_mult", "results/ch05_small_mult_lr6"):
        for s in kv_transfer.multiplier_shifts(rows(folder, "sweep.toml"), window=1):
            if s["r"] != 1:
                mult.append({"folder": folder, "r": s["r"], "sd": s["sd"], "n": s["n_pairs"],
                             "at_edge": s["at_edge"]})
    used = [m for m in mult if not m["at_edge"]]
    sd, df = pooled([m["sd"] for m in used], [m["n"] - 1 for m in used])
    out["d4_mu_shift"] = {"what": "d=4 key+value mu* shift r - r=1, three-point, pooled over non-edge rows",
                          "rows": mult, "sd": sd, "df": df}
    # (c) bridge: the d = 32 LR-shift sd scaled by how much flatter loss is in log2 mu than in log2 eta
    # at d = 32 (curvature of the three-point parabola). mu: the pilot (2^-7, seed 0, mu = 1/4, 1, 4);
    # eta: ch05_wide r = 1 at 2^-7, 2^-6, 2^-5 per seed. Vertex noise scales like noise / curvature.
    pilot = rows("results/ch05_wide_pilot", "sweep.toml")
    curv_mu = []
    for r in (1, 8):
        pts = {kv_transfer._scan_mu(kv_transfer.parse_multipliers(p["lr_multipliers"]), "key+value"): p["val_loss"]
               for p in pilot if p["r"] == r}
        curv_mu.append((pts[0.25] - 2 * pts[1.0] + pts[4.0]) / (2 * 2.0**2))
    curv_lr = []
    for seed in (0, 1, 2):
        v = {p["log2_lr"]: p["val_loss"] for p in wide if p["r"] == 1 and p["seed"] == seed}
        curv_lr.append((v[-7.0] - 2 * v[-6.0] + v[-5.0]) / 2)
    ratio = float(np.mean(curv_lr) / np.mean(curv_mu))
    a = out["d32_lr_shift"]
    out["d32_bridge"] = {"what": "(a) times eta-curvature / mu-curvature at d=32 (pilot)",
                         "curv_mu": curv_mu, "curv_lr": curv_lr, "ratio": ratio,
                         "sd": a["sd"] * ratio, "df": a["df"]}
    return out


def table(src: dict) -> list[dict]:
    out = []
    for name, s in src.items():
        for label, value in (("point", s["sd"]), (f"upper{int(UPPER * 100)}", sd_upper(s["sd"], s["df"]))):
            out.append({"source": name, "estimate": label, "df": s["df"], "sd": value,
                        "seeds_exclusion": seeds_needed(GAP, value),
                        "seeds_direct": seeds_needed(GAP / 2, value),
                        "mde_8": mde(8, value), "mde_12": mde(12, value),
                        "power_8": power(8, GAP, value), "power_12": power(12, GAP, value)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    src = sources()
    rows_ = table(src)
    print(f"gap none-gqa at r=8: {GAP:.3f} octave; paired t, two-sided alpha={ALPHA}, power {POWER}; "
          f"upper = one-sided {int(UPPER * 100)} % chi-square bound on the sd")
    print("exclusion: seeds to reject one prediction when the other is true (effect = gap); "
          "direct: seeds to reject 'equidistant' (effect = gap/2)")
    print(analysis.format_table(rows_, digits=3))
    limits = {n: largest_sd(n, GAP) for n in (8, 12, 16)}
    print("largest sd with power 0.8 for the gap: " + ", ".join(f"{n} seeds {v:.3f}" for n, v in limits.items()))
    direct = {n: largest_sd(n, GAP / 2) for n in (8, 12, 16)}
    print("largest sd with power 0.8 for the direct test (gap/2): "
          + ", ".join(f"{n} seeds {v:.3f}" for n, v in direct.items()))
    for name, s in src.items():
        extra = {k: v for k, v in s.items() if k in ("per_factor_sd", "r1_per_seed_sd", "ratio", "curv_mu", "curv_lr")}
        print(f"{name}: {s['what']}; sd {s['sd']:.3f} (df {s['df']}) {json.dumps(extra, default=lambda x: round(x, 3)) if extra else ''}")
    if "rows" in src["d4_mu_shift"]:
        for m in src["d4_mu_shift"]["rows"]:
            print(f"  {m['folder']} r={m['r']}: sd {m['sd']:.3f} (n {m['n']}){' edge, not used' if m['at_edge'] else ''}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": "python scripts/ch05_power.py --json results/ch05_decisive/power.json",
            "gap": GAP, "alpha": ALPHA, "power": POWER, "upper_level": UPPER,
            "sources": src, "table": rows_, "largest_sd_gap": limits, "largest_sd_direct": direct,
        }, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
