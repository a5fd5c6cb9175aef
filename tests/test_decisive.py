"""The decisive experiment's estimator and tests (gqa_mup_ref.decisive), against independent computations."""

import math

import numpy as np
import pytest

from gqa_mup_ref import decisive
from gqa_mup_ref.decisive import Point
from gqa_mup_ref.kv_transfer import T_975

GRID = (-1.5, -1.0, -0.5, 0.0, 0.5, 0.94, 1.5)


def curve(vertex, curvature=0.05, base=1.7, grid=GRID, flags=None):
    """Points on an exact parabola; ``flags`` maps an x to 'collapsed' / 'diverged'."""
    flags = flags or {}
    out = []
    for x in grid:
        flag = flags.get(x)
        loss = math.inf if flag == "diverged" else base + curvature * (x - vertex) ** 2
        out.append(Point(x, loss, collapsed=flag == "collapsed", diverged=flag == "diverged"))
    return out


def test_the_primary_estimator_finds_a_parabolas_vertex_from_its_three_points_around_the_argmin():
    for vertex in (-0.8, -0.2, 0.3, 0.7):
        got = decisive.seed_optimum(curve(vertex))
        assert got["x"] == pytest.approx(vertex, abs=1e-9) and got["censored"] is None


def test_the_vertex_is_clipped_to_the_window_and_an_edge_argmin_is_censored():
    # a curve whose three-point vertex lies outside its window: the loss is not a parabola
    points = [Point(x, 1.7 + 0.05 * abs(x - 0.1) ** 0.5) for x in GRID]
    got = decisive.seed_optimum(points)
    assert -0.5 <= got["x"] <= 0.5
    low, high = decisive.seed_optimum(curve(-3.0)), decisive.seed_optimum(curve(3.0))
    assert (low["x"], low["censored"]) == (-1.5, "low") and (high["x"], high["censored"]) == (1.5, "high")


def test_a_diverged_neighbour_falls_back_to_the_grid_argmin_and_never_wins():
    got = decisive.seed_optimum(curve(0.3, flags={0.94: "diverged"}))  # argmin 0.5, right neighbour diverged
    assert got["x"] == 0.5 and "diverged" in got["how"]
    assert decisive.seed_optimum(curve(0.3, flags={0.5: "diverged"}))["x"] != 0.5


def test_sensitivity_estimators_argmin_no_collapsed_and_five_point():
    points = curve(0.2)
    assert decisive.seed_optimum(points, "argmin")["x"] == 0.0
    assert decisive.seed_optimum(points, "five-point")["x"] == pytest.approx(0.2, abs=1e-9)
    # a collapsed run that happens to have the lowest loss: C drops it, the primary keeps it
    low = [p if p.x != 0.94 else Point(0.94, 1.0, collapsed=True) for p in points]
    assert decisive.seed_optimum(low)["x"] == pytest.approx(0.94, abs=0.5)
    assert decisive.seed_optimum(low, "no-collapsed")["x"] == pytest.approx(0.2, abs=1e-9)
    with pytest.raises(ValueError, match="estimator"):
        decisive.seed_optimum(points, "median")


def test_a_seed_with_every_run_collapsed_or_diverged_is_refused():
    with pytest.raises(ValueError, match="collapsed"):
        decisive.seed_optimum([Point(x, 2.6, collapsed=True) for x in GRID])
    with pytest.raises(ValueError, match="usable"):
        decisive.seed_optimum([Point(x, math.inf, diverged=True) for x in GRID])


def test_shifts_are_same_seed_differences_and_skip_unpaired_seeds():
    curves = {(1, 0): curve(-0.4), (8, 0): curve(0.5), (1, 1): curve(0.0), (8, 1): curve(0.1), (1, 2): curve(0)}
    got = decisive.shifts(curves)
    assert sorted(got) == [0, 1]
    assert got[0]["s"] == pytest.approx(0.9) and got[1]["s"] == pytest.approx(0.1)


def test_the_t_test_matches_students_table_and_its_interval():
    # eight values whose t statistic against 0 is exactly the 97.5 % quantile with 7 df: p = 0.05
    base = np.array([-1.0, 1.0] * 4)
    sd = np.std(base, ddof=1)
    values = base + T_975[7] * sd / math.sqrt(8)
    got = decisive.t_test(values, 0.0)
    assert got["t"] == pytest.approx(T_975[7], rel=1e-9)
    assert got["p"] == pytest.approx(0.05, abs=2e-4)
    assert got["low"] == pytest.approx(0.0, abs=2e-3)
    with pytest.raises(ValueError, match="two"):
        decisive.t_test([1.0], 0.0)


