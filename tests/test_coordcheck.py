"""Coordinate checks: the rows, the norms they hold, flatness under μP vs blow-up under SP, the
predicted patterns in r against hand-computed ones and a measured family, and the equivalent forms."""

import math

import pytest
import sympy
import torch

from gqa_mup_ref import equivalent_forms as ef
from gqa_mup_ref.coordcheck import (KV_PANELS, coord_check, expected_patterns, fit_slope, flatness,
                                    kv_heads_view, pattern_label, predicted_pattern, predicted_slope,
                                    quantity_name, role_name)
from gqa_mup_ref.parameterization import r as R
from gqa_mup_ref.train import RunConfig, build

BASE = dict(width=32, base_width=32, depth=2, n_head=4, n_kv_head=2, batch_size=4,
            context_length=16, lr=2**-7)
HIDDEN = ("query", "key", "value", "attn_out", "mlp_in", "mlp_out", "block")
WIDTHS = [32, 64, 128]


@pytest.fixture(scope="module")
def over_width():
    rows = []
    for param in ("mup", "sp"):
        rows += coord_check(RunConfig(parameterization=param, **BASE), "width", WIDTHS, steps=3)
    return rows


def test_rows_cover_every_layer_and_step(over_width):
    rows = [r for r in over_width if r["parameterization"] == "mup" and r["width"] == 32]
    acts = {r["layer"] for r in rows if r["quantity"] == "act_rms"}
    expected = {"token_embedding", "position_embedding", "final_norm", "unembedding"}
    for i in range(2):
        expected |= {f"blocks.{i}"} | {f"blocks.{i}.attn.{n}" for n in ("query", "key", "value", "out", "logits")}
        expected |= {f"blocks.{i}.mlp.up", f"blocks.{i}.mlp.down"}
    assert acts == expected
    weights = {r["layer"] for r in rows if r["quantity"] == "w_norm"}
    assert {"blocks.0.attn.key⊕", "blocks.1.attn.value⊕", "unembedding"} <= weights
    for quantity, steps in (("act_rms", {0, 1, 2, 3}), ("w_norm", {0, 1, 2, 3}),
                            ("dact_rms", {1, 2, 3}), ("dw_norm", {1, 2, 3})):
        assert {r["step"] for r in rows if r["quantity"] == quantity} == steps


def test_initial_norms_match_an_svd_of_the_built_model(over_width):
    config = RunConfig(parameterization="mup", **BASE)
    model, _, _ = build(config)  # same seed: the same initial weights
    query = model.blocks[0].attn.query.weight.detach().double()
    key = model.blocks[0].attn.key.weight.detach().double()
    n = config.width

    def value(layer):
        (row,) = [r for r in over_width if r["parameterization"] == "mup" and r["width"] == n
                  and r["step"] == 0 and r["quantity"] == "w_norm" and r["layer"] == layer]
        return row["value"]

    assert value("blocks.0.attn.query") == pytest.approx(torch.linalg.svdvals(query)[0].item())
    # K⊕ repeats W_K's rows r times: ‖K⊕‖₂ = √r·‖W_K‖₂, and K⊕ is square.
    r = config.shape.r
    assert value("blocks.0.attn.key⊕") == pytest.approx(
        math.sqrt(r) * torch.linalg.svdvals(key)[0].item())


def _slopes(over_width, param, quantity, roles, step=3):
    summary = flatness([r for r in over_width if r["parameterization"] == param], group="role")
    return {s["role"]: s["slope"] for s in summary
            if s["quantity"] == quantity and s["step"] == step and s["role"] in roles}


def test_activations_are_flat_in_width_under_mup(over_width):
    slopes = _slopes(over_width, "mup", "act_rms", HIDDEN)
    assert len(slopes) == len(HIDDEN)
    assert max(abs(s) for s in slopes.values()) < 0.25  # measured ≤ 0.08
    updates = _slopes(over_width, "mup", "dact_rms", ("unembedding",))
    assert abs(updates["unembedding"]) < 0.25  # logits move by Θ(1) at every width


