"""Step-time benchmark of the reference model (run: ``python benchmarks/step_time.py``).

(a) One training step (forward + backward + AdamW step) of ``GQATransformer`` under gqa-mup
    against a plain PyTorch transformer of the same shape with no μP machinery (written below:
    default init, one parameter group, no multipliers, the same SDPA attention). Budget: ratio ≤ 1.10.
(b) ``scaled_dot_product_attention(enable_gqa=True)`` against repeating K/V with
    ``repeat_interleave`` before attention, at r = 8: the attention call alone (forward + backward)
    and a whole training step of the plain model.
(c) The cost of one sweep run (``train(RunConfig(...))``, 250 steps, 2 layers) per width.

Fixed thread count, warm-up steps, medians over repeats; writes ``benchmarks/results.json`` with
the hardware, torch version, thread count and the command line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gqa_mup_ref.data import ALPHABET
from gqa_mup_ref.model import GQATransformer, ModelConfig
from gqa_mup_ref.parameterization import Shape, build_adamw
from gqa_mup_ref.train import RunConfig, train

VOCAB = len(ALPHABET)


# ----------------------------------------------------------------------------- a plain transformer


class PlainAttention(nn.Module):
    def __init__(self, n: int, n_head: int, n_kv_head: int, repeat_kv: bool):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = n_head, n_kv_head, n // n_head
        self.repeat_kv = repeat_kv
        self.query = nn.Linear(n, n, bias=False)
        self.key = nn.Linear(n, n_kv_head * self.head_dim, bias=False)
        self.value = nn.Linear(n, n_kv_head * self.head_dim, bias=False)
        self.out = nn.Linear(n, n, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = self.query(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = self.key(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.value(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        y = gqa_attention(q, k, v, self.repeat_kv)
        return self.out(y.transpose(1, 2).reshape(B, T, -1))


def gqa_attention(q, k, v, repeat_kv: bool):
    """Causal GQA attention, by ``enable_gqa`` or by materialising the repeated K/V."""
    if repeat_kv:
        r = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


class PlainBlock(nn.Module):
    def __init__(self, n, n_head, n_kv_head, repeat_kv):
        super().__init__()
        self.norm1 = nn.LayerNorm(n, bias=False)
        self.attn = PlainAttention(n, n_head, n_kv_head, repeat_kv)
        self.norm2 = nn.LayerNorm(n, bias=False)
        self.up = nn.Linear(n, 4 * n, bias=False)
        self.down = nn.Linear(4 * n, n, bias=False)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class PlainTransformer(nn.Module):
    """nanoGPT-like GQA transformer with nothing but PyTorch defaults."""

    def __init__(self, n, depth, n_head, n_kv_head, context, repeat_kv=False):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, n)
        self.position_embedding = nn.Embedding(context, n)
        self.blocks = nn.ModuleList(PlainBlock(n, n_head, n_kv_head, repeat_kv)
                                    for _ in range(depth))
        self.final_norm = nn.LayerNorm(n, bias=False)
        self.unembedding = nn.Linear(n, VOCAB, bias=False)

    def forward(self, tokens, targets):
        B, T = tokens.shape
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(T))
        for block in self.blocks:
            x = block(x)
        logits = self.unembedding(self.final_norm(x))
        return logits, F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))


# ----------------------------------------------------------------------------- timing


def median_step_time(model, optimizer, batch, context, warmup, repeats, steps_per_repeat):
    """Median over ``repeats`` of the mean time of ``steps_per_repeat`` training steps."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(VOCAB, (batch, context), generator=generator)
    y = torch.randint(VOCAB, (batch, context), generator=generator)

    def step():
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps_per_repeat):
            step()
        times.append((time.perf_counter() - start) / steps_per_repeat)
    return statistics.median(times), times


def bench_models(width, depth, n_head, n_kv_head, batch, context, args):
    """(a): reference model (gqa-mup, base width 128) vs the plain model, interleaved repeats."""
    shape = Shape(width, depth, n_head, n_kv_head, base_width=128)
    torch.manual_seed(0)
    ref = GQATransformer(ModelConfig(shape, VOCAB, context), "gqa-mup")
    ref_opt = build_adamw(ref, 1e-3, 0.0)
    plain = PlainTransformer(width, depth, n_head, n_kv_head, context)
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=1e-3, weight_decay=0.0, betas=(0.9, 0.95))
    ref_times, plain_times = [], []
    for _ in range(args.rounds):  # interleave to share any drift in machine load
        ref_times += median_step_time(ref, ref_opt, batch, context, args.warmup, args.repeats,
                                      args.steps)[1]
        plain_times += median_step_time(plain, plain_opt, batch, context, args.warmup,
                                        args.repeats, args.steps)[1]
    ref_s, plain_s = statistics.median(ref_times), statistics.median(plain_times)
    return {"width": width, "depth": depth, "n_head": n_head, "n_kv_head": n_kv_head,
            "batch": batch, "context": context, "reference_ms": 1e3 * ref_s,
            "plain_ms": 1e3 * plain_s, "ratio": ref_s / plain_s}


