"""Every chapter follows one template, so a reader (and an instructor) finds the same parts in the same place:
learning objectives (a tip) and prerequisites (a note) at the top; the chapter's sections; then
``## Takeaways`` (an "important" admonition), ``## Exercises`` and ``## Checks``, in that order and last.

A chapter taught in two sessions (``_toc.yml``: a chapter with ``sections``) is an opening page and parts:
the opening page holds the title, the opening prose, the two boxes and a link to each part, and no ``##``
heading (one would take the number n.1 from the first part); each part is a notebook ``chNN_k_*`` that
links back to the opening page and ends with ``## Exercises`` on its own material and ``## Checks`` (the
claims it measured), so a session's exercises run in the notebook that session reads; the last part also
holds the chapter's ``## Takeaways``, before its exercises."""

import re

import pytest

from book_chapters import Chapter, chapters, markdown

CHAPTERS = chapters()
SPLIT = [chapter for chapter in CHAPTERS if len(chapter.pages) > 1]


def _ids(chapter: Chapter) -> str:
    return chapter.name


def _admonitions(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^:::\{admonition\} (.+)\n:class: (\S+)", text, flags=re.M)


def _headings(text: str, level: int = 2) -> list[str]:
    return re.findall(rf"^{'#' * level} (.+)$", text, flags=re.M)


def test_the_toc_lists_every_chapter_and_split_chapters_exist():
    assert [c.number for c in CHAPTERS] == list(range(1, len(CHAPTERS) + 1))
    assert len(CHAPTERS) >= 7 and SPLIT, [c.name for c in CHAPTERS]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_the_chapter_opens_with_objectives_and_prerequisites(chapter):
    opening = [a for a in _admonitions(markdown(chapter.opening)) if a[0] != "Solution"][:2]
    assert opening == [("Learning objectives", "tip"), ("Prerequisites", "note")], (chapter.name, opening)
    if len(chapter.pages) > 1:
        for part in chapter.parts:
            assert ("Learning objectives", "tip") not in _admonitions(markdown(part)), part.name


@pytest.mark.parametrize("chapter", SPLIT, ids=_ids)
def test_a_split_chapter_is_an_opening_page_that_leads_to_its_numbered_parts(chapter):
    opening = markdown(chapter.opening)
    assert chapter.opening.suffix == ".md", chapter.opening.name
    assert len(_headings(opening, 1)) == 1 and not re.search(r"^#{2,} ", opening, flags=re.M), \
        f"{chapter.opening.name}: a ## heading on the opening page takes the number {chapter.number}.1"
    assert "{glue" not in opening, f"{chapter.opening.name}: glue works only inside the notebook that glued it"
    assert [p.name[:7] for p in chapter.parts] == [f"ch{chapter.number:02d}_{k}_" for k in
                                                   range(1, len(chapter.parts) + 1)], chapter.parts
    for part in chapter.parts:
        assert f"{{doc}}`{part.stem}`" in opening, f"{chapter.opening.name} does not link to {part.name}"
        text = markdown(part)
        assert text.startswith("# ") and len(_headings(text, 1)) == 1, f"{part.name}: one # title, first"
        assert f"{{doc}}`{chapter.opening.stem}`" in text.split("\n## ")[0], \
            f"{part.name}: its opening does not link back to the chapter's page"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_the_chapter_ends_with_takeaways_exercises_and_checks(chapter):
    *earlier, last = chapter.parts
    text = markdown(last)
    assert _headings(text)[-3:] == ["Takeaways", "Exercises", "Checks"], (last.name, _headings(text)[-4:])
    takeaways = text[text.index("\n## Takeaways"):text.index("\n## Exercises")]
    assert _admonitions(takeaways) == [("Takeaways", "important")], last.name
    for part in earlier:
        headings = _headings(markdown(part))
        assert headings[-2:] == ["Exercises", "Checks"], \
            f"{part.name}: a part ends with exercises on its material and the Checks of what it measured"
        assert "Takeaways" not in headings, f"{part.name}: the chapter's takeaways close its last part"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_the_exercises_are_numbered_objects_each_followed_by_its_solution(chapter):
    """Each exercise is a sphinx-exercise box labelled ``ex-chNN-k`` (k = 1, 2, ... in order, so the page's
    "Exercise N.k" and the label agree), followed by its dropdown ``{solution}``, which
    ``GQA_MUP_SOLUTIONS=hide`` removes; no exercise is left as bold text."""
    text = "\n\n".join(markdown(page) for page in chapter.pages)
    name, tag = chapter.name, f"ch{chapter.number:02d}"
    assert "**Exercise" not in text, f"{name}: an exercise written as bold text, not an {{exercise}} box"
    exercises = re.findall(r"^:::\{exercise\} .+\n:label: (\S+)\n", text, flags=re.M)
    assert exercises == [f"ex-{tag}-{k}" for k in range(1, len(exercises) + 1)], (name, exercises)
    assert len(exercises) >= 3, name
    solutions = re.findall(r"^:::\{solution\} (\S+)\n:label: (\S+)\n:class: dropdown\n", text, flags=re.M)
    assert solutions == [(e, e.replace("ex-", "sol-", 1)) for e in exercises], (name, solutions)
    order = [kind if kind == "exercise" else target
             for kind, target in re.findall(r"^:::\{(exercise|solution)\} ?(\S*)", text, flags=re.M)]
    expected = [step for label in exercises for step in ("exercise", label)]
    assert order == expected, f"{name}: each exercise must be followed by its own solution: {order}"
    for part in chapter.parts:
        text = markdown(part)
        section = text[text.index("\n## Exercises"):text.index("\n## Checks")]
        assert section.count(":::{exercise}") == text.count(":::{exercise}") > 0, \
            f"{part.name}: an exercise outside its ## Exercises, or a part without exercises"
