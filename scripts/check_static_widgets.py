"""Check the built book in headless Chromium with the network off (kept for its old name).

Runs ``scripts/check_book_in_browser.py``, which checks every page, sliders included::

    jupyter-book build . && python scripts/check_static_widgets.py [--html _build/html]

Needs the ``test`` extra (playwright) and Debian's ``chromium``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_book_in_browser import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
