"""Measure how long each notebook of the book takes to re-execute: wall time and CPU time of its kernel.

The teaching appendix quotes these numbers (it includes ``results/notebook_timings/timings.md``), so an
instructor knows how many CPU minutes each lesson needs. Each notebook is executed from a temporary copy
(the committed one is not touched) with the same kernel the tests use, one BLAS/torch thread::

    python scripts/time_notebooks.py [book/ch01_spectral_feature_learning.ipynb ...]
    python scripts/time_notebooks.py --busy [...]   # the same with one core kept busy by another process


Without arguments it times every ``book/*.ipynb``. Results of notebooks not named are kept, so the
file can be updated one chapter at a time; rows of notebooks that no longer exist are dropped. Writes ``results/notebook_timings/timings.json`` (with the
hardware, Python/torch versions, commit and load average at the start of each run) and ``timings.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "notebook_timings"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def time_notebook(path: Path, busy: bool = False) -> dict:
    """Execute a copy of ``path``; return its wall seconds and the kernel's CPU seconds.

    ``busy``: meanwhile another process (``while True: pass``) keeps one core busy, as on a shared
    classroom machine; a notebook whose idle threads spin instead of sleeping slows down far more than 2×.
    """
    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy2(path, copy)
        notebook = nbformat.read(copy, as_version=4)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            start = time.perf_counter()
            NotebookClient(notebook, timeout=1800, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # before the busy process is reaped and counted
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "kernel_cpu_s": round(cpu, 1), "load_average_at_start": round(load, 2)}


def write_table(results: dict) -> str:
    busy = results.get("notebooks_busy", {})
    lines = ["| notebook | wall time (min) | kernel CPU time (min) | load average at start | measured "
             "| one core busy: wall (min) | busy ÷ idle |",
             "|---|---|---|---|---|---|---|"]
    for name, row in sorted(results["notebooks"].items()):
        other = busy.get(name)
        extra = (f"{other['wall_s'] / 60:.1f} | {other['wall_s'] / row['wall_s']:.1f}×" if other else "– | –")
        lines.append(f"| `{name}` | {row['wall_s'] / 60:.1f} | {row['kernel_cpu_s'] / 60:.1f} | "
                     f"{row['load_average_at_start']:.1f} | {row['date']}, commit {row['commit']} | {extra} |")
    if not results["notebooks"]:
        lines.append("| (none timed yet) | | | | | | |")
    lines.append("")
    lines.append(f"Measured with `python scripts/time_notebooks.py` (and `--busy`: another process keeps one core "
                 f"busy) on {results['hardware']} (Python {results['python']}, torch {results['torch']}). Each "
                 "notebook fixes its own torch thread count (`set_determinism(threads=...)`, 1 or 2), so its "
                 "kernel's CPU time can exceed its wall time.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--busy", action="store_true", help="keep one core busy with another process meanwhile")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "timings.json"
    results = json.loads(path.read_text()) if path.is_file() else {"notebooks": {}}
    for key in ("notebooks", "notebooks_busy"):  # a notebook renamed or split since: its old row goes
        results[key] = {name: row for name, row in results.get(key, {}).items() if (ROOT / "book" / name).is_file()}
    import torch

    from gqa_mup_ref.reproducibility import cpu_model

    results.update({
        "command": "python scripts/time_notebooks.py " + " ".join(str(n) for n in args.notebooks),
        "hardware": f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores",
        "python": platform.python_version(), "torch": torch.__version__,
    })
    for notebook in notebooks:
        row = time_notebook(Path(notebook).resolve(), busy=args.busy)
        row.update(date=time.strftime("%Y-%m-%d"), commit=_commit())
        results.setdefault("notebooks_busy" if args.busy else "notebooks", {})[Path(notebook).name] = row
        print(f"{Path(notebook).name}: {row}", flush=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)
    table = OUT / "timings.md"
    tmp = table.with_suffix(".tmp")
    tmp.write_text(write_table(results))
    tmp.replace(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
