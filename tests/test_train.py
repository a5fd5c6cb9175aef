"""One training run: it learns, it records divergence instead of raising, its record round-trips."""

import json
import math

import pytest
import torch

from gqa_mup_ref.train import RunConfig, RunResult, build, lr_multiplier, train

TINY = dict(width=32, base_width=32, n_head=4, n_kv_head=2, depth=1, batch_size=4, context_length=16)


def test_one_adam_step_decreases_the_loss_on_its_batch():
    model, optimizer, corpus = build(RunConfig(**TINY, lr=2**-6))
    x, y = corpus.get_batch("train", 4, 16, torch.Generator().manual_seed(1))
    before = model(x, y)[1]
    before.backward()
    optimizer.step()
    after = model(x, y)[1]
    assert after.item() < before.item() - 0.01


@pytest.mark.cuda
def test_a_short_run_learns_and_reports(device):
    result = train(RunConfig(**TINY, steps=30, lr=2**-5), device=device)
    assert result.device == device
    assert not result.diverged and result.steps_done == 30
    assert result.train_loss < math.log(96) - 0.5  # well below a uniform guess over 96 symbols
    assert math.isfinite(result.val_loss)
    assert result.loss_curve[0][0] == 0 and result.loss_curve[-1][0] == 29


@pytest.mark.cuda
def test_divergence_is_recorded_not_raised(device):
    result = train(RunConfig(**TINY, steps=30, lr=1e4, grad_clip=0.0, warmup_fraction=0.0),
                   device=device)
    assert result.diverged
    assert result.steps_done < 30
    assert math.isnan(result.val_loss)


@pytest.mark.cuda
def test_runs_are_reproducible(device):
    a, b = (train(RunConfig(**TINY, steps=5), device=device) for _ in range(2))
    assert a.loss_curve == b.loss_curve


def test_result_round_trips_through_json():
    result = train(RunConfig(**TINY, steps=3))
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.config == result.config and again.loss_curve == result.loss_curve


def test_result_from_a_foreign_record_is_rejected():
    with pytest.raises(ValueError, match="not a RunResult record"):
        RunResult.from_dict({"loss": 1.0})


def test_schedule_warms_up_then_decays_to_zero():
    config = RunConfig(steps=100, warmup_fraction=0.1)
    assert lr_multiplier(0, config) == pytest.approx(0.1)
    assert lr_multiplier(9, config) == pytest.approx(1.0)
    assert lr_multiplier(55, config) == pytest.approx(0.5)
    assert lr_multiplier(100, config) == pytest.approx(0.0, abs=1e-12)
    assert lr_multiplier(50, RunConfig(steps=100, schedule="constant")) == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=0.0), "lr=0.0 must be positive"),
        (dict(schedule="step"), "schedule='step'"),
        (dict(n_kv_head=3), "n_head=4 is not divisible by n_kv_head=3"),
        (dict(parameterization="ntk"), "unknown parameterization 'ntk'"),
        (dict(steps=0), "steps=0 must be a positive integer"),
    ],
)
def test_bad_configs_are_rejected_with_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**kwargs)


@pytest.mark.cuda
def test_lr_multiplier_changes_the_run_and_zero_freezes_the_role(device):
    """A key multiplier of 0 leaves the keys at their initial values; other roles still move."""
    config = RunConfig(**TINY, steps=3, lr_multipliers={"key": 0.0})
    model, optimizer, corpus = build(config, device)
    keys0 = [p.detach().clone() for p in model.parameters_by_role()["key"]]
    query0 = [p.detach().clone() for p in model.parameters_by_role()["query"]]
    x, y = corpus.get_batch("train", 4, 16, torch.Generator().manual_seed(1))
    model(x.to(device), y.to(device))[1].backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(keys0, model.parameters_by_role()["key"]))
    assert not all(torch.equal(a, b) for a, b in zip(query0, model.parameters_by_role()["query"]))
    plain, scaled = (train(RunConfig(**TINY, steps=5, lr_multipliers=m), device=device)
                     for m in ({}, {"key": 8.0}))
    assert plain.loss_curve[0] == scaled.loss_curve[0]  # same init and first batch
    assert plain.loss_curve[-1] != scaled.loss_curve[-1]  # different key updates
