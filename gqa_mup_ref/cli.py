"""Command line: ``python -m gqa_mup_ref rules …`` prints the per-layer rules for a model shape.

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
    p.add_argument("--kv-factor", choices=list(KV_FACTORS),
                   help="override the key/value LR factor (ablations; default: the parameterization's)")
    p.add_argument("--alpha", type=float, help="override the CompleteP depth exponent (0 or 0.5..1)")
    p.add_argument("--base-init-std", type=float, default=0.02, help="σ₀ (default 0.02)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=_run_rules)


def _run_rules(args) -> int:
    param = get_parameterization(args.param, args.kv_factor, args.alpha)
    shape = Shape(args.width, args.depth, args.heads, args.kv_heads,
                  args.base_width if args.base_width is not None else args.width, args.base_depth)
    rules = param.rules(shape, args.base_init_std)
    print(rules.to_json() if args.json else rules_text(rules))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m gqa_mup_ref", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    _add_rules(subparsers)
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
