"""Chapter 5's decisive experiment, analysed exactly as its protocol says (``results/ch05_decisive/protocol.md``).

The experiment scans a key+value LR multiplier ``μ`` under plain μP at ``r = 1`` and ``r = 8`` for several
seeds. Per seed and ``r`` the best multiplier is found on the grid of ``x = log₂ μ``; the estimand is the
mean of the same-seed shift

    s = log₂ μ*(r = 8) − log₂ μ*(r = 1),

which each candidate key/value factor ``f`` predicts to be ``log₂ f(8) − log₂ f(1)``
(:func:`gqa_mup_ref.kv_transfer.predicted_shift`). The protocol's tests are paired ``t`` tests of
``H₀: E s = prediction`` with exact sign-flip companions, a direct ``none``-against-``gqa`` test of the
midpoint, and minimum detectable effects at 80 % power (noncentral ``t``). Everything here reads stored
runs; nothing trains. ``scipy`` supplies the ``t`` and noncentral ``t`` distributions.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .analysis import is_collapsed, tidy_rows
from .kv_transfer import predicted_shift, scan_rows
from .runstore import load_records, result_path

__all__ = [
    "HYPOTHESES",
    "ESTIMATORS",
    "Point",
    "curves_from_records",
    "seed_optimum",
    "shifts",
    "t_test",
    "sign_flip_p",
    "power",
    "mde",
    "predictions",
    "verdict",
    "SHIFT",
    "SLOPE",
    "UNDERPOWERED_SD",
    "STAGE1_FILES",
    "edge_curves",
    "mixed_windows",
    "load_stage1",
    "load_remade",
    "analyse",
    "report_markdown",
]

HYPOTHESES = ("inv-sqrt-r", "none", "gqa", "sqrt-r")
"""The candidate key/value factors the protocol tests, from the smallest predicted shift to the largest."""

ESTIMATORS: dict[str, str] = {
    "primary": "three-point parabola around the grid argmin (collapsed runs keep their loss)",
    "argmin": "(B) the grid argmin, no fit",
    "no-collapsed": "(C) three-point parabola over the runs that did not collapse",
    "five-point": "(D) five-point parabola around the grid argmin",
}
"""Per-seed estimators of ``log₂ μ*``: the protocol's primary one and its three sensitivity checks."""

ALPHA = 0.05
TARGET_POWER = 0.8
UNDERPOWERED_SD = 1.05
"""The protocol's limit on the 12-seed per-seed sd: above it the report calls the experiment underpowered."""

SHIFT = "at d = 32, the best key+value multiplier moves from r = 1 to r = 8 by s̄ = {mean:+.2f} octave"
"""The decisive experiment's estimand, as its verdict sentences name it."""

SLOPE = "the best key+value multiplier moves by b̄ = {mean:+.2f} octave per doubling of width"
"""The model-family experiment's estimand (``results/ch06_family/protocol.md``)."""


@dataclass(frozen=True)
class Point:
    """One run of a scan: ``x = log₂ μ``, its validation loss (``inf`` when diverged) and its flags."""

    x: float
    loss: float
    collapsed: bool = False
    diverged: bool = False
    key: str = ""  # the run's key (runstore.run_key), to trace where it was made


def curves_from_records(records: Iterable[Mapping], scan: str = "key+value",
                        threshold: float = 2.5) -> dict[tuple[int, int], list[Point]]:
    """``{(r, seed): points sorted by x}`` from stored run records (``runstore.load_records``).

    ``collapsed`` is :func:`gqa_mup_ref.analysis.is_collapsed` with the protocol's threshold (mean training
    loss over steps 100–199 at least ``threshold`` nats); a diverged run's loss is ``inf``.
    """
    records = list(records)
    flags = {record.get("key"): is_collapsed(record, threshold) for record in records}
    curves: dict[tuple[int, int], list[Point]] = {}
    for row in scan_rows(tidy_rows(records), scan):
        diverged = bool(row["diverged"]) or not math.isfinite(row["val_loss"] or math.nan)
        loss = math.inf if diverged else float(row["val_loss"])
        point = Point(round(row["log2_mu"], 6), loss, flags.get(row["key"], False), diverged, row["key"])
        curves.setdefault((int(row["r"]), int(row["seed"])), []).append(point)
    return {key: sorted(points, key=lambda p: p.x) for key, points in sorted(curves.items())}


