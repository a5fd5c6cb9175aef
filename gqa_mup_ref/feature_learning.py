"""Chapter 1's experiments: feature learning as a statement about spectral norms.

A dense layer ``h = W x`` with ``W`` of shape ``(n_out, n_in)`` learns features when, for inputs
with ``Θ(1)`` entries (``‖x‖₂ = Θ(√n_in)``), both the features and their one-step update have
``Θ(1)`` entries: ``‖h‖₂ = Θ(√n_out)`` and ``‖Δh‖₂ = Θ(√n_out)``. Yang, Simon & Bernstein (2023)
show that this follows from ``‖W‖₂ = Θ(√(n_out/n_in))`` and ``‖ΔW‖₂ = Θ(√(n_out/n_in))``. The
functions here measure each ingredient of that argument:

* entry size, and why equal entries (or equal Frobenius norms) can act very differently
  (:func:`rms`, :func:`same_entries_different_effect`);
* the spectral norm of a random matrix against ``σ(√n_out + √n_in)`` (:func:`random_norm_survey`);
* how much of that norm an input sees, at init and after an update (:func:`alignment`,
  :func:`alignment_survey`);
* the init std and learning rates the condition implies (:func:`spectral_rules`,
  :func:`width_exponents`);
* one real Adam step of a three-layer network over widths (:class:`ThreeLayerMLP`,
  :func:`one_adam_step`, :func:`width_sweep`), which the chapter's widget shows (:func:`layer_view`).

The chapter's figures are drawn by :mod:`gqa_mup_ref.feature_learning_figures` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import RoleLinear
from .parameterization import Shape, build_adamw, get_parameterization
from .spectral import natural_spectral_norm, random_spectral_norm, spectral_norm, stable_rank

# The chapter's figures live in gqa_mup_ref.feature_learning_figures; `feature_learning.plot_alignment` etc.
# keep working.
from .feature_learning_figures import (  # noqa: F401
    plot_adam_update,
    plot_alignment,
    plot_random_norms,
    plot_same_entries,
    plot_width_sweep,
)

__all__ = [
    "LAYER_ROLES",
    "rms",
    "alignment",
    "predicted_init_alignment",
    "same_entries_different_effect",
    "random_norm_survey",
    "alignment_survey",
    "spectral_rules",
    "width_exponents",
    "ThreeLayerMLP",
    "LayerStep",
    "one_adam_step",
    "width_sweep",
    "fitted_slope",
    "plot_same_entries",
    "plot_random_norms",
    "plot_alignment",
    "plot_adam_update",
    "plot_width_sweep",
    "layer_view",
]

LAYER_ROLES = {"input": "embedding", "hidden": "mlp_in", "output": "unembedding"}
"""Which row of the parameterization table each layer of :class:`ThreeLayerMLP` follows."""


# ----------------------------------------------------------------------------- sizes and norms


def rms(x: torch.Tensor) -> float:
    """Typical entry size ``‖x‖₂ / √numel(x)``; it is ``Θ(1)`` exactly when ``‖x‖₂ = Θ(√n)``."""
    if x.numel() == 0:
        raise ValueError("rms of an empty tensor is undefined")
    return float(x.detach().double().square().mean().sqrt())


def alignment(matrix: torch.Tensor, x: torch.Tensor) -> float:
    """How much of the spectral norm an input uses: ``‖A x‖₂ / (‖A‖₂ ‖x‖₂)``, between 0 and 1.

    ``x`` is one input of shape ``(n_in,)`` or a batch ``(B, n_in)``; for a batch the mean over
    its rows is returned.
    """
    a = matrix.detach().double()
    xs = x.detach().double().reshape(-1, a.shape[1])
    gains = (xs @ a.T).norm(dim=1) / xs.norm(dim=1)
    return float(gains.mean()) / spectral_norm(a)


def predicted_init_alignment(n_out: int, n_in: int) -> float:
    """Alignment of an i.i.d. Gaussian ``A`` with an independent input: ``√n_out / (√n_out + √n_in)``.

    ``‖A x‖ ≈ ‖A‖_F ‖x‖ / √n_in = σ √n_out ‖x‖`` while ``‖A‖₂ ≈ σ (√n_out + √n_in)``. It is ``½``
    for square matrices and ``≈ √(n_out / n_in) → 0`` for wide ones (``n_in ≫ n_out``).
    """
    return math.sqrt(n_out) / (math.sqrt(n_out) + math.sqrt(n_in))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _signs(*size: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, size, generator=generator, dtype=torch.float64) * 2 - 1


def _relu_features(*size: int, generator: torch.Generator) -> torch.Tensor:
    """Post-ReLU features with unit RMS, ``√2 · relu(z)``: they share a mean direction."""
    return math.sqrt(2) * torch.relu(torch.randn(*size, generator=generator, dtype=torch.float64))


# ----------------------------------------------------------------------------- experiments


def same_entries_different_effect(widths: Sequence[int], seed: int = 0) -> list[dict]:
    """Two ``n × n`` matrices with entries ``±1/n``: rank one ``u vᵀ / n`` and i.i.d. signs.

    Both have entry size ``1/n`` and Frobenius norm exactly 1. On the input ``x = v`` (entries
    ``±1``) the rank-one matrix gives ``A x = u`` (``rms = 1``), the i.i.d. one ``rms ≈ 1/√n``;
    their spectral norms are 1 and ``≈ 2/√n``. Returns one record per width.
    """
    records = []
    for n in widths:
        gen = _generator(seed + n)
        u, v = _signs(n, generator=gen), _signs(n, generator=gen)
        rank_one = torch.outer(u, v) / n
        iid = _signs(n, n, generator=gen) / n
        records.append(
            {
                "n": n,
                "entry_rms": rms(rank_one),
                "frobenius_rank_one": float(rank_one.norm()),
                "frobenius_iid": float(iid.norm()),
                "spectral_rank_one": spectral_norm(rank_one),
                "spectral_iid": spectral_norm(iid),
                "output_rms_rank_one": rms(rank_one @ v),
                "output_rms_iid": rms(iid @ v),
            }
        )
    return records


def random_norm_survey(
    shapes: Sequence[tuple[int, int]], std: float = 1.0, seed: int = 0
) -> list[dict]:
    """``‖W‖₂`` of Gaussian matrices ``W_ij ~ N(0, std²)`` against ``std · (√n_out + √n_in)``.

    Records ``n_out, n_in, std``, the measured and predicted spectral norms, their ratio, the
    Frobenius norm and the natural spectral norm ``‖W‖₂ √(n_in/n_out)``.
    """
    records = []
    for i, (n_out, n_in) in enumerate(shapes):
        w = torch.randn(n_out, n_in, generator=_generator(seed + i), dtype=torch.float64) * std
        measured, predicted = spectral_norm(w), random_spectral_norm(n_out, n_in, std)
        records.append(
            {
                "n_out": n_out,
                "n_in": n_in,
                "std": std,
                "measured": measured,
                "predicted": predicted,
                "ratio": measured / predicted,
                "frobenius": float(w.norm()),
                "natural": natural_spectral_norm(w),
            }
        )
    return records


def alignment_survey(
    shapes: Sequence[tuple[int, int]], n_inputs: int = 16, seed: int = 0
) -> list[dict]:
    """Alignment ``‖A x‖ / (‖A‖‖x‖)`` of a random init and of a rank-one gradient step.

    For each shape: ``W ~ N(0, 1/n_in)`` on independent inputs (prediction
    :func:`predicted_init_alignment`); the step ``ΔW = g xᵀ`` produced by a post-ReLU input ``x``,
    on that same ``x`` (exactly 1), on fresh zero-mean Gaussian inputs (``≈ √(2/(π n_in)) → 0``)
    and on fresh post-ReLU inputs, which share ``x``'s mean direction
    (``→ E[relu]² / E[relu²] = 1/π``). Each fresh-input value is a mean over ``n_inputs`` inputs.
    """
    records = []
    for i, (n_out, n_in) in enumerate(shapes):
        gen = _generator(seed + i)
        w = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64) / math.sqrt(n_in)
        gaussian = torch.randn(n_inputs, n_in, generator=gen, dtype=torch.float64)
        x = _relu_features(n_in, generator=gen)
        g = torch.randn(n_out, generator=gen, dtype=torch.float64)
        update = torch.outer(g, x)
        records.append(
            {
                "n_out": n_out,
                "n_in": n_in,
                "init": alignment(w, gaussian),
                "init_predicted": predicted_init_alignment(n_out, n_in),
                "update_own_input": alignment(update, x),
                "update_fresh_gaussian": alignment(update, gaussian),
                "update_fresh_gaussian_predicted": math.sqrt(2 / (math.pi * n_in)),
                "update_fresh_relu": alignment(update, _relu_features(n_inputs, n_in, generator=gen)),
            }
        )
    return records


def spectral_rules(n_out: int, n_in: int) -> dict[str, float]:
    """Init std and learning rates that give ``‖W‖₂ = ‖ΔW‖₂ = √(n_out/n_in)`` (constants set to 1).

    * init: ``σ(√n_out + √n_in) = √(n_out/n_in)``  ⇒  ``σ = √(n_out/n_in) / (√n_out + √n_in)``
      ``= Θ((1/√n_in) · min(1, √(n_out/n_in)))``;
    * SGD: a rank-one step ``η g xᵀ`` with ``‖g‖ = 1/√n_out`` (so that an aligned ``Δh`` changes
      the loss by ``Θ(1)``) and ``‖x‖ = √n_in`` has norm ``η √(n_in/n_out)``  ⇒  ``η = n_out/n_in``;
    * Adam: a low-rank step with entries ``±η`` has norm ``η √(n_out n_in)``  ⇒  ``η = 1/n_in``.
    """
    for name, value in (("n_out", n_out), ("n_in", n_in)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer size")
    target = math.sqrt(n_out / n_in)
    return {
        "spectral_target": target,
        "init_std": target / (math.sqrt(n_out) + math.sqrt(n_in)),
        "sgd_lr": n_out / n_in,
        "adam_lr": 1 / n_in,
    }


def width_exponents(
    d_in: int = 32, d_out: int = 16, base_width: int = 64, widths: tuple[int, int] = (2**20, 2**40)
) -> dict[str, dict[str, float]]:
    """Exponent ``p`` in ``quantity ∝ widthᵖ``, from the spectral condition and from the μP table.

    For the input ``(n, d_in)``, hidden ``(n, n)`` and output ``(d_out, n)`` layers, the slope of
    ``log quantity`` against ``log n`` between the two ``widths``. The μP table's output layer is
    counted with its forward multiplier: the effective weight is ``multiplier · W`` and, for Adam,
    the effective learning rate is ``multiplier · lr`` (see :class:`ThreeLayerMLP`).
    """
    shapes = {"input": lambda n: (n, d_in), "hidden": lambda n: (n, n), "output": lambda n: (d_out, n)}
    mup = get_parameterization("mup")

    def table(n: int, layer: str) -> dict[str, float]:
        rule = mup.rules(Shape(n, 1, 1, 1, base_width=base_width)).groups[LAYER_ROLES[layer]]
        return {"init_std": rule.init_std * rule.multiplier, "adam_lr": rule.lr_factor * rule.multiplier}

    def slope(f) -> float:
        small, large = widths
        return math.log(f(large) / f(small)) / math.log(large / small)

    result = {}
    for layer, shape in shapes.items():
        result[layer] = {
            f"{key}_{source}": slope(lambda n, k=key, s=source: (
                spectral_rules(*shape(n))[k] if s == "derived" else table(n, layer)[k]))
            for key in ("init_std", "adam_lr")
            for source in ("derived", "mup")
        } | {"sgd_lr_derived": slope(lambda n: spectral_rules(*shape(n))["sgd_lr"])}
    return result


# ----------------------------------------------------------------------------- a real network


class ThreeLayerMLP(nn.Module):
    """``x (d_in) → input layer → ReLU → hidden layer (n × n) → ReLU → output layer → y (d_out)``.

    Every init std, Adam learning-rate factor and forward multiplier comes from a named
    parameterization of :mod:`gqa_mup_ref.parameterization`; the layers follow the table's rows
    ``embedding`` (input), ``mlp_in`` (hidden) and ``unembedding`` (output), see ``LAYER_ROLES``.
    It offers ``rules`` and ``parameters_by_role()``, so :func:`build_adamw` builds its optimizer.
    """

    def __init__(
        self,
        width: int,
        parameterization: str = "mup",
        d_in: int = 32,
        d_out: int = 16,
        base_width: int = 64,
        base_init_std: float = 0.125,
        seed: int = 0,
    ):
        super().__init__()
        self.rules = get_parameterization(parameterization).rules(
            Shape(width, 1, 1, 1, base_width=base_width), base_init_std
        )
        sizes = {"input": (d_in, width), "hidden": (width, width), "output": (width, d_out)}
        self.layers = nn.ModuleDict(
            {
                name: RoleLinear(n_in, n_out, LAYER_ROLES[name],
                                 self.rules.groups[LAYER_ROLES[name]].multiplier)
                for name, (n_in, n_out) in sizes.items()
            }
        )
        gen = _generator(seed)
        for layer in self.layers.values():
            nn.init.normal_(layer.weight, std=self.rules.groups[layer.role].init_std, generator=gen)

    def parameters_by_role(self) -> dict[str, list[nn.Parameter]]:
        return {layer.role: [layer.weight] for layer in self.layers.values()}

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each layer's output (pre-activation), ``(B, n_out)``; the last one is ``y``."""
        h_in = self.layers["input"](x)
        h_hidden = self.layers["hidden"](torch.relu(h_in))
        return {"input": h_in, "hidden": h_hidden, "output": self.layers["output"](torch.relu(h_hidden))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["output"]


@dataclass
class LayerStep:
    """One layer before and after one optimizer step, as the forward pass sees it.

    ``weight`` and ``update`` include the forward multiplier (``multiplier · W``, ``multiplier · ΔW``);
    ``lr`` is the Adam learning rate of the stored parameter; ``h_rms`` and ``dh_rms`` are the entry
    sizes of the layer's output and of its change on the same batch.
    """

    name: str
    role: str
    weight: torch.Tensor
    update: torch.Tensor
    lr: float
    multiplier: float
    h_rms: float
    dh_rms: float

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weight.shape)

    def sign_update_norm(self) -> float:
        """``η √(n_out n_in)``: the spectral norm of a rank-one update with entries ``±η`` (effective)."""
        n_out, n_in = self.shape
        return self.lr * abs(self.multiplier) * math.sqrt(n_out * n_in)


