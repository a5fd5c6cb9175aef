"""Does the learning rate transfer across the number of KV heads? The analysis of chapter 5's sweeps.

Two kinds of sweep answer it (see ``results/ch05_*``):

* **Multiplier scans** under plain μP: the key, the value or both LRs multiplied by ``μ`` on top of
  the rules (``RunConfig.lr_multipliers``) at a fixed global LR. :func:`best_multiplier` fits the best
  ``log₂ μ*`` per ``r`` *per seed*; :func:`multiplier_shifts` compares each ``r`` with ``r = 1``
  seed by seed. The three invariants of chapter 2 predict the shift ``log₂ μ*(r) − log₂ μ*(1)``:
  ``0`` (``none``), ``log₂ c(r)`` (``gqa``) and ``log₂ √r`` (``sqrt-r``), read from
  :data:`gqa_mup_ref.parameterization.KV_FACTORS` by :func:`predicted_shift`.
* **Global-LR curves** under each key/value factor: "transfer" means the best global LR does not move
  with ``r``. :func:`lr_optima_per_seed` and :func:`lr_shifts` do the same per-seed fit and same-seed
  comparison with ``r = 1``, which all factors share (:func:`share_reference`).

Every fit is :func:`gqa_mup_ref.analysis.find_optimum` (a parabola in ``log₂`` around the argmin), one
seed at a time, so the uncertainty is the spread over seeds (sd, and sem = sd/√n). Rows are those of
:func:`gqa_mup_ref.analysis.tidy_rows`. Needs no torch; only :func:`stored_rows` and
:func:`chapter_rows` read a results folder (the committed runs of :data:`SWEEPS`, which both parts of
the chapter load through them). :func:`shift_rows` and :func:`shift_table` build Experiment 1's table.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .analysis import _finite, _order, _spread, find_optimum, tidy_rows

__all__ = [
    "SCANS",
    "PREDICTIONS",
    "WINDOW",
    "OTHER_WINDOW",
    "ETA6",
    "ETA7",
    "SWEEPS",
    "parse_multipliers",
    "scan_rows",
    "per_seed_optima",
    "best_multiplier",
    "multiplier_shifts",
    "multiplier_contrast",
    "predicted_shift",
    "share_reference",
    "lr_optima_per_seed",
    "lr_shifts",
    "transfer_regret",
    "transferred_loss_differences",
    "T_975",
    "confidence_interval",
    "interval_text",
    "judge",
    "shift_rows",
    "shift_table",
    "stored_rows",
    "chapter_rows",
]

SCANS: dict[str, tuple[str, ...]] = {
    "key+value": ("key", "value"),
    "key": ("key",),
    "value": ("value",),
}
"""Which roles a scan multiplies by the same ``μ``."""

PREDICTIONS = ("none", "gqa", "sqrt-r")
"""The key/value factors of chapter 2's three invariants, in the order the tables show them."""

WINDOW = 1
"""The chapter's primary fit: each optimum is the parabola through the three grid points around the
lowest (``window=1`` of :func:`gqa_mup_ref.analysis.find_optimum`)."""

OTHER_WINDOW = 2
"""The chapter's sensitivity check: the parabola through five grid points (``window=2``)."""

ETA6 = "$2^{-6}$"
"""The base LR of the key+value scan at the ``r = 1`` optimum, as the chapter's tables write it (MyST
math for 2⁻⁶).

:meta hide-value:
"""

ETA7 = "$2^{-7}$"
"""The base LR of the key, value and key+value scans, as the chapter's tables write it (MyST math for
2⁻⁷).

:meta hide-value:
"""

SWEEPS: dict[str, tuple[str, ...]] = {
    "small_lr": ("ch05_small_lr/sweep.toml",),
    "scan6": ("ch05_small_mult_lr6/sweep.toml",),
    "scan7": ("ch05_small_mult/sweep.toml", "ch05_small_mult/sweep_roles.toml"),
    "pilot": ("ch05_wide_pilot/sweep.toml",),
    "wide": ("ch05_wide/sweep.toml", "ch05_wide/sweep_low.toml"),
}
"""Chapter 5's experiments and their sweep files (relative to the results folder): the global-LR
curves at ``d = 4``, the key+value scan at :data:`ETA6`, the key, value and key+value scans at
:data:`ETA7`, the leverage pilot at ``d = 32`` and the global-LR curves at ``d = 32``."""


