"""Sphinx extension: every page's footer names the package version and the git commit the book was built from.

A reader who cites a function, or an instructor who hands out a page, can then say which version of the book
and of ``gqa_mup_ref`` they mean. Both are read when the book is built, offline:

* the version from ``pyproject.toml`` of the tree being built (not from whatever copy of the package happens
  to be installed);
* the commit with ``git rev-parse`` (its commit date beside it, and "with local changes" when tracked files
  differ from it), only when the book's root is itself the top of a git work tree. A copy without ``.git``
  (a source archive, a fresh copy of the working tree), or a machine without git, says "unknown commit".

The text goes into sphinx-book-theme's ``extra_footer`` option, after anything already configured there.
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

UNKNOWN_COMMIT = "unknown commit"
_VERSION = re.compile(r'^version\s*=\s*"([^"]+)"', re.M)


def package_version(root: Path) -> str:
    """The ``version = "..."`` of ``root/pyproject.toml``, or ``"unknown version"`` when there is none."""
    try:
        match = _VERSION.search((root / "pyproject.toml").read_text(encoding="utf-8"))
    except OSError:
        match = None
    return match.group(1) if match else "unknown version"


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):  # no git on this machine, or it hung
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_commit(root: Path) -> str:
    """``"commit <12 hex digits> (<commit date>)"``, with ``", with local changes"`` when tracked files differ
    from it; ``UNKNOWN_COMMIT`` when ``root`` is not the top of a git work tree or git cannot say."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():  # not a checkout, or a folder inside another one
        return UNKNOWN_COMMIT
    described = _git(root, "log", "-1", "--format=%H %cs")
    if not described:  # a repository with no commit yet
        return UNKNOWN_COMMIT
    commit, date = described.split()
    changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    return f"commit {commit[:12]} ({date}" + (", with local changes)" if changed else ")")


def footer_text(root: Path) -> str:
    """The footer line, e.g. ``gqa-mup-ref 0.1.0 · commit 0123456789ab (2026-12-07)``."""
    return f"gqa-mup-ref {package_version(root)} · {git_commit(root)}"


def _config_inited(app, config):
    line = html.escape(footer_text(Path(app.srcdir)))
    options = dict(config.html_theme_options or {})
    before = options.get("extra_footer") or ""
    options["extra_footer"] = f'{before}<p class="build-info">{line}</p>'
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