def test_updates_blow_up_with_width_under_sp(over_width):
    weights = _slopes(over_width, "sp", "dw_norm", HIDDEN[:-1])
    assert min(weights.values()) > 0.5  # ‖ΔW‖ grows ≈ linearly in width (measured ≥ 0.8)
    logits = _slopes(over_width, "sp", "dact_rms", ("unembedding",))
    assert logits["unembedding"] > 0.5  # measured ≈ 1.0


def test_varying_kv_heads_and_bad_input():
    rows = coord_check(RunConfig(**BASE | {"n_head": 4, "n_kv_head": 4}), "n_kv_head", [1, 4],
                       steps=1)
    assert {r["r"] for r in rows} == {1, 4}
    summary = flatness(rows)
    assert {s["n_points"] for s in summary} == {2}
    with pytest.raises(ValueError, match="vary='heads' is not a RunConfig field"):
        coord_check(RunConfig(**BASE), "heads", [1])
    with pytest.raises(ValueError, match="steps=0"):
        coord_check(RunConfig(**BASE), "width", [32], steps=0)


def test_rel_update_of_repeated_kv_falls_with_r_under_mup_but_not_gqa_mup():
    """The GQA-μP claim as a coordinate check: ‖ΔK⊕‖/‖K⊕‖ over W_Q's, from r = 1 to r = 16.

    Predicted change: ×2/(1+√16) = 0.4 under mup, ×1 under gqa-mup. Measured at width 256 after
    one step: keys 0.56 / 1.41, values 0.42 / 1.05 (a real first step overshoots at large r).
    """
    def change(param: str, kind: str) -> float:
        base = RunConfig(parameterization=param, width=256, base_width=256, n_head=16, n_kv_head=16,
                         depth=1, batch_size=8, context_length=32, lr=2**-5.5)
        rows = coord_check(base, "n_kv_head", [16, 1], steps=1)
        rel = {(row["x"], row["layer"]): row["value"] for row in rows
               if row["quantity"] == "rel_update" and row["step"] == 1}
        ratio = {x: rel[x, f"blocks.0.attn.{kind}⊕"] / rel[x, "blocks.0.attn.query"] for x in (16, 1)}
        return ratio[1] / ratio[16]

    for kind in ("key", "value"):
        assert change("mup", kind) < 0.7
        assert change("gqa-mup", kind) > 0.85


# ----------------------------------------------------------------------------- predictions in r


def _at(expr, r_value):
    return float(expr.subs(R, r_value))