def one_adam_step(
    width: int,
    parameterization: str = "mup",
    lr: float = 0.01,
    batch: int = 16,
    seed: int = 0,
    **mlp_kwargs,
) -> dict[str, LayerStep]:
    """One Adam step of :class:`ThreeLayerMLP` on a regression batch; returns each layer's :class:`LayerStep`.

    Inputs ``x ~ N(0, I)`` and targets ``t ~ N(0, I)`` are drawn from ``seed`` and do not depend on
    the width. The loss is ``½ mean_b ‖y_b − t_b‖²``; the optimizer is :func:`build_adamw` (no decay)
    with base learning rate ``lr``. Adam's first step is ``−lr · sign(∇)`` entry by entry.
    """
    model = ThreeLayerMLP(width, parameterization, seed=seed, **mlp_kwargs)
    d_in, d_out = model.layers["input"].in_features, model.layers["output"].out_features
    gen = _generator(10_000 + seed)
    x = torch.randn(batch, d_in, generator=gen)
    targets = torch.randn(batch, d_out, generator=gen)
    before = {name: w.detach().clone() for name, w in model.layers.items() for w in [w.weight]}
    with torch.no_grad():
        h_before = model.features(x)
    optimizer = build_adamw(model, lr, weight_decay=0.0)
    loss = 0.5 * F.mse_loss(model(x), targets, reduction="sum") / batch
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        h_after = model.features(x)
    lrs = {group["role"]: group["lr"] for group in optimizer.param_groups}
    steps = {}
    for name, layer in model.layers.items():
        mult = layer.multiplier
        steps[name] = LayerStep(
            name=name,
            role=layer.role,
            weight=mult * before[name].double(),
            update=mult * (layer.weight.detach().double() - before[name].double()),
            lr=lrs[layer.role],
            multiplier=mult,
            h_rms=rms(h_before[name]),
            dh_rms=rms(h_after[name] - h_before[name]),
        )
    return steps


