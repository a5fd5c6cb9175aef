"""Command line of the GQA-μP reference package (``python -m gqa_mup_ref`` or ``gqa-mup``).

``rules`` prints the per-layer rules for a model shape; ``sweep`` runs (or, with ``--dry-run``,
lists and costs) a grid of training runs and prints what it found; ``report`` prints the same for
an existing results folder (and can draw it); ``coordcheck`` runs a coordinate check over width or
KV heads. See :mod:`gqa_mup_ref.sweep` for the sweep file format and :mod:`gqa_mup_ref.runstore` for
the results folder.

Bad input exits with status 2 and one line naming the value and the fix.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from . import __version__
from .parameterization import KV_FACTORS, PARAMETERIZATIONS, Shape, get_parameterization
from .rule_tables import rules_text
from .shapes import MAX_DEPTH, MAX_WIDTH, MIN_HEAD_DIM
from .transfer import KV_CHOICES

__all__ = ["main", "build_parser"]

DESCRIPTION = ("GQA-μP reference package: per-layer rules, transfer from a tuned proxy, sweeps of "
               "training runs, their reports and coordinate checks.")


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are a single line (no usage dump) ending with a pointer to --help."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_rules(subparsers) -> None:
    p = subparsers.add_parser(
        "rules",
        help="per-role init std, LR and weight-decay factors, multipliers for a shape",
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


def _check_rules_args(args) -> None:
    """Bounds on ``rules``' inputs, each message naming the value and the fix."""
    for flag, value in (("--width", args.width), ("--base-width", args.base_width)):
        if value is not None and value > MAX_WIDTH:
            raise ValueError(f"{flag}={value} is larger than {MAX_WIDTH} (2^20); give the model "
                             "width d_model, e.g. 4096")
    for flag, value in (("--depth", args.depth), ("--base-depth", args.base_depth)):
        if value is not None and value > MAX_DEPTH:
            raise ValueError(f"{flag}={value} is larger than {MAX_DEPTH}; give the number of blocks")
    if not (math.isfinite(args.base_init_std) and 0 < args.base_init_std <= 1):
        raise ValueError(f"--base-init-std={args.base_init_std} must be a finite number in (0, 1]; "
                         "the usual σ₀ is 0.02")
    if args.alpha is not None and not math.isfinite(args.alpha):
        raise ValueError(f"--alpha={args.alpha} must be finite (0, or between 0.5 and 1)")
    if getattr(args, "head_dim", None) is None and args.heads > 0 and args.width > 0 \
            and args.width % args.heads == 0 and args.width // args.heads < MIN_HEAD_DIM:
        raise ValueError(f"head dim = --width / --heads = {args.width // args.heads} is below {MIN_HEAD_DIM}; "
                         "use fewer heads (attention with 1-dimensional heads is degenerate)")


def _run_rules(args) -> int:
    _check_rules_args(args)
    if args.base_width is None:
        # stderr, so that --json output stays one JSON object
        print(f"note: --base-width not given; using the model's width {args.width} (m = 1: "
              "the rules of the tuned proxy itself)", file=sys.stderr)
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
        help="run a grid of training runs (resumable, shardable) and report it",
        description="Run every run of a sweep file that has no stored result. The file (TOML or "
        "JSON) holds fixed RunConfig fields and a [grid] table of lists whose product is the sweep.",
    )
    p.add_argument("--config", required=True, help="sweep file (.toml, .json; .yaml with PyYAML)")
    p.add_argument("--results", help="results folder (default: the file's `results`, else "
                   "<config stem>-results beside the file)")
    p.add_argument("--workers", type=int, help="worker processes on CPU (default 2)")
    p.add_argument("--shard", help="run only shard i of N (1-based), e.g. 2/3")
    p.add_argument("--device", default="auto", help="cpu, cuda (cuda:N) or auto (default: cuda "
                   "if present); checked before anything runs")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs, how many are done, and estimate the cost; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--metric", default="val_loss", choices=["val_loss", "train_loss"],
                   help="loss in the closing table (default val_loss)")
    p.set_defaults(func=_run_sweep)


