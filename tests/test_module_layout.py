"""The package stays made of small modules, one job each, with no import circles (design.md, style.md)."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gqa_mup_ref"
MAX_LINES = 550  # the standard is ~500; past 550 a module has grown a second job: split it


def test_no_module_is_longer_than_550_lines():
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    long = {name: n for name, n in sorted(lengths.items()) if n > MAX_LINES}
    assert not long, (f"gqa_mup_ref modules over {MAX_LINES} lines: "
                      + ", ".join(f"{name} has {n} lines" for name, n in long.items())
                      + "; move one job of each into a module of its own (re-exporting its public names)")


def _module_level_imports(path: Path) -> set[str]:
    """Sibling modules that ``path`` imports when it is imported (function-level imports do not count)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(inner, ast.ImportFrom) and inner.level == 1:
                found |= {inner.module.split(".")[0]} if inner.module else {a.name for a in inner.names}
    return found


def test_no_module_imports_itself_through_others():
    graph = {path.stem: _module_level_imports(path) for path in PACKAGE.glob("*.py")}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        return seen

    circular = sorted(name for name in graph if name in reachable(name))
    assert not circular, f"import circles through {circular}; import the lower module, or import inside a function"


# Names moved out of a module that had grown past ~500 lines; each stays importable from where it was.
MOVED = [
    ("plots", "decisive_figures", ["plot_decisive"]),
    ("kv_repetition", "kv_repetition_figures",
     ["plot_gqa_diagram", "plot_norms", "plot_corrected_norm", "plot_training_ratios"]),
    ("feature_learning", "feature_learning_figures",
     ["plot_same_entries", "plot_random_norms", "plot_alignment", "plot_adam_update", "plot_width_sweep"]),
    ("sweep", "sweep_config", ["expand_grid", "load_sweep_config"]),
    ("coordcheck", "coord_quantities", ["QUANTITIES", "KV_QUANTITIES", "layer_role", "zero_queries"]),
    ("parameterization", "shape_symbols", ["Shape", "SYMBOLS", "m", "m_L", "r", "d", "rho"]),
    ("parameterization", "rule_tables", ["rules_markdown", "rule_target", "rules_text"]),
]


@pytest.mark.parametrize(("old", "new", "names"), MOVED, ids=[f"{old}->{new}" for old, new, _ in MOVED])
def test_moved_names_are_still_importable_from_their_old_module(old, new, names):
    before = importlib.import_module(f"gqa_mup_ref.{old}")
    after = importlib.import_module(f"gqa_mup_ref.{new}")
    for name in names:
        assert getattr(before, name) is getattr(after, name), f"gqa_mup_ref.{old}.{name}"
        assert name in after.__all__, f"{name} is public in gqa_mup_ref.{new}: list it in its __all__"
