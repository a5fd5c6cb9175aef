"""A model family whose r grows with width: exponents, finite-grid predictions, the experiment's estimator,
and the pre-registered sweep files (results/ch06_family) against their protocol."""

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from gqa_mup_ref import family, sweep
from gqa_mup_ref.decisive import Point
from gqa_mup_ref.train import train

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "results" / "ch06_family"
HALF = sympy.Rational(1, 2)


def test_exponents_in_m_match_a_hand_computation():
    # r = r0·m. LR factor f(r)/m; keys' change ∝ f; spectral ∝ f/c with c ~ √r/2; loss share ∝ f/√r.
    hand = {  # factor: (kv_lr, key change, coordinate, spectral, loss)
        "inv-sqrt-r": (-3 * HALF, -HALF, -HALF, -1, -1),
        "none": (-1, 0, 0, -HALF, -HALF),
        "gqa": (-HALF, HALF, HALF, 0, 0),
        "sqrt-r": (-HALF, HALF, HALF, 0, 0),
    }
    for row in family.exponent_table():
        assert (row["kv_lr"], row["key_change"], row["coordinate"], row["spectral"], row["loss"]) == \
            hand[row["factor"]], row


def test_each_invariant_picks_its_factors_along_the_family():
    assert family.picks() == {"coordinate": ["none"], "spectral": ["gqa", "sqrt-r"], "loss": ["gqa", "sqrt-r"]}


def test_gqa_and_sqrt_r_differ_by_a_factor_tending_to_two():
    ratio = {r: math.sqrt(r) / ((1 + math.sqrt(r)) / 2) for r in (4, 16, 10**8)}
    assert ratio[4] == pytest.approx(4 / 3) and ratio[16] == pytest.approx(1.6)
    assert ratio[10**8] == pytest.approx(2, rel=1e-3)
    # the family's expressions for the keys' change under the two factors have the same ratio
    gqa = family.expression("gqa", "own_change", "key", r0=4)
    sqrt_r = family.expression("sqrt-r", "own_change", "key", r0=4)
    m = sympy.Symbol("m", positive=True)
    assert sympy.limit(sqrt_r / gqa, m, sympy.oo) == 2


def test_finite_grid_slope_is_the_least_squares_slope_of_c_over_the_widths():
    widths = [64, 128, 256, 512]
    rs = [w // 16 for w in widths]  # one key/value head of dimension 16
    c = [(1 + math.sqrt(r)) / 2 for r in rs]
    by_hand = np.polyfit(np.log(widths), np.log(c), 1)[0]
    assert family.predicted_slope("gqa", "own_change", "key", widths, 64) == pytest.approx(by_hand)
    assert family.predicted_slope("gqa", "rel_update_vs_query", "key⊕", widths, 64) == pytest.approx(0, abs=1e-12)
    assert family.predicted_slope("none", "rel_update_vs_query", "key⊕", widths, 64) == pytest.approx(-by_hand)
    # with d fixed, the attention logits at init are flat; the output logits fall like 1/√n
    assert family.predicted_slope("none", "act_rms", "attn_logits", widths, 64) == pytest.approx(0, abs=1e-12)
    assert family.predicted_slope("none", "act_rms", "unembedding", widths, 64) == pytest.approx(-0.5)


def test_predicted_multiplier_slopes_over_the_experiment_widths():
    widths = (64, 128, 256)  # r = 4, 8, 16: the least-squares slope is (y(256) - y(64)) / 2
    assert family.predicted_multiplier_slope("gqa", widths) == pytest.approx((math.log2(2.5) - math.log2(1.5)) / 2)
    assert family.predicted_multiplier_slope("none", widths) == pytest.approx(0, abs=1e-12)
    assert family.predicted_multiplier_slope("sqrt-r", widths) == pytest.approx(0.5)
    assert family.predicted_multiplier_slope("inv-sqrt-r", widths) == pytest.approx(-0.5)


def test_family_shapes_add_heads_and_refuse_widths_that_do_not_divide():
    assert family.family_shapes([64, 256], head_dim=16, n_kv_head=1) == [
        {"width": 64, "n_head": 4, "n_kv_head": 1}, {"width": 256, "n_head": 16, "n_kv_head": 1}]
    with pytest.raises(ValueError, match="width=40 is not a multiple of head_dim·n_kv_head = 32"):
        family.family_shapes([40], head_dim=16, n_kv_head=2)
    with pytest.raises(ValueError, match="no family prediction"):
        family.expression("none", "act_rms", "mlp_out")


def test_slopes_per_seed_recovers_the_slope_of_known_optima():
    def parabola(vertex):
        return [Point(x, 2.0 + 0.1 * (x - vertex) ** 2) for x in np.arange(-1.5, 1.51, 0.5)]

    # seed 0: optimum -0.3 at n = 64 (r = 4), +0.5 at n = 256 (r = 16): slope 0.4 per doubling
    curves = {(4, 0): parabola(-0.3), (16, 0): parabola(0.5),
              (4, 1): parabola(0.2), (16, 1): parabola(0.2),
              (4, 2): parabola(0.0)}  # seed 2 lacks width 256: left out
    out = family.slopes_per_seed(curves, {4: 64, 16: 256})
    assert set(out) == {0, 1}
    assert out[0]["slope"] == pytest.approx(0.4) and out[1]["slope"] == pytest.approx(0.0, abs=1e-12)
    assert out[0]["censored"] == 0


# ----------------------------------------------------------------------------- the pre-registered experiment

MUS = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5]


