"""Put the Colab set-up cell before the first code cell of every chapter notebook (``book/ch0*.ipynb``).

Colab's launch button opens one notebook alone, without the package or the committed ``results/`` that
the chapters read through ``../results``. The set-up cell fixes that on Colab and does nothing elsewhere:
it clones the repository (``repository.url`` in ``_config.yml``) to ``/content/gqa-mup``, installs it
with ``pip install -e``, and changes into its ``book/`` folder. The cell is found by its tag
``colab-setup``; it is also tagged ``remove-cell``, so the HTML book does not show it. A stale cell is
updated in place, and every other byte of each notebook is left as it was::

    python scripts/colab_cells.py           # insert or update the cell
    python scripts/colab_cells.py --check   # exit 1 if a notebook lacks the up-to-date cell

``scripts/configure_book.py`` runs the update after it changes ``repository.url``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"
TAGS = [TAG, "remove-cell"]
CLONE = "/content/gqa-mup"
EXTRAS = "widgets,hf"
"""The extras the notebooks import (ipywidgets, transformers). Not ``book``: its ``ipykernel>=6.29`` would
replace the kernel Colab runs on, and the notebooks need no Sphinx."""
MORE_REQUIREMENTS = ["myst-nb>=1.1"]
"""Imported by the notebooks (``myst_nb.glue``) but in no runtime extra; the pin is pyproject's ``test`` one."""

_CELL = '''\
# On Google Colab this cell fetches the book's repository (its package and the committed results the chapter
# reads) and installs it, which can take a few minutes. Anywhere else it does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    _url, _clone = {url}, {clone}
    if not os.path.isdir(_clone):
        subprocess.run(["git", "clone", "--depth", "1", _url, _clone], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", _clone + {extras},
                    {more}], check=True)
    if _clone not in sys.path:
        sys.path.insert(0, _clone)  # importable now; the editable install takes over after a restart
    os.chdir(os.path.join(_clone, "book"))  # the chapter reads ../results from here
    print("gqa-mup-ref is installed; working folder:", os.getcwd())
'''


def cell_source(repository_url: str) -> str:
    """The set-up cell's code for ``repository_url``: plain Python, standard library only."""
    literal = json.dumps  # a double-quoted Python string literal, for the ASCII text used here
    return _CELL.format(url=literal(repository_url), clone=literal(CLONE), extras=literal(f"[{EXTRAS}]"),
                        more=", ".join(literal(r) for r in MORE_REQUIREMENTS)).rstrip("\n")


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` of a ``_config.yml`` (the indented ``url:`` line, as configure_book.py writes it)."""
    text = config.read_text(encoding="utf-8")
    match = re.search(r'(?m)^repository:\s*\n(?:  .*\n)*?  url: "?([^"\n]+?)"?[ \t]*$', text)
    if not match:
        raise ValueError(f"{config} has no 'repository:' block with an indented 'url:' line")
    return match.group(1)


def _lines(text: str) -> list[str]:
    """Notebook ``source`` list: one string per line, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def _tagged(cells: list[dict]) -> list[int]:
    """Indices of the cells tagged as the set-up cell."""
    return [i for i, cell in enumerate(cells) if TAG in cell.get("metadata", {}).get("tags", [])]


def _first_code(cells: list[dict]) -> int:
    return next((i for i, cell in enumerate(cells) if cell["cell_type"] == "code"), len(cells))


def _is_current(notebook: dict, source: str) -> bool:
    """One set-up cell, the first code cell, with ``source`` and both tags."""
    cells = notebook["cells"]
    if _tagged(cells) != [_first_code(cells)]:
        return False
    cell = cells[_first_code(cells)]
    return "".join(cell["source"]) == source and all(t in cell["metadata"].get("tags", []) for t in TAGS)


def with_setup_cell(notebook: dict, repository_url: str) -> dict:
    """``notebook`` with the set-up cell up to date, just before the first other code cell (the title cell
    stays first). An existing set-up cell keeps its outputs, execution count, id and other metadata."""
    tagged = _tagged(notebook["cells"])
    cells = [cell for i, cell in enumerate(notebook["cells"]) if i not in tagged]
    if tagged:
        cell = notebook["cells"][tagged[0]]
    else:
        # Keys in nbformat's (sorted) order. The count is set because book/_ext/notebook_guard.py refuses
        # unexecuted cells; outside Colab the cell's output is empty, as stored.
        cell = {"cell_type": "code", "execution_count": 1, "id": TAG,
                "metadata": {"tags": list(TAGS)}, "outputs": [], "source": []}
        if (notebook["nbformat"], notebook["nbformat_minor"]) < (4, 5):
            del cell["id"]  # cell ids arrived in nbformat 4.5
    tags = cell["metadata"].get("tags", [])
    cell = dict(cell, metadata=dict(cell["metadata"], tags=tags + [t for t in TAGS if t not in tags]),
                source=_lines(cell_source(repository_url)))
    cells.insert(_first_code(cells), cell)
    return dict(notebook, cells=cells)


def dumps(notebook: dict) -> str:
    """The repository's notebook formatting: nbformat's (one-space indent, non-ASCII kept, final newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def update(path: Path, repository_url: str, check: bool = False) -> bool:
    """Whether ``path`` lacked the up-to-date cell; unless ``check``, it has it afterwards."""
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    if _is_current(notebook, cell_source(repository_url)):
        return False
    if check:
        return True
    if dumps(notebook) != text:
        raise ValueError(f"{path} is not formatted as nbformat writes it (indent 1, non-ASCII kept), so "
                         "rewriting it would change other cells; save it from Jupyter first")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(dumps(with_setup_cell(notebook, repository_url)), encoding="utf-8")
    tmp.replace(path)
    return True


def update_all(book: Path, repository_url: str, check: bool = False) -> list[Path]:
    """The chapter notebooks of ``book`` that lacked the up-to-date cell (updated unless ``check``)."""
    return [path for path in sorted(book.glob("ch0*.ipynb")) if update(path, repository_url, check)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell is missing or stale")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    parser.add_argument("--book", type=Path, default=ROOT / "book")
    args = parser.parse_args(argv)
    url = repository_url(args.config)
    stale = update_all(args.book, url, check=args.check)
    if args.check:
        for path in stale:
            print(f"{path.name}: no up-to-date Colab set-up cell; run python scripts/colab_cells.py",
                  file=sys.stderr)
        return 1 if stale else 0
    print(f"Colab set-up cell ({url}): {len(stale)} notebook(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