def _vertex(points: Sequence[Point]) -> float | None:
    """Vertex of the least-squares parabola ``loss ≈ a x² + b x + c``, ``x* = −b/2a``, clipped to the
    points' range; None when the fit is not convex (``a ≤ 0``)."""
    xs = np.array([p.x for p in points])
    a, b, _ = np.polyfit(xs, np.array([p.loss for p in points]), 2)
    if not a > 0:
        return None
    return float(np.clip(-b / (2 * a), xs.min(), xs.max()))


def seed_optimum(points: Sequence[Point], estimator: str = "primary") -> dict:
    """One seed's ``log₂ μ*`` at one ``r`` by ``estimator`` (one of :data:`ESTIMATORS`).

    Returns ``{"x": value, "censored": None | "low" | "high", "how": text}``. An argmin at the first or
    last grid point is *censored* there (its value is that point). The primary estimator fits the parabola
    through the argmin and its two grid neighbours and falls back to the argmin when a neighbour diverged;
    ``no-collapsed`` first drops collapsed runs and fits the three nearest remaining runs (shifted inward
    when the argmin is the last one that did not collapse; censoring still only at the grid's ends);
    ``five-point`` uses two neighbours on each side (fewer at the ends of the grid). Raises ``ValueError`` when no usable run is left (every run diverged or
    collapsed): the protocol drops such a seed and reports it.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator={estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    usable = [p for p in points if not (estimator == "no-collapsed" and p.collapsed)]
    finite = [p for p in usable if math.isfinite(p.loss)]
    if not finite:
        raise ValueError("no run of this seed is usable (all diverged or collapsed)")
    i = min(range(len(usable)), key=lambda k: usable[k].loss)
    best = usable[i]
    if estimator != "no-collapsed" and best.collapsed and all(p.collapsed for p in finite):
        raise ValueError("every run of this seed collapsed")
    if best.x in (points[0].x, points[-1].x):  # censored only at the grid's own ends
        return {"x": best.x, "censored": "low" if best.x == points[0].x else "high", "how": "argmin at the grid's edge"}
    if estimator == "argmin":
        return {"x": best.x, "censored": None, "how": "grid argmin"}
    half = 2 if estimator == "five-point" else 1
    if estimator == "no-collapsed":  # the three nearest runs that did not collapse, shifted inward at their ends
        start = min(max(0, i - half), max(0, len(usable) - (2 * half + 1)))
        window = usable[start: start + 2 * half + 1]
    else:
        window = usable[max(0, i - half): i + half + 1]
    if not all(math.isfinite(p.loss) for p in window):
        return {"x": best.x, "censored": None, "how": "grid argmin (a neighbour diverged)"}
    vertex = _vertex(window)
    if vertex is None:
        return {"x": best.x, "censored": None, "how": "grid argmin (parabola not convex)"}
    return {"x": vertex, "censored": None, "how": f"{len(window)}-point parabola"}


def shifts(curves: Mapping[tuple[int, int], Sequence[Point]], estimator: str = "primary",
           r_low: int = 1, r_high: int = 8) -> dict[int, dict]:
    """Per seed with both ``r``: ``{"s": x*(r_high) − x*(r_low), "low": optimum, "high": optimum}``.

    Seeds missing one ``r``, or with no usable run at one, are left out (the caller reports them).
    """
    out = {}
    seeds = sorted({seed for (_, seed) in curves})
    for seed in seeds:
        if (r_low, seed) not in curves or (r_high, seed) not in curves:
            continue
        try:
            low = seed_optimum(curves[(r_low, seed)], estimator)
            high = seed_optimum(curves[(r_high, seed)], estimator)
        except ValueError:
            continue
        out[seed] = {"s": high["x"] - low["x"], "low": low, "high": high}
    return out


def t_test(values: Sequence[float], null: float, alpha: float = ALPHA) -> dict:
    """Two-sided one-sample ``t`` test of ``H₀: E v = null``: ``t = (v̄ − null)/(sd/√n)``, ``df = n − 1``.

    Returns mean, sd, n, t, p and the ``1 − alpha`` interval ``v̄ ± t_{1−α/2}(n−1)·sd/√n``.
    """
    from scipy import stats

    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        raise ValueError(f"a t test needs at least two values, got {n}")
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
    if sd == 0:
        t, p = (math.inf if mean != null else 0.0), (0.0 if mean != null else 1.0)
    else:
        t = (mean - null) / (sd / math.sqrt(n))
        p = float(2 * stats.t.sf(abs(t), n - 1))
    return {"mean": mean, "sd": sd, "n": n, "t": t, "p": p, "low": mean - half, "high": mean + half}


def sign_flip_p(values: Sequence[float], null: float) -> float:
    """Exact two-sided sign-flip ``p`` of ``H₀``: ``v − null`` is symmetric about 0.

    Over all ``2ⁿ`` sign patterns of the deviations ``dᵢ = vᵢ − null``, the share whose ``|Σ ± dᵢ|`` is at
    least the observed ``|Σ dᵢ|`` (with ``n`` values the smallest possible ``p`` is ``2/2ⁿ``).
    """
    d = np.array([float(v) - null for v in values])
    if len(d) > 20:
        raise ValueError(f"{len(d)} values: the exact sign flip enumerates 2^n patterns; use at most 20")
    observed = abs(d.sum())
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    totals = np.abs(signs @ d)
    return float(np.mean(totals >= observed - 1e-12))


def power(n: int, effect: float, sd: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided one-sample ``t`` test with ``n`` values when the true mean is ``effect``
    away from the null: ``P(|T| > t_{1−α/2})`` with ``T`` noncentral ``t(n−1, effect·√n/sd)``."""
    from scipy import stats

    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = abs(effect) / sd * math.sqrt(n)
    far = float(stats.nct.cdf(-crit, df, nc))  # the wrong-sign tail: below 1e-20 once nc > 8
    if math.isnan(far) and nc > 8:  # scipy returns NaN for that vanishing tail at large nc
        far = 0.0
    return float(stats.nct.sf(crit, df, nc)) + far


