"""Chapter 1's instruments, each against an independent computation (hand values, SVD)."""

import math

import pytest
import torch

from gqa_mup_ref import feature_learning as fl


def test_rms_is_the_typical_entry_size():
    assert fl.rms(torch.tensor([3.0, 4.0])) == pytest.approx(math.sqrt(25 / 2))
    assert fl.rms(torch.full((7, 5), -2.0)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="empty"):
        fl.rms(torch.zeros(0))


def test_alignment_of_hand_built_matrices():
    u, v = torch.tensor([1.0, -1.0, 1.0]), torch.tensor([2.0, 0.0, 1.0, 1.0])
    rank_one = torch.outer(u, v)
    assert fl.alignment(rank_one, v) == pytest.approx(1.0)
    orthogonal = torch.tensor([0.0, 1.0, 0.0, 0.0])
    assert fl.alignment(rank_one, orthogonal) == pytest.approx(0.0, abs=1e-12)
    diag = torch.diag(torch.tensor([2.0, 1.0]))
    assert fl.alignment(diag, torch.tensor([0.0, 3.0])) == pytest.approx(0.5)
    batch = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # gains 2 and 1 → mean 1.5, over ‖A‖₂ = 2
    assert fl.alignment(diag, batch) == pytest.approx(0.75)


def test_predicted_init_alignment_hand_values():
    assert fl.predicted_init_alignment(100, 100) == pytest.approx(0.5)
    assert fl.predicted_init_alignment(1, 4) == pytest.approx(1 / 3)


def test_same_entries_have_equal_frobenius_but_different_spectral_norms():
    (record,) = fl.same_entries_different_effect([256])
    assert record["entry_rms"] == pytest.approx(1 / 256)
    assert record["frobenius_rank_one"] == pytest.approx(1.0)
    assert record["frobenius_iid"] == pytest.approx(1.0)
    assert record["spectral_rank_one"] == pytest.approx(1.0)
    assert record["output_rms_rank_one"] == pytest.approx(1.0)
    # i.i.d. signs/n: spectral norm ≈ 2/√n, output entries ≈ 1/√n (loose: one draw)
    assert record["spectral_iid"] == pytest.approx(2 / 16, rel=0.1)
    assert record["output_rms_iid"] == pytest.approx(1 / 16, rel=0.25)


def test_random_norm_survey_against_svd_and_hand_prediction():
    std = 0.3
    records = fl.random_norm_survey([(300, 100), (50, 400)], std=std, seed=3)
    for rec in records:
        assert rec["predicted"] == pytest.approx(std * (math.sqrt(rec["n_out"]) + math.sqrt(rec["n_in"])))
        assert rec["ratio"] == pytest.approx(1.0, abs=0.08)
        assert rec["natural"] == pytest.approx(rec["measured"] * math.sqrt(rec["n_in"] / rec["n_out"]))
        assert rec["frobenius"] == pytest.approx(std * math.sqrt(rec["n_out"] * rec["n_in"]), rel=0.05)


def test_alignment_survey_update_is_aligned_and_init_matches_prediction():
    (rec,) = fl.alignment_survey([(16, 2048)], n_inputs=8)
    assert rec["update_own_input"] == pytest.approx(1.0)
    assert rec["init"] == pytest.approx(4 / (4 + math.sqrt(2048)), rel=0.1)
    assert rec["update_fresh_relu"] == pytest.approx(1 / math.pi, abs=0.03)
    assert rec["update_fresh_gaussian"] < 0.05


def test_spectral_rules_hand_values():
    rules = fl.spectral_rules(4, 16)
    assert rules["spectral_target"] == pytest.approx(0.5)
    assert rules["init_std"] == pytest.approx(0.5 / (2 + 4))
    assert rules["sgd_lr"] == pytest.approx(0.25)
    assert rules["adam_lr"] == pytest.approx(1 / 16)
    # a random matrix with that std has the target norm (SVD)
    w = torch.randn(400, 1600, dtype=torch.float64) * fl.spectral_rules(400, 1600)["init_std"]
    assert torch.linalg.svdvals(w)[0].item() == pytest.approx(0.5, rel=0.03)
    with pytest.raises(ValueError, match="n_in=0"):
        fl.spectral_rules(4, 0)


