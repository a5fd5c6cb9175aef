"""The coordinate check: how do activations and updates change with width, depth and r?

μP's standard instrument (Yang et al., Tensor Programs V), extended for grouped-query attention.
For each model of a family that differs in one quantity (width, depth, number of KV heads, …) we
train ``k`` steps of AdamW at the parameterization's learning rates and record, per layer and step, the
quantities of :mod:`gqa_mup_ref.coord_quantities` (:data:`~gqa_mup_ref.coord_quantities.QUANTITIES`):
activation sizes (``act_rms``, ``dact_rms``, ``own_change``), norms of the weights and their updates
(``w_norm``, ``dw_norm``, ``rel_update``), and for keys and values, also as the repeated operators
``K⊕``, ``V⊕`` that attention applies, the invariants of Chapter 2 against the same block's ``W_Q``
(:data:`~gqa_mup_ref.coord_quantities.KV_QUANTITIES`).

**What is expected to be flat.** Not every quantity is flat under a parameterization that
transfers, and not every parameterization keeps the same quantities flat. :func:`predicted_pattern`
computes, from the rules in :mod:`gqa_mup_ref.parameterization`, how each quantity should depend
on ``r`` under each key/value rule: activation sizes at initialisation are flat in ``r`` under every
rule (random inputs feel ``K⊕``'s typical gain, which repetition does not change); plain μP
(``none``) keeps the per-coordinate change flat, GQA-μP (``gqa``) the spectral relative update and
``sqrt-r`` the first-order loss share, while ``‖K⊕‖`` grows like ``c(r)`` under all three. Over width
at fixed ``r`` (:func:`predicted_width_slope`), μP and GQA-μP keep every hidden activation and update
size flat, except the attention and output logits at initialisation, which they make vanish like
``1/√n``; under SP activations grow like ``√n`` or ``n`` and updates like ``n``. :func:`flatness` and
:func:`fit_slope` fit the log-log slopes that are compared with these predictions.

Training uses the run's learning rates at full strength from the first step (no warm-up, no
clipping), so that the first steps are the ones the check looks at.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy
import torch

# What is measured on one model lives in gqa_mup_ref.coord_quantities; its public names stay reachable here.
from .coord_quantities import (  # noqa: F401
    KV_QUANTITIES,
    QUANTITIES,
    QUANTITY_NAMES,
    layer_role,
    measure_quantities,
    zero_queries,
)
from .parameterization import KV_FACTORS, get_parameterization, kv_factor_value
from .parameterization import d as D_SYMBOL, m as M_SYMBOL, r as R_SYMBOL, rho as RHO_SYMBOL
from .spectral import kv_repetition_factor
from .train import RunConfig

__all__ = [
    "QUANTITIES",
    "KV_QUANTITIES",
    "KV_RULES",
    "coord_check",
    "flatness",
    "fit_slope",
    "layer_role",
    "predicted_pattern",
    "pattern_label",
    "predicted_slope",
    "expected_patterns",
    "predicted_width_slope",
    "normalized_kv",
    "kv_panel_title",
    "ROLE_NAMES",
    "quantity_name",
    "role_name",
    "plot_kv_patterns",
    "kv_heads_view",
    "prediction_rule",
    "zero_queries",
]


KV_RULES: dict[str, tuple[str, str]] = {
    "none": ("none", "rule"),
    "gqa": ("gqa", "rule"),
    "alt": ("alt", "rule"),
    "sqrt-r": ("sqrt-r", "rule"),
    "early": ("inv-sqrt-r", "shrink"),
}
"""Candidate key/value rules of Chapter 4: ``name -> (kv_factor for the LR, key/value init)``.

