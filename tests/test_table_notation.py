"""No table of the book shows raw ASCII notation (``W_Q``, ``2^-6``, ``log2``) where a reader should see mathematics.

Scans what the committed notebooks show: the table rows of their Markdown outputs (``display_table``, tables built
by hand, glued Markdown) and of their Markdown cells (with the glued text they insert), the cells of their HTML
outputs, and the cells of the HTML their widgets store (the slider views). Math ``$…$`` is skipped where MyST
renders it (Markdown; in HTML no MathJax runs, so there it counts as raw), and so is code (`` `sqrt-r` ``,
``<code>``): a rule name in code font is a name the user types. The fix for a row this test names: math in Markdown
(``$W_Q$``, ``$2^{-6}$``, ``$\\log_2 f(r)$``), Unicode or ``<sub>`` in HTML (``2⁻⁶``, ``log₂``, ``W<sub>Q</sub>``).
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gqa_mup_ref.analysis import INLINE_MATH

BOOK = Path(__file__).resolve().parents[1] / "book"
RAW = re.compile(r"\^\{?[-−]?\d|\blog2\b|\bsqrt\(|(?<![\w\\])[A-Za-zα-ωΑ-Ω]_[A-Za-z0-9{\\]")
"""Raw notation: a power typed as ``^`` (``2^-6``, ``2^{-6}``, ``)^2``), ``log2``, ``sqrt(``, a subscript typed as ``_`` after a
single letter (``W_Q``, ``H_kv``, ``n_in``; ``mlp_in`` and ``log2_lr`` are names, not notation)."""
GLUE_ROLE = re.compile(r"\{glue(?::(text|md))?\}`([^`]+)`")


def markdown_visible(text: str) -> str:
    """What a reader sees of Markdown as plain text: escapes resolved, math and code spans left out."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char in "$`":
            fence = "$$" if text.startswith("$$", i) else "``" if text.startswith("``", i) else char
            end = text.find(fence, i + len(fence))
            if end != -1:
                out.append(" ")
                i = end + len(fence)
                continue
        out.append(char)
        i += 1
    return "".join(out)


class _TableCells(HTMLParser):
    """The text of every ``<td>`` and ``<th>``, ``<code>`` left out."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self._open: list[list[str]] = []
        self._code = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._open.append([])
        elif tag == "code":
            self._code += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._open:
            self.cells.append("".join(self._open.pop()))
        elif tag == "code" and self._code:
            self._code -= 1

    def handle_data(self, data):
        if self._open and not self._code:
            self._open[-1].append(data)


def html_cells(text: str) -> list[str]:
    parser = _TableCells()
    parser.feed(text)
    return parser.cells


def _table_rows(markdown: str) -> list[str]:
    return [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]


def _glued(notebook: dict) -> dict[str, str]:
    """``name -> Markdown`` of every glued value: Markdown as it is, plain text escaped so it shows as typed."""
    glued = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            data = output.get("data", {})
            markdown = next((v for k, v in data.items() if k.endswith("text/markdown")), None)
            plain = next((v for k, v in data.items() if k.endswith("text/plain")), None)
            if name is None or (markdown is None and plain is None):
                continue
            if markdown is not None:
                glued[name] = "".join(markdown)
                continue
            text = "".join(plain)
            try:
                text = str(ast.literal_eval(text))
            except (ValueError, SyntaxError):
                pass
            glued[name] = re.sub(r"([\\$`*_|])", r"\\\1", text)
    return glued


def shown_cells(notebook: dict) -> list[tuple[str, str]]:
    """``(where, what a reader sees)`` for every table row or cell the notebook shows, math and code left out."""
    found = []
    glued = _glued(notebook)
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown":
            source = GLUE_ROLE.sub(lambda m: glued.get(m[2], m[0]), "".join(cell["source"]))
            found += [(f"markdown cell {index}", markdown_visible(row)) for row in _table_rows(source)]
        for output in cell.get("outputs", []):
            for kind, value in output.get("data", {}).items():
                text = "".join(value) if isinstance(value, list) else str(value)
                if kind.endswith("text/markdown"):
                    found += [(f"cell {index} output", markdown_visible(row)) for row in _table_rows(text)]
                elif kind.endswith("text/html"):
                    found += [(f"cell {index} HTML output", c) for c in html_cells(text)]
    widgets = notebook.get("metadata", {}).get("widgets", {})
    for model in widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {}).values():
        value = model.get("state", {}).get("value")
        if isinstance(value, str):
            found += [("widget view", c) for c in html_cells(value)]
    return found


def raw_notation(notebook: dict) -> list[str]:
    """``"where: row"`` for each shown table row or cell with raw notation (each once)."""
    return list(dict.fromkeys(f"{where}: {text.strip()}" for where, text in shown_cells(notebook)
                              if RAW.search(text) or (_in_html(where) and INLINE_MATH.search(text))))


def _in_html(where: str) -> bool:
    """An HTML output or a widget view: no MathJax typesets it, so any ``$…$`` there shows as typed."""
    return "HTML" in where or where.startswith("widget")


