"""The book's figure style: one colour per parameterization, colour-blind-safe, readable at book width."""

from __future__ import annotations

__all__ = ["PALETTE", "PARAM_COLORS", "book_style"]

# Okabe–Ito palette (colour-blind safe).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

PARAM_COLORS = {"sp": "#7F7F7F", "mup": "#E69F00", "gqa-mup": "#0072B2", "dense": "#009E73"}
"""Fixed colours: every figure draws a parameterization in the same colour."""


def book_style() -> dict:
    """``matplotlib.rcParams`` updates for figures at book width (use with ``plt.rc_context``)."""
    return {
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": __import__("cycler").cycler(color=PALETTE),
        "font.size": 10,
        "legend.frameon": False,
    }
