"""The experiment engine: a results cache that survives interruptions, shards, optima, the CLI."""

import json
import math
import statistics
import time

import pytest

from gqa_mup_ref import sweep
from gqa_mup_ref.cli import main
from gqa_mup_ref.train import RunConfig, train

TINY = dict(width=32, base_width=32, depth=1, n_head=2, n_kv_head=1, steps=5, batch_size=4,
            context_length=16, eval_batches=2)


def tiny_grid(lrs=(-8, -6, -4), seeds=(0, 1)):
    return sweep.expand_grid(TINY, {"log2_lr": list(lrs), "seed": list(seeds)})


def stored_keys(folder):
    return sorted(p.stem for p in folder.glob("*.json"))


def train_or_fail(config, device="cpu"):
    """A training function whose run at lr = 2^-6 raises (module level, so workers can load it)."""
    if config.lr == 2.0**-6:
        raise RuntimeError("boom")
    return train(config, device=device)


def never_train(config, device="cpu"):
    raise AssertionError(f"run {config} should have been skipped")


class Stop(Exception):
    pass


def test_grid_is_the_product_with_log2_and_zipped_fields():
    configs = sweep.expand_grid(
        {"steps": 5, "n_kv_head": 1}, {"shape": [{"width": 32, "n_head": 2}, {"width": 64, "n_head": 4}],
                       "log2_lr": [-8, -7]})
    assert [(c.width, c.n_head, c.lr) for c in configs] == [
        (32, 2, 2**-8), (32, 2, 2**-7), (64, 4, 2**-8), (64, 4, 2**-7)]
    assert len({sweep.run_key(c) for c in configs}) == 4
    assert sweep.run_key(RunConfig(lr=0.01)) == sweep.run_key(RunConfig(lr=0.01))
    # weight_decay = 0 in a TOML file is the same run as the default 0.0
    assert sweep.run_key(RunConfig(weight_decay=0)) == sweep.run_key(RunConfig())
    assert sweep.run_key(RunConfig(lr=0.01)) != sweep.run_key(RunConfig(lr=0.0100001))


def test_grid_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="unknown grid field 'learning_rate'"):
        sweep.expand_grid({}, {"learning_rate": [0.1]})
    with pytest.raises(ValueError, match=r"grid point \{'n_kv_head': 3\} is not a valid run"):
        sweep.expand_grid({"n_head": 4}, {"n_kv_head": [1, 3]})


def test_interrupted_sweep_resumes_without_duplicates_or_losses(tmp_path):
    configs = tiny_grid()
    seen = []

    def stop_after_three(record):
        seen.append(record["key"])
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        sweep.run_sweep(configs, tmp_path, workers=1, quiet=True, on_result=stop_after_three)
    assert stored_keys(tmp_path) == sorted(seen)
    report = sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    assert report.skipped == 3 and len(report.completed) == 3
    assert stored_keys(tmp_path) == sorted(sweep.run_key(c) for c in configs)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_a_run_that_raises_in_a_worker_is_reported_and_the_others_stored(tmp_path):
    configs = tiny_grid()  # two of the six runs have lr = 2^-6
    report = sweep.run_sweep(configs, tmp_path, workers=2, quiet=True, train_fn=train_or_fail)
    assert len(report.failed) == 2 and all("boom" in error for _, error in report.failed)
    assert len(stored_keys(tmp_path)) == 4
    rerun = sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    assert rerun.skipped == 4 and len(rerun.completed) == 2 and not rerun.failed
    assert stored_keys(tmp_path) == sorted(sweep.run_key(c) for c in configs)


def test_diverged_run_is_recorded_and_the_sweep_continues(tmp_path):
    # 10 steps: a run counts as diverged after 5 consecutive exploded steps (train.PATIENCE)
    configs = sweep.expand_grid(TINY | {"steps": 10}, {"lr": [1e-3, 1e3, 2e-3]})
    report = sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    assert len(report.completed) == 3 and report.diverged == 1
    records = {r["config"]["lr"]: r for r in sweep.load_records(tmp_path)}
    assert records[1e3]["diverged"] and math.isnan(records[1e3]["val_loss"])
    assert not records[1e-3]["diverged"] and math.isfinite(records[1e-3]["val_loss"])
    raw = json.loads(sweep.result_path(tmp_path, configs[1]).read_text())
    assert raw["val_loss"] is None  # strict JSON: NaN is stored as null


