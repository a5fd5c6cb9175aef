"""Storing runs: one small JSON file per run, keyed by its configuration; the results cache of a sweep.

Each run is keyed by a hash of its full configuration (:func:`run_key`) and stored as one JSON file
``<results>/<key>.json`` (:func:`result_path`), written atomically by :func:`save_result` (a temporary
file in the same folder, then ``os.replace``), so an interrupted sweep never leaves half a result and
a rerun skips what is done (:func:`pending_runs`). Merging shards, or sweeps run on other machines, is
copying their JSON files into one folder. :func:`load_record` / :func:`load_records` read records back,
checked against their key and :data:`FORMAT_VERSION` (:class:`ResultsError` otherwise); files not named
like a record (:func:`is_record_name`; a README, notes) are skipped and listed by :func:`ignored_files`.

Running the runs is :mod:`gqa_mup_ref.sweep`'s job, analysing them :mod:`gqa_mup_ref.analysis`'s.
Nothing here imports torch, so checking or reading a finished sweep stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import RunConfig

if TYPE_CHECKING:  # pragma: no cover
    from .train import RunResult

__all__ = [
    "FORMAT_VERSION",
    "ResultsError",
    "run_key",
    "normalized_fields",
    "result_path",
    "save_result",
    "is_record_name",
    "ignored_files",
    "load_record",
    "load_records",
    "pending_runs",
]

FORMAT_VERSION = 1
"""Version of the per-run JSON layout; a file with another version is refused, never guessed at."""

class ResultsError(RuntimeError):
    """A stored result that cannot be trusted (corrupt, or written by an incompatible version)."""


# ----------------------------------------------------------------------------- run keys


def _float_fields() -> set[str]:
    hints = typing.get_type_hints(RunConfig)
    return {name for name, hint in hints.items() if hint is float or float in typing.get_args(hint)}


_FLOAT_FIELDS = _float_fields()


def normalized_fields(values: Mapping[str, Any]) -> dict:
    """Integers given for float fields become floats (``weight_decay = 0`` is ``0.0``).

    :func:`run_key` counts a field this way, and :func:`~gqa_mup_ref.sweep_config.expand_grid` builds its
    configs from values normalized with it, so ``weight_decay = 0`` in a sweep file is the default run.
    """
    return {k: float(v) if k in _FLOAT_FIELDS and type(v) is int else v for k, v in values.items()}


def run_key(config: RunConfig) -> str:
    """Stable key of a run: the first 16 hex digits of SHA-256 of its config as sorted JSON.

    Every field counts, defaults included, so two runs share a key exactly when they share a
    configuration (floats are written by ``repr``, which round-trips exactly; an integer given for
    a float field counts as that float). ``lr_multipliers`` counts only when it is not empty, so runs
    without multipliers keep the keys (and file names) they had before that field existed.
    """
    values = normalized_fields(config.to_dict())  # without lr_multipliers when there are none
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- storing and reading runs


def result_path(results_dir: str | os.PathLike, config: RunConfig) -> Path:
    """Where the run ``config`` is stored: ``<results_dir>/<run_key(config)>.json``."""
    return Path(results_dir) / f"{run_key(config)}.json"


def _jsonable(value: Any) -> Any:
    """NaN/inf become ``null`` so the files are strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def save_result(results_dir: str | os.PathLike, result: RunResult) -> Path:
    """Write one run's record atomically (temporary file in the same folder, then ``os.replace``)."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    record = {"format_version": FORMAT_VERSION, "key": run_key(result.config)} | result.to_dict()
    path = result_path(directory, result.config)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 minus the
        # umask), so a results folder shared with a group stays readable to it.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(_jsonable(record), file, indent=1, allow_nan=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_RECORD_NAME = re.compile(r"[0-9a-f]{16}\.json")


def is_record_name(name: str) -> bool:
    """Whether a file name is a run record's, ``<16 hex digits>.json`` (:func:`run_key`)."""
    return _RECORD_NAME.fullmatch(name) is not None


def ignored_files(results_dir: str | os.PathLike) -> list[str]:
    """Names in ``results_dir`` that are not run records (a README, notes), which every reader skips.

    Hidden names (temporary files of a write in progress) are left out of the list.
    """
    directory = Path(results_dir)
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if not p.name.startswith(".") and not is_record_name(p.name))


def load_record(path: str | os.PathLike) -> dict:
    """One stored run as a dict (``config`` a dict; missing losses as NaN), checked before use.

    Raises :class:`ResultsError` naming the file when it is not valid JSON, has another format
    version, or does not match its key; the fix is to delete the file and re-run the sweep.
    """
    path = Path(path)
    fix = f"delete {path} and re-run the sweep to recompute it"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(f"results file {path} is corrupt ({error}); {fix}") from None
    if not isinstance(record, dict):
        raise ResultsError(f"results file {path} is not a run record; {fix}")
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        raise ResultsError(
            f"results file {path} has format_version={version!r}, this code reads "
            f"{FORMAT_VERSION}; {fix}"
        )
    try:
        config = RunConfig(**record["config"])
        for name in ("train_loss", "val_loss", "diverged", "wall_time"):
            record[name]  # noqa: B018 - presence check
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsError(f"results file {path} is incomplete or invalid ({error!r}); {fix}") from None
    if record.get("key") != run_key(config) or path.stem != record["key"]:
        raise ResultsError(
            f"results file {path} does not match its configuration (key {record.get('key')!r}, "
            f"expected {run_key(config)!r}); {fix}"
        )
    for name in ("train_loss", "val_loss"):
        if record[name] is None:
            record[name] = math.nan
    return record


def load_records(results_dir: str | os.PathLike, configs: Iterable[RunConfig] | None = None
                 ) -> list[dict]:
    """Every stored record in ``results_dir`` (or only those of ``configs``), sorted by key.

    Files not named ``<key>.json`` (:func:`ignored_files`) are skipped; a file named like a record
    that is not a valid one raises :class:`ResultsError`.
    """
    directory = Path(results_dir)
    if configs is not None:
        paths = [p for p in (result_path(directory, c) for c in configs) if p.exists()]
    else:
        paths = sorted(directory.glob("*.json")) if directory.is_dir() else []
    # Only files named like records are read (see ignored_files for the others).
    return sorted((load_record(p) for p in paths if is_record_name(p.name)), key=lambda r: r["key"])


def pending_runs(configs: Sequence[RunConfig], results_dir: str | os.PathLike
                 ) -> tuple[list[RunConfig], list[dict]]:
    """``(runs still to do, records already done)``; every existing file is validated on the way."""
    todo, done = [], []
    for config in configs:
        path = result_path(results_dir, config)
        if path.exists():
            done.append(load_record(path))
        else:
            todo.append(config)
    return todo, done
