"""Run chapter 5's GPU sweep (results/ch05_gpu_r) within a short lease, resumably.

    python scripts/ch05_gpu.py --device cuda --parallel 8 --minutes 8.5

First records (or checks) the 'stdlib' corpus fingerprint in the results folder, so runs on a different
standard-library text (another Python version) never mix with the stored ones. Then starts ``--parallel``
sweep processes, each running one interleaved shard (``--shard i/N``) of the sweep file on the one device,
and stops them all when ``--minutes`` have passed: many small runs share the GPU, and a run stores itself
atomically when it ends, so what a stop interrupts is only the runs in flight; the next call skips every
stored run. Last, it writes ``lease_log.json`` (hardware, torch, wall time, runs stored per seed) and prints
the same.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "results/ch05_gpu_r/sweep.toml"


def stored_per_seed(config: Path) -> dict[int, list[int]]:
    """``{seed: [stored, planned]}`` for the sweep file ``config``."""
    from gqa_mup_ref import runstore, sweep

    configs, settings = sweep.load_sweep_config(config)
    results = config.parent / str(settings.get("results", "."))
    out: dict[int, list[int]] = {}
    for c in configs:
        entry = out.setdefault(c.seed, [0, 0])
        entry[1] += 1
        entry[0] += runstore.result_path(results, c).exists()
    return out


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine()


def launch(config: Path, device: str, parallel: int, minutes: float) -> tuple[float, list[int]]:
    """Run ``parallel`` shard processes until they finish or ``minutes`` pass; their exit codes."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "gqa_mup_ref", "sweep", "--config", str(config),
                               "--device", device, "--shard", f"{i}/{parallel}", "--workers", "1", "--quiet"],
                              env=env, start_new_session=True) for i in range(1, parallel + 1)]
    start = time.perf_counter()
    deadline = start + 60 * minutes
    while any(p.poll() is None for p in procs) and time.perf_counter() < deadline:
        time.sleep(1.0)
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return time.perf_counter() - start, [p.returncode for p in procs]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG), help="sweep file (default: the chapter 5 GPU sweep)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--parallel", type=int, default=8, help="sweep processes sharing the device")
    parser.add_argument("--minutes", type=float, default=8.5, help="stop every process after this long")
    args = parser.parse_args(argv)
    if args.parallel < 1 or not args.minutes > 0:
        parser.error(f"--parallel {args.parallel} and --minutes {args.minutes} must be positive")
    config = Path(args.config).resolve()
    from gqa_mup_ref.data import record_corpus, stdlib_text

    info = stdlib_text()[1]
    print("corpus:", record_corpus(config.parent, info), info["sha256"][:12], info["python_version"])
    before = stored_per_seed(config)
    wall, codes = launch(config, args.device, args.parallel, args.minutes)
    after = stored_per_seed(config)
    import torch

    log = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "device": device_name(args.device),
           "torch": torch.__version__, "parallel": args.parallel, "minutes": args.minutes,
           "wall_s": round(wall, 1), "exit_codes": codes, "stored_before": sum(v[0] for v in before.values()),
           "stored_after": sum(v[0] for v in after.values()), "per_seed": {str(k): v for k, v in after.items()}}
    logs = config.parent / "lease_log.json"
    history = json.loads(logs.read_text()) if logs.exists() else []
    logs.write_text(json.dumps(history + [log], indent=1) + "\n")
    print(json.dumps(log, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
