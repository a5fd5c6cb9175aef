"""Running sweeps: grids of training runs, sharded, on workers: the experiment engine of chapters 3–5.

A sweep is a list of :class:`~gqa_mup_ref.train.RunConfig` (usually the product of a few grid
lists, :func:`expand_grid`, read from a sweep file by :func:`load_sweep_config`), split into shards
by :func:`shard_runs`. :func:`run_sweep` runs what has no stored result yet: on CPU in worker
processes with one thread each (two single-thread workers beat one two-thread process on two
cores), on a GPU sequentially in this process. A run that diverges is stored as diverged; a run
that raises is reported in :attr:`SweepReport.failed` and retried by the next rerun; neither stops
the sweep. :func:`estimate_cost` says what a sweep will cost before it runs.

Storing the runs (run keys, one JSON file per run written atomically, reading and checking them)
lives in :mod:`gqa_mup_ref.runstore`, and analysing them (tidy rows, seed statistics, paired
differences, optima) in :mod:`gqa_mup_ref.analysis`; the public names of both are re-exported here
for code written before the splits.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import RunConfig

# Re-exported: the analysis functions moved to gqa_mup_ref.analysis; `sweep.optima` etc. keep working.
from .analysis import (  # noqa: F401
    Optimum,
    display_table,
    find_optimum,
    format_table,
    optima,
    paired_differences,
    seed_summary,
    tidy_rows,
)

# Storing runs lives in gqa_mup_ref.runstore; its public names stay reachable as `sweep.load_record` etc.
from .runstore import (  # noqa: F401
    FORMAT_VERSION,
    ResultsError,
    ignored_files,
    is_record_name,
    load_record,
    load_records,
    normalized_fields,
    pending_runs,
    result_path,
    run_key,
    save_result,
)

if TYPE_CHECKING:  # pragma: no cover
    from .train import RunResult

# torch and gqa_mup_ref.train are imported where runs are trained or timed, so that checking a
# finished sweep (or a dry run with stored timings) does not pay torch's import time.


__all__ = [
    "SweepReport",
    "expand_grid",
    "load_sweep_config",
    "shard_runs",
    "parse_shard",
    "run_sweep",
    "resolve_device",
    "check_device",
    "estimate_cost",
    # re-exported from .runstore (storing runs)
    "FORMAT_VERSION",
    "ResultsError",
    "run_key",
    "result_path",
    "save_result",
    "load_record",
    "load_records",
    "pending_runs",
    "ignored_files",
    "is_record_name",
    # re-exported from .analysis
    "Optimum",
    "tidy_rows",
    "format_table",
    "display_table",
    "seed_summary",
    "paired_differences",
    "find_optimum",
    "optima",
]


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(RunConfig)}


# ----------------------------------------------------------------------------- building the run list


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


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` → ``(2, 3)``: the second of three shards (1-based)."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard={text!r} must look like i/N, e.g. 1/3") from None
    _check_shard((i, n))
    return i, n


def shard_runs(configs: Sequence[RunConfig], shard: tuple[int, int] | None) -> list[RunConfig]:
    """Shard ``i`` of ``N`` (1-based) takes runs ``i, i+N, i+2N, …`` of the list; all shards = the list."""
    if shard is None:
        return list(configs)
    i, n = _check_shard(shard)
    return list(configs)[i - 1::n]


def _check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    i, n = shard
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"shard={i}/{n} is out of range; use i/N with 1 <= i <= N")
    return i, n


def _check_fields(values: Mapping, what: str) -> None:
    unknown = sorted(set(values) - _CONFIG_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown {what} {', '.join(map(repr, unknown))}; RunConfig fields are "
            f"{', '.join(sorted(_CONFIG_FIELDS))}"
        )


# ----------------------------------------------------------------------------- running


@dataclass
class SweepReport:
    """What a call to :func:`run_sweep` did. ``failed`` holds ``(config, error text)`` per run that raised."""

    total: int
    skipped: int
    completed: list[dict] = field(default_factory=list)
    failed: list[tuple[RunConfig, str]] = field(default_factory=list)
    wall_time: float = 0.0

    @property
    def diverged(self) -> int:
        return sum(bool(r["diverged"]) for r in self.completed)

    def summary(self) -> str:
        """One line: how many runs were done, skipped, diverged and failed, and the wall time."""
        return (
            f"{self.total} runs: {len(self.completed)} done now ({self.diverged} diverged), "
            f"{self.skipped} already done, {len(self.failed)} failed; {self.wall_time:.1f} s"
        )


def _run_one(config: RunConfig, results_dir: str, device: str,
             train_fn: Callable[..., RunResult]) -> dict:
    """Train one run and store it; returns the stored record (what a worker sends back)."""
    result = train_fn(config, device=device)
    path = save_result(results_dir, result)
    return load_record(path)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _context() -> multiprocessing.context.BaseContext:
    """A start method that is safe with torch: forkserver where it exists, else spawn (never fork)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server imports torch once; every worker forks from it with torch loaded but idle.
    context.set_forkserver_preload([__name__, "gqa_mup_ref.train"])
    return context


