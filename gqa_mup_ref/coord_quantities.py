"""What a coordinate check measures on one model, per layer and training step.

:func:`measure_quantities` trains one model a few steps of AdamW at its parameterization's learning
rates and records, per layer and step (:data:`QUANTITIES`):

* ``act_rms`` — the RMS entry of the layer's output on one fixed batch, ``√(mean h²)``; the
  attention logits ``q·k·scale`` of each block are recorded too, as a layer ``…attn.logits`` of
  role ``attn_logits`` (causal entries only);
* ``dact_rms`` — the RMS entry of its change since initialisation on that same batch,
  ``√(mean (h_t − h_0)²)``;
* ``own_change`` — for each linear map, the RMS change its *own* update causes on its initial
  input, relative to its initial output: ``rms(ΔW·x₀) / rms(W₀·x₀)`` (``dact_rms`` also contains
  the change of the input, which every layer reading the same input shares);
* ``w_norm`` — the natural spectral norm ``‖W‖₂·√(n_in/n_out)`` of the layer's effective matrix
  (forward multiplier included, e.g. the ``1/m`` on the logits);
* ``dw_norm`` — the same norm of the update ``ΔW = W_t − W_0``;
* ``rel_update`` — ``‖ΔW‖₂ / ‖W₀‖₂``, how far the layer moved relative to its size.

Keys and values are also recorded as the operators attention actually applies, the ``r``-fold
row repetitions ``K⊕`` and ``V⊕`` (:func:`gqa_mup_ref.spectral.repeat_kv_rows`), as layers named
``…key⊕`` / ``…value⊕``. (Their natural norms equal those of ``W_K``, ``W_V``: repetition multiplies
``‖W‖₂`` by ``√r`` and ``n_out`` by ``r``. It is the plain spectral norm, compared with a dense
layer's, that sees the rank deficiency.) For keys and values, the invariants of Chapter 2 are
recorded against the same block's ``W_Q`` — a dense ``n_q × n`` hidden matrix with the same init,
which stands for "the hidden layers":

* ``own_change_vs_query`` — ``(Δk/k) ÷ (Δq/q)``, per-coordinate change (on ``key``/``value``);
* ``rel_update_vs_query`` — ``(‖ΔK⊕‖/‖K⊕‖) ÷ (‖ΔW_Q‖/‖W_Q‖)`` (on ``key⊕``/``value⊕``);
* ``norm_vs_query`` — ``‖K⊕‖₂ ÷ ‖W_Q‖₂``, the repeated operator against a dense one of its shape;
* ``loss_share_vs_query`` — ``⟨∇W_K, ΔW_K⟩ ÷ ⟨∇W_Q, ΔW_Q⟩`` for the step just taken, the share of
  the first-order loss decrease (on ``key``/``value``).

:func:`gqa_mup_ref.coordcheck.coord_check` measures a family of models this way; the predictions the
measurements are compared with live there too. ``coordcheck`` re-exports the public names of this module.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch

from .model import Block, RoleLinear
from .spectral import repeat_kv_rows, spectral_norm
from .train import RunConfig, build, optimizer_step

__all__ = [
    "QUANTITIES",
    "KV_QUANTITIES",
    "QUANTITY_NAMES",
    "layer_role",
    "zero_queries",
    "measure_quantities",
]


QUANTITIES = ("act_rms", "dact_rms", "own_change", "w_norm", "dw_norm", "rel_update",
              "own_change_vs_query", "rel_update_vs_query", "norm_vs_query", "loss_share_vs_query")
"""What a row's ``value`` measures; see the module docstring."""


KV_QUANTITIES = ("own_change_vs_query", "rel_update_vs_query", "norm_vs_query", "loss_share_vs_query")
"""The key/value invariants, each measured against the same block's ``W_Q``."""

QUANTITY_NAMES = {"act_rms": "RMS of the output", "dact_rms": "RMS change of the output",
                  "own_change": "own change", "w_norm": "‖W‖₂", "dw_norm": "‖ΔW‖₂", "rel_update": "‖ΔW‖₂ / ‖W‖₂",
                  "own_change_vs_query": "own change ÷ $W_Q$'s", "rel_update_vs_query": "relative update ÷ $W_Q$'s",
                  "norm_vs_query": "spectral norm ÷ $W_Q$'s", "loss_share_vs_query": "loss share ÷ $W_Q$'s"}
"""Each of :data:`QUANTITIES` as a reader names it on a coordinate-check figure's axis
(:func:`~gqa_mup_ref.plots.plot_coord_check`) and in chapter 4's tables (:func:`~gqa_mup_ref.coordcheck.quantity_name`);
the ``$W_Q$`` is MyST math in a table, mathtext in a figure. The key/value panels' longer titles
(``coordcheck.KV_PANELS``, ``family.PANELS``) say the same quantities in more words. The data keep their keys."""