def parse_multipliers(text: str | Mapping | None) -> dict[str, float]:
    """``"key=2,value=2"`` (a row's ``lr_multipliers``) or a mapping → ``{"key": 2.0, "value": 2.0}``;
    no multipliers (``""``, ``"none"``, None, ``{}``) → ``{}``."""
    if not text or text == "none":
        return {}
    if isinstance(text, Mapping):
        return {str(k): float(v) for k, v in text.items()}
    out = {}
    for part in str(text).split(","):
        role, sep, factor = part.partition("=")
        if not sep:
            raise ValueError(f"lr_multipliers text {text!r} must look like 'key=2,value=2'")
        out[role.strip()] = float(factor)
    return out


def _scan_mu(multipliers: Mapping[str, float], scan: str) -> float | None:
    """``μ`` when ``multipliers`` is a point of ``scan`` (no multipliers: ``μ = 1``), else None."""
    roles = SCANS[scan]
    if not multipliers:
        return 1.0
    if set(multipliers) != set(roles) or len(set(multipliers.values())) != 1:
        return None
    return next(iter(multipliers.values()))


def scan_rows(rows: Iterable[Mapping], scan: str, frozen: bool = False) -> list[dict]:
    """The rows that belong to ``scan`` (the run without multipliers, ``μ = 1``, belongs to every
    scan), each with ``mu`` and ``log2_mu`` added; ``μ = 0`` (frozen) rows are left out unless
    ``frozen`` (then their ``log2_mu`` is ``-inf``)."""
    if scan not in SCANS:
        raise ValueError(f"scan={scan!r}; choose one of {', '.join(SCANS)}")
    out = []
    for row in rows:
        mu = _scan_mu(parse_multipliers(row.get("lr_multipliers")), scan)
        if mu is not None and (mu > 0 or (frozen and mu == 0)):
            out.append(dict(row) | {"mu": mu, "log2_mu": math.log2(mu) if mu > 0 else -math.inf})
    return out


def per_seed_optima(xs: Sequence[float], losses: Sequence[float], seeds: Sequence[int],
                    window: int = 2) -> dict[int, dict]:
    """Per seed, the fitted best ``x`` (``x`` a positive factor such as an LR or ``μ``; fitted in log₂).

    Returns ``{seed: {"log2": vertex, "loss": loss at the vertex, "at_edge": bool}}``; a seed with
    fewer than three finite points is left out.
    """
    by_seed: dict[int, list[tuple[float, float]]] = {}
    for x, loss, seed in zip(xs, losses, seeds, strict=True):
        by_seed.setdefault(seed, []).append((x, loss))
    out = {}
    for seed in sorted(by_seed):
        points = by_seed[seed]
        try:
            best = find_optimum([p[0] for p in points], [p[1] for p in points], window=window)
        except ValueError:
            continue
        out[seed] = {"log2": best.log2_lr, "loss": best.loss, "at_edge": best.at_edge}
    return out


def _group(rows: Iterable[Mapping], by: Sequence[str]) -> dict[tuple, list[Mapping]]:
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    return dict(sorted(groups.items(), key=lambda item: tuple(_order(v) for v in item[0])))


def _optima_table(rows: Sequence[Mapping], x: str, by: Sequence[str], metric: str, window: int,
                  name: str) -> list[dict]:
    out = []
    for values, group in _group(rows, by).items():
        fits = per_seed_optima([g[x] for g in group], [g[metric] for g in group],
                               [g["seed"] for g in group], window)
        spread = _spread([f["log2"] for f in fits.values()])
        out.append(dict(zip(by, values)) | {
            name: spread["mean"], "sd": spread["sd"], "sem": spread["sem"], "n_seeds": spread["n"],
            "at_edge": any(f["at_edge"] for f in fits.values()),
            "per_seed": {seed: f["log2"] for seed, f in fits.items()},
            "loss_star": statistics.fmean(f["loss"] for f in fits.values()) if fits else math.nan,
        })
    return out


