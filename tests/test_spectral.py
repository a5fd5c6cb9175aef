"""gqa_mup_ref.spectral against independent computations: SVDs, hand values, PyTorch's GQA attention."""

import math

import pytest
import sympy
import torch
import torch.nn.functional as F

from gqa_mup_ref import spectral


def test_spectral_norm_is_the_largest_singular_value():
    a = torch.randn(7, 5, dtype=torch.float64)
    assert spectral.spectral_norm(a) == pytest.approx(float(torch.linalg.svdvals(a)[0]))
    assert spectral.spectral_norm(torch.diag(torch.tensor([3.0, -4.0, 1.0]))) == pytest.approx(4.0)


def test_natural_spectral_norm_hand_value():
    # A 4 × 16 matrix with spectral norm 2: natural norm 2 · √(16/4) = 4.
    a = torch.zeros(4, 16)
    a[0, 0] = 2.0
    assert spectral.natural_spectral_norm(a) == pytest.approx(4.0)


def test_random_spectral_norm_formula_and_errors():
    assert spectral.random_spectral_norm(16, 9, 0.5) == pytest.approx(0.5 * (4 + 3))
    a = torch.randn(1024, 256, dtype=torch.float64) * 0.1
    assert spectral.spectral_norm(a) == pytest.approx(spectral.random_spectral_norm(1024, 256, 0.1), rel=0.03)
    with pytest.raises(ValueError, match="n_out=0"):
        spectral.random_spectral_norm(0, 4, 1.0)
    with pytest.raises(ValueError, match="std=-1"):
        spectral.random_spectral_norm(4, 4, -1.0)


def test_repeat_kv_rows_hand_example():
    # Two KV heads of head dim 1, repeated r = 2 times: head h reads KV head h // 2.
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expected = torch.tensor([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [3.0, 4.0]])
    assert torch.equal(spectral.repeat_kv_rows(w, 2, head_dim=1), expected)
    # Head dim 2: the whole 2-row head block is repeated, not each row.
    w = torch.arange(8.0).reshape(4, 2)
    out = spectral.repeat_kv_rows(w, 2, head_dim=2)
    assert torch.equal(out, torch.cat([w[:2], w[:2], w[2:], w[2:]]))


def test_repeat_kv_rows_r1_is_identity_and_norm_scales_by_sqrt_r():
    w = torch.randn(12, 20, dtype=torch.float64)
    assert torch.equal(spectral.repeat_kv_rows(w, 1, head_dim=4), w)
    for r in (2, 3, 5):
        rep = spectral.repeat_kv_rows(w, r, head_dim=4)
        assert rep.shape == (12 * r, 20)
        assert int(torch.linalg.matrix_rank(rep)) == 12
        s_w, s_rep = torch.linalg.svdvals(w), torch.linalg.svdvals(rep)
        torch.testing.assert_close(s_rep[:12], math.sqrt(r) * s_w)


@pytest.mark.parametrize("n_head,n_kv_head", [(8, 8), (8, 2), (8, 1), (6, 3)])
def test_repetition_order_matches_scaled_dot_product_attention_enable_gqa(n_head, n_kv_head):
    """Attention with keys/values computed by the repeated operator K⊕ = enable_gqa attention."""
    width, head_dim, T = n_head * 4, 4, 5
    r = n_head // n_kv_head
    x = torch.randn(1, T, width, dtype=torch.float64)
    w_q = torch.randn(width, width, dtype=torch.float64)
    w_k = torch.randn(n_kv_head * head_dim, width, dtype=torch.float64)
    w_v = torch.randn(n_kv_head * head_dim, width, dtype=torch.float64)

    def heads(y, h):
        return y.view(1, T, h, head_dim).transpose(1, 2)

    q = heads(x @ w_q.T, n_head)
    grouped = F.scaled_dot_product_attention(
        q, heads(x @ w_k.T, n_kv_head), heads(x @ w_v.T, n_kv_head), is_causal=True, enable_gqa=True
    )
    k_rep = spectral.repeat_kv_rows(w_k, r, head_dim)
    v_rep = spectral.repeat_kv_rows(w_v, r, head_dim)
    explicit = F.scaled_dot_product_attention(
        q, heads(x @ k_rep.T, n_head), heads(x @ v_rep.T, n_head), is_causal=True
    )
    torch.testing.assert_close(explicit, grouped)


def test_repeat_kv_rows_errors_name_the_fix():
    w = torch.randn(6, 4)
    with pytest.raises(ValueError, match="r=0"):
        spectral.repeat_kv_rows(w, 0, head_dim=2)
    with pytest.raises(ValueError, match="r=2.0"):
        spectral.repeat_kv_rows(w, 2.0, head_dim=2)
    with pytest.raises(ValueError, match="head_dim=4"):
        spectral.repeat_kv_rows(w, 2, head_dim=4)
    with pytest.raises(ValueError, match="2-D tensor"):
        spectral.repeat_kv_rows(torch.randn(6), 2, head_dim=2)


