"""The rule tables: every rule of a parameterization as the book and the terminal show it.

One row per parameter role, one column per quantity a rule sets, in units of the base values:

    | role | init std / σ₀ | Adam LR / η | weight decay / λ | multiplier | Adam ε / ε₀ |

followed by the attention-logit scale and the residual-branch multiplier. :func:`rules_markdown` writes
the formulas (LaTeX, in the shape symbols ``m, m_L, r, d, ρ``) or, for one shape, their values, each role
linked to the method of :class:`~gqa_mup_ref.parameterization.Parameterization` that defines its rule
(:func:`rule_target`); :func:`rules_text` prints one shape's values as aligned text
(``python -m gqa_mup_ref rules``). The rules themselves live in :mod:`gqa_mup_ref.parameterization`,
which also offers these three functions under their old names.
"""

from __future__ import annotations

import dataclasses
import math

import sympy

from .parameterization import ROLE_RULES, ROLES, Parameterization, Rules, Shape, get_parameterization
from .shape_symbols import rho

__all__ = ["rules_markdown", "rule_target", "rules_text"]

_COLUMNS = ("init std / σ₀", "Adam LR / η", "weight decay / λ", "multiplier", "Adam ε / ε₀")


def _latex(expr: sympy.Expr) -> str:
    return f"${sympy.latex(sympy.factor(expr))}$"


def rule_target(role: str) -> str:
    """The API reference's id for the method defining ``role``'s rule, ``ROLE_RULES[role]``.

    Sphinx autodoc gives every documented object its dotted name as anchor; :func:`rules_markdown` links
    the role to it as ``[role](#id)``, which the book (MyST) resolves to ``api_reference.html#id``.
    """
    if role not in ROLE_RULES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return f"{Parameterization.__module__}.{Parameterization.__qualname__}.{ROLE_RULES[role]}"


def _cells(role: str, values: list[str], links: bool = False) -> list[str]:
    """A table row; norm gains are initialised to ones (std 0), which the table says in words."""
    name = f"[{role}](#{rule_target(role)})" if links else role
    return [name, "ones"] + values[1:] if role == "norm" else [name] + values


def _table_number(value: float) -> str:
    """A rule-table entry: an exact simple fraction as one (``1/128``, ``3/2``, ``1``), else four
    significant digits (``1.207``, ``1.25e-09``)."""
    from fractions import Fraction

    if value and math.isfinite(value):
        fraction = Fraction(value).limit_denominator(4096)
        if fraction.numerator <= 4096 and abs(float(fraction) - value) <= 1e-12 * abs(value):
            return str(fraction)
    return f"{value:.4g}"


def rules_markdown(
    param: Parameterization | str, shape: Shape | None = None, general_head_dim: bool = False,
    links: bool = True,
) -> str:
    """The rule table as Markdown: formulas (LaTeX) or, given a shape, their values (exact simple
    fractions as fractions, ``1/128`` rather than ``0.007812``; others to four significant digits).

    Formulas assume ``H·d = n`` (``ρ = 1``) unless ``general_head_dim`` keeps ``ρ = n_q / n`` in them.
    With ``links`` (the default, for the book) each role links to the method that defines its rule
    (:func:`rule_target`), whose docstring names the chapter that derives it; ``links=False`` gives
    plain role names.
    """
    param = get_parameterization(param)
    if shape is None:
        symbolic, attention, residual = param.symbolic()
        fix = {} if general_head_dim else {rho: 1}
        rows = [
            _cells(role, [_latex(sympy.sympify(getattr(rule, f.name)).subs(fix))
                          for f in dataclasses.fields(rule)], links)
            for role, rule in symbolic.items()
        ]
        extra = f"Attention logits × {_latex(attention)}; each residual branch × {_latex(residual)}."
    else:
        rules = param.rules(shape)
        rows = [
            _cells(role, [_table_number(v) for v in (rule.init_std / rules.base_init_std, rule.lr_factor,
                                                      rule.wd_factor, rule.multiplier, rule.eps_factor)], links)
            for role, rule in rules.groups.items()
        ]
        extra = (f"Attention logits × {_table_number(rules.attention_scale)}; "
                 f"each residual branch × {_table_number(rules.residual_multiplier)}.")
    lines = ["| role | " + " | ".join(_COLUMNS) + " |", "|---" * (len(_COLUMNS) + 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n\n" + extra


def rules_text(rules: Rules) -> str:
    """The rule table as aligned plain text (for the terminal)."""
    s = rules.shape
    header = (
        f"{rules.parameterization} (kv_factor={rules.kv_factor}, alpha={rules.alpha:g}) for "
        f"width={s.width} (m={s.width_multiplier:g}), depth={s.depth} (m_L={s.depth_multiplier:g}), "
        f"heads={s.n_head}, kv_heads={s.n_kv_head} (r={s.r}), head_dim={s.head_dim}"
        + (f" (n_q={s.query_width} != width)" if s.query_width != s.width else "")
    )
    names = ("role", "init_std", "lr_factor", "wd_factor", "multiplier", "eps_factor")
    rows = [names] + [
        (role, f"{g.init_std:.6g}", f"{g.lr_factor:.6g}", f"{g.wd_factor:.6g}", f"{g.multiplier:.6g}",
         f"{g.eps_factor:.6g}")
        for role, g in rules.groups.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(names))]
    body = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    footer = (
        f"attention_scale = {rules.attention_scale:.6g}   "
        f"residual_multiplier = {rules.residual_multiplier:.6g}   (init_std absolute, σ₀ = "
        f"{rules.base_init_std:g}; LR, decay, ε are factors on the base values)"
    )
    return "\n".join([header, *body, footer])
