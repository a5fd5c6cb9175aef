"""Both premises of the spectral key/value factor, measured while a model trains.

The factor ``c(r) = (1 + √r)/2`` of GQA-μP rests on two premises at once:

(a) the inputs of ``K⊕ = P W_K`` lie along its top singular directions, so an input feels
    ``‖K⊕‖₂`` rather than the typical gain;
(b) ``‖K⊕‖₂`` is ``c(r)`` times the spectral norm of a dense matrix of the same shape.

(b) is a fact about the random initial bulk ``W₀`` (the Bai–Yin edge of a repeated Gaussian
matrix). Training adds a learned, low-rank part ``W − W₀`` whose Adam size does not depend on
``r``; once it dominates the top of the spectrum, the excess may vanish. :class:`PremiseProbe`
records, at chosen steps of a run of :func:`gqa_mup_ref.train.train` (through its
``on_checkpoint`` hook, which only reads the model), for each block:

* ``key_norm = ‖K⊕‖₂ / ‖W_Q‖₂`` and ``value_norm = ‖V⊕‖₂ / ‖W_Q‖₂``. ``W_Q`` is the dense matrix
  of ``K⊕``'s shape (``n_q × n``) that the same model trains with the hidden rule, so the ratio is
  ``c(r)`` at initialisation (premise (b)) and shows how the excess evolves;
* the same ratio for the initial bulk (``key_bulk = ‖P W₀_K‖₂ / ‖W₀_Q‖₂``, fixed in time) and for
  the learned part (``key_learned = ‖P (W_K − W₀_K)‖₂ / ‖W_Q − W₀_Q‖₂``), and the learned part over
  the bulk for keys and queries (``key_learned_over_bulk = ‖W_K − W₀_K‖₂ / ‖W₀_K‖₂``);
* ``key_align``: the alignment ``‖K⊕ x‖ / (‖K⊕‖₂ ‖x‖)`` of the real inputs over ``W_Q``'s
  (chapter 2's measure, :func:`gqa_mup_ref.kv_invariants._alignment`): ``2/(1+√r)`` for random
  inputs, higher once inputs load on ``K⊕``'s top directions (premise (a));
* ``key_update`` / ``value_update``: the one-step spectral relative update
  ``(‖ΔW_K‖₂/‖W_K‖₂) / (‖ΔW_Q‖₂/‖W_Q‖₂)`` from the checkpoint to the next step;
* ``logit_rms`` and ``logit_max``: root-mean-square and largest magnitude of the scaled
  attention logits ``s·q_h·k_{h//r}`` (``s`` the model's attention scale) over causal pairs of a
  fixed probe batch: what an over-driven key moves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

from .kv_invariants import _alignment, _attention_inputs
from .spectral import repeat_kv_rows, spectral_norm

__all__ = [
    "CHECKPOINTS",
    "FACTORS",
    "QUANTITIES",
    "DERIVED",
    "PremiseProbe",
    "attention_logits",
    "train_with_premises",
    "load_premise_runs",
    "premise_summary",
    "after_warmup",
    "plot_premises",
]

CHECKPOINTS = (0, 1, 5, 10, 20, 40, 80, 150, 250, 399, 400)
"""Steps (number of updates done) at which a 400-step run is measured; the one-step update is
measured from each checkpoint before the last."""

QUANTITIES = {
    "key_norm": r"$\|K_\oplus\|_2 / \|W_Q\|_2$",
    "value_norm": r"$\|V_\oplus\|_2 / \|W_Q\|_2$",
    "key_bulk": r"initial bulk $\|K_{\oplus,0}\|_2 / \|W_{Q,0}\|_2$",
    "key_learned": r"learned part $\|\Delta_{\rm tot} K_\oplus\|_2 / \|\Delta_{\rm tot} W_Q\|_2$",
    "key_learned_over_bulk": r"$\|W_K - W_{K,0}\|_2 / \|W_{K,0}\|_2$",
    "query_learned_over_bulk": r"$\|W_Q - W_{Q,0}\|_2 / \|W_{Q,0}\|_2$",
    "key_align": "alignment of inputs with $K_\\oplus$ ÷ with $W_Q$",
    "key_update": "one-step spectral relative update, $K_\\oplus$ ÷ $W_Q$",
    "value_update": "one-step spectral relative update, $V_\\oplus$ ÷ $W_Q$",
    "logit_rms": "RMS of the scaled attention logits",
    "logit_max": "largest |scaled attention logit|",
}
"""What :class:`PremiseProbe` records per block and checkpoint (name -> meaning, as a figure label in TeX).

