"""Analysing stored runs: tidy rows, seed statistics, paired same-seed differences, optima.

Everything here reads the records that :mod:`gqa_mup_ref.runstore` stores (or rows made from them by
:func:`tidy_rows`) and needs neither torch nor a results folder. :func:`seed_summary` reduces the
seeds of each grid point to mean ± sd (and sem, n); :func:`paired_differences` compares two settings
run with the same seeds, seed by seed, which cancels most of the seed-to-seed noise;
:func:`find_optimum` / :func:`optima` locate the best learning rate by a parabola in ``log₂ lr``;
:func:`format_table` prints rows as an aligned table. Nothing here draws: the figures of these
results are :mod:`gqa_mup_ref.plots`'s, which imports this module (never the reverse).
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Optimum",
    "tidy_rows",
    "format_table",
    "markdown_table",
    "INLINE_MATH",
    "HEADERS",
    "display_table",
    "seed_summary",
    "paired_differences",
    "find_optimum",
    "optima",
    "plateau_loss",
    "is_collapsed",
]

# ----------------------------------------------------------------------------- tidy results


def tidy_rows(records: Iterable[dict]) -> list[dict]:
    """One flat row per run: every config field, ``r`` and ``log2_lr``, then the metrics.

    Metrics: ``train_loss``, ``val_loss`` (NaN when diverged), ``diverged``, ``steps_done``,
    ``wall_time``, ``device``, ``torch_version`` and ``key``; the loss curve is left out.
    ``lr_multipliers`` becomes text such as ``"key=2,value=2"`` (``"none"`` without), so rows can
    be grouped and sorted by it.
    """
    rows = []
    for record in records:
        config = record["config"]
        row = dict(config)
        row["lr_multipliers"] = multipliers_text(config.get("lr_multipliers"))
        row["r"] = config["n_head"] // config["n_kv_head"]
        row["log2_lr"] = math.log2(config["lr"])
        for name in ("train_loss", "val_loss", "diverged", "steps_done", "wall_time",
                     "device", "torch_version", "key"):
            row[name] = record.get(name)
        rows.append(row)
    return rows


def plateau_loss(record: Mapping, start: int = 100, stop: int = 200) -> float:
    """Mean of a run's stored training-loss curve over ``start <= step < stop`` (NaN if it has no point there).

    A run past the learning-rate cliff often does not diverge: it stalls for a hundred steps or more near
    the loss of a model that ignores its context, then recovers part of the way, so its final loss alone
    does not show it. The curve is the one :class:`gqa_mup_ref.train.RunResult` stores (thinned).
    """
    points = [loss for step, loss in record.get("loss_curve") or [] if start <= step < stop]
    return statistics.fmean(points) if points else math.nan


def is_collapsed(record: Mapping, threshold: float = 2.5, start: int = 100, stop: int = 200) -> bool:
    """Whether a non-diverged run stalled: :func:`plateau_loss` ``>= threshold`` nats.

    The defaults are chapter 5's decisive protocol (``results/ch05_decisive/protocol.md``): on the
    ``pydoc`` characters at d = 32 they separate the runs past the cliff (2.52–2.75) from every healthy or
    merely slow run (at most 2.50). Diverged runs are not collapsed (they are flagged as diverged).
    """
    if record.get("diverged"):
        return False
    return plateau_loss(record, start, stop) >= threshold


def multipliers_text(multipliers) -> str:
    """``{"value": 2.0, "key": 0.5}`` → ``"key=0.5,value=2"``; no multipliers → ``"none"``."""
    if not multipliers:
        return "none"
    pairs = multipliers.items() if isinstance(multipliers, Mapping) else multipliers
    return ",".join(f"{role}={factor:g}" for role, factor in sorted(pairs))


def _hashable(value: Any) -> Any:
    """Dicts (``lr_multipliers`` as a config holds it) as sorted pairs, so rows can be keyed by them."""
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _spread(values: Sequence[float]) -> dict:
    """``mean, sd, sem, n`` of finite values (sd and sem NaN below two values)."""
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    sd = statistics.stdev(values) if n > 1 else math.nan
    return {"mean": mean, "sd": sd, "sem": sd / math.sqrt(n) if n > 1 else math.nan, "n": n}


def seed_summary(rows: Sequence[Mapping], by: str | Sequence[str], metric: str = "val_loss"
                 ) -> list[dict]:
    """The seeds of each grid point reduced to ``mean``, ``sd``, ``sem``, ``n`` of ``metric``.

    Rows are grouped by the ``by`` columns (the grid point without its seed); diverged runs (NaN
    ``metric``) are left out of the statistics and counted in ``diverged``. One row per group,
    sorted by the ``by`` values (numbers by value).
    """
    by = (by,) if isinstance(by, str) else tuple(by)
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for values in sorted(groups, key=lambda t: tuple(_order(v) for v in t)):
        finite = [float(g[metric]) for g in groups[values] if _finite(g[metric])]
        out.append(dict(zip(by, values)) | _spread(finite)
                   | {"diverged": len(groups[values]) - len(finite)})
    return out


def paired_differences(rows: Sequence[Mapping], column: str, baseline: Any, other: Any,
                       by: str | Sequence[str] = ("lr",), metric: str = "val_loss",
                       ignore: Sequence[str] = ()) -> list[dict]:
    """Same-seed differences ``metric(other) − metric(baseline)`` between two values of ``column``.

    Each row with ``column == other`` is paired with the row with ``column == baseline`` that
    agrees on every other configuration column (seed included) except those in ``ignore`` (e.g.
    ``parameterization`` when comparing ``kv_factor`` values that imply it). The differences are
    grouped by ``by`` (e.g. the learning rate, or ``r``) and summarised as ``mean``, ``sd``,
    ``sem``, ``n`` (pairs with a NaN on either side are left out, counted in ``dropped``). Pairing
    cancels the part of the seed-to-seed noise both settings share, so a difference far smaller
    than either setting's seed spread can still be resolved.
    """
    from .config import RunConfig

    by = (by,) if isinstance(by, str) else tuple(by)
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    if column not in fields and not any(column in row for row in rows[:1]):
        raise ValueError(f"column={column!r} is not in the rows; use a configuration field")
    match = [f for f in fields if f != column and f not in ignore]

    def pair_key(row: Mapping) -> tuple:
        return tuple(_hashable(row.get(f)) for f in match)

    bases: dict[tuple, Mapping] = {}
    for row in rows:
        if row[column] == baseline:
            if (key := pair_key(row)) in bases:
                raise ValueError(f"two baseline rows ({column}={baseline!r}) share every other "
                                 f"field; take the column that tells them apart out of `ignore`")
            bases[key] = row
    groups: dict[tuple, list[float]] = {}
    dropped: dict[tuple, int] = {}
    for row in rows:
        if row[column] != other or (base := bases.get(pair_key(row))) is None:
            continue
        group = tuple(row[k] for k in by)
        if _finite(row[metric]) and _finite(base[metric]):
            groups.setdefault(group, []).append(float(row[metric]) - float(base[metric]))
        else:
            dropped[group] = dropped.get(group, 0) + 1
            groups.setdefault(group, [])
    if not groups:
        raise ValueError(f"no pairs: no row with {column}={other!r} has a same-seed partner with "
                         f"{column}={baseline!r} agreeing on the other fields")
    return [dict(zip(by, g)) | {column: f"{other} - {baseline}"} | _spread(groups[g])
            | {"dropped": dropped.get(g, 0)}
            for g in sorted(groups, key=lambda t: tuple(_order(v) for v in t))]


def format_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None,
                 digits: int = 4) -> str:
    """Rows as an aligned plain-text table (floats to ``digits`` significant digits)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.{digits}g}"
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(line, widths)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


