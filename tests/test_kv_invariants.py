"""The three key/value invariants and the input alignment (gqa_mup_ref.kv_invariants)."""

import math

import pytest
import torch

from gqa_mup_ref import kv_invariants as ki
from gqa_mup_ref import kv_repetition as kv

SMALL = dict(width=64, n_head=4, batch_size=4, context_length=16)


def test_a_factor_scales_every_invariant_by_itself():
    # Same init and batch: Adam's first step is linear in the learning rate, so √4 = 2 times the key/value
    # learning rate moves keys and values exactly twice as far, in every invariant; queries are unchanged.
    none = ki.one_step_invariants("none", 4, **SMALL)
    sqrt_r = ki.one_step_invariants("sqrt-r", 4, **SMALL)
    for a, b in zip(none, sqrt_r):
        for name in ki.INVARIANTS:
            assert b[name] / a[name] == pytest.approx(2.0, rel=1e-4), name
        assert b["stable_rank"] == pytest.approx(a["stable_rank"], rel=1e-4)


def test_spectral_invariant_is_chapter_twos_training_ratio():
    mine = ki.one_step_invariants("none", 2, **SMALL)
    theirs = kv.training_update_ratios("mup", 2, checkpoints=(1,), **SMALL)
    for a, b in zip(mine, theirs):
        assert (a["block"], a["kind"]) == (b["block"], b["kind"])
        assert a["spectral"] == pytest.approx(b["ratio"], rel=1e-6)


def test_invariant_table_normalises_by_r1():
    records = [{"kv_factor": "none", "kind": "key", "seed": 0, "block": 0, "r": r,
                "coordinate": c, "spectral": s, "loss": l}
               for r, c, s, l in ((1, 2.0, 1.0, 0.5), (4, 2.0, 0.5, 0.25))]
    table = ki.invariant_table(records)
    assert table["none", "key", "coordinate", 4] == pytest.approx(1.0)
    assert table["none", "key", "spectral", 4] == pytest.approx(0.5)
    assert table["none", "key", "loss", 4] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="r = 1"):
        ki.invariant_table(records[1:])


def test_alignment_against_hand_built_inputs():
    a = torch.diag(torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    top = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    rec = ki._alignment(a, top, top=1)
    assert rec["align"] == pytest.approx(1.0)
    assert rec["top_energy"] == pytest.approx(1.0)
    assert rec["align_random"] == pytest.approx(math.sqrt(12) / (2 * 3))  # ‖A‖_F / (√n ‖A‖₂)
    assert rec["top_energy_random"] == pytest.approx(0.25)
    other = torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    assert ki._alignment(a, other, top=1)["align"] == pytest.approx(1 / 3)


def test_input_alignment_at_init_matches_the_random_baseline():
    recs = ki.input_alignment("gqa-mup", 4, checkpoints=(0, 2), **SMALL)
    assert {rec["step"] for rec in recs} == {0, 2}
    summary = ki.alignment_summary(recs)
    key0 = summary["gqa-mup", 4, 0, "key"]
    # A random (n/r) × n Gaussian repeated r times: baseline ≈ 1/(1+√r); real inputs at init are no different.
    assert key0["align_random"] == pytest.approx(1 / 3, rel=0.15)
    assert key0["align"] == pytest.approx(key0["align_random"], rel=0.2)
