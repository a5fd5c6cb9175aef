"""Power calculation for the model-family experiment (results/ch06_family/protocol.md).

Reads committed runs only (no training). Estimand: the mean over seeds of the per-seed least-squares slope
of log2 mu* (best key+value LR multiplier under plain muP) on log2 width, over widths 64, 128, 256 of a
family with one key/value head of dimension 16 (r = 4, 8, 16). With three equally spaced log-widths the
least-squares slope is (x*(256) - x*(64)) / 2, so its sd is half the sd of a same-seed shift of an optimum
between widths 64 and 256. Test: one-sample t on the per-seed slopes, two-sided alpha = 0.05; power and MDE
from gqa_mup_ref.decisive (noncentral t). Sources of the sd (none of them the estimand itself):

  (a) results/ch06_width_transfer, GQA-muP, seeds 0-2: same-seed shift of the global-LR optimum from width 64
      to 256 (three-point parabola) in that folder's short regime (200 steps, batch 16 x 64, head dim 16), on
      a sharper curve than a mu scan;
  (c) (a) times the ratio of the loss curvature in log2 eta to that in log2 mu measured at d = 32 (chapter 5's
      pilot, scripts/ch05_power.py);
  (a'), (b), (c') chapter 5's own sources (scripts/ch05_power.py), all at 400 steps x batch 32: the d = 32
      global-LR shift (optimistic: a sharper curve), d = 4 mu* shifts, and the d = 32 bridge (ch05's planning
      value).


    python scripts/ch06_family_power.py
    python scripts/ch06_family_power.py --json results/ch06_family/power.json > results/ch06_family/power.txt
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
from pathlib import Path

from gqa_mup_ref import analysis, family, sweep
from gqa_mup_ref.decisive import Point, mde, power, seed_optimum  # the protocol's power, MDE, estimator

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (64, 128, 256)
SLOPE_PER_SHIFT = 1 / math.log2(WIDTHS[-1] / WIDTHS[0])  # OLS slope over 3 equally spaced points = shift / 2
PRED = {f: family.predicted_multiplier_slope(f, WIDTHS) for f in family.FACTORS}
GAP = PRED["gqa"] - PRED["none"]
SEEDS = (8, 10, 12, 16, 24, 32)


def _ch05_power():
    spec = importlib.util.spec_from_file_location("ch05_power", ROOT / "scripts" / "ch05_power.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def width_transfer_records(grid: str) -> list[dict]:
    folder = ROOT / "results" / "ch06_width_transfer"
    configs, _ = sweep.load_sweep_config(folder / grid)
    return sweep.load_records(folder, configs)


def lr_optima(records: list[dict]) -> dict[tuple[int, int], dict]:
    """``{(width, seed): seed_optimum}`` of log2 eta (primary estimator: three points around the argmin)."""
    curves: dict[tuple[int, int], list[Point]] = {}
    for record in records:
        c = record["config"]
        loss = math.inf if record.get("diverged") else float(record["val_loss"])
        curves.setdefault((c["width"], c["seed"]), []).append(Point(math.log2(c["lr"]), loss))
    return {key: seed_optimum(sorted(points, key=lambda p: p.x)) for key, points in sorted(curves.items())}


def sources() -> dict:
    gqa = width_transfer_records("gqa-mup.toml")
    optima = lr_optima(gqa)
    seeds = sorted({s for _, s in optima})
    shifts = [optima[WIDTHS[-1], s]["x"] - optima[WIDTHS[0], s]["x"] for s in seeds]
    sd_a = statistics.stdev(shifts)
    ch05 = _ch05_power().sources()
    ratio = ch05["d32_bridge"]["ratio"]
    out = {
        "a_family_lr_shift": {"what": "ch06 width transfer, GQA-muP: same-seed log2 eta* shift 256 - 64, three-point",
                              "shifts": shifts, "sd_shift": sd_a, "df": len(shifts) - 1},
        "c_family_bridge": {"what": "(a) x eta/mu curvature ratio at d = 32 (ch05 pilot)", "ratio": ratio,
                            "sd_shift": sd_a * ratio, "df": len(shifts) - 1},
        "a_ch05_d32_lr": {"what": "ch05 d = 32 global-LR eta* shift r = 8 - r = 1 (400 steps x 32)",
                          "sd_shift": ch05["d32_lr_shift"]["sd"], "df": ch05["d32_lr_shift"]["df"]},
        "b_ch05_d4_mu": {"what": "ch05 d = 4 key+value mu* shifts (400 steps x 32)",
                         "sd_shift": ch05["d4_mu_shift"]["sd"], "df": ch05["d4_mu_shift"]["df"]},
        "c_ch05_d32_bridge": {"what": "ch05 d = 32 bridge (planning value of the ch05 decisive protocol)",
                              "sd_shift": ch05["d32_bridge"]["sd"], "df": ch05["d32_bridge"]["df"]},
    }
    for s in out.values():
        s["sd_slope"] = s["sd_shift"] * SLOPE_PER_SHIFT
    return out


def seeds_needed(effect: float, sd: float, target: float = 0.8, cap: int = 400) -> int | None:
    for n in range(2, cap + 1):
        if power(n, effect, sd) >= target:
            return n
    return None


def table(src: dict) -> list[dict]:
    rows = []
    for name, s in src.items():
        sd = s["sd_slope"]
        row = {"source": name, "sd_slope": sd, "df": s["df"], "seeds_exclusion": seeds_needed(GAP, sd),
               "seeds_direct": seeds_needed(GAP / 2, sd)}
        row |= {f"power_{n}": power(n, GAP, sd) for n in (10, 12, 24)}
        row |= {f"mde_{n}": mde(n, sd) for n in (10, 12, 24)}
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    print("predicted slope of log2 mu* per doubling of width (widths 64, 128, 256; r = 4, 8, 16): "
          + ", ".join(f"{f} {v:+.3f}" for f, v in PRED.items()))
    print(f"gap none-gqa {GAP:.3f}; direct test (midpoint) effect {GAP / 2:.3f}; paired t, two-sided alpha 0.05, "
          "power 0.8")
    src = sources()
    rows = table(src)
    print(analysis.format_table(rows, digits=3))
    for name, s in src.items():
        extra = {k: s[k] for k in ("shifts", "ratio") if k in s}
        print(f"{name}: {s['what']}; sd of the shift {s['sd_shift']:.3f} (df {s['df']}), of the slope "
              f"{s['sd_slope']:.3f} {json.dumps(extra, default=lambda x: round(x, 3)) if extra else ''}")
    limits = {n: GAP / mde(n, 1.0) for n in SEEDS}
    print("largest sd of the per-seed slope with power 0.8 for the gap: "
          + ", ".join(f"{n} seeds {v:.3f}" for n, v in limits.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": "python scripts/ch06_family_power.py --json results/ch06_family/power.json",
            "predictions": PRED, "gap": GAP, "sources": src, "table": rows, "largest_sd": limits}, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
