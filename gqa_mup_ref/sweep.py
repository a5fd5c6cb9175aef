"""Running sweeps: grids of training runs, sharded, on workers: the experiment engine of chapters 3–5.

A sweep is a list of :class:`~gqa_mup_ref.train.RunConfig` (usually the product of a few grid
lists, :func:`~gqa_mup_ref.sweep_config.expand_grid`, read from a sweep file by
:func:`~gqa_mup_ref.sweep_config.load_sweep_config`), split into shards by :func:`shard_runs`. :func:`run_sweep` runs what has no stored result yet: on CPU in worker
processes with one thread each (two single-thread workers beat one two-thread process on two
cores), on a GPU sequentially in this process. A run that diverges is stored as diverged; a run
that raises is reported in :attr:`SweepReport.failed` and retried by the next rerun; neither stops
the sweep. :func:`estimate_cost` says what a sweep will cost before it runs.

Building the run list (grids and sweep files) lives in :mod:`gqa_mup_ref.sweep_config`, storing the
runs (run keys, one JSON file per run written atomically, reading and checking them) in
:mod:`gqa_mup_ref.runstore`, and analysing them (tidy rows, seed statistics, paired differences,
optima) in :mod:`gqa_mup_ref.analysis`; the public names of all three are re-exported here for code
written before the splits.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config import RunConfig

# The run list (grids, sweep files) is built in gqa_mup_ref.sweep_config; `sweep.expand_grid` etc. keep working.
from .sweep_config import expand_grid, load_sweep_config  # noqa: F401

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
    "shard_runs",
    "parse_shard",
    "run_sweep",
    "resolve_device",
    "check_device",
    "estimate_cost",
    # re-exported from .sweep_config (building the run list)
    "expand_grid",
    "load_sweep_config",
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


# ----------------------------------------------------------------------------- shards of the run list


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