def width_sweep(
    widths: Sequence[int],
    parameterizations: Sequence[str] = ("sp", "mup"),
    lr: float = 0.01,
    seed: int = 0,
    **kwargs,
) -> list[dict]:
    """:func:`one_adam_step` at every width and parameterization, summarised per layer.

    Each record: ``parameterization, width, layer, h_rms, dh_rms`` and, for the update, its
    spectral norm, ``η√(n_out n_in)``, their ratio, its stable rank, the fraction of its entries
    that moved (``|ΔW| > η/2``: Adam leaves entries with a zero gradient in place) and its natural
    spectral norm (and the weight's). The :class:`LayerStep` objects are kept under ``"step"`` for plotting.
    """
    records = []
    for param in parameterizations:
        for width in widths:
            for name, step in one_adam_step(width, param, lr, seed=seed, **kwargs).items():
                update_norm = spectral_norm(step.update)
                records.append(
                    {
                        "parameterization": param,
                        "width": width,
                        "layer": name,
                        "h_rms": step.h_rms,
                        "dh_rms": step.dh_rms,
                        "update_norm": update_norm,
                        "sign_update_norm": step.sign_update_norm(),
                        "update_ratio": update_norm / step.sign_update_norm(),
                        "update_stable_rank": stable_rank(step.update),
                        "update_nonzero_fraction": float((step.update.abs() > 0.5 * step.lr * abs(step.multiplier))
                                                         .double().mean()),
                        "weight_natural": natural_spectral_norm(step.weight),
                        "update_natural": natural_spectral_norm(step.update),
                        "step": step,
                    }
                )
    return records


