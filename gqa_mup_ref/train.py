"""One training run: a configuration in, a small result record out.

``train(RunConfig(...))`` builds the model and its AdamW groups from the parameterization, trains
with linear warm-up then cosine (or linear) decay and gradient clipping, and returns a
:class:`RunResult`. A run whose loss becomes NaN/inf, or stays above twice the loss of a uniform guess
for ``PATIENCE`` consecutive steps, stops there and is recorded as diverged (a single spike is not a
divergence): it never raises, so a sweep can go on.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .config import SCHEDULES, RunConfig
from .data import Corpus, load_corpus
from .model import GQATransformer, ModelConfig
from .parameterization import build_adamw, get_parameterization

__all__ = ["SCHEDULES", "RunConfig", "RunResult", "build", "lr_multiplier", "optimizer_step", "train",
           "evaluate"]

PATIENCE = 5  # consecutive exploded steps that count as a divergence


@dataclass
class RunResult:
    """What a sweep stores per run. Losses are mean cross-entropy in nats per token."""

    config: RunConfig
    train_loss: float  # mean training loss over the last 10 % of steps
    val_loss: float  # on fixed validation batches (the same for every run)
    diverged: bool
    steps_done: int
    wall_time: float  # seconds
    loss_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, train loss), thinned
    device: str = "cpu"
    torch_version: str = torch.__version__

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, record: dict) -> RunResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(record) - fields
        if unknown or "config" not in record:
            raise ValueError(f"not a RunResult record: unexpected keys {sorted(unknown)}")
        values = dict(record)
        values["config"] = RunConfig(**record["config"])
        values["loss_curve"] = [tuple(point) for point in record.get("loss_curve", [])]
        return cls(**values)


@functools.lru_cache(maxsize=4)
def _corpus(source: str) -> Corpus:
    return load_corpus(source)


def lr_multiplier(step: int, config: RunConfig) -> float:
    """Schedule factor for ``step`` (0-based): linear warm-up to 1, then decay to 0 (or flat)."""
    warmup = round(config.warmup_fraction * config.steps)
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, config.steps - warmup)
    if config.schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build(config: RunConfig, device: str | torch.device = "cpu"):
    """``(model, optimizer, corpus)`` for a config, seeded; what :func:`train` and coordinate checks use."""
    corpus = _corpus(config.data)
    torch.manual_seed(config.seed)
    model_config = ModelConfig(config.shape, corpus.vocab_size, config.context_length)
    param = get_parameterization(config.parameterization, config.kv_factor, config.alpha)
    model = GQATransformer(model_config, param, config.base_init_std).to(device)
    optimizer = build_adamw(model, config.lr, config.weight_decay,
                            lr_multipliers=dict(config.lr_multipliers))
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]
    return model, optimizer, corpus


def optimizer_step(model, optimizer, loss: torch.Tensor, grad_clip: float = 0.0) -> None:
    """One update from ``loss``: gradients, optional clipping of their global norm, AdamW step.

    Every training loop of the package (runs, coordinate checks, chapter experiments, cost
    estimates) steps through here, so they all update the model the same way.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def train(
    config: RunConfig,
    device: str | torch.device = "cpu",
    curve_points: int = 50,
    on_step: Callable[[int, float], None] | None = None,
    on_checkpoint: Callable[[int, GQATransformer], None] | None = None,
) -> RunResult:
    """Train one model; never raises on divergence. ``on_step(step, loss)`` reports progress.

    ``on_checkpoint(step, model)`` is called before each update with the number of updates done so
    far, and once after the last (``step = steps``, unless the run diverged). It is for instruments
    that only read the model (e.g. ``gqa_mup_ref.kv_premises.PremiseProbe``); it must not
    change parameters or draw from torch's global random state, so the run stays what it is.
    """
    _corpus(config.data)  # loaded once per process, outside the timing
    start = time.perf_counter()
    model, optimizer, corpus = build(config, device)
    batches = torch.Generator().manual_seed(config.seed)
    explode = 2 * math.log(corpus.vocab_size)  # twice the loss of a uniform guess
    losses: list[float] = []
    diverged, exploded_steps = False, 0
    model.train()
    for step in range(config.steps):
        if on_checkpoint is not None:
            on_checkpoint(step, model)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * lr_multiplier(step, config)
        x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
        _, loss = model(x.to(device), y.to(device))
        value = loss.item()
        exploded_steps = exploded_steps + 1 if value > explode else 0
        if not math.isfinite(value) or exploded_steps >= PATIENCE:
            diverged = True
            break
        losses.append(value)
        optimizer_step(model, optimizer, loss, config.grad_clip)
        if on_step is not None:
            on_step(step, value)
    if on_checkpoint is not None and not diverged:
        on_checkpoint(len(losses), model)

    tail = losses[-max(1, len(losses) // 10):] if losses else []
    train_loss = float(sum(tail) / len(tail)) if tail and not diverged else math.nan
    val_loss = math.nan if diverged else evaluate(model, corpus, config, device)
    stride = max(1, len(losses) // curve_points)
    curve = [(i, round(v, 5)) for i, v in enumerate(losses) if i % stride == 0 or i == len(losses) - 1]
    return RunResult(
        config=config,
        train_loss=train_loss,
        val_loss=val_loss,
        diverged=diverged,
        steps_done=len(losses),
        wall_time=time.perf_counter() - start,
        loss_curve=curve,
        device=str(device),
    )


@torch.no_grad()
def evaluate(model: GQATransformer, corpus: Corpus, config: RunConfig, device="cpu") -> float:
    """Mean validation loss over ``config.eval_batches`` fixed batches (seed 0 for every run)."""
    model.eval()
    batches = torch.Generator().manual_seed(0)
    total = 0.0
    for _ in range(config.eval_batches):
        x, y = corpus.get_batch("val", config.batch_size, config.context_length, batches)
        total += model(x.to(device), y.to(device))[1].item()
    model.train()
    value = total / config.eval_batches
    return value if math.isfinite(value) else math.nan