def test_corrupt_or_foreign_results_file_raises_naming_path_and_fix(tmp_path):
    configs = tiny_grid(lrs=(-8,), seeds=(0, 1))
    sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    path = sweep.result_path(tmp_path, configs[0])
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # an interrupted write by some other tool
    with pytest.raises(sweep.ResultsError, match="corrupt") as error:
        sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    assert str(path) in str(error.value) and "delete" in str(error.value)

    record = json.loads(text) | {"format_version": 0}
    path.write_text(json.dumps(record))
    with pytest.raises(sweep.ResultsError, match="format_version=0") as error:
        sweep.load_records(tmp_path)
    assert str(path) in str(error.value)


def test_shards_together_equal_the_unsharded_sweep(tmp_path):
    configs = sweep.expand_grid(TINY, {"log2_lr": [-9, -8, -7, -6], "seed": [0, 1]})
    shards = [sweep.shard_runs(configs, (i, 3)) for i in (1, 2, 3)]
    keys = [sweep.run_key(c) for shard in shards for c in shard]
    assert sorted(keys) == sorted(sweep.run_key(c) for c in configs)
    assert len(keys) == len(set(keys)) == 8
    for i in (1, 2, 3):
        sweep.run_sweep(configs, tmp_path / "merged", workers=1, quiet=True, shard=(i, 3))
    sweep.run_sweep(configs, tmp_path / "whole", workers=1, quiet=True)
    assert stored_keys(tmp_path / "merged") == stored_keys(tmp_path / "whole")
    assert sweep.parse_shard("2/3") == (2, 3)
    with pytest.raises(ValueError, match="shard=4/3 is out of range"):
        sweep.parse_shard("4/3")


def test_rerun_of_a_finished_sweep_skips_everything_fast(tmp_path):
    configs = tiny_grid()
    sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    start = time.perf_counter()
    report = sweep.run_sweep(configs, tmp_path, workers=2, quiet=True, train_fn=never_train)
    assert time.perf_counter() - start < 1.0
    assert report.skipped == 6 and not report.completed and not report.failed


def test_optimum_is_the_vertex_of_a_parabola_in_log2_lr():
    x = [-10, -9, -8, -7, -6, -5, -4, -3]
    losses = [0.3 * (v + 6.3) ** 2 + 1.5 for v in x]
    losses[-1] = math.nan  # a diverged run is ignored
    best = sweep.find_optimum([2.0**v for v in x], losses)
    assert best.log2_lr == pytest.approx(-6.3)
    assert best.lr == pytest.approx(2**-6.3)
    assert best.loss == pytest.approx(1.5)
    assert not best.at_edge


def test_optimum_on_the_boundary_says_at_the_edge_of_the_grid():
    x = [-10, -9, -8, -7]
    best = sweep.find_optimum([2.0**v for v in x], [3.0, 2.5, 2.2, 2.1])
    assert best.at_edge and best.lr == 2.0**-7
    assert "at the edge of the grid" in best.message and "higher" in best.message


def test_optimum_uncertainty_is_the_spread_over_seeds():
    x = [-9, -8, -7, -6, -5, -4]
    lrs, losses, seeds = [], [], []
    for seed, centre in ((0, -6.0), (1, -7.0), (2, -6.4)):
        lrs += [2.0**v for v in x]
        losses += [(v - centre) ** 2 + 2 for v in x]
        seeds += [seed] * len(x)
    best = sweep.find_optimum(lrs, losses, seeds)
    assert best.n_seeds == 3
    assert best.log2_lr == pytest.approx(statistics.mean([-6.0, -7.0, -6.4]))
    assert best.log2_lr_std == pytest.approx(statistics.stdev([-6.0, -7.0, -6.4]))


