"""Chapter 3's instruments: coherence, the AdamW equilibrium, the sweeps' grids and stored results."""

import math

import pytest
import torch

from gqa_mup_ref import completep as cp


def test_coherence_is_one_for_orthogonal_and_sqrt_count_for_equal_summands():
    basis = torch.eye(6)
    assert cp.coherence([basis[i] * (i + 1) for i in range(6)]) == pytest.approx(1.0)
    v = torch.randn(50)
    assert cp.coherence([v] * 9) == pytest.approx(3.0)


def test_equilibrium_rms_matches_a_simulated_decay_recursion():
    """W ← (1−ηλ)W − η·u with independent ±1 entries u settles at RMS √(η/2λ) (to first order)."""
    generator = torch.Generator().manual_seed(0)
    eta, lam = 0.01, 0.5
    w = torch.zeros(20000, dtype=torch.float64)
    for _ in range(3000):  # 15 timescales
        u = torch.randint(0, 2, w.shape, generator=generator, dtype=torch.float64) * 2 - 1
        w = (1 - eta * lam) * w - eta * u
    rms = float(w.square().mean().sqrt())
    assert rms == pytest.approx(cp.equilibrium_rms(eta, lam), rel=0.03)
    assert cp.equilibrium_rms(eta, lam) == pytest.approx(math.sqrt(eta / (2 * lam)), rel=0.01)
    with pytest.raises(ValueError, match="weight_decay=0"):
        cp.equilibrium_rms(eta, 0)


def test_sweep_grids_have_the_documented_sizes_and_fixed_decay_only_where_it_differs():
    depth = cp.depth_lr_sweep()
    assert len(depth) == 2 * 3 * 3 * 6
    assert {c.base_depth for c in depth} == {2} and {c.depth for c in depth} == {2, 4, 8}
    decay = cp.weight_decay_sweep()
    assert len(decay) == 30 + 60
    assert {c.width for c in decay if c.parameterization == "mup-fixed-wd"} == {128}


def test_depth_probe_sees_orthogonal_init_contributions():
    config = cp.RunConfig(parameterization="mup", alpha=1.0, width=32, base_width=32, depth=4, base_depth=2,
                          n_head=4, n_kv_head=4, batch_size=4, context_length=16, lr=2**-6)
    probe = cp.depth_probe(config)
    assert probe["residual_multiplier"] == pytest.approx(0.5)
    assert abs(probe["init_coherence"] - 1) < 0.15
    assert probe["update_coherence"] > probe["init_coherence"]
    assert len(probe["blocks"]) == 4


# The stored runs of both sweeps re-train in tests/test_reproduction.py (calm runs, measured tolerance).