@pytest.mark.parametrize("rule, quantity, role, by_hand", [
    # Δk/k ÷ Δq/q is the LR factor over the init scale.
    ("none", "own_change_vs_query", "key", lambda r: 1.0),
    ("gqa", "own_change_vs_query", "value", lambda r: (1 + math.sqrt(r)) / 2),
    ("alt", "own_change_vs_query", "key", lambda r: (1 + math.sqrt(r)) / 2),  # 2·c(r), normalised
    ("sqrt-r", "own_change_vs_query", "key", lambda r: math.sqrt(r)),
    ("early", "own_change_vs_query", "key", lambda r: (1 + math.sqrt(r)) / (2 * math.sqrt(r))),
    # ‖ΔK⊕‖/‖K⊕‖ ÷ hidden: LR factor over (norm excess × init scale).
    ("none", "rel_update_vs_query", "key⊕", lambda r: 2 / (1 + math.sqrt(r))),
    ("gqa", "rel_update_vs_query", "value⊕", lambda r: 1.0),
    ("sqrt-r", "rel_update_vs_query", "key⊕", lambda r: 2 * math.sqrt(r) / (1 + math.sqrt(r))),
    ("early", "rel_update_vs_query", "key⊕", lambda r: 1 / math.sqrt(r)),
    # ‖K⊕‖ over a dense matrix: (1+√r)/2 unless the init shrinks by 1/(1+√r).
    ("none", "norm_vs_query", "key⊕", lambda r: (1 + math.sqrt(r)) / 2),
    ("gqa", "norm_vs_query", "key⊕", lambda r: (1 + math.sqrt(r)) / 2),
    ("early", "norm_vs_query", "key⊕", lambda r: 1.0),
    # First-order loss share: LR factor / √r.
    ("none", "loss_share_vs_query", "key", lambda r: 1 / math.sqrt(r)),
    ("gqa", "loss_share_vs_query", "key", lambda r: (1 + math.sqrt(r)) / (2 * math.sqrt(r))),
    ("sqrt-r", "loss_share_vs_query", "value", lambda r: 1.0),
    # the early init shrinks k and v by s = 1/(1+√r), and with them ∇W_Q ∝ s², ∇W_K ∝ s.
    ("early", "loss_share_vs_query", "key", lambda r: (1 + math.sqrt(r)) / (2 * r)),
    ("early", "loss_share_vs_query", "value", lambda r: (1 + math.sqrt(r)) ** 2 / (4 * r)),
    # Activation sizes at init: flat under every LR rule.
    ("gqa", "act_rms", "key", lambda r: 1.0),
    ("sqrt-r", "act_rms", "attn_logits", lambda r: 1.0),
    ("early", "act_rms", "value", lambda r: 2 / (1 + math.sqrt(r))),
])
def test_predicted_patterns_match_hand_computed_ones(rule, quantity, role, by_hand):
    expr = predicted_pattern(rule, quantity, role)
    for r_value in (1, 2, 4, 9, 16):
        assert _at(expr, r_value) == pytest.approx(by_hand(r_value), rel=1e-12)


def test_predicted_slopes_and_labels():
    rs = [1, 2, 4, 8, 16]
    # Power laws: the fitted slope is the exponent.
    assert predicted_slope("none", "loss_share_vs_query", "key", rs) == pytest.approx(-0.5)
    assert predicted_slope("sqrt-r", "own_change_vs_query", "key", rs) == pytest.approx(0.5)
    # (1+√r)/2 is not a power law: compare with a least-squares fit done by hand.
    xs = [math.log(v) for v in rs]
    ys = [math.log((1 + math.sqrt(v)) / 2) for v in rs]
    mx, my = sum(xs) / 5, sum(ys) / 5
    by_hand = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    assert predicted_slope("gqa", "own_change_vs_query", "key", rs) == pytest.approx(by_hand)
    assert predicted_slope("none", "rel_update_vs_query", "key⊕", rs) == pytest.approx(-by_hand)
    assert pattern_label(predicted_pattern("gqa", "rel_update_vs_query", "key⊕")) == "flat"
    assert "√r" in pattern_label(predicted_pattern("none", "rel_update_vs_query", "key⊕"))
    # Head dim set on its own (ρ = n_q / n = 2): the norm excess is (√2 + √r)/(√2 + 1) / its r = 1 value.
    expr = predicted_pattern("none", "norm_vs_query", "key⊕", query_ratio=2)
    assert _at(expr, 4) == pytest.approx((math.sqrt(2) + 2) / (math.sqrt(2) + 1))
    table = expected_patterns(rules=("none", "gqa"), rs=rs)
    row = next(t for t in table if (t["rule"], t["quantity"], t["role"]) == ("gqa", "own_change_vs_query", "key"))
    assert row["factor"] == pytest.approx([(1 + math.sqrt(v)) / 2 for v in rs])
    with pytest.raises(ValueError, match="unknown key/value rule 'magic'"):
        predicted_pattern("magic", "act_rms", "key")
    # Any factor of KV_FACTORS is a rule with the hidden init: 1/√r moves keys by 1/√r per coordinate.
    assert _at(predicted_pattern("inv-sqrt-r", "own_change_vs_query", "key"), 16) == pytest.approx(0.25)
    assert _at(predicted_pattern("inv-sqrt-r", "act_rms", "key"), 16) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no prediction for quantity='w_norm'"):
        predicted_pattern("gqa", "w_norm", "key")