def mde(n: int, sd: float, target: float = TARGET_POWER, alpha: float = ALPHA) -> float:
    """Minimum detectable effect: the smallest distance from the null that the test detects with
    probability ``target`` (solves :func:`power` ``= target`` for the effect)."""
    from scipy import optimize

    if n < 2 or not sd > 0:
        return math.nan
    return float(optimize.brentq(lambda e: power(n, e, sd, alpha) - target, 1e-9 * sd, 100 * sd))


def predictions(r_low: int = 1, r_high: int = 8) -> dict[str, float]:
    """Each hypothesis's predicted shift, from the rules (:func:`gqa_mup_ref.kv_transfer.predicted_shift`)."""
    return {h: predicted_shift(h, r_high) - predicted_shift(h, r_low) for h in HYPOTHESES}


def verdict(values: Sequence[float], alpha: float = ALPHA, r_low: int = 1, r_high: int = 8,
            predicted: Mapping[str, float] | None = None, estimand: str = SHIFT) -> dict:
    """The protocol's tests and its decision rule on per-seed shifts ``values``.

    ``predicted`` (default :func:`predictions` for ``r_low`` → ``r_high``) gives each hypothesis's value of
    the estimand; ``estimand`` names it in the sentence (the model-family experiment passes its slopes
    per doubling of width, ``SLOPE``).

    ``tests``: per hypothesis, the ``t`` test against its prediction (with ``sign_flip_p``, ``excluded``
    when ``p < alpha``, and the MDE at 80 % power). ``direct``: the ``t`` test of the midpoint of the
    ``none`` and ``gqa`` predictions (``towards`` says which side the mean is on). ``case``: the decision
    rule's number (1–6, ``protocol.md``), and ``summary``: its sentence.
    """
    pred = dict(predicted) if predicted is not None else predictions(r_low, r_high)
    tests = {}
    for name, value in pred.items():
        test = t_test(values, value, alpha)
        tests[name] = test | {"prediction": value, "sign_flip_p": sign_flip_p(values, value),
                              "excluded": test["p"] < alpha, "mde": mde(test["n"], test["sd"], alpha=alpha)}
    midpoint = (pred["none"] + pred["gqa"]) / 2
    direct = t_test(values, midpoint, alpha)
    direct |= {"null": midpoint, "sign_flip_p": sign_flip_p(values, midpoint),
               "rejects": direct["p"] < alpha, "towards": "none" if direct["mean"] < midpoint else "gqa",
               "mde": mde(direct["n"], direct["sd"], alpha=alpha)}
    none_out, gqa_out = tests["none"]["excluded"], tests["gqa"]["excluded"]
    if gqa_out and not none_out:
        case = 1 if direct["rejects"] and direct["towards"] == "none" else 2
    elif none_out and not gqa_out:
        case = 3 if direct["rejects"] and direct["towards"] == "gqa" else 4
    elif none_out and gqa_out:
        case = 5
    else:
        case = 6
    return {"tests": tests, "direct": direct, "case": case,
            "summary": _sentence(case, tests, direct, estimand)}


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _sentence(case: int, tests: Mapping[str, Mapping], direct: Mapping, estimand: str = SHIFT) -> str:
    t = tests["none"]
    head = (estimand.format(mean=t["mean"])
            + f" [95 % CI {t['low']:+.2f}, {t['high']:+.2f}] over {t['n']} seeds")
    p = {name: f"p {_p(test['p']) if test['p'] < 0.001 else '= ' + _p(test['p'])}" for name, test in tests.items()}
    direct_p = (f"p {_p(direct['p']) if direct['p'] < 0.001 else '= ' + _p(direct['p'])}, "
                f"MDE {direct['mde']:.2f} octave")
    if case in (1, 2, 3, 4):
        out, kept = ("gqa", "none") if case in (1, 2) else ("none", "gqa")
        text = (f"{head}; {out}'s predicted {tests[out]['prediction']:+.2f} is excluded ({p[out]}), "
                f"{kept}'s {tests[kept]['prediction']:+.2f} is not ({p[kept]}; MDE {tests[kept]['mde']:.2f} octave)")
        if case in (1, 3):
            return text + f", and seed by seed the shifts are closer to {kept} than to {out} ({direct_p})."
        return text + f"; the direct comparison does not separate them at 5 % ({direct_p})."
    if case == 5:
        others = ", ".join(f"{name} {'excluded' if tests[name]['excluded'] else 'not excluded'} ({p[name]})"
                           for name in ("inv-sqrt-r", "sqrt-r"))
        return f"{head}: neither none's 0 nor gqa's {tests['gqa']['prediction']:+.2f}; {others}."
    return (f"{head}: not separated — with {t['n']} seeds (sd {t['sd']:.2f}) this cannot tell none's 0 "
            f"from gqa's {tests['gqa']['prediction']:+.2f} (MDE {t['mde']:.2f} octave; {p['none']}, "
            f"{p['gqa']}).")


