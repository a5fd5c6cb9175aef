"""Chapter 5's decisive figure (and chapter 6's family experiment): loss curves and the shift they decide.

One figure for an experiment analysed by :func:`gqa_mup_ref.decisive.analyse`. Its top panel shows the
validation loss against ``x = log₂ μ`` (the key+value LR multiplier) at each ``r``, one line per seed; its
bottom panel shows each seed's estimand, the same-seed shift of the best multiplier

    s = log₂ μ*(r_high) − log₂ μ*(r_low),

with the mean's 95 % interval beside the horizontal line each key/value factor ``f`` predicts,
``log₂ f(r_high) − log₂ f(r_low)`` (named, with its value, in the legend under the panel). It is drawn in the book's style (:func:`gqa_mup_ref.plots.book_style`)
and stays reachable as ``gqa_mup_ref.plots.plot_decisive``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

__all__ = ["plot_decisive"]


def plot_decisive(curves: Mapping[tuple[int, int], Sequence], analysis: Mapping, r_values: Sequence[int] = (1, 8),
                  names: Mapping[int, str] | None = None, estimand: str | None = None):
    """Chapter 5's decisive experiment (and chapter 6's family experiment) in two panels.

    Top: validation loss against ``log₂ μ`` (the key+value multiplier) at each ``r``, one thin line per
    seed and the seed mean thick; collapsed runs (``Point.collapsed``) hollow. Bottom: each seed's estimand
    (by default the shift ``s = log₂ μ*(r_high) − log₂ μ*(r_low)``; primary estimator of ``analysis``, from
    :func:`gqa_mup_ref.decisive.analyse`), its mean with the 95 % interval, and each hypothesis's prediction
    as a horizontal line. ``names`` labels each ``r`` (default ``"r = …"``; the family experiment names
    widths) and ``estimand`` is the bottom panel's axis label.
    """
    import matplotlib.pyplot as plt

    from .plots import COLUMN_INCHES, INVARIANT_COLORS, book_style

    primary = analysis["estimators"]["primary"]
    tests = primary["verdict"]["tests"]
    colors = {r: c for r, c in zip(r_values, ("#0072B2", "#D55E00", "#009E73"))}
    with plt.rc_context(book_style()):
        fig, (left, right) = plt.subplots(2, 1, figsize=(COLUMN_INCHES, 7.0), layout="constrained",
                                          gridspec_kw={"height_ratios": [1.3, 1]})
        for r in r_values:
            seeds = sorted(seed for (rr, seed) in curves if rr == r)
            xs = [p.x for p in curves[r, seeds[0]]]
            for seed in seeds:
                points = curves[r, seed]
                left.plot([p.x for p in points], [p.loss for p in points], "-", lw=0.6, alpha=0.35,
                          color=colors[r])
                for p in points:
                    if p.collapsed:
                        left.plot(p.x, p.loss, "o", ms=4, color=colors[r], mfc="white", alpha=0.8)
            means = [statistics.fmean(p.loss for seed in seeds for p in curves[r, seed] if p.x == x
                                      and math.isfinite(p.loss)) for x in xs]
            name = (names or {}).get(r, f"r = {r}")
            left.plot(xs, means, "o-", lw=2.2, color=colors[r], label=f"{name} (mean of {len(seeds)} seeds)")
        left.set_xlabel("log₂ μ (key+value LR multiplier)")
        left.set_ylabel("validation loss (nats)")
        left.legend(title="thin: one seed; hollow: collapsed run")
        values = [v["s"] for v in primary["per_seed"].values()]
        jitter = [0.08 * ((i % 5) - 2) for i in range(len(values))]
        right.plot(jitter, values, "o", color="black", ms=5, alpha=0.7, label="one seed")
        t = tests["none"]
        right.errorbar([0.45], [t["mean"]], yerr=[[t["mean"] - t["low"]], [t["high"] - t["mean"]]], fmt="s",
                       color="black", ms=7, capsize=4, label="mean, 95 % interval")
        for name, test in tests.items():  # in the legend, not as labels on the lines: those ran into the marks
            right.axhline(test["prediction"], color=INVARIANT_COLORS.get(name, "#7F7F7F"), lw=1.2, ls="--",
                          label=f"{name} predicts {test['prediction']:+.2f}")
        right.set_xlim(-0.4, 0.7)
        right.set_xticks([])
        right.set_ylabel(estimand or f"shift s = log₂ μ*(r={r_values[-1]})\n− log₂ μ*(r={r_values[0]})")
        right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncols=2, frameon=False)
    return fig
