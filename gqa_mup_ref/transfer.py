"""Transfer hyperparameters tuned on a small proxy to a large target model, and use them in any model.

**What "tuned on the proxy" means.** You trained the proxy with a parameterization (default
``gqa-mup``) whose rules were evaluated at the proxy's shape with a *base* width and depth, and you
searched the base values η (Adam LR), λ (weight decay), σ₀ (init std) and ε (Adam ε). Every role of
the proxy then used ::

    proxy value(role) = rules(proxy)[role] × base value

(``lr = η · lr_factor``, ``weight_decay = λ · wd_factor``, ``eps = ε · eps_factor``; ``init_std``
includes σ₀). The target keeps the same base values *and the same base width and depth*, so ::

    target value(role) = rules(target)[role] × base value

with ``m = n / base_width`` and ``m_L = L / base_depth``. Two consequences, both tested:
transferring the proxy to itself returns the proxy's own values exactly; and the ratio target/proxy
of every value is the rule table's ratio (``1/m`` for hidden LRs, ``(√ρ+√r)/(√ρ+1)`` ratios for keys
and values, …), whatever the base.

**One depth convention.** The base depth defaults to 1, as in ``rules``, :class:`~gqa_mup_ref.config.RunConfig`
and the GQA-μP authors' code: a proxy of depth L was trained with residual multiplier
``m_L^(−α) = 1/L`` (α = 1). The base width defaults to the proxy's width (``m = 1`` there). A
:class:`~gqa_mup_ref.shape_symbols.Shape` passed as the proxy brings its own ``base_width`` and
``base_depth``. Every answer states the assumption (:attr:`Transfer.assumption`): the learning rates
do not depend on the base depth (α = 1), but the residual multiplier and ε do.

**Key/value factor.** ``kv_factor`` names one of
:data:`~gqa_mup_ref.parameterization.KV_FACTORS`: the proxy was tuned with it and the target uses
it (as ``rules --kv-factor``); ``"keep"`` keeps the proxy's own key/value-to-hidden LR ratio
``f(r_proxy)`` of the parameterization's factor ``f`` on the target, whatever its ``r``. When
``r`` changes a note states what the book has found about the factors so far
(:data:`KV_EVIDENCE`) and warns beyond the range of ``r`` it tested (:data:`BOOK_TESTED_R`).

**Fan-ins other than the width.** The rules take the width multiplier ``m = n / base_width``, the
fan-in multiplier of every matrix that reads the ``n``-wide stream. Two matrices read something else:
W_O reads the query width ``n_q = H·d = ρ·n``, and the MLP's down projection its inner width ``f`` (a
config's ``intermediate_size``, an inline spec's ``mlp``). When the proxy's and the target's ``ρ`` (or,
both given, ``f/n``) differ, the target's ``attn_out`` (``mlp_out``) row is its rule evaluated at that
matrix's own fan-in multiplier, ``m·ρ_t/ρ_p`` (``m·(f_t/n_t)/(f_p/n_p)``): LR ``∝ 1/m_f``, init
``∝ 1/√m_f``, Adam ε unchanged; in ``groups`` and in ``target_rules``, with a note. When only one side
gives ``f``, a note says the other is assumed to have the same ratio.

Shapes come from :mod:`gqa_mup_ref.shapes` (a local ``config.json``, a model folder, or an inline
spec ``width=256,heads=4,kv_heads=2,depth=4[,head_dim=64]``); nothing is downloaded. This module
does not import torch, so ``python -m gqa_mup_ref transfer`` answers quickly. To apply the answer to a
model this package did not define, :mod:`gqa_mup_ref.param_roles` gives each parameter its role by name
and builds the AdamW groups; :mod:`gqa_mup_ref.hf` does all of it for a Hugging Face model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from .parameterization import (KV_FACTORS, Parameterization, Rule, Rules, Shape, get_parameterization,
                               kv_factor_value)
from .parameterization import m as M_SYMBOL
from .shapes import MAX_DEPTH, MAX_WIDTH, PACKAGE_NAMES, check_bounds, read_mlp_width, read_shape

__all__ = [
    "BOOK_TESTED_R",
    "KV_CHOICES",
    "KV_EVIDENCE",
    "Transfer",
    "transfer",
    "transfer_text",
    "absolute_values",
    "lr_shift_per_doubling",
]

KV_CHOICES = (*KV_FACTORS, "keep")
"""Values of ``kv_factor``: the package's key/value factors, and ``keep`` (the proxy's own ratio)."""

KV_EVIDENCE = (
    "What the book finds (small CPU runs): in chapter 5's pre-registered experiment at head dim 32 "
    "(r = 1 -> 8, 12 seeds, 400 steps), the c(r) (gqa) factor's predicted shift of the best key/value LR is "
    "excluded and plain muP's (none: no shift) is not, and on average the shifts lie closer to none's (a direct "
    "test significant only with 3 of the 12 seeds, whose runs also set the global LR); sqrt(r) (sqrt-r) is "
    "excluded at both scales tested; larger head dims and r are untested. Along a model family (chapter 6: r "
    "growing with width, 4 -> 16, head dim 16, 12 seeds), a second pre-registered experiment also excludes "
    "gqa's predicted slope and not none's, underpowered by its own rule. Keep r fixed from proxy to target when "
    "you can (then every factor gives the same transfer); if r changes, these data favour 'keep' (the proxy's "
    "own key/value-to-hidden ratio, not rescaled with r)."
)
"""The one sentence the package says about choosing a key/value factor when r changes."""

BOOK_TESTED_R = {4: 16, 32: 8}
"""Head dimension -> the largest r at which the book's chapter 5 measured transfer across r."""