def test_width_exponents_match_the_mup_table():
    e = fl.width_exponents()
    expected = {"input": (0, 0, 1), "hidden": (-0.5, -1, 0), "output": (-1, -1, -1)}
    for layer, (init, adam, sgd) in expected.items():
        assert e[layer]["init_std_derived"] == pytest.approx(init, abs=0.01)
        assert e[layer]["init_std_mup"] == pytest.approx(init, abs=1e-9)
        assert e[layer]["adam_lr_derived"] == pytest.approx(adam, abs=1e-9)
        assert e[layer]["adam_lr_mup"] == pytest.approx(adam, abs=1e-9)
        assert e[layer]["sgd_lr_derived"] == pytest.approx(sgd, abs=1e-9)


def test_mlp_init_follows_the_rules():
    model = fl.ThreeLayerMLP(256, "mup", base_width=64, base_init_std=0.125)  # m = 4
    stds = {name: layer.weight.std().item() for name, layer in model.layers.items()}
    assert stds["input"] == pytest.approx(0.125, rel=0.05)
    assert stds["hidden"] == pytest.approx(0.125 / 2, rel=0.05)
    assert stds["output"] == pytest.approx(0.125, rel=0.05)
    assert model.layers["output"].multiplier == pytest.approx(1 / 4)
    assert fl.ThreeLayerMLP(256, "sp").layers["output"].multiplier == 1.0


def test_first_adam_step_is_lr_times_sign():
    steps = fl.one_adam_step(128, "mup", lr=0.01, batch=4)
    for step in steps.values():
        entries = (step.update / step.multiplier).abs().flatten()  # the stored parameter's change
        moved = entries[entries > 0]
        assert moved.numel() > entries.numel() // 4
        # |Δ| = lr·|g|/(|g| + ε) ≤ lr, and = lr up to rounding unless |g| is comparable with ε = 1e-8
        assert (moved <= step.lr * (1 + 1e-5)).all()
        at_lr = ((moved - step.lr).abs() < 1e-3 * step.lr).double().mean().item()
        assert at_lr > 0.95, (step.name, at_lr)
    assert steps["hidden"].lr == pytest.approx(0.01 / 2)  # m = 128 / 64
    assert steps["input"].lr == pytest.approx(0.01)


def test_single_example_update_is_rank_one():
    step = fl.one_adam_step(128, "mup", batch=1)["hidden"]
    s = torch.linalg.svdvals(step.update)
    assert s[1].item() < 1e-5 * s[0].item()  # float32 rounding of W_after − W_before
    nonzero_rows = (step.update.abs().sum(1) > 0).sum().item()
    nonzero_cols = (step.update.abs().sum(0) > 0).sum().item()
    # rank-one sign matrix: ‖ΔW‖₂ = η √(active rows · active columns)
    assert s[0].item() == pytest.approx(step.lr * math.sqrt(nonzero_rows * nonzero_cols), rel=1e-4)


def test_batch_one_constant_is_the_square_root_of_the_moved_fraction():
    rec = next(r for r in fl.width_sweep([128], ["mup"], batch=1) if r["layer"] == "hidden")
    step = rec["step"]
    moved = float((step.update.abs() > 0).double().mean())  # counted independently of the record
    assert rec["update_nonzero_fraction"] == pytest.approx(moved)
    assert 0.05 < moved < 0.95
    assert rec["update_ratio"] == pytest.approx(math.sqrt(moved), rel=1e-3)


def test_sp_and_mup_coincide_at_the_base_width():
    records = fl.width_sweep([64], ["sp", "mup"])
    sp = {r["layer"]: r for r in records if r["parameterization"] == "sp"}
    mup = {r["layer"]: r for r in records if r["parameterization"] == "mup"}
    for layer in ("input", "hidden", "output"):
        assert sp[layer]["dh_rms"] == pytest.approx(mup[layer]["dh_rms"])
        assert sp[layer]["h_rms"] == pytest.approx(mup[layer]["h_rms"])


def test_fitted_slope_recovers_a_power_law():
    xs = [1, 2, 4, 8]
    assert fl.fitted_slope(xs, [3 * x**2 for x in xs]) == pytest.approx(2.0)
    assert fl.fitted_slope(xs, [5.0] * 4) == pytest.approx(0.0, abs=1e-12)


def test_layer_view_is_a_widget_with_an_image_its_alt_text_and_the_rules():
    import ipywidgets as widgets

    step = fl.one_adam_step(64, "mup")["output"]
    view = fl.layer_view(step, base_lr=0.01)
    assert isinstance(view, widgets.VBox)
    image, text = view.children
    assert isinstance(image, widgets.HTML) and 'src="data:image/png;base64,' in image.value
    assert 'alt="Sorted singular values' in image.value and "output layer" in image.value
    assert "natural" in text.value