def _configs(name):
    configs, settings = sweep.load_sweep_config(FOLDER / name)
    assert settings["results"] == "."
    return configs


def _stage0_rule(stage0):
    """Median over seeds of each seed's grid argmin of validation loss (log₂ η), from the stored runs."""
    import statistics

    from gqa_mup_ref import runstore

    best = {}
    for config in stage0:
        record = json.loads(runstore.result_path(FOLDER, config).read_text())
        if not record["diverged"] and record["val_loss"] < best.get(config.seed, (math.inf,))[0]:
            best[config.seed] = (record["val_loss"], math.log2(config.lr))
    assert sorted(best) == [0, 1, 2]
    return statistics.median(x for _, x in best.values())


def _log2_mu(config):
    mult = dict(config.lr_multipliers)
    assert set(mult) <= {"key", "value"} and mult.get("key", 1.0) == mult.get("value", 1.0)
    return round(math.log2(mult.get("key", 1.0)), 6)


@pytest.mark.parametrize("name", ["sweep_lr.toml", "sweep.toml", "sweep_more_seeds.toml",
                                  "sweep_edge_low.toml", "sweep_edge_high.toml"])
def test_every_family_sweep_is_the_protocol_setting(name):
    for c in _configs(name):
        assert (c.parameterization, c.kv_factor, c.base_width, c.depth, c.n_kv_head, c.shape.head_dim) == \
            ("mup", "none", 64, 2, 1, 16)
        assert c.n_head == c.width // 16
        assert (c.steps, c.batch_size, c.context_length, c.warmup_fraction, c.schedule, c.grad_clip,
                c.weight_decay, c.data) == (400, 32, 64, 0.1, "cosine", 1.0, 0.0, "pydoc")


def test_family_sweeps_say_what_the_protocol_says():
    protocol = (FOLDER / "protocol.md").read_text(encoding="utf-8")
    stage0 = _configs("sweep_lr.toml")
    assert {c.width for c in stage0} == {64} and not any(c.lr_multipliers for c in stage0)
    assert sorted({math.log2(c.lr) for c in stage0}) == [-8.5, -8, -7.5, -7, -6.5, -6, -5.5]
    assert {c.seed for c in stage0} == {0, 1, 2}
    stage1 = _configs("sweep.toml")
    assert {(c.width, c.shape.r) for c in stage1} == {(64, 4), (256, 16)}  # two widths, r = n/16
    assert sorted({_log2_mu(c) for c in stage1}) == MUS
    assert [c.seed for c in stage1] == sorted(c.seed for c in stage1)  # seed outermost
    assert {c.seed for c in stage1} == set(range(10)) and "seeds 0–9" in protocol
    assert len(stage1) == 140 and "the first 70 runs of `sweep.toml`" in protocol
    assert {c.seed for c in stage1[:70]} == set(range(5))
    more = _configs("sweep_more_seeds.toml")
    assert {c.seed for c in more} == {10, 11} and "seeds 10–11" in protocol
    assert sorted({_log2_mu(c) for c in more}) == MUS
    assert sorted({_log2_mu(c) for c in _configs("sweep_edge_low.toml")}) == [-2.5, -2]
    assert sorted({_log2_mu(c) for c in _configs("sweep_edge_high.toml")}) == [2, 2.5]
    # one global LR everywhere in stage 1 and its extensions: stage 0's rule applied to its stored runs (the
    # median of the per-seed grid argmins; protocol.md, amendment 1)
    lrs = {c.lr for name in ("sweep.toml", "sweep_more_seeds.toml", "sweep_edge_low.toml",
                             "sweep_edge_high.toml") for c in _configs(name)}
    assert lrs == {2 ** _stage0_rule(stage0)} and "If it is 2⁻⁷" in protocol
    # the predictions and the seed-rule threshold in the protocol are the package's and the power script's
    for factor in family.FACTORS:
        value = family.predicted_multiplier_slope(factor, (64, 128, 256))
        assert f"| {value:+.3f}".replace("+0.000", "0").replace("-", "−") in protocol, factor
    power = json.loads((FOLDER / "power.json").read_text())
    limit = power["largest_sd"]["10"]
    assert f"**{limit:.3f} with 10 seeds" in protocol
    assert re.search(r"exceeds \*\*0\.370\*\*", protocol)


