"""Every chapter notebook runs alone, outside the repository, with the package installed from its wheel.

This is what an instructor gets on Colab, on Binder or with a notebook copied to another folder: the
chapter must find the committed results through :mod:`gqa_mup_ref.results` (here, the copy the wheel
installs under ``<venv>/share/gqa-mup/results``), never through a path relative to the checkout.

Executing all seven chapters takes about five minutes on a 2-core machine (measured: 293 s with two
sweeps running beside it); they are part of the suite, and ``GQA_MUP_RUN_OUTSIDE_REPO=0`` skips them when
iterating on something else::

    python -m pytest tests/test_notebooks_outside_repo.py

The wheel (:func:`test_results_locator.build_wheel`) is installed into a virtual environment that sees
this Python's packages (``--system-site-packages``: torch, Jupyter) but not the checkout; a kernel spec
on ``JUPYTER_PATH`` runs the kernel with that environment's Python. Each notebook is copied alone into
pytest's ``tmp_path`` (outside ``tests/`` and ``book/``, so nbval never collects the copy) and executed
there with ``GQA_MUP_RESULTS`` unset; a last cell, added to the copy, checks that the package and the
results were read from the environment, not from the checkout.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_results_locator import build_wheel

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("ch0*.ipynb"))

pytestmark = pytest.mark.skipif(os.environ.get("GQA_MUP_RUN_OUTSIDE_REPO", "1") == "0",
                                reason="GQA_MUP_RUN_OUTSIDE_REPO=0: the chapters are not run outside the repository")

_CHECK = f'''\
from pathlib import Path

import gqa_mup_ref
import gqa_mup_ref.results

_checkout = Path({str(ROOT)!r})
assert not Path(gqa_mup_ref.__file__).resolve().is_relative_to(_checkout), gqa_mup_ref.__file__
assert not gqa_mup_ref.results.results_root().resolve().is_relative_to(_checkout), gqa_mup_ref.results.results_root()
'''
"""Appended to each copy: the package and the results come from the installed environment."""


@pytest.fixture(scope="module")
def installed_kernels(tmp_path_factory) -> Path:
    """A ``JUPYTER_PATH`` folder whose ``python3`` kernel runs in a fresh venv holding the package's wheel."""
    base = tmp_path_factory.mktemp("installed")
    wheel = build_wheel(base)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True)
    spec = base / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gqa-mup-ref wheel)", "language": "python"}), encoding="utf-8")
    return base / "jupyter"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapter_runs_alone_outside_the_repository(chapter, installed_kernels, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbconvert.preprocessors import ExecutePreprocessor

    monkeypatch.delenv("GQA_MUP_RESULTS", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(installed_kernels))
    copy = tmp_path / chapter
    copy.write_bytes((ROOT / "book" / chapter).read_bytes())
    notebook = nbformat.read(copy, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(_CHECK))
    ExecutePreprocessor(timeout=1800, kernel_name="python3").preprocess(
        notebook, {"metadata": {"path": str(tmp_path)}})