HEADERS = {
    "log2_lr_star": "best log₂ LR", "log2_lr_std": "sd (octaves)", "loss_star": "loss at best",
    "n_seeds": "seeds", "at_edge": "at grid edge", "kv_factor": "K/V factor", "parameterization": "rule",
    "log2_mu_star": "best log₂ μ", "val_loss": "validation loss", "seeds_exclusion": "seeds to exclude",
    "power_8": "power, 8 seeds", "power_12": "power, 12 seeds", "mde_8": "MDE, 8 seeds",
    "mde_12": "MDE, 12 seeds", "n_pairs": "pairs",
}
"""Column names of the package's rows as :func:`markdown_table` shows them to a reader."""

_NUMBER_TEXT = re.compile(r"^[\[(]?\s*[<>≤≥≈~]?\s*[+\-−±]?\s*(\d|\.\d|nan$|inf$)")


def _numeric(value: Any) -> bool:
    """A number, or text that shows one (``"+0.25"``, ``"< 0.05"``, ``"1.2e-3 ± 4e-4"``, ``"nan"``, an interval
    ``"[-0.62, +0.17]"``): text that starts like a number (after an opening bracket), so ``"(1) …"`` counts
    too, which only right-aligns it."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_NUMBER_TEXT.match(value)))


INLINE_MATH = re.compile(r"(\$(?=[^\s$])[^$\n]*?(?<=[^\s\\])\$(?!\d))")
"""An inline-math span, as Pandoc and MyST's dollarmath read one: a ``$`` followed by a non-space, text on one
line, and a ``$`` after a non-space and not before a digit; so ``$W_Q$`` and ``$2^{-6}$`` are math, and
``costs $5 and $10`` is not. (Capturing: ``INLINE_MATH.split`` keeps the spans.)"""


def _escape_markdown(text: str) -> str:
    return "".join("\\" + ch if ch in "\\|*_`$" else ch for ch in text)


def markdown_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None, digits: int = 4) -> str:
    """Rows as a Markdown pipe table, cells formatted as in :func:`format_table` (floats to ``digits``
    significant digits, booleans as yes/no); columns of numbers (or of text that shows numbers; a dash or
    "n/a" for a missing value does not count) right-aligned; the package's column names shown as
    :data:`HEADERS` says. ``\\ | * _ ` $`` are escaped, so a cell shows as written, except inline math: text
    between two ``$`` (``"$W_Q$ random"``, ``"$2^{-6}$"``) is passed on as it is (only its ``|`` escaped, for
    the table; write a norm as ``\\lVert … \\rVert``) and MyST renders it as mathematics. A lone ``$`` is
    escaped."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, float):
            text = "nan" if math.isnan(value) else f"{value:.{digits}g}"
        else:
            text = "" if value is None else str(value)
        return "".join(part.replace("|", "\\|") if INLINE_MATH.fullmatch(part) else _escape_markdown(part)
                       for part in INLINE_MATH.split(text))

    def missing(value: Any) -> bool:  # a cell with no value does not make its column text
        return value is None or (isinstance(value, str) and value.strip().lower() in ("", "–", "—", "-", "n/a"))

    numeric = [all(_numeric(row.get(c)) for row in rows if not missing(row.get(c))) for c in columns]
    lines = ["| " + " | ".join(cell(HEADERS.get(c, c)) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def display_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None, digits: int = 4) -> None:
    """Show rows as a real table: in a notebook a Markdown output (:func:`markdown_table`), which the book
    renders as an HTML table; elsewhere the plain text of :func:`format_table`, printed."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(format_table(rows, columns, digits))
        return
    display(Markdown(markdown_table(rows, columns, digits)))


# ----------------------------------------------------------------------------- optimum finder


@dataclass(frozen=True)
class Optimum:
    """Best learning rate of one loss-vs-lr curve (or of several seeds of it).

    ``log2_lr`` is the vertex of a parabola fitted in ``log₂ lr`` around the argmin (the mean over
    seeds when there are several); ``log2_lr_std`` is the standard deviation over seeds, or over
    a residual bootstrap of the fit when there is one seed. ``at_edge`` is true when the smallest
    loss is at the first or last learning rate of the grid: the true optimum may lie outside it.
    """

    lr: float
    loss: float
    log2_lr: float
    log2_lr_std: float
    at_edge: bool
    message: str
    n_seeds: int = 1
    n_points: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fit_curve(x: list[float], y: list[float], window: int) -> tuple[float, float, bool, str, list]:
    """``(vertex x, loss, at_edge, message, (xs, ys) window)`` for one curve sorted by x."""
    i = min(range(len(y)), key=y.__getitem__)
    if i == 0 or i == len(y) - 1:
        side = "smallest" if i == 0 else "largest"
        hint = "lower" if i == 0 else "higher"
        return x[i], y[i], True, (
            f"at the edge of the grid: the lowest loss is at the {side} lr (2^{x[i]:.2f}); "
            f"extend the grid to {hint} learning rates"), []
    lo, hi = max(0, i - window), min(len(x), i + window + 1)
    xs, ys = x[lo:hi], y[lo:hi]
    vertex, loss, ok = _parabola_vertex(xs, ys)
    if not ok:
        return x[i], y[i], False, "parabola not convex around the argmin; used the grid argmin", []
    return vertex, loss, False, "parabola vertex", [xs, ys]


def _parabola_vertex(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, bool]:
    import numpy as np

    a, b, c = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 2)
    if not a > 0:
        return math.nan, math.nan, False
    vertex = float(np.clip(-b / (2 * a), min(xs), max(xs)))
    return vertex, float(a * vertex**2 + b * vertex + c), True


def _bootstrap_std(xs: list[float], ys: list[float], samples: int = 200, seed: int = 0) -> float:
    """Std of the vertex over a residual bootstrap of the parabola fit (0 with ≤ 3 points)."""
    import numpy as np

    if len(xs) <= 3:
        return 0.0
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    coeffs = np.polyfit(x, y, 2)
    fitted = np.polyval(coeffs, x)
    residuals = y - fitted
    rng = np.random.default_rng(seed)
    vertices = []
    for _ in range(samples):
        vertex, _, ok = _parabola_vertex(x, fitted + rng.choice(residuals, len(x)))
        if ok:
            vertices.append(vertex)
    return float(np.std(vertices)) if len(vertices) > 1 else math.nan


def find_optimum(lrs: Sequence[float], losses: Sequence[float],
                 seeds: Sequence[int] | None = None, window: int = 2) -> Optimum:
    """Fitted best learning rate of a loss-vs-lr curve; NaN/inf losses (diverged runs) are ignored.

    Fits ``loss ≈ a·x² + b·x + c`` with ``x = log₂ lr`` to the ``2·window + 1`` points around
    the argmin and returns the vertex ``x* = −b / 2a`` (clipped to those points). When the argmin is
    the first or last lr, returns it with ``at_edge=True`` and a message saying so. With ``seeds``
    (one per point), each seed's curve is fitted separately and ``log₂ lr*`` is their mean ± std.
    """
    if not len(lrs) == len(losses) or (seeds is not None and len(seeds) != len(lrs)):
        raise ValueError(f"lrs ({len(lrs)}), losses ({len(losses)}) and seeds must have equal lengths")
    seeds = list(seeds) if seeds is not None else [0] * len(lrs)
    curves: dict[int, dict[float, float]] = {}
    for lr, loss, seed in zip(lrs, losses, seeds):
        if not lr > 0:
            raise ValueError(f"lr={lr} must be positive")
        if loss is not None and math.isfinite(loss):
            curves.setdefault(seed, {})[math.log2(lr)] = float(loss)
    fits = []
    for seed in sorted(curves):
        x = sorted(curves[seed])
        if len(x) < 3:
            raise ValueError(
                f"seed {seed} has {len(x)} finite points; need at least 3 learning rates that did "
                "not diverge (widen the grid towards smaller lr)"
            )
        fits.append(_fit_curve(x, [curves[seed][v] for v in x], window))
    if not fits:
        raise ValueError("no finite losses: every run diverged; try smaller learning rates")
    log2s = [f[0] for f in fits]
    at_edge = any(f[2] for f in fits)
    if len(fits) > 1:
        spread = statistics.stdev(log2s)
    else:
        spread = _bootstrap_std(*fits[0][4]) if fits[0][4] else math.nan
    messages = sorted({f[3] for f in fits})
    message = next((m for m in messages if m.startswith("at the edge")), "; ".join(messages))
    log2_lr = statistics.fmean(log2s)
    return Optimum(
        lr=2.0**log2_lr,
        loss=statistics.fmean(f[1] for f in fits),
        log2_lr=log2_lr,
        log2_lr_std=spread,
        at_edge=at_edge,
        message=message,
        n_seeds=len(fits),
        n_points=sum(len(c) for c in curves.values()),
    )


def _order(value: Any) -> tuple:
    """Sort numbers by value, before anything else sorted by text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def optima(rows: Sequence[Mapping], by: str | Sequence[str] = ("parameterization",),
           metric: str = "val_loss", window: int = 2) -> list[dict]:
    """:func:`find_optimum` for each setting: rows grouped by the ``by`` columns, one result row each.

    Each returned row has the ``by`` values and ``lr_star``, ``log2_lr_star``, ``log2_lr_std``,
    ``loss_star``, ``at_edge``, ``message``, ``n_seeds``. A group with too few finite points gets
    NaNs and the reason in ``message`` instead of raising.
    """
    by = (by,) if isinstance(by, str) else tuple(by)  # one column, as plot_lr_curves takes it
    groups: dict[tuple, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for values in sorted(groups, key=lambda t: tuple(_order(v) for v in t)):
        group = groups[values]
        base = dict(zip(by, values))
        try:
            best = find_optimum([g["lr"] for g in group], [g[metric] for g in group],
                                [g.get("seed", 0) for g in group], window)
        except ValueError as error:
            out.append(base | {"lr_star": math.nan, "log2_lr_star": math.nan,
                               "log2_lr_std": math.nan, "loss_star": math.nan,
                               "at_edge": False, "message": str(error), "n_seeds": 0})
            continue
        out.append(base | {"lr_star": best.lr, "log2_lr_star": best.log2_lr,
                           "log2_lr_std": best.log2_lr_std, "loss_star": best.loss,
                           "at_edge": best.at_edge, "message": best.message,
                           "n_seeds": best.n_seeds})
    return out


# ----------------------------------------------------------------------------- what a sweep found

_NOT_SETTINGS = {"seed", "key", "lr", "log2_lr"}


def varied_columns(rows: Sequence[Mapping]) -> list[str]:
    """Configuration fields that take more than one value in ``rows`` (seed included), in field order."""
    from .config import RunConfig

    fields = [f.name for f in dataclasses.fields(RunConfig)]
    return [f for f in fields if len({repr(row.get(f)) for row in rows}) > 1]


def _plus_minus(mean: float, sd: float, digits: int) -> str:
    if not math.isfinite(mean):
        return "nan"
    return f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if math.isfinite(sd) else "")


def results_text(rows: Sequence[Mapping], metric: str = "val_loss", digits: int = 4) -> str:
    """What a sweep found, as text: ``metric`` per grid point (seeds as mean ± sd, sem, n) and the
    fitted optimum ``log₂ lr*`` ± its uncertainty for each setting (every varied field but lr and seed).

    The table of optima is left out when the learning rate takes fewer than three values.
    """
    if not rows:
        return "no stored runs"
    varied = varied_columns(rows)
    point = [c for c in varied if c not in ("seed", "lr")] + (["lr"] if "lr" in varied else [])
    lines = [f"{len(rows)} runs; {metric} per grid point over seeds (mean ± sd, sem, n; "
             "diverged runs not in the mean):"]
    table = []
    for s in seed_summary(rows, point or ["lr"], metric):
        shown = {k: s[k] for k in (point or ["lr"])}
        if "lr" in shown:  # grids are usually in powers of two: show the exponent next to the lr
            shown = {k: v for k, v in shown.items() if k != "lr"} | {
                "lr": f"{s['lr']:.4g}", "log2_lr": f"{math.log2(s['lr']):.2f}"}
        table.append(shown
                     | {metric: _plus_minus(s["mean"], s["sd"], digits),
                        "sem": s["sem"], "n": s["n"], "diverged": s["diverged"]})
    lines.append(format_table(table, digits=2))
    groups = [c for c in point if c not in _NOT_SETTINGS]
    if len({row["lr"] for row in rows}) >= 3:
        best = optima(rows, by=groups or ["parameterization"], metric=metric)
        lines.append("")
        lines.append("fitted optimum per setting (parabola in log₂ lr; ± is the sd over seeds, "
                     "or a bootstrap of the fit for one seed):")
        lines.append(format_table([
            {k: b[k] for k in (groups or ["parameterization"])}
            | {"log2_lr*": (f"{b['log2_lr_star']:.2f} (edge)" if b["at_edge"]
                            else _plus_minus(b["log2_lr_star"], b["log2_lr_std"], 2)),
               "lr*": b["lr_star"], f"{metric}*": b["loss_star"], "seeds": b["n_seeds"],
               "note": _short_note(b["message"])}
            for b in best], digits=digits))
    return "\n".join(lines)


def _short_note(message: str) -> str:
    if message == "parabola vertex":
        return ""
    if message.startswith("at the edge"):
        side = "higher" if "higher" in message else "lower"
        return f"best lr at the grid's edge: extend the grid to {side} lr"
    return message
