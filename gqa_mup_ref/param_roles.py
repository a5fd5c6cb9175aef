"""Your own model: each parameter's role from its name, and AdamW groups from a rule table.

For a model this package did not define (a Hugging Face Llama, say), :func:`roles_by_name` gives each
parameter a role from its name (Llama-style names by default, :data:`LLAMA_PATTERNS`) and
:func:`param_groups_by_name` builds the AdamW parameter groups from a
:class:`~gqa_mup_ref.parameterization.Rules` (usually :attr:`gqa_mup_ref.transfer.Transfer.target_rules`):
each group's learning rate is ``lr · lr_factor`` and its decay ``weight_decay · wd_factor``, the role's rule.
Names survive wrappers that keep them (FSDP's prefixes, ``torch.compile``), which tensor metadata does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .parameterization import Rules
from .transfer import absolute_values

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["LLAMA_PATTERNS", "FUSED_QKV", "roles_by_name", "param_groups_by_name"]

LLAMA_PATTERNS: dict[str, str] = {
    "embedding": r"(^|\.)embed_tokens\.weight$",
    "query": r"(^|\.)q_proj\.weight$",
    "key": r"(^|\.)k_proj\.weight$",
    "value": r"(^|\.)v_proj\.weight$",
    "attn_out": r"(^|\.)o_proj\.weight$",
    "mlp_in": r"(^|\.)(gate_proj|up_proj|gate_up_proj)\.weight$",
    "mlp_out": r"(^|\.)down_proj\.weight$",
    "unembedding": r"(^|\.)lm_head\.weight$",
    "norm": r"norm\.weight$|\.bias$",
}
"""Role -> regular expression searched in a parameter's name (Llama-style names, as in Hugging Face
``LlamaForCausalLM``: ``model.layers.0.self_attn.q_proj.weight``, ``model.norm.weight``, …).
Biases are vector-like, so they share the rule of the norm gains (LR independent of width, no decay).
With tied embeddings the output matrix is ``embed_tokens`` and takes the embedding rule. Names are matched
whole (``qkv_proj`` is not ``v_proj``): a fused gate/up projection (``gate_up_proj``) is one ``mlp_in``
matrix, since both halves take that rule; a fused query/key/value projection is refused (:data:`FUSED_QKV`)."""

FUSED_QKV = r"(^|\.)(qkv_proj|query_key_value|Wqkv|c_attn)\.weight$"
"""Names of fused query/key/value matrices (Phi-3, Falcon/GPT-NeoX, MPT, GPT-2): their rows take three
different rules (query, and key/value with the key/value factor), so one role cannot describe them."""


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
        fused = [name for name in unmatched if re.search(FUSED_QKV, name)]
        if fused:
            parts.append(f"{len(fused)} fused query/key/value projection(s) ({', '.join(fused)}) take three "
                         "rules in one matrix: split each into q_proj, k_proj and v_proj (e.g. load the model as "
                         "its unfused Llama equivalent) before building the groups")
            unmatched = [name for name in unmatched if name not in fused]
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
