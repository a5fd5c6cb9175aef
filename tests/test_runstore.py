"""Storing runs: keys that name committed results, atomic JSON files, records checked on reading."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gqa_mup_ref import runstore
from gqa_mup_ref.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = RunConfig(width=32, base_width=32, depth=1, n_head=2, n_kv_head=1, steps=5, batch_size=4,
                 context_length=16, eval_batches=2)


def result(config=TINY, val_loss=2.5, diverged=False):
    """A finished run's result as train() returns it, without training."""
    from gqa_mup_ref.train import RunResult

    return RunResult(config=config, train_loss=2.6, val_loss=val_loss, diverged=diverged, steps_done=5,
                     wall_time=0.1, loss_curve=[(0, 4.2), (4, 2.6)])


@pytest.mark.parametrize("path", ["results/ch05_wide/accf026daf369054.json",
                                  "results/ch05_small_mult/00403304a2bdc8e1.json"])
def test_committed_results_keep_their_keys(path):
    # Committed results are named by run_key as it was when they were made; a change to the key
    # would orphan them. The second file's run has lr_multipliers.
    config = json.loads((ROOT / path).read_text())["config"]
    assert runstore.run_key(RunConfig(**config)) == Path(path).stem


def test_runs_without_multipliers_keep_their_keys():
    # Keys computed by the code before lr_multipliers existed (commit 6a90efe); committed results
    # are stored under them.
    assert runstore.run_key(RunConfig()) == "b2b84c007ca13b66"
    assert runstore.run_key(RunConfig(lr=0.01, n_kv_head=1)) == "aa2479aa22e44fd0"
    assert runstore.run_key(RunConfig(lr_multipliers={"key": 1.0})) == "b2b84c007ca13b66"
    keyed = {runstore.run_key(RunConfig(lr_multipliers=m)) for m in ({"key": 2}, {"key": 0.5},
                                                                     {"value": 2}, {"key": 2, "value": 2})}
    assert len(keyed) == 4 and "b2b84c007ca13b66" not in keyed


def test_an_integer_for_a_float_field_is_that_float():
    assert runstore.normalized_fields({"weight_decay": 0, "width": 64}) == {"weight_decay": 0.0, "width": 64}
    assert type(runstore.normalized_fields({"weight_decay": 0})["weight_decay"]) is float
    assert runstore.run_key(RunConfig(weight_decay=0)) == runstore.run_key(RunConfig(weight_decay=0.0))


def test_a_saved_run_reads_back_under_its_key_as_strict_json(tmp_path):
    path = runstore.save_result(tmp_path, result(val_loss=math.nan, diverged=True))
    assert path == runstore.result_path(tmp_path, TINY) == tmp_path / f"{runstore.run_key(TINY)}.json"
    raw = json.loads(path.read_text())
    assert raw["format_version"] == runstore.FORMAT_VERSION and raw["key"] == path.stem
    assert raw["val_loss"] is None  # NaN is stored as null
    record = runstore.load_record(path)
    assert math.isnan(record["val_loss"]) and record["diverged"] and record["config"] == TINY.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_result_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = runstore.save_result(tmp_path, result())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_a_record_that_cannot_be_trusted_is_refused_naming_the_file_and_the_fix(tmp_path):
    path = runstore.save_result(tmp_path, result())
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(runstore.ResultsError, match="corrupt") as error:
        runstore.load_record(path)
    assert str(path) in str(error.value) and "delete" in str(error.value)
    path.write_text(json.dumps(json.loads(text) | {"format_version": 0}))
    with pytest.raises(runstore.ResultsError, match="format_version=0"):
        runstore.load_records(tmp_path)
    other = json.loads(text) | {"config": TINY.to_dict() | {"seed": 7}}  # a config of another key
    path.write_text(json.dumps(other))
    with pytest.raises(runstore.ResultsError, match="does not match its configuration"):
        runstore.load_record(path)


def test_only_files_named_like_records_are_read_and_the_others_listed(tmp_path):
    assert runstore.is_record_name("0123456789abcdef.json")
    assert not runstore.is_record_name("notes.json") and not runstore.is_record_name("0123456789ABCDEF.json")
    runstore.save_result(tmp_path, result())
    (tmp_path / "notes.json").write_text('{"who": "me"}')
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".0123.tmp").write_text("")  # a write in progress: hidden, not listed
    assert runstore.ignored_files(tmp_path) == ["README.md", "notes.json"]
    assert [r["key"] for r in runstore.load_records(tmp_path)] == [runstore.run_key(TINY)]
    missing = tmp_path / "missing"
    assert runstore.ignored_files(missing) == [] and runstore.load_records(missing) == []


def test_pending_runs_splits_what_is_stored_from_what_is_not(tmp_path):
    other = RunConfig(**TINY.to_dict() | {"seed": 1})
    runstore.save_result(tmp_path, result())
    todo, done = runstore.pending_runs([TINY, other], tmp_path)
    assert todo == [other] and [r["key"] for r in done] == [runstore.run_key(TINY)]
    assert [r["key"] for r in runstore.load_records(tmp_path, [other, TINY])] == [runstore.run_key(TINY)]


def test_reading_runs_does_not_import_torch():
    code = "import sys, gqa_mup_ref.runstore; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
