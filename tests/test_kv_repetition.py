"""Chapter 2's instruments (gqa_mup_ref.kv_repetition) against independent computations."""

import math

import pytest
import torch

from gqa_mup_ref import kv_repetition as kv
from gqa_mup_ref.spectral import repeat_kv_rows


def test_repetition_matrix_builds_k_rep_and_is_sqrt_r_times_an_isometry():
    w = torch.randn(6, 10, dtype=torch.float64)
    p = kv.repetition_matrix(6, 3, head_dim=2)
    assert p.shape == (18, 6)
    torch.testing.assert_close(p @ w, repeat_kv_rows(w, 3, head_dim=2))
    torch.testing.assert_close(p.T @ p, 3 * torch.eye(6, dtype=torch.float64))


def test_sign_step_is_adams_first_step():
    g = torch.tensor([[2.0, -0.5], [0.0, 3.0]], dtype=torch.float64)
    step = kv.sign_step(g, lr=0.1)
    torch.testing.assert_close(step, torch.tensor([[-0.1, 0.1], [0.0, -0.1]], dtype=torch.float64),
                               atol=1e-8, rtol=1e-8)
    # The same as torch's Adam after one step from zero state (bias correction makes it m/√v).
    p = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=0.1, eps=1e-8)
    p.grad = g.clone()
    opt.step()
    torch.testing.assert_close(p.detach(), step, atol=1e-7, rtol=1e-6)


def test_norm_survey_matches_svd_and_bai_yin():
    records = kv.norm_survey(512, 16, [1, 4, 16])
    for rec in records:
        assert rec["kv_rows"] == 512 // rec["r"]
        assert rec["norm_rep"] == pytest.approx(math.sqrt(rec["r"]) * rec["norm_wk"], rel=1e-9)
        assert rec["predicted_rep"] == pytest.approx(1 + math.sqrt(rec["r"]))
        assert rec["norm_rep"] / rec["predicted_rep"] == pytest.approx(1, abs=0.04)
        assert rec["ratio"] == pytest.approx((1 + math.sqrt(rec["r"])) / 2, rel=0.05)
        assert rec["gain_rep"] / rec["gain_dense"] == pytest.approx(1, abs=0.03)
        assert rec["corrected_rep"] == pytest.approx(2, rel=0.05)


def test_norm_survey_rejects_r_that_does_not_divide_the_heads():
    with pytest.raises(ValueError, match=r"r=\[3\] do not divide n_head=16"):
        kv.norm_survey(256, 16, [1, 3])
    with pytest.raises(ValueError, match="n=100 is not divisible by n_head=16"):
        kv.norm_survey(100, 16, [1])


def test_corrected_norm_survey_flattens_the_law():
    records = kv.corrected_norm_survey([256], [1, 4, 16], n_head=16)
    for rec in records:
        assert rec["corrected"] == pytest.approx(rec["plain"] * 2 / (1 + math.sqrt(rec["r"])))
        assert rec["corrected"] == pytest.approx(1, abs=0.06)
    assert records[-1]["plain"] > 2.2  # (1 + √16)/2 = 2.5 without the correction


def test_block_repeated_matrix_grows_like_sqrt_tiles():
    rec = kv.block_repeated_norms(256, 4)
    # ‖A‖₂ = t‖B‖₂ ≈ t · 2σ√(n/t) = √t · 2σ√n, while c(4) = 1.5 only removes part of it.
    assert rec["plain"] == pytest.approx(math.sqrt(4), rel=0.06)
    assert rec["corrected"] == pytest.approx(rec["plain"] / 1.5)
    assert rec["corrected"] > 1.2


def test_rank_one_update_ratio_matches_two_over_one_plus_sqrt_r():
    n = 512
    for r in (1, 4, 16):
        mup, gqa = kv.rank_one_update_ratios(n, 16, r, ("none", "gqa"))
        # The update is rank one with entries ±η: ‖ΔW_K‖₂ = η n/√r exactly, ‖ΔK⊕‖₂ = η n.
        assert mup["update_wk"] == pytest.approx(n / math.sqrt(r), rel=1e-6)
        assert mup["update_rep"] == pytest.approx(n, rel=1e-6)
        assert mup["ratio"] == pytest.approx(2 / (1 + math.sqrt(r)), rel=0.05)
        assert gqa["ratio"] == pytest.approx(1, rel=0.05)
        assert gqa["ratio"] / mup["ratio"] == pytest.approx((1 + math.sqrt(r)) / 2)
    with pytest.raises(ValueError, match="unknown kv_factors"):
        kv.rank_one_update_ratios(n, 16, 2, ("bogus",))


