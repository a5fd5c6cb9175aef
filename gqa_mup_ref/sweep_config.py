"""A sweep's run list: the product of a few grid lists of :class:`~gqa_mup_ref.config.RunConfig` fields,
read from a sweep file.

A sweep file (TOML, JSON or YAML, :func:`load_sweep_config`) holds fixed fields at its top level and a
``grid`` table of lists; the run list is their product (:func:`expand_grid`),

    runs = { fixed ∪ g₁ ∪ … ∪ g_k  :  g₁ ∈ grid₁, …, g_k ∈ grid_k },

with ``log2_<field> = [a, b]`` meaning ``field ∈ {2ᵃ, 2ᵇ}``, duplicates (same run key) dropped, and every point
checked to be a valid run before anything trains. :mod:`gqa_mup_ref.sweep` runs the list (and re-exports
both functions).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import RunConfig
from .runstore import normalized_fields, run_key

__all__ = ["expand_grid", "load_sweep_config"]


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(RunConfig)}


def expand_grid(fixed: Mapping[str, Any] | None = None, grid: Mapping[str, Sequence] | None = None
                ) -> list[RunConfig]:
    """The product of the ``grid`` lists on top of the ``fixed`` fields, as configs, duplicates dropped.

    Keys are :class:`RunConfig` fields. ``log2_<field>`` takes exponents (``log2_lr = [-8, -7]``
    means ``lr ∈ {2⁻⁸, 2⁻⁷}``). ``lr_multipliers`` takes a list of tables
    (``lr_multipliers = [{key = 0.5}, {key = 2.0}]``). A list of tables under any name that is not
    a field varies several fields together (``shape = [{width = 128, n_head = 4}, {width = 256,
    n_head = 8}]``). The last grid key varies fastest.

    An invalid point raises ValueError naming it; when every point fails because the fixed fields
    do not make a valid run by themselves, the message blames the fixed fields instead.
    """
    fixed = dict(fixed or {})
    grid = dict(grid or {})
    _check_fields(fixed, "fixed field")
    axes: list[list[dict]] = []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"grid.{name}={values!r} must be a non-empty list of values")
        if name.startswith("log2_"):
            target = name[len("log2_"):]
            _check_fields({target: None}, f"grid.{name} refers to a field")
            exponents = []
            for v in values:
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                    raise ValueError(f"grid.{name} entry {v!r} must be a finite number (an exponent of 2)")
                exponents.append({target: 2.0 ** float(v)})
            axes.append(exponents)
        elif name in _CONFIG_FIELDS:  # a field's values (lr_multipliers' values are tables)
            axes.append([{name: v} for v in values])
        elif all(isinstance(v, Mapping) for v in values):
            for v in values:
                _check_fields(v, f"grid.{name} entry field")
            axes.append([dict(v) for v in values])
        else:
            _check_fields({name: None}, "grid field")
    configs: list[RunConfig] = []
    seen: set[str] = set()
    failures: list[tuple[dict, str]] = []
    for combination in itertools.product(*axes):
        values = dict(fixed)
        for part in combination:
            values.update(part)
        try:
            config = RunConfig(**normalized_fields(values))
        except (TypeError, ValueError) as error:
            failures.append(({k: v for part in combination for k, v in part.items()}, str(error)))
            continue
        if (key := run_key(config)) not in seen:
            seen.add(key)
            configs.append(config)
    if failures:
        varied, error = failures[0]
        if not configs and _fixed_error(fixed, grid) is not None:
            # Every point fails and the fixed fields fail on their own: the fixed fields are wrong.
            given = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
            raise ValueError(f"the fixed fields are not a valid run ({_fixed_error(fixed, grid)}); "
                             f"fix the top-level fields ({given})")
        raise ValueError(
            f"grid point {varied} is not a valid run ({error}); remove it from the grid"
            + (f" ({len(failures)} of {len(failures) + len(configs)} points fail)"
               if len(failures) > 1 else "")
        )
    return configs


def _fixed_error(fixed: Mapping, grid: Mapping) -> str | None:
    """The error of the fixed fields alone (defaults elsewhere), or None when they make a valid run."""
    try:
        RunConfig(**normalized_fields(fixed))
    except (TypeError, ValueError) as error:
        return str(error)
    return None


_BOOK_RESULTS_FIX = ("to read the book's committed results, run the notebook from the repository's book/ folder, "
                     "next to its results/ (on Colab, run the notebook's first code cell, which clones the "
                     "repository and changes into its book/ folder), or pass a path made by "
                     "gqa_mup_ref.results.results_path(...), which also finds the copy installed with the "
                     "package or the folder named by GQA_MUP_RESULTS")
"""The fix named by errors about a missing results folder given as a path (:func:`load_sweep_config`,
:mod:`.kv_premises`); :mod:`.results` names its own when it finds no results folder at all."""


def _shown(path: Path) -> str:
    """``'path'``, and for a relative path the working directory it was resolved from, for an error."""
    return repr(str(path)) + ("" if path.is_absolute() else f" (from the working directory {os.getcwd()!r})")


def load_sweep_config(path: str | os.PathLike) -> tuple[list[RunConfig], dict]:
    """Read a sweep file (TOML, JSON, or YAML when PyYAML is installed): ``(configs, settings)``.

    Top-level keys are fixed :class:`RunConfig` fields, ``grid`` is a table of lists (see
    :func:`expand_grid`), and the optional settings ``results`` (folder) and ``workers`` are
    returned in ``settings``.
    """
    path = Path(path)
    if not path.is_file():
        if not path.parent.is_dir() and "results" in path.parts:
            raise ValueError(f"sweep config {_shown(path)} does not exist, nor does its folder; "
                             + _BOOK_RESULTS_FIX)
        raise ValueError(f"sweep config {str(path)!r} does not exist; pass an existing .toml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read sweep config {path}: {error}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:  # its message ends "(at line L, column C)"
            raise ValueError(f"{path}: TOML syntax error: {error}") from None
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}: JSON syntax error: {error.msg} "
                             f"(at line {error.lineno}, column {error.colno})") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(
                f"{path} is YAML but PyYAML is not installed; install pyyaml or use TOML/JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:  # its message names the line
            raise ValueError(f"{path}: YAML syntax error: {' '.join(str(error).split())}") from None
    else:
        raise ValueError(f"sweep config {path} has suffix {suffix!r}; use .toml or .json")
    if not isinstance(data, dict):
        raise ValueError(f"sweep config {path} must be a table of fields, got {type(data).__name__}")
    data = dict(data)
    grid = data.pop("grid", {})
    settings = {k: data.pop(k) for k in ("results", "workers") if k in data}
    if not isinstance(grid, dict):
        raise ValueError(f"'grid' in {path} must be a table of lists, got {type(grid).__name__}")
    try:
        return expand_grid(data, grid), settings
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _check_fields(values: Mapping, what: str) -> None:
    unknown = sorted(set(values) - _CONFIG_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown {what} {', '.join(map(repr, unknown))}; RunConfig fields are "
            f"{', '.join(sorted(_CONFIG_FIELDS))}"
        )