def _notebook(cells: list[dict], widget_html: str | None = None) -> dict:
    state = {} if widget_html is None else {"m": {"model_name": "HTMLModel", "state": {"value": widget_html}}}
    return {"cells": cells,
            "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}}}


def _code(*outputs: dict) -> dict:
    return {"cell_type": "code", "source": [], "outputs": list(outputs)}


def test_the_scanner_catches_raw_cells_and_ignores_math_and_code():
    # rows as chapters 2 and 5 showed them before their labels became math
    raw = _code({"output_type": "display_data",
                 "data": {"text/markdown": "| r | H\\_kv | W\\_K rows |\n|---|---|---|\n| 2^-6 | 1 | 2 |"}})
    assert raw_notation(_notebook([raw])) == ["cell 0 output: | r | H_kv | W_K rows |",
                                              "cell 0 output: | 2^-6 | 1 | 2 |"]
    fine = _code({"output_type": "display_data", "data": {"text/markdown": (
        "| $H_{kv}$ | `sqrt-r` | log₂ lr* | $\\log_2 f_{\\text{gqa}}(r)$ | 2⁻⁶ | mlp\\_in | log2\\_lr\\_star |\n"
        "|---|---|---|---|---|---|---|\n| $2^{-6}$ | `n_kv_head` | kv\\_factor | W<sub>Q</sub> | ∝ (√r + 1)² | x | y |")}})
    assert raw_notation(_notebook([fine])) == []
    html = _code({"output_type": "display_data", "data": {
        "text/html": "<table><tr><td>W<sub>Q</sub> <code>n_kv_head</code></td><td>log2 lr</td></tr></table>"}})
    assert raw_notation(_notebook([html])) == ["cell 0 HTML output: log2 lr"]
    # no MathJax in a widget view: math there shows as typed
    assert raw_notation(_notebook([], "<table><tr><td>$W_Q$</td><td>K⊕ / W<sub>Q</sub></td></tr></table>")) == [
        "widget view: $W_Q$"]
    assert raw_notation(_notebook([], "<table><tr><td>$2^{-6}$</td><td>$\\|K_\\oplus\\|$</td></tr></table>")) == [
        "widget view: $2^{-6}$", "widget view: $\\|K_\\oplus\\|$"]
    braced = _code({"output_type": "display_data", "data": {"text/markdown": "| at 2^{-6} | x |\n|---|---|\n"}})
    assert raw_notation(_notebook([braced])) == ["cell 0 output: | at 2^{-6} | x |"]
    glue = _code({"output_type": "display_data", "metadata": {"scrapbook": {"name": "eta"}},
                  "data": {"application/papermill.record/text/plain": "'2^-7'"}})
    text = {"cell_type": "markdown", "source": ["| at {glue:text}`eta` | $W_Q$ |\n|---|---|\n"]}
    assert raw_notation(_notebook([glue, text])) == ["markdown cell 1: | at 2^-7 |   |"]


NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_table_shows_raw_notation(path):
    found = raw_notation(json.loads(path.read_text(encoding="utf-8")))
    assert not found, (f"{path.name} shows raw notation in {len(found)} table rows; write math in Markdown "
                       "($W_Q$, $2^{-6}$, $\\log_2$), Unicode or <sub> in HTML (2⁻⁶, log₂, W<sub>Q</sub>), "
                       "and re-execute the notebook:\n" + "\n".join(found))


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.md")), ids=lambda p: p.stem)
def test_no_table_of_a_markdown_page_shows_raw_notation(path):
    rows = [markdown_visible(row) for row in _table_rows(path.read_text(encoding="utf-8"))]
    assert not [row for row in rows if RAW.search(row)]


def _figure_strings(path: Path) -> list[tuple[int, str]]:
    """String literals of a module that can reach a figure or a widget: not docstrings, not error messages,
    not names in code font (quoted or in backquotes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, (ast.Raise, ast.Assert)) or (isinstance(node, ast.Call) and getattr(node.func, "attr", "")
                                                          in ("warn", "ArgumentTypeError")):
            skip |= {id(n) for n in ast.walk(node)}  # an error message names code as the user typed it
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # an attribute's docstring
        targets = [getattr(t, "id", None) for t in getattr(node, "targets", [getattr(node, "target", None)])]
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.keyword)) and {*targets, getattr(node, "arg", None)} & NOT_DRAWN:
            skip |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in skip:  # an f-string, its fields as 0
            skip |= {id(n) for n in ast.walk(node)}
            found.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "0" for v in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found.append((node.lineno, node.value))
    return [(line, text) for line, text in found if " " in text]


NOT_DRAWN = {"alt", "QUANTITIES"}
"""Strings never drawn in a figure: alt text (read aloud, in words) and ``family.QUANTITIES`` (descriptions of
the predictions' keys)."""


FIGURE_MODULES = sorted(p for p in (BOOK.parent / "gqa_mup_ref").glob("*.py")
                        if p.stem.endswith("_figures") or p.stem in ("plots", "coordcheck", "family", "kv_repetition",
                                                                     "feature_learning", "widgets"))


@pytest.mark.parametrize("path", FIGURE_MODULES, ids=lambda p: p.stem)
def test_no_figure_label_is_raw_notation(path):
    """Titles, axis labels and legends are drawn from these strings: mathtext (``$W_Q$``) or Unicode, not ``W_Q``
    (quoted code names such as ``'n_kv_head'`` are fine)."""
    raw = [f"{path.name}:{line}: {text!r}" for line, text in _figure_strings(path)
           if RAW.search(re.sub(r"'[^']*'|`[^`]*`", " ", INLINE_MATH.sub(" ", text)))]
    assert not raw, "\n".join(raw)


def test_the_figure_label_scan_catches_a_raw_title(tmp_path):
    module = tmp_path / "example_figures.py"
    module.write_text('"""Doc with W_Q."""\ndef f(ax, n):\n    """Doc W_K."""\n    ax.set_title("change of x_L")\n'
                      '    ax.set_xlabel("$r = H / H_{kv}$")\n    ax.set_ylabel(f"$n = {n},\\\\ H_{{kv}} = {n}$")\n'
                      '    ax.text(0, 0, f"H_kv = {n} heads")\n    alt = "the keys W_K"\n'
                      '    raise ValueError("bad n_kv_head value")\n')
    assert [text for _, text in _figure_strings(module)
            if RAW.search(INLINE_MATH.sub(" ", text))] == ["change of x_L", "H_kv = 0 heads"]
