"""CompleteP's remaining rules: Adam ε per role, the decay rule, and their place in the CLI's JSON."""

import json

import pytest

from gqa_mup_ref.cli import main
from gqa_mup_ref.model import GQATransformer, ModelConfig
from gqa_mup_ref.parameterization import Shape, build_adamw, get_parameterization

# width 384 on a proxy of 128 (m = 3), 12 blocks on a proxy of 3 (m_L = 4), r = 2.
SHAPE = Shape(384, 12, 4, 2, base_width=128, base_depth=3)
BRANCH = ("query", "key", "value", "attn_out", "mlp_in", "mlp_out", "norm")


@pytest.mark.parametrize("alpha, depth_factor", [(1.0, 4.0), (0.5, 2.0), (0.0, 1.0)])
def test_adamw_groups_get_eps_times_width_and_depth_factor(alpha, depth_factor):
    """ε·m⁻¹·m_L^-α inside the residual branches, ε·m⁻¹ for embedding and unembedding (by hand)."""
    model = GQATransformer(ModelConfig(SHAPE, vocab_size=11, context_length=8),
                           get_parameterization("gqa-mup", alpha=alpha))
    optimizer = build_adamw(model, lr=1e-3, eps=1e-8)
    expected = {role: 1e-8 / (3 * depth_factor) for role in BRANCH}
    expected |= {"embedding": 1e-8 / 3, "unembedding": 1e-8 / 3}
    got = {group["role"]: group["eps"] for group in optimizer.param_groups}
    assert got.keys() == expected.keys()
    for role, eps in expected.items():
        assert got[role] == pytest.approx(eps, rel=1e-12), role


def test_sp_keeps_one_eps():
    model = GQATransformer(ModelConfig(SHAPE, vocab_size=11, context_length=8), "sp")
    assert {g["eps"] for g in build_adamw(model, lr=1e-3, eps=3e-7).param_groups} == {3e-7}


def test_eps_must_be_positive():
    model = GQATransformer(ModelConfig(Shape(64, 1, 4, 4), vocab_size=11, context_length=8), "mup")
    with pytest.raises(ValueError, match="eps=0"):
        build_adamw(model, lr=1e-3, eps=0)


def test_fixed_decay_keeps_lambda_while_independent_decay_keeps_lr_times_lambda():
    fixed = get_parameterization("mup-fixed-wd").rules(SHAPE)
    independent = get_parameterization("mup").rules(SHAPE)
    for role in ("query", "key", "value", "attn_out", "mlp_in", "mlp_out"):
        assert fixed.groups[role].wd_factor == 1.0
        assert independent.groups[role].wd_factor * independent.groups[role].lr_factor == pytest.approx(1)
        assert fixed.groups[role].lr_factor == independent.groups[role].lr_factor
    with pytest.raises(ValueError, match="weight_decay='coupled'"):
        get_parameterization("mup").__class__("x", weight_decay="coupled")


def test_rules_json_lists_eps_factor_per_role(capsys):
    assert main(["rules", "--param", "mup", "--width", "384", "--base-width", "128", "--depth", "12",
                 "--base-depth", "3", "--heads", "4", "--kv-heads", "2", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert groups["mlp_in"]["eps_factor"] == pytest.approx(1 / 12)
    assert groups["unembedding"]["eps_factor"] == pytest.approx(1 / 3)
    assert main(["rules", "--param", "mup", "--width", "384", "--depth", "2", "--heads", "4",
                 "--kv-heads", "2"]) == 0
    assert "eps_factor" in capsys.readouterr().out
