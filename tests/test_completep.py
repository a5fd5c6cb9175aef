"""Chapter 3's instruments: coherence, the AdamW equilibrium, the sweeps' grids and stored results."""

import math

import pytest
import torch

from gqa_mup_ref import completep as cp
from gqa_mup_ref.parameterization import get_parameterization


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


def test_aligned_equilibrium_is_the_fixed_point_of_decay_with_a_constant_update():
    """W ← (1−ηλ)W − η·u with the same u every step converges to −u/λ, whatever η."""
    u = torch.linspace(-0.3, 0.5, 7, dtype=torch.float64)
    for eta in (0.01, 0.1):
        w = torch.zeros_like(u)
        for _ in range(round(30 / (eta * 0.25))):  # 30 timescales
            w = (1 - eta * 0.25) * w - eta * u
        assert float(w.square().mean().sqrt()) == pytest.approx(
            cp.aligned_equilibrium_rms(0.25, float(u.square().mean().sqrt())), rel=1e-6)
    with pytest.raises(ValueError, match="weight_decay=-1"):
        cp.aligned_equilibrium_rms(-1)


def test_decay_trajectory_learned_part_after_one_step_is_minus_eta_u():
    """After one decoupled step W₁ = (1−ηλ)W₀ − η·u, so the learned part is −η·u: its RMS is η·rms(u),
    its natural norm η‖u‖₂√(n_in/n_out) = rel_update × natural norm of W₁."""
    config = cp.RunConfig(parameterization="mup", width=32, base_width=32, depth=1, base_depth=1, n_head=4,
                          n_kv_head=4, batch_size=4, context_length=16, lr=2**-6, weight_decay=1.0, steps=3,
                          schedule="constant", warmup_fraction=0.0)
    first = cp.decay_trajectory(config, every=1)[0]
    assert first["learned_rms"] == pytest.approx(first["lr"] * first["u_rms"], rel=1e-4)
    assert first["learned_natural"] == pytest.approx(first["rel_update"] * first["w_natural"], rel=1e-4)
    assert 0 < first["learned_share"] < 1 and first["decay_steps"] == pytest.approx(2**-6)


def test_mean_se_is_the_mean_and_sample_sd_over_root_n():
    mean, se = cp.mean_se(iter([1.0, 2.0, 3.0, 4.0]))  # sd = √(5/3): squares 2.25+0.25+0.25+2.25 over 3
    assert mean == 2.5 and se == pytest.approx(math.sqrt(5 / 3) / 2)
    with pytest.raises(ValueError, match="1 value"):
        cp.mean_se([3.0])


def test_probe_config_is_the_width_64_model_with_residual_multiplier_m_L_to_minus_alpha():
    config = cp.probe_config(8, 0.5, seed=3)
    assert (config.width, config.base_width, config.n_head, config.n_kv_head) == (64, 64, 4, 4)
    assert (config.depth, config.base_depth, config.seed, config.lr) == (8, 2, 3, 2**-6)
    rules = get_parameterization("mup", alpha=0.5).rules(config.shape)
    assert rules.residual_multiplier == pytest.approx((8 / 2) ** -0.5)


def test_coherence_exponents_average_the_per_seed_log_log_slopes(monkeypatch):
    """Coherences L^0 (init) and 3·L^e_s (update) with e_s = 0.4, 0.5, 0.6 over seeds 0-2: the exponents
    are 0 ± 0 and 0.5 ± 0.1/√3 (sample sd 0.1). Seed 0 comes from ``probes``; seeds 1-2 are probed."""
    exponent = {0: 0.4, 1: 0.5, 2: 0.6}

    def fake(config):
        return {"init_coherence": 1.0, "update_coherence": 3.0 * config.depth ** exponent[config.seed]}

    run = []

    def probe(config):
        run.append(config)
        return fake(config)

    monkeypatch.setattr(cp, "depth_probe", probe)
    given = {(L, 0): fake(cp.probe_config(L, 1.0)) for L in (2, 4, 8)}
    stats = cp.coherence_exponents([2, 4, 8], range(3), probes=given)
    assert stats["init"] == pytest.approx((0.0, 0.0), abs=1e-12)
    assert stats["update"] == pytest.approx((0.5, 0.1 / math.sqrt(3)))
    assert sorted((c.depth, c.seed, c.alpha) for c in run) == [(L, s, 1.0) for L in (2, 4, 8) for s in (1, 2)]


def _landscape_rows(shape_change: float, noise: float, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for s in (0, 1):
        for i, lr in enumerate((-7, -6, -5)):
            for j, wd in enumerate((0.25, 1.0, 4.0)):
                base = 2.3 + 0.01 * (i - 1) ** 2 + 0.01 * (j - 1) ** 2
                for setting, extra in ((("p", 32), 0.0), (("t", 128), -0.1 + shape_change * (i == 2 and j == 2))):
                    rows.append({"parameterization": setting[0], "width": setting[1], "seed": s, "log2_lr": lr,
                                 "weight_decay": wd,
                                 "val_loss": base + extra + noise * float(torch.randn((), generator=generator))})
    return rows


def test_landscape_mismatch_separates_a_changed_shape_from_seed_noise():
    shifted = cp.landscape_mismatch(_landscape_rows(0.0, 0.0), ("t", 128), ("p", 32))
    assert shifted["mismatch"] == pytest.approx(0.0, abs=1e-12) and shifted["cells"] == 9
    changed = cp.landscape_mismatch(_landscape_rows(0.3, 0.01), ("t", 128), ("p", 32))
    assert changed["mismatch"] > changed["threshold"]
    noisy = [cp.landscape_mismatch(_landscape_rows(0.0, 0.01, seed), ("t", 128), ("p", 32)) for seed in range(40)]
    assert sum(r["mismatch"] > r["threshold"] for r in noisy) <= 6  # ~5 % false alarms expected


def test_landscape_mismatch_null_quantile_is_the_square_root_of_an_f_quantile():
    stats = pytest.importorskip("scipy.stats")
    result = cp.landscape_mismatch(_landscape_rows(0.0, 0.01), ("t", 128), ("p", 32))
    k = result["effective_dof"]
    assert 1 <= k <= 8  # Satterthwaite: at most cells - 1, equality only for equal pooled variances
    assert result["null_ratio"] == pytest.approx(math.sqrt(stats.f.ppf(0.95, k, k)), rel=0.02)


def test_landscape_mismatch_counts_fewer_effective_cells_when_one_learning_rate_is_noisier():
    rows = _landscape_rows(0.0, 0.0)
    generator = torch.Generator().manual_seed(3)
    for row in rows:  # the three cells at log2 lr = -5 get ten times the noise of the others
        row["val_loss"] += (0.1 if row["log2_lr"] == -5 else 0.01) * float(torch.randn((), generator=generator))
    k = cp.landscape_mismatch(rows, ("t", 128), ("p", 32))["effective_dof"]
    assert 1 <= k < 4  # about (3·100 + 6)² / (3·100² + 6) - 1 = 2.1 if the pooled variances were exact


# The stored runs of both sweeps re-train in tests/test_reproduction.py (calm runs, measured tolerance).