def test_predicted_ratio_hand_values():
    assert kv.predicted_ratio("none", 1) == 1.0
    assert kv.predicted_ratio("none", 9) == pytest.approx(0.5)
    assert kv.predicted_ratio("gqa", 9) == pytest.approx(1.0)
    assert kv.predicted_ratio("alt", 4) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="unknown kv_factor='x'"):
        kv.predicted_ratio("x", 4)


def test_kv_factor_table_hand_values():
    table = {row["name"]: row["values"] for row in kv.kv_factor_table([1, 4, 9])}
    assert table["none"] == [1, 1, 1]
    assert table["gqa"] == pytest.approx([1, 1.5, 2])
    assert table["alt"] == pytest.approx([2, 3, 4])
    assert table["sqrt-r"] == pytest.approx([1, 2, 3])


def test_training_update_ratios_small_model():
    kwargs = dict(checkpoints=(1,), width=64, n_head=4, batch_size=4, context_length=16)
    mup = kv.training_update_ratios("mup", 4, **kwargs)
    gqa = kv.training_update_ratios("gqa-mup", 4, **kwargs)
    assert {(rec["block"], rec["kind"]) for rec in mup} == {(0, "key"), (0, "value"), (1, "key"), (1, "value")}
    assert all(rec["predicted"] == pytest.approx(2 / 3) for rec in mup)
    assert all(rec["predicted"] == 1 for rec in gqa)
    # Same init, same batch: Adam's first step is a sign step, so GQA-μP's keys move exactly
    # c(4) = 1.5 times further than μP's, and queries the same.
    for a, b in zip(mup, gqa):
        assert b["ratio"] / a["ratio"] == pytest.approx(1.5, rel=1e-4)


def test_normalized_ratios_divide_by_r1():
    records = [
        {"parameterization": "mup", "step": 1, "seed": 0, "block": 0, "kind": "key", "r": r, "ratio": v}
        for r, v in ((1, 0.8), (4, 0.4))
    ]
    assert kv.normalized_ratios(records) == {("mup", 1, 1): pytest.approx(1.0), ("mup", 1, 4): pytest.approx(0.5)}
    with pytest.raises(ValueError, match="r = 1"):
        kv.normalized_ratios(records[1:])


def test_kv_view_builds_a_widget():
    view = kv.kv_view(128, 4, n_head=16)
    assert len(view.children) == 2
    assert 'alt="Sorted singular values' in view.children[0].value and "(r = 4)" in view.children[0].value
    assert "GQA-μP" in view.children[1].value


def test_training_update_ratios_adjusted_prediction_uses_the_stable_ranks():
    recs = kv.training_update_ratios("mup", 2, checkpoints=(1,), width=64, n_head=4, batch_size=4, context_length=16)
    for rec in recs:
        expected = (2 / (1 + math.sqrt(2))) * math.sqrt(rec["stable_rank_query"] / rec["stable_rank"])
        assert rec["adjusted"] == pytest.approx(expected)


def test_head_dim_survey_against_the_general_formula():
    records = kv.head_dim_survey(512, 8, [32, 128], [1, 4])
    assert [(rec["n_q"], rec["r"]) for rec in records] == [(256, 1), (256, 4), (1024, 1), (1024, 4)]
    for rec in records:
        hand = (math.sqrt(rec["n_q"]) + math.sqrt(rec["r"] * 512)) / (math.sqrt(rec["n_q"]) + math.sqrt(512))
        assert rec["predicted"] == pytest.approx(hand)
        assert rec["ratio"] == pytest.approx(hand, rel=0.06)


def test_semi_orthogonal_init_gives_sqrt_r_exactly():
    m = kv.semi_orthogonal(32, 128, torch.Generator().manual_seed(0))
    torch.testing.assert_close(m @ m.T, torch.eye(32, dtype=torch.float64))
    tall = kv.semi_orthogonal(128, 32, torch.Generator().manual_seed(0))
    assert torch.linalg.svdvals(tall) == pytest.approx(torch.full((32,), 2.0, dtype=torch.float64))
    for r in (1, 4, 16):
        rec = kv.orthogonal_norm_ratio(256, 16, r)
        assert rec["ratio"] == pytest.approx(math.sqrt(r), rel=1e-9)
        assert rec["gain_ratio"] == pytest.approx(1, abs=0.06)
