"""Where the book's committed results (the repository's ``results/`` folder) are read from.

A chapter notebook reads its stored runs through :func:`results_path`, so it runs wherever the package
is installed, not only from the repository's ``book/`` folder. :func:`results_root` looks, in order, in

1. the folder named by the environment variable ``GQA_MUP_RESULTS``, when it is set (it must exist);
2. the ``results/`` folder of the repository checkout that holds the package (``pip install -e .``);
3. the copy installed with the package: a wheel puts ``results/`` in ``<prefix>/share/gqa-mup/results``
   (``[tool.setuptools.data-files]`` in ``pyproject.toml``), for the prefix of the environment or of a
   ``pip install --user``.

If none exists it raises :class:`FileNotFoundError` naming every place it looked and the fix.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

__all__ = ["ENV_VAR", "results_root", "results_path"]

ENV_VAR = "GQA_MUP_RESULTS"
"""The environment variable that, when set, names the results folder to read (it takes precedence)."""

_SHARE = Path("share", "gqa-mup", "results")
"""Where a wheel installs its copy of ``results/``, relative to an installation prefix."""

_FIX = ("clone the repository and run `pip install -e .` in it, or set the environment variable "
        f"{ENV_VAR} to a copy of the repository's results/ folder")


def _checkout_results() -> Path:
    """``results/`` beside the package's folder: present when the package is used from a checkout."""
    return Path(__file__).resolve().parents[1] / "results"


def _installed_results() -> list[Path]:
    """The places a wheel's copy of ``results/`` can be: under each installation prefix of this Python."""
    prefixes = [sysconfig.get_path("data"), sys.prefix]
    try:
        prefixes.append(sysconfig.get_path("data", sysconfig.get_preferred_scheme("user")))
    except (KeyError, AttributeError):  # no user scheme here
        pass
    return list(dict.fromkeys(Path(prefix) / _SHARE for prefix in prefixes))


def results_root() -> Path:
    """The folder holding the committed results, found as the module docstring says.

    Raises :class:`FileNotFoundError` when ``GQA_MUP_RESULTS`` is set to something that is not a folder
    (naming its value), and when no copy is found (naming every place looked in and the fix).
    """
    override = os.environ.get(ENV_VAR)
    if override:  # set and not empty
        if not Path(override).is_dir():
            raise FileNotFoundError(f"the environment variable {ENV_VAR} is set to {override!r}, which is not "
                                    f"a folder; set it to a copy of the repository's results/ folder, or unset it")
        return Path(override)
    candidates = [_checkout_results(), *_installed_results()]
    for folder in candidates:
        if folder.is_dir():
            return folder
    looked = ", ".join(repr(str(folder)) for folder in candidates)
    raise FileNotFoundError(f"the book's committed results were not found (looked in {ENV_VAR}, which is "
                            f"not set, and in {looked}); {_FIX}")


def results_path(*parts: str | os.PathLike) -> Path:
    """``parts`` joined under :func:`results_root`, e.g. ``results_path("ch06_family", "power.json")``.

    The path need not exist yet (a sweep may still have to write it); only the results folder must.
    """
    return results_root().joinpath(*parts)