def test_labels_show_powers_as_superscripts_and_the_tables_names():
    # the early rule's value loss share: s²·(1+√r)²/… normalised, i.e. (√r + 1)²/(4r)
    assert pattern_label(predicted_pattern("early", "loss_share_vs_query", "value")) == "∝ (√r + 1)²/(4·r)"
    assert quantity_name("rel_update_vs_query", 1) == "relative update ÷ $W_Q$'s, step 1"
    assert quantity_name("act_rms", 0) == "RMS of the output, init" and quantity_name("w_norm", 3) == "‖W‖₂, step 3"
    assert quantity_name("unnamed") == "unnamed"
    assert role_name("key⊕") == "K⊕" and role_name("query") == "query"


def test_kv_heads_view_writes_its_math_as_html():
    rows = [{"n_head": 4, "variant": "none", "quantity": q, "role": role, "step": step, "r": r, "value": 1.0}
            for q, role, step, _ in KV_PANELS for r in (1, 4)]
    html = kv_heads_view(rows, 1, ["none"]).value
    assert "H<sub>kv</sub> = 1, r = 4" in html and "K<sub>⊕</sub> ÷ W<sub>Q</sub>" in html
    assert "$" not in html and "_" not in html


def test_fit_slope_recovers_a_power_law_and_refuses_bad_input():
    assert fit_slope([1, 2, 4, 8], [3 * x**0.7 for x in (1, 2, 4, 8)]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="positive finite"):
        fit_slope([1, 2], [1.0, 0.0])
    with pytest.raises(ValueError, match="two distinct"):
        fit_slope([2, 2], [1.0, 2.0])


@pytest.fixture(scope="module")
def over_r():
    """A tiny GQA family, r = 1 and 4 (8 query heads, width 64), one step, under mup and gqa-mup."""
    base = dict(width=64, base_width=64, depth=1, n_head=8, batch_size=8, context_length=32, lr=2**-8)
    rows = []
    for param in ("mup", "gqa-mup"):
        rows += coord_check(RunConfig(parameterization=param, n_kv_head=8, **base), "n_kv_head", [8, 2],
                            steps=1)
    return rows


def _kv_ratio(rows, param, quantity, layer, step):
    value = {row["r"]: row["value"] for row in rows
             if (row["parameterization"], row["quantity"], row["layer"], row["step"]) == (param, quantity, layer, step)}
    return value[4] / value[1]


def test_measured_patterns_on_a_tiny_model(over_r):
    c4 = (1 + math.sqrt(4)) / 2
    # Per-coordinate change of keys/values: flat under mup, × c(4) under gqa-mup (measured 1.0x / 1.5x).
    for kind in ("key", "value"):
        layer = f"blocks.0.attn.{kind}"
        assert _kv_ratio(over_r, "mup", "own_change_vs_query", layer, 1) == pytest.approx(1, rel=0.15)
        assert _kv_ratio(over_r, "gqa-mup", "own_change_vs_query", layer, 1) == pytest.approx(c4, rel=0.15)
    # ‖K⊕‖ over a dense W_Q at init: (1+√r)/2 times larger at r = 4 (a 64-wide Gaussian matrix: 10 %).
    assert _kv_ratio(over_r, "mup", "norm_vs_query", "blocks.0.attn.key⊕", 0) == pytest.approx(c4, rel=0.10)
    # Spectral relative update: gqa-mup above mup by exactly c(4) after one sign-like step (same batches).
    ratio = (_kv_ratio(over_r, "gqa-mup", "rel_update_vs_query", "blocks.0.attn.key⊕", 1)
             / _kv_ratio(over_r, "mup", "rel_update_vs_query", "blocks.0.attn.key⊕", 1))
    assert ratio == pytest.approx(c4, rel=0.02)
    # Activation sizes at initialisation do not depend on r (nor on the rule).
    for layer in ("blocks.0.attn.key", "blocks.0.attn.value", "blocks.0.attn.logits"):
        assert _kv_ratio(over_r, "gqa-mup", "act_rms", layer, 0) == pytest.approx(1, rel=0.15)


