"""Speed on a busy machine: the reference model's training step idle and with cores kept busy.

Run: ``python benchmarks/busy_machine.py`` (about a minute). Not a timed test: timings depend on the
machine and on whatever else runs on it, so it writes ``benchmarks/busy_machine.json`` with the
hardware, and the figures to compare are ratios taken in the same time window.

For each candidate setting (torch threads × OpenMP wait policy) a fresh Python process, whose
environment is set *before* torch starts its OpenMP runtime, times one training step (forward,
backward, AdamW) of the reference model (``RunConfig()`` defaults: n = 128, 2 layers, 4 heads,
batch 16 × 64 tokens): median over ``--steps`` steps after warm-up steps. "busy" runs the same
measurement while ``--busy`` other processes spin in a Python loop (one by default: one of two
cores taken by someone else). Idle and busy measurements alternate, ``--repeats`` times, so a
change in the background load hits both. Each child also records the first losses, to show that
the wait policy does not change a single bit of the results.

``--pytest`` and ``--chapter FILE`` also time ``python -m pytest`` (with ``--pytest-args``) and one
chapter's re-execution (nbconvert) idle and busy, under the package's default settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (torch threads, extra environment). "spin" is libgomp's default (OMP_WAIT_POLICY unset:
# idle threads spin ~300k iterations before sleeping); "passive" sleeps at once (what importing
# gqa_mup_ref sets); "spin 10k" spins 30× shorter than the default before sleeping.
SETTINGS = {
    "2 threads, spin": (2, {}),
    "2 threads, passive": (2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "2 threads, spin 10k": (2, {"GOMP_SPINCOUNT": "10000"}),
    "1 thread, spin": (1, {}),
    "1 thread, passive": (1, {"OMP_WAIT_POLICY": "PASSIVE"}),
}

CHILD = r"""
import json, statistics, sys, time
import torch  # first: its OpenMP runtime reads the environment the parent set
threads, steps, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
from gqa_mup_ref.train import RunConfig, build, optimizer_step
config = RunConfig()
model, optimizer, corpus = build(config)
g = torch.Generator().manual_seed(0)
times, losses = [], []
for i in range(warmup + steps):
    x, y = corpus.get_batch("train", config.batch_size, config.context_length, g)
    t0 = time.perf_counter()
    loss = model(x, y)[1]
    optimizer_step(model, optimizer, loss, config.grad_clip)
    if i >= warmup:
        times.append(time.perf_counter() - t0)
    if i < 5:
        losses.append(loss.item())
print(json.dumps({"median_ms": 1e3 * statistics.median(times), "losses": losses,
                  "threads": torch.get_num_threads()}))
"""

BUSY = "while True:\n    pass\n"


def clean_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "OPENBLAS_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env | extra


class Busy:
    """``n`` processes spinning in a Python loop while the block runs."""

    def __init__(self, n: int):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(self.n)]
        time.sleep(0.5)  # let them start spinning
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def step_time(setting: str, steps: int, warmup: int) -> dict:
    threads, extra = SETTINGS[setting]
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(steps), str(warmup)],
                         env=clean_env(extra), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def hardware() -> dict:
    import torch

    from gqa_mup_ref.reproducibility import cpu_model

    cpu = cpu_model()
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS),
                        metavar="SETTING", help=f"candidates (default all: {', '.join(SETTINGS)})")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="idle/busy pairs per setting")
    parser.add_argument("--busy", type=int, default=1, help="busy processes in the busy condition")
    parser.add_argument("--pytest", action="store_true", help="also time `python -m pytest`")
    parser.add_argument("--pytest-args", default="", help="arguments for pytest, e.g. 'tests -x'")
    parser.add_argument("--chapter", help="also time re-executing this notebook (nbconvert)")
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. load)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "busy_machine.json"))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    results: dict = {}
    for setting in args.settings:
        idle, busy, losses = [], [], set()
        for _ in range(args.repeats):
            for condition, bucket in (("idle", idle), ("busy", busy)):
                if condition == "busy":
                    with Busy(args.busy):
                        record = step_time(setting, args.steps, args.warmup)
                else:
                    record = step_time(setting, args.steps, args.warmup)
                bucket.append(record["median_ms"])
                losses.add(tuple(record["losses"]))
        results[setting] = {
            "idle_ms": round(statistics.median(idle), 2), "busy_ms": round(statistics.median(busy), 2),
            "busy_over_idle": round(statistics.median(busy) / statistics.median(idle), 2),
            "idle_ms_all": [round(v, 2) for v in idle], "busy_ms_all": [round(v, 2) for v in busy],
            "losses_identical_across_repeats": len(losses) == 1, "first_losses": list(min(losses)),
        }
        r = results[setting]
        print(f"{setting:20s} idle {r['idle_ms']:7.2f} ms  busy {r['busy_ms']:7.2f} ms  "
              f"ratio {r['busy_over_idle']:.2f}", flush=True)
    by_threads: dict[int, set] = {}
    for setting in args.settings:
        by_threads.setdefault(SETTINGS[setting][0], set()).add(tuple(results[setting]["first_losses"]))
    same = {str(t): len(v) == 1 for t, v in by_threads.items()}

    commands = {}
    if args.pytest:
        commands["pytest"] = [sys.executable, "-m", "pytest", "-q", *args.pytest_args.split()]
    if args.chapter:
        commands[f"chapter {args.chapter}"] = [
            sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
            "--output", "/tmp/busy_machine_chapter.ipynb", args.chapter]
    wall = {}
    for name, command in commands.items():
        env = clean_env({})
        idle = timed(command, env)
        with Busy(args.busy):
            busy = timed(command, env)
        wall[name] = {"idle_s": round(idle, 1), "busy_s": round(busy, 1),
                      "busy_over_idle": round(busy / idle, 2)}
        print(f"{name}: idle {idle:.1f} s, busy {busy:.1f} s, ratio {busy / idle:.2f}", flush=True)

    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    output = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "hardware": hardware(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load_average_before_after": [load_before, load_after],
        "note": args.note,
        "busy_processes": args.busy,
        "step_time": results,
        "same_losses_for_each_thread_count": same,
        "wall_time": wall,
        "benchmark_seconds": round(time.perf_counter() - start, 1),
    }
    Path(args.out).write_text(json.dumps(output, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