``"rule"``: keys and values initialised like every hidden matrix; ``"shrink"``: their init std
multiplied by ``1/(1 + √r)`` (the GQA-μP authors' early rule, emulated by
:func:`gqa_mup_ref.equivalent_forms.shrink_kv_init` on top of the ``inv-sqrt-r`` LR factor).
"""


def coord_check(
    base: RunConfig,
    vary: str,
    values: Sequence[Any],
    steps: int = 4,
    seeds: Sequence[int] = (0,),
    batch_seed: int = 1234,
    prepare: Callable[[torch.nn.Module], None] | None = None,
    label: str | None = None,
) -> list[dict]:
    """Tidy rows of the coordinate check of ``base`` with field ``vary`` set to each of ``values``.

    A value may be a dict of several fields (e.g. ``{"width": 256, "n_head": 8}``); its ``vary``
    entry is the row's ``x``. Each model is built by :func:`gqa_mup_ref.train.build`, so every scale
    comes from the parameterization; ``prepare(model)``, if given, may then change the initial
    weights in place (e.g. :func:`gqa_mup_ref.equivalent_forms.shrink_kv_init`), and ``label``
    names such a variant in the rows (default: the key/value factor). Rows: ``vary, x,
    parameterization, kv_factor, variant, width, depth, n_head, n_kv_head, r, seed, step, layer,
    role, quantity, value`` for steps ``0…steps`` (update quantities from step 1).

    Warns (``RuntimeWarning``) when a model's query weights are zero at initialisation: the keys'
    first gradient is then exactly zero, and the key/value ratios of step 1 mean nothing.
    """
    if steps < 1:
        raise ValueError(f"steps={steps} must be a positive integer (4 is customary)")
    if vary not in {f.name for f in dataclasses.fields(RunConfig)}:
        raise ValueError(f"vary={vary!r} is not a RunConfig field; use e.g. 'width', 'depth', 'n_kv_head'")
    rows: list[dict] = []
    for value in values:
        changes = dict(value) if isinstance(value, Mapping) else {vary: value}
        if vary not in changes:
            raise ValueError(f"value {value!r} does not set {vary!r}; include it in the dict")
        for seed in seeds:
            config = dataclasses.replace(base, seed=seed, **changes)
            rows.extend(measure_quantities(config, vary, changes[vary], steps, batch_seed, prepare, label))
    return rows


def flatness(rows: Sequence[Mapping], group: str = "layer", against: str = "x") -> list[dict]:
    """Fitted slope of ``log value`` against ``log x`` per (parameterization, layer, quantity, step).

    ``value ∝ x^slope``: a slope near 0 means the quantity does not change with ``x``; under SP,
    hidden updates grow about linearly in width (slope ≈ 1). ``group="role"`` first pools the
    layers of one role (RMS over blocks), which compares models of different depths. ``against``
    names the row field used as ``x`` (e.g. ``"r"`` when the family varies ``n_kv_head``).
    Rows of different ``variant`` (see :func:`coord_check`) are fitted separately. Non-positive
    values are skipped; returned rows hold ``parameterization, kv_factor, variant, layer (or
    role), role, quantity, step, slope, n_points, ratio`` where ``ratio`` is the value at the
    largest ``x`` over that at the smallest.
    """
    if group not in ("layer", "role"):
        raise ValueError(f"group={group!r}; choose 'layer' or 'role'")
    if rows and against not in rows[0]:
        raise ValueError(f"against={against!r} is not a row field; use 'x', 'r', 'width', …")
    pooled: dict[tuple, list[float]] = {}
    role_of: dict[str, str] = {}
    for row in rows:
        name = row[group]
        role_of[name] = row["role"]
        key = (row["parameterization"], row["kv_factor"], row.get("variant", row["kv_factor"]),
               name, row["quantity"], row["step"], row[against], row["seed"])
        pooled.setdefault(key, []).append(float(row["value"]))
    series: dict[tuple, list[tuple[float, float]]] = {}
    for (param, kv, variant, name, quantity, step, x, _), vals in pooled.items():
        value = math.sqrt(sum(v * v for v in vals) / len(vals))
        if value > 0 and math.isfinite(value) and float(x) > 0:
            series.setdefault((param, kv, variant, name, quantity, step), []).append(
                (math.log(float(x)), math.log(value)))
    out = []
    for (param, kv, variant, name, quantity, step), points in sorted(series.items(), key=str):
        xs = sorted({p[0] for p in points})
        if len(xs) < 2:
            continue
        slope = _slope(points)
        mean_at = {x: sum(v for u, v in points if u == x) / sum(u == x for u, _ in points)
                   for x in xs}
        out.append({"parameterization": param, "kv_factor": kv, "variant": variant, group: name,
                    "role": role_of[name], "quantity": quantity, "step": step, "slope": slope,
                    "n_points": len(points), "ratio": math.exp(mean_at[xs[-1]] - mean_at[xs[0]])})
    return out


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` on ``log x``: ``y ∝ x^slope``. Needs two distinct ``x``."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values; pass one y per x")
    bad = [(x, y) for x, y in zip(xs, ys) if not (x > 0 and y > 0 and math.isfinite(y))]
    if bad:
        raise ValueError(f"log-log fit needs positive finite values, got (x, y) = {bad[0]}")
    if len(set(xs)) < 2:
        raise ValueError(f"x = {list(xs)}: a slope needs at least two distinct x values")
    return _slope([(math.log(x), math.log(y)) for x, y in zip(xs, ys)])


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``v`` on ``u`` for points ``(u, v)``."""
    n = len(points)
    mu = sum(p[0] for p in points) / n
    mv = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mu) ** 2 for p in points)
    sxy = sum((p[0] - mu) * (p[1] - mv) for p in points)
    return sxy / sxx


