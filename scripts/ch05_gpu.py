"""Run chapter 5's GPU sweep (results/ch05_gpu_r) on a machine with CUDA, resumably.

    PYTHONPATH=. python scripts/ch05_gpu.py [--device cuda] [--shard i/N]

First records (or checks) the 'stdlib' corpus fingerprint in results/ch05_gpu_r/corpus.json, so
runs on a different standard-library text (another Python version) never mix with the stored ones,
then runs what is missing of results/ch05_gpu_r/sweep.toml in its priority order. Interrupting it is
safe: every finished run is stored atomically and the next call skips it.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from gqa_mup_ref.data import record_corpus, stdlib_text

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "results/ch05_gpu_r/sweep.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shard", default="1/1")
    args = parser.parse_args()
    info = stdlib_text()[1]
    print("corpus:", record_corpus(CONFIG.parent, info), info["sha256"][:12], info["python_version"])
    return subprocess.call([sys.executable, "-m", "gqa_mup_ref", "sweep", "--config", str(CONFIG),
                            "--device", args.device, "--shard", args.shard, "--workers", "1"])


if __name__ == "__main__":
    raise SystemExit(main())
