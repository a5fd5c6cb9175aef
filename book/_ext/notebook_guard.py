"""Sphinx extension: the book does not build from a notebook that failed or was never run.

The book renders stored outputs (``execute_notebooks: off``), so a notebook saved with an error, or with
cells that never ran, would otherwise publish silently. Each problem is a Sphinx warning, which the
README's build command (``-W``) turns into a failed build.
"""

from __future__ import annotations

import json
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def notebook_problems(path: Path) -> list[str]:
    """Human-readable problems of a stored notebook: error outputs and unexecuted code cells."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or not "".join(cell.get("source", "")).strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"code cell {index} was never executed")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"code cell {index} raised {output.get('ename')}: {output.get('evalue')}")
    return problems


def _check(app, env, docnames):
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb":
            continue
        for problem in notebook_problems(path):
            logger.warning(f"{path.name}: {problem}; re-execute the notebook and commit its outputs",
                           location=docname)


def setup(app):
    app.connect("env-before-read-docs", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