_BASE_NAMES = {"lr_factor": "lr", "wd_factor": "weight_decay", "eps_factor": "eps"}
"""A ``Rule`` field that is a factor on a base value -> the name of the absolute value."""


# ----------------------------------------------------------------------------- the calculator


def absolute_values(rule: Rule, lr: float, weight_decay: float, eps: float) -> dict[str, float]:
    """One role's absolute values from its rule: each ``*_factor`` field times its base value.

    Built over the fields of :class:`~gqa_mup_ref.parameterization.Rule`, so a rule gaining a
    field (such as Adam ε's ``eps_factor``) appears here without a change.
    """
    base = {"lr": lr, "weight_decay": weight_decay, "eps": eps}
    out = {}
    for field in dataclasses.fields(rule):
        value = getattr(rule, field.name)
        name = _BASE_NAMES.get(field.name, field.name)
        out[name] = value * base[name] if name in base else value
    return out


@dataclass(frozen=True)
class Transfer:
    """A proxy's tuned base values carried to a target: both shapes' rules and the target's values.

    ``proxy`` and ``target`` carry the common ``base_width``/``base_depth``. ``groups`` maps each
    role to its absolute values on the target (``lr``, ``weight_decay``, ``init_std``,
    ``multiplier`` and ``eps`` when the rules have an ε factor); ``proxy_groups`` the same on the
    proxy. ``kv_factor`` is the key/value factor's name (or ``keep``); ``assumption`` says how the
    proxy is assumed to have been trained; ``notes`` are warnings that do not stop the transfer.
    """

    parameterization: str
    kv_factor: str
    proxy: Shape
    target: Shape
    base: dict[str, float]
    proxy_rules: Rules
    target_rules: Rules
    groups: dict[str, dict[str, float]]
    proxy_groups: dict[str, dict[str, float]]
    assumption: str
    notes: tuple[str, ...]

    @property
    def attention_scale(self) -> float:
        return self.target_rules.attention_scale

    @property
    def residual_multiplier(self) -> float:
        return self.target_rules.residual_multiplier

    def to_dict(self) -> dict:
        """The ``transfer --json`` object."""

        def shape(s: Shape) -> dict:
            return dataclasses.asdict(s) | {"r": s.r, "query_width": s.query_width}

        return {
            "parameterization": self.parameterization,
            "kv_factor": self.kv_factor,
            "proxy": shape(self.proxy),
            "target": shape(self.target),
            "base": dict(self.base),
            "assumption": self.assumption,
            "groups": self.groups,
            "attention_scale": self.attention_scale,
            "residual_multiplier": self.residual_multiplier,
            "proxy_groups": self.proxy_groups,
            "proxy_attention_scale": self.proxy_rules.attention_scale,
            "proxy_residual_multiplier": self.proxy_rules.residual_multiplier,
            "notes": list(self.notes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _check_base_values(lr: float, weight_decay: float, init_std: float, eps: float) -> None:
    """Refuse base values no training run has: non-finite, negative, or absurdly large."""
    bounds = (("lr", lr, 1.0, "the base Adam LR tuned on the proxy, e.g. 0.01"),
              ("init_std", init_std, 1.0, "the base init std sigma_0, usually 0.02"),
              ("eps", eps, 1e-2, "the base Adam epsilon, usually 1e-8"))
    for name, value, top, what in bounds:
        if not (math.isfinite(value) and 0 < value <= top):
            raise ValueError(f"{name}={value} must be positive, finite and at most {top:g}: {what}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay} must be finite and at least 0: the base "
                         "AdamW decay tuned on the proxy, e.g. 0.1")
    if lr * weight_decay >= 1:
        raise ValueError(f"lr x weight_decay = {lr:g} x {weight_decay:g} = {lr * weight_decay:.3g} is "
                         "at least 1: AdamW would shrink every weight to zero or past it each step; "
                         "give the decay coefficient lambda (e.g. 0.1), not a per-step shrink")


def _as_shape(value: Shape | str | os.PathLike, where: str) -> tuple[Shape, tuple[str, ...]]:
    if isinstance(value, Shape):
        check_bounds(dataclasses.asdict(value), PACKAGE_NAMES, where)
        return value, ()
    return read_shape(value)


def _resolve_base(proxy: Shape, target: Shape, target_given_as_shape: bool,
                  base_width: int | None, base_depth: int | None) -> tuple[int, int]:
    """The base both shapes share: given, else the proxy's (a parsed proxy: its width and depth 1)."""
    width = proxy.base_width if base_width is None else base_width
    depth = proxy.base_depth if base_depth is None else base_depth
    for name, value, top in (("base_width", width, MAX_WIDTH), ("base_depth", depth, MAX_DEPTH)):
        if isinstance(value, int) and not isinstance(value, bool) and value > top:
            raise ValueError(f"{name}={value} is larger than {top}; give the width (depth) the "
                             "proxy's rules were evaluated with")
    own = (target.base_width, target.base_depth)
    if target_given_as_shape and own != (target.width, 1) and own != (width, depth):
        raise ValueError(f"target: base_width={own[0]}, base_depth={own[1]} differ from the proxy's "
                         f"base ({width}, {depth}); proxy and target share one base: build both shapes "
                         "with it, or pass base_width and base_depth")
    return width, depth


def _assumption(param: Parameterization, proxy: Shape, rules: Rules) -> str:
    """One sentence: how the proxy is assumed to have been trained (residual multiplier, base)."""
    if not param.width_scaling:
        return (f"the proxy is assumed trained under {param.name}: no width or depth scaling, "
                "residual multiplier 1")
    L, base = proxy.depth, proxy.base_depth
    text = (f"the proxy is assumed trained with residual multiplier {rules.residual_multiplier:.4g} "
            f"= ({L}/{base})^-{param.alpha:g} (base depth {base}) and base width {proxy.base_width} "
            f"(m = {proxy.width_multiplier:.4g} at the proxy)")
    if param.alpha == 0 or L == 1:
        return text
    if base == 1:
        return text + (f", this package's convention (1/L); if it ran with residual multiplier 1, "
                       f"pass base depth {L} (--base-depth {L})")
    if base == L:
        return text + "; if it was trained with this package's 1/L, pass base depth 1 (--base-depth 1)"
    return text


def _mlp_width(value: Shape | str | os.PathLike) -> int | None:
    return None if isinstance(value, Shape) else read_mlp_width(value)


def _at_fan_in(param: Parameterization, rules: Rules, role: str, m_fan_in: sympy.Rational) -> Rule:
    """``role``'s row of ``rules`` with the width multiplier ``m`` replaced by that matrix's own fan-in
    multiplier ``m_f`` (its rule's init, LR and decay; Adam ε, which follows the gradient's size and not
    the fan-in, is kept)."""
    symbolic = param.symbolic()[0][role]
    values = rules.shape.substitutions() | {M_SYMBOL: m_fan_in}

    def number(expr: sympy.Expr) -> float:
        return float(sympy.sympify(expr).subs(values))

    return Rule(init_std=rules.base_init_std * number(symbolic.init_std),
                lr_factor=number(symbolic.lr_factor), wd_factor=number(symbolic.wd_factor),
                multiplier=number(symbolic.multiplier), eps_factor=rules.groups[role].eps_factor)


def _fan_in_correction(param: Parameterization, proxy: Shape, target_rules: Rules,
                       mlp: tuple[int | None, int | None]) -> tuple[Rules, list[str]]:
    """``target_rules`` with ``attn_out`` and ``mlp_out`` at their own fan-ins, and notes.

    The rules take ``m = n / base_width``, the fan-in multiplier of every matrix that reads the
    ``n``-wide stream. W_O reads ``n_q = ρ·n`` and the down projection ``f`` (the MLP width). With the
    proxy's ratios held at the base, their fan-in multipliers are ::

        m_O = m · ρ_t / ρ_p,        m_down = m · (f_t / n_t) / (f_p / n_p)

    which are ``m`` when the ratios agree (then nothing changes).
    """
    target = target_rules.shape
    groups, notes = dict(target_rules.groups), []

    def at_own_fan_in(role: str, m_fan_in: sympy.Rational) -> float:
        """Replace ``role``'s rule by its rule at ``m_fan_in``; its LR over the width rule's."""
        groups[role] = _at_fan_in(param, target_rules, role, m_fan_in)
        return groups[role].lr_factor / target_rules.groups[role].lr_factor

    if proxy.query_width * target.width != target.query_width * proxy.width:
        m_fan_in = sympy.Rational(target.query_width * proxy.width, target.base_width * proxy.query_width)
        factor = at_own_fan_in("attn_out", m_fan_in)
        notes.append(
            f"rho = n_q/n differs (proxy {proxy.query_ratio:.4g}, target {target.query_ratio:.4g}): "
            f"attn_out (fan-in n_q) takes its rule at its own fan-in multiplier {float(m_fan_in):.4g} "
            f"instead of m = {target.width_multiplier:.4g}: {factor:.4g} x the LR of the width rule; "
            "the key/value factor uses each shape's rho. A proxy with the target's rho (head_dim = "
            "rho * width / heads) keeps the model's proportions, the case the rules were tested in")
    if mlp[0] is not None and mlp[1] is not None:
        if mlp[0] * target.width != mlp[1] * proxy.width:
            m_fan_in = sympy.Rational(mlp[1] * proxy.width, target.base_width * mlp[0])
            factor = at_own_fan_in("mlp_out", m_fan_in)
            notes.append(
                f"intermediate_size / hidden_size is {mlp[1] / target.width:.4g} on the target and "
                f"{mlp[0] / proxy.width:.4g} on the proxy: mlp_out (fan-in intermediate_size) takes its "
                f"rule at its own fan-in multiplier {float(m_fan_in):.4g} instead of m = "
                f"{target.width_multiplier:.4g}: {factor:.4g} x the LR of the width rule")
    elif mlp[0] is not None or mlp[1] is not None:
        known, other = ("target", "proxy") if mlp[0] is None else ("proxy", "target")
        shape = target if known == "target" else proxy
        ratio = (mlp[1] if known == "target" else mlp[0]) / shape.width
        notes.append(
            f"only the {known} gives its MLP width (intermediate_size / hidden_size = {ratio:.4g}): mlp_out "
            f"assumes the {other} has the same ratio; give the {other}'s intermediate_size (config.json) or "
            "mlp=... in its spec (this package's models use 4 x width)")
    if groups == target_rules.groups:
        return target_rules, notes
    return dataclasses.replace(target_rules, groups=groups), notes


def _tested_r(head_dim: int) -> int:
    """The largest r the book tested at the largest tested head dim not above ``head_dim``."""
    dims = [d for d in BOOK_TESTED_R if d <= head_dim] or [min(BOOK_TESTED_R)]
    return BOOK_TESTED_R[max(dims)]


def _notes(param: Parameterization, kv_factor: str, proxy: Shape, target: Shape,
           proxy_rules: Rules, target_rules: Rules) -> list[str]:
    notes = []
    larger = [f"{name} {getattr(proxy, field)} > {getattr(target, field)}"
              for field, name in (("width", "width"), ("depth", "depth"))
              if getattr(proxy, field) > getattr(target, field)]
    if larger:
        notes.append(f"the proxy is larger than the target ({', '.join(larger)}): transferring "
                     "down is allowed, but the rules were tested for growing models")
    if param.width_scaling and proxy.r != target.r:
        ratio = [rules.groups["key"].lr_factor / rules.groups["query"].lr_factor
                 for rules in (proxy_rules, target_rules)]
        c_proxy, c_target = (kv_factor_value("gqa", s.r, s.query_ratio) for s in (proxy, target))
        notes.append(
            f"r changes from {proxy.r} (proxy) to {target.r} (target): under kv_factor {kv_factor} the "
            f"key/value LR goes from {ratio[0]:.4g} to {ratio[1]:.4g} x the hidden LR; choose with "
            f"--kv-factor ({', '.join(KV_CHOICES)}). {KV_EVIDENCE} The two candidates' key/value LRs differ by "
            f"c(r_target)/c(r_proxy) = {c_target / c_proxy:.3g} (their weight decays by the inverse, so eta*lambda "
            f"is the same): 'keep' (the proxy's own ratio, scaled with width like every hidden matrix: m^-1 "
            f"along a family) and 'gqa' (c(r): tending to m^-1/2 along a family). If you can afford a check on "
            f"the target, compare key/value LRs between the 'keep' value and {c_target / c_proxy:.3g} times it "
            f"(same seed, past the warm-up); without one, their geometric mean is within a factor "
            f"{max(c_target / c_proxy, c_proxy / c_target) ** 0.5:.3g} of either.")
        if target.head_dim > max(BOOK_TESTED_R):
            notes.append(f"the target's head dim {target.head_dim} is above the largest the book tested across r "
                         f"({max(BOOK_TESTED_R)}): the evidence above may not carry over")
        if target.r > _tested_r(target.head_dim):
            tested = ", ".join(f"r <= {r} at head dim {d}" for d, r in BOOK_TESTED_R.items())
            notes.append(f"the target's r = {target.r} (head dim {target.head_dim}) is beyond the "
                         f"range the book tested ({tested}): no experiment here supports any "
                         "key/value factor there")
    return notes


def transfer(
    proxy: Shape | str | os.PathLike,
    target: Shape | str | os.PathLike,
    lr: float,
    weight_decay: float = 0.0,
    init_std: float = 0.02,
    eps: float = 1e-8,
    param: str = "gqa-mup",
    base_width: int | None = None,
    base_depth: int | None = None,
    kv_factor: str | None = None,
) -> Transfer:
    """Carry base values tuned on ``proxy`` under ``param`` to ``target`` (see the module docstring).

    ``proxy`` and ``target`` are shapes, or text for :func:`gqa_mup_ref.shapes.read_shape`.
    ``base_width`` and ``base_depth`` are the base the proxy was tuned with; by default a ``Shape``
    proxy's own, and for a parsed proxy its width and depth 1 (residual multiplier 1/L).
    ``kv_factor`` is one of :data:`KV_CHOICES` (default: the parameterization's own factor).
    """
    _check_base_values(lr, weight_decay, init_std, eps)
    target_is_shape = isinstance(target, Shape)
    mlp = (_mlp_width(proxy), _mlp_width(target))
    proxy, proxy_notes = _as_shape(proxy, "proxy")
    target, target_notes = _as_shape(target, "target")
    base_width, base_depth = _resolve_base(proxy, target, target_is_shape, base_width, base_depth)
    try:
        proxy = dataclasses.replace(proxy, base_width=base_width, base_depth=base_depth)
        target = dataclasses.replace(target, base_width=base_width, base_depth=base_depth)
    except ValueError as error:
        raise ValueError(f"base: {error}") from None
    if kv_factor is not None and kv_factor not in KV_CHOICES:
        raise ValueError(f"unknown kv_factor={kv_factor!r}; choose one of {', '.join(KV_CHOICES)}")
    parameterization = get_parameterization(param, None if kv_factor == "keep" else kv_factor)
    proxy_rules = parameterization.rules(proxy, init_std)
    if kv_factor == "keep":  # the proxy's f(r_proxy, ρ_proxy), held fixed on the target
        kept = kv_factor_value(parameterization.kv_factor, proxy.r, proxy.query_ratio)
        target_rules = parameterization.rules(target, init_std, kv_factor_value=kept)
    else:
        target_rules = parameterization.rules(target, init_std)
    label = kv_factor if kv_factor == "keep" else parameterization.kv_factor
    target_rules, mlp_notes = _fan_in_correction(parameterization, proxy, target_rules, mlp)

    def values(rules: Rules) -> dict[str, dict[str, float]]:
        return {role: absolute_values(rule, lr, weight_decay, eps)
                for role, rule in rules.groups.items()}

    return Transfer(
        parameterization=parameterization.name,
        kv_factor=label,
        proxy=proxy,
        target=target,
        base={"lr": lr, "weight_decay": weight_decay, "init_std": init_std, "eps": eps,
              "base_width": base_width, "base_depth": base_depth},
        proxy_rules=proxy_rules,
        target_rules=target_rules,
        groups=values(target_rules),
        proxy_groups=values(proxy_rules),
        assumption=_assumption(parameterization, proxy, proxy_rules),
        notes=(*proxy_notes, *target_notes,
               *_notes(parameterization, label, proxy, target, proxy_rules, target_rules), *mlp_notes),
    )


def _describe(s: Shape) -> str:
    head = f"head_dim={s.head_dim}" + (f" (n_q={s.query_width})" if s.query_width != s.width else "")
    return f"width={s.width} depth={s.depth} heads={s.n_head} kv_heads={s.n_kv_head} (r={s.r}) {head}"


def transfer_text(result: Transfer) -> str:
    """The transfer as an aligned plain-text table: the target's values, and target/proxy LR."""
    b = result.base
    lines = [
        f"{result.parameterization}: base values tuned on the proxy: lr={b['lr']:g}, "
        f"weight_decay={b['weight_decay']:g}, init_std={b['init_std']:g}, eps={b['eps']:g} "
        f"(base width {b['base_width']}, base depth {b['base_depth']}; key/value factor "
        f"{result.kv_factor})",
        f"  {result.assumption}",
        f"  proxy:  {_describe(result.proxy)}",
        f"  target: {_describe(result.target)}",
    ]
    names = list(next(iter(result.groups.values())))
    header = ["role", *names, "lr/proxy"]
    rows = [header]
    for role, values in result.groups.items():
        proxy_lr = result.proxy_groups[role]["lr"]
        ratio = values["lr"] / proxy_lr if proxy_lr else float("nan")
        rows.append([role, *(f"{values[n]:.6g}" for n in names), f"{ratio:.4g}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"attention_scale = {result.attention_scale:.6g}   residual_multiplier = "
                 f"{result.residual_multiplier:.6g}   (proxy: {result.proxy_rules.attention_scale:.6g}, "
                 f"{result.proxy_rules.residual_multiplier:.6g})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- measuring transfer


def lr_shift_per_doubling(optima_rows: list[Mapping], x: str = "width") -> dict[str, float]:
    """How far the best learning rate moves, in octaves, per doubling of ``x``, with its uncertainty.

    ``optima_rows`` are rows of :func:`gqa_mup_ref.sweep.optima` for one setting and several values
    of ``x`` (each with ``log2_lr_star``, ``log2_lr_std`` and ``n_seeds``). Returns the least-squares
    slope ``s`` of ``log₂ lr*`` against ``log₂ x`` and its standard error, propagated from each
    optimum's standard error ``log2_lr_std / √n_seeds``::

        s = Σ wᵢ yᵢ,   wᵢ = (xᵢ − x̄) / Σ (xⱼ − x̄)²,   se(s)² = Σ wᵢ² se(yᵢ)²

    Transfer means ``s ≈ 0``; standard practice with Adam predicts ``s ≈ −1`` (the hidden LR ∝ 1/n).
    """
    import math

    points = sorted((math.log2(row[x]), row["log2_lr_star"],
                     row["log2_lr_std"] / math.sqrt(max(row.get("n_seeds", 1), 1)))
                    for row in optima_rows)
    if len({p[0] for p in points}) < 2 or any(not math.isfinite(p[1]) for p in points):
        raise ValueError(f"need finite optima at two or more values of {x!r}; got {points}")
    mean_x = sum(p[0] for p in points) / len(points)
    spread = sum((p[0] - mean_x) ** 2 for p in points)
    weights = [(p[0] - mean_x) / spread for p in points]
    slope = sum(w * p[1] for w, p in zip(weights, points))
    stderr = math.sqrt(sum((w * p[2]) ** 2 for w, p in zip(weights, points)))
    return {"shift": slope, "stderr": stderr, "points": len(points)}
