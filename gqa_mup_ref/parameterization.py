"""The single source of every scaling rule: init, Adam learning rate, weight decay, multipliers.

A parameterization is data. For each parameter *role* of a decoder-only GQA transformer it gives
four ``sympy`` expressions in the shape symbols of :mod:`gqa_mup_ref.shape_symbols` (``m = n / n_base``,
``m_L = L / L_base``, ``r = H / H_kv``, head dimension ``d``, query width ratio ``ρ = H·d / n``), namely the init std (in units of a base std σ₀), the Adam learning-rate factor (times a base LR η),
the weight-decay factor (times a base decay λ), a forward multiplier and the Adam ε factor (times a
base ε); plus the attention-logit scale and the residual-branch multiplier. The same expressions are printed in the
book's tables (:mod:`gqa_mup_ref.rule_tables`), evaluated for the model and the optimizer, and shown by
``python -m gqa_mup_ref rules``.

Named parameterizations (``PARAMETERIZATIONS``):

* ``sp``: standard practice (GPT-2/nanoGPT): ``N(0, σ₀²)`` everywhere, one LR, logits ``1/√d``,
  no depth scaling. The GQA-μP authors' SP baseline used PyTorch's default init instead.
* ``mup``: μP (Tensor Programs V, Table 3) with CompleteP depth scaling (Dey et al. 2025, α = 1);
  keys and values are treated as any hidden matrix.
* ``gqa-mup``: ``mup`` with the key/value Adam LR multiplied by ``c(r) = (1 + √r) / 2`` and their
  weight decay divided by it (GQA-μP, arXiv:2605.15290, as in the authors' released code).
* ``mup-fixed-wd``: ``mup`` with a width-independent weight-decay coefficient for hidden and key/value
  matrices (factor 1 instead of the LR's inverse), so AdamW's per-step shrink η·λ/m falls with width:
  the ablation of Chapter 3's weight-decay experiment.
* ``depth-mup``: ``mup`` with Depth-μP's depth exponent α = ½ (Tensor Programs VI, Yang, Yu, Zhu, Hayou
  2023; Bordelon et al. 2023): residual branches × ``m_L^(−1/2)`` and hidden/norm Adam LRs × ``m_L^(−1/2)``
  (:func:`depth_rules`). Combine it with the GQA correction by ``get_parameterization("depth-mup",
  kv_factor="gqa")``.

Options: ``kv_factor`` picks another key/value factor from ``KV_FACTORS`` (ablations) and ``alpha``
the CompleteP depth exponent (``0`` switches depth scaling off; Dey et al. study ``α ∈ [½, 1]``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy

from .shape_symbols import SYMBOLS, Shape, d, m, m_L, r, rho  # noqa: F401  (SYMBOLS, d: re-exported)
from .spectral import kv_repetition_factor

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ROLES",
    "HIDDEN_ROLES",
    "ROLE_RULES",
    "KV_FACTORS",
    "kv_factor_value",
    "PARAMETERIZATIONS",
    "Shape",
    "Rule",
    "Rules",
    "SymbolicRule",
    "Parameterization",
    "get_parameterization",
    "depth_rules",
    "adamw_param_groups",
    "build_adamw",
    "rules_markdown",
    "rule_target",
    "rules_text",
]


ROLES = (
    "embedding",
    "query",
    "key",
    "value",
    "attn_out",
    "mlp_in",
    "mlp_out",
    "unembedding",
    "norm",
)
"""Every parameter of :class:`gqa_mup_ref.model.GQATransformer` has exactly one of these roles."""

HIDDEN_ROLES = ("query", "attn_out", "mlp_in", "mlp_out")
"""Matrices whose fan-in and fan-out both grow with width (besides keys and values)."""

ROLE_RULES: dict[str, str] = {
    "embedding": "embedding_rule",
    **{role: "hidden_rule" for role in HIDDEN_ROLES},
    "key": "key_value_rule",
    "value": "key_value_rule",
    "unembedding": "unembedding_rule",
    "norm": "norm_rule",
}
"""Role -> the :class:`Parameterization` method that defines its rule (and whose docstring names the chapter
deriving it); :func:`~gqa_mup_ref.rule_tables.rules_markdown` links each row of the table to it."""

KV_FACTORS: dict[str, tuple[sympy.Expr, str]] = {
    "none": (sympy.Integer(1), "keys/values learn like every hidden matrix (plain μP)"),
    "gqa": (
        kv_repetition_factor(r, rho),
        "(√ρ + √r)/(√ρ + 1), i.e. (1 + √r)/2 when H·d = n: the repeated operator's norm excess (GQA-μP)",
    ),
    "alt": (2 * kv_repetition_factor(r, rho), "twice the GQA-μP factor, 1 + √r when H·d = n (an earlier variant)"),
    "sqrt-r": (sympy.sqrt(r), "√r: the norm ratio of the repeated operator to $W_K$ alone"),
    "inv-sqrt-r": (1 / sympy.sqrt(r), "1/√r: an early rule that shrank the KV learning rate"),
    "r-sqrt-r": ((r + sympy.sqrt(r)) / 2, "(r + √r)/2: another candidate in the authors' code"),
}
"""Candidate key/value LR factors ``name -> (expression in r and ρ, description)``; all but ``alt`` are 1 at r = 1.
The descriptions are Markdown with MyST math (the book's tables show them)."""


def kv_factor_value(name: str, r_value: float, query_ratio: float = 1.0) -> float:
    """The key/value factor ``name`` of ``KV_FACTORS`` evaluated at ``r`` and ``ρ = n_q / n``."""
    if name not in KV_FACTORS:
        raise ValueError(f"unknown kv_factor={name!r}; choose one of {', '.join(KV_FACTORS)}")
    return float(KV_FACTORS[name][0].subs({r: r_value, rho: query_ratio}))


@dataclass(frozen=True)
class SymbolicRule:
    """A role's rule as expressions in ``m, m_L, r, d``. ``init_std`` is in units of σ₀."""

    init_std: sympy.Expr
    lr_factor: sympy.Expr
    wd_factor: sympy.Expr
    multiplier: sympy.Expr
    eps_factor: sympy.Expr = sympy.Integer(1)  # Adam ε = base ε × eps_factor


@dataclass(frozen=True)
class Rule:
    """A role's rule evaluated for one shape. ``init_std`` is absolute (σ₀ included)."""

    init_std: float
    lr_factor: float
    wd_factor: float
    multiplier: float
    eps_factor: float = 1.0


@dataclass(frozen=True)
class Rules:
    """Everything a model and its optimizer need to know about scale, for one shape."""

    parameterization: str
    kv_factor: str
    alpha: float
    shape: Shape
    base_init_std: float
    groups: dict[str, Rule]
    attention_scale: float
    residual_multiplier: float

    def to_dict(self) -> dict:
        """JSON-ready form (the ``rules --json`` contract of the command line)."""
        return {
            "parameterization": self.parameterization,
            "kv_factor": self.kv_factor,
            "alpha": self.alpha,
            "shape": dataclasses.asdict(self.shape)
            | {"r": self.shape.r, "query_width": self.shape.query_width},
            "width_multiplier": self.shape.width_multiplier,
            "depth_multiplier": self.shape.depth_multiplier,
            "base_init_std": self.base_init_std,
            "groups": {role: dataclasses.asdict(rule) for role, rule in self.groups.items()},
            "attention_scale": self.attention_scale,
            "residual_multiplier": self.residual_multiplier,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


@dataclass(frozen=True)
class Parameterization:
    """A named family of rules; see the module docstring for the named ones.

    ``width_scaling=False`` gives ``sp``. ``kv_factor`` names an entry of ``KV_FACTORS``.
    ``alpha`` is the CompleteP depth exponent: residual branches are multiplied by ``m_L^(−α)``
    and hidden/norm learning rates by ``m_L^(α−1)``; ``alpha=0`` turns depth scaling off.
    ``weight_decay="independent"`` makes the hidden and key/value decay the inverse of their LR
    factor (η·λ fixed); ``"fixed"`` keeps their decay coefficient at λ (the Chapter 3 ablation).
    """

    name: str
    width_scaling: bool = True
    kv_factor: str = "none"
    alpha: float = 1.0
    weight_decay: str = "independent"

    def __post_init__(self) -> None:
        if self.kv_factor not in KV_FACTORS:
            raise ValueError(
                f"unknown kv_factor={self.kv_factor!r}; choose one of {', '.join(KV_FACTORS)}"
            )
        if not (self.alpha == 0 or 0.5 <= self.alpha <= 1):
            raise ValueError(
                f"alpha={self.alpha} is outside CompleteP's range; use 0 (no depth scaling) "
                "or a value in [0.5, 1] (1 is CompleteP)"
            )
        if self.weight_decay not in ("independent", "fixed"):
            raise ValueError(
                f"weight_decay={self.weight_decay!r}; choose 'independent' (decay × 1/LR factor) "
                "or 'fixed' (decay factor 1)"
            )
        if not self.width_scaling and (self.kv_factor != "none" or self.alpha != 0):
            raise ValueError(
                "sp has no width, depth or key/value scaling; use 'mup' or 'gqa-mup' "
                "to set kv_factor or alpha"
            )

    def symbolic(self) -> tuple[dict[str, SymbolicRule], sympy.Expr, sympy.Expr]:
        """``(rules per role, attention scale, residual multiplier)`` as expressions.

        Each role's rule comes from the method ``ROLE_RULES[role]`` names (the rule table links each row to
        it); the logit scale is μP's ``1/d`` (``1/√d`` for ``sp``) and the residual multiplier CompleteP's
        ``m_L^(−α)`` (:doc:`chapter 3 <ch03_completep>`).
        """
        rules, attention, residual = self._symbolic_once()
        return dict(rules), attention, residual

    @functools.lru_cache(maxsize=64)  # noqa: B019 (instances are frozen, few and small)
    def _symbolic_once(self) -> tuple[dict[str, SymbolicRule], sympy.Expr, sympy.Expr]:
        # Built once per parameterization: the sympy work is ~20 ms, and rules() is called per model.
        rules = {role: getattr(self, ROLE_RULES[role])() for role in ROLES}
        if not self.width_scaling:
            return rules, 1 / sympy.sqrt(d), sympy.Integer(1)
        return rules, 1 / d, self._residual()

    # One method per row group of the rule table. Shared pieces: CompleteP's depth factor on hidden and
    # norm learning rates, μP's hidden LR 1/m, "independent" weight decay and the ε of a residual branch.

    def _residual(self) -> sympy.Expr:
        # The residual branch is multiplied by m_L^-α (depth_rules derives it) ...
        return depth_rules(self.alpha)[0]

    def _depth_lr(self) -> sympy.Expr:
        # ... and hidden and norm Adam LRs by m_L^(α-1): 1 at α = 1, shrinking with depth for α < 1.
        return depth_rules(self.alpha)[1]

    def _hidden_lr(self) -> sympy.Expr:
        # μP for Adam: hidden init 1/√m (σ ∝ 1/√fan_in), LR 1/m.
        return self._depth_lr() / m

    def _decay(self, lr: sympy.Expr) -> sympy.Expr:
        # Decay is the LR's inverse, so AdamW's per-step shrink η·λ does not change with shape
        # ("independent weight decay"); "fixed" keeps the coefficient λ.
        return 1 / lr if self.weight_decay == "independent" else sympy.Integer(1)

    def _branch_eps(self) -> sympy.Expr:
        # Adam ε must shrink like the gradient it is added to (else it swamps √v as width or depth
        # grow). Backpropagated signals are Θ(1/m) per coordinate (the 1/m on the logits) and a
        # residual branch multiplies its parameters' gradients by m_L^-α: ε·m⁻¹·m_L^-α inside the
        # blocks (matrices and norm gains), ε·m⁻¹ for the embedding and unembedding outside them.
        return self._residual() / m

    def embedding_rule(self) -> SymbolicRule:
        """The ``embedding`` row: init σ₀, Adam LR η, no weight decay, multiplier 1, ε·m⁻¹.

        Its input is a one-hot token (fixed fan-in), so init and LR do not change with width. Derived in
        Chapter 1, :doc:`Feature learning, defined by spectral norms <ch01_spectral_feature_learning>`;
        the ε factor in Chapter 3, :doc:`CompleteP: depth and weight decay from the spectral definition
        <ch03_completep>`. For ``sp``: σ₀, η, λ.
        """
        one = sympy.Integer(1)
        if not self.width_scaling:
            return SymbolicRule(one, one, one, one)
        return SymbolicRule(one, one, sympy.Integer(0), one, 1 / m)

    def hidden_rule(self) -> SymbolicRule:
        """The ``query``, ``attn_out``, ``mlp_in`` and ``mlp_out`` rows (``HIDDEN_ROLES``).

        Init σ₀/√m and Adam LR η/m (fan-in and fan-out both grow with width): derived in Chapter 1,
        :doc:`Feature learning, defined by spectral norms <ch01_spectral_feature_learning>`. The depth
        factor m_L^(α−1) on the LR, the weight decay (the LR factor's inverse; λ itself for
        ``weight_decay="fixed"``) and ε·m⁻¹·m_L^(−α): Chapter 3, :doc:`CompleteP: depth and weight decay from
        the spectral definition <ch03_completep>`. For ``sp``: σ₀, η, λ.
        """
        one = sympy.Integer(1)
        if not self.width_scaling:
            return SymbolicRule(one, one, one, one)
        lr = self._hidden_lr()
        return SymbolicRule(1 / sympy.sqrt(m), lr, self._decay(lr), one, self._branch_eps())

    def key_value_rule(self, factor: sympy.Expr | None = None) -> SymbolicRule:
        """The ``key`` and ``value`` rows: the hidden rule with the Adam LR times the key/value factor
        (``KV_FACTORS[kv_factor]``, ``c(r) = (√ρ + √r)/(√ρ + 1)`` for ``gqa-mup``) and the decay divided by it.

        Derived in Chapter 2, :doc:`A corrected norm for repeated keys and values <ch02_corrected_norm>`
        (``c(r)`` is :func:`gqa_mup_ref.spectral.kv_repetition_factor`); the rest as :meth:`hidden_rule`.
        ``factor`` replaces the key/value factor by another expression, e.g. a number held fixed (see
        :meth:`rules`). For ``sp``: σ₀, η, λ.
        """
        one = sympy.Integer(1)
        if not self.width_scaling:
            return SymbolicRule(one, one, one, one)
        lr = (KV_FACTORS[self.kv_factor][0] if factor is None else factor) * self._hidden_lr()
        return SymbolicRule(1 / sympy.sqrt(m), lr, self._decay(lr), one, self._branch_eps())

    def unembedding_rule(self) -> SymbolicRule:
        """The ``unembedding`` row: init σ₀, Adam LR η, decay λ, a 1/m multiplier on the logits, ε·m⁻¹.

        The 1/m is μP's Θ(1/n) output scale taken in the forward pass, so that init and Adam LR stay
        width-independent (for Adam the same as init and LR Θ(1/n)). Derived in Chapter 1,
        :doc:`Feature learning, defined by spectral norms <ch01_spectral_feature_learning>`; the ε factor
        in Chapter 3, :doc:`CompleteP: depth and weight decay from the spectral definition
        <ch03_completep>`. For ``sp``: σ₀, η, λ, multiplier 1.
        """
        one = sympy.Integer(1)
        if not self.width_scaling:
            return SymbolicRule(one, one, one, one)
        return SymbolicRule(one, one, one, 1 / m, 1 / m)

    def norm_rule(self) -> SymbolicRule:
        """The ``norm`` row: gains initialised to ones (init factor 0: no random part), Adam LR η·m_L^(α−1),
        no weight decay, ε·m⁻¹·m_L^(−α).

        A vector's Adam step moves each entry by Θ(η) at any width (Chapter 1); the depth factor and ε are
        derived in Chapter 3, :doc:`CompleteP: depth and weight decay from the spectral definition
        <ch03_completep>`. For ``sp``: LR η, no decay.
        """
        one, zero = sympy.Integer(1), sympy.Integer(0)
        if not self.width_scaling:
            return SymbolicRule(zero, one, zero, one)
        return SymbolicRule(zero, self._depth_lr(), zero, one, self._branch_eps())

    def rules(self, shape: Shape, base_init_std: float = 0.02, kv_factor_value: float | None = None
              ) -> Rules:
        """Evaluate every rule for ``shape``; ``base_init_std`` is σ₀.

        ``kv_factor_value`` holds the key/value factor at that number instead of evaluating
        ``KV_FACTORS[kv_factor]`` at the shape's r: the key/value Adam LR is then
        ``kv_factor_value × (hidden LR factor)`` and, with independent weight decay, its decay the
        inverse. :func:`gqa_mup_ref.transfer.transfer` uses it to keep a proxy's own ratio.
        """
        if not base_init_std > 0:
            raise ValueError(f"base_init_std={base_init_std} must be positive (0.02 is customary)")
        symbolic, attention, residual = self.symbolic()
        kv_factor = self.kv_factor
        if kv_factor_value is not None:
            if not (math.isfinite(kv_factor_value) and kv_factor_value > 0):
                raise ValueError(f"kv_factor_value={kv_factor_value} must be a finite positive number")
            fixed = self.key_value_rule(sympy.Float(kv_factor_value))
            symbolic["key"] = symbolic["value"] = fixed
            kv_factor = f"fixed at {kv_factor_value:.4g}"
        values = shape.substitutions()

        def number(expr: sympy.Expr) -> float:
            return float(sympy.sympify(expr).subs(values))

        groups = {
            role: Rule(
                init_std=base_init_std * number(rule.init_std),
                lr_factor=number(rule.lr_factor),
                wd_factor=number(rule.wd_factor),
                multiplier=number(rule.multiplier),
                eps_factor=number(rule.eps_factor),
            )
            for role, rule in symbolic.items()
        }
        return Rules(
            parameterization=self.name,
            kv_factor=kv_factor,
            alpha=float(self.alpha),
            shape=shape,
            base_init_std=base_init_std,
            groups=groups,
            attention_scale=number(attention),
            residual_multiplier=number(residual),
        )


def depth_rules(alpha: float) -> tuple[sympy.Expr, sympy.Expr]:
    """``(residual multiplier, Adam LR depth factor)`` for depth exponent ``alpha``: ``(m_L^(−α), m_L^(α−1))``.

    A pre-norm network of ``L`` blocks (``m_L = L / L_base``) computes ``x_L = x_0 + Σ_l a_L·F_l(x_{l−1})``
    with ``a_L = m_L^(−α)``. Feature learning in every block asks that each block's contribution to the
    one-step change of the residual stream be ``Θ(1/L)``, so that the ``L`` aligned contributions add up to
    a ``Θ(1)`` change of the features — no more (the sum would blow up with depth), no less (the blocks
    would be lazy). Adam's step is sign-like: each entry of ``ΔW`` has size ``≈ η`` whatever the size of
    the gradient, so the multiplier ``a_L`` that the gradient carries does not reach the step and there is
    nothing to "undo". The block's change of output is ``a_L·ΔF ∝ a_L·η``, and

        a_L·η = Θ(1/L)   ⇒   η ∝ m_L^(−1)/a_L = m_L^(α−1).

    So α = 1 (CompleteP, Dey et al. 2025) keeps the Adam LR fixed in depth, and α = ½ (Depth-μP:
    Yang, Yu, Zhu, Hayou 2023, Tensor Programs VI; Bordelon et al. 2023) scales it by ``m_L^(−1/2)``: for
    α < 1 it *shrinks* with depth. (For SGD the step itself carries a_L, giving ``η ∝ m_L^(2α−1)``.)
    ``alpha = 0`` means depth scaling off: multiplier 1 and LR factor 1 (not ``m_L^(−1)``), as for ``sp``.

    The two choices differ in what a block's laziness costs. For a branch linear in its weights
    (``k = 1`` matrix per branch) the ``Θ(1/L)`` contribution is all first-order, and α = ½ learns
    features in every block. For ``k ≥ 2`` matrices per branch (``W₂ φ(W₁ x)``, every transformer branch),
    the branch's change contains the cross term ``ΔW₂·φ′·ΔW₁``, whose size relative to the first-order
    terms is that of ``ΔW`` relative to ``W``, ``∝ m_L^(α−1)``: it vanishes like ``L^(−1/2)`` at α = ½ and
    stays ``Θ(1)`` at α = 1 (*Spectral Condition for μP under Width-Depth Scaling*, Zheng et al. 2026).
    :mod:`gqa_mup_ref.depth_branches` measures it.
    """
    if not (alpha == 0 or 0.5 <= alpha <= 1):
        raise ValueError(
            f"alpha={alpha} is outside the studied range; use 0 (no depth scaling) or a value in "
            "[0.5, 1] (0.5 is Depth-μP, 1 is CompleteP)"
        )
    exponent = sympy.nsimplify(alpha)
    if exponent == 0:
        return sympy.Integer(1), sympy.Integer(1)
    return m_L ** (-exponent), m_L ** (exponent - 1)


PARAMETERIZATIONS: dict[str, Parameterization] = {
    "sp": Parameterization("sp", width_scaling=False, alpha=0.0),
    "mup": Parameterization("mup", kv_factor="none"),
    "gqa-mup": Parameterization("gqa-mup", kv_factor="gqa"),
    "mup-fixed-wd": Parameterization("mup-fixed-wd", kv_factor="none", weight_decay="fixed"),
    "depth-mup": Parameterization("depth-mup", kv_factor="none", alpha=0.5),
}


def get_parameterization(
    name: str | Parameterization, kv_factor: str | None = None, alpha: float | None = None
) -> Parameterization:
    """Look up a named parameterization, optionally overriding its KV factor or depth exponent."""
    if isinstance(name, Parameterization):
        base = name
    else:
        try:
            base = PARAMETERIZATIONS[name]
        except KeyError:
            raise ValueError(
                f"unknown parameterization {name!r}; choose one of {', '.join(PARAMETERIZATIONS)}"
            ) from None
    changes = {k: v for k, v in (("kv_factor", kv_factor), ("alpha", alpha)) if v is not None}
    return dataclasses.replace(base, **changes) if changes else base


def adamw_param_groups(
    model: torch.nn.Module, lr: float, weight_decay: float, *, eps: float = 1e-8,
    lr_multipliers: Mapping[str, float] | None = None,
) -> list[dict]:
    """AdamW parameter groups, one per role: ``lr · lr_factor``, ``weight_decay · wd_factor``
    and ``eps · eps_factor``.

    ``model`` must offer ``rules`` (a :class:`Rules`) and ``parameters_by_role()``, as
    :class:`gqa_mup_ref.model.GQATransformer` does. PyTorch's AdamW shrinks a parameter by
    ``lr · weight_decay`` per step, so the product, not ``weight_decay`` alone, is what is invariant.
    ``lr_multipliers`` (role → factor, for ablations such as scanning the key LR alone) multiplies
    a role's LR on top of its rule (and so its per-step decay ``lr · weight_decay`` too).
    """
    multipliers = dict(lr_multipliers or {})
    unknown = sorted(set(multipliers) - set(ROLES))
    if unknown:
        raise ValueError(f"lr_multipliers has unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
    groups = []
    for role, params in model.parameters_by_role().items():
        rule = model.rules.groups[role]
        groups.append(
            {
                "params": params,
                "lr": lr * rule.lr_factor * multipliers.get(role, 1.0),
                "weight_decay": weight_decay * rule.wd_factor,
                "eps": eps * rule.eps_factor,
                "role": role,
            }
        )
    return groups


def build_adamw(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
    lr_multipliers: Mapping[str, float] | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`adamw_param_groups` (β = (0.9, 0.95) as in the GQA-μP experiments).

    ``eps`` is the base ε; each group gets ``eps · eps_factor`` of its role.
    """
    import torch

    if not lr > 0:
        raise ValueError(f"lr={lr} must be positive")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay} must be non-negative")
    if not eps > 0:
        raise ValueError(f"eps={eps} must be positive (1e-8 is customary)")
    return torch.optim.AdamW(
        adamw_param_groups(model, lr, weight_decay, eps=eps, lr_multipliers=lr_multipliers),
        betas=betas, eps=eps,
    )


# gqa_mup_ref.rule_tables imports this module, so its functions are looked up there on first use.
_RULE_TABLES = ("rules_markdown", "rule_target", "rules_text")


def __getattr__(name: str):
    if name in _RULE_TABLES:
        from . import rule_tables

        return getattr(rule_tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