# ----------------------------------------------------------------------------- predictions in r

# How each quantity depends on the key/value rule, as exponents of four factors of r:
#   f = the rule's LR factor (KV_FACTORS), c = ‖K⊕‖ over a dense matrix (kv_repetition_factor),
#   s = the key/value init scale (1, or 1/(1+√r) for the early rule), and r itself.
# Derivation (Chapter 4): an Adam step moves each entry of W_K by ±η·f, so Δk per coordinate
# ∝ f while k ∝ s (typical gain of K⊕ = the dense one); ‖ΔK⊕‖ = √r‖ΔW_K‖ ∝ f·n (the dense size)
# while ‖K⊕‖ ∝ c·s; ⟨∇W, ΔW⟩ = −η_W·‖∇W‖₁ for a sign step, ‖∇W_K‖₁ ∝ n²/√r (r nearly independent
# head gradients summed into n/r rows), and the gradients scale with the other attention factors:
# ∇W_Q ∝ k·v ∝ s², ∇W_K ∝ q·v ∝ s, ∇W_V ∝ attention weights (no s). Loss shares are step-1 predictions.
_EXPONENTS: dict[tuple[str, str], dict[str, sympy.Rational]] = {
    ("act_rms", "query"): {},
    ("act_rms", "key"): {"s": 1},
    ("act_rms", "value"): {"s": 1},
    ("act_rms", "attn_logits"): {"s": 1},
    ("act_rms", "attn_out"): {"s": 1},
    ("act_rms", "unembedding"): {},
    ("own_change_vs_query", "key"): {"f": 1, "s": -1},
    ("own_change_vs_query", "value"): {"f": 1, "s": -1},
    ("rel_update_vs_query", "key⊕"): {"f": 1, "c": -1, "s": -1},
    ("rel_update_vs_query", "value⊕"): {"f": 1, "c": -1, "s": -1},
    ("norm_vs_query", "key⊕"): {"c": 1, "s": 1},
    ("norm_vs_query", "value⊕"): {"c": 1, "s": 1},
    ("loss_share_vs_query", "key"): {"f": 1, "r": sympy.Rational(-1, 2), "s": -1},
    ("loss_share_vs_query", "value"): {"f": 1, "r": sympy.Rational(-1, 2), "s": -2},
}


def _kv_rule(rule: str) -> tuple[str, str]:
    """A rule of ``KV_RULES``, or any factor of ``KV_FACTORS`` with the hidden init (e.g. ``inv-sqrt-r``)."""
    if rule in KV_RULES:
        return KV_RULES[rule]
    if rule in KV_FACTORS:
        return rule, "rule"
    raise ValueError(f"unknown key/value rule {rule!r}; choose one of "
                     f"{', '.join(dict.fromkeys([*KV_RULES, *KV_FACTORS]))}")


def predicted_pattern(rule: str, quantity: str, role: str, query_ratio: float = 1) -> sympy.Expr:
    """How ``quantity`` of ``role`` depends on ``r`` under key/value ``rule``, normalised to 1 at r = 1.

    A ``sympy`` expression in the symbol ``r`` of :mod:`gqa_mup_ref.parameterization` (``1`` means
    flat), built from the rule's LR factor (``KV_FACTORS``) and the repeated operator's norm excess
    (:func:`gqa_mup_ref.spectral.kv_repetition_factor`) at ``ρ = query_ratio``. Activation sizes
    are predicted at initialisation; the update quantities for the first steps.
    """
    factor_name, init = _kv_rule(rule)
    if (quantity, role) not in _EXPONENTS:
        known = ", ".join(f"{q}/{r}" for q, r in _EXPONENTS)
        raise ValueError(f"no prediction for quantity={quantity!r}, role={role!r}; known: {known}")
    rho_value = sympy.nsimplify(query_ratio)
    c = kv_repetition_factor(R_SYMBOL, RHO_SYMBOL).subs(RHO_SYMBOL, rho_value)
    f = KV_FACTORS[factor_name][0].subs(RHO_SYMBOL, rho_value)
    s = 1 / (1 + sympy.sqrt(R_SYMBOL)) if init == "shrink" else sympy.Integer(1)
    e = _EXPONENTS[quantity, role]
    expr = f ** e.get("f", 0) * c ** e.get("c", 0) * s ** e.get("s", 0) * R_SYMBOL ** e.get("r", 0)
    return sympy.simplify(expr / expr.subs(R_SYMBOL, 1))


