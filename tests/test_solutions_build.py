"""Building without solutions (``GQA_MUP_SOLUTIONS=hide``): a one-page Sphinx project with a sphinx-exercise
exercise and solution and MyST admonitions like the chapters', built in a temporary folder (about a second per build)."""

import io
from pathlib import Path

import pytest

pytest.importorskip("myst_parser", reason="the book extra is not installed")
from sphinx.application import Sphinx  # noqa: E402
from sphinx.errors import ConfigError  # noqa: E402
from sphinx.util.docutils import docutils_namespace  # noqa: E402

EXT = Path(__file__).resolve().parents[1] / "book" / "_ext"

PAGE = """\
# Exercises

:::{admonition} Prerequisites
Singular values and rank.
:::

:::{exercise} a rank-one update
:label: ex-one

Compute the spectral norm of a rank-one update.
:::

:::{solution} ex-one
:label: sol-one
:class: dropdown
It is the product of the two vectors' norms, WORKED-ANSWER-ONE (zanzibarquux, a word for the search index).
:::

Text between the exercises, which cites {numref}`ex-one`.

:::{admonition} Solution
:class: dropdown
WORKED-ANSWER-TWO, in the admonition form the chapters used before sphinx-exercise, with a list:

- a step
:::
"""


def _build(tmp_path: Path, monkeypatch, env: str | None, conf_value: str | None = None) -> Path:
    """Build the page to HTML with warnings as errors; return the HTML folder."""
    if env is None:
        monkeypatch.delenv("GQA_MUP_SOLUTIONS", raising=False)
    else:
        monkeypatch.setenv("GQA_MUP_SOLUTIONS", env)
    src = tmp_path / "src"
    src.mkdir(parents=True)
    conf = (f"import sys\nsys.path.insert(0, {str(EXT)!r})\n"
            "extensions = ['myst_parser', 'sphinx_exercise', 'solutions_switch']\nmyst_enable_extensions = ['colon_fence']\n"
            "exercise_style = 'solution_follow_exercise'\n")  # as _config.yml
    if conf_value is not None:
        conf += f"gqa_mup_solutions = {conf_value!r}\n"
    (src / "conf.py").write_text(conf)
    (src / "index.md").write_text(PAGE)
    warnings = io.StringIO()
    with docutils_namespace():  # each build registers its nodes and directives afresh, as sphinx-build does
        app = Sphinx(str(src), str(src), str(tmp_path / "html"), str(tmp_path / "doctrees"), "html",
                     status=None, warning=warnings, freshenv=True, warningiserror=True)
        app.build()
    assert warnings.getvalue() == ""
    return tmp_path / "html"


def test_without_the_switch_the_page_keeps_its_solutions(tmp_path, monkeypatch):
    html = _build(tmp_path, monkeypatch, env=None)
    page = (html / "index.html").read_text(encoding="utf-8")
    assert "WORKED-ANSWER-ONE" in page and "WORKED-ANSWER-TWO" in page
    assert page.count('<p class="admonition-title">Solution</p>') == 2
    assert '<div class="solution dropdown admonition" id="sol-one">' in page
    assert "Solution omitted" not in page
    assert "zanzibarquux" in (html / "searchindex.js").read_text(encoding="utf-8")
    assert (html / "_sources" / "index.md.txt").is_file()


def test_hide_removes_every_solution_and_keeps_other_admonitions(tmp_path, monkeypatch):
    html = _build(tmp_path, monkeypatch, env="hide")
    page = (html / "index.html").read_text(encoding="utf-8")
    assert "WORKED-ANSWER" not in page and "a step" not in page
    assert '<p class="admonition-title">Solution' not in page
    assert page.count("<em>Solution omitted in this edition.</em></p>") == 2
    assert '<p class="solution-omitted" id="sol-one">' in page, "a link to the solution no longer lands"
    for kept in ("Singular values and rank.", "Compute the spectral norm of a rank-one update.",
                 "Text between the exercises", '<p class="admonition-title">Prerequisites</p>',
                 '<span class="caption-number">Exercise 1 </span>', 'href="#ex-one"'):
        assert kept in page, kept
    assert "zanzibarquux" not in (html / "searchindex.js").read_text(encoding="utf-8")
    assert not (html / "_sources").exists(), "the page's source, solutions included, was copied into the build"


def test_the_config_value_hides_and_the_variable_overrides_it(tmp_path, monkeypatch):
    hidden = _build(tmp_path / "a", monkeypatch, env=None, conf_value="hide") / "index.html"
    assert "WORKED-ANSWER" not in hidden.read_text(encoding="utf-8")
    shown = _build(tmp_path / "b", monkeypatch, env="show", conf_value="hide") / "index.html"
    assert "WORKED-ANSWER-ONE" in shown.read_text(encoding="utf-8")


def test_an_unknown_value_is_refused_with_the_fix(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"GQA_MUP_SOLUTIONS is 'hidden'; set it to 'hide'"):
        _build(tmp_path, monkeypatch, env="hidden")
