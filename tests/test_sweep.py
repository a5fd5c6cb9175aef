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