def pattern_label(expr: sympy.Expr) -> str:
    """``flat`` or ``∝ …`` for a pattern of :func:`predicted_pattern`, in plain text: ``√r``, ``·`` and integer
    powers as superscripts, ``"∝ (√r + 1)²/(4·r)"``."""
    expr = sympy.simplify(expr)
    if expr == 1:
        return "flat"
    text = sympy.sstr(sympy.factor(expr)).replace("sqrt(r)", "√r")
    text = re.sub(r"\*\*(?:\((-?\d+)\)|(-?\d+))",  # integer powers only: r**(3/2) stays r^(3/2)
                  lambda power: (power[1] or power[2]).translate(_SUPERSCRIPTS), text)
    return f"∝ {text.replace('**', '^').replace('*', '·')}"


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def predicted_slope(rule: str, quantity: str, role: str, rs: Sequence[int], query_ratio: float = 1) -> float:
    """The slope against ``log r`` that :func:`fit_slope` would fit to the predicted pattern over ``rs``.

    Patterns such as ``(1 + √r)/2`` are not power laws; fitting the prediction on the same grid
    as the measurement makes the two slopes comparable.
    """
    expr = predicted_pattern(rule, quantity, role, query_ratio)
    values = [float(expr.subs(R_SYMBOL, rv)) for rv in rs]
    return fit_slope(list(rs), values)


def expected_patterns(rules: Sequence[str] = tuple(KV_RULES), rs: Sequence[int] = (1, 2, 4, 8, 16),
                      query_ratio: float = 1) -> list[dict]:
    """One row per (quantity, role, rule): the predicted pattern, its label and its slope over ``rs``.

    Also ``values``: the pattern at each ``r`` (1 at ``r = 1``) and ``factor``: the rule's LR
    factor at each ``r`` (from :func:`gqa_mup_ref.parameterization.kv_factor_value`).
    """
    out = []
    for (quantity, role) in _EXPONENTS:
        for rule in rules:
            expr = predicted_pattern(rule, quantity, role, query_ratio)
            out.append({
                "quantity": quantity, "role": role, "rule": rule, "pattern": pattern_label(expr),
                "slope": predicted_slope(rule, quantity, role, rs, query_ratio),
                "values": [float(expr.subs(R_SYMBOL, rv)) for rv in rs],
                "factor": [kv_factor_value(_kv_rule(rule)[0], rv, query_ratio) for rv in rs],
            })
    return out


# ----------------------------------------------------------------------------- predictions in width


def _m_exponent(expr) -> float:
    """Exponent of ``m`` in a rule (head dim ``d ∝ m`` at a fixed number of heads)."""
    expr = sympy.sympify(expr).subs(D_SYMBOL, M_SYMBOL)
    slope = sympy.simplify(M_SYMBOL * sympy.diff(sympy.log(expr), M_SYMBOL))
    if slope.free_symbols & {M_SYMBOL}:
        raise ValueError(f"{expr} is not a power of the width multiplier")
    return float(slope)


WIDTH_PREDICTIONS = {
    ("act_rms", "query"): r"step 0: the input LN(x) has Θ(1) entries, so $q \propto \sigma_Q\sqrt{n}$",
    ("act_rms", "key"): r"step 0: $k \propto \sigma_K\sqrt{n}$",
    ("act_rms", "value"): r"step 0: $v \propto \sigma_V\sqrt{n}$",
    ("act_rms", "mlp_in"): "step 0: ∝ σ·√n",
    ("act_rms", "attn_out"): "step 0: $W_O$ (σ·√n) applied to a mix of values",
    ("act_rms", "mlp_out"): r"step 0: $W_{\text{down}}$ (σ·√(4n)) applied to GELU of the MLP input",
    ("act_rms", "attn_logits"): "step 0: q·k sums d independent products (√d) times the scale",
    ("act_rms", "unembedding"): "step 0: σ·√n times the logit multiplier",
    **{("dw_norm", role): r"an Adam step has natural norm $\propto \eta\, n_{\text{in}}$"
       for role in ("query", "key", "value", "attn_out", "mlp_in", "mlp_out")},
}
"""The width predictions :func:`predicted_width_slope` makes, with the reason for each (Markdown with MyST math,
for the book's table)."""


