"""Seeds and thread counts, fixed in the first cell of every notebook and in every worker."""

from __future__ import annotations

import os
import random

__all__ = ["set_determinism"]


def set_determinism(seed: int = 0, threads: int = 2) -> None:
    """Seed Python, NumPy and torch, and fix torch's intra-op thread count.

    Float sums depend on the thread count (1 vs 2 threads changed a printed 4th decimal), so
    notebooks print rounded summaries *and* fix the threads.
    """
    import numpy as np
    import torch

    if threads < 1:
        raise ValueError(f"threads={threads} must be a positive integer")
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
