"""Command line: ``python -m gqa_mup_ref rules …`` prints the per-layer rules for a model shape.

``python -m gqa_mup_ref sweep --config FILE`` runs (or, with ``--dry-run``, lists and costs) a grid
of training runs; see :mod:`gqa_mup_ref.sweep` for the file format and the results folder.

Bad input exits with status 2 and one line naming the value and the fix.
"""

from __future__ import annotations

import argparse
import sys

from .parameterization import KV_FACTORS, PARAMETERIZATIONS, Shape, get_parameterization, rules_text

__all__ = ["main", "build_parser"]


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are a single line (no usage dump) ending with a pointer to --help."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_rules(subparsers) -> None:
    p = subparsers.add_parser(
        "rules",
        help="print init std, LR factor, weight-decay factor and multiplier per parameter role",
        description="Per-role rules of a parameterization for one model shape. LR and weight "
        "decay are factors on your base values; init_std is absolute (base std times factor).",
    )
    p.add_argument("--param", default="gqa-mup", choices=list(PARAMETERIZATIONS),
                   help="parameterization (default gqa-mup)")
    p.add_argument("--width", type=int, required=True, help="model width n (d_model)")
    p.add_argument("--base-width", type=int, help="width of the tuned proxy (default: --width)")
    p.add_argument("--depth", type=int, required=True, help="number of transformer blocks L")
    p.add_argument("--base-depth", type=int, default=1,
                   help="depth of the tuned proxy (default 1: residual multiplier 1/L)")
    p.add_argument("--heads", type=int, required=True, help="query heads H")
    p.add_argument("--kv-heads", type=int, required=True, help="key/value heads H_kv (divides H)")
    p.add_argument("--head-dim", type=int,
                   help="head dimension d (default width / heads); n_q = heads * d may differ from width")
    p.add_argument("--kv-factor", choices=list(KV_FACTORS),
                   help="override the key/value LR factor (ablations; default: the parameterization's)")
    p.add_argument("--alpha", type=float, help="override the CompleteP depth exponent (0 or 0.5..1)")
    p.add_argument("--base-init-std", type=float, default=0.02, help="σ₀ (default 0.02)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=_run_rules)


def _run_rules(args) -> int:
    param = get_parameterization(args.param, args.kv_factor, args.alpha)
    shape = Shape(args.width, args.depth, args.heads, args.kv_heads,
                  args.base_width if args.base_width is not None else args.width, args.base_depth,
                  args.head_dim)
    rules = param.rules(shape, args.base_init_std)
    print(rules.to_json() if args.json else rules_text(rules))
    return 0


def _add_sweep(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run a grid of training runs, one JSON result per run (resumable, shardable)",
        description="Run every run of a sweep file that has no stored result. The file (TOML or "
        "JSON) holds fixed RunConfig fields and a [grid] table of lists whose product is the sweep.",
    )
    p.add_argument("--config", required=True, help="sweep file (.toml, .json; .yaml with PyYAML)")
    p.add_argument("--results", help="results folder (default: the file's `results`, else "
                   "<config stem>-results beside the file)")
    p.add_argument("--workers", type=int, help="worker processes on CPU (default 2)")
    p.add_argument("--shard", help="run only shard i of N (1-based), e.g. 2/3")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default: cuda if present)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs, how many are done, and estimate the cost; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_sweep)