def predicted_width_slope(parameterization: str, quantity: str, role: str) -> float:
    """Predicted slope of ``quantity`` of ``role`` against ``log width`` (fixed heads, fixed ``r``).

    Computed from the parameterization's rules (exponents of ``m`` in the init std, Adam LR,
    multiplier and attention scale), for the cases listed in ``WIDTH_PREDICTIONS``; activation sizes
    at initialisation, updates for the first steps.
    """
    if (quantity, role) not in WIDTH_PREDICTIONS:
        known = ", ".join(f"{q}/{r}" for q, r in WIDTH_PREDICTIONS)
        raise ValueError(f"no width prediction for quantity={quantity!r}, role={role!r}; known: {known}")
    rules, attention, _ = get_parameterization(parameterization).symbolic()

    def act(name: str) -> float:  # Θ(1)-entry input of fan-in ∝ n: σ·√n, times the multiplier
        rule = rules[name]
        return _m_exponent(rule.init_std) + 0.5 + _m_exponent(rule.multiplier)

    if quantity == "dw_norm":
        return _m_exponent(rules[role].lr_factor) + 1.0
    if role in ("query", "key", "value", "mlp_in", "unembedding"):
        return act(role)
    if role == "attn_out":
        return act("attn_out") + act("value")
    if role == "mlp_out":
        return act("mlp_out") + act("mlp_in")
    return act("query") + act("key") + 0.5 + _m_exponent(attention)  # attention logits


# ----------------------------------------------------------------------------- figures and views

KV_PANELS = (("own_change_vs_query", "key", 1, "per-coordinate change of k ÷ of q"),
             ("rel_update_vs_query", "key⊕", 1, r"spectral relative update, $K_\oplus \div W_Q$"),
             ("norm_vs_query", "key⊕", 0, r"spectral norm, $\|K_\oplus\| \div \|W_Q\|$"),
             ("loss_share_vs_query", "key", 1, r"loss share of the update, $W_K \div W_Q$"),
             ("act_rms", "key", 0, "RMS of the keys"))
"""The panels of :func:`plot_kv_patterns`: ``(quantity, role, step, title)``, the title in a reader's words
(:func:`kv_panel_title` adds the step), its math mathtext in the figure and HTML in :func:`kv_heads_view`
(:func:`gqa_mup_ref.widgets.math_html`)."""


ROLE_NAMES = {
    "attn_logits": "attention logits",
    "attn_out": "attention output",
    "mlp_in": "MLP input",
    "mlp_out": "MLP output",
    "token_embedding": "token embedding",
    "position_embedding": "position embedding",
    "key⊕": "K⊕",
    "value⊕": "V⊕",
}
"""The book's tables' names for the roles whose data name is not a reader's word (``query``, ``key`` are)."""


def quantity_name(quantity: str, step: int | None = None) -> str:
    """A quantity as the tables name it: ``"RMS of the output, init"``, ``"‖ΔW‖₂, step 3"``; without a step, the
    quantity alone (:data:`~gqa_mup_ref.coord_quantities.QUANTITY_NAMES`, or the data name where it has none)."""
    name = QUANTITY_NAMES.get(quantity, quantity)
    if step is None:
        return name
    return f"{name}, init" if step == 0 else f"{name}, step {step}"


def role_name(role: str) -> str:
    """A role as the tables name it (:data:`ROLE_NAMES`, or the data name where it has none)."""
    return ROLE_NAMES.get(role, role)


def kv_panel_title(title: str, step: int, sep: str = "\n") -> str:
    """A panel's title with its step: ``"RMS of the keys\nat initialisation"``, ``"…\nafter step 1"``."""
    return f"{title}{sep}{'at initialisation' if step == 0 else f'after step {step}'}"


