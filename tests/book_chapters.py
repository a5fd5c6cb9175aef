"""The book's chapters as ``_toc.yml`` lists them, for the tests that read the chapters' text.

A chapter is one notebook (``book/ch01_*.ipynb``) or, where it is taught in two sessions, an opening page
(``book/ch02_*.md``) followed by its parts, the notebooks listed under it as ``sections``
(``book/ch02_1_*.ipynb``, ``book/ch02_2_*.ipynb``). Tests that glob ``book/ch0*.ipynb`` would miss the opening
pages and could not tell a part from a chapter; they read :func:`chapters` instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Chapter:
    """Chapter ``number``: its ``pages`` in reading order (one notebook, or the opening page then the parts)."""

    number: int
    pages: tuple[Path, ...]

    @property
    def opening(self) -> Path:
        return self.pages[0]

    @property
    def parts(self) -> tuple[Path, ...]:
        """The notebooks that carry the chapter's sections (the one notebook of an unsplit chapter)."""
        return self.pages[1:] if len(self.pages) > 1 else self.pages

    @property
    def name(self) -> str:
        return self.opening.stem


def _page(entry: str, root: Path = ROOT) -> Path:
    stem = root / entry
    found = [stem.with_suffix(suffix) for suffix in (".ipynb", ".md") if stem.with_suffix(suffix).is_file()]
    if len(found) != 1:
        raise FileNotFoundError(f"_toc.yml lists {entry!r}: expected one of {entry}.ipynb or {entry}.md, "
                                f"found {[p.name for p in found]}")
    return found[0]


def chapters(root: Path = ROOT) -> list[Chapter]:
    """The numbered part of ``root/_toc.yml``, in order; the number is the one in the file name (``ch02_``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    numbered = next(part for part in toc["parts"] if part.get("numbered"))
    found = []
    for entry in numbered["chapters"]:
        pages = [entry["file"]] + [section["file"] for section in entry.get("sections", [])]
        number = int(re.match(r"book/ch(\d+)_", entry["file"]).group(1))
        found.append(Chapter(number, tuple(_page(page, root) for page in pages)))
    return found


def pages() -> list[Path]:
    """Every page of every chapter, in reading order."""
    return [page for chapter in chapters() for page in chapter.pages]


def markdown(path: Path) -> str:
    """The Markdown a reader sees on ``path``: the whole of a ``.md`` page, a notebook's Markdown cells."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return text
    return "\n\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"]
                       if cell["cell_type"] == "markdown")
