"""The k ≥ 2 cross term: its decomposition, the rules the experiment reads, the slope fit, and a small run."""

import math

import pytest
import torch

from gqa_mup_ref import depth_branches as db


def _weights(seed, k, n=16, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(n, n, generator=g) / math.sqrt(n) for _ in range(k)]


def test_two_matrix_branch_change_splits_exactly_into_first_order_and_cross_terms():
    old, step = _weights(0, 2), _weights(1, 2, scale=0.3)
    new = [w + d for w, d in zip(old, step)]
    h = torch.randn(8, 16, generator=torch.Generator().manual_seed(2))
    first, cross = db.branch_change(old, new, h)
    direct = torch.relu(h @ new[0].T) @ new[1].T - torch.relu(h @ old[0].T) @ old[1].T
    torch.testing.assert_close(first + cross, direct)


def test_for_small_steps_the_cross_term_is_dW2_phi_prime_dW1():
    old, step = _weights(3, 2), _weights(4, 2, scale=1e-4)
    new = [w + d for w, d in zip(old, step)]
    h = torch.randn(8, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    old, new = [w.double() for w in old], [w.double() for w in new]
    _, cross = db.branch_change(old, new, h)
    slope = (h @ old[0].T > 0).double()  # relu'
    expected = (slope * (h @ (new[0] - old[0]).T)) @ (new[1] - old[1]).T
    assert torch.linalg.norm(cross - expected) < 1e-3 * torch.linalg.norm(expected)


def test_a_one_matrix_branch_has_no_cross_term():
    old, step = _weights(6, 1), _weights(7, 1, scale=0.5)
    h = torch.randn(4, 16)
    first, cross = db.branch_change(old, [old[0] + step[0]], h)
    torch.testing.assert_close(first, h @ step[0].T)
    assert float(cross) == 0.0


@pytest.mark.parametrize("alpha, depth", [(0.5, 16), (1.0, 16), (0.5, 4)])
def test_the_run_uses_each_alphas_own_multiplier_and_learning_rate(alpha, depth):
    """ρ = L^-α and Adam LR = base · (BASE_WIDTH / width) · L^(α-1), written out (base depth 1)."""
    run = db.train_branches(depth, 1, alpha, width=128, batch=4, steps=1, base_lr=0.01)
    assert run["a_L"] == pytest.approx(depth**-alpha)
    assert run["lr"] == pytest.approx(0.01 * (db.BASE_WIDTH / 128) * depth ** (alpha - 1))
    assert run["cross_ratio"] == 0.0 and run["block_update"] > 0


def test_fit_slopes_recovers_a_known_power_law_per_seed():
    rows = [{"k": 2, "alpha": a, "seed": s, "depth": L, "cross_ratio": (1 + s) * L**p}
            for a, p in ((0.5, -0.5), (1.0, 0.0)) for s in range(3) for L in (2, 8, 32)]
    fits = db.fit_slopes(rows)
    assert fits[0.5]["slopes"] == pytest.approx([-0.5] * 3)
    assert fits[1.0]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert fits[0.5]["sd"] == pytest.approx(0.0, abs=1e-12)


def test_the_cross_term_fades_with_depth_at_alpha_half_and_not_at_alpha_one():
    rows = db.cross_term_sweep([2, 32], seeds=(0, 1), width=64, batch=32, steps=4)
    mean = {(r["alpha"], r["depth"]): 0.0 for r in rows}
    for r in rows:
        mean[r["alpha"], r["depth"]] += r["cross_ratio"] / 2
    assert mean[0.5, 32] < 0.5 * mean[0.5, 2]
    assert mean[1.0, 32] > 0.7 * mean[1.0, 2]


def test_bad_branch_sizes_are_named():
    with pytest.raises(ValueError, match="k=3"):
        db.train_branches(4, 3, 1.0)


def test_the_figure_draws_both_panels_from_rows():
    rows = [{"k": k, "alpha": a, "seed": s, "depth": L, "cross_ratio": 0.1 * L**-a if k == 2 else 0.0,
             "block_update": 0.3} for k in (1, 2) for a in (0.5, 1.0) for s in range(2) for L in (2, 8, 32)]
    fig = db.plot_cross_terms(rows, db.fit_slopes(rows))
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_ylim()[0] == 0
    assert [t.get_text() for t in left.get_xticklabels()] == ["2", "8", "32"]
    assert len(right.get_lines()) == 4  # two rules × two branch types
