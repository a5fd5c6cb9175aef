"""The chapters' visible code cells fit a reader's screen: no source line longer than 88
characters (longer lines scroll sideways on a 1280-px screen). Cells tagged remove-cell
or remove-input are not shown and are not checked; hide-input/hide-cell cells are shown
when expanded and are checked."""

import json
from pathlib import Path

import pytest

from book_chapters import chapters

ROOT = Path(__file__).resolve().parents[1]
MAX_LINE = 88
HIDDEN_TAGS = {"remove-cell", "remove-input"}
NOTEBOOKS = sorted((ROOT / "book").glob("ch0*.ipynb"))


def _params():
    for path in NOTEBOOKS:
        yield pytest.param(path, id=path.stem)


def test_every_chapter_notebook_is_checked():
    """The notebooks checked are exactly the chapters' and their parts' (_toc.yml), all seven chapters."""
    listed = sorted(page for chapter in chapters() for page in chapter.pages if page.suffix == ".ipynb")
    assert len(chapters()) == 7 and listed == NOTEBOOKS, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", list(_params()))
def test_visible_code_lines_fit(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    too_long = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for number, line in enumerate("".join(cell["source"]).split("\n"), start=1):
            if len(line) > MAX_LINE:
                too_long.append(
                    f"{path.name}, cell {index}, line {number}"
                    f" ({len(line)} characters): {line}"
                )
    assert not too_long, (
        f"{len(too_long)} visible code line(s) over {MAX_LINE} characters:\n"
        + "\n".join(too_long)
    )