# ----------------------------------------------------------------------------- the protocol's analysis

STAGE1_FILES = ("sweep.toml", "sweep_edge.toml", "sweep_more_seeds.toml")
"""Sweep files whose runs form stage 1: the committed grid, then the contingent edge and seed extensions."""


def edge_curves(curves: Mapping[tuple[int, int], Sequence[Point]], seeds: Iterable[int] | None = None
                ) -> dict[str, list[tuple[int, int]]]:
    """The protocols' edge rule: ``{"low": [(r, seed), ...], "high": [...]}``, the curves (of ``seeds``, default
    all) whose grid argmin of validation loss, among the runs that did not diverge, is the lowest or the
    highest grid point."""
    wanted = None if seeds is None else set(seeds)
    out: dict[str, list[tuple[int, int]]] = {"low": [], "high": []}
    for (r, seed), points in sorted(curves.items()):
        finite = [p for p in points if math.isfinite(p.loss)]
        if (wanted is not None and seed not in wanted) or not finite:
            continue
        best = min(finite, key=lambda p: p.loss)
        if best.x == points[0].x:
            out["low"].append((r, seed))
        elif best.x == points[-1].x:
            out["high"].append((r, seed))
    return out


def mixed_windows(curves: Mapping[tuple[int, int], Sequence[Point]], provenance: Mapping[str, Mapping]
                  ) -> dict[tuple[int, int], list[Point]]:
    """``{(r, seed): points of its primary window}`` for the windows (the grid argmin and its two neighbours)
    whose runs were made on different instruction sets (``provenance``: run key -> ``{"isa": ...}``)."""
    mixed = {}
    for (r, seed), points in sorted(curves.items()):
        i = min(range(len(points)), key=lambda k: points[k].loss)
        window = list(points[max(0, i - 1): i + 2])
        if len({provenance.get(p.key, {}).get("isa", "unknown") for p in window}) > 1:
            mixed[(r, seed)] = window
    return mixed


