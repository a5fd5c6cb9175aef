"""The rule table is citable: each row links to the method defining its rule, whose docstring names the chapter."""

import dataclasses
import importlib
import inspect
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
import yaml

from gqa_mup_ref.parameterization import (
    KV_FACTORS,
    PARAMETERIZATIONS,
    ROLE_RULES,
    ROLES,
    Shape,
    get_parameterization,
    rule_target,
    rules_markdown,
    rules_text,
)

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| \[(?P<role>[a-z_]+)\]\(#(?P<target>[\w.]+)\) \| (?P<cells>.*) \|$")
CHAPTER = re.compile(r"Chapter (?P<number>\d+),\s+:doc:`(?P<title>[^`<]+?)\s+<(?P<doc>[\w]+)>`")
SHAPE = Shape(width=1024, depth=8, n_head=16, n_kv_head=2, base_width=256, base_depth=2)
RHO = sympy.Symbol("rho", positive=True)  # the tables set ρ = n_q / n to 1 by default
PARAMS = [*PARAMETERIZATIONS, *(("gqa-mup", kv) for kv in KV_FACTORS)]


def _param(spec):
    return get_parameterization(spec) if isinstance(spec, str) else get_parameterization(spec[0], kv_factor=spec[1])


def _resolve(dotted: str):
    """Import ``dotted`` from the package: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise AssertionError(f"{dotted} is not importable")


def _rows(table: str) -> list[re.Match]:
    lines = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| role ")]
    matches = [ROW.match(line) for line in lines]
    assert all(matches), [line for line, match in zip(lines, matches) if not match]
    return matches


def _chapter_titles() -> dict[str, str]:
    """docname -> the first heading of the chapter, for the chapters the table of contents lists."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    titles = {}
    entries = toc.get("chapters") or [e for part in toc.get("parts", []) for e in part["chapters"]]
    for entry in entries:
        notebook, page = ROOT / (entry["file"] + ".ipynb"), ROOT / (entry["file"] + ".md")
        if notebook.is_file():
            first = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]
            heading = "".join(first["source"]).splitlines()[0]
        elif page.is_file():  # a chapter's opening page (its parts are sections of it)
            heading = page.read_text(encoding="utf-8").splitlines()[0]
        else:
            continue
        titles[Path(entry["file"]).name] = heading.removeprefix("# ").strip()
    return titles


@pytest.mark.parametrize("spec", PARAMS, ids=str)
@pytest.mark.parametrize("shape", [None, SHAPE], ids=["formulas", "values"])
def test_every_row_links_to_the_method_that_gives_its_values(spec, shape):
    param = _param(spec)
    rows = _rows(rules_markdown(param, shape))
    assert [row["role"] for row in rows] == list(ROLES)
    values = param.rules(SHAPE).groups if shape is not None else None
    for row in rows:
        role, target = row["role"], row["target"]
        assert target == rule_target(role)
        method = _resolve(target)
        assert inspect.isfunction(method) and method.__module__ == "gqa_mup_ref.parameterization", target
        # the linked method, called on this parameterization, gives the numbers of the row it labels
        rule = method(param)
        cells = [cell.strip() for cell in row["cells"].split("|")]
        fields = [f.name for f in dataclasses.fields(rule)]
        if shape is None:
            exprs = [sympy.sympify(getattr(rule, f)).subs({RHO: 1}) for f in fields]
            expected = [f"${sympy.latex(sympy.factor(expr))}$" for expr in exprs]
        else:
            numbers = {f: float(sympy.sympify(getattr(rule, f)).subs(SHAPE.substitutions())) for f in fields}
            assert numbers["lr_factor"] == pytest.approx(values[role].lr_factor)
            # a cell is a fraction (1/128) or four significant digits: read it back as a number
            shown = [cell if cell == "ones" else float(Fraction(cell)) for cell in cells]
            expected = [pytest.approx(numbers[f], rel=5e-4, abs=1e-15) for f in fields]
            if role == "norm":
                expected[0] = "ones"
            assert shown == expected, (spec, role)
            continue
        if role == "norm":
            expected[0] = "ones"
        assert cells == expected, (spec, role)


def test_the_key_row_links_to_a_rule_that_differs_from_the_hidden_one():
    """The test above can tell the methods apart: under gqa-mup keys and hidden matrices differ."""
    param = get_parameterization("gqa-mup")
    assert param.key_value_rule() != param.hidden_rule()
    assert param.norm_rule() != param.hidden_rule() and param.embedding_rule() != param.unembedding_rule()


@pytest.mark.parametrize("method", sorted(set(ROLE_RULES.values())))
def test_each_linked_docstring_names_a_chapter_of_the_book(method):
    doc = inspect.getdoc(getattr(get_parameterization("mup"), method))
    titles = _chapter_titles()
    found = list(CHAPTER.finditer(doc))
    assert found, f"Parameterization.{method}'s docstring names no chapter (Chapter N, :doc:`title <docname>`)"
    for ref in found:
        assert ref["doc"] in titles, f"{ref['doc']} is not a chapter in _toc.yml"
        assert ref["doc"].startswith(f"ch{int(ref['number']):02d}_"), ref.group(0)
        assert " ".join(ref["title"].split()) == titles[ref["doc"]], ref.group(0)


def test_role_rules_cover_every_role_and_nothing_else():
    assert set(ROLE_RULES) == set(ROLES)
    with pytest.raises(ValueError, match="unknown role 'keys'.*embedding"):
        rule_target("keys")


def test_plain_tables_have_no_links():
    assert "](#" not in rules_markdown("gqa-mup", links=False)
    assert "| key | 1/2 |" in rules_markdown("gqa-mup", SHAPE, links=False)
    assert "](#" not in rules_text(get_parameterization("gqa-mup").rules(SHAPE))