def test_zero_initialised_queries_warn_and_zero_the_first_key_step():
    def zero_queries(model):
        for block in model.blocks:
            block.attn.query.weight.zero_()

    with pytest.warns(RuntimeWarning, match="query weights are zero at initialisation"):
        rows = coord_check(RunConfig(**BASE), "width", [32], steps=1, prepare=zero_queries, label="zero-q")
    own = {row["layer"]: row["value"] for row in rows if row["quantity"] == "own_change" and row["step"] == 1}
    assert own["blocks.0.attn.key"] == 0.0  # ∂L/∂k ∝ q = 0: Adam does not move W_K at step 1
    assert {row["variant"] for row in rows} == {"zero-q"}


# ----------------------------------------------------------------------------- equivalent forms


EQUIV = dict(parameterization="gqa-mup", width=64, base_width=16, depth=1, n_head=8, n_kv_head=2,
             batch_size=4, context_length=16, lr=2**-6, weight_decay=0.1)


def test_single_lr_form_has_the_same_function_and_trajectory():
    model, _, corpus = build(RunConfig(**EQUIV))
    twin = ef.to_single_lr(model)
    key = model.blocks[0].attn.key
    factor = model.rules.groups["key"].lr_factor
    assert twin.blocks[0].attn.key.multiplier == pytest.approx(factor)  # (1+√4)/2 / 4
    assert factor == pytest.approx(1.5 / 4)
    x, _ = corpus.get_batch("train", 2, 16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model(x), twin(x), rtol=1e-5, atol=1e-6)
    assert torch.allclose(twin.blocks[0].attn.key.weight * factor, key.weight)
    exact = ef.compare_trajectories(RunConfig(**EQUIV), steps=6)
    assert exact["loss_gap"] < 1e-12 and exact["weight_gap"] < 1e-10


def test_global_eps_and_copied_decay_break_the_equivalence():
    exact = ef.compare_trajectories(RunConfig(**EQUIV), steps=6, eps=1e-5)
    glob = ef.compare_trajectories(RunConfig(**EQUIV), steps=6, eps=1e-5, eps_mode="global")
    table = ef.compare_trajectories(RunConfig(**EQUIV), steps=6, decay_mode="table")
    assert exact["weight_gap"] < 1e-10
    assert glob["weight_gap"] > 1e-4
    assert table["weight_gap"] > 1e-4
    with pytest.raises(ValueError, match="eps_mode='both'"):
        ef.single_lr_groups(ef.to_single_lr(build(RunConfig(**EQUIV))[0]), 0.01, eps_mode="both")


def test_shrink_kv_init_scales_keys_and_values_only():
    model, _, _ = build(RunConfig(**EQUIV))
    before = {name: w.detach().clone() for name, w in model.kv_weights()}
    query = model.blocks[0].attn.query.weight.detach().clone()
    ef.shrink_kv_init(model)
    for name, w in model.kv_weights():
        assert torch.allclose(w, before[name] / (1 + math.sqrt(4)))
    assert torch.equal(model.blocks[0].attn.query.weight, query)


def test_pattern_label_writes_integer_powers_as_superscripts_and_keeps_fractional_ones():
    import sympy

    r = sympy.Symbol("r", positive=True)
    assert pattern_label(r**-2) == "∝ r⁻²"
    assert pattern_label(r**sympy.Rational(3, 2)) == "∝ r^(3/2)"
    assert pattern_label(r**sympy.Rational(1, 4)) == "∝ r^(1/4)"