def _run_sweep(args) -> int:
    from pathlib import Path

    from . import sweep

    path = Path(args.config)
    configs, settings = sweep.load_sweep_config(path)
    if args.results is not None:
        results = Path(args.results)
    elif "results" in settings:
        results = path.parent / str(settings["results"])
    else:
        results = path.parent / f"{path.stem}-results"
    workers = args.workers if args.workers is not None else int(settings.get("workers", 2))
    if workers < 1:
        raise ValueError(f"--workers={workers} must be a positive integer")
    shard = sweep.parse_shard(args.shard) if args.shard else None
    selected = sweep.shard_runs(configs, shard)
    try:
        todo, done = sweep.pending_runs(selected, results)
        if args.dry_run:
            print(_dry_run_text(sweep, configs, selected, todo, done, results, workers, args.shard))
            return 0
        report = sweep.run_sweep(selected, results, workers=workers, device=args.device,
                                 quiet=args.quiet)
    except sweep.ResultsError as error:
        print(f"python -m gqa_mup_ref sweep: error: {error}", file=sys.stderr)
        return 2
    if args.quiet:
        print(report.summary())
    print(f"results in {results}")
    return 1 if report.failed else 0


def _dry_run_text(sweep, configs, selected, todo, done, results, workers, shard) -> str:
    """Count, done/pending, cost estimate and the pending runs' varied fields."""
    where = f" (shard {shard} of {len(configs)})" if shard else ""
    lines = [f"{len(selected)} runs{where}: {len(done)} already done in {results}, "
             f"{len(todo)} to run"]
    if todo:
        cost = sweep.estimate_cost(todo, results, workers)
        sources = sorted(set(cost["calibrated_from"].values()))
        lines.append(
            f"estimated {cost['cpu_seconds']:.0f} s of one core, about {cost['wall_seconds']:.0f} s "
            f"wall on {workers} worker(s) (seconds per step from {' and '.join(sources)})"
        )
        dicts = [c.to_dict() for c in selected]
        varied = [k for k in dicts[0] if len({repr(d[k]) for d in dicts}) > 1]
        rows = [{"key": sweep.run_key(c)} | {k: c.to_dict()[k] for k in varied}
                | {"est_s": seconds} for c, seconds in zip(todo, cost["per_run"])]
        lines.append(sweep.format_table(rows, digits=3))
    return "\n".join(lines)


def _add_transfer(subparsers) -> None:
    p = subparsers.add_parser(
        "transfer",
        help="carry LR, weight decay, init std (and ε) tuned on a proxy to a target model",
        description="Per-role absolute values for a target model from base values tuned on a proxy "
        "(see gqa_mup_ref.transfer). PROXY and TARGET are each a local config.json "
        "(hidden_size, num_attention_heads, num_key_value_heads, num_hidden_layers, head_dim) or an "
        "inline spec width=256,heads=4,kv_heads=2,depth=4[,head_dim=64].",
    )
    p.add_argument("--proxy", required=True, help="the tuned proxy: config.json or inline spec")
    p.add_argument("--target", required=True, help="the model to train: config.json or inline spec")
    p.add_argument("--lr", type=float, required=True, help="base Adam LR η tuned on the proxy")
    p.add_argument("--weight-decay", type=float, default=0.0, help="base weight decay λ (default 0)")
    p.add_argument("--init-std", type=float, default=0.02, help="base init std σ₀ (default 0.02)")
    p.add_argument("--eps", type=float, default=1e-8, help="base Adam ε (default 1e-8)")
    p.add_argument("--param", default="gqa-mup", choices=list(PARAMETERIZATIONS),
                   help="parameterization the proxy was tuned under (default gqa-mup)")
    p.add_argument("--base-width", type=int,
                   help="base width the proxy was tuned with (default: the proxy's width, m = 1)")
    p.add_argument("--base-depth", type=int,
                   help="base depth the proxy was tuned with (default: the proxy's depth, m_L = 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=_run_transfer)


def _run_transfer(args) -> int:
    from .transfer import transfer, transfer_text

    result = transfer(args.proxy, args.target, args.lr, args.weight_decay, args.init_std, args.eps,
                      args.param, args.base_width, args.base_depth)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(result.to_json() if args.json else transfer_text(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m gqa_mup_ref", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    _add_rules(subparsers)
    _add_sweep(subparsers)
    _add_transfer(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:  # bad values found after parsing: one line, status 2
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
