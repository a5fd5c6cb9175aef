"""The publishing workflow builds with the README's command, and its build steps run here.

The ``built_book`` fixture (conftest.py) runs the workflow's ``run:`` steps in a fresh copy of the
repository; these tests check what those steps are and what they produce.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_command(heading: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(re.escape(heading) + r".*?```bash\n(.+?)\n```", readme, re.S)
    assert block, f"README has no bash block after {heading!r}"
    return block.group(1).strip()


def test_the_workflow_builds_with_the_readme_command():
    steps = [step["run"] for step in _script("run_workflow_locally").build_steps()]
    assert _readme_command("**Build the book**") in steps


def test_the_workflow_publishes_the_built_html():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8"))
    build = workflow["jobs"]["build"]["steps"]
    upload = [s for s in build if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]["steps"]
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages") for s in deploy)
    assert workflow["permissions"]["pages"] == "write"


def test_every_github_expression_in_a_build_step_is_filled_in():
    workflow = _script("run_workflow_locally")
    for step in workflow.build_steps():
        assert "${{" not in workflow.render(step["run"], "owner/name")
    with pytest.raises(ValueError, match="unhandled GitHub expression"):
        workflow.render("echo ${{ secrets.TOKEN }}", "owner/name")


def test_configure_sets_the_one_repository_setting():
    configure = _script("configure_book").configure
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    changed = configure(text, "https://github.com/someone/fork", "https://hub.example.edu")
    assert '  url: "https://github.com/someone/fork"' in changed
    assert '  jupyterhub_url: "https://hub.example.edu"' in changed
    assert changed.count("someone/fork") == 1, "the repository must be set in one place only"
    with pytest.raises(ValueError, match="OWNER/NAME"):
        configure(text, "not a url")


def test_the_built_notebook_pages_launch_from_the_configured_repository(built_book):
    page = (built_book / "book" / "ch01_spectral_feature_learning.html").read_text(encoding="utf-8")
    assert "mybinder.org/v2/gh/example/gqa-mup-ref/main" in page
    assert "colab.research.google.com/github/example/gqa-mup-ref/blob/main" in page