def test_the_sign_flip_p_counts_sign_patterns():
    assert decisive.sign_flip_p([1.0, 1.0, 1.0], 0.0) == pytest.approx(2 / 8)
    # deviations 3, 1, 1: patterns with |sum| >= 5 are (+,+,+) and (-,-,-); >= 3: also flips of one 1
    assert decisive.sign_flip_p([3.0, 1.0, 1.0], 0.0) == pytest.approx(2 / 8)
    assert decisive.sign_flip_p([3.0, 1.0, -1.0], 0.0) == pytest.approx(6 / 8)
    assert decisive.sign_flip_p([0.5] * 8, 0.5) == 1.0


def test_power_and_mde_agree_with_a_simulation():
    rng = np.random.default_rng(0)
    n, sd, effect = 8, 1.0, 1.0
    crit = 2.364624  # t_0.975(7)
    samples = rng.normal(effect, sd, size=(40000, n))
    t = samples.mean(1) / (samples.std(1, ddof=1) / math.sqrt(n))
    assert decisive.power(n, effect, sd) == pytest.approx(np.mean(np.abs(t) > crit), abs=0.01)
    assert decisive.power(n, decisive.mde(n, 0.81), 0.81) == pytest.approx(0.8, abs=1e-6)
    # the protocol's committed limit: sd 0.81 is the largest with power 0.8 for the 0.937 gap at 8 seeds
    assert decisive.mde(8, 0.81) == pytest.approx(0.937, abs=0.01)
    assert decisive.power(8, 20.0, 0.25) == pytest.approx(1.0)  # far tail: no NaN


def test_the_decision_rule_picks_each_case():
    gqa = decisive.predictions()["gqa"]
    assert gqa == pytest.approx(math.log2((1 + math.sqrt(8)) / 2))
    spread = np.array([-0.2, 0.2, -0.1, 0.1, -0.15, 0.15, 0.0, 0.0])
    assert decisive.verdict(spread)["case"] == 1                      # at none's 0, tight
    assert decisive.verdict(spread + gqa)["case"] == 3                # at gqa's, tight
    assert decisive.verdict(spread * 12 + 0.4)["case"] == 6           # wide: not separated
    assert decisive.verdict(spread + 3.0)["case"] == 5                # beyond both
    wide = decisive.verdict(spread * 2.2 - 0.05)
    assert wide["case"] in (1, 2) and "excluded" in wide["summary"]
    assert set(wide["tests"]) == set(decisive.HYPOTHESES)


def test_the_analysis_refuses_incomplete_seeds_even_one_with_no_stored_run():
    curves = {(r, seed): curve(0.0) for r in (1, 8) for seed in range(3)}
    with pytest.raises(ValueError, match=r"seeds \[3\] are incomplete"):
        decisive.analyse(curves, missing={3: 14})
    assert decisive.analyse(curves, missing={})["seeds"] == [0, 1, 2]


def test_the_analysis_reports_each_estimator_censoring_and_machines():
    offsets = (-0.2, 0.1, 0.0, 0.15)
    curves = {}
    for seed, dx in enumerate(offsets):
        curves[1, seed] = curve(-0.5 + dx)
        curves[8, seed] = curve(-0.5 + dx + 0.1)
    curves[8, 3] = curve(-3.0)  # seed 3's r = 8 optimum lies below the grid: censored at its lowest point
    keyed = {k: [Point(p.x, p.loss, key=f"{k[0]}-{k[1]}-{p.x}") for p in pts] for k, pts in curves.items()}
    provenance = {p.key: {"isa": "AVX2" if p.x == 0.0 and k == (1, 0) else "AVX512"}
                  for k, pts in keyed.items() for p in pts}
    result = decisive.analyse(keyed, {}, provenance)
    assert set(result["estimators"]) == set(decisive.ESTIMATORS)
    primary = result["estimators"]["primary"]
    assert primary["censored_seeds"] == [3] and "verdict_without_censored" in primary
    assert [round(primary["per_seed"][s]["s"], 6) for s in range(3)] == [0.1, 0.1, 0.1]
    assert primary["per_seed"][3]["s"] == pytest.approx(-1.5 - (-0.35))
    assert result["windows_mixing_machines"] == {"r=1 seed=0": ["AVX2", "AVX512"]}
    assert result["collapsed"] == {} and result["diverged"] == 0
    assert result["estimator_dependent"] == []