def test_a_family_configuration_trains_two_steps():
    stage1 = _configs("sweep.toml")
    widest = max(stage1, key=lambda c: (c.width, _log2_mu(c)))  # width 256, mu = 2^1.5
    result = train(dataclasses.replace(widest, steps=2, batch_size=2, eval_batches=1))
    assert not result.diverged and result.steps_done == 2 and math.isfinite(result.val_loss)


def test_the_family_analysis_tests_slopes_per_doubling_against_each_factors_prediction():
    assert family.experiment_repetitions() == {64: 4, 256: 16}  # one key/value head of dimension 16
    grid = MUS
    shift = 0.6  # x*(256) - x*(64): a slope of 0.3 octave per doubling of width
    curves = {}
    for seed, noise in enumerate((-0.1, 0.05, 0.0, 0.1, -0.05)):
        for r, centre in ((4, -0.2), (16, -0.2 + shift + noise)):
            curves[r, seed] = [Point(x, 1.8 + 0.05 * (x - centre) ** 2) for x in grid]
    result = family.analyse_experiment(curves, {})
    per_seed = result["estimators"]["primary"]["per_seed"]
    assert [round(v["s"], 6) for v in per_seed.values()] == [round((shift + n) / 2, 6)
                                                             for n in (-0.1, 0.05, 0.0, 0.1, -0.05)]
    tests = result["estimators"]["primary"]["verdict"]["tests"]
    assert tests["gqa"]["prediction"] == pytest.approx(math.log2((1 + 4) / (1 + 2)) / 2)  # c(16)/c(4), per doubling
    assert tests["none"]["prediction"] == 0 and tests["sqrt-r"]["prediction"] == pytest.approx(0.5)
    assert result["estimators"]["primary"]["verdict"]["direct"]["null"] == pytest.approx(tests["gqa"]["prediction"] / 2)
    assert "per doubling of width" in result["estimators"]["primary"]["verdict"]["summary"]
    with pytest.raises(ValueError, match="incomplete"):
        family.analyse_experiment(curves, {5: 14})


def test_experiment_verdict_is_the_analysis_verdict_for_the_same_slopes():
    grid = MUS
    curves = {}
    for seed, shift in enumerate((0.1, 0.5, 0.3, 0.8, 0.2)):
        for r, centre in ((4, 0.0), (16, shift)):
            curves[r, seed] = [Point(x, 1.8 + 0.05 * (x - centre) ** 2) for x in grid]
    result = family.analyse_experiment(curves, {})
    primary = result["estimators"]["primary"]
    slopes = [v["s"] for v in primary["per_seed"].values()]
    assert family.experiment_verdict(slopes) == primary["verdict"]


def test_the_report_calls_twelve_noisy_seeds_underpowered_at_the_family_protocols_limit():
    from gqa_mup_ref import decisive

    curves = {}
    for seed in range(12):
        shift = (-1) ** seed * 0.5 * (1 + seed % 3)  # slopes spread well beyond sd 0.415
        for r, centre in ((4, 0.0), (16, shift)):
            curves[r, seed] = [Point(x, 1.8 + 0.05 * (x - centre) ** 2) for x in MUS]
    result = family.analyse_experiment(curves, {})
    assert result["estimators"]["primary"]["verdict"]["tests"]["none"]["sd"] > family.EXPERIMENT_UNDERPOWERED_SD
    assert "underpowered" in decisive.report_markdown(result, family.EXPERIMENT_UNDERPOWERED_SD)["extra"]
    assert "underpowered" not in decisive.report_markdown(result)["extra"]  # chapter 5's limit, 1.05, is higher
