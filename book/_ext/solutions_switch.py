"""Sphinx extension: build the book without the exercises' solutions, for graded use.

Every chapter writes its exercises with `sphinx-exercise <https://ebp-sphinx-exercise.readthedocs.io>`_, each
solution a dropdown after its exercise::

    :::{solution} ex-ch02-3
    :class: dropdown
    ...
    :::

(a MyST admonition titled "Solution", the form the chapters used before, is recognised too).

By default the book is built as written. With the switch set to ``hide``, every sphinx-exercise solution,
and every admonition whose title is "Solution" (or begins with "Solution"/"Solutions" as a word, e.g.
"Solution to exercise 2"), is removed from
the built pages and from the search index, and replaced by one italic line, "Solution omitted in this
edition.", so a student sees that the exercise has a solution elsewhere. Other admonitions ("Exercise",
"Prerequisites", "Takeaways", ...) are kept. Because the notebooks themselves (which are not changed) hold
the solutions, the switch also stops the build from copying them into the HTML folder (``html_copy_source``)
and removes the theme's download button that links to those copies.

The switch, from the repository root::

    GQA_MUP_SOLUTIONS=hide jupyter-book build . --all

or ``gqa_mup_solutions: hide`` under ``sphinx: config:`` in ``_config.yml``. The environment variable, when
set, wins over the config value; both accept ``show`` (the default) and ``hide``.

The solutions are removed after cross-references are resolved (the ``doctree-resolved`` event), so a
reference to an equation or label inside a solution still resolves and ``-W -n`` stays quiet; the cached
doctrees keep the solutions. The value is an ``html`` config value, so changing it rewrites every page.
"""

from __future__ import annotations

import os
import re

from docutils import nodes
from sphinx.errors import ConfigError

ENV_VAR = "GQA_MUP_SOLUTIONS"
CONFIG_NAME = "gqa_mup_solutions"
CHOICES = ("show", "hide")
OMITTED_TEXT = "Solution omitted in this edition."
_SOLUTION_TITLE = re.compile(r"Solutions?\b")


def is_solution(admonition: nodes.Element) -> bool:
    """Whether a node is a sphinx-exercise solution, or a generic admonition whose title is "Solution" (or
    starts with the word "Solution(s)")."""
    if type(admonition).__name__ == "solution_node":  # sphinx_exercise.nodes.solution_node
        return True
    if not isinstance(admonition, nodes.admonition):
        return False
    titles = [child for child in admonition.children if isinstance(child, nodes.title)]
    return bool(titles) and _SOLUTION_TITLE.match(titles[0].astext().strip()) is not None


def remove_solutions(doctree: nodes.Node, replacement: str | None = OMITTED_TEXT) -> int:
    """Remove every solution admonition from ``doctree``, each replaced by ``replacement`` in italics (nothing
    when ``None``). Returns how many were removed."""
    solutions = [node for node in doctree.findall(nodes.Element) if is_solution(node)]
    for node in solutions:
        if replacement is None:
            node.parent.remove(node)
        else:
            line = nodes.paragraph("", "", nodes.emphasis(replacement, replacement), classes=["solution-omitted"])
            line["ids"] = node["ids"]  # a link to the solution lands on the line; its classes (dropdown) do not
            node.parent.replace(node, line)
    return len(solutions)


def _mode(config) -> str:
    from_env = os.environ.get(ENV_VAR)
    mode = (from_env if from_env is not None else config[CONFIG_NAME]).strip().lower() or "show"
    if mode not in CHOICES:
        source = f"the environment variable {ENV_VAR}" if from_env is not None else f"the config value {CONFIG_NAME}"
        raise ConfigError(f"{source} is {mode!r}; set it to 'hide' (no solutions) or 'show' (the default)")
    return mode


def _config_inited(app, config):
    # Stored on the config itself, so that Sphinx sees a change of the environment variable as a change of
    # an "html" config value and rewrites every page.
    config[CONFIG_NAME] = _mode(config)
    if config[CONFIG_NAME] == "hide":
        # The built folder must not carry the sources either: no _sources/ copies of the notebooks, and no
        # download button pointing at them.
        config.html_copy_source = False
        if config.html_theme == "sphinx_book_theme":
            config.html_theme_options = {**(config.html_theme_options or {}), "use_download_button": False}


def _doctree_resolved(app, doctree, docname):
    if app.config[CONFIG_NAME] == "hide":
        remove_solutions(doctree)


def setup(app):
    app.add_config_value(CONFIG_NAME, "show", "html", types=[str])
    app.connect("config-inited", _config_inited)
    app.connect("doctree-resolved", _doctree_resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
