"""The coordinate check: are activations and updates the same size at every width, depth and r?

μP's standard instrument (Yang et al., Tensor Programs V), extended for grouped-query attention.
For each model of a family that differs in one quantity (width, depth, number of KV heads, …) we
train ``k`` steps of AdamW at the parameterization's learning rates and record, per layer and step:

* ``act_rms`` — the RMS entry of the layer's output on one fixed batch, ``√(mean h²)``;
* ``dact_rms`` — the RMS entry of its change since initialisation on that same batch,
  ``√(mean (h_t − h_0)²)``;
* ``w_norm`` — the natural spectral norm ``‖W‖₂·√(n_in/n_out)`` of the layer's effective matrix
  (forward multiplier included, e.g. the ``1/m`` on the logits);
* ``dw_norm`` — the same norm of the update ``ΔW = W_t − W_0``;
* ``rel_update`` — ``‖ΔW‖₂ / ‖W₀‖₂``, how far the layer moved relative to its size: the quantity
  GQA-μP equalises between ``K⊕``, ``V⊕`` and the other hidden layers (flat in ``r``).

Keys and values are also recorded as the operators attention actually applies, the ``r``-fold
row repetitions ``K⊕`` and ``V⊕`` (:func:`gqa_mup_ref.spectral.repeat_kv_rows`), as layers named
``…key⊕`` / ``…value⊕``. (Their natural norms equal those of ``W_K``, ``W_V``: repetition multiplies
``‖W‖₂`` by ``√r`` and ``n_out`` by ``r``. It is the plain spectral norm, compared with a dense
``n × n`` layer's, that sees the rank deficiency.) Under a parameterization that transfers, every quantity is flat in the
varied size: :func:`flatness` fits the log-log slope per layer, which should be near 0.

Training uses the run's learning rates at full strength from the first step (no warm-up, no
clipping), so that the first steps are the ones the check looks at.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .model import Block, RoleLinear
from .spectral import natural_spectral_norm, repeat_kv_rows
from .train import RunConfig, build, optimizer_step

__all__ = ["QUANTITIES", "coord_check", "flatness", "layer_role"]

QUANTITIES = ("act_rms", "dact_rms", "w_norm", "dw_norm", "rel_update")
"""What a row's ``value`` measures; see the module docstring."""


def layer_role(model: torch.nn.Module, name: str) -> str:
    """Role of a recorded layer: its parameter role, ``block``, ``final_norm`` or the embedding's name."""
    module = model.get_submodule(name)
    if isinstance(module, RoleLinear):
        return module.role
    if isinstance(module, Block):
        return "block"
    return name.split(".")[-1]


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


