"""The configuration of one training run: plain data, importable without torch.

A :class:`RunConfig` determines a run's result (on a given device and torch version), so it is also
the key under which :mod:`gqa_mup_ref.sweep` stores results. Keeping it free of torch lets the command
line check a finished sweep, or print rules, without loading torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .parameterization import Shape, get_parameterization

__all__ = ["SCHEDULES", "RunConfig"]

SCHEDULES = ("cosine", "linear", "constant")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result (on a given device and torch version)."""

    parameterization: str = "gqa-mup"
    kv_factor: str | None = None  # None: the parameterization's own
    alpha: float | None = None  # None: the parameterization's own
    width: int = 128
    base_width: int = 128
    depth: int = 2
    base_depth: int = 1
    n_head: int = 4
    n_kv_head: int = 4
    lr: float = 2**-6
    weight_decay: float = 0.0
    steps: int = 250
    batch_size: int = 16
    context_length: int = 64
    warmup_fraction: float = 0.1
    schedule: str = "cosine"
    grad_clip: float = 1.0
    base_init_std: float = 0.02
    data: str = "pydoc"
    seed: int = 0
    eval_batches: int = 8
    head_dim: int | None = None  # None: width / n_head

    def __post_init__(self) -> None:
        self.shape  # validates sizes with clear messages
        get_parameterization(self.parameterization, self.kv_factor, self.alpha)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr} must be positive")
        for name in ("steps", "batch_size", "context_length", "eval_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be a positive integer")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction={self.warmup_fraction} must be in [0, 1)")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be non-negative (0 disables)")

    @property
    def shape(self) -> Shape:
        return Shape(
            self.width, self.depth, self.n_head, self.n_kv_head, self.base_width, self.base_depth,
            self.head_dim,
        )

    def to_dict(self) -> dict:
        """Every field; ``head_dim`` only when set, so runs stored before it existed keep their keys."""
        values = dataclasses.asdict(self)
        if values["head_dim"] is None:
            del values["head_dim"]
        return values
