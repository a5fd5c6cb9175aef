"""A notebook run alone (``python -m pytest book/ch06_1_width_and_calculator.ipynb``) is compared as in the full
suite: nbval leaves figure bytes out (``tests/nbval_stable.py``; the hook is idempotent, so loading it here
and in ``tests/conftest.py`` is harmless)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nbval_stable import pytest_collection_modifyitems  # noqa: E402,F401
