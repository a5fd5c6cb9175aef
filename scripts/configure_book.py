"""Set the repository the book's launch buttons and source links point at, in ``_config.yml``.

The one setting is ``repository.url``; the Binder, Colab and JupyterHub buttons are all derived from it
(``launch_buttons`` names only the services). The publishing workflow runs this with the repository it
builds, so a fork publishes buttons that open the fork::

    python scripts/configure_book.py --repository-url https://github.com/OWNER/NAME [--jupyterhub-url URL]

An empty ``--jupyterhub-url`` leaves the JupyterHub button as it is (hidden when no hub is configured).
The file is edited line by line, so its comments survive. The Colab set-up cell of each chapter notebook,
which clones the repository, is then updated to the same URL (``scripts/colab_cells.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def configure(text: str, repository_url: str, jupyterhub_url: str = "") -> str:
    """``_config.yml`` text with ``repository.url`` (and ``launch_buttons.jupyterhub_url``) replaced."""
    if not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", repository_url):
        raise ValueError(f"repository URL {repository_url!r} is not of the form https://github.com/OWNER/NAME")
    text, count = re.subn(r"(?m)^(  url: ).*$", lambda m: f'{m.group(1)}"{repository_url}"', text, count=1)
    if count != 1:
        raise ValueError("_config.yml has no 'repository:' block with an indented 'url:' line")
    if jupyterhub_url:
        text, count = re.subn(r"(?m)^(  jupyterhub_url: ).*$", lambda m: f'{m.group(1)}"{jupyterhub_url}"', text)
        if count != 1:
            raise ValueError("_config.yml has no 'launch_buttons:' block with a 'jupyterhub_url:' line")
    return text


def _colab_cells():
    """``scripts/colab_cells.py`` as a module (loaded by path: scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("colab_cells", Path(__file__).with_name("colab_cells.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository-url", required=True)
    parser.add_argument("--jupyterhub-url", default="")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    args = parser.parse_args(argv)
    text = configure(args.config.read_text(encoding="utf-8"), args.repository_url.rstrip("/"),
                     args.jupyterhub_url.strip())
    tmp = args.config.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.config)
    print(f"{args.config.name}: repository.url = {args.repository_url}")
    cells = _colab_cells()
    updated = cells.update_all(args.config.parent / "book", cells.repository_url(args.config))
    print(f"Colab set-up cell: {len(updated)} notebook(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
