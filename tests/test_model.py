"""The reference model: shapes, init from the rules, GQA attention, hooks."""

import math

import pytest
import torch
import torch.nn.functional as F

from gqa_mup_ref.model import GQATransformer, ModelConfig
from gqa_mup_ref.parameterization import ROLES, Shape


def make(width=64, depth=2, heads=8, kv_heads=2, base_width=None, param="gqa-mup", vocab=13, context=16):
    shape = Shape(width, depth, heads, kv_heads, base_width=base_width)
    return GQATransformer(ModelConfig(shape, vocab, context), param)


@pytest.mark.parametrize("heads, kv_heads", [(8, 8), (8, 4), (8, 2), (8, 1), (12, 3)])
def test_shapes_for_several_kv_heads(heads, kv_heads):
    width = 8 * heads
    model = make(width=width, heads=heads, kv_heads=kv_heads)
    attn = model.blocks[0].attn
    assert attn.query.weight.shape == (width, width)
    assert attn.key.weight.shape == (width // (heads // kv_heads), width)  # (n/r, n)
    assert attn.value.weight.shape == attn.key.weight.shape
    logits = model(torch.randint(13, (3, 16)))
    assert logits.shape == (3, 16, 13)


def test_init_std_follows_the_rules():
    model = make(width=256, heads=8, kv_heads=2, base_width=64)  # m = 4 → hidden std 0.02/2
    measured = {}
    for _, role, param in model.named_parameters_with_role():
        measured.setdefault(role, []).append(param.detach().flatten())
    for role, values in measured.items():
        values = torch.cat(values)
        if role == "norm":
            assert torch.all(values == 1)
        else:
            assert values.std().item() == pytest.approx(model.rules.groups[role].init_std, rel=0.05), role
    assert model.rules.groups["mlp_in"].init_std == pytest.approx(0.01)


def test_every_parameter_has_exactly_one_known_role():
    model = make()
    named = list(model.named_parameters_with_role())
    assert len(named) == len(list(model.parameters()))
    assert {role for _, role, _ in named} == set(ROLES)
    assert sum(len(v) for v in model.parameters_by_role().values()) == len(named)


def test_gqa_attention_equals_explicitly_repeated_keys_and_values():
    model = make(width=64, heads=8, kv_heads=2)
    attn = model.blocks[0].attn
    x = torch.randn(2, 16, 64)
    B, T, r, d = 2, 16, 4, 8
    q = attn.query(x).view(B, T, 8, d).transpose(1, 2)
    k = attn.key(x).view(B, T, 2, d).transpose(1, 2).repeat_interleave(r, dim=1)
    v = attn.value(x).view(B, T, 2, d).transpose(1, 2).repeat_interleave(r, dim=1)
    scores = (q @ k.transpose(-2, -1)) / d  # μP: 1/d, not 1/√d
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    expected = attn.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, 64))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)


def test_residual_and_logit_multipliers_are_applied():
    model = make(width=128, depth=4, base_width=32, heads=8, kv_heads=2)
    assert model.blocks[0].residual_multiplier == pytest.approx(1 / 4)
    tokens = torch.randint(13, (2, 16))
    with model.record_activations() as acts:
        logits = model(tokens)
    plain = F.linear(acts["final_norm"], model.unembedding.weight)
    torch.testing.assert_close(logits, plain / 4)  # m = 4 → logits × 1/4


def test_record_activations_sees_every_layer_and_removes_its_hooks():
    model = make(depth=2)
    with model.record_activations() as acts:
        model(torch.randint(13, (1, 8)))
    assert {"blocks.0.attn.key", "blocks.1.mlp.down", "blocks.1", "unembedding", "final_norm"} <= set(acts)
    assert acts["blocks.0.attn.key"].shape == (1, 8, 16)
    assert all(not m._forward_hooks for m in model.modules())


def test_loss_at_init_is_near_uniform():
    model = make(width=128, base_width=128, vocab=13)
    _, loss = model(torch.randint(13, (4, 16)), torch.randint(13, (4, 16)))
    assert loss.item() == pytest.approx(math.log(13), rel=0.05)


def test_too_long_sequence_is_rejected():
    with pytest.raises(ValueError, match="exceeds context_length=16"):
        make(context=16)(torch.zeros(1, 17, dtype=torch.long))
