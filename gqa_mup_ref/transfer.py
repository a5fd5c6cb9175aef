"""Transfer hyperparameters tuned on a small proxy to a large target model, and use them in any model.

**What "tuned on the proxy" means.** You trained the proxy with a parameterization (default
``gqa-mup``) whose rules were evaluated at the proxy's shape with a *base* width and depth
(``base_width``, ``base_depth``; by default the proxy's own, so ``m = m_L = 1`` at the proxy), and
you searched the base values η (Adam LR), λ (weight decay), σ₀ (init std) and ε (Adam ε). Every
role of the proxy then used ::

    proxy value(role) = rules(proxy)[role] × base value

(``lr = η · lr_factor``, ``weight_decay = λ · wd_factor``, ``eps = ε · eps_factor``; ``init_std``
includes σ₀). The target keeps the same base values *and the same base width and depth*, so ::

    target value(role) = rules(target)[role] × base value

with ``m = n_target / base_width`` and ``m_L = L_target / base_depth`` (CompleteP's depth is
relative to the base depth). Two consequences, both tested: transferring the proxy to itself
returns the proxy's own values exactly; and the ratio target/proxy of every value is the rule
table's ratio (``1/m`` for hidden LRs, ``(√ρ+√r)/(√ρ+1)`` ratios for keys and values, …),
whatever the base. If you trained the proxy with this package's defaults (``base_depth=1``),
pass that base depth: the learning rates do not depend on it (α = 1), but the residual
multiplier and ε do.

The rules take the width multiplier from the model width alone, which assumes the proxy and the
target have the same ``ρ = n_q / n`` (query width ``H·d`` over model width). When they differ the
result says so in :attr:`Transfer.notes`: W_O's fan-in is ``n_q``, so scaling its LR with ``n_q``
instead of ``n`` would give ``ρ_proxy/ρ_target`` times the printed LR (and the square root of that
times the init std).

Shapes come from a local Hugging Face style ``config.json`` (:func:`shape_from_config`) or an
inline spec ``width=256,heads=4,kv_heads=2,depth=4[,head_dim=64]`` (:func:`parse_inline_spec`);
nothing is downloaded. This module does not import torch except in :func:`param_groups_by_name`
and :func:`roles_by_name`, so ``python -m gqa_mup_ref transfer`` answers quickly.

For a model this package did not define, :func:`roles_by_name` gives each parameter a role from its
name (Llama-style names by default, :data:`LLAMA_PATTERNS`) and :func:`param_groups_by_name`
builds the AdamW parameter groups from a :class:`~gqa_mup_ref.parameterization.Rules`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .parameterization import Rule, Rules, Shape, get_parameterization

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "HF_KEYS",
    "INLINE_KEYS",
    "LLAMA_PATTERNS",
    "Transfer",
    "parse_shape",
    "parse_inline_spec",
    "shape_from_config",
    "transfer",
    "transfer_text",
    "absolute_values",
    "roles_by_name",
    "param_groups_by_name",
    "lr_shift_per_doubling",
]

HF_KEYS = {
    "width": "hidden_size",
    "n_head": "num_attention_heads",
    "n_kv_head": "num_key_value_heads",
    "depth": "num_hidden_layers",
    "head_dim": "head_dim",
}
"""``Shape`` field -> key of a Hugging Face ``config.json``."""

INLINE_KEYS = {"width": "width", "n_head": "heads", "n_kv_head": "kv_heads", "depth": "depth",
               "head_dim": "head_dim"}
"""``Shape`` field -> key of an inline spec."""

_OPTIONAL = ("n_kv_head", "head_dim")  # n_kv_head defaults to n_head, head_dim to width / n_head

_BASE_NAMES = {"lr_factor": "lr", "wd_factor": "weight_decay", "eps_factor": "eps"}
"""A ``Rule`` field that is a factor on a base value -> the name of the absolute value."""


# ----------------------------------------------------------------------------- shapes


def _integer(value: Any, where: str, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {key}={value!r} must be a positive integer; {hint}")
    if value < 1:
        raise ValueError(f"{where}: {key}={value} must be a positive integer; {hint}")
    return value


def _shape(values: Mapping[str, int], where: str) -> Shape:
    """A ``Shape`` whose own validation errors are prefixed with ``where``."""
    values = dict(values)
    values.setdefault("n_kv_head", values["n_head"])
    try:
        return Shape(values["width"], values["depth"], values["n_head"], values["n_kv_head"],
                     head_dim=values.get("head_dim"))
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def shape_from_config(path: str | os.PathLike) -> Shape:
    """The shape in a Hugging Face style ``config.json``; other keys are ignored.

    Reads ``hidden_size``, ``num_attention_heads``, ``num_key_value_heads`` (default: the number of
    heads), ``num_hidden_layers`` and an optional ``head_dim`` (default ``hidden_size / heads``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(f"{path}: cannot read ({reason}); pass a readable config.json or an "
                         "inline spec width=…,heads=…,kv_heads=…,depth=…") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}:{error.colno}: invalid JSON ({error.msg}); "
                         "fix the file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of model settings, got "
                         f"{type(data).__name__}")
    values = {}
    for field, key in HF_KEYS.items():
        if key not in data or (field == "head_dim" and data[key] is None):
            if field in _OPTIONAL:
                continue
            nested = [k for k, v in data.items() if isinstance(v, dict) and key in v]
            hint = (f" (found under {nested[0]!r}: pass that part as its own config.json)"
                    if nested else "")
            raise ValueError(f"{path}: missing key {key!r}{hint}; add it, or pass an inline spec "
                             "width=…,heads=…,kv_heads=…,depth=…")
        values[field] = _integer(data[key], str(path), key, "fix the value in the file")
    return _shape(values, str(path))


