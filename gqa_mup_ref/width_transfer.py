"""Chapter 6's width-transfer sweep, read from its committed results: how far the best LR moves with width.

``results/ch06_width_transfer`` holds one sweep file per parameterization (:data:`GRIDS`): a few learning
rates at each width, several seeds, and one stored record per finished run. :func:`read_width_sweep` reads
them, keeps each parameterization's seeds that are complete at every (width, lr) point of its grid
(:func:`complete_seeds`: a sweep cut short leaves a seed half done), fits the best learning rate per
parameterization and width (:func:`gqa_mup_ref.analysis.optima`) and its shift in octaves per width
doubling (:func:`gqa_mup_ref.transfer.lr_shift_per_doubling`). :func:`drift_clause` says in words whether a
shift is resolved from zero. Both parts of chapter 6 call these, so the numbers and the sentence the
chapter writes about them are computed in one place. Needs no torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .analysis import optima, tidy_rows
from .config import RunConfig
from .runstore import load_records
from .sweep_config import load_sweep_config
from .transfer import lr_shift_per_doubling

__all__ = ["GRIDS", "WidthSweep", "complete_seeds", "read_width_sweep", "drift_clause"]

GRIDS: dict[str, str] = {"sp": "sp.toml", "mup": "mup.toml", "gqa-mup": "gqa-mup.toml"}
"""The sweep file of each parameterization in ``results/ch06_width_transfer``, in the order tables show them."""


@dataclass(frozen=True)
class WidthSweep:
    """A width-transfer sweep as read from its folder by :func:`read_width_sweep`."""

    configs: list[RunConfig]
    """Every run the sweep files list, stored or not."""
    stored: list[dict]
    """One :func:`~gqa_mup_ref.analysis.tidy_rows` row per stored run, complete seed or not."""
    seeds: dict[str, list[int]]
    """Per parameterization of the grids, its seeds complete at every (width, lr) point (maybe none)."""
    rows: list[dict]
    """The rows of :attr:`stored` whose seed is complete: what the optima and shifts are fitted on."""
    optima: list[dict]
    """:func:`~gqa_mup_ref.analysis.optima` of :attr:`rows` by ``("parameterization", "width")``."""
    shifts: dict[str, dict]
    """Per parameterization with at least one complete seed: ``shift`` (octaves of ``lr*`` per width
    doubling), ``stderr``, ``points`` (widths fitted) and ``seeds`` (the complete seeds used)."""


def complete_seeds(configs: Iterable[RunConfig], rows: Iterable[Mapping], parameterization: str) -> list[int]:
    """The seeds of ``parameterization`` whose rows cover exactly its grid's (width, lr) points, sorted.

    ``configs`` is the sweep's run list; ``rows`` are stored runs (``parameterization``, ``seed``,
    ``width``, ``lr``). A seed missing any point of the grid is left out, so an optimum is never fitted
    on a curve with a hole in it.
    """
    wanted = {(c.width, c.lr) for c in configs if c.parameterization == parameterization}
    have: dict[int, set] = {}
    for row in rows:
        if row["parameterization"] == parameterization:
            have.setdefault(row["seed"], set()).add((row["width"], row["lr"]))
    return sorted(seed for seed, points in have.items() if points == wanted)


def read_width_sweep(results_dir: str | os.PathLike, grids: Mapping[str, str] = GRIDS) -> WidthSweep:
    """Read a width-transfer sweep: its runs, complete seeds, optima per width and LR shift per doubling.

    ``grids`` maps each parameterization to its sweep file in ``results_dir`` (default :data:`GRIDS`).
    The shift of a parameterization is the least-squares slope of ``log₂ lr*`` against ``log₂ n`` over
    its widths (:func:`~gqa_mup_ref.transfer.lr_shift_per_doubling`): ``0`` when the learning rate
    transfers, about ``−1`` for a hidden LR that should scale like ``1/n``. A parameterization with no
    complete seed has no entry in :attr:`WidthSweep.shifts`.
    """
    folder = Path(results_dir)
    configs = [c for name in grids.values() for c in load_sweep_config(folder / name)[0]]
    stored = tidy_rows(load_records(folder, configs))
    seeds = {p: complete_seeds(configs, stored, p) for p in grids}
    rows = [r for r in stored if r["seed"] in seeds.get(r["parameterization"], ())]
    per_width = optima(rows, by=("parameterization", "width"))
    shifts = {
        p: lr_shift_per_doubling([o for o in per_width if o["parameterization"] == p]) | {"seeds": seeds[p]}
        for p in grids if seeds[p]
    }
    return WidthSweep(configs, stored, seeds, rows, per_width, shifts)


def drift_clause(shift: Mapping, reference: Mapping, reference_name: str = "SP") -> str:
    """The chapter's clause on a shift per width doubling: resolved from zero (``|s| > 2 se``) or not.

    ``shift`` and ``reference`` are entries of :attr:`WidthSweep.shifts`. Resolved, the clause gives the
    number of seeds and how many times smaller ``|s|`` is than the reference's shift (to the nearest
    whole number); otherwise it says the shift is within two standard errors of zero.
    """
    if abs(shift["shift"]) > 2 * shift["stderr"]:
        return (f"a residual drift resolved from zero at {len(shift['seeds'])} seeds (more than two"
                f" standard errors), but {abs(reference['shift'] / shift['shift']):.0f} times smaller"
                f" than {reference_name}'s")
    return "within two standard errors of zero"