def load_stage1(folder, files: Sequence[str] = STAGE1_FILES) -> tuple[dict, dict[int, int]]:
    """Stored stage-1 curves ``{(r, seed): points}`` of ``folder`` and, per seed, how many planned runs
    are missing. A contingent file (any but the first) with no stored run was never triggered and is skipped."""
    from pathlib import Path

    from .sweep_config import load_sweep_config

    folder = Path(folder)
    records, missing = [], {}
    for i, name in enumerate(files):
        if not (folder / name).exists():
            continue
        configs, _ = load_sweep_config(folder / name)
        stored = [c for c in configs if result_path(folder, c).exists()]
        if i > 0 and not stored:
            continue
        for config in configs:
            if not result_path(folder, config).exists():
                missing[config.seed] = missing.get(config.seed, 0) + 1
        records += load_records(folder, stored)
    return curves_from_records(records), missing


def load_remade(folder, files: Sequence[str] = STAGE1_FILES, remade: str = "remade") -> tuple[dict, dict, dict]:
    """Stage-1 curves with the runs re-made on one machine in place of the originals (the protocol's
    amendment 1, as carried out by ``scripts/ch05_decisive_remake.py``): ``(curves, missing, provenance)``,
    where ``provenance`` is ``folder/provenance.json`` updated by ``folder/remade/provenance.json``. Without
    a ``remade`` folder, the stage-1 curves and provenance unchanged."""
    import json
    from pathlib import Path

    from .runstore import load_record

    folder = Path(folder)
    curves, missing = load_stage1(folder, files)
    provenance = json.loads((folder / "provenance.json").read_text()) if (folder / "provenance.json").exists() else {}
    index = folder / remade / "provenance.json"
    if not index.exists():
        return curves, missing, provenance
    replaced = json.loads(index.read_text())
    records = {p.key: None for points in curves.values() for p in points}
    for key in replaced:
        if key not in records:
            raise ValueError(f"{index} re-makes run {key}, which is not a stored stage-1 run of {folder}")
    stored = [load_record(folder / f"{key}.json") for key in records if key not in replaced]
    new = [load_record(folder / remade / f"{key}.json") for key in replaced]
    return curves_from_records(stored + new), missing, provenance | replaced


