"""scripts/colab_cells.py: the Colab set-up cell does nothing outside Colab, and the script adds it to copies
of the chapter notebooks without changing anything else (never to the real notebooks here)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
URL = "https://github.com/someone/fork"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cells = _script("colab_cells")


@pytest.fixture
def copy(tmp_path):
    """A repository-shaped copy: _config.yml and the chapter notebooks in book/, with their set-up cells taken out
    (the real notebooks carry them), so the script starts from notebooks without one."""
    (tmp_path / "book").mkdir()
    for path in sorted((ROOT / "book").glob("ch0*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        notebook["cells"] = [cell for cell in notebook["cells"]
                             if "colab-setup" not in cell["metadata"].get("tags", [])]
        (tmp_path / "book" / path.name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    shutil.copyfile(ROOT / "_config.yml", tmp_path / "_config.yml")
    return tmp_path


def test_the_real_notebooks_carry_the_current_cell():
    assert cells.main(["--config", str(ROOT / "_config.yml"), "--book", str(ROOT / "book"), "--check"]) == 0


def _tagged(notebook):
    return [i for i, cell in enumerate(notebook["cells"]) if "colab-setup" in cell["metadata"].get("tags", [])]


def test_outside_colab_the_cell_prints_nothing_and_changes_nothing(tmp_path):
    probe = (
        "import os, sys\n"
        "source = sys.stdin.read()\n"
        "modules, cwd, path = set(sys.modules), os.getcwd(), list(sys.path)\n"
        "exec(compile(source, 'colab-setup', 'exec'), {})\n"
        "print(sorted(set(sys.modules) - modules), os.getcwd() == cwd, sys.path == path)\n"
    )
    # -I: no user site-packages or PYTHON* variables, so nothing can make google.colab importable
    out = subprocess.run([sys.executable, "-I", "-c", probe], input=cells.cell_source(URL), cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "[] True True\n", "")
    assert not list(tmp_path.iterdir())


def test_on_colab_the_cell_clones_installs_and_moves_into_book(monkeypatch, capsys):
    commands, folders = [], []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, check: commands.append(command))
    monkeypatch.setattr(os, "chdir", folders.append)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(cells.cell_source(URL), "colab-setup", "exec"), {})
    assert commands[0] == ["git", "clone", "--depth", "1", URL, "/content/gqa-mup"]
    assert commands[1][:6] == [sys.executable, "-m", "pip", "install", "--quiet", "-e"]
    assert commands[1][6] == "/content/gqa-mup[widgets,hf]"
    assert folders == ["/content/gqa-mup/book"] and sys.path[0] == "/content/gqa-mup"
    assert "installed" in capsys.readouterr().out
    # what it installs is what pyproject.toml declares
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert {"widgets", "hf"} <= set(extras)
    assert set(commands[1][7:]) <= {req for reqs in extras.values() for req in reqs}


def test_the_script_inserts_one_hidden_cell_before_the_first_code_cell_and_keeps_every_other_byte(copy):
    before = {path.name: path.read_text(encoding="utf-8") for path in (copy / "book").glob("ch0*.ipynb")}
    assert cells.main(["--config", str(copy / "_config.yml"), "--book", str(copy / "book")]) == 0
    for name, text in before.items():
        old = json.loads(text)
        new = json.loads((copy / "book" / name).read_text(encoding="utf-8"))
        (index,) = _tagged(new)
        first_code = next(i for i, cell in enumerate(old["cells"]) if cell["cell_type"] == "code")
        assert index == first_code, name
        cell = new["cells"].pop(index)
        assert cell["cell_type"] == "code" and "remove-cell" in cell["metadata"]["tags"]
        assert isinstance(cell["execution_count"], int)  # book/_ext/notebook_guard.py refuses unexecuted cells
        assert "https://github.com/gqa-mup/gqa-mup-ref" in "".join(cell["source"])  # _config.yml's url
        assert json.dumps(new, indent=1, ensure_ascii=False) + "\n" == text, name


def test_running_twice_changes_nothing_and_check_passes_only_after_a_run(copy, capsys):
    args = ["--config", str(copy / "_config.yml"), "--book", str(copy / "book")]
    assert cells.main([*args, "--check"]) == 1
    assert "ch03_1_depth.ipynb" in capsys.readouterr().err
    cells.main(args)
    once = {path.name: path.read_bytes() for path in (copy / "book").glob("*.ipynb")}
    cells.main(args)
    assert {path.name: path.read_bytes() for path in (copy / "book").glob("*.ipynb")} == once
    assert cells.main([*args, "--check"]) == 0


def test_configure_book_moves_the_cells_to_a_new_repository_in_place(copy):
    cells.main(["--config", str(copy / "_config.yml"), "--book", str(copy / "book")])
    path = copy / "book" / "ch05_1_can_it_decide.ipynb"
    before = json.loads(path.read_text(encoding="utf-8"))
    _script("configure_book").main(["--repository-url", URL, "--config", str(copy / "_config.yml")])
    after = json.loads(path.read_text(encoding="utf-8"))
    (index,) = _tagged(after)
    assert index == _tagged(before)[0] and len(after["cells"]) == len(before["cells"])
    source = "".join(after["cells"][index]["source"])
    assert URL in source and "gqa-mup/gqa-mup-ref" not in source
    assert after["cells"][:index] + after["cells"][index + 1:] == before["cells"][:index] + before["cells"][index + 1:]


def test_a_notebook_formatted_otherwise_is_refused_untouched(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {}, "outputs": [],
                           "source": ["x = 1"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ch01_x.ipynb"
    path.write_text(json.dumps(notebook, indent=2), encoding="utf-8")
    with pytest.raises(ValueError, match="not formatted as nbformat writes it"):
        cells.update(path, URL)
    assert path.read_text(encoding="utf-8") == json.dumps(notebook, indent=2)


def test_a_duplicated_or_moved_cell_becomes_one_cell_before_the_first_code_cell(tmp_path):
    title = {"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# Title"]}
    code = {"cell_type": "code", "execution_count": 2, "id": "c", "metadata": {}, "outputs": [], "source": ["x = 1"]}
    stray = {"cell_type": "code", "execution_count": 7, "id": "colab-setup",
             "metadata": {"tags": ["colab-setup"]}, "outputs": [], "source": ["old"]}
    notebook = {"cells": [title, code, stray, dict(stray)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ch01_x.ipynb"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert cells.update(path, URL) and not cells.update(path, URL)
    title_, setup, code_ = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert (title_, code_) == (title, code)
    assert setup["execution_count"] == 7 and setup["metadata"]["tags"] == ["colab-setup", "remove-cell"]
    assert "".join(setup["source"]) == cells.cell_source(URL)
