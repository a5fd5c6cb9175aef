"""Where the book's committed results are read from (:mod:`gqa_mup_ref.results`): ``GQA_MUP_RESULTS``,
the checkout that holds the package, or the copy a wheel installs; and that the wheel carries that copy."""

import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from gqa_mup_ref import completep as cp
from gqa_mup_ref import results as res

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_override(monkeypatch):
    """``GQA_MUP_RESULTS`` unset for the test."""
    monkeypatch.delenv(res.ENV_VAR, raising=False)


def test_the_environment_variable_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv(res.ENV_VAR, str(tmp_path))
    assert res.results_root() == tmp_path
    assert res.results_path("ch06_family", "power.json") == tmp_path / "ch06_family" / "power.json"
    assert cp.results_path(cp.DEPTH_LR_RESULTS) == tmp_path / "ch03_depth_lr"


def test_an_environment_variable_naming_no_folder_is_an_error_naming_it_and_its_value(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv(res.ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError) as error:
        res.results_root()
    assert res.ENV_VAR in str(error.value) and repr(str(missing)) in str(error.value)


def test_in_the_repository_the_checkouts_results_are_found(no_override):
    assert res.results_root() == ROOT / "results"
    assert res.results_path("ch05_decisive", "protocol.md").is_file()


def test_the_checkout_that_holds_the_package_is_the_one_read(tmp_path, monkeypatch, no_override):
    (tmp_path / "results").mkdir()
    monkeypatch.setattr(res, "__file__", str(tmp_path / "gqa_mup_ref" / "results.py"))
    assert res.results_root() == tmp_path / "results"
    assert res.results_path("not_written_yet") == tmp_path / "results" / "not_written_yet"  # need not exist


def test_an_installed_package_reads_the_copy_under_its_prefix(tmp_path, monkeypatch, no_override):
    monkeypatch.setattr(res, "__file__", str(tmp_path / "site-packages" / "gqa_mup_ref" / "results.py"))
    monkeypatch.setattr(res.sysconfig, "get_path", lambda name, scheme=None: str(tmp_path / "prefix"))
    copy = tmp_path / "prefix" / "share" / "gqa-mup" / "results"
    copy.mkdir(parents=True)
    assert res.results_root() == copy


def test_no_results_anywhere_is_an_error_naming_the_places_and_the_fix(tmp_path, monkeypatch, no_override):
    monkeypatch.setattr(res, "__file__", str(tmp_path / "site-packages" / "gqa_mup_ref" / "results.py"))
    nowhere = [tmp_path / "prefix" / "share" / "gqa-mup" / "results"]
    monkeypatch.setattr(res, "_installed_results", lambda: nowhere)
    for call in (res.results_root, lambda: cp.results_path(cp.DEPTH_LR_RESULTS)):
        with pytest.raises(FileNotFoundError) as error:
            call()
        message = str(error.value)
        assert "GQA_MUP_RESULTS" in message and "pip install -e ." in message
        assert repr(str(tmp_path / "site-packages" / "results")) in message and repr(str(nowhere[0])) in message


def build_wheel(dest: Path) -> Path:
    """A wheel of a copy of the checkout (package, pyproject, README, results), built offline into ``dest``.

    Built from a copy so the build's ``build/`` folder stays out of the repository. Skips when pip or
    setuptools is missing; about 5 s.
    """
    for module, what in (("pip", "pip"), ("setuptools", "setuptools, the build backend,")):
        if importlib.util.find_spec(module) is None:  # not imported here: setuptools would patch distutils
            pytest.skip(f"{what} is not installed, so no wheel can be built")
    source = dest / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.tmp", "cache")
    for name in ("gqa_mup_ref", "results"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "-w", str(dest / "wheel"), str(source)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"pip wheel failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    (wheel,) = (dest / "wheel").glob("*.whl")
    return wheel


def test_the_wheel_carries_every_results_folder_where_the_locator_reads_it(tmp_path):
    wheel = build_wheel(tmp_path)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    prefix = f"gqa_mup_ref-{version}.data/data/{res._SHARE.as_posix()}/"  # installed to <prefix>/share/...
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "gqa_mup_ref/results.py" in names
    assert f"{prefix}ch05_decisive/protocol.md" in names
    shipped = {name[len(prefix):].rsplit("/", 1)[0] for name in names if name.startswith(prefix)}
    source = tmp_path / "source" / "results"
    folders = {p.relative_to(source).as_posix() for p in source.rglob("*")
               if p.is_dir() and any(f.is_file() for f in p.iterdir())}  # subfolders too
    missing = sorted(folders - shipped)
    assert not missing, f"add these results folders to [tool.setuptools.data-files] in pyproject.toml: {missing}"