def normalized_kv(rows: Sequence[Mapping], quantity: str, role: str, step: int) -> dict[str, dict[int, float]]:
    """``variant -> {r: value / value at r = 1}``, geometric mean over the layers of ``role`` and seeds."""
    logs: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        if (row["quantity"], row["role"], row["step"]) == (quantity, role, step) and row["value"] > 0:
            logs.setdefault((row["variant"], row["r"]), []).append(math.log(row["value"]))
    mean = {key: sum(v) / len(v) for key, v in logs.items()}
    out: dict[str, dict[int, float]] = {}
    for (variant, r_value), value in sorted(mean.items()):
        if (variant, 1) in mean:
            out.setdefault(variant, {})[r_value] = math.exp(value - mean[variant, 1])
    return out


def prediction_rule(variant: str) -> str:
    """Prediction rule of a measured variant: SP treats keys and values like plain μP in r."""
    return "none" if variant == "sp" else variant


def plot_kv_patterns(rows: Sequence[Mapping], variants: Sequence[str], panels=KV_PANELS):
    """Measured key quantities over ``r`` (dots, normalised to r = 1) beside the predicted patterns (lines).

    Panels in rows of two (legible at book width); each rule has its own colour *and* marker, and its dots
    are moved sideways by a small fixed fraction of an octave of ``r``, so rules whose values coincide (SP,
    ``gqa`` and ``alt`` often do) stay side by side instead of hiding each other; the legend fills the first
    free panel slot.
    """
    import matplotlib.pyplot as plt

    from .plots import PALETTE, book_style

    colors = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(variants)}
    markers = {v: "osD^vP*X"[i % 8] for i, v in enumerate(variants)}
    dodge = {v: 2 ** (0.08 * (i - (len(variants) - 1) / 2)) for i, v in enumerate(variants)}
    columns = 2
    n_rows = -(-(len(panels) + 1) // columns)  # room for the legend
    with plt.rc_context(book_style()):
        fig, grid = plt.subplots(n_rows, columns, figsize=(6.7, 2.6 * n_rows), layout="constrained",
                                 squeeze=False)
        axes = list(grid.flat)
        for ax, (quantity, role, step, title) in zip(axes, panels):
            measured = normalized_kv(rows, quantity, role, step)
            for variant in variants:
                if variant not in measured:
                    continue
                rs = sorted(measured[variant])
                expr = predicted_pattern(prediction_rule(variant), quantity, role)
                fine = [1 + 15 * i / 60 for i in range(61)]
                ax.plot(fine, [float(expr.subs(R_SYMBOL, v)) for v in fine], "-", lw=1.2,
                        color=colors[variant], alpha=0.6)
                ax.plot([v * dodge[variant] for v in rs], [measured[variant][v] for v in rs], markers[variant],
                        ms=5.5, color=colors[variant],
                        mfc="none" if markers[variant] in "oD" else colors[variant], mew=1.3, label=variant)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_xticks([1, 2, 4, 8, 16], ["1", "2", "4", "8", "16"])
            ax.set_title(kv_panel_title(title, step), fontsize=10)
            ax.set_xlabel("$r = H / H_{kv}$")
        for ax in grid[:, 0]:
            ax.set_ylabel("value / value at r = 1")
        spare = axes[len(panels):]
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in spare:
            ax.axis("off")
        spare[0].legend(handles, labels, loc="center", title="rule (dots: measured,\nlines: predicted)")
    return fig


def kv_heads_view(rows: Sequence[Mapping], kv_heads: int, variants: Sequence[str], panels=KV_PANELS):
    """An HTML table for one ``H_kv``: each quantity measured (÷ r = 1) beside its prediction, per rule."""
    import ipywidgets as widgets

    from .widgets import math_html

    n_head = next(row["n_head"] for row in rows)
    r_value = n_head // kv_heads
    head = "".join(f"<th>{v}<br>measured / predicted</th>" for v in variants)
    body = []
    for quantity, role, step, title in panels:
        measured = normalized_kv(rows, quantity, role, step)
        cells = []
        for variant in variants:
            expr = predicted_pattern(prediction_rule(variant), quantity, role)
            got = measured.get(variant, {}).get(r_value, math.nan)
            cells.append(f"<td>{got:.2f} / {float(expr.subs(R_SYMBOL, r_value)):.2f}</td>")
        body.append(f"<tr><td>{math_html(kv_panel_title(title, step, ', '))}<br><small>{role}</small></td>"
                    f"{''.join(cells)}</tr>")
    html = (f"<b>H = {n_head}, H<sub>kv</sub> = {kv_heads}, r = {r_value}</b> (values relative to r = 1)"
            f"<table style='font-size:85%'><tr><th>quantity</th>{head}</tr>{''.join(body)}</table>")
    return widgets.HTML(html)
