"""A pytest plugin that makes nbval skip figure bytes (loaded by ``conftest.py``; ``-p nbval_stable`` elsewhere).

Figure bytes are not a stable output: they change with the CPU's floating point, the font stack and
matplotlib. nbval already skips plain ``image/png``, but myst-nb's ``glue`` stores a figure under a
papermill record type, which nbval would compare byte for byte. With this plugin every figure cell still
runs (a figure that fails to draw still fails its cell), its text outputs and the glued numbers are still
compared, and what each figure shows is asserted in its chapter's *Checks* cells.
"""

FIGURE_BYTES = ("application/papermill.record/image/png", "application/papermill.record/image/jpeg")


def pytest_collection_modifyitems(items):
    """Add :data:`FIGURE_BYTES` to the output types nbval leaves out of its comparison, per notebook."""
    for notebook in {item.parent for item in items if hasattr(item.parent, "skip_compare")}:
        notebook.skip_compare = tuple(notebook.skip_compare) + FIGURE_BYTES