def best_multiplier(rows: Sequence[Mapping], scan: str = "key+value", by: str | Sequence[str] = "r",
                    metric: str = "val_loss", window: int = 2) -> list[dict]:
    """Best ``log₂ μ*`` of ``scan`` for each ``by`` group (e.g. each ``r``), one fit per seed.

    Each row: the ``by`` values, ``log2_mu_star`` (mean over seeds), ``sd``, ``sem``, ``n_seeds``,
    ``at_edge`` (some seed's best ``μ`` is at the end of the grid: the true optimum may lie beyond),
    ``per_seed`` (``{seed: log₂ μ*}``) and ``loss_star``.
    """
    by = (by,) if isinstance(by, str) else tuple(by)
    return _optima_table(scan_rows(rows, scan), "mu", by, metric, window, "log2_mu_star")


def multiplier_contrast(rows: Sequence[Mapping], high: float, low: float, scan: str = "key+value",
                        by: str | Sequence[str] = "r", metric: str = "val_loss") -> list[dict]:
    """Same-seed ``metric(μ = high) − metric(μ = low)`` of ``scan`` per ``by`` group (mean, sd, sem, n).

    A fit-free check of where the optimum sits: negative when the larger ``μ`` is better. If the
    best ``μ`` grows with ``r`` (as ``gqa`` and ``sqrt-r`` predict), the contrast falls with ``r``;
    if it stays put (``none``), the contrast does not change. Pairs with a NaN (diverged) side are
    left out and counted in ``dropped``. ``low = 0`` compares with the scanned roles frozen.
    """
    by = (by,) if isinstance(by, str) else tuple(by)
    cells: dict[tuple, dict[float, float]] = {}
    for row in scan_rows(rows, scan, frozen=True):
        if row["mu"] in (high, low):
            cells.setdefault(tuple(row[k] for k in by) + (row["seed"],), {})[row["mu"]] = row[metric]
    groups: dict[tuple, list[float]] = {}
    dropped: dict[tuple, int] = {}
    for key, pair in cells.items():
        if len(pair) < 2:
            continue
        group = key[:-1]
        a, b = pair[high], pair[low]
        if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b):
            groups.setdefault(group, []).append(a - b)
        else:
            dropped[group] = dropped.get(group, 0) + 1
            groups.setdefault(group, [])
    return [dict(zip(by, g)) | _spread(groups[g]) | {"dropped": dropped.get(g, 0)}
            for g in sorted(groups, key=lambda t: tuple(_order(v) for v in t))]


def predicted_shift(kv_factor: str, r: float) -> float:
    """``log₂`` of the key/value factor ``kv_factor`` at ``r`` relative to ``r = 1``, from the rules."""
    from .parameterization import KV_FACTORS, kv_factor_value

    if kv_factor not in KV_FACTORS:
        raise ValueError(f"kv_factor={kv_factor!r}; choose one of {', '.join(KV_FACTORS)}")
    return math.log2(kv_factor_value(kv_factor, r) / kv_factor_value(kv_factor, 1))


def _paired_shifts(table: Sequence[Mapping], name: str, by: str, reference: object,
                   keep: Sequence[str]) -> list[dict]:
    """Same-seed differences of ``name`` per seed between each ``by`` value and ``reference``."""
    out = []
    for keys, group in _group(table, keep).items():
        base = next((g for g in group if g[by] == reference), None)
        if base is None:
            raise ValueError(f"no {by}={reference!r} row to compare with for {dict(zip(keep, keys))}")
        for row in group:
            common = sorted(set(row["per_seed"]) & set(base["per_seed"]))
            diffs = [row["per_seed"][s] - base["per_seed"][s] for s in common]
            spread = _spread(diffs)
            out.append(dict(zip(keep, keys)) | {
                by: row[by], "shift": spread["mean"], "sd": spread["sd"], "sem": spread["sem"],
                "n_pairs": spread["n"], "at_edge": row["at_edge"] or base["at_edge"],
            })
    return out