def analyse(curves: Mapping[tuple[int, int], Sequence[Point]], missing: Mapping[int, int] | None = None,
            provenance: Mapping[str, Mapping] | None = None, r_low: int = 1, r_high: int = 8,
            scale: float = 1.0, predicted: Mapping[str, float] | None = None, estimand: str = SHIFT) -> dict:
    """The protocol's full analysis of complete seeds: per estimator (:data:`ESTIMATORS`) the per-seed
    shifts, :func:`verdict`, censored and dropped seeds (and the verdict without censored seeds); the
    collapsed runs per grid point; the number diverged; the primary windows whose runs were made on
    different instruction sets (``provenance``: run key -> ``{"isa": ...}``); and the sensitivity
    estimators (B, C) whose decision-rule case differs from the primary's (``estimator_dependent``).
    Raises ``ValueError`` when a seed is incomplete: the protocol analyses whole seeds only.

    The estimand per seed is ``scale × (x*(r_high) − x*(r_low))``; the model-family experiment
    (``r`` naming its two widths, 4× apart) passes ``scale = 1/2`` for a slope per doubling, its
    ``predicted`` slopes and ``estimand = SLOPE``."""
    missing, provenance = dict(missing or {}), dict(provenance or {})
    seeds = sorted({seed for (_, seed) in curves})
    incomplete = sorted(s for s, n in missing.items() if n)  # a seed with no stored run at all counts too
    if incomplete:
        raise ValueError(f"seeds {incomplete} are incomplete ({sum(missing[s] for s in incomplete)} runs "
                         "missing): the protocol analyses whole seeds only; finish their sweeps first")
    out = {"seeds": seeds, "estimators": {}}
    for estimator in ESTIMATORS:
        per_seed = shifts(curves, estimator, r_low, r_high)
        for v in per_seed.values():
            v["s"] *= scale
        censored = {seed: [side for side in ("low", "high") if v[side]["censored"]] for seed, v in per_seed.items()}
        uncensored = [v["s"] for seed, v in per_seed.items() if not censored[seed]]
        kwargs = {"r_low": r_low, "r_high": r_high, "predicted": predicted, "estimand": estimand}
        entry = {"per_seed": per_seed, "verdict": verdict([v["s"] for v in per_seed.values()], **kwargs),
                 "censored_seeds": [s for s, c in censored.items() if c],
                 "dropped_seeds": [s for s in seeds if s not in per_seed]}
        if entry["censored_seeds"] and len(uncensored) >= 2:
            entry["verdict_without_censored"] = verdict(uncensored, **kwargs)
        out["estimators"][estimator] = entry
    collapsed: dict[str, list[int]] = {}
    for (r, seed), points in sorted(curves.items()):
        for p in points:
            if p.collapsed:
                collapsed.setdefault(f"r={r} log2mu={p.x:+.2f}", []).append(seed)
    out["collapsed"] = collapsed
    out["diverged"] = sum(p.diverged for points in curves.values() for p in points)
    out["windows_mixing_machines"] = {
        f"r={r} seed={seed}": sorted({provenance.get(p.key, {}).get("isa", "unknown") for p in window})
        for (r, seed), window in mixed_windows(curves, provenance).items()}
    primary = out["estimators"]["primary"]["verdict"]["case"]
    out["estimator_dependent"] = [e for e in ("argmin", "no-collapsed")
                                  if out["estimators"][e]["verdict"]["case"] != primary]
    return out


# ----------------------------------------------------------------------------- the report, as Markdown