def layer_role(model: torch.nn.Module, name: str) -> str:
    """Role of a recorded layer: its parameter role, ``block``, ``final_norm`` or the embedding's name."""
    if name.endswith(".logits"):
        return "attn_logits"
    module = model.get_submodule(name)
    if isinstance(module, RoleLinear):
        return module.role
    if isinstance(module, Block):
        return "block"
    return name.split(".")[-1]


def zero_queries(model: torch.nn.Module) -> list[str]:
    """Names of the query projections of ``model`` whose weights are all zero."""
    return [name for name, module in model.named_modules()
            if isinstance(module, RoleLinear) and module.role == "query"
            and not bool(module.weight.detach().any())]


def _spectral(matrix: torch.Tensor) -> float:
    """``‖A‖₂`` of the transposed matrix when it is wide (same value; LAPACK is much faster on tall ones)."""
    return spectral_norm(matrix if matrix.shape[0] >= matrix.shape[1] else matrix.T)


def _natural(matrix: torch.Tensor) -> float:
    """:func:`~gqa_mup_ref.spectral.natural_spectral_norm`, computed by :func:`_spectral`."""
    n_out, n_in = matrix.shape
    return _spectral(matrix) * math.sqrt(n_in / n_out)


def _rms(tensor: torch.Tensor) -> float:
    return float(tensor.double().square().mean().sqrt())


def _matrices(model) -> dict[str, tuple[str, torch.Tensor]]:
    """``name -> (role, effective matrix)`` of every role-carrying linear map (multiplier included)."""
    shape = model.config.shape
    out = {}
    for name, module in model.named_modules():
        if not isinstance(module, RoleLinear):
            continue
        weight = module.weight.detach() * module.multiplier
        out[name] = (module.role, weight.clone())
        if module.role in ("key", "value"):
            out[f"{name}⊕"] = (f"{module.role}⊕", repeat_kv_rows(weight, shape.r, shape.head_dim))
    return out