def multiplier_shifts(rows: Sequence[Mapping], scan: str = "key+value", reference_r: int = 1,
                      metric: str = "val_loss", window: int = 2) -> list[dict]:
    """Per ``r``: the same-seed shift ``log₂ μ*(r) − log₂ μ*(reference_r)`` (mean, sd, sem, pairs)
    beside each invariant's prediction (columns ``pred_none``, ``pred_gqa``, ``pred_sqrt-r``)."""
    table = best_multiplier(rows, scan, "r", metric, window)
    shifts = _paired_shifts(table, "log2_mu_star", "r", reference_r, keep=())
    return [s | {f"pred_{k}": predicted_shift(k, s["r"]) - predicted_shift(k, reference_r)
                 for k in PREDICTIONS} for s in shifts]


def share_reference(rows: Iterable[Mapping], values: Sequence[str] = PREDICTIONS,
                    column: str = "kv_factor", r: int = 1) -> list[dict]:
    """The rows, with each ``r = 1`` row copied under every ``column`` value in ``values``.

    At ``r = 1`` every candidate factor is 1, so a sweep runs ``r = 1`` once; copying those rows
    makes every factor's curve start from the same measured point.
    """
    out = []
    for row in rows:
        if row["r"] == r:
            out.extend(dict(row) | {column: value} for value in values)
        else:
            out.append(dict(row))
    return out


def lr_optima_per_seed(rows: Sequence[Mapping], by: str | Sequence[str] = ("kv_factor", "r"),
                       metric: str = "val_loss", window: int = 2) -> list[dict]:
    """Best ``log₂ lr*`` per ``by`` group, one fit per seed: like :func:`best_multiplier` for the
    global LR (column ``log2_lr_star``)."""
    by = (by,) if isinstance(by, str) else tuple(by)
    return _optima_table(rows, "lr", by, metric, window, "log2_lr_star")


def lr_shifts(rows: Sequence[Mapping], column: str = "kv_factor", reference_r: int = 1,
              metric: str = "val_loss", window: int = 2) -> list[dict]:
    """Per ``column`` value and ``r``: the same-seed shift ``log₂ lr*(r) − log₂ lr*(reference_r)``.

    A factor under which the LR transfers has shifts near 0 at every ``r``. The ``reference_r``
    rows are shared by every ``column`` value (:func:`share_reference`) when only one was run.
    """
    values = sorted({row[column] for row in rows if row["r"] != reference_r}, key=str)
    run_at_reference = {row[column] for row in rows if row["r"] == reference_r}
    shared = (share_reference(rows, values, column, reference_r)
              if len(run_at_reference) == 1 and values else list(rows))
    table = lr_optima_per_seed(shared, (column, "r"), metric, window)
    return _paired_shifts(table, "log2_lr_star", "r", reference_r, keep=(column,))


T_975: dict[int, float] = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
                           8: 2.306, 9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}
"""Student's ``t`` at 97.5 % for ``df`` degrees of freedom (two-sided 95 %); missing ``df`` use the
next smaller tabulated one, which errs wide. Tested against ``scipy.stats.t`` where it is installed."""


def _t_975(df: int) -> float:
    if df < 1:
        raise ValueError(f"df={df}: a confidence interval needs at least two values (df >= 1)")
    return T_975[max(k for k in T_975 if k <= df)]


def confidence_interval(mean: float, sd: float, n: int) -> tuple[float, float]:
    """The 95 % interval ``mean ± t₀.₉₇₅(n−1) · sd/√n`` of ``n`` independent values (seeds, or
    same-seed pairs); ``(nan, nan)`` when ``n < 2`` or a value is not finite.

    With three seeds ``t = 4.30``: an interval is 2.5 times as wide as ``mean ± 2·sem`` would
    suggest, which is the honest price of three seeds.
    """
    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)):
        return (math.nan, math.nan)
    half = _t_975(n - 1) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def interval_text(mean: float, sd: float, n: int) -> str:
    """:func:`confidence_interval` as a table cell, ``"[-0.12, +0.34]"``; ``"–"`` when there is none
    (``n < 2`` or a value is not finite)."""
    low, high = confidence_interval(mean, sd, n)
    return f"[{low:+.2f}, {high:+.2f}]" if math.isfinite(low) else "–"