def _run_sweep(args) -> int:
    from pathlib import Path

    from . import analysis, runstore, sweep

    sweep.check_device(args.device)  # before anything is read, created or run
    path = Path(args.config)
    configs, settings = sweep.load_sweep_config(path)
    if args.results is not None:
        results = Path(args.results)
    elif "results" in settings:
        results = path.parent / str(settings["results"])
    else:
        results = path.parent / f"{path.stem}-results"
    workers = args.workers if args.workers is not None else settings.get("workers", 2)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        where = "--workers" if args.workers is not None else f"workers in {path}"
        raise ValueError(f"{where}={workers!r} must be a positive integer")
    shard = sweep.parse_shard(args.shard) if args.shard else None
    selected = sweep.shard_runs(configs, shard)
    _note_ignored(results)
    try:
        todo, done = runstore.pending_runs(selected, results)
        if args.dry_run:
            print(_dry_run_text(sweep, configs, selected, todo, done, results, workers, args.shard))
            return 0
        report = sweep.run_sweep(selected, results, workers=workers, device=args.device,
                                 quiet=args.quiet)
        records = runstore.load_records(results, selected)
    except runstore.ResultsError as error:
        print(f"{_prog()} sweep: error: {error}", file=sys.stderr)
        return 2
    if args.quiet:
        print(report.summary())
    print()
    print(analysis.results_text(analysis.tidy_rows(records), metric=args.metric))
    print(f"\nresults in {results}")
    return 1 if report.failed else 0


def _note_ignored(results) -> None:
    """One stderr line naming the files in the results folder that are not run records."""
    from .runstore import ignored_files

    ignored = ignored_files(results)
    if ignored:
        print(f"note: ignoring {len(ignored)} file(s) in {results} that are not run records: "
              f"{', '.join(ignored)}", file=sys.stderr)


def _add_report(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="table and fitted optima of a results folder (--plot: the figure)",
        description="What a finished (or partial) sweep found: the loss per grid point with its "
        "seeds summarised, and the fitted best learning rate per setting with its uncertainty.",
    )
    p.add_argument("results", help="results folder of a sweep (one <key>.json per run)")
    p.add_argument("--config", help="report only the runs of this sweep file (default: every run "
                   "stored in the folder)")
    p.add_argument("--metric", default="val_loss", choices=["val_loss", "train_loss"],
                   help="loss to report (default val_loss)")
    p.add_argument("--plot", metavar="FILE", help="write the loss-vs-LR figure to FILE (.png, .pdf, .svg)")
    p.add_argument("--csv", metavar="FILE", help="write one row per run (tidy) to FILE")
    p.set_defaults(func=_run_report)


def _run_report(args) -> int:
    from pathlib import Path

    from . import analysis, runstore, sweep

    results = Path(args.results)
    if not results.is_dir():
        raise ValueError(f"results folder {str(results)!r} does not exist; give the folder a sweep "
                         "wrote (see `sweep --results`)")
    configs = sweep.load_sweep_config(args.config)[0] if args.config else None
    _check_plot_file(args.plot)
    _note_ignored(results)
    try:
        records = runstore.load_records(results, configs)
    except runstore.ResultsError as error:
        print(f"{_prog()} report: error: {error}", file=sys.stderr)
        return 2
    if not records:
        raise ValueError(f"no run records in {results}" + (f" for {args.config}" if configs else "")
                         + "; run the sweep first")
    rows = analysis.tidy_rows(records)
    print(analysis.results_text(rows, metric=args.metric))
    if args.csv:
        _write_csv(args.csv, rows)
        print(f"rows written to {args.csv}")
    if args.plot:
        from .plots import plot_results

        fig = plot_results(rows, metric=args.metric)
        _save_figure(fig, args.plot)
        print(f"figure written to {args.plot}")
    return 0


def _check_plot_file(name: str | None) -> None:
    if name is None:
        return
    from pathlib import Path

    suffix = Path(name).suffix.lower()
    if suffix not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--plot {name!r} has suffix {suffix!r}; use .png, .pdf or .svg")
    if not Path(name).parent.resolve().is_dir():
        raise ValueError(f"--plot {name!r}: folder {str(Path(name).parent)!r} does not exist; create it first")


