"""What chapter 5's committed runs show so far, as Markdown tables (results/ch05_status_tables.md).

    PYTHONPATH=. python scripts/ch05_status.py            # writes results/ch05_status_tables.md
    PYTHONPATH=. python scripts/ch05_status.py --print    # prints it instead

Reads only committed run records (no training; about 2 s). Every number in results/ch05_STATUS.md
comes from this file. The plain-μP runs at 2⁻⁷ of results/ch05_small_lr are the same runs as the
μ = 1 points of the multiplier scans (same configuration, same key) and count as such. Partial
sweeps are fine: a grid point with fewer than three finite points in
its scan has no fitted optimum and is shown as such.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from gqa_mup_ref import analysis, kv_transfer, sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = [
    "results/ch05_small_mult/sweep.toml",
    "results/ch05_wide_pilot/sweep.toml",
    "results/ch05_small_lr/sweep.toml",
    "results/ch05_small_mult/sweep_roles.toml",
    "results/ch05_gpu_r/sweep.toml",
]


def _pm(mean, sd, digits=2):
    if not isinstance(mean, float) or not math.isfinite(mean):
        return "–"
    return f"{mean:+.{digits}f}" + (f" ± {sd:.{digits}f}" if math.isfinite(sd) else "")


def _md(rows, columns):
    if not rows:
        return "(no runs yet)\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _rows(folder):
    path = ROOT / folder
    return analysis.tidy_rows(sweep.load_records(path)) if path.is_dir() else []


def progress():
    out = []
    for name in SWEEPS:
        configs, settings = sweep.load_sweep_config(ROOT / name)
        results = (ROOT / name).parent / settings.get("results", ".")
        todo, done = sweep.pending_runs(configs, results)
        records = done  # the stored records of this file's runs
        walls = [r["wall_time"] for r in records if not r["diverged"]]
        out.append({"sweep file": name, "done": len(done), "of": len(configs),
                    "diverged": sum(r["diverged"] for r in records),
                    "median s/run": f"{statistics.median(walls):.0f}" if walls else "–",
                    "run-seconds so far": f"{sum(r['wall_time'] for r in records):.0f}"})
    return _md(out, ["sweep file", "done", "of", "diverged", "median s/run", "run-seconds so far"])


def multiplier_tables(rows):
    text = []
    for scan in kv_transfer.SCANS:
        scanned = kv_transfer.scan_rows(rows, scan)
        if not scanned:
            continue
        text.append(f"\n**{scan} scan** (val loss per log₂ μ; mean ± sd over seeds, n):\n\n")
        summary = analysis.seed_summary(scanned, ["r", "log2_mu"])
        by_r = {}
        for s in summary:
            by_r.setdefault(s["r"], {})[s["log2_mu"]] = s
        mus = sorted({s["log2_mu"] for s in summary})
        table = []
        for r, cells in sorted(by_r.items()):
            row = {"r": r}
            for mu in mus:
                c = cells.get(mu)
                row[f"{mu:g}"] = (f"{c['mean']:.4f} ± {c['sd']:.4f} ({c['n']})"
                                  if c and c["n"] > 1 else
                                  f"{c['mean']:.4f} (1)" if c and c["n"] == 1 else "–")
            table.append(row)
        text.append(_md(table, ["r"] + [f"{mu:g}" for mu in mus]))
        best = kv_transfer.best_multiplier(rows, scan)
        text.append(f"\nbest log₂ μ* per r ({scan}; parabola per seed, mean ± sd over seeds):\n\n")
        text.append(_md([{
            "r": b["r"], "log₂ μ*": _pm(b["log2_mu_star"], b["sd"]),
            "sem": f"{b['sem']:.2f}" if math.isfinite(b["sem"]) else "–",
            "seeds": b["n_seeds"], "per seed": ", ".join(f"{v:+.2f}" for v in b["per_seed"].values()),
            "at edge": "yes" if b["at_edge"] else "",
        } for b in best], ["r", "log₂ μ*", "sem", "seeds", "per seed", "at edge"]))
        contrasts = []
        for high, low in ((1.0, 0.5), (2.0, 1.0), (2.0, 0.5), (4.0, 1.0), (8.0, 2.0)):
            for c in kv_transfer.multiplier_contrast(rows, high, low, scan):
                if c["n"]:
                    contrasts.append({"μ pair": f"{high:g} vs {low:g}", "r": c["r"],
                                      "loss(high) − loss(low)": _pm(c["mean"], c["sd"], 4),
                                      "sem": f"{c['sem']:.4f}" if math.isfinite(c["sem"]) else "–",
                                      "pairs": c["n"], "dropped": c["dropped"]})
        if contrasts:
            text.append(f"\nfit-free contrast ({scan}): same-seed val loss at the larger μ minus at "
                        "the smaller (falls with r if the best μ grows with r):\n\n")
            text.append(_md(contrasts, ["μ pair", "r", "loss(high) − loss(low)", "sem", "pairs",
                                        "dropped"]))
        if any(b["r"] == 1 and b["n_seeds"] for b in best) and len(best) > 1:
            shifts = kv_transfer.multiplier_shifts(rows, scan)
            text.append(f"\nshift log₂ μ*(r) − log₂ μ*(1) ({scan}; same-seed pairs) beside the "
                        "predictions of the three invariants:\n\n")
            text.append(_md([{
                "r": s["r"], "measured shift": _pm(s["shift"], s["sd"]), "pairs": s["n_pairs"],
                "none": f"{s['pred_none']:+.2f}", "gqa": f"{s['pred_gqa']:+.2f}",
                "sqrt-r": f"{s['pred_sqrt-r']:+.2f}",
                "at edge": "yes" if s["at_edge"] else "",
            } for s in shifts if s["r"] != 1],
                ["r", "measured shift", "pairs", "none", "gqa", "sqrt-r", "at edge"]))
    return "".join(text) or "(no runs yet)\n"


def lr_tables(rows):
    if not rows:
        return "(no runs yet)\n"
    text = ["val loss per (factor, r, log₂ lr), mean ± sd over seeds (n; diverged runs left out):\n\n"]
    summary = analysis.seed_summary(rows, ["kv_factor", "r", "log2_lr"])
    lrs = sorted({s["log2_lr"] for s in summary})
    cells = {}
    for s in summary:
        cells.setdefault((s["kv_factor"], s["r"]), {})[s["log2_lr"]] = s
    table = []
    for (factor, r), by_lr in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        row = {"factor": factor, "r": r}
        for lr in lrs:
            c = by_lr.get(lr)
            if c is None:
                row[f"{lr:g}"] = "–"
            elif c["n"] == 0:
                row[f"{lr:g}"] = f"diverged ({c['diverged']})"
            else:
                row[f"{lr:g}"] = f"{c['mean']:.4f}" + (f" ± {c['sd']:.4f}" if c["n"] > 1 else "") + \
                    f" ({c['n']}" + (f", {c['diverged']} div." if c["diverged"] else "") + ")"
        table.append(row)
    text.append(_md(table, ["factor", "r"] + [f"{lr:g}" for lr in lrs]))
    text.append("\nbest log₂ lr* (parabola per seed, mean ± sd over seeds; r = 1 shared by the "
                "factors):\n\n")
    values = sorted({row["kv_factor"] for row in rows if row["r"] != 1})
    shared = kv_transfer.share_reference(rows, values) if values else rows
    optima = kv_transfer.lr_optima_per_seed(shared)
    text.append(_md([{
        "factor": o["kv_factor"], "r": o["r"], "log₂ lr*": _pm(o["log2_lr_star"], o["sd"]),
        "seeds": o["n_seeds"], "per seed": ", ".join(f"{v:+.2f}" for v in o["per_seed"].values()),
        "at edge": "yes" if o["at_edge"] else ""} for o in optima],
        ["factor", "r", "log₂ lr*", "seeds", "per seed", "at edge"]))
    if values and any(row["r"] == 1 for row in rows):
        text.append("\nshift log₂ lr*(r) − log₂ lr*(1), same-seed pairs (transfer: 0):\n\n")
        shifts = kv_transfer.lr_shifts(rows)
        text.append(_md([{"factor": s["kv_factor"], "r": s["r"], "shift": _pm(s["shift"], s["sd"]),
                          "pairs": s["n_pairs"], "at edge": "yes" if s["at_edge"] else ""}
                         for s in shifts if s["r"] != 1], ["factor", "r", "shift", "pairs", "at edge"]))
    for other in ("gqa", "sqrt-r"):
        try:
            diffs = analysis.paired_differences(rows, "kv_factor", "none", other, by=("r", "lr"))
        except ValueError:
            continue
        text.append(f"\npaired same-seed difference val loss({other}) − val loss(none) at each lr:\n\n")
        text.append(_md([{"r": d["r"], "log₂ lr": f"{math.log2(d['lr']):g}",
                          "difference": _pm(d["mean"], d["sd"], 4), "pairs": d["n"],
                          "dropped (diverged)": d["dropped"]} for d in diffs],
                        ["r", "log₂ lr", "difference", "pairs", "dropped (diverged)"]))
    return "".join(text)


def pilot_table(rows):
    if not rows:
        return "(no runs yet)\n"
    table = []
    base = {(r["r"], r["seed"]): r["val_loss"] for r in rows
            if not kv_transfer.parse_multipliers(r["lr_multipliers"])}
    for row in sorted(rows, key=lambda r: (r["r"], r["seed"], r["lr_multipliers"])):
        mult = kv_transfer.parse_multipliers(row["lr_multipliers"])
        mu = mult.get("key", 1.0)
        ref = base.get((row["r"], row["seed"]))
        diff = row["val_loss"] - ref if ref is not None else math.nan
        table.append({"r": row["r"], "seed": row["seed"], "μ (key+value)": f"{mu:g}",
                      "val loss": f"{row['val_loss']:.4f}",
                      "minus μ = 1": f"{diff:+.4f}" if math.isfinite(diff) else "–",
                      "s/run": f"{row['wall_time']:.0f}"})
    return _md(table, ["r", "seed", "μ (key+value)", "val loss", "minus μ = 1", "s/run"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print instead of writing the file")
    args = parser.parse_args(argv)
    mult = _rows("results/ch05_small_mult")
    # The LR sweep's plain-muP runs at 2^-7 are the mu = 1 points of the scans (the same
    # configuration, so the same key): use them where the scan's own folder lacks them.
    keys = {row["key"] for row in mult}
    mult += [row for row in _rows("results/ch05_small_lr")
             if row["lr"] == 2**-7 and row["kv_factor"] == "none" and row["key"] not in keys]
    parts = [
        "# Chapter 5: measured so far (generated by scripts/ch05_status.py; do not edit)\n\n",
        "## Progress\n\n", progress(),
        "\n## Small scale (d = 4): key/value LR multiplier scans under plain μP, global LR 2⁻⁷\n",
        multiplier_tables(mult),
        "\n## Small scale (d = 4): loss vs global LR under none / gqa / sqrt-r\n\n",
        lr_tables(_rows("results/ch05_small_lr")),
        "\n## Width 256, d = 32 pilot: does the key/value LR have leverage?\n\n",
        pilot_table(_rows("results/ch05_wide_pilot")),
    ]
    text = "".join(parts)
    if args.print:
        sys.stdout.write(text)
    else:
        (ROOT / "results/ch05_status_tables.md").write_text(text, encoding="utf-8")
        print("wrote results/ch05_status_tables.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