def judge(mean: float, sd: float, n: int, predictions: Mapping[str, float]) -> dict:
    """Which predicted values a measured quantity (``mean``, ``sd`` over ``n`` seeds or pairs) rules
    out at 95 %: ``{"low", "high", "consistent": [names], "excluded": [names]}``.

    A prediction is *consistent* when it lies inside :func:`confidence_interval`, *excluded* when
    outside. With no interval (``n < 2``) nothing is excluded: every prediction is consistent.
    """
    low, high = confidence_interval(mean, sd, n)
    if math.isnan(low):
        return {"low": low, "high": high, "consistent": list(predictions), "excluded": []}
    inside = [name for name, value in predictions.items() if low <= value <= high]
    return {"low": low, "high": high, "consistent": inside,
            "excluded": [name for name in predictions if name not in inside]}


def shift_rows(rows: Sequence[Mapping], scan: str, label: str, window: int = WINDOW) -> list[dict]:
    """Experiment 1's table rows for one scan: per ``r > 1``, the same-seed shift
    ``log₂ μ*(r) − log₂ μ*(1)`` of :func:`multiplier_shifts` judged against the three predictions.

    Each row: ``η`` (``label``, the scan's base LR), ``scan``, ``r``, ``shift``, ``sd``, ``pairs``,
    ``95% interval`` (:func:`interval_text`), ``at edge`` and ``consistent with`` (the predictions
    inside the interval, by :func:`judge`; no verdict when an optimum is at a grid edge), then the
    hidden ``_verdict`` (:func:`judge`'s answer) and ``_row`` (the :func:`multiplier_shifts` row).
    """
    out = []
    for s in multiplier_shifts(rows, scan, window=window):
        if s["r"] == 1:
            continue
        verdict = judge(s["shift"], s["sd"], s["n_pairs"], {k: s[f"pred_{k}"] for k in PREDICTIONS})
        consistent = ", ".join(verdict["consistent"]) or "none of the three"
        out.append({
            "η": label, "scan": scan, "r": s["r"], "shift": s["shift"], "sd": s["sd"],
            "pairs": s["n_pairs"], "95% interval": interval_text(s["shift"], s["sd"], s["n_pairs"]),
            "at edge": s["at_edge"],
            "consistent with": "(edge: no verdict)" if s["at_edge"] else consistent,
            "_verdict": verdict, "_row": s,
        })
    return out


def shift_table(scan6: Sequence[Mapping], scan7: Sequence[Mapping], window: int = WINDOW) -> list[dict]:
    """Experiment 1's whole table (:func:`shift_rows`): the key+value scans at :data:`ETA6` and
    :data:`ETA7`, then the key and the value scans alone at :data:`ETA7`."""
    return (shift_rows(scan6, "key+value", ETA6, window) + shift_rows(scan7, "key+value", ETA7, window)
            + shift_rows(scan7, "key", ETA7, window) + shift_rows(scan7, "value", ETA7, window))


def transfer_regret(rows: Sequence[Mapping], column: str = "kv_factor", reference_r: int = 1,
                    metric: str = "val_loss", against: str = "own") -> list[dict]:
    """What tuning the global LR at ``reference_r`` and keeping it loses, per ``column`` value
    (key/value factor) and ``r``, seed by seed, with no fit.

    For each seed, ``lr₀`` is the grid point with the lowest ``metric`` at ``reference_r`` (shared by
    every factor when only one ran there, as :func:`share_reference` assumes). The regret of factor
    ``f`` at ``r`` is ``metric(f, r, lr₀)`` minus the best ``metric`` at ``r``: over ``f``'s own grid
    (``against="own"``, a fit-free test of transfer: 0 when ``lr₀`` is still ``f``'s best) or over every
    factor and lr (``against="any"``, the practitioner's loss, which also counts a factor whose best is
    worse). A diverged run at ``lr₀`` gives ``inf``. Returns ``column``, ``r`` and ``mean``, ``sd``,
    ``sem``, ``n`` over seeds, and ``lr0`` per seed.
    """
    if against not in ("own", "any"):
        raise ValueError(f"against={against!r}; use 'own' (the factor's own best) or 'any'")
    lr0: dict[int, tuple[float, float]] = {}
    best_at: dict[tuple, float] = {}
    for row in (row for row in rows if _finite(row[metric])):
        seed = row["seed"]
        if row["r"] == reference_r and (seed not in lr0 or row[metric] < lr0[seed][1]):
            lr0[seed] = (row["lr"], row[metric])
        key = (row["r"], seed) + ((row[column],) if against == "own" else ())
        best_at[key] = min(best_at.get(key, math.inf), row[metric])
    regrets: dict[tuple, list[float]] = {}
    for row in rows:
        seed = row["seed"]
        if row["r"] == reference_r or seed not in lr0 or row["lr"] != lr0[seed][0]:
            continue
        value = row[metric] if _finite(row[metric]) else math.inf
        key = (row["r"], seed) + ((row[column],) if against == "own" else ())
        regrets.setdefault((row[column], row["r"]), []).append(value - best_at[key])
    return [{column: value, "r": r} | _spread(diffs)
            | {"lr0": {seed: lr for seed, (lr, _) in sorted(lr0.items())}}
            for (value, r), diffs in sorted(regrets.items(), key=lambda kv: (kv[0][1], str(kv[0][0])))]