def _save_figure(fig, name: str) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(name, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _write_csv(name: str, rows) -> None:
    import csv

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(name, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _add_coordcheck(subparsers) -> None:
    p = subparsers.add_parser(
        "coordcheck",
        help="coordinate check over width or KV heads (figure, table, slopes)",
        description="Train a few AdamW steps of a family of models that differ in width (or in "
        "the number of KV heads) and record activation and update sizes per layer. Under a "
        "parameterization that transfers, every line is flat; the fitted log-log slopes say how flat.",
    )
    p.add_argument("--vary", choices=["width", "n_kv_head"], default="width",
                   help="what differs between the models (default width)")
    p.add_argument("--values", help="comma-separated values (default: 64,128,256 for width; "
                   "every divisor of --heads for n_kv_head)")
    p.add_argument("--param", default="gqa-mup", choices=list(PARAMETERIZATIONS),
                   help="parameterization (default gqa-mup)")
    p.add_argument("--kv-factor", choices=list(KV_FACTORS), help="override the key/value LR factor")
    p.add_argument("--width", type=int, default=128, help="width when varying KV heads (default 128)")
    p.add_argument("--base-width", type=int, default=64, help="width of the tuned proxy (default 64)")
    p.add_argument("--depth", type=int, default=2, help="blocks (default 2)")
    p.add_argument("--heads", type=int, default=4, help="query heads (default 4)")
    p.add_argument("--kv-heads", type=int, default=1, help="KV heads when varying width (default 1)")
    p.add_argument("--lr", type=float, default=2**-6, help="base learning rate (default 2^-6)")
    p.add_argument("--steps", type=int, default=4, help="AdamW steps (default 4)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per model (default 1)")
    p.add_argument("--quantity", default="act_rms", help="quantity drawn in the figure (default act_rms)")
    p.add_argument("--out", default="coordcheck", help="output prefix: writes PREFIX.csv, "
                   "PREFIX-slopes.json and PREFIX.png (default coordcheck)")
    p.set_defaults(func=_run_coordcheck)


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag}={text!r} must be comma-separated integers, e.g. 64,128,256") from None
    if not values:
        raise ValueError(f"{flag}={text!r} is empty; give comma-separated integers")
    return values


def _run_coordcheck(args) -> int:
    import json
    from pathlib import Path

    from .config import RunConfig

    if args.vary == "width":
        values = _int_list(args.values, "--values") if args.values else [64, 128, 256]
        fixed = {"n_kv_head": args.kv_heads}
    else:
        values = (_int_list(args.values, "--values") if args.values
                  else [k for k in range(1, args.heads + 1) if args.heads % k == 0])
        fixed = {"width": args.width}
    if args.steps < 1 or args.seeds < 1:
        raise ValueError(f"--steps={args.steps} and --seeds={args.seeds} must be positive integers")
    if max(values) > 4096 or (args.vary == "n_kv_head" and args.width > 4096):
        raise ValueError("widths above 4096 take too long for a coordinate check on this tool; "
                         "use smaller --values / --width")
    out = Path(args.out)
    if not out.parent.resolve().is_dir():
        raise ValueError(f"--out {args.out!r}: folder {str(out.parent)!r} does not exist; create it first")
    # Every model of the family is checked as a config before any is trained.
    base = RunConfig(parameterization=args.param, kv_factor=args.kv_factor, width=args.width,
                     base_width=args.base_width, depth=args.depth, n_head=args.heads,
                     n_kv_head=args.kv_heads if args.vary == "width" else 1, lr=args.lr)
    for value in values:
        RunConfig(**(base.to_dict() | fixed | {args.vary: value}))
    from . import coordcheck
    from .plots import plot_coord_check

    rows = coordcheck.coord_check(base, args.vary, [fixed | {args.vary: v} for v in values],
                                  steps=args.steps, seeds=range(args.seeds))
    quantities = {r["quantity"] for r in rows}
    if args.quantity not in quantities:
        raise ValueError(f"--quantity={args.quantity!r}; choose one of {', '.join(sorted(quantities))}")
    slopes = coordcheck.flatness(rows, group="role")
    csv_path, json_path, png_path = (out.with_name(out.name + suffix)
                                     for suffix in (".csv", "-slopes.json", ".png"))
    _write_csv(str(csv_path), rows)
    json_path.write_text(json.dumps({"vary": args.vary, "values": values, "base": base.to_dict(),
                                     "slopes": slopes}, indent=1) + "\n", encoding="utf-8")
    _save_figure(plot_coord_check(rows, quantity=args.quantity, x_label=args.vary), str(png_path))
    last = max(r["step"] for r in slopes)
    from .analysis import format_table

    table = [{k: s[k] for k in ("role", "quantity", "slope")} for s in slopes
             if s["step"] == last and s["quantity"] == args.quantity]
    print(f"log-log slope of {args.quantity} against {args.vary} per role at step {last} "
          "(0 = flat: the size does not change with the model):")
    print(format_table(table, digits=3))
    print(f"wrote {csv_path}, {json_path} and {png_path}")
    return 0


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
        names = list(dict.fromkeys(k for d in dicts for k in d))
        varied = [k for k in names if len({repr(d.get(k)) for d in dicts}) > 1]
        rows = [{"key": sweep.run_key(c)} | {k: c.to_dict().get(k) for k in varied}
                | {"est_s": seconds} for c, seconds in zip(todo, cost["per_run"])]
        lines.append(sweep.format_table(rows, digits=3))
    return "\n".join(lines)


def _prog() -> str:
    """``gqa-mup`` when run as the console script, else ``python -m gqa_mup_ref``."""
    import os

    return "gqa-mup" if os.path.basename(sys.argv[0] or "") == "gqa-mup" else "python -m gqa_mup_ref"


class _CommandsFormatter(argparse.HelpFormatter):
    """Top-level help: every command and its help on one line."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=24, width=96)

    def _format_action(self, action):
        self._action_max_length = max(self._action_max_length, 16)  # room for "coordcheck"
        return super()._format_action(action)



def _add_transfer(subparsers) -> None:
    p = subparsers.add_parser(
        "transfer",
        help="carry LR, weight decay, init std (and ε) tuned on a proxy to a target model",
        description="Per-role absolute values for a target model from base values tuned on a proxy "
        "(see gqa_mup_ref.transfer). PROXY and TARGET are each a local config.json, a model folder "
        "holding one (hidden_size, num_attention_heads, num_key_value_heads, num_hidden_layers, "
        "head_dim, intermediate_size), or an inline spec width=256,heads=4,kv_heads=2,depth=4"
        "[,head_dim=64][,mlp=1024]. The proxy "
        "is assumed trained as this package trains: base depth 1 (residual multiplier 1/L); every "
        "answer says so.",
    )
    p.add_argument("--proxy", required=True, help="the tuned proxy: config.json, folder or inline spec")
    p.add_argument("--target", required=True, help="the model to train: config.json, folder or inline spec")
    p.add_argument("--lr", type=float, required=True, help="base Adam LR η tuned on the proxy")
    p.add_argument("--weight-decay", type=float, default=0.0, help="base weight decay λ (default 0)")
    p.add_argument("--init-std", type=float, default=0.02, help="base init std σ₀ (default 0.02)")
    p.add_argument("--eps", type=float, default=1e-8, help="base Adam ε (default 1e-8)")
    p.add_argument("--param", default="gqa-mup", choices=list(PARAMETERIZATIONS),
                   help="parameterization the proxy was tuned under (default gqa-mup)")
    p.add_argument("--kv-factor", choices=list(KV_CHOICES),
                   help="key/value LR factor the proxy was tuned with and the target uses (default: "
                   "the parameterization's own); keep: the target keeps the proxy's own "
                   "key/value-to-hidden LR ratio")
    p.add_argument("--base-width", type=int,
                   help="base width the proxy was tuned with (default: the proxy's width, m = 1)")
    p.add_argument("--base-depth", type=int,
                   help="base depth the proxy was tuned with (default 1: residual multiplier 1/L, "
                   "as `rules` and the training loop)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--emit", choices=["granite"],
                   help="granite: a Hugging Face Granite config.json for the target (a Llama or Mistral "
                   "config.json) carrying the forward multipliers; printed, or written with --out. Init "
                   "and AdamW groups: gqa_mup_ref.hf.apply_rules")
    p.add_argument("--out", help="with --emit: write the config here (a file, or a folder's config.json)")
    p.set_defaults(func=_run_transfer)


def _run_transfer(args) -> int:
    from .transfer import transfer, transfer_text

    if args.out is not None and args.emit is None:
        raise ValueError(f"--out={args.out} needs --emit granite (it writes the emitted config)")
    if args.emit is not None and not Path(args.target).exists():
        raise ValueError(f"--emit {args.emit} needs the target's config.json (it keeps vocab_size, "
                         f"intermediate_size, rope settings, ...); --target={args.target} is not a file "
                         "or folder: pass path/to/config.json")
    result = transfer(args.proxy, args.target, args.lr, args.weight_decay, args.init_std, args.eps,
                      args.param, args.base_width, args.base_depth, args.kv_factor)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.emit is None:
        print(result.to_json() if args.json else transfer_text(result))
        return 0
    from .hf import granite_config

    config, notes = granite_config(args.target, result)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    text = json.dumps(config, indent=2) + "\n"
    if args.out is None:
        print(text, end="")
        return 0
    out = Path(args.out) / "config.json" if Path(args.out).is_dir() else Path(args.out)
    source = Path(args.target) / "config.json" if Path(args.target).is_dir() else Path(args.target)
    if out.exists() and out.resolve() == source.resolve():
        raise ValueError(f"--out={args.out} is the target's own config.json; write the Granite config "
                         "elsewhere (a new model folder)")
    out.write_text(text, encoding="utf-8")
    print(result.to_json() if args.json else transfer_text(result))
    print(f"wrote {out} (model_type granite; initialise and build the optimizer with "
          "gqa_mup_ref.hf.apply_rules)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=_prog(), description=DESCRIPTION,
                            epilog="Run `COMMAND --help` for a command's options.",
                            formatter_class=_CommandsFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser,
                                       title="commands", metavar="COMMAND")
    _add_rules(subparsers)
    _add_sweep(subparsers)
    _add_report(subparsers)
    _add_coordcheck(subparsers)
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
