"""Scaling a model family: the number of query heads grows with width, key/value heads and head dim do not.

Released model families are widened by adding query heads of a fixed head dimension ``d`` while the
number of key/value heads ``H_kv`` stays put. Then ``H = n/d`` and

    r = H / H_kv = n / (d·H_kv) = r₀·m,        m = n / n_base,  r₀ = n_base / (d·H_kv),

so the repetition grows *in proportion to the width multiplier*. At a fixed ``r`` the candidate
key/value factors ``f(r)`` of :data:`gqa_mup_ref.parameterization.KV_FACTORS` differ by constants; here
they differ by powers of ``m``. Every expression below is a rule of :mod:`gqa_mup_ref.parameterization`
(or a pattern of :func:`gqa_mup_ref.coordcheck.predicted_pattern`, which is built from those rules) with
``r → r₀·m``, ``d → d₀`` (fixed) and ``ρ = n_q/n → 1`` (``H·d = n``):

* the key/value Adam LR factor ``f(r₀m)/m``;
* the keys' own per-coordinate change per step, ``rms(ΔW_K x)/rms(W_K x) ∝ η_K·n / (σ_K·√n)``: a sign
  step moves ``W_K x`` by ``η_K·n`` per coordinate (aligned sum of ``n`` inputs), ``W_K x`` is
  ``σ_K√n``: ``∝ f(r₀m)``;
* chapter 2's three invariants, each against ``W_Q``: the per-coordinate change ``∝ f``, the spectral
  relative update ``∝ f/c(r)``, the first-order loss share ``∝ f/√r``.

:func:`exponent` is the power of ``m`` as ``m → ∞``, ``lim m·d(log e)/dm``; :func:`predicted_slope`
is the least-squares slope a measurement on a finite grid of widths should find (``c(r)`` is not a power
law at small ``r``). :func:`slopes_per_seed` is the estimator of the pre-registered transfer experiment
``results/ch06_family``: per seed, the least-squares slope of ``log₂ μ*`` on ``log₂ n``, with ``μ*``
found by :func:`gqa_mup_ref.decisive.seed_optimum`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import sympy

from .coordcheck import fit_slope, flatness, predicted_pattern
from .parameterization import KV_FACTORS, d as D, get_parameterization, m as M, m_L as M_L, r as R, rho as RHO

__all__ = [
    "FACTORS",
    "QUANTITIES",
    "INVARIANT_QUANTITIES",
    "family_shapes",
    "base_repetition",
    "expression",
    "exponent",
    "exponent_table",
    "picks",
    "predicted_slope",
    "predicted_multiplier_slope",
    "slopes_per_seed",
    "EXPERIMENT_FILES",
    "EXPERIMENT_WIDTHS",
    "EXPERIMENT_UNDERPOWERED_SD",
    "experiment_repetitions",
    "load_experiment",
    "analyse_experiment",
    "experiment_verdict",
    "measured_slopes",
    "PANELS",
    "plot_family",
]

FACTORS = ("inv-sqrt-r", "none", "gqa", "sqrt-r")
"""The candidate key/value factors compared (chapter 5's hypotheses), smallest to largest."""

QUANTITIES: dict[tuple[str, str], str] = {
    ("kv_lr", "key"): "key/value Adam LR factor f(r)/m",
    ("own_change", "key"): "keys' own per-coordinate change per step, rms(ΔW_K x)/rms(W_K x)",
    ("own_change", "query"): "queries' own per-coordinate change per step",
    ("dw_norm", "key"): "natural spectral norm of ΔW_K (∝ η_K·n_in)",
    ("dw_norm", "query"): "natural spectral norm of ΔW_Q",
    ("act_rms", "query"): "rms(q) at init, σ_Q·√n",
    ("act_rms", "key"): "rms(k) at init, σ_K·√n",
    ("act_rms", "attn_logits"): "attention logits at init: q·k over d coordinates (√d) times 1/d",
    ("act_rms", "unembedding"): "output logits at init: σ·√n times the 1/m multiplier",
    ("own_change_vs_query", "key"): "per-coordinate change Δk/k ÷ Δq/q",
    ("rel_update_vs_query", "key⊕"): "spectral relative update ‖ΔK⊕‖/‖K⊕‖ ÷ W_Q's",
    ("loss_share_vs_query", "key"): "first-order loss share ⟨∇W_K,ΔW_K⟩ ÷ W_Q's (step 1)",
    ("norm_vs_query", "key⊕"): "‖K⊕‖ ÷ ‖W_Q‖ at init, c(r)",
}
"""``(quantity, role) -> meaning`` of every family prediction (names as in :mod:`gqa_mup_ref.coordcheck`)."""

INVARIANT_QUANTITIES = {"coordinate": ("own_change_vs_query", "key"),
                        "spectral": ("rel_update_vs_query", "key⊕"),
                        "loss": ("loss_share_vs_query", "key")}
"""Chapter 2's three invariants (:data:`gqa_mup_ref.kv_invariants.INVARIANTS`) as coordinate-check quantities."""


def family_shapes(widths: Sequence[int], head_dim: int = 16, n_kv_head: int = 1) -> list[dict]:
    """``{"width", "n_head", "n_kv_head"}`` per width: ``H = n/d`` query heads of dimension ``head_dim``."""
    out = []
    for width in widths:
        if width % (head_dim * n_kv_head):
            raise ValueError(f"width={width} is not a multiple of head_dim·n_kv_head = {head_dim * n_kv_head}; "
                             "choose widths that are")
        out.append({"width": width, "n_head": width // head_dim, "n_kv_head": n_kv_head})
    return out


def base_repetition(base_width: int, head_dim: int = 16, n_kv_head: int = 1) -> sympy.Rational:
    """``r₀ = n_base / (d·H_kv)``, the repetition of the proxy (``r = r₀·m`` along the family)."""
    return sympy.Rational(base_width, head_dim * n_kv_head)


def _rules(factor: str):
    if factor not in KV_FACTORS:
        raise ValueError(f"unknown kv_factor={factor!r}; choose one of {', '.join(KV_FACTORS)}")
    return get_parameterization("mup", kv_factor=factor).symbolic()


def expression(factor: str, quantity: str, role: str, r0=4, head_dim=16) -> sympy.Expr:
    """``quantity`` of ``role`` along the family as an expression in ``m`` (up to a constant).

    Built from the rules of ``mup`` with key/value factor ``factor`` (``r → r0·m``, ``d → head_dim``,
    ``ρ → 1``, ``m_L → 1``); see the module docstring for each formula.
    """
    if (quantity, role) not in QUANTITIES:
        known = ", ".join(f"{q}/{o}" for q, o in QUANTITIES)
        raise ValueError(f"no family prediction for {quantity}/{role}; known: {known}")
    along = {R: sympy.nsimplify(r0) * M, D: sympy.nsimplify(head_dim), RHO: 1, M_L: 1}
    if quantity.endswith("_vs_query"):
        return sympy.simplify(predicted_pattern(factor, quantity, role).subs(along))
    rules, attention, _ = _rules(factor)

    def rule(name: str):
        return {f: sympy.sympify(getattr(rules[name], f)).subs(along)
                for f in ("init_std", "lr_factor", "multiplier")}

    def act(name: str) -> sympy.Expr:  # Θ(1)-entry input of fan-in n: σ·√n times the multiplier
        g = rule(name)
        return g["init_std"] * sympy.sqrt(M) * g["multiplier"]

    if quantity == "kv_lr":
        return rule(role)["lr_factor"]
    if quantity == "dw_norm":  # a sign-like step has natural spectral norm ∝ η·n_in
        return rule(role)["lr_factor"] * M
    if quantity == "own_change":  # η·n per coordinate over σ·√n
        g = rule(role)
        return sympy.simplify(g["lr_factor"] * M / (g["init_std"] * sympy.sqrt(M)))
    if role == "attn_logits":  # √d independent products of q and k, times the attention scale
        return sympy.simplify(act("query") * act("key") * sympy.sqrt(D) * attention).subs(along)
    return act(role)


def exponent(factor: str, quantity: str, role: str) -> sympy.Expr:
    """The power of ``m`` of :func:`expression` as ``m → ∞``: ``lim m·d(log e)/dm`` (exact, sympy).

    The limit does not depend on the proxy's ``r₀`` (``c(r₀m) ~ √(r₀m)/2``), so the default ``r₀ = 4`` is used.
    """
    expr = expression(factor, quantity, role)
    return sympy.limit(sympy.simplify(M * sympy.diff(sympy.log(expr), M)), M, sympy.oo)


def exponent_table(factors: Sequence[str] = FACTORS) -> list[dict]:
    """Per factor: the exponents in ``m`` of the key/value LR, of the keys' per-coordinate change per step and
    of the three invariants (``coordinate``, ``spectral``, ``loss``), as sympy rationals."""
    rows = []
    for factor in factors:
        row = {"factor": factor, "kv_lr": exponent(factor, "kv_lr", "key"),
               "key_change": exponent(factor, "own_change", "key")}
        row |= {name: exponent(factor, *qr) for name, qr in INVARIANT_QUANTITIES.items()}
        rows.append(row)
    return rows


def picks(factors: Sequence[str] = FACTORS) -> dict[str, list[str]]:
    """Invariant -> the factors that keep it flat along the family (exponent 0)."""
    table = exponent_table(factors)
    return {name: [row["factor"] for row in table if row[name] == 0] for name in INVARIANT_QUANTITIES}


def predicted_slope(factor: str, quantity: str, role: str, widths: Sequence[int], base_width: int,
                    head_dim: int = 16, n_kv_head: int = 1) -> float:
    """Least-squares slope of ``log`` :func:`expression` against ``log width`` over ``widths``
    (what :func:`gqa_mup_ref.coordcheck.flatness` fits to a measurement on the same grid)."""
    r0 = base_repetition(base_width, head_dim, n_kv_head)
    expr = expression(factor, quantity, role, r0=r0, head_dim=head_dim)
    values = [float(expr.subs(M, sympy.Rational(w, base_width))) for w in widths]
    return fit_slope(list(widths), values)


def predicted_multiplier_slope(factor: str, widths: Sequence[int], head_dim: int = 16,
                               n_kv_head: int = 1) -> float:
    """Slope of ``log₂ μ*`` against ``log₂ n`` that ``factor`` predicts for a key+value multiplier ``μ``
    scanned on top of plain μP: if ``f`` is right, the best ``μ`` is ``f(r)`` up to a constant, so the
    slope is the least-squares slope of ``log₂ f(r(n))`` over ``widths`` (with ``r = n/(d·H_kv)``)."""
    if factor not in KV_FACTORS:
        raise ValueError(f"unknown kv_factor={factor!r}; choose one of {', '.join(KV_FACTORS)}")
    rs = [s["n_head"] // s["n_kv_head"] for s in family_shapes(widths, head_dim, n_kv_head)]
    expr = KV_FACTORS[factor][0].subs(RHO, 1)
    return fit_slope(list(widths), [float(expr.subs(R, rv)) for rv in rs])


def slopes_per_seed(curves: Mapping[tuple[int, int], Sequence], widths_of_r: Mapping[int, int],
                    estimator: str = "primary") -> dict[int, dict]:
    """Per seed: the least-squares slope of ``log₂ μ*`` on ``log₂ n`` over the widths it has.

    ``curves`` is :func:`gqa_mup_ref.decisive.curves_from_records` (``{(r, seed): points}``; along a
    family ``r`` names the width), ``widths_of_r`` maps ``r`` to the width. Each ``μ*`` is
    :func:`gqa_mup_ref.decisive.seed_optimum` with ``estimator``. A seed is kept only when every width
    has a usable optimum; ``censored`` counts the optima at a grid edge.
    """
    from .decisive import seed_optimum

    out = {}
    for seed in sorted({s for _, s in curves}):
        optima = {}
        for r_value, width in sorted(widths_of_r.items(), key=lambda kv: kv[1]):
            if (r_value, seed) not in curves:
                break
            try:
                optima[width] = seed_optimum(curves[(r_value, seed)], estimator)
            except ValueError:
                break
        if len(optima) != len(widths_of_r):
            continue
        xs = [math.log2(w) for w in optima]
        ys = [o["x"] for o in optima.values()]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
                 / sum((x - mean_x) ** 2 for x in xs))
        out[seed] = {"slope": slope, "optima": {w: o["x"] for w, o in optima.items()},
                     "censored": sum(o["censored"] is not None for o in optima.values())}
    return out


# ----------------------------------------------------------------------------- the transfer experiment

EXPERIMENT_FILES = ("sweep.toml", "sweep_edge_low.toml", "sweep_edge_high.toml", "sweep_more_seeds.toml",
                    "sweep_more_seeds_edge_high.toml", "sweep_more_seeds_edge_low.toml")
"""The pre-registered model-family experiment's sweep files (``results/ch06_family``): the planned stage 1
first, then the contingent edge and seed extensions (used where they have stored runs; the last two are
amendments 3 and 4's: the added seeds on the grid the edge rule gave the others)."""

EXPERIMENT_UNDERPOWERED_SD = 0.415
"""The protocol's limit on the 12-seed per-seed sd of the slope: above it the report calls the experiment
underpowered for the 0.368-octave gap (pass it to :func:`gqa_mup_ref.decisive.report_markdown`)."""

EXPERIMENT_WIDTHS = (64, 256)
"""Its two widths: one key/value head of dimension 16, so ``r = 4`` and ``r = 16``."""


def experiment_repetitions(widths: Sequence[int] = EXPERIMENT_WIDTHS, head_dim: int = 16,
                           n_kv_head: int = 1) -> dict[int, int]:
    """``{width: r}`` along the family (``r = n / (d·H_kv)``, from :func:`family_shapes`)."""
    return {s["width"]: s["n_head"] // s["n_kv_head"] for s in family_shapes(widths, head_dim, n_kv_head)}


def load_experiment(folder) -> tuple[dict, dict[int, int]]:
    """The experiment's stored curves ``{(r, seed): points}`` and the missing runs per seed
    (:func:`gqa_mup_ref.decisive.load_stage1` over :data:`EXPERIMENT_FILES`)."""
    from .decisive import load_stage1

    return load_stage1(folder, EXPERIMENT_FILES)


def analyse_experiment(curves: Mapping, missing: Mapping[int, int] | None = None,
                       widths: Sequence[int] = EXPERIMENT_WIDTHS) -> dict:
    """The protocol's analysis (:func:`gqa_mup_ref.decisive.analyse`) with the per-seed estimand

    .. math:: b = \\frac{\\log_2 \\mu^*(n_2) - \\log_2 \\mu^*(n_1)}{\\log_2 (n_2 / n_1)},

    the slope of the best key+value multiplier per doubling of width, tested against each factor's
    :func:`predicted_multiplier_slope`. Raises ``ValueError`` while a seed is incomplete."""
    from .decisive import analyse

    low, high = widths
    return analyse(curves, missing, scale=1 / math.log2(high / low), **_verdict_arguments(widths))


def experiment_verdict(slopes: Sequence[float], widths: Sequence[int] = EXPERIMENT_WIDTHS) -> dict:
    """The protocol's tests and decision-rule case (:func:`gqa_mup_ref.decisive.verdict`) for per-seed
    slopes given directly (e.g. a descriptive subset of the seeds)."""
    from .decisive import verdict

    return verdict(list(slopes), **_verdict_arguments(widths))


def _verdict_arguments(widths: Sequence[int]) -> dict:
    from .decisive import HYPOTHESES, SLOPE

    r_of = experiment_repetitions(widths)
    return {"r_low": r_of[widths[0]], "r_high": r_of[widths[-1]], "estimand": SLOPE,
            "predicted": {f: predicted_multiplier_slope(f, widths) for f in HYPOTHESES}}


# ----------------------------------------------------------------------------- the coordinate check


def measured_slopes(rows: Sequence[Mapping]) -> dict[tuple, list[float]]:
    """``(variant, quantity, role, step) -> [slope of seed 0, seed 1, …]`` against ``log width``.

    ``rows`` are :func:`gqa_mup_ref.coordcheck.coord_check` rows over a family; each seed is fitted
    alone (:func:`gqa_mup_ref.coordcheck.flatness`, layers of a role pooled), so the spread over seeds
    measures the check's own noise.
    """
    out: dict[tuple, list[float]] = {}
    for seed in sorted({row["seed"] for row in rows}):
        for s in flatness([row for row in rows if row["seed"] == seed], group="role", against="width"):
            out.setdefault((s["variant"], s["quantity"], s["role"], s["step"]), []).append(s["slope"])
    return out


PANELS = (("own_change", "key", 1, "keys' own change Δk/k"),
          ("own_change_vs_query", "key", 1, "Δk/k ÷ Δq/q"),
          ("rel_update_vs_query", "key⊕", 1, r"$\|\Delta K_\oplus\|/\|K_\oplus\|$ ÷ $W_Q$'s"),
          ("loss_share_vs_query", "key", 1, "loss share ÷ $W_Q$'s"))
"""Panels of :func:`plot_family`: ``(quantity, role, step, title)``, the title in mathtext: the keys' own
change, it over the queries', the spectral relative update of ``K⊕`` over ``W_Q``'s and the loss share over
``W_Q``'s, each after step 1.

:meta hide-value:
"""


def plot_family(rows: Sequence[Mapping], factors: Sequence[str], base_width: int, head_dim: int = 16,
                n_kv_head: int = 1, panels=PANELS):
    """Measured quantities along the family (dots: geometric mean over layers and seeds, relative to the
    smallest width) beside the predicted :func:`expression` (lines, same colour), against width."""
    import matplotlib.pyplot as plt

    from .plots import PALETTE, book_style

    widths = sorted({row["width"] for row in rows})
    r0 = base_repetition(base_width, head_dim, n_kv_head)
    with plt.rc_context(book_style()):
        cols = 2
        rows_ = math.ceil(len(panels) / cols)
        fig, grid = plt.subplots(rows_, cols, figsize=(6.4, 2.7 * rows_), layout="constrained", squeeze=False)
        axes = grid.ravel()
        for ax, (quantity, role, step, title) in zip(axes, panels):
            for i, factor in enumerate(factors):
                logs: dict[int, list[float]] = {}
                for row in rows:
                    if ((row["variant"], row["quantity"], row["role"], row["step"]) == (factor, quantity, role, step)
                            and row["value"] > 0):
                        logs.setdefault(row["width"], []).append(math.log(row["value"]))
                mean = {w: sum(v) / len(v) for w, v in logs.items()}
                expr = expression(factor, quantity, role, r0=r0, head_dim=head_dim)
                pred = [float(expr.subs(M, sympy.Rational(w, base_width))) for w in widths]
                color = PALETTE[i % len(PALETTE)]
                ax.plot(widths, [p / pred[0] for p in pred], "-", lw=1, color=color, alpha=0.6)
                ax.plot(widths, [math.exp(mean[w] - mean[widths[0]]) for w in widths], "o", ms=4,
                        color=color, label=factor)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_xticks(widths, [str(w) for w in widths])
            ax.set_title(f"{title}, step {step}", fontsize=10)
            ax.set_xlabel(f"width n (r = n/{head_dim * n_kv_head})")
        for ax in grid[:, 0]:
            ax.set_ylabel(f"÷ value at n = {widths[0]}")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(factors), fontsize=9,
                   title="key/value factor (dots: measured, lines: predicted)", title_fontsize=9)
    return fig
