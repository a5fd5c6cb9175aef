"""Run the build steps of ``.github/workflows/book.yml`` here, in a fresh copy of the repository.

Reads the workflow, takes the ``run:`` steps of its ``build`` job in order (the ``uses:`` steps set up
Python and Node.js, which a developer machine has), fills in the GitHub expressions
(``${{ github.repository }}`` with ``--repository``, ``${{ vars.* }}`` with nothing), and runs each
step with bash in a copy of the working tree (tracked and untracked files that git does not ignore).
With ``--no-install`` the ``python -m pip install ... &&`` prefix of a step is left out, for a machine
where the package is installed already (the test suite)::

    python scripts/run_workflow_locally.py [--repository OWNER/NAME] [--no-install] [--keep DIR]

Prints where the built book is; exit status that of the first step that fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
INSTALL = re.compile(r"^python -m pip install [^&]+&&\s*")


def build_steps(workflow: Path = WORKFLOW) -> list[dict]:
    """The ``build`` job's steps that run a command, as ``{"name", "run"}``."""
    jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
    return [{"name": step.get("name", step["run"][:40]), "run": step["run"].strip()}
            for step in jobs["build"]["steps"] if "run" in step]


def render(command: str, repository: str) -> str:
    """Fill in the GitHub expressions the workflow uses."""
    command = command.replace("${{ github.repository }}", repository)
    command = re.sub(r"\$\{\{\s*vars\.\w+\s*\}\}", "", command)
    if "${{" in command:
        raise ValueError(f"unhandled GitHub expression in workflow step: {command}")
    return command


def copy_tree(target: Path) -> None:
    """Copy the working tree (tracked + untracked, not ignored) into ``target``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def interpreter_env() -> dict[str, str]:
    """The environment with the running interpreter's folder first on PATH, so that the steps' ``python`` and
    ``jupyter-book`` are this interpreter's, as in an activated virtual environment, even when it was called by
    its path (``/path/to/venv/bin/python -m pytest``) without activating it."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_steps(target: Path, repository: str, install: bool = True, timeout: int = 900) -> list[str]:
    """Run the build steps in ``target``; return the commands run. Raises CalledProcessError on failure."""
    ran = []
    for step in build_steps():
        command = render(step["run"], repository)
        if not install:
            command = INSTALL.sub("", command)
        subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=target, check=True, timeout=timeout,
                       capture_output=True, text=True, env=interpreter_env())
        ran.append(command)
    return ran


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", default="example/gqa-mup-ref", help="OWNER/NAME for the launch buttons")
    parser.add_argument("--no-install", action="store_true", help="skip the pip install prefix of each step")
    parser.add_argument("--keep", type=Path, help="build in this (new or empty) folder and keep it")
    args = parser.parse_args(argv)
    target = args.keep or Path(tempfile.mkdtemp(prefix="book-workflow-"))
    target.mkdir(parents=True, exist_ok=True)
    copy_tree(target)
    try:
        for command in run_steps(target, args.repository, install=not args.no_install):
            print(f"ok: {command}")
    except subprocess.CalledProcessError as error:
        print(f"failed: {error.cmd[-1]}\n{error.stdout[-3000:]}\n{error.stderr[-3000:]}", file=sys.stderr)
        return error.returncode or 1
    print(f"built: {target / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
