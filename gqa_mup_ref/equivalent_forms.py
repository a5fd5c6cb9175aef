"""One rule, two forms: a per-role Adam learning rate as an init-and-multiplier change.

Some training frameworks have one global learning rate (fully sharded setups often flatten every
parameter into one buffer). μP and GQA-μP can still be used there, because Adam is invariant to
the scale of its gradient. Write a parameter as ``W = a·W'`` with a forward multiplier ``a``:

* initialise ``W' = W₀ / a`` (the effective matrix ``a·W'`` starts where ``W₀`` did);
* ``∂L/∂W' = a·∂L/∂W``, so Adam's ``m'/√v'`` is ``m/√v`` and a step of size ``η'`` on ``W'`` moves
  ``a·W'`` by ``a·η'``. With ``a = η_role / η`` the global LR ``η`` reproduces the role's LR.

The equivalence is exact up to three things the forms treat differently:

* **Adam ε** is added to ``√v' = a·√v``: the reparameterized role needs ``ε' = a·ε``; one global ε
  acts like ``ε/a`` in the original form.
* **Weight decay** (decoupled, AdamW) shrinks by ``lr·λ`` per step: the role needs
  ``λ' = a·λ_role`` (its shrink ``η_role·λ_role``). Under μP's independent decay ``λ_role = λ/a`` and
  one global ``λ`` is exact; copying the table's per-role decay coefficient is not.
* **Gradient clipping** by the global norm sees ``a·∇W``, a different norm (not handled here).

:func:`to_single_lr` builds the second form of a model, :func:`single_lr_groups` its optimizer
groups, and :func:`compare_trajectories` trains both and reports how far apart they end up.
:func:`shrink_kv_init` emulates the GQA-μP authors' early key/value rule (init ``1/(1+√r)``).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import torch

from .model import GQATransformer, RoleLinear
from .spectral import rank_correction
from .train import RunConfig, build

__all__ = ["to_single_lr", "single_lr_groups", "compare_trajectories", "shrink_kv_init"]


def _eps_factor(rule) -> float:
    # Chapter 3 adds a per-role ε factor to the rules; before it, ε is the same for every role.
    return float(getattr(rule, "eps_factor", 1.0))


def to_single_lr(model: GQATransformer) -> GQATransformer:
    """A copy of ``model`` whose linear maps carry their Adam LR factor as a forward multiplier.

    Each :class:`~gqa_mup_ref.model.RoleLinear` of role LR factor ``a`` gets multiplier ``a·μ``
    (``μ`` its own) and weight ``W / a``: the same function, trained at LR ``η`` instead of ``a·η``.
    Roles without a multiplier (embeddings, norm gains) must already have LR factor 1.
    """
    rules = model.rules
    for role in ("embedding", "norm"):
        if role in rules.groups and not math.isclose(rules.groups[role].lr_factor, 1.0):
            raise ValueError(
                f"role {role!r} has LR factor {rules.groups[role].lr_factor:g} but no forward "
                "multiplier to absorb it; use alpha=1 or alpha=0 (norm LR factor 1), or keep that "
                "role in its own optimizer group"
            )
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, RoleLinear):
                a = rules.groups[module.role].lr_factor
                module.multiplier = module.multiplier * a
                module.weight.div_(a)
    return twin


def single_lr_groups(
    twin: GQATransformer, lr: float, weight_decay: float = 0.0, eps: float = 1e-8,
    eps_mode: str = "exact", decay_mode: str = "exact",
) -> list[dict]:
    """AdamW groups for :func:`to_single_lr`'s model: LR ``lr`` for every group.

    ``eps_mode="exact"`` gives role ``ε·a·ε_factor`` (the same training as the original form);
    ``"global"`` gives every group ``ε``. ``decay_mode="exact"`` gives ``λ·a·wd_factor``;
    ``"table"`` copies the per-role decay coefficient ``λ·wd_factor`` of the rule table, which is
    right only for a role whose LR factor is 1.
    """
    if eps_mode not in ("exact", "global"):
        raise ValueError(f"eps_mode={eps_mode!r}; choose 'exact' or 'global'")
    if decay_mode not in ("exact", "table"):
        raise ValueError(f"decay_mode={decay_mode!r}; choose 'exact' or 'table'")
    groups = []
    for role, params in twin.parameters_by_role().items():
        rule = twin.rules.groups[role]
        a = rule.lr_factor
        groups.append({
            "params": params, "lr": lr, "role": role,
            "weight_decay": weight_decay * rule.wd_factor * (a if decay_mode == "exact" else 1.0),
            "eps": eps * _eps_factor(rule) * (a if eps_mode == "exact" else 1.0),
        })
    return groups


def shrink_kv_init(model: GQATransformer) -> None:
    """Multiply every key and value weight by ``1/(1 + √r) = 1/(2 c(r))`` in place (the early GQA-μP init)."""
    scale = 1 / (2 * rank_correction(model.config.shape.r))
    with torch.no_grad():
        for _, weight in model.kv_weights():
            weight.mul_(scale)


def _effective(model: GQATransformer) -> dict[str, torch.Tensor]:
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, RoleLinear):
            out[name] = module.weight.detach() * module.multiplier
    return out


def compare_trajectories(
    config: RunConfig, steps: int = 10, eps: float = 1e-8, eps_mode: str = "exact",
    decay_mode: str = "exact", dtype: torch.dtype = torch.float64,
) -> dict:
    """Train ``config``'s model in both forms on the same batches and measure the gap.

    The original form uses the package's per-role AdamW groups (LR ``η·a``, decay
    ``λ·wd_factor``, ε ``eps·ε_factor``); the second form :func:`to_single_lr` with
    :func:`single_lr_groups`. Constant LR, no clipping, ``config.weight_decay`` as ``λ``. Returns
    ``losses`` (pairs per step), ``loss_gap`` (largest relative loss difference) and
    ``weight_gap`` (largest ``‖W_a − W_b‖_F / ‖W_a‖_F`` over linear maps, effective weights).
    """
    if steps < 1:
        raise ValueError(f"steps={steps} must be a positive integer")
    config = dataclasses.replace(config, grad_clip=0.0)
    model, _, corpus = build(config)
    model = model.to(dtype)
    twin = to_single_lr(model)
    from .parameterization import build_adamw

    opt_a = build_adamw(model, config.lr, config.weight_decay, eps=eps)
    opt_b = torch.optim.AdamW(
        single_lr_groups(twin, config.lr, config.weight_decay, eps, eps_mode, decay_mode),
        betas=opt_a.defaults["betas"])
    batches = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in range(steps):
        x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
        pair = []
        for net, opt in ((model, opt_a), (twin, opt_b)):
            opt.zero_grad(set_to_none=True)
            loss = net(x, y)[1]
            loss.backward()
            opt.step()
            pair.append(loss.item())
        losses.append(tuple(pair))
    wa, wb = _effective(model), _effective(twin)
    weight_gap = max(float((wa[k] - wb[k]).norm() / wa[k].norm()) for k in wa)
    loss_gap = max(abs(a - b) / abs(a) for a, b in losses)
    return {"losses": losses, "loss_gap": loss_gap, "weight_gap": weight_gap,
            "eps": eps, "eps_mode": eps_mode, "decay_mode": decay_mode}