def parse_inline_spec(spec: str) -> Shape:
    """``"width=256,heads=4,kv_heads=2,depth=4[,head_dim=64]"`` as a shape (kv_heads defaults to heads)."""
    where = f"spec {spec!r}"
    allowed = ", ".join(INLINE_KEYS.values())
    field_of = {key: field for field, key in INLINE_KEYS.items()}
    values: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, text = (s.strip() for s in part.partition("="))
        if not sep or key not in field_of:
            raise ValueError(f"{where}: {part.strip()!r} is not one of {allowed} as key=value; "
                             "write e.g. width=256,heads=4,kv_heads=2,depth=4")
        if field_of[key] in values:
            raise ValueError(f"{where}: {key} is given twice; give it once")
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{where}: {key}={text!r} must be a positive integer") from None
        values[field_of[key]] = _integer(number, where, key, "use a positive integer")
    missing = [INLINE_KEYS[f] for f in INLINE_KEYS if f not in _OPTIONAL and f not in values]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}; write e.g. "
                         "width=256,heads=4,kv_heads=2,depth=4")
    return _shape(values, where)


def parse_shape(text: str | os.PathLike) -> Shape:
    """A shape from a path to a ``config.json`` (anything without ``=``) or an inline spec."""
    text = os.fspath(text)
    if "=" in text and not Path(text).exists():
        return parse_inline_spec(text)
    return shape_from_config(text)


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
    proxy. ``notes`` are warnings that do not stop the transfer.
    """

    parameterization: str
    proxy: Shape
    target: Shape
    base: dict[str, float]
    proxy_rules: Rules
    target_rules: Rules
    groups: dict[str, dict[str, float]]
    proxy_groups: dict[str, dict[str, float]]
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
            "proxy": shape(self.proxy),
            "target": shape(self.target),
            "base": dict(self.base),
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


def _notes(proxy: Shape, target: Shape) -> list[str]:
    notes = []
    larger = [f"{name} {getattr(proxy, field)} > {getattr(target, field)}"
              for field, name in (("width", "width"), ("depth", "depth"))
              if getattr(proxy, field) > getattr(target, field)]
    if larger:
        notes.append(f"the proxy is larger than the target ({', '.join(larger)}): transferring "
                     "down is allowed, but the rules were tested for growing models")
    if proxy.query_width * target.width != target.query_width * proxy.width:
        factor = proxy.query_ratio / target.query_ratio
        notes.append(
            f"rho = n_q/n differs (proxy {proxy.query_ratio:.4g}, target {target.query_ratio:.4g}): "
            "the width multiplier comes from n alone, but W_O's fan-in is n_q: scaling attn_out "
            f"with n_q instead would give {factor:.4g} x the LR and {factor ** 0.5:.4g} x the init "
            "std printed here; for an exact transfer tune a proxy with the target's rho "
            "(head_dim = rho * width / heads)"
        )
    return notes


def transfer(
    proxy: Shape | str,
    target: Shape | str,
    lr: float,
    weight_decay: float = 0.0,
    init_std: float = 0.02,
    eps: float = 1e-8,
    param: str = "gqa-mup",
    base_width: int | None = None,
    base_depth: int | None = None,
) -> Transfer:
    """Carry base values tuned on ``proxy`` under ``param`` to ``target`` (see the module docstring).

    ``proxy`` and ``target`` are shapes, or text for :func:`parse_shape`. ``base_width`` and
    ``base_depth`` are the base the proxy was tuned with (default: the proxy's width and depth).
    """
    parameterization = get_parameterization(param)
    proxy = parse_shape(proxy) if not isinstance(proxy, Shape) else proxy
    target = parse_shape(target) if not isinstance(target, Shape) else target
    for name, value in (("lr", lr), ("init_std", init_std), ("eps", eps)):
        if not value > 0:
            raise ValueError(f"{name}={value} must be positive (the value tuned on the proxy)")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay={weight_decay} must be non-negative")
    base_width = proxy.width if base_width is None else base_width
    base_depth = proxy.depth if base_depth is None else base_depth
    try:
        proxy = dataclasses.replace(proxy, base_width=base_width, base_depth=base_depth)
        target = dataclasses.replace(target, base_width=base_width, base_depth=base_depth)
    except ValueError as error:
        raise ValueError(f"base: {error}") from None
    proxy_rules = parameterization.rules(proxy, init_std)
    target_rules = parameterization.rules(target, init_std)

    def values(rules: Rules) -> dict[str, dict[str, float]]:
        return {role: absolute_values(rule, lr, weight_decay, eps)
                for role, rule in rules.groups.items()}

    return Transfer(
        parameterization=parameterization.name,
        proxy=proxy,
        target=target,
        base={"lr": lr, "weight_decay": weight_decay, "init_std": init_std, "eps": eps,
              "base_width": base_width, "base_depth": base_depth},
        proxy_rules=proxy_rules,
        target_rules=target_rules,
        groups=values(target_rules),
        proxy_groups=values(proxy_rules),
        notes=tuple(_notes(proxy, target)),
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
        f"(base width {b['base_width']}, base depth {b['base_depth']})",
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


# ----------------------------------------------------------------------------- your own model

LLAMA_PATTERNS: dict[str, str] = {
    "embedding": r"embed_tokens\.weight$",
    "query": r"q_proj\.weight$",
    "key": r"k_proj\.weight$",
    "value": r"v_proj\.weight$",
    "attn_out": r"o_proj\.weight$",
    "mlp_in": r"(gate_proj|up_proj)\.weight$",
    "mlp_out": r"down_proj\.weight$",
    "unembedding": r"lm_head\.weight$",
    "norm": r"norm\.weight$|\.bias$",
}
"""Role -> regular expression searched in a parameter's name (Llama-style names, as in Hugging Face
``LlamaForCausalLM``: ``model.layers.0.self_attn.q_proj.weight``, ``model.norm.weight``, …).
Biases are vector-like, so they share the rule of the norm gains (LR independent of width, no decay).
With tied embeddings the output matrix is ``embed_tokens`` and takes the embedding rule."""


def roles_by_name(model: torch.nn.Module, patterns: Mapping[str, str] | None = None
                  ) -> dict[str, str]:
    """``{parameter name: role}`` for every parameter of ``model``, by regular expressions on names.

    ``patterns`` maps roles to expressions (``re.search``) and replaces those roles' defaults in
    :data:`LLAMA_PATTERNS`; map a role to ``None`` to drop it. Each parameter must match exactly one
    role: otherwise one ``ValueError`` lists every unmatched and every doubly matched name.
    """
    merged = dict(LLAMA_PATTERNS)
    for role, pattern in (patterns or {}).items():
        if pattern is None:
            merged.pop(role, None)
        else:
            merged[role] = pattern
    compiled = {}
    for role, pattern in merged.items():
        try:
            compiled[role] = re.compile(pattern)
        except re.error as error:
            raise ValueError(f"patterns[{role!r}]={pattern!r} is not a regular expression ({error})"
                             ) from None
    roles, unmatched, several = {}, [], []
    for name, _ in model.named_parameters():
        hits = [role for role, regex in compiled.items() if regex.search(name)]
        if len(hits) == 1:
            roles[name] = hits[0]
        elif not hits:
            unmatched.append(name)
        else:
            several.append(f"{name} ({', '.join(hits)})")
    if unmatched or several:
        parts = []
        if unmatched:
            parts.append(f"{len(unmatched)} parameter(s) match no role: {', '.join(unmatched)}")
        if several:
            parts.append(f"{len(several)} match several roles: {', '.join(several)}")
        raise ValueError("; ".join(parts) + "; pass patterns={role: regex} so that each parameter "
                         "name matches exactly one role")
    return roles


def param_groups_by_name(
    model: torch.nn.Module,
    rules: Rules,
    lr: float,
    weight_decay: float = 0.0,
    patterns: Mapping[str, str] | None = None,
    eps: float | None = None,
) -> list[dict]:
    """AdamW parameter groups for any model, one per role found: ``lr · lr_factor``,
    ``weight_decay · wd_factor`` (and ``eps · eps_factor`` when ``eps`` is given and the rules
    have an ε factor). Roles come from :func:`roles_by_name`; ``rules`` is usually
    ``transfer(...).target_rules``. Pass the groups to ``torch.optim.AdamW``.
    """
    roles = roles_by_name(model, patterns)
    unknown = sorted(set(roles.values()) - set(rules.groups))
    if unknown:
        raise ValueError(f"roles {unknown} have no rule in {rules.parameterization}; map those "
                         f"names to one of {', '.join(rules.groups)}")
    by_role: dict[str, list] = {}
    for name, param in model.named_parameters():
        by_role.setdefault(roles[name], []).append(param)
    groups = []
    for role, params in by_role.items():
        rule = rules.groups[role]
        values = absolute_values(rule, lr, weight_decay, 1.0 if eps is None else eps)
        group = {"params": params, "lr": values["lr"], "weight_decay": values["weight_decay"],
                 "role": role}
        if eps is not None and "eps" in values:
            group["eps"] = values["eps"]
        groups.append(group)
    return groups
