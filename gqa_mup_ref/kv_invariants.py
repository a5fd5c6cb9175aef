"""Which size of the repeated key/value operator counts? Three invariants, and input alignment.

Chapter 2 shows that ``K⊕ = P W_K`` has two sizes: its spectral norm is ``c(r) = (1 + √r)/2``
times a dense matrix's, its typical gain on random inputs is the dense one. Each choice of what a
key/value update should keep equal to the hidden layers' picks a different learning-rate factor:

* the per-coordinate change of keys (values), ``rms(ΔW_K x) / rms(W_K x)`` on the layer's own
  inputs, over the same ratio for queries: kept flat by plain μP (``kv_factor="none"``);
* the spectral relative update ``‖ΔK⊕‖₂ / ‖K⊕‖₂`` (``= ‖ΔW_K‖₂ / ‖W_K‖₂``) over ``W_Q``'s: kept
  flat by GQA-μP (``"gqa"``, ``c(r)``);
* the first-order loss decrease ``−⟨∇W_K, ΔW_K⟩`` over ``−⟨∇W_Q, ΔW_Q⟩``: kept flat by ``√r``
  (``"sqrt-r"``), since Adam's first step ``−η sign(∇)`` gives ``η‖∇‖₁`` and ``∇W_K`` sums ``r``
  nearly independent head gradients (entries ``√r`` larger, ``r`` times fewer of them).

:func:`one_step_invariants` measures all three after one AdamW step of the reference model;
:func:`invariant_table` normalises them to ``r = 1``. :func:`input_alignment` measures the reason
one might prefer the spectral norm: whether the inputs a trained ``W_K`` receives come to lie
along its top singular directions, against the random-input baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .spectral import repeat_kv_rows, spectral_norm, stable_rank

__all__ = [
    "INVARIANTS",
    "one_step_invariants",
    "invariant_table",
    "input_alignment",
    "alignment_summary",
    "plot_alignment",
]

INVARIANTS = {
    "coordinate": r"per-coordinate change $\Delta k/k \div \Delta q/q$",
    "spectral": (r"spectral relative update $\lVert\Delta K_\oplus\rVert/\lVert K_\oplus\rVert"
                 r" \div \lVert\Delta W_Q\rVert/\lVert W_Q\rVert$"),
    "loss": (r"first-order loss decrease $\langle\nabla W_K, \Delta W_K\rangle"
             r" \div \langle\nabla W_Q, \Delta W_Q\rangle$"),
}
"""The three quantities a key/value rule may keep equal to the hidden layers' (name -> meaning, in Markdown with
MyST math; a norm is ``\\lVert … \\rVert``, as a ``|`` would split a table's cell): ``coordinate``, the
per-coordinate change of a key over a query's; ``spectral``, the spectral relative update of ``K⊕`` over
``W_Q``'s; ``loss``, the first-order loss decrease of ``W_K`` over ``W_Q``'s.