DEVICES = ("cpu", "cuda", "auto")


def check_device(device: str) -> str:
    """``device`` if it names a device this sweep can use, else ValueError naming the value and the fix.

    ``cpu``, ``auto`` and ``cuda`` (or ``cuda:N``) are accepted; ``cuda`` only when
    ``torch.cuda.is_available()``. Cheap for ``cpu``/``auto`` (no torch import): call it before
    creating anything.
    """
    if not isinstance(device, str) or not re.fullmatch(r"cpu|auto|cuda(:\d+)?", device):
        raise ValueError(f"--device={device!r} is not a device; choose one of {', '.join(DEVICES)} "
                         "(cuda:N for the N-th GPU)")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            built = f"torch {torch.__version__}, CUDA {torch.version.cuda or 'not built in'}"
            raise ValueError(f"--device={device} but no CUDA GPU is available here ({built}); "
                             "use --device cpu, or auto to take a GPU only when there is one")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device={device} but there are {torch.cuda.device_count()} GPU(s); "
                             f"use cuda:0 … cuda:{torch.cuda.device_count() - 1}")
    return device


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is present, else ``"cpu"``; other names are checked (:func:`check_device`)."""
    check_device(device)
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def run_sweep(
    configs: Sequence[RunConfig],
    results_dir: str | os.PathLike,
    workers: int = 2,
    device: str = "auto",
    shard: tuple[int, int] | None = None,
    quiet: bool = False,
    threads_per_worker: int = 1,
    on_result: Callable[[dict], None] | None = None,
    train_fn: Callable[..., RunResult] | None = None,
) -> SweepReport:
    """Run every config of the (shard of the) sweep that has no stored result, storing each as it ends.

    ``workers > 1`` on CPU runs that many processes with ``threads_per_worker`` torch threads each;
    ``workers == 1`` or a CUDA device runs in this process, one run after another. ``on_result`` is
    called in this process with each new record (an exception there stops the sweep; finished runs
    stay stored). ``train_fn`` replaces :func:`~gqa_mup_ref.train.train` (the default; it must be
    picklable for workers). Stored results that are corrupt raise
    :class:`~gqa_mup_ref.runstore.ResultsError` before anything runs.
    ``quiet=True`` prints nothing (no bar, no summary line with its timing): use it in notebooks
    that nbval compares, and print what you choose from the returned :class:`SweepReport`.
    """
    start = time.perf_counter()
    if workers < 1:
        raise ValueError(f"workers={workers} must be a positive integer")
    check_device(device)
    configs = shard_runs(configs, shard)
    todo, done = pending_runs(configs, results_dir)
    report = SweepReport(total=len(configs), skipped=len(done))
    if todo:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        device = resolve_device(device)
        if train_fn is None:
            from .train import train as train_fn
    bar = _progress(len(configs), len(done), quiet)
    try:
        if workers == 1 or not str(device).startswith("cpu") or len(todo) <= 1:
            _run_here(todo, str(results_dir), device, train_fn, report, bar, on_result)
        else:
            _run_pool(todo, str(results_dir), min(workers, len(todo)), threads_per_worker,
                      train_fn, report, bar, on_result)
    finally:
        bar.close()
        report.wall_time = time.perf_counter() - start
    if not quiet:
        print(report.summary())
        for config, error in report.failed:
            print(f"  failed {run_key(config)}: {error}")
    return report


def _progress(total: int, initial: int, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=quiet, unit="run", desc="sweep",
                dynamic_ncols=True, smoothing=0.1)


def _record(report: SweepReport, bar, on_result, record: dict) -> None:
    report.completed.append(record)
    bar.update(1)
    bar.set_postfix(diverged=report.diverged, failed=len(report.failed), refresh=False)
    if on_result is not None:
        on_result(record)


def _run_here(todo, results_dir, device, train_fn, report, bar, on_result) -> None:
    for config in todo:
        try:
            record = _run_one(config, results_dir, device, train_fn)
        except Exception as error:  # a run that raises is reported; the others go on
            report.failed.append((config, f"{type(error).__name__}: {error}"))
            bar.update(1)
            continue
        _record(report, bar, on_result, record)


def _run_pool(todo, results_dir, workers, threads, train_fn, report, bar, on_result) -> None:
    pool = futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_init_worker, initargs=(threads,)
    )
    jobs = {pool.submit(_run_one, c, results_dir, "cpu", train_fn): c for c in todo}
    clean = False
    try:
        for job in futures.as_completed(jobs):
            try:
                record = job.result()
            except futures.process.BrokenProcessPool as error:
                report.failed.append((jobs[job], f"{type(error).__name__}: {error} (a worker "
                                      "died; in a script, call run_sweep under `if __name__ == "
                                      "'__main__':` since workers re-import it, or use workers=1)"))
                bar.update(1)
                continue
            except Exception as error:  # a run that raised inside its worker
                report.failed.append((jobs[job], f"{type(error).__name__}: {error}"))
                bar.update(1)
                continue
            _record(report, bar, on_result, record)
        clean = True
    finally:
        # On an interruption, drop queued runs and let the ones in flight finish storing
        # themselves; what was stored stays valid and a rerun does the rest.
        pool.shutdown(wait=clean, cancel_futures=True)


# ----------------------------------------------------------------------------- cost estimate

_COST_FIELDS = ("width", "depth", "n_head", "n_kv_head", "batch_size", "context_length",
                "eval_batches", "data")


def _cost_signature(config: Mapping | RunConfig) -> tuple:
    values = config.to_dict() if isinstance(config, RunConfig) else config
    return tuple(values[name] for name in _COST_FIELDS)


def _time_steps(config: RunConfig, steps: int = 3, threads: int = 1) -> tuple[float, float]:
    """``(seconds to build, median seconds per training step)`` for the shape of ``config``."""
    import torch

    from .train import build, optimizer_step

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        model, optimizer, corpus = build(config)
        setup = time.perf_counter() - start
        generator = torch.Generator().manual_seed(0)
        times = []
        for i in range(steps + 1):
            x, y = corpus.get_batch("train", config.batch_size, config.context_length, generator)
            t0 = time.perf_counter()
            optimizer_step(model, optimizer, model(x, y)[1])
            if i:  # the first step warms up
                times.append(time.perf_counter() - t0)
        return setup, statistics.median(times)
    finally:
        torch.set_num_threads(previous)


def estimate_cost(configs: Sequence[RunConfig], results_dir: str | os.PathLike | None = None,
                  workers: int = 1) -> dict:
    """Estimated seconds for ``configs``: one core-time per run, summed, and the wall time on ``workers``.

    Seconds per step come from stored results of the same shape (median ``wall_time / steps``),
    else from timing three steps of that shape here (one thread, after one warm-up step). Evaluation
    is counted as ``eval_batches / 3`` steps (forward only). Returns ``{"runs", "cpu_seconds",
    "wall_seconds", "per_run": [seconds, …], "calibrated_from": "results"/"timing" per shape}``.
    """
    per_step: dict[tuple, tuple[float, float, str]] = {}
    if results_dir is not None and Path(results_dir).is_dir():
        rates: dict[tuple, list[float]] = {}
        for record in load_records(results_dir):
            if record["steps_done"] > 0 and not record["diverged"]:
                steps = record["steps_done"] + record["config"]["eval_batches"] / 3
                rates.setdefault(_cost_signature(record["config"]), []).append(
                    record["wall_time"] / steps)
        # The median ignores the first run of each worker, which also loads the corpus.
        per_step = {sig: (0.0, statistics.median(r), "results") for sig, r in rates.items()}
    per_run = []
    for config in configs:
        sig = _cost_signature(config)
        if sig not in per_step:
            setup, step = _time_steps(config)
            per_step[sig] = (setup, step, "timing")
        setup, step, _ = per_step[sig]
        per_run.append(setup + step * (config.steps + config.eval_batches / 3))
    cpu = sum(per_run)
    lanes = max(1, min(workers, len(per_run)))
    # Longest-first greedy packing on ``workers`` lanes is a fair guess at the wall time.
    loads = [0.0] * lanes
    for seconds in sorted(per_run, reverse=True):
        loads[loads.index(min(loads))] += seconds
    return {
        "runs": len(per_run),
        "cpu_seconds": cpu,
        "wall_seconds": max(loads) if per_run else 0.0,
        "per_run": per_run,
        "calibrated_from": {str(sig): src for sig, (_, _, src) in per_step.items()},
    }
