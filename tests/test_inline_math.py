"""No formula of the book may contain a line that Markdown reads as a list item.

A formula wrapped so that a continuation line starts with ``+ ``, ``- `` or ``* `` (inside ``$…$``
or ``$$…$$``) is parsed as a bullet list before the math is seen, and renders as broken text.
This scans every Markdown cell of every notebook and every ``book/*.md`` file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
LIST_MARKERS = ("+ ", "- ", "* ")


def math_lines_starting_with_list_marker(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` for each line that begins inside math and starts with a list marker.

    Tracks ``$$`` (display) and ``$`` (inline) math across lines, ignoring escaped ``\\$``, inline
    code spans and fenced code blocks.
    """
    found = []
    display = inline = code_span = False
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if fence is None and not (display or inline) and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if (display or inline) and stripped.startswith(LIST_MARKERS):
            found.append((number, line))
        i = 0
        while i < len(line):
            char = line[i]
            if char == "\\":
                i += 2
                continue
            if char == "`" and not (display or inline):
                code_span = not code_span
            elif char == "$" and not code_span:
                if line.startswith("$$", i):
                    if not inline:
                        display = not display
                    i += 2
                    continue
                if not display:
                    inline = not inline
            i += 1
        code_span = False  # a code span does not continue past its line in our sources
    return found


def _markdown_sources():
    for path in sorted(BOOK.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                yield f"{path.name} (cell {index})", "".join(cell["source"])
    for path in sorted(BOOK.glob("*.md")):
        yield path.name, path.read_text(encoding="utf-8")


def test_the_scanner_finds_a_wrapped_formula_and_nothing_else():
    broken = "We have $a = b\n+ c$ here, and\n$$\nx\n- y\n$$\n"
    assert [n for n, _ in math_lines_starting_with_list_marker(broken)] == [2, 5]
    fine = "* a list item with $x$\n- another, $y + z$\n\n```python\n$a\n+ b\n```\nprice \\$5\n+ plus\n"
    assert math_lines_starting_with_list_marker(fine) == []
    assert math_lines_starting_with_list_marker("`$` code\n- item\n") == []


SOURCES = list(_markdown_sources())


@pytest.mark.parametrize("where, text", SOURCES, ids=[where for where, _ in SOURCES])
def test_no_line_inside_math_starts_with_a_list_marker(where, text):
    bad = math_lines_starting_with_list_marker(text)
    assert not bad, "; ".join(
        f"{where} line {n}: {line.strip()!r} starts with a list marker inside math; move the sign to the end "
        "of the previous line" for n, line in bad
    )