def report_markdown(result: Mapping, underpowered_sd: float = UNDERPOWERED_SD) -> dict[str, str]:
    """The protocol's report of :func:`analyse` as Markdown for the book: ``tests`` (per hypothesis: the
    predicted and measured estimand, 95 % interval, ``t`` and sign-flip ``p``, verdict, MDE), ``sensitivity``
    (each estimator's mean, sd and decision-rule case), ``collapsed`` (runs per grid point, with seeds),
    ``machines`` (primary windows mixing instruction sets), ``extra`` (the tests without censored seeds, and
    the underpowered statement when a 12-seed sd exceeds ``underpowered_sd``, chapter 5's protocol's
    :data:`UNDERPOWERED_SD` unless another protocol names its own), ``details`` (seeds,
    estimator, censored, dropped and collapsed counts, and "estimator-dependent" where the sensitivity rule
    applies), and ``verdict``: the decision rule's sentence, with those details appended."""
    primary = result["estimators"]["primary"]
    v = primary["verdict"]
    rows = ["| factor | predicted | mean | 95 % interval | t test p | sign-flip p | verdict | MDE (80 %) |",
            "|---|---:|---:|---:|---:|---:|---|---:|"]  # numbers right-aligned (book.css keeps them on one line)
    for name, t in v["tests"].items():
        rows.append(f"| `{name}` | {t['prediction']:+.2f} | {t['mean']:+.2f} | [{t['low']:+.2f}, {t['high']:+.2f}] "
                    f"| {_p(t['p'])} | {_p(t['sign_flip_p'])} | {'excluded' if t['excluded'] else 'not excluded'} "
                    f"| {t['mde']:.2f} |")
    d = v["direct"]
    rows.append(f"| `none` vs `gqa` (direct) | {d['null']:+.2f} (midpoint) | {d['mean']:+.2f} | "
                f"[{d['low']:+.2f}, {d['high']:+.2f}] | {_p(d['p'])} | {_p(d['sign_flip_p'])} | "
                f"{'separated, towards ' + d['towards'] if d['rejects'] else 'not separated'} | {d['mde']:.2f} |")
    sens = ["| estimator | mean | sd | excluded | decision-rule case |", "|---|---:|---:|---|---:|"]
    for name, entry in result["estimators"].items():
        ev = entry["verdict"]
        excluded = ", ".join(f"`{h}`" for h, t in ev["tests"].items() if t["excluded"]) or "none"
        sens.append(f"| {ESTIMATORS[name]} | {ev['tests']['none']['mean']:+.2f} | {ev['tests']['none']['sd']:.2f} "
                    f"| {excluded} | {ev['case']} |")
    n_collapsed = sum(len(seeds) for seeds in result["collapsed"].values())
    seeds = result["seeds"]
    by_point = ["| grid point | collapsed runs (seeds) |", "|---|---|"]
    for point, point_seeds in result["collapsed"].items():
        label = point.replace("r=", "r = ").replace(" log2mu=", ", log₂ μ = ")
        by_point.append(f"| {label} | {len(point_seeds)} ({', '.join(map(str, point_seeds))}) |")
    mixed = result["windows_mixing_machines"]
    machines = (f"{len(mixed)} of the {2 * len(seeds)} primary windows mix runs made on different instruction sets "
                f"({', '.join(mixed)})" if mixed else "every primary window was made on one instruction set")
    extra = []
    if "verdict_without_censored" in primary:
        w = primary["verdict_without_censored"]
        extra.append(f"Without the censored seeds: decision-rule case {w['case']} ({w['summary'].rstrip('.')})")
    if len(seeds) >= 12 and v["tests"]["none"]["sd"] > underpowered_sd:
        extra.append(f"The per-seed sd, {v['tests']['none']['sd']:.2f}, exceeds {underpowered_sd}: the protocol "
                     f"calls the experiment underpowered for the {abs(v['tests']['gqa']['prediction']):.2f}-octave gap "
                     f"(MDE {v['tests']['none']['mde']:.2f} octave)")
    details = (f"seeds {seeds[0]}–{seeds[-1]} ({len(seeds)}), primary estimator (three-point parabola); "
               f"censored seeds: {len(primary['censored_seeds'])}; dropped seeds: {len(primary['dropped_seeds'])}; "
               f"collapsed runs: {n_collapsed}; diverged runs: {result['diverged']}")
    if result["estimator_dependent"]:
        details += "; estimator-dependent (" + ", ".join(ESTIMATORS[e] for e in result["estimator_dependent"]) + ")"
    return {"tests": "\n".join(rows), "sensitivity": "\n".join(sens), "details": details,
            "collapsed": "\n".join(by_point), "machines": machines, "extra": " ".join(e + "." for e in extra),
            "verdict": v["summary"][0].upper() + v["summary"][1:].rstrip(".") + f" ({details})."}