def test_single_seed_uncertainty_comes_from_a_bootstrap():
    x = [-9, -8, -7, -6, -5]
    noise = [0.02, -0.03, 0.01, 0.03, -0.02]
    best = sweep.find_optimum([2.0**v for v in x], [(v + 7) ** 2 / 4 + 2 + e for v, e in zip(x, noise)])
    assert 0 < best.log2_lr_std < 1


def test_tidy_rows_table_and_optima(tmp_path):
    configs = sweep.expand_grid(TINY, {"log2_lr": [-12, -9, -6, -3]})
    sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    rows = sweep.tidy_rows(sweep.load_records(tmp_path))
    assert {r["log2_lr"] for r in rows} == {-12, -9, -6, -3}
    assert all(r["r"] == 2 and "val_loss" in r and "loss_curve" not in r for r in rows)
    table = sweep.format_table(rows, ["lr", "val_loss", "diverged"])
    assert table.splitlines()[0].split() == ["lr", "val_loss", "diverged"]
    assert len(table.splitlines()) == 2 + len(rows)
    (best,) = sweep.optima(rows, by=("width",))
    assert best["width"] == 32 and (math.isfinite(best["log2_lr_star"]) or best["message"])
    assert sweep.optima(rows, by="width") == [best]  # one column may be given as a string


def write_config(tmp_path):
    lines = [f"{k} = {v}" for k, v in TINY.items()]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n[grid]\nlog2_lr = [-8, -6, -4]\nseed = [0, 1]\n")
    return path