def test_rank_correction_hand_values_numbers_and_symbols():
    assert spectral.rank_correction(1) == 1.0
    assert spectral.rank_correction(4) == pytest.approx(1.5)
    assert spectral.rank_correction(9) == pytest.approx(2.0)
    r = sympy.Symbol("r", positive=True)
    assert sympy.simplify(spectral.rank_correction(r) - (1 + sympy.sqrt(r)) / 2) == 0
    with pytest.raises(ValueError, match="r=0.5"):
        spectral.rank_correction(0.5)


def test_corrected_norm_with_r_1_is_the_spectral_norm_even_for_a_rank_one_update():
    # The old rank-based definition divided a rank-one 256 × 256 update by c(256) = 8.5.
    update = torch.outer(torch.randn(256, dtype=torch.float64), torch.randn(256, dtype=torch.float64))
    top = float(torch.linalg.svdvals(update)[0])
    assert spectral.corrected_spectral_norm(update, 1) == pytest.approx(top)
    a = torch.randn(9, 7, dtype=torch.float64)
    assert spectral.corrected_spectral_norm(a, 1) == pytest.approx(float(torch.linalg.svdvals(a)[0]))


def test_corrected_norm_is_the_repeated_operators_norm_over_the_structures_constant():
    n, r, d = 64, 4, 4
    w = torch.randn(n // r, n, dtype=torch.float64)
    rep = spectral.repeat_kv_rows(w, r, head_dim=d)  # the operator, 64 × 64; ρ = 1, c = 1.5
    top = float(torch.linalg.svdvals(rep)[0])
    assert spectral.corrected_spectral_norm(w, r) == pytest.approx(top / 1.5)
    # The same constant for the update, whatever its rank.
    dw = torch.outer(torch.randn(n // r, dtype=torch.float64), torch.randn(n, dtype=torch.float64))
    top_update = float(torch.linalg.svdvals(spectral.repeat_kv_rows(dw, r, head_dim=d))[0])
    assert spectral.corrected_spectral_norm(dw, r) == pytest.approx(top_update / 1.5)


def test_corrected_norm_uses_the_general_factor_when_head_dim_is_set_on_its_own():
    # n = 64, H = 8 heads of d = 16: n_q = 128, ρ = 2; r = 4 gives 32 stored rows.
    n, r, d = 64, 4, 16
    w = torch.randn(128 // r, n, dtype=torch.float64)
    top = float(torch.linalg.svdvals(spectral.repeat_kv_rows(w, r, head_dim=d))[0])
    c = (math.sqrt(128) + math.sqrt(r * n)) / (math.sqrt(128) + math.sqrt(n))  # hand formula
    assert spectral.corrected_spectral_norm(w, r) == pytest.approx(top / c)


def test_corrected_norm_restores_the_dense_law_for_repeated_gaussians():
    n, r = 512, 8
    w = torch.randn(n // r, n, dtype=torch.float64) / math.sqrt(n)
    rep = spectral.repeat_kv_rows(w, r, head_dim=8)
    assert spectral.spectral_norm(rep) == pytest.approx(1 + math.sqrt(r), rel=0.04)
    assert spectral.corrected_spectral_norm(w, r) == pytest.approx(2.0, rel=0.04)


def test_corrected_norm_errors():
    with pytest.raises(ValueError, match="r=0 must be a positive integer"):
        spectral.corrected_spectral_norm(torch.eye(3), 0)
    with pytest.raises(ValueError, match="r=2.0 must be a positive integer"):
        spectral.corrected_spectral_norm(torch.eye(3), 2.0)
    with pytest.raises(ValueError, match="2-D tensor"):
        spectral.corrected_spectral_norm(torch.ones(3), 1)


def test_typical_gain_is_frobenius_over_sqrt_n_in():
    a = torch.randn(40, 100, dtype=torch.float64)
    expected = float(a.norm()) / math.sqrt(100)
    assert spectral.typical_gain(a, n_samples=4096) == pytest.approx(expected, rel=0.03)
    # Hand value: an orthogonal matrix has gain exactly 1 on every input.
    q, _ = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64))
    assert spectral.typical_gain(q, n_samples=8) == pytest.approx(1.0)


def test_typical_gain_does_not_see_repetition():
    n, r = 256, 4
    w = torch.randn(n // r, n, dtype=torch.float64) / math.sqrt(n)
    rep = spectral.repeat_kv_rows(w, r, head_dim=4)
    # ‖K⊕‖_F² = r ‖W_K‖_F² ≈ r · (n/r) · n / n = n: the same as a dense n × n matrix.
    assert spectral.typical_gain(rep, n_samples=2048) == pytest.approx(1.0, rel=0.03)


def test_relative_update_and_stable_rank_hand_values():
    w = torch.diag(torch.tensor([2.0, 1.0]))
    dw = torch.tensor([[0.0, 0.0], [0.0, 0.5]])
    assert spectral.relative_update(w, dw) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="update shape"):
        spectral.relative_update(w, torch.zeros(3, 2))
    assert spectral.stable_rank(torch.eye(5)) == pytest.approx(5.0)
    assert spectral.stable_rank(torch.outer(torch.ones(4), torch.arange(3.0))) == pytest.approx(1.0)
    assert spectral.stable_rank(torch.diag(torch.tensor([2.0, 1.0]))) == pytest.approx(5 / 4)
    assert spectral.stable_rank(torch.zeros(3, 3)) == 0.0