def test_the_report_is_markdown_tables_and_the_protocols_sentence_with_its_details():
    offsets = (-0.2, 0.1, 0.0, 0.15, -0.1, 0.05, 0.2, -0.05)
    curves = {}
    for seed, dx in enumerate(offsets):
        curves[1, seed] = curve(-0.5 + dx)
        curves[8, seed] = curve(-0.5 + 2 * dx, flags={1.5: "collapsed"})
    result = decisive.analyse(curves, {})
    md = decisive.report_markdown(result)
    lines = md["tests"].splitlines()
    assert lines[0].startswith("| factor |") and len(lines) == 2 + len(decisive.HYPOTHESES) + 1
    assert "| `gqa` | +0.94 |" in md["tests"] and "(direct)" in lines[-1]
    assert len(md["sensitivity"].splitlines()) == 2 + len(decisive.ESTIMATORS)
    assert "seeds 0–7 (8)" in md["details"] and "collapsed runs: 8" in md["details"]
    assert md["verdict"].startswith("At d = 32, the best key+value multiplier moves from r = 1 to r = 8 by s̄ = ")
    assert "MDE" in md["verdict"] and "| r = 8, log₂ μ = +1.50 | 8 (0, 1, 2, 3, 4, 5, 6, 7) |" in md["collapsed"]
    assert md["machines"] == "every primary window was made on one instruction set" and md["extra"] == ""
    assert md["verdict"].endswith(f"({md['details']}).")
    case = result["estimators"]["primary"]["verdict"]["case"]
    assert case in (1, 2)  # the shifts sit near none's 0, far from gqa's +0.94


def test_the_no_collapsed_estimator_fits_the_nearest_healthy_runs_and_censors_only_at_the_grid_ends():
    # collapsed at 0.94 and 1.5, best healthy run at 0.5: not an edge of the grid, so no censoring; the
    # parabola goes through -0.5, 0 and 0.5 (the protocol's "three nearest non-collapsed points")
    points = curve(0.4, flags={0.94: "collapsed", 1.5: "collapsed"})
    points = [Point(p.x, p.loss + (1.0 if p.collapsed else 0.0), p.collapsed) for p in points]
    out = decisive.seed_optimum(points, "no-collapsed")
    assert out["censored"] is None and out["x"] == pytest.approx(0.4)
    edge = decisive.seed_optimum(curve(-3.0), "no-collapsed")
    assert edge["censored"] == "low" and edge["x"] == GRID[0]


def test_load_remade_puts_the_re_made_runs_in_place_of_the_originals(tmp_path):
    import json
    import shutil
    from pathlib import Path

    from gqa_mup_ref import decisive

    folder = tmp_path / "ch05_decisive"
    shutil.copytree(Path(__file__).resolve().parents[1] / "results" / "ch05_decisive", folder,
                    ignore=shutil.ignore_patterns("remade"))
    curves, _ = decisive.load_stage1(folder)
    point = curves[1, 0][0]
    record = json.loads((folder / f"{point.key}.json").read_text())
    record["val_loss"] = point.loss + 0.5  # a re-made run that came out different
    (folder / "remade").mkdir()
    (folder / "remade" / f"{point.key}.json").write_text(json.dumps(record))
    (folder / "remade" / "provenance.json").write_text(json.dumps({point.key: {"isa": "TEST"}}))
    remade, _, provenance = decisive.load_remade(folder)
    assert remade[1, 0][0].loss == pytest.approx(point.loss + 0.5)
    assert remade[1, 0][1:] == curves[1, 0][1:] and remade[8, 3] == curves[8, 3]
    assert provenance[point.key] == {"isa": "TEST"}
    (folder / "remade" / "provenance.json").write_text(json.dumps({"0" * 16: {"isa": "TEST"}}))
    with pytest.raises(ValueError, match="not a stored stage-1 run"):
        decisive.load_remade(folder)


def test_edge_curves_and_mixed_windows_read_each_curves_argmin():
    from gqa_mup_ref.decisive import Point, edge_curves, mixed_windows

    grid = [-1.0, -0.5, 0.0, 0.5, 1.0]
    def curve(best, keys):
        return [Point(x, 1.0 + (x - best) ** 2, key=k) for x, k in zip(grid, keys)]
    curves = {(1, 0): curve(-2.0, "abcde"), (1, 1): curve(0.0, "fghij"), (8, 0): curve(3.0, "klmno"),
              (8, 1): [Point(x, math.inf if x == 1.0 else 1.0 + x * x, diverged=x == 1.0, key=k)
                       for x, k in zip(grid, "pqrst")]}
    assert edge_curves(curves) == {"low": [(1, 0)], "high": [(8, 0)]}  # a diverged run is never the argmin
    assert edge_curves(curves, seeds=[1]) == {"low": [], "high": []}
    provenance = {k: {"isa": "AVX2" if k in "gh" else "AVX512"} for k in "abcdefghijklmnopqrst"}
    mixed = mixed_windows(curves, provenance)  # (1, 1)'s window is g, h, i: two machines
    assert list(mixed) == [(1, 1)] and [p.key for p in mixed[1, 1]] == ["g", "h", "i"]
