"""The configuration of one training run: plain data, importable without torch.

A :class:`RunConfig` determines a run's result (on a given device and torch version), so it is also
the key under which :mod:`gqa_mup_ref.runstore` stores results. Keeping it free of torch lets the command
line check a finished sweep, or print rules, without loading torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from .parameterization import ROLES, Shape, get_parameterization

__all__ = ["SCHEDULES", "RunConfig", "canonical_lr_multipliers"]

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
    # Per-role factors on top of the rules' LR factors, e.g. {"key": 2.0}; stored as sorted
    # (role, factor) pairs so the config stays hashable. Empty (the default) leaves run keys unchanged.
    lr_multipliers: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_types(self)
        object.__setattr__(self, "lr_multipliers", canonical_lr_multipliers(self.lr_multipliers))
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
        """Every field; ``lr_multipliers`` as a ``{role: factor}`` dict. ``head_dim`` and
        ``lr_multipliers`` are left out when unset/empty, so the dict of a run that uses neither is
        exactly what it was before those fields existed (stored records and their keys included).
        """
        values = dataclasses.asdict(self)
        if self.lr_multipliers:
            values["lr_multipliers"] = dict(self.lr_multipliers)
        else:
            del values["lr_multipliers"]
        if values["head_dim"] is None:
            del values["head_dim"]
        return values


_INT_FIELDS = ("steps", "batch_size", "context_length", "eval_batches", "seed")
_REAL_FIELDS = ("lr", "weight_decay", "warmup_fraction", "grad_clip", "base_init_std")


def _check_types(config: RunConfig) -> None:
    """Wrong types name the field (``steps='many'``) instead of failing in a comparison."""
    for name in _INT_FIELDS:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name}={value!r} must be an integer")
    for name in _REAL_FIELDS + ("alpha",):
        value = getattr(config, name)
        if value is None and name == "alpha":
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number")
    for name in ("parameterization", "schedule", "data"):
        if not isinstance(getattr(config, name), str):
            raise ValueError(f"{name}={getattr(config, name)!r} must be a string")


def canonical_lr_multipliers(value) -> tuple[tuple[str, float], ...]:
    """``{role: factor}`` (or ``(role, factor)`` pairs, or None) as sorted pairs, factors of 1 dropped.

    Roles are those of :data:`gqa_mup_ref.parameterization.ROLES`; factors are finite and ≥ 0
    (0 freezes the role). Dropping factors of 1 makes ``{"key": 1}`` the same run as no multipliers.
    """
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        try:
            pairs = [tuple(pair) for pair in value]
        except TypeError:
            pairs = None
        if pairs is None or isinstance(value, (str, bytes)) or any(len(p) != 2 for p in pairs):
            raise ValueError(f"lr_multipliers={value!r} must be a table of role = factor, "
                             "e.g. {key = 2.0} in a sweep file or {'key': 2.0} in Python")
    out = {}
    for role, factor in pairs:
        if role not in ROLES:
            raise ValueError(f"lr_multipliers has unknown role {role!r}; roles are {', '.join(ROLES)}")
        if (not isinstance(factor, (int, float)) or isinstance(factor, bool)
                or not math.isfinite(factor) or factor < 0):
            raise ValueError(f"lr_multipliers[{role!r}]={factor!r} must be a finite number >= 0 "
                             "(0 freezes the role, 1 leaves it as the rules say)")
        if role in out:
            raise ValueError(f"lr_multipliers gives role {role!r} twice; give it once")
        out[role] = float(factor)
    return tuple(sorted((role, factor) for role, factor in out.items() if factor != 1.0))