def bench_attention(width, n_head, r, batch, context, args):
    """(b): enable_gqa vs repeat_interleave, attention call alone and a whole plain training step."""
    d, kv = width // n_head, n_head // r
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(batch, n_head, context, d, generator=generator, requires_grad=True)
    k = torch.randn(batch, kv, context, d, generator=generator, requires_grad=True)
    v = torch.randn(batch, kv, context, d, generator=generator, requires_grad=True)

    def op_time(repeat_kv):
        def run():
            gqa_attention(q, k, v, repeat_kv).sum().backward()

        for _ in range(args.warmup):
            run()
        times = []
        for _ in range(args.repeats * args.rounds):
            start = time.perf_counter()
            for _ in range(args.steps):
                run()
            times.append((time.perf_counter() - start) / args.steps)
        return statistics.median(times)

    gqa_op, repeat_op = op_time(False), op_time(True)
    steps = {}
    for repeat_kv in (False, True):
        torch.manual_seed(0)
        model = PlainTransformer(width, 2, n_head, kv, context, repeat_kv=repeat_kv)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        steps[repeat_kv] = median_step_time(model, opt, batch, context, args.warmup,
                                            args.repeats * args.rounds, args.steps)[0]
    return {"width": width, "n_head": n_head, "n_kv_head": kv, "r": r, "batch": batch,
            "context": context, "attention_enable_gqa_ms": 1e3 * gqa_op,
            "attention_repeat_ms": 1e3 * repeat_op, "attention_ratio": gqa_op / repeat_op,
            "step_enable_gqa_ms": 1e3 * steps[False], "step_repeat_ms": 1e3 * steps[True],
            "step_ratio": steps[False] / steps[True]}


def bench_sweep_run(width, steps):
    """(c): wall time of one ``train`` call (what one sweep run costs on one core)."""
    config = RunConfig(width=width, base_width=128, depth=2, n_head=4, n_kv_head=4, steps=steps,
                       lr=2**-8)
    train(RunConfig(width=width, base_width=128, steps=2))  # loads the corpus, warms up
    result = train(config)
    return {"width": width, "depth": 2, "steps": steps, "batch_size": config.batch_size,
            "context_length": config.context_length, "seconds": result.wall_time,
            "diverged": result.diverged}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(rows, columns):
    lines = ["  ".join(f"{c:>12}" for c in columns)]
    for row in rows:
        lines.append("  ".join(
            f"{row[c]:>12.3f}" if isinstance(row[c], float) else f"{row[c]!s:>12}" for c in columns))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (a)")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    parser.add_argument("--sweep-steps", type=int, default=250, help="steps of the runs in (c)")
    parser.add_argument("--skip-sweep", action="store_true", help="skip (c)")
    parser.add_argument("--output", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    models = [bench_models(n, 2, h, kv, 16, 64, args)
              for n, h, kv in ((128, 4, 4), (128, 4, 1), (256, 8, 2))]
    print("(a) training step, reference gqa-mup vs plain PyTorch (budget ratio <= 1.10)")
    print(table(models, ["width", "n_head", "n_kv_head", "reference_ms", "plain_ms", "ratio"]))
    attention = [bench_attention(256, 16, 8, 16, 64, args), bench_attention(512, 32, 8, 16, 128, args)]
    print("\n(b) enable_gqa vs repeat_interleave at r = 8 (ratio < 1: enable_gqa faster)")
    print(table(attention, ["width", "n_head", "r", "context", "attention_ratio",
                            "step_enable_gqa_ms", "step_repeat_ms", "step_ratio"]))
    sweep_runs = []
    if not args.skip_sweep:
        sweep_runs = [bench_sweep_run(n, args.sweep_steps) for n in (128, 256)]
        print(f"\n(c) one sweep run ({args.sweep_steps} steps, 2 layers, batch 16, context 64), "
              "one core")
        print(table(sweep_runs, ["width", "steps", "seconds"]))

    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "hardware": {"cpu": cpu_model(), "logical_cpus": __import__("os").cpu_count(),
                     "platform": platform.platform()},
        "torch": torch.__version__, "python": platform.python_version(),
        "threads": args.threads,
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "note": "medians over repeats; compare ratios across machines, not absolute times",
        "step_time": models, "attention": attention, "sweep_run": sweep_runs,
    }
    Path(args.output).write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
