"""The shape of a model as the rules see it: the symbols every rule is written in, and their values.

Every rule of :mod:`gqa_mup_ref.parameterization` is a ``sympy`` expression in five shape symbols,

    m    = n / n_base           (width multiplier)
    m_L  = L / L_base           (depth multiplier)
    r    = H / H_kv             (query heads per key/value head)
    d    = n_q / H              (head dimension; n / H unless set explicitly)
    ρ    = n_q / n = H·d / n    (query width over model width; 1 when d = n / H)

and :class:`Shape` holds the sizes of one model (and of its proxy, through ``base_width`` and
``base_depth``) and gives the symbols their exact values (:meth:`Shape.substitutions`). Both are
re-exported by :mod:`gqa_mup_ref.parameterization`, where the rules that use them live.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

__all__ = ["m", "m_L", "r", "d", "rho", "SYMBOLS", "Shape"]

m = sympy.Symbol("m", positive=True)
"""Width multiplier ``m = n / n_base``."""
m_L = sympy.Symbol("m_L", positive=True)
"""Depth multiplier ``m_L = L / L_base``."""
r = sympy.Symbol("r", positive=True)
"""Repetition ``r = H / H_kv``: how many query heads share one key/value head."""
d = sympy.Symbol("d", positive=True)
"""Head dimension ``d`` (``n / H`` unless set explicitly)."""
rho = sympy.Symbol("rho", positive=True)
"""Query width over model width, ``ρ = n_q / n = H·d / n`` (1 when ``d = n / H``)."""

SYMBOLS = {
    "m": "width multiplier n / n_base",
    "m_L": "depth multiplier L / L_base",
    "r": "query heads per key/value head, H / H_kv",
    "d": "head dimension (n / H unless set explicitly)",
    "rho": "query width over model width, n_q / n = H·d / n (1 when d = n / H)",
}
"""Each shape symbol's name and what it stands for, in words (the glossary gives each the same ratio)."""


@dataclass(frozen=True)
class Shape:
    """The sizes a rule depends on. ``base_width``/``base_depth`` are the proxy model's (m = m_L = 1).

    ``head_dim`` defaults to ``width / n_head``; set it explicitly for models whose query width
    ``n_q = n_head · head_dim`` differs from ``width`` (many released GQA models do). The rules then use
    ``ρ = n_q / width`` in the key/value factor. The width multiplier ``m`` is taken from ``width``
    alone, which assumes ``ρ`` is the same for the proxy and the target (W_O's fan-in is ``n_q``).
    """

    width: int
    depth: int
    n_head: int
    n_kv_head: int
    base_width: int | None = None
    base_depth: int = 1
    head_dim: int | None = None

    def __post_init__(self) -> None:
        if self.base_width is None:
            object.__setattr__(self, "base_width", self.width)
        if self.head_dim is not None:
            if not isinstance(self.head_dim, int) or isinstance(self.head_dim, bool):
                raise ValueError(f"head_dim={self.head_dim!r} must be an integer")
            if self.head_dim < 1:
                raise ValueError(f"head_dim={self.head_dim} must be a positive integer")
        for name in ("width", "depth", "n_head", "n_kv_head", "base_width", "base_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name}={value!r} must be an integer")
            if value < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        if self.n_head % self.n_kv_head:
            divisors = [k for k in range(1, self.n_head + 1) if self.n_head % k == 0]
            raise ValueError(
                f"n_head={self.n_head} is not divisible by n_kv_head={self.n_kv_head}; "
                f"choose n_kv_head in {{{', '.join(map(str, divisors))}}}"
            )
        if self.head_dim is None:
            if self.width % self.n_head:
                raise ValueError(
                    f"width={self.width} is not divisible by n_head={self.n_head}; choose a width "
                    f"that is a multiple of {self.n_head} (head dim = width / n_head), or give "
                    "head_dim explicitly"
                )
            object.__setattr__(self, "head_dim", self.width // self.n_head)

    @property
    def query_width(self) -> int:
        """``n_q = n_head · head_dim``: rows of W_Q (and of the repeated K⊕, V⊕), columns of W_O."""
        return self.n_head * self.head_dim

    @property
    def query_ratio(self) -> float:
        """``ρ = n_q / width``; 1 unless ``head_dim`` was set to something other than ``width / n_head``."""
        return self.query_width / self.width

    @property
    def r(self) -> int:
        """Repetition ``H / H_kv``: 1 is multi-head attention, ``H`` is multi-query attention."""
        return self.n_head // self.n_kv_head

    @property
    def width_multiplier(self) -> float:
        return self.width / self.base_width

    @property
    def depth_multiplier(self) -> float:
        return self.depth / self.base_depth

    def substitutions(self) -> dict[sympy.Symbol, sympy.Expr]:
        """Values of the shape symbols, exact (rationals), for evaluating rules."""
        return {
            m: sympy.Rational(self.width, self.base_width),
            m_L: sympy.Rational(self.depth, self.base_depth),
            r: sympy.Integer(self.r),
            d: sympy.Integer(self.head_dim),
            rho: sympy.Rational(self.query_width, self.width),
        }