def _attention_logits(model, records: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``blocks.i.attn.logits -> q·k·scale`` on the causal entries, from recorded ``q`` and ``k``."""
    shape = model.config.shape
    out = {}
    for i, block in enumerate(model.blocks):
        q, k = records[f"blocks.{i}.attn.query"], records[f"blocks.{i}.attn.key"]
        B, T, _ = q.shape
        q = q.view(B, T, shape.n_head, shape.head_dim).transpose(1, 2)  # (B, H, T, d)
        k = k.view(B, T, shape.n_kv_head, shape.head_dim).transpose(1, 2)  # (B, H_kv, T, d)
        k = k.repeat_interleave(shape.r, dim=1)  # (B, H, T, d): query head h reads head h // r
        scores = (q @ k.transpose(-1, -2)) * block.attn.scale  # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        out[f"blocks.{i}.attn.logits"] = scores[..., causal]
    return out


def measure_quantities(config: RunConfig, vary: str, x: Any, steps: int = 4, batch_seed: int = 1234,
                       prepare: Callable[[torch.nn.Module], None] | None = None,
                       label: str | None = None) -> list[dict]:
    """Tidy rows of every quantity of :data:`QUANTITIES`, per layer, for ``steps`` AdamW steps of one model.

    The model, its optimizer and its corpus come from :func:`gqa_mup_ref.train.build` (every scale from the
    parameterization); ``prepare(model)`` may then change the initial weights in place, and ``label`` names
    such a variant (default: the key/value factor). Activation sizes are measured on one fixed batch
    (drawn with ``batch_seed``), the training batches come from ``config.seed``. ``vary`` and ``x`` only
    label the rows: ``vary, x, parameterization, kv_factor, variant, width, depth, n_head, n_kv_head, r,
    seed, step, layer, role, quantity, value`` for steps ``0…steps`` (update quantities from step 1).
    :func:`gqa_mup_ref.coordcheck.coord_check` calls it once per model of a family and seed.

    Warns (``RuntimeWarning``, pointing at the caller of ``coord_check``) when the query weights are zero at
    initialisation (:func:`zero_queries`).
    """
    model, optimizer, corpus = build(config)
    if prepare is not None:
        with torch.no_grad():
            prepare(model)
    zero = zero_queries(model)
    if zero:
        warnings.warn(
            f"query weights are zero at initialisation in {', '.join(zero)}: the first gradient of "
            "every key is then exactly zero (∂L/∂k ∝ q), so step 1 moves no key and the key/value "
            "ratios of step 1 are 0 or undefined. Initialise W_Q with the rule's std (σ₀/√m), or "
            "read the key/value quantities from step 2 on.",
            RuntimeWarning, stacklevel=3,
        )
    shape = config.shape
    kv_factor = model.parameterization.kv_factor
    common = {"vary": vary, "x": x, "parameterization": config.parameterization,
              "kv_factor": kv_factor, "variant": label or kv_factor, "width": shape.width,
              "depth": shape.depth, "n_head": shape.n_head, "n_kv_head": shape.n_kv_head,
              "r": shape.r, "seed": config.seed}
    probe_x, _ = corpus.get_batch("train", config.batch_size, config.context_length,
                                  torch.Generator().manual_seed(batch_seed))
    batches = torch.Generator().manual_seed(config.seed)
    linears = {name: module for name, module in model.named_modules() if isinstance(module, RoleLinear)}
    rows: list[dict] = []

    def add(step: int, layer: str, role: str, quantity: str, value: float) -> None:
        rows.append(common | {"step": step, "layer": layer, "role": role,
                              "quantity": quantity, "value": value})

    def probe() -> dict[str, torch.Tensor]:
        with torch.no_grad(), model.record_activations() as records:
            model(probe_x)
        acts = {name: t.clone() for name, t in records.items()}
        return acts | _attention_logits(model, acts)

    inputs0: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_pre_hook(
        lambda _m, args, name=name: inputs0.__setitem__(name, args[0].detach().clone()))
        for name, module in linears.items()]
    try:
        acts0 = probe()
    finally:
        for handle in handles:
            handle.remove()
    mats0 = _matrices(model)
    natural0 = {name: _natural(matrix) for name, (_, matrix) in mats0.items()}
    outs0 = {name: mats0[name][1].to(inputs0[name].dtype) for name in linears}
    outs0 = {name: inputs0[name] @ w.T for name, w in outs0.items()}
    roles = {name: layer_role(model, name) for name in acts0}
    attn = [f"blocks.{i}.attn" for i in range(len(model.blocks))]
    for step in range(steps + 1):
        share: dict[str, float] = {}
        if step:
            before = {f"{a}.{k}": linears[f"{a}.{k}"].weight.detach().clone()
                      for a in attn for k in ("query", "key", "value")}
            xb, yb = corpus.get_batch("train", config.batch_size, config.context_length, batches)
            optimizer_step(model, optimizer, model(xb, yb)[1])
            for name, w_before in before.items():
                weight = linears[name].weight
                grad = weight.grad if weight.grad is not None else torch.zeros_like(weight)
                share[name] = float((grad.double() * (weight.detach() - w_before).double()).sum())
        acts = acts0 if step == 0 else probe()
        mats = mats0 if step == 0 else _matrices(model)
        for name, act in acts.items():
            add(step, name, roles[name], "act_rms", _rms(act))
            if step:
                add(step, name, roles[name], "dact_rms", _rms(act - acts0[name]))
        own: dict[str, float] = {}
        rel: dict[str, float] = {}
        norm: dict[str, float] = {}
        for name, (role, matrix) in mats.items():
            norm[name] = _spectral(matrix)
            n_out, n_in = matrix.shape
            add(step, name, role, "w_norm", norm[name] * math.sqrt(n_in / n_out))
            if step:
                delta = matrix - mats0[name][1]
                update = _natural(delta)
                add(step, name, role, "dw_norm", update)
                rel[name] = _ratio(update, natural0[name])
                add(step, name, role, "rel_update", rel[name])
                if name in linears:
                    base_out = _rms(outs0[name])
                    own[name] = _rms(inputs0[name] @ delta.to(inputs0[name].dtype).T) / base_out \
                        if base_out > 0 else math.nan
                    add(step, name, role, "own_change", own[name])
        for a in attn:
            for kind in ("key", "value"):
                add(step, f"{a}.{kind}⊕", f"{kind}⊕", "norm_vs_query",
                    _ratio(norm[f"{a}.{kind}⊕"], norm[f"{a}.query"]))
                if not step:
                    continue
                add(step, f"{a}.{kind}⊕", f"{kind}⊕", "rel_update_vs_query",
                    _ratio(rel[f"{a}.{kind}⊕"], rel[f"{a}.query"]))
                add(step, f"{a}.{kind}", kind, "own_change_vs_query",
                    _ratio(own[f"{a}.{kind}"], own[f"{a}.query"]))
                add(step, f"{a}.{kind}", kind, "loss_share_vs_query",
                    _ratio(share[f"{a}.{kind}"], share[f"{a}.query"]))
    return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 and math.isfinite(b) else math.nan
