"""Shapes whose query width n_q = H·d differs from the model width n (head_dim set on its own)."""

import json
import math
import subprocess
import sys

import pytest
import torch

from gqa_mup_ref.config import RunConfig
from gqa_mup_ref.model import GQATransformer, ModelConfig
from gqa_mup_ref.parameterization import Shape, get_parameterization, kv_factor_value
from gqa_mup_ref.spectral import kv_repetition_factor, repeat_kv_rows, spectral_norm


@pytest.mark.parametrize("n, n_q, r", [(256, 512, 4), (512, 256, 8), (384, 384, 2)])
def test_kv_factor_matches_sampled_norm_ratio(n, n_q, r):
    """‖K⊕‖ / ‖dense n_q × n‖ measured on Gaussian matrices (float64, SVD) against (√ρ + √r)/(√ρ + 1)."""
    g = torch.Generator().manual_seed(0)
    d = 16
    w_k = torch.randn(n_q // r, n, generator=g, dtype=torch.float64)
    dense = torch.randn(n_q, n, generator=g, dtype=torch.float64)
    measured = spectral_norm(repeat_kv_rows(w_k, r, d)) / spectral_norm(dense)
    assert measured == pytest.approx(kv_repetition_factor(r, n_q / n), rel=0.04)


def test_general_factor_reduces_to_one_plus_sqrt_r_over_two():
    for r in (1, 2, 4, 8, 16):
        assert kv_repetition_factor(r) == pytest.approx((1 + math.sqrt(r)) / 2)
        assert kv_factor_value("gqa", r) == pytest.approx((1 + math.sqrt(r)) / 2)


def test_rules_use_the_query_ratio_for_keys_and_values_only():
    shape = Shape(3072, 28, 24, 8, base_width=256, head_dim=256)  # n_q = 6144 = 2n, r = 3
    rules = get_parameterization("gqa-mup").rules(shape)
    m = 3072 / 256
    c = (math.sqrt(2) + math.sqrt(3)) / (math.sqrt(2) + 1)
    assert rules.groups["key"].lr_factor == pytest.approx(c / m)
    assert rules.groups["value"].wd_factor == pytest.approx(m / c)
    assert rules.groups["query"].lr_factor == pytest.approx(1 / m)
    assert rules.attention_scale == pytest.approx(1 / 256)
    assert shape.query_width == 6144 and shape.query_ratio == 2


def test_default_head_dim_is_width_over_heads_and_explicit_equal_value_is_identical():
    implicit, explicit = Shape(256, 2, 8, 2), Shape(256, 2, 8, 2, head_dim=32)
    assert implicit.head_dim == 32 and implicit == explicit
    param = get_parameterization("gqa-mup")
    assert param.rules(implicit).groups == param.rules(explicit).groups


@pytest.mark.parametrize("head_dim, message", [(0, "head_dim=0 must be a positive"),
                                               (2.5, "head_dim=2.5 must be an integer")])
def test_bad_head_dim_is_refused_by_name(head_dim, message):
    with pytest.raises(ValueError, match=message):
        Shape(256, 2, 8, 2, head_dim=head_dim)


def test_width_not_divisible_points_to_head_dim():
    with pytest.raises(ValueError, match="give head_dim explicitly"):
        Shape(100, 2, 3, 1)
    assert Shape(100, 2, 3, 1, head_dim=32).query_width == 96


def test_model_with_explicit_head_dim_has_the_right_shapes_and_runs():
    shape = Shape(64, 2, 4, 2, head_dim=24)  # n_q = 96 != 64
    model = GQATransformer(ModelConfig(shape, vocab_size=11, context_length=8), "gqa-mup")
    attn = model.blocks[0].attn
    assert attn.query.weight.shape == (96, 64)
    assert attn.key.weight.shape == (48, 64) and attn.value.weight.shape == (48, 64)
    assert attn.out.weight.shape == (64, 96)
    logits, loss = model(torch.zeros(2, 8, dtype=torch.long), torch.zeros(2, 8, dtype=torch.long))
    assert logits.shape == (2, 8, 11) and torch.isfinite(loss)


def test_run_config_key_fields_unchanged_without_head_dim():
    assert "head_dim" not in RunConfig().to_dict()
    assert RunConfig(head_dim=32).to_dict()["head_dim"] == 32
    assert RunConfig(width=128, n_head=4, head_dim=16).shape.query_width == 64


def test_rules_cli_accepts_head_dim():
    out = subprocess.run(
        [sys.executable, "-m", "gqa_mup_ref", "rules", "--width", "3072", "--base-width", "256",
         "--depth", "28", "--heads", "24", "--kv-heads", "8", "--head-dim", "256", "--json"],
        capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    c = (math.sqrt(2) + math.sqrt(3)) / (math.sqrt(2) + 1)
    assert data["shape"]["head_dim"] == 256 and data["shape"]["query_width"] == 6144
    assert data["groups"]["key"]["lr_factor"] == pytest.approx(c / 12)
    assert data["attention_scale"] == pytest.approx(1 / 256)
