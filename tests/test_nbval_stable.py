"""nbval compares what is meant to be stable: a glued figure whose bytes changed passes, a glued number or a
printed line that changed fails (``tests/nbval_stable.py``)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

TESTS = Path(__file__).resolve().parent
FIGURE = "application/papermill.record/image/png"
NUMBER = "application/papermill.record/text/plain"
# The cell publishes what a myst-nb glue of a figure and of a number publishes: the figure's bytes change on
# every run (random noise), the number and the printed line do not.
SOURCE = f"""\
import os
from IPython.display import publish_display_data
publish_display_data({{"{FIGURE}": __import__("base64").b64encode(os.urandom(64)).decode(),
                      "{NUMBER}": "0.123"}}, metadata={{"scrapbook": {{"name": "fig", "mime_prefix":
                      "application/papermill.record/"}}}})
print("loss 1.234")"""


def _notebook(path: Path, number: str = "0.123", printed: str = "loss 1.234\n") -> Path:
    cell = nbformat.v4.new_code_cell(SOURCE, execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data={FIGURE: base64.b64encode(b"stored bytes").decode(),
                                                     NUMBER: number}),
        nbformat.v4.new_output("stream", name="stdout", text=printed)])
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def _nbval(path: Path, plugin: bool) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", str(path), "--nbval", "--nbval-current-env", "-q",
               "-p", "no:cacheprovider", "--rootdir", str(path.parent), "-c", os.devnull]
    if plugin:
        command += ["-p", "nbval_stable"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(command, capture_output=True, text=True, cwd=path.parent, env=env, timeout=300)


@pytest.mark.parametrize("plugin, changed, passes", [
    (True, None, True),          # the figure's bytes differ from the stored ones: not compared
    (False, None, False),        # without the plugin nbval compares them and fails (what the plugin fixes)
    (True, "number", False),     # a glued number that changed still fails
    (True, "printed", False),    # a printed line that changed still fails
])
def test_nbval_compares_numbers_and_text_but_not_figure_bytes(tmp_path, plugin, changed, passes):
    stored = {"number": {"number": "0.124"}, "printed": {"printed": "loss 1.235\n"}}.get(changed, {})
    out = _nbval(_notebook(tmp_path / "figure.ipynb", **stored), plugin)
    assert (out.returncode == 0) == passes, out.stdout[-2000:] + out.stderr[-2000:]