def test_cli_dry_run_counts_runs_and_estimates_cost(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["sweep", "--config", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 runs: 0 already done") and "6 to run" in out and "estimated" in out
    assert main(["sweep", "--config", str(path), "--shard", "1/2", "--workers", "1",
                 "--quiet"]) == 0
    assert len(stored_keys(tmp_path / "tiny-results")) == 3
    capsys.readouterr()
    assert main(["sweep", "--config", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("6 runs: 3 already done")


def test_cli_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("widht = 32\n")
    assert main(["sweep", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown fixed field 'widht'" in err and len(err.strip().splitlines()) == 1

    good = write_config(tmp_path)
    main(["sweep", "--config", str(good), "--shard", "1/6", "--workers", "1", "--quiet"])
    (stored,) = (tmp_path / "tiny-results").glob("*.json")
    stored.write_text("{")
    capsys.readouterr()
    assert main(["sweep", "--config", str(good), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(stored) in err and "delete" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- per-role LR multipliers


def test_lr_multipliers_scale_only_their_roles_optimizer_groups():
    from gqa_mup_ref.train import build

    plain = build(RunConfig(**TINY))[1]
    scaled = build(RunConfig(**TINY, lr_multipliers={"key": 4, "value": 0.5}))[1]
    model = build(RunConfig(**TINY))[0]
    for a, b in zip(plain.param_groups, scaled.param_groups):
        assert a["role"] == b["role"]
        expected = {"key": 4.0, "value": 0.5}.get(a["role"], 1.0)
        # independent of the group code: base lr × the rule's factor (from the model) × multiplier
        assert b["lr"] == pytest.approx(2**-6 * model.rules.groups[a["role"]].lr_factor * expected)
        assert a["weight_decay"] == b["weight_decay"]


def test_lr_multipliers_are_canonical_hashable_and_validated():
    a = RunConfig(lr_multipliers={"value": 2, "key": 0.5})
    assert a.lr_multipliers == (("key", 0.5), ("value", 2.0))
    assert a == RunConfig(lr_multipliers=[("key", 0.5), ("value", 2.0)]) and hash(a) == hash(
        RunConfig(lr_multipliers=(("value", 2.0), ("key", 0.5))))
    assert RunConfig(lr_multipliers={"key": 1}) == RunConfig()  # a factor of 1 is no multiplier
    assert a.to_dict()["lr_multipliers"] == {"key": 0.5, "value": 2.0}
    assert "lr_multipliers" not in RunConfig().to_dict()  # as before the field existed
    assert RunConfig(**a.to_dict()) == a
    with pytest.raises(ValueError, match="unknown role 'keys'; roles are embedding, query, key"):
        RunConfig(lr_multipliers={"keys": 2})
    with pytest.raises(ValueError, match=r"lr_multipliers\['key'\]=-1 must be a finite number >= 0"):
        RunConfig(lr_multipliers={"key": -1})
    with pytest.raises(ValueError, match="must be a table of role = factor"):
        RunConfig(lr_multipliers="key=2")


def test_sweep_file_sets_multipliers_fixed_or_in_the_grid(tmp_path):
    lines = [f"{k} = {v}" for k, v in TINY.items()]
    path = tmp_path / "mult.toml"
    path.write_text("\n".join(lines) + "\nlr_multipliers = {value = 2}\n[grid]\n"
                    "lr_multipliers = [{key = 0.5}, {key = 2.0, value = 2.0}]\nseed = [0, 1]\n")
    configs, _ = sweep.load_sweep_config(path)
    assert [c.lr_multipliers for c in configs] == [(("key", 0.5),)] * 2 + [
        (("key", 2.0), ("value", 2.0))] * 2  # a grid value replaces the fixed table
    fixed_only = tmp_path / "fixed.toml"
    fixed_only.write_text("\n".join(lines) + "\nlr_multipliers = {value = 2}\n[grid]\nseed = [0]\n")
    (config,) = sweep.load_sweep_config(fixed_only)[0]
    assert config.lr_multipliers == (("value", 2.0),)
    report = sweep.run_sweep([config], tmp_path / "out", workers=1, quiet=True)
    (record,) = report.completed
    assert record["config"]["lr_multipliers"] == {"value": 2.0}
    assert sweep.load_records(tmp_path / "out")[0]["key"] == sweep.run_key(config)
    rows = sweep.tidy_rows(sweep.load_records(tmp_path / "out"))
    assert rows[0]["lr_multipliers"] == "value=2"
    assert sweep.tidy_rows([{"config": RunConfig().to_dict()}])[0]["lr_multipliers"] == "none"


# ----------------------------------------------------------------------------- errors name the culprit


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_bad_fixed_field_is_blamed_not_a_grid_point(tmp_path):
    path = write(tmp_path, "bad.toml", "n_head = 5\nn_kv_head = 4\nwidth = 40\n[grid]\nlog2_lr = [-8, -7]\n")
    with pytest.raises(ValueError) as error:
        sweep.load_sweep_config(path)
    message = str(error.value)
    assert str(path) in message and "fixed fields" in message and "grid point" not in message
    assert "n_head=5 is not divisible by n_kv_head=4" in message


def test_a_field_of_the_wrong_type_is_named(tmp_path):
    path = write(tmp_path, "steps.toml", 'steps = "many"\n[grid]\nseed = [0, 1]\n')
    with pytest.raises(ValueError, match="steps='many' must be an integer") as error:
        sweep.load_sweep_config(path)
    assert str(path) in str(error.value)
    path = write(tmp_path, "grid.toml", '[grid]\nsteps = [5, "many"]\n')
    with pytest.raises(ValueError, match=r"grid point \{'steps': 'many'\}.*steps='many' must be an "
                                         "integer"):
        sweep.load_sweep_config(path)


@pytest.mark.parametrize("name, text, where", [
    ("broken.toml", "width = 32\nsteps = = 5\n", "line 2"),
    ("broken.json", '{"width": 32,\n "steps": }\n', "line 2"),
])
def test_syntax_errors_name_the_file_and_line(tmp_path, name, text, where):
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError, match="syntax error") as error:
        sweep.load_sweep_config(path)
    assert str(path) in str(error.value) and where in str(error.value)


def test_device_is_checked_by_name():
    assert sweep.check_device("cpu") == "cpu" and sweep.resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="--device='gpu' is not a device; choose one of cpu, cuda, auto"):
        sweep.check_device("gpu")


# ----------------------------------------------------------------------------- the results folder


def test_files_that_are_not_records_are_ignored_everywhere(tmp_path):
    configs = tiny_grid(lrs=(-8,), seeds=(0,))
    (tmp_path / "notes.json").write_text('{"who": "me"}')
    (tmp_path / "README.md").write_text("# notes\n")
    assert sweep.ignored_files(tmp_path) == ["README.md", "notes.json"]
    sweep.run_sweep(configs, tmp_path, workers=1, quiet=True)
    assert [r["key"] for r in sweep.load_records(tmp_path)] == [sweep.run_key(configs[0])]
    assert sweep.estimate_cost(configs, tmp_path)["runs"] == 1


# ----------------------------------------------------------------------------- analysis


def test_analysis_functions_are_still_importable_from_sweep():
    from gqa_mup_ref import analysis

    for name in ("tidy_rows", "format_table", "find_optimum", "optima", "Optimum", "seed_summary",
                 "paired_differences"):
        assert getattr(sweep, name) is getattr(analysis, name)
        assert name in sweep.__all__


def test_storage_functions_are_still_importable_from_sweep():
    # Storing runs moved to gqa_mup_ref.runstore (tested in test_runstore.py); notebooks and
    # scripts call sweep.load_records, sweep.result_path, … .
    from gqa_mup_ref import runstore

    for name in ("FORMAT_VERSION", "ResultsError", "run_key", "result_path", "save_result", "load_record",
                 "load_records", "pending_runs", "ignored_files", "is_record_name"):
        assert getattr(sweep, name) is getattr(runstore, name)
        assert name in sweep.__all__ and name in runstore.__all__


def test_analysis_computes_and_draws_nothing():
    """Layers point one way: plots may import analysis, never the reverse (nor matplotlib)."""
    import subprocess
    import sys

    code = ("import sys, gqa_mup_ref.analysis; "
            "print('gqa_mup_ref.plots' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def rows_for(values):
    """Rows as tidy_rows makes them, for (kv_factor, lr, seed, val_loss) tuples."""
    base = RunConfig().to_dict()
    return [base | {"kv_factor": k, "lr": lr, "seed": s, "val_loss": v} for k, lr, s, v in values]


def test_seed_summary_is_mean_sd_sem_n_without_diverged_runs():
    from gqa_mup_ref.analysis import seed_summary

    rows = rows_for([("none", 0.01, 0, 2.0), ("none", 0.01, 1, 2.2), ("none", 0.01, 2, 2.4),
                     ("none", 0.02, 0, 1.9), ("none", 0.02, 1, math.nan)])
    a, b = seed_summary(rows, by="lr")
    assert a["lr"] == 0.01 and a["n"] == 3 and a["diverged"] == 0
    assert a["mean"] == pytest.approx(2.2) and a["sd"] == pytest.approx(0.2)
    assert a["sem"] == pytest.approx(0.2 / math.sqrt(3))
    assert b["n"] == 1 and b["diverged"] == 1 and math.isnan(b["sd"])


def test_paired_differences_pair_by_seed():
    from gqa_mup_ref.analysis import paired_differences

    # seed effects (+0, +0.5, +1.0) are shared; "gqa" is 0.1 worse at every seed
    values = []
    for seed, offset in enumerate((0.0, 0.5, 1.0)):
        values += [("none", 0.01, seed, 2 + offset), ("gqa", 0.01, seed, 2.1 + offset)]
    values.append(("gqa", 0.01, 3, 9.0))  # no same-seed partner: not a pair
    (d,) = paired_differences(rows_for(values), "kv_factor", "none", "gqa")
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.1) and d["sd"] == pytest.approx(0, abs=1e-12)
    assert d["kv_factor"] == "gqa - none"
    with pytest.raises(ValueError, match="no pairs"):
        paired_differences(rows_for(values), "kv_factor", "none", "sqrt-r")


@pytest.mark.cuda
def test_a_small_sweep_runs_on_the_device(tmp_path, device):
    configs = tiny_grid(lrs=(-8, -6), seeds=(0,))
    report = sweep.run_sweep(configs, tmp_path, workers=2, device=device, quiet=True)
    assert len(report.completed) == 2 and not report.failed
    assert {r["device"] for r in sweep.load_records(tmp_path)} == {device}


def test_a_stalled_run_is_flagged_collapsed_and_a_slow_or_diverged_one_is_not():
    import math as _math
    from pathlib import Path as _Path

    from gqa_mup_ref import runstore
    from gqa_mup_ref.analysis import is_collapsed, plateau_loss

    # steps 104 and 192 are inside [100, 200): their mean is 2.5, the protocol's threshold
    record = {"diverged": False, "loss_curve": [[0, 4.0], [96, 3.0], [104, 2.6], [192, 2.4], [200, 9.0]]}
    assert plateau_loss(record) == pytest.approx(2.5) and is_collapsed(record)
    assert not is_collapsed(record, threshold=2.6)
    assert not is_collapsed(record | {"diverged": True})
    assert _math.isnan(plateau_loss({"loss_curve": [[0, 4.0]]})) and not is_collapsed({"loss_curve": []})
    # the protocol's examples among the committed d = 32 runs: gqa, r = 8, 2^-6, seed 2 stalled at 2.56;
    # the r = 1 run at 2^-9 is slow (2.43), not collapsed
    wide = _Path(__file__).resolve().parents[1] / "results" / "ch05_wide"
    stalled = runstore.load_record(wide / "ebbf4c1a812d40d0.json")
    slow = runstore.load_record(wide / "1779fb0178f03e5b.json")
    assert is_collapsed(stalled) and 2.55 < plateau_loss(stalled) < 2.57
    assert not is_collapsed(slow) and plateau_loss(slow) < 2.45


def test_markdown_table_escapes_cells_and_right_aligns_numbers(capsys):
    from gqa_mup_ref import analysis

    rows = [{"name": "a_b*c", "x": 1.23456, "n": 3, "flag": False},
            {"name": "x|y", "x": float("nan"), "n": 4, "flag": True}]
    lines = analysis.markdown_table(rows, digits=3).splitlines()
    assert lines[0] == "| name | x | n | flag |"
    assert lines[1] == "|---|---:|---:|---|"  # booleans are not numbers
    assert lines[2] == "| a\\_b\\*c | 1.23 | 3 | no |" and lines[3] == "| x\\|y | nan | 4 | yes |"
    assert analysis.markdown_table([{"log2_lr_star": -6.5}]).splitlines()[0] == "| best log₂ LR |"
    assert analysis.markdown_table([]) == "(no rows)"
    intervals = [{"ci": "[-0.62, +0.17]", "p": "< 0.001", "word": "[see]"}, {"ci": "–", "p": "0.2", "word": "–"}]
    assert analysis.markdown_table(intervals).splitlines()[1] == "|---:|---:|---|"  # an interval is a number
    analysis.display_table(rows, digits=3)  # outside IPython: the plain-text table, printed
    assert capsys.readouterr().out.strip() == analysis.format_table(rows, digits=3).strip()


def test_markdown_table_passes_inline_math_through_and_escapes_the_rest():
    from gqa_mup_ref import analysis

    rows = [{"$W_Q$ random": "$2^{-6}$", "n_q": "costs $5", "norm": r"$|x|$ of a_b"}]
    header, _, row = analysis.markdown_table(rows).splitlines()
    assert header == "| $W_Q$ random | n\\_q | norm |"  # math as written, the rest escaped
    assert row == "| $2^{-6}$ | costs \\$5 | $\\|x\\|$ of a\\_b |"  # a lone $ escaped; | escaped in math too


def test_two_dollar_amounts_in_a_cell_are_not_math():
    """Pandoc's rule (analysis.INLINE_MATH): no space after the opening ``$`` or before the closing one, no digit
    after it; ``$5 and $10`` is text, escaped, while ``$x$`` and ``$2^{-6}$`` stay math."""
    from gqa_mup_ref import analysis

    row = analysis.markdown_table([{"a": "costs $5 and $10", "b": "$x$ at $2^{-6}$"}]).splitlines()[2]
    assert row == "| costs \\$5 and \\$10 | $x$ at $2^{-6}$ |"
    assert analysis.INLINE_MATH.split("$ a $") == ["$ a $"]