def fitted_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``p`` in ``y ∝ xᵖ``."""
    lx = torch.tensor([math.log(v) for v in xs], dtype=torch.float64)
    ly = torch.tensor([math.log(v) for v in ys], dtype=torch.float64)
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / lx.square().sum())


# ----------------------------------------------------------------------------- the widget's view


def layer_view(step: LayerStep, base_lr: float):
    """The widget's view of one layer at one width: singular values of ``W`` and ``ΔW``, and the rules.

    Left: the sorted singular values of the initial (effective) weight with the Bai–Yin edge
    ``σ(√n_out + √n_in)`` (Yin, Bai & Krishnaiah 1988), and of one Adam update with ``η√(n_out n_in)``. Below: the rule's
    init std and Adam learning rate next to :func:`spectral_rules` (their ratio is the same at every
    width: the table and the rule differ only by tuned constants) and both natural spectral norms.
    Returns an ``ipywidgets`` box (the figure with alt text).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .plots import book_style
    from .widgets import figure_widget

    n_out, n_in = step.shape
    weight_sv = torch.linalg.svdvals(step.weight)
    update_sv = torch.linalg.svdvals(step.update)
    std = step.weight.std().item()
    with plt.rc_context(book_style()):
        fig, ax = plt.subplots(figsize=(5.4, 2.9))
        index = torch.arange(1, len(weight_sv) + 1)
        ax.loglog(index, weight_sv, label=r"init $W$")
        ax.loglog(index, update_sv.clamp_min(1e-12), label=r"update $\Delta W$")
        ax.axhline(random_spectral_norm(n_out, n_in, std), color="C0", ls="--", lw=1,
                   label=r"$\sigma(\sqrt{n_{out}}+\sqrt{n_{in}})$")
        ax.axhline(step.sign_update_norm(), color="C1", ls="--", lw=1,
                   label=r"$\eta\sqrt{n_{out}n_{in}}$")
        top = max(weight_sv[0].item(), update_sv[0].item(), step.sign_update_norm())
        ax.set_ylim(top * 1e-4, top * 3)
        ax.set_xlabel("index $i$")
        ax.set_ylabel(r"singular value $s_i$")
        ax.set_title(f"{step.name} layer, W: {n_out} × {n_in}")
        ax.legend(fontsize=8, loc="lower left", ncol=2)
    rules = spectral_rules(n_out, n_in)
    table_lr = step.lr * abs(step.multiplier)
    rows = [
        ("init std", std, rules["init_std"]),
        (f"Adam LR (η = {base_lr:g})", table_lr, rules["adam_lr"]),
    ]
    cell = "<td style='padding:0 8px'>{}</td>"
    text = (
        "<table style='font-size:90%'><tr>"
        + "".join(cell.format(h) for h in ("", "μP table (effective)", "spectral rule", "ratio"))
        + "</tr>"
        + "".join(
            "<tr>" + "".join(cell.format(v) for v in (name, f"{a:.3g}", f"{b:.3g}", f"{a / b:.2f}")) + "</tr>"
            for name, a, b in rows
        )
        + "</table>"
        f"<p style='font-size:90%'>natural ‖W‖₂ = {natural_spectral_norm(step.weight):.2f}, "
        f"natural ‖ΔW‖₂ = {natural_spectral_norm(step.update):.2f}, "
        f"stable rank of ΔW = {stable_rank(step.update):.1f}; "
        f"SGD rule n<sub>out</sub>/n<sub>in</sub> = {rules['sgd_lr']:.3g}</p>"
    )
    alt = (f"Sorted singular values, log-log, of the {step.name} layer's initial weight ({n_out} x {n_in}) and of "
           "one Adam update, with dashed lines at the Bai-Yin edge of the weight and at the sign-update norm "
           "eta times the square root of n_out times n_in.")
    return widgets.VBox([figure_widget(fig, alt=alt), widgets.HTML(text)])
