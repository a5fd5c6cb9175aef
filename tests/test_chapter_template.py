"""Every chapter follows one template, so a reader (and an instructor) finds the same parts in the same place:
learning objectives (a tip) and prerequisites (a note) at the top; the chapter's sections; then
``## Takeaways`` (an "important" admonition), ``## Exercises`` and ``## Checks``, in that order and last."""

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("ch0*.ipynb"))


def _markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _admonitions(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^:::\{admonition\} (.+)\n:class: (\S+)", text, flags=re.M)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_opens_with_objectives_and_prerequisites(path):
    opening = [a for a in _admonitions(_markdown(path)) if a[0] != "Solution"][:2]
    assert opening == [("Learning objectives", "tip"), ("Prerequisites", "note")], (path.name, opening)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_ends_with_takeaways_exercises_and_checks(path):
    text = _markdown(path)
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[-3:] == ["Takeaways", "Exercises", "Checks"], (path.name, headings[-4:])
    takeaways = text[text.index("\n## Takeaways"):text.index("\n## Exercises")]
    assert _admonitions(takeaways) == [("Takeaways", "important")], path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_exercises_are_numbered_objects_each_followed_by_its_solution(path):
    """Each exercise is a sphinx-exercise box labelled ``ex-chNN-k`` (k = 1, 2, ... in order, so the page's
    "Exercise N.k" and the label agree), followed by its dropdown ``{solution}``, which
    ``GQA_MUP_SOLUTIONS=hide`` removes; no exercise is left as bold text."""
    text = _markdown(path)
    chapter = f"ch{path.stem[2:4]}"
    assert "**Exercise" not in text, f"{path.name}: an exercise written as bold text, not an {{exercise}} box"
    exercises = re.findall(r"^:::\{exercise\} .+\n:label: (\S+)\n", text, flags=re.M)
    assert exercises == [f"ex-{chapter}-{k}" for k in range(1, len(exercises) + 1)], (path.name, exercises)
    assert len(exercises) >= 3, path.name
    solutions = re.findall(r"^:::\{solution\} (\S+)\n:label: (\S+)\n:class: dropdown\n", text, flags=re.M)
    assert solutions == [(e, e.replace("ex-", "sol-", 1)) for e in exercises], (path.name, solutions)
    order = [kind if kind == "exercise" else target
             for kind, target in re.findall(r"^:::\{(exercise|solution)\} ?(\S*)", text, flags=re.M)]
    expected = [step for label in exercises for step in ("exercise", label)]
    assert order == expected, f"{path.name}: each exercise must be followed by its own solution: {order}"
    section = text[text.index("\n## Exercises"):text.index("\n## Checks")]
    assert section.count(":::{exercise}") == len(exercises), f"{path.name}: an exercise outside ## Exercises"