def coord_check(
    base: RunConfig,
    vary: str,
    values: Sequence[Any],
    steps: int = 4,
    seeds: Sequence[int] = (0,),
    batch_seed: int = 1234,
) -> list[dict]:
    """Tidy rows of the coordinate check of ``base`` with field ``vary`` set to each of ``values``.

    A value may be a dict of several fields (e.g. ``{"width": 256, "n_head": 8}``); its ``vary``
    entry is the row's ``x``. Each model is built by :func:`gqa_mup_ref.train.build`, so every scale
    comes from the parameterization. Rows: ``vary, x, parameterization, kv_factor, width, depth,
    n_head, n_kv_head, r, seed, step, layer, role, quantity, value`` for steps ``0…steps``
    (update quantities from step 1).
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
            rows.extend(_check_one(config, vary, changes[vary], steps, batch_seed))
    return rows


def _check_one(config: RunConfig, vary: str, x: Any, steps: int, batch_seed: int) -> list[dict]:
    model, optimizer, corpus = build(config)
    shape = config.shape
    common = {"vary": vary, "x": x, "parameterization": config.parameterization,
              "kv_factor": config.kv_factor, "width": shape.width, "depth": shape.depth,
              "n_head": shape.n_head, "n_kv_head": shape.n_kv_head, "r": shape.r,
              "seed": config.seed}
    probe_x, _ = corpus.get_batch("train", config.batch_size, config.context_length,
                                  torch.Generator().manual_seed(batch_seed))
    batches = torch.Generator().manual_seed(config.seed)
    rows: list[dict] = []

    def add(step: int, layer: str, role: str, quantity: str, value: float) -> None:
        rows.append(common | {"step": step, "layer": layer, "role": role,
                              "quantity": quantity, "value": value})

    def probe() -> dict[str, torch.Tensor]:
        with torch.no_grad(), model.record_activations() as records:
            model(probe_x)
        return {name: t.clone() for name, t in records.items()}

    acts0, mats0 = probe(), _matrices(model)
    roles = {name: layer_role(model, name) for name in acts0}
    for step in range(steps + 1):
        if step:
            x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
            optimizer_step(model, optimizer, model(x, y)[1])
        acts = acts0 if step == 0 else probe()
        mats = mats0 if step == 0 else _matrices(model)
        for name, act in acts.items():
            add(step, name, roles[name], "act_rms", _rms(act))
            if step:
                add(step, name, roles[name], "dact_rms", _rms(act - acts0[name]))
        for name, (role, matrix) in mats.items():
            add(step, name, role, "w_norm", natural_spectral_norm(matrix))
            if step:
                update = natural_spectral_norm(matrix - mats0[name][1])
                add(step, name, role, "dw_norm", update)
                add(step, name, role, "rel_update", update / natural_spectral_norm(mats0[name][1]))
    return rows


def flatness(rows: Sequence[Mapping], group: str = "layer") -> list[dict]:
    """Fitted slope of ``log value`` against ``log x`` per (parameterization, layer, quantity, step).

    ``value ∝ x^slope``: a slope near 0 is what transfer needs; under SP, hidden updates grow
    about linearly in width (slope ≈ 1). ``group="role"`` first pools the layers of one role (RMS
    over blocks), which compares models of different depths. Non-positive values are skipped;
    returned rows hold ``parameterization, layer (or role), role, quantity, step, slope,
    n_points, ratio`` where ``ratio`` is the value at the largest ``x`` over that at the smallest.
    """
    if group not in ("layer", "role"):
        raise ValueError(f"group={group!r}; choose 'layer' or 'role'")
    pooled: dict[tuple, list[float]] = {}
    role_of: dict[str, str] = {}
    for row in rows:
        name = row[group]
        role_of[name] = row["role"]
        key = (row["parameterization"], row["kv_factor"], name, row["quantity"], row["step"],
               row["x"], row["seed"])
        pooled.setdefault(key, []).append(float(row["value"]))
    series: dict[tuple, list[tuple[float, float]]] = {}
    for (param, kv, name, quantity, step, x, _), vals in pooled.items():
        value = math.sqrt(sum(v * v for v in vals) / len(vals))
        if value > 0 and math.isfinite(value) and float(x) > 0:
            series.setdefault((param, kv, name, quantity, step), []).append(
                (math.log(float(x)), math.log(value)))
    out = []
    for (param, kv, name, quantity, step), points in sorted(series.items(), key=str):
        xs = sorted({p[0] for p in points})
        if len(xs) < 2:
            continue
        slope = _slope(points)
        mean_at = {x: sum(v for u, v in points if u == x) / sum(u == x for u, _ in points)
                   for x in xs}
        out.append({"parameterization": param, "kv_factor": kv, group: name,
                    "role": role_of[name], "quantity": quantity, "step": step, "slope": slope,
                    "n_points": len(points), "ratio": math.exp(mean_at[xs[-1]] - mean_at[xs[0]])})
    return out


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``v`` on ``u`` for points ``(u, v)``."""
    n = len(points)
    mu = sum(p[0] for p in points) / n
    mv = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mu) ** 2 for p in points)
    sxy = sum((p[0] - mu) * (p[1] - mv) for p in points)
    return sxy / sxx
