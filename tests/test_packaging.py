"""The install story: environment.yml mirrors pyproject.toml, CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements |= set(extra)
    return {req.replace(" ", "") for req in requirements}


def _environment_pip_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    entries = [line.strip()[2:].strip() for line in lines[start + 1:] if line.strip().startswith("- ")]
    return {entry.replace(" ", "") for entry in entries if entry != "-e ." and not entry.startswith("--")}


def test_environment_yml_installs_the_cpu_build_of_torch():
    """Binder builds from environment.yml on machines without a GPU: torch comes from the CPU wheel index."""
    lines = [line.strip() for line in (ROOT / "environment.yml").read_text().splitlines()]
    assert "- --extra-index-url https://download.pytorch.org/whl/cpu" in lines


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_python_versions_agree():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires}" in (ROOT / "environment.yml").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert any("jupyter-book build" in c and "-W" in c for c in commands)


def test_every_toc_entry_exists():
    entries = re.findall(r"(?:root|file):\s*(\S+)", (ROOT / "_toc.yml").read_text())
    for entry in entries:
        assert any((ROOT / f"{entry}{suffix}").is_file() for suffix in (".md", ".ipynb")), entry