:meta hide-value:
"""

DERIVED = {"key_gain": r"gain on the real inputs $\|K_\oplus x\| / \|W_Q x\|$"}
"""Quantities computed from :data:`QUANTITIES`: ``key_gain = key_norm · key_align`` (both premises at
once: the size of ``K⊕`` the inputs actually feel, relative to ``W_Q``; 1 on random inputs).

:meta hide-value:
"""


def _value(record: dict, name: str):
    if name == "key_gain":
        a, b = record["key_norm"], record["key_align"]
        return None if a is None or b is None else a * b
    return record[name]

FACTORS = ("none", "gqa", "sqrt-r", "inv-sqrt-r")
"""The key/value factors compared over training: 1, c(r), √r and 1/√r (``KV_FACTORS`` names)."""

_FACTOR_COLORS = {"none": "#E69F00", "gqa": "#0072B2", "sqrt-r": "#CC79A7", "inv-sqrt-r": "#D55E00"}


def attention_logits(attn, x: torch.Tensor) -> torch.Tensor:
    """Scaled logits ``s · q_h(t) · k_{h//r}(u)`` of one attention layer on inputs ``x`` ``(B, T, n)``.

    Returns ``(B, H, T, T)`` in float64 with non-causal entries (``u > t``) set to NaN. Query head
    ``h`` reads key head ``h // r``, as in the model's ``enable_gqa`` attention.
    """
    B, T, _ = x.shape
    x = x.double()
    q = (x @ attn.query.weight.double().T * attn.query.multiplier).view(B, T, attn.n_head, attn.head_dim)
    k = (x @ attn.key.weight.double().T * attn.key.multiplier).view(B, T, attn.n_kv_head, attn.head_dim)
    k = k.repeat_interleave(attn.n_head // attn.n_kv_head, dim=2)  # (B, T, H, d)
    logits = attn.scale * torch.einsum("bthd,buhd->bhtu", q, k)  # (B, H, T, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return logits.masked_fill(~causal, math.nan)


class PremiseProbe:
    """An ``on_checkpoint`` observer for :func:`gqa_mup_ref.train.train` that records :data:`QUANTITIES`.

    ``probe`` is a fixed ``(B, T)`` token batch, never drawn from the training stream, so recording
    changes nothing in the run (the probe's forward passes run without gradients). ``records`` holds
    one dict per block and checkpoint; a checkpoint's ``key_update``/``value_update`` are filled in
    when the step after it is observed (NaN for the last one).
    """

    def __init__(self, probe: torch.Tensor, checkpoints: Iterable[int] = CHECKPOINTS, top: int = 8):
        self.probe = probe
        self.checkpoints = set(checkpoints)
        self.top = top
        self.records: list[dict] = []
        self._initial: dict | None = None
        self._pending: list[tuple[dict, dict]] = []  # (record, weights at its checkpoint)

    @staticmethod
    def _weights(model) -> list[dict[str, torch.Tensor]]:
        return [{kind: getattr(b.attn, kind).weight.detach().double().clone() for kind in ("query", "key", "value")}
                for b in model.blocks]

    def __call__(self, step: int, model) -> None:
        if self._initial is None:
            self._initial = self._weights(model)
        weights = self._weights(model) if (self._pending or step in self.checkpoints) else None
        for record, before in self._pending:  # one-step updates of the previous checkpoint
            now = weights[record["block"]]
            rel = {kind: spectral_norm(now[kind] - before[kind]) / spectral_norm(before[kind])
                   for kind in ("query", "key", "value")}
            record["key_update"] = rel["key"] / rel["query"]
            record["value_update"] = rel["value"] / rel["query"]
        self._pending = []
        if step in self.checkpoints:
            self._measure(step, model, weights)

    @torch.no_grad()
    def _measure(self, step: int, model, weights: list[dict[str, torch.Tensor]]) -> None:
        """One record per block: with ``K⊕ = P W_K`` and ``W₀`` the weights at step 0,
        ``key_norm = ‖K⊕‖₂/‖W_Q‖₂``, ``key_bulk = ‖P W₀_K‖₂/‖W₀_Q‖₂``,
        ``key_learned = ‖P (W_K − W₀_K)‖₂/‖W_Q − W₀_Q‖₂``, the alignment ratio of the probe's attention
        inputs ``x`` (``‖K⊕ x‖/(‖K⊕‖₂‖x‖)`` over ``W_Q``'s) and the scaled logits' RMS and max."""
        B, T = self.probe.shape
        inputs = _attention_inputs(model, self.probe)  # (B·T, n) per block, float64
        for i, block in enumerate(model.blocks):
            attn, w, w0 = block.attn, weights[i], self._initial[i]
            r = attn.n_head // attn.n_kv_head

            def rep(m, r=r, d=attn.head_dim):
                return repeat_kv_rows(m, r, d)

            q_norm, q0_norm = spectral_norm(w["query"]), spectral_norm(w0["query"])
            q_learned = spectral_norm(w["query"] - w0["query"])
            k_align = _alignment(rep(w["key"]), inputs[i], self.top)
            q_align = _alignment(w["query"], inputs[i], self.top)
            logits = attention_logits(attn, inputs[i].view(B, T, -1))
            causal = logits[~logits.isnan()]
            record = {
                "step": step, "block": i, "r": r,
                "key_norm": spectral_norm(rep(w["key"])) / q_norm,
                "value_norm": spectral_norm(rep(w["value"])) / q_norm,
                "key_bulk": spectral_norm(rep(w0["key"])) / q0_norm,
                "key_learned": (spectral_norm(rep(w["key"] - w0["key"])) / q_learned) if step else math.nan,
                "key_learned_over_bulk": spectral_norm(w["key"] - w0["key"]) / spectral_norm(w0["key"]),
                "query_learned_over_bulk": q_learned / q0_norm,
                "key_align": k_align["align"] / q_align["align"],
                "key_align_random": k_align["align_random"] / q_align["align_random"],
                "key_update": math.nan,
                "value_update": math.nan,
                "logit_rms": float(causal.square().mean().sqrt()),
                "logit_max": float(causal.abs().max()),
            }
            self.records.append(record)
            self._pending.append((record, w))


def train_with_premises(config, checkpoints: Sequence[int] = CHECKPOINTS, probe_batches: int = 1) -> dict:
    """Train ``config`` with :func:`gqa_mup_ref.train.train` and a :class:`PremiseProbe` attached.

    The probe batch is the first validation batch of ``probe_batches × config.batch_size`` sequences
    drawn with seed ``10_000 + config.seed`` (as chapter 2's alignment measurement). Returns the run's
    result record (``RunResult.to_dict()``) with ``premises`` (the probe's records) added.
    """
    from .train import _corpus, train

    corpus = _corpus(config.data)
    probe, _ = corpus.get_batch("val", probe_batches * config.batch_size, config.context_length,
                                torch.Generator().manual_seed(10_000 + config.seed))
    observer = PremiseProbe(probe, checkpoints)
    result = train(config, on_checkpoint=observer)
    return result.to_dict() | {"premises": observer.records}


def load_premise_runs(folder) -> list[dict]:
    """Every run record (``<key>.json``) of a results folder written by ``scripts/ch02_premises.py``.

    Raises :class:`FileNotFoundError`, naming the folder and the fix, when it is missing or holds no records.
    """
    import json
    from pathlib import Path

    from .sweep_config import _BOOK_RESULTS_FIX, _shown

    folder = Path(folder)
    paths = sorted(folder.glob("*.json"))
    if not paths:
        problem = ("holds no run records (<key>.json, written by scripts/ch02_premises.py);" if folder.is_dir()
                   else "not found:")
        raise FileNotFoundError(f"results folder {_shown(folder)} {problem} {_BOOK_RESULTS_FIX}")
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def _mean_sd(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return mean, sd


def premise_summary(runs: Iterable[dict]) -> dict[tuple[int, str, int, int, str], dict]:
    """``(head_dim, kv_factor, r, step, quantity) -> {mean, sd, n}`` over seeds (blocks averaged first).

    ``runs`` are records of :func:`train_with_premises`. The spread is the seed-to-seed standard
    deviation of the per-seed block means.
    """
    per_seed: dict[tuple, list[float]] = {}
    for run in runs:
        c = run["config"]
        head_dim = c.get("head_dim") or c["width"] // c["n_head"]
        r = c["n_head"] // c["n_kv_head"]
        factor = "none" if r == 1 else c["kv_factor"]  # at r = 1 every factor is 1
        for rec in run["premises"]:
            for name in (*QUANTITIES, *DERIVED):
                per_seed.setdefault((head_dim, factor, r, rec["step"], name, c["seed"]), []).append(_value(rec, name))
    seeds: dict[tuple, list[float]] = {}
    for (*key, _seed), values in per_seed.items():
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if finite:
            seeds.setdefault(tuple(key), []).append(sum(finite) / len(finite))
    return {key: dict(zip(("mean", "sd"), _mean_sd(v))) | {"n": len(v)} for key, v in sorted(seeds.items())}


def after_warmup(runs: Iterable[dict], name: str, steps: Sequence[int]) -> dict[tuple[int, str, int], dict]:
    """``(head_dim, kv_factor, r) -> {mean, sd, n}`` over seeds of ``name`` averaged over blocks and ``steps``.

    Averaging a seed's values over several checkpoints (e.g. the one-step update ratio at steps
    40–250, which fluctuates from step to step) before taking the seed-to-seed spread.
    """
    wanted = set(steps)
    seeds: dict[tuple, list[float]] = {}
    for run in runs:
        c = run["config"]
        r = c["n_head"] // c["n_kv_head"]
        key = (c.get("head_dim") or c["width"] // c["n_head"], "none" if r == 1 else c["kv_factor"], r)
        values = [v for rec in run["premises"] if rec["step"] in wanted
                  for v in [_value(rec, name)] if v is not None and math.isfinite(v)]
        if values:
            seeds.setdefault(key, []).append(sum(values) / len(values))
    return {key: dict(zip(("mean", "sd"), _mean_sd(v))) | {"n": len(v)} for key, v in sorted(seeds.items())}


_SHORT = {"key_norm": r"$\|K_\oplus\|_2 / \|W_Q\|_2$", "value_norm": r"$\|V_\oplus\|_2 / \|W_Q\|_2$",
          "key_align": r"alignment, $K_\oplus$ ÷ $W_Q$", "key_gain": r"$\|K_\oplus x\| / \|W_Q x\|$",
          "key_update": r"one-step update, $K_\oplus$ ÷ $W_Q$", "logit_rms": "RMS attention logit",
          "logit_max": "largest |attention logit|", "key_learned_over_bulk": r"$\|W_K - W_{K,0}\|_2 / \|W_{K,0}\|_2$"}


def plot_premises(summary: dict, panels: Sequence[tuple[int, int]], quantities: Sequence[str] = ("key_norm",),
                  log_y: Sequence[str] = ()):
    """One row per quantity, one column per ``(head_dim, r)``: mean ± sd over seeds against the step.

    Each key/value factor has its colour; ``r = 1`` (all factors alike) is drawn in grey. On the
    ``key_norm`` row a dashed line marks the initial bulk's ratio ``‖K⊕,0‖₂/‖W_Q,0‖₂`` (≈ ``c(r)``).
    Rows named in ``log_y`` get a logarithmic axis.
    """
    import matplotlib.pyplot as plt

    from .plots import COLUMN_INCHES, book_style

    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(len(quantities), len(panels), squeeze=False, sharex=True,
                                 figsize=(min(COLUMN_INCHES, 2.3 * len(panels)), 2.3 * len(quantities) + 0.6))
        handles = {}
        for row, name in enumerate(quantities):
            for col, (head_dim, r) in enumerate(panels):
                ax = axes[row][col]
                for factor, rr in [(f, r) for f in FACTORS] + [("none", 1)]:
                    points = sorted((s, v) for (d, f, rv, s, q), v in summary.items()
                                    if (d, f, rv, q) == (head_dim, factor, rr, name) and s > 0)
                    if not points:
                        continue
                    steps = [s for s, _ in points]
                    mean = [v["mean"] for _, v in points]
                    sd = [0.0 if math.isnan(v["sd"]) else v["sd"] for _, v in points]
                    color = "0.45" if rr == 1 else _FACTOR_COLORS[factor]
                    label = "r = 1 (every factor)" if rr == 1 else factor
                    (line,) = ax.plot(steps, mean, "o-", ms=3, color=color)
                    handles.setdefault(label, line)
                    ax.fill_between(steps, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)],
                                    color=color, alpha=0.2, lw=0)
                bulk = summary.get((head_dim, "none", r, 0, "key_bulk"))
                if name == "key_norm" and bulk:
                    handles.setdefault("initial bulk", ax.axhline(bulk["mean"], color="0.3", ls="--", lw=1))
                ax.set_xscale("log")
                if name in log_y:
                    ax.set_yscale("log")
                if row == len(quantities) - 1:
                    ax.set_xlabel("training step")
                if col == 0:
                    ax.set_ylabel(_SHORT.get(name, name))
                if row == 0:
                    ax.set_title(f"d = {head_dim}, r = {r}")
        fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=min(len(handles), 4),
                   handlelength=1.5, columnspacing=1.0)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / fig.get_figheight()))
    return fig
