"""Chapter 6's width-transfer reading against hand-counted runs, a two-point slope and hand-written clauses."""

import shutil
from pathlib import Path

import pytest

from gqa_mup_ref.config import RunConfig
from gqa_mup_ref.runstore import result_path
from gqa_mup_ref.width_transfer import GRIDS, complete_seeds, drift_clause, read_width_sweep

RESULTS = Path(__file__).resolve().parents[1] / "results" / "ch06_width_transfer"


def test_complete_seeds_drops_a_seed_with_a_hole_and_other_parameterizations():
    configs = [RunConfig(parameterization="sp", width=w, lr=lr, n_head=4, n_kv_head=1)
               for w in (64, 128) for lr in (2**-8, 2**-7)]
    grid = [(64, 2**-8), (64, 2**-7), (128, 2**-8), (128, 2**-7)]
    rows = ([{"parameterization": "sp", "seed": 0, "width": w, "lr": lr} for w, lr in grid]
            + [{"parameterization": "sp", "seed": 1, "width": w, "lr": lr} for w, lr in grid[:3]]
            + [{"parameterization": "sp", "seed": 2, "width": w, "lr": lr} for w, lr in reversed(grid)]
            + [{"parameterization": "mup", "seed": 3, "width": w, "lr": lr} for w, lr in grid])
    assert complete_seeds(configs, rows, "sp") == [0, 2]
    assert complete_seeds(configs, rows, "mup") == []  # the configs list no mup point


def test_committed_sweep_has_the_runs_its_files_list_and_each_shift_is_the_two_point_slope():
    sweep = read_width_sweep(RESULTS)
    # sp.toml and gqa-mup.toml: 3 widths x 5 lrs x 3 seeds; mup.toml: the same grid, seed 0 only
    assert len(sweep.configs) == len(sweep.stored) == 45 + 45 + 15
    assert sweep.seeds == {"sp": [0, 1, 2], "mup": [0], "gqa-mup": [0, 1, 2]}
    assert set(sweep.shifts) == set(GRIDS)
    for p, shift in sweep.shifts.items():
        star = {o["width"]: o["log2_lr_star"] for o in sweep.optima if o["parameterization"] == p}
        # widths 64, 128, 256 are equally spaced in log2 n: the least-squares slope is the end points'
        assert shift["shift"] == pytest.approx((star[256] - star[64]) / 2)
        assert shift["seeds"] == sweep.seeds[p] and shift["points"] == 3
    assert sweep.shifts["sp"]["shift"] < -0.5 < sweep.shifts["gqa-mup"]["shift"]  # SP's optimum moves down


def test_a_seed_cut_short_is_left_out_of_the_fits(tmp_path):
    folder = tmp_path / "ch06_width_transfer"
    shutil.copytree(RESULTS, folder)
    configs = read_width_sweep(folder).configs
    cut = next(c for c in configs if c.parameterization == "gqa-mup" and c.seed == 2)
    result_path(folder, cut).unlink()
    sweep = read_width_sweep(folder)
    assert len(sweep.stored) == 104 and sweep.seeds["gqa-mup"] == [0, 1]
    assert not any(r["parameterization"] == "gqa-mup" and r["seed"] == 2 for r in sweep.rows)
    assert sweep.shifts["gqa-mup"]["seeds"] == [0, 1]


def test_drift_clause_says_resolved_only_beyond_two_standard_errors():
    sp = {"shift": -0.95, "stderr": 0.03, "seeds": [0, 1, 2]}
    resolved = {"shift": 0.25, "stderr": 0.09, "seeds": [0, 1, 2]}
    assert drift_clause(resolved, sp) == (
        "a residual drift resolved from zero at 3 seeds (more than two standard errors), but 4 times"
        " smaller than SP's")  # 0.95 / 0.25 = 3.8
    assert drift_clause({"shift": -0.2, "stderr": 0.1, "seeds": [0]}, sp) == "within two standard errors of zero"
    assert drift_clause({"shift": 0.1, "stderr": 0.09, "seeds": [0]}, sp) == "within two standard errors of zero"
