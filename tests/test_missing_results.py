"""A notebook run away from the repository's results (Colab without its set-up cell, a package installed
without a clone) stops with an error that names the path and the fix, not with an empty table."""

import json
from pathlib import Path

import pytest

from gqa_mup_ref import completep as cp
from gqa_mup_ref import kv_premises as kp
from gqa_mup_ref import results
from gqa_mup_ref import sweep

FIX = "run the notebook from the repository's book/ folder"


def test_a_sweep_config_under_a_missing_results_folder_names_it_and_the_fix(tmp_path):
    # a sweep config given by a path under a results/ folder that does not exist
    path = tmp_path / "results" / "ch05_small" / "sweep.toml"
    with pytest.raises(ValueError) as error:
        sweep.load_sweep_config(path)
    message = str(error.value)
    assert repr(str(path)) in message and "does not exist" in message
    assert FIX in message and "on Colab, run the notebook's first code cell" in message


def test_a_mistyped_sweep_config_keeps_the_short_message(tmp_path):
    with pytest.raises(ValueError, match=r"does not exist; pass an existing \.toml or \.json file$"):
        sweep.load_sweep_config(tmp_path / "sweep.toml")


def test_a_missing_premise_folder_is_named_with_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path / "book")  # ../results does not exist from here
    with pytest.raises(FileNotFoundError) as error:
        kp.load_premise_runs("../results/ch02_premises")
    message = str(error.value)
    assert "results folder '../results/ch02_premises'" in message and "not found" in message
    assert repr(str(tmp_path / "book")) in message and FIX in message


def test_an_empty_premise_folder_is_an_error_and_a_full_one_loads_in_name_order(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no run records"):
        kp.load_premise_runs(tmp_path)
    (tmp_path / "b.json").write_text(json.dumps({"key": "b"}), encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"key": "a"}), encoding="utf-8")
    assert kp.load_premise_runs(tmp_path) == [{"key": "a"}, {"key": "b"}]


def test_results_path_of_a_package_installed_without_the_repository_says_so(tmp_path, monkeypatch):
    # as after `pip install git+URL` without the results: site-packages has no results/, no copy was installed
    monkeypatch.delenv(results.ENV_VAR, raising=False)
    monkeypatch.setattr(results, "__file__", str(tmp_path / "site-packages" / "gqa_mup_ref" / "results.py"))
    monkeypatch.setattr(results, "_installed_results", lambda: [])
    with pytest.raises(FileNotFoundError) as error:
        cp.results_path(cp.DEPTH_LR_RESULTS)
    message = str(error.value)
    assert repr(str(tmp_path / "site-packages" / "results")) in message
    assert "pip install -e ." in message and results.ENV_VAR in message


def test_results_path_in_a_clone_allows_a_folder_a_sweep_has_yet_to_write(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    monkeypatch.delenv(results.ENV_VAR, raising=False)
    monkeypatch.setattr(results, "__file__", str(tmp_path / "gqa_mup_ref" / "results.py"))
    assert cp.results_path(cp.WEIGHT_DECAY_RESULTS) == tmp_path / "results" / "ch03_weight_decay"
    assert cp.results_path(cp.DEPTH_LR_RESULTS).parent == Path(tmp_path / "results")