:meta hide-value:
"""

_KINDS = ("query", "key", "value")
_LABELS = {"query": "$W_Q$", "key": r"$K_\oplus$", "value": r"$V_\oplus$"}


def _config(kv_factor: str | None, r: int, width: int, n_head: int, depth: int, lr: float, batch_size: int,
            context_length: int, seed: int, parameterization: str = "mup"):
    from .kv_repetition import reference_config

    return reference_config(parameterization, r, width, n_head, depth, lr, batch_size, context_length,
                            seed, kv_factor)


def _attention_inputs(model, tokens: torch.Tensor) -> list[torch.Tensor]:
    """The LayerNorm'd residual stream each block's attention reads, ``(B·T, n)`` per block (float64)."""
    captured: list[torch.Tensor] = []
    hooks = [block.attn.register_forward_hook(
        lambda _module, args, _out: captured.append(args[0].detach().reshape(-1, args[0].shape[-1]).double()))
        for block in model.blocks]
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def one_step_invariants(
    kv_factor: str,
    r: int,
    width: int = 256,
    n_head: int = 16,
    depth: int = 2,
    lr: float = 2**-5.5,
    batch_size: int = 16,
    context_length: int = 64,
    seed: int = 0,
) -> list[dict]:
    """The three invariants after one AdamW step of the reference model, per block and per kind.

    Builds ``mup`` with key/value factor ``kv_factor`` (base width = ``width``: ``lr`` is the base
    LR), takes one AdamW step (gradients clipped at 1, as in chapter 2's training step) and, with
    ``W`` the weights at initialisation, ``ΔW`` the step, ``∇W`` the step's gradient and ``x`` the
    attention inputs of the same batch at initialisation, reports for ``kind`` in keys and values

    * ``coordinate``: ``(rms(ΔW_K x)/rms(W_K x)) / (rms(ΔW_Q x)/rms(W_Q x))``;
    * ``spectral``: ``(‖ΔW_K‖₂/‖W_K‖₂) / (‖ΔW_Q‖₂/‖W_Q‖₂)`` (the repetition cancels: ``P/√r``
      is an isometry);
    * ``loss``: ``⟨∇W_K, ΔW_K⟩ / ⟨∇W_Q, ΔW_Q⟩``;

    and the stable ranks of ``ΔW`` (``stable_rank``, ``stable_rank_query``).
    """
    from .train import build, optimizer_step

    model, optimizer, corpus = build(_config(kv_factor, r, width, n_head, depth, lr, batch_size,
                                             context_length, seed))
    tokens, targets = corpus.get_batch("train", batch_size, context_length, torch.Generator().manual_seed(seed))
    inputs = _attention_inputs(model, tokens)
    initial = {(i, k): getattr(b.attn, k).weight.detach().double().clone()
               for i, b in enumerate(model.blocks) for k in _KINDS}
    _, loss = model(tokens, targets)
    optimizer_step(model, optimizer, loss, grad_clip=1.0)  # the clip scales every gradient alike
    records = []
    for i, block in enumerate(model.blocks):
        x = inputs[i]
        measured = {}
        for kind in _KINDS:
            layer = getattr(block.attn, kind)
            w0 = initial[i, kind]
            delta = layer.weight.detach().double() - w0
            grad = layer.weight.grad.detach().double()
            measured[kind] = {
                "coordinate": float((x @ delta.T).square().mean().sqrt() / (x @ w0.T).square().mean().sqrt()),
                "spectral": spectral_norm(delta) / spectral_norm(w0),
                "loss": float((grad * delta).sum()),
                "stable_rank": stable_rank(delta),
            }
        for kind in ("key", "value"):
            records.append({
                "kv_factor": kv_factor, "r": r, "seed": seed, "block": i, "kind": kind,
                **{name: measured[kind][name] / measured["query"][name] for name in INVARIANTS},
                "stable_rank": measured[kind]["stable_rank"],
                "stable_rank_query": measured["query"]["stable_rank"],
            })
    return records


def invariant_table(records: list[dict]) -> dict[tuple[str, str, str, int], float]:
    """``(kv_factor, kind, invariant, r) -> value(r) / value(r = 1)``, geometric mean over seeds and blocks.

    Normalising by the same factor, kind, seed and block at ``r = 1`` keeps what the repetition
    changes (at ``r = 1`` keys and values already differ from queries by a constant).
    """
    base = {(rec["kv_factor"], rec["kind"], rec["seed"], rec["block"]): rec for rec in records if rec["r"] == 1}
    if not base:
        raise ValueError("invariant_table needs the r = 1 records as reference")
    logs: dict[tuple[str, str, str, int], list[float]] = {}
    for rec in records:
        ref = base[rec["kv_factor"], rec["kind"], rec["seed"], rec["block"]]
        for name in INVARIANTS:
            logs.setdefault((rec["kv_factor"], rec["kind"], name, rec["r"]), []).append(
                math.log(rec[name] / ref[name]))
    return {key: math.exp(sum(v) / len(v)) for key, v in sorted(logs.items())}


# ----------------------------------------------------------------------------- alignment during training


def _alignment(matrix: torch.Tensor, x: torch.Tensor, top: int) -> dict:
    """How inputs ``x`` (rows) load on ``matrix``'s big directions, against random inputs.

    ``align = √mean‖A x‖² / (‖A‖₂ √mean‖x‖²)`` (chapter 1's alignment, root-mean-square over the
    rows); random inputs give ``‖A‖_F / (√n_in ‖A‖₂)``. ``top_energy`` is the fraction of the
    inputs' energy along the ``top`` leading right-singular directions; random inputs give
    ``top / n_in``.
    """
    _, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    energy = x.square().sum()
    gain = float(((x @ matrix.T).square().sum() / energy).sqrt())
    return {
        "align": gain / float(s[0]),
        "align_random": float(s.square().sum().sqrt()) / (math.sqrt(matrix.shape[1]) * float(s[0])),
        "top_energy": float((x @ vh[:top].T).square().sum() / energy),
        "top_energy_random": top / matrix.shape[1],
    }


def input_alignment(
    parameterization: str,
    r: int,
    checkpoints: Sequence[int] = (0, 300),
    width: int = 256,
    n_head: int = 16,
    depth: int = 2,
    lr: float = 2**-5.5,
    batch_size: int = 16,
    context_length: int = 64,
    top: int = 8,
    seed: int = 0,
) -> list[dict]:
    """Alignment of the attention inputs with ``K⊕``, ``V⊕`` and ``W_Q`` during training.

    Trains the model like :func:`gqa_mup_ref.kv_repetition.training_update_ratios` (AdamW,
    constant LR, clip 1) and at each checkpoint step (0 = initialisation) feeds a fixed validation
    batch, captures the LayerNorm'd residual stream each block's attention reads, and reports
    the alignment ``‖A x‖ / (‖A‖₂ ‖x‖)`` for the repeated operators ``K⊕ = P W_K``, ``V⊕`` and for ``W_Q``. If the
    inputs come to lie along ``K⊕``'s top directions, ``align`` rises from the random baseline
    ``≈ 1/(1 + √r)`` towards 1, and a key's size is set by the spectral norm rather than by the
    typical gain.
    """
    from .train import build, optimizer_step

    model, optimizer, corpus = build(_config(None, r, width, n_head, depth, lr, batch_size, context_length,
                                             seed, parameterization=parameterization))
    probe, _ = corpus.get_batch("val", batch_size, context_length, torch.Generator().manual_seed(10_000 + seed))
    batches = torch.Generator().manual_seed(seed)
    head_dim = width // n_head
    records = []
    for step in range(max(checkpoints) + 1):
        if step in checkpoints:
            inputs = _attention_inputs(model, probe)
            for i, block in enumerate(model.blocks):
                for kind in _KINDS:
                    w = getattr(block.attn, kind).weight.detach().double()
                    if kind != "query":
                        w = repeat_kv_rows(w, r, head_dim)
                    records.append({"parameterization": parameterization, "r": r, "seed": seed, "step": step,
                                    "block": i, "kind": kind, **_alignment(w, inputs[i], top)})
        if step == max(checkpoints):
            break
        x, y = corpus.get_batch("train", batch_size, context_length, batches)
        _, loss = model(x, y)
        optimizer_step(model, optimizer, loss, grad_clip=1.0)
    return records


def alignment_summary(records: list[dict]) -> dict[tuple[str, int, int, str], dict]:
    """``(parameterization, r, step, kind) -> mean of each alignment field`` over blocks and seeds."""
    groups: dict[tuple[str, int, int, str], list[dict]] = {}
    for rec in records:
        groups.setdefault((rec["parameterization"], rec["r"], rec["step"], rec["kind"]), []).append(rec)
    fields = ("align", "align_random", "top_energy", "top_energy_random")
    return {key: {f: sum(rec[f] for rec in recs) / len(recs) for f in fields} for key, recs in sorted(groups.items())}


def plot_alignment(summary: dict[tuple[str, int, int, str], dict], parameterization: str = "gqa-mup"):
    """Alignment over its random baseline against ``r``, at init and after training, per kind."""
    import matplotlib.pyplot as plt

    from .plots import book_style

    rs = sorted({r for p, r, _, _ in summary if p == parameterization})
    steps = sorted({s for p, _, s, _ in summary if p == parameterization})
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(1, 2, figsize=(6.7, 3.4), layout="constrained")
        for ax, field, title in ((axes[0], "align", "alignment / random-input baseline"),
                                 (axes[1], "top_energy", "input energy on top directions / random")):
            for j, kind in enumerate(_KINDS):
                for step, style in zip(steps, ("o--", "s-")):
                    values = [summary[parameterization, r, step, kind][field]
                              / summary[parameterization, r, step, kind][field + "_random"] for r in rs]
                    ax.plot(rs, values, style, color=f"C{j}", ms=4, label=f"{_LABELS[kind]}, step {step}")
            ax.axhline(1, color="0.5", lw=1)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("repetition $r$")
            ax.set_title(title, fontsize=9)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig
