"""Chapter 5's experiment definitions: the sweep files say what the issue asks, the GPU configuration
runs (a few steps, on CPU), and a stored run reproduces when it is re-run here."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gqa_mup_ref import sweep

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["results/ch05_small_mult/sweep.toml", "results/ch05_small_mult/sweep_roles.toml",
         "results/ch05_small_lr/sweep.toml"]


@pytest.mark.parametrize("name", SMALL)
def test_small_scale_sweeps_are_the_setting_where_kv_has_leverage(name):
    configs, settings = sweep.load_sweep_config(ROOT / name)
    assert settings["results"] == "."
    for config in configs:
        assert (config.width, config.depth, config.n_head, config.shape.head_dim) == (64, 2, 16, 4)
        assert (config.context_length, config.batch_size, config.steps) == (64, 32, 400)
        assert (config.warmup_fraction, config.schedule, config.grad_clip,
                config.weight_decay, config.data) == (0.1, "cosine", 1.0, 0.0, "pydoc")
        assert config.parameterization == "mup"
    assert {c.shape.r for c in configs} == {1, 4, 16}
    assert {c.seed for c in configs} == {0, 1, 2}


def test_multiplier_scans_cover_the_predictions_at_a_fixed_lr():
    configs = (sweep.load_sweep_config(ROOT / SMALL[0])[0]
               + sweep.load_sweep_config(ROOT / SMALL[1])[0])
    assert {c.lr for c in configs} == {2**-7} and {c.kv_factor for c in configs} == {"none"}
    scans = {tuple(sorted(dict(c.lr_multipliers))) for c in configs if c.lr_multipliers}
    assert scans == {("key",), ("value",), ("key", "value")}
    mus = {f for c in configs for _, f in c.lr_multipliers}
    # sqrt-r predicts log2 mu* = 2 at r = 16: inside the grid, with a point beyond it.
    assert min(mus) == 0.25 and max(mus) == 8.0
    # the first runs of the list (what the shards do first) are r = 1 and r = 16 of the key+value scan
    first = sweep.load_sweep_config(ROOT / SMALL[0])[0][:36]
    assert {c.shape.r for c in first} == {1, 16}


def test_lr_sweep_runs_r_one_once_and_every_factor_elsewhere():
    configs = sweep.load_sweep_config(ROOT / SMALL[2])[0]
    pairs = {(c.shape.r, c.kv_factor) for c in configs}
    assert pairs == {(1, "none")} | {(r, k) for r in (4, 16) for k in ("none", "gqa", "sqrt-r")}
    assert sorted({round(math.log2(c.lr)) for c in configs}) == [-10, -9, -8, -7, -6, -5]


def test_scan_at_the_r1_optimum_adds_frozen_kv_and_keeps_the_small_setting():
    configs, settings = sweep.load_sweep_config(ROOT / "results/ch05_small_mult_lr6/sweep.toml")
    reference = sweep.load_sweep_config(ROOT / SMALL[0])[0][0]
    for config in configs:
        assert config.lr == 2**-6 and config.kv_factor == "none"
        same = dataclasses.replace(config, lr=reference.lr, lr_multipliers=reference.lr_multipliers,
                                   n_kv_head=reference.n_kv_head, seed=reference.seed)
        assert same == reference  # only lr, the multipliers, r and the seed differ
    mus = sorted({dict(c.lr_multipliers).get("key", 1.0) for c in configs})
    assert mus == [0.0, 0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert {c.shape.r for c in configs} == {1, 4, 16} and {c.seed for c in configs} == {0, 1, 2}


def test_d32_sweep_runs_every_factor_at_r8_above_the_pilots_lr():
    configs, _ = sweep.load_sweep_config(ROOT / "results/ch05_wide/sweep.toml")
    pilot, _ = sweep.load_sweep_config(ROOT / "results/ch05_wide_pilot/sweep.toml")
    assert {(c.width, c.depth, c.n_head, c.shape.head_dim, c.base_width) for c in configs} == {
        (256, 2, 8, 32, 64)}
    assert {(c.shape.r, c.kv_factor) for c in configs} == {(1, "none")} | {
        (8, k) for k in ("none", "gqa", "sqrt-r")}
    assert sorted({round(math.log2(c.lr)) for c in configs}) == [-7, -6, -5, -4]
    assert 2**-7 in {c.lr for c in configs} and {c.lr for c in pilot} == {2**-7}
    assert {c.seed for c in configs} == {0, 1, 2}
    assert [c.seed for c in configs[:16]] == [0] * 16  # a partial sweep is whole seeds
    low, _ = sweep.load_sweep_config(ROOT / "results/ch05_wide/sweep_low.toml")
    assert {c.lr for c in low} == {2**-8} and {c.shape.r for c in low} == {8}
    assert {c.kv_factor for c in low} == {"none", "gqa", "sqrt-r"} and len(low) == 9
    reference = configs[0]
    for config in low:  # only the lr, r, factor and seed differ from the main grid
        assert dataclasses.replace(config, lr=reference.lr, n_kv_head=reference.n_kv_head,
                                   kv_factor=reference.kv_factor, seed=reference.seed) == reference


def test_gpu_sweep_is_the_lease_sized_design_and_runs_a_few_steps_on_cpu():
    from gqa_mup_ref.data import load_corpus
    from gqa_mup_ref.train import train

    configs, _ = sweep.load_sweep_config(ROOT / "results/ch05_gpu_r/sweep.toml")
    assert {c.shape.head_dim for c in configs} == {64} and {c.shape.r for c in configs} == {1, 8}
    assert len({c.seed for c in configs}) >= 6 and len({c.steps for c in configs}) == 2
    assert {c.kv_factor for c in configs if c.shape.r == 8} == {"inv-sqrt-r", "none", "gqa", "sqrt-r"}
    log2_lrs = sorted({math.log2(c.lr) for c in configs})
    assert set(np.diff(log2_lrs)) == {0.5} and log2_lrs[0] < -6 < log2_lrs[-1]
    assert [c.seed for c in configs] == sorted(c.seed for c in configs)  # seed outermost: whole seeds first
    longest = max(configs, key=lambda c: c.steps)
    corpus = load_corpus("stdlib")
    assert longest.steps * longest.batch_size * longest.context_length < len(corpus.train)
    small = dataclasses.replace(configs[7], steps=2, batch_size=2, eval_batches=1)
    result = train(small)
    assert not result.diverged and result.steps_done == 2
    assert abs(result.val_loss - math.log(corpus.vocab_size)) < 1.0  # near a uniform guess


def test_the_gpu_launcher_runs_parallel_shards_and_logs_the_lease(tmp_path):
    (tmp_path / "sweep.toml").write_text(
        'results = "."\nparameterization = "mup"\nwidth = 32\nbase_width = 32\ndepth = 1\nn_head = 2\n'
        'steps = 2\nbatch_size = 2\ncontext_length = 8\neval_batches = 1\ndata = "pydoc"\n'
        '[grid]\nseed = [0, 1]\nn_kv_head = [2, 1]\n')
    done = subprocess.run([sys.executable, str(ROOT / "scripts/ch05_gpu.py"), "--config",
                           str(tmp_path / "sweep.toml"), "--device", "cpu", "--parallel", "2",
                           "--minutes", "3"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads((tmp_path / "lease_log.json").read_text())
    assert log[-1]["stored_after"] == 4 and log[-1]["per_seed"] == {"0": [2, 2], "1": [2, 2]}
    assert log[-1]["exit_codes"] == [0, 0] and (tmp_path / "corpus.json").exists()


def _stored(folder):
    directory = ROOT / folder
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


# The stored runs of every results folder re-train in tests/test_reproduction.py (calm runs, measured tolerance).


DECISIVE = ROOT / "results/ch05_decisive"
DECISIVE_MU = [-1.5, -1, -0.5, 0, 0.5, 0.94, 1.5]


def _log2_mu(config):
    factors = dict(config.lr_multipliers)
    if not factors:
        return 0.0
    assert set(factors) == {"key", "value"} and factors["key"] == factors["value"]
    return round(math.log2(factors["key"]), 2)


def _like_d32(config, reference):
    """Everything but lr, the multipliers, r, seed and weight decay equals ch05_wide's d = 32 run."""
    return dataclasses.replace(config, lr=reference.lr, lr_multipliers=(), n_kv_head=reference.n_kv_head,
                               seed=reference.seed, weight_decay=reference.weight_decay) == reference


def test_decisive_sweeps_are_the_protocols_grid_at_the_d32_settings():
    assert (DECISIVE / "protocol.md").is_file() and (DECISIVE / "README.md").is_file()
    reference = sweep.load_sweep_config(ROOT / "results/ch05_wide/sweep.toml")[0][0]
    assert (reference.n_kv_head, reference.kv_factor) == (8, "none")
    stage0, settings = sweep.load_sweep_config(DECISIVE / "sweep_lr.toml")
    assert settings["results"] == "."
    assert all(_like_d32(c, reference) and not c.lr_multipliers and c.weight_decay == 0 for c in stage0)
    assert {c.shape.r for c in stage0} == {1} and {c.seed for c in stage0} == {0, 1, 2}
    assert sorted({math.log2(c.lr) for c in stage0}) == [-7, -6.5, -6, -5.5, -5, -4]
    main, settings = sweep.load_sweep_config(DECISIVE / "sweep.toml")
    assert settings["results"] == "." and len(main) == 7 * 2 * 8
    for config in main:
        assert _like_d32(config, reference) and config.weight_decay == 0 and config.lr == 2**-6
        assert config.kv_factor == "none" and config.parameterization == "mup"
    assert {c.shape.r for c in main} == {1, 8} and {c.seed for c in main} == set(range(8))
    assert sorted({_log2_mu(c) for c in main}) == DECISIVE_MU
    more = sweep.load_sweep_config(DECISIVE / "sweep_more_seeds.toml")[0]
    assert {c.seed for c in more} == set(range(8, 12)) and len(more) == 7 * 2 * 4
    assert {dataclasses.replace(c, seed=0) for c in more} == {dataclasses.replace(c, seed=0) for c in main}
    edge = sweep.load_sweep_config(DECISIVE / "sweep_edge.toml")[0]
    assert sorted({_log2_mu(c) for c in edge}) == [-2.5, -2] and {c.shape.r for c in edge} == {1, 8}
    assert all(_like_d32(c, reference) and c.lr == 2**-6 for c in edge)
    probe = sweep.load_sweep_config(DECISIVE / "sweep_probe.toml")[0]
    assert {c.weight_decay for c in probe} == {0.05} and {c.seed for c in probe} == {0, 1}  # amendment 7
    assert sorted({_log2_mu(c) for c in probe}) == [-1, 0, 0.94] and {c.shape.r for c in probe} == {1, 8}
    assert all(_like_d32(c, reference) and c.lr == 2**-6 for c in probe)


def test_decisive_sweep_runs_whole_seeds_first_and_reuses_identical_committed_runs():
    main = sweep.load_sweep_config(DECISIVE / "sweep.toml")[0]
    for seed in range(8):  # seeds outermost: any prefix of the list is whole seeds
        block = main[14 * seed:14 * (seed + 1)]
        assert {c.seed for c in block} == {seed} and len({(c.shape.r, _log2_mu(c)) for c in block}) == 14
    copied = set()  # the protocol's 15 copies: the same configurations (keys) and records as ch05_wide's
    for name in ("sweep_lr.toml", "sweep.toml"):
        for config in sweep.load_sweep_config(DECISIVE / name)[0]:
            copy = sweep.result_path(DECISIVE, config)
            original = sweep.result_path(ROOT / "results/ch05_wide", config)
            if copy.exists() and original.exists():
                assert sweep.load_record(copy) == sweep.load_record(original)
                copied.add(copy.name)
    assert len(copied) == 15