def transferred_loss_differences(rows: Sequence[Mapping], factor: str, baseline: str = "none",
                                 column: str = "kv_factor", reference_r: int = 1,
                                 metric: str = "val_loss") -> dict[int, dict[int, float]]:
    """A direct same-seed comparison of two factors: ``{r: {seed: metric(factor) − metric(baseline)}}``,
    both at the seed's transferred LR ``lr₀`` (its best grid LR at ``reference_r``, as in
    :func:`transfer_regret`).

    This is the difference of the two factors' regrets against the best of all (the best cancels), i.e.
    what a practitioner who tuned at ``reference_r`` gains (negative) or loses (positive) by using
    ``factor`` instead of ``baseline`` at ``r``. Seeds where either run is missing are left out; a
    diverged run counts as ``inf``.
    """
    lr0: dict[int, tuple[float, float]] = {}
    for row in rows:
        if row["r"] == reference_r and _finite(row[metric]):
            if row["seed"] not in lr0 or row[metric] < lr0[row["seed"]][1]:
                lr0[row["seed"]] = (row["lr"], row[metric])
    at: dict[tuple, float] = {}
    for row in rows:
        seed = row["seed"]
        if row["r"] != reference_r and seed in lr0 and row["lr"] == lr0[seed][0]:
            at[(row["r"], seed, row[column])] = row[metric] if _finite(row[metric]) else math.inf
    out: dict[int, dict[int, float]] = {}
    for (r, seed, value) in sorted(at):
        if value == factor and (r, seed, baseline) in at:
            out.setdefault(r, {})[seed] = at[(r, seed, factor)] - at[(r, seed, baseline)]
    return out


def stored_rows(results: str | os.PathLike, *sweep_files: str) -> list[dict]:
    """The committed runs of ``sweep_files`` (paths relative to ``results``) as
    :func:`gqa_mup_ref.analysis.tidy_rows` rows; a run that two files share appears once.

    Each file's runs are read from the folder its ``results`` setting names (next to the file).
    """
    from .runstore import load_records
    from .sweep_config import load_sweep_config

    rows: dict[str, dict] = {}
    for name in sweep_files:
        path = Path(results) / name
        configs, settings = load_sweep_config(path)
        for row in tidy_rows(load_records(path.parent / settings.get("results", "."), configs)):
            rows[row["key"]] = row
    return list(rows.values())


def chapter_rows(results: str | os.PathLike) -> dict[str, list[dict]]:
    """Every committed run of chapter 5, one list per experiment of :data:`SWEEPS` (:func:`stored_rows`).

    The plain-μP run of the global-LR sweep at ``lr = 2⁻⁷`` is the ``μ = 1`` point of the scans at
    :data:`ETA7` (the same configuration, so the same stored run): it is added to ``"scan7"``.
    """
    out = {name: stored_rows(results, *files) for name, files in SWEEPS.items()}
    have = {row["key"] for row in out["scan7"]}
    out["scan7"] += [row for row in out["small_lr"] if row["lr"] == 2**-7
                     and row["kv_factor"] == "none" and row["key"] not in have]
    return out
