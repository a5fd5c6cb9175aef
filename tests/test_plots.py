"""Figures take tidy rows and return a matplotlib Figure with the expected panels and marks."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gqa_mup_ref import plots, sweep  # noqa: E402


def synthetic_rows():
    """Two parameterizations × r ∈ {1, 4} × 2 seeds; the optimum is at log₂ lr = −7 (mup: −7 − log₂ r / 4)."""
    rows = []
    for param in ("mup", "gqa-mup"):
        for r in (1, 4):
            centre = -7 - (math.log2(r) / 4 if param == "mup" else 0)
            for seed in (0, 1):
                for x in range(-10, -3):
                    loss = 2 + 0.05 * (x - centre) ** 2 + 0.001 * seed
                    rows.append({"parameterization": param, "kv_factor": None, "r": r,
                                 "n_kv_head": 4 // r, "lr": 2.0**x, "seed": seed,
                                 "val_loss": math.nan if x == -4 else loss})
    return rows


def test_lr_curves_one_panel_per_parameterization_with_the_optimum_marked():
    fig = plots.plot_lr_curves(synthetic_rows(), by="r")
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["GQA-μP", "μP"]  # reader_label
    assert axes[0].title.get_color() == plots.PARAM_COLORS["gqa-mup"]
    stars = [line for line in axes[0].get_lines() if line.get_marker() == "*"]
    assert len(stars) == 2
    assert stars[0].get_xdata()[0] == pytest.approx(-7, abs=0.05)


def test_optima_plot_has_error_bars_per_parameterization():
    best = sweep.optima(synthetic_rows(), by=("parameterization", "r"))
    fig = plots.plot_optima(best, x="r")
    (ax,) = fig.get_axes()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["gqa-mup", "mup"]
    assert len(ax.containers) == 2  # one errorbar container per parameterization


def test_coord_check_panels_and_colours():
    rows = []
    for param in ("mup", "sp"):
        for width in (32, 64):
            for step in (1, 2):
                for layer, role in (("blocks.0.attn.query", "query"), ("blocks.1.attn.query", "query"),
                                    ("unembedding", "unembedding")):
                    rows.append({"parameterization": param, "kv_factor": None, "vary": "width",
                                 "x": width, "step": step, "layer": layer, "role": role,
                                 "quantity": "dact_rms", "value": 0.1 * step})
    fig = plots.plot_coord_check(rows, "dact_rms")
    axes = [ax for ax in fig.get_axes() if ax.get_title() or ax.get_xlabel() or ax.get_ylabel()]
    assert len(fig.get_axes()) == 4  # 2 parameterizations × 2 steps
    assert axes[0].get_xscale() == "log" and axes[0].get_yscale() == "log"
    lines = fig.get_axes()[0].get_lines()
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-"]  # block 0, block 1, head
    assert lines[0].get_color() == plots.ROLE_COLORS["query"]
    with pytest.raises(ValueError, match="no rows with quantity='w_norm'"):
        plots.plot_coord_check(rows, "w_norm")


def test_colours_are_fixed_per_parameterization():
    assert plots.param_color("gqa-mup") == plots.PARAM_COLORS["gqa-mup"]
    order = ["gqa-mup", "mup (kv=alt)", "mup (kv=sqrt-r)"]
    assert plots.param_color(order[1], order) != plots.param_color(order[2], order)
    assert plots.param_label("mup", "alt") == "mup (kv=alt)"


def test_chapter5_factor_labels_keep_their_colours_everywhere():
    from gqa_mup_ref import plots

    for name, color in plots.INVARIANT_COLORS.items():
        assert plots.param_color(plots.param_label("mup", name)) == color
    assert plots.param_color("mup") == plots.PARAM_COLORS["mup"]


def _scan_rows():
    """Key+value scans at r = 1 and 16 (2 seeds), optimum at log₂ μ = −1, plus frozen runs."""
    rows = []
    for r in (1, 16):
        for seed in (0, 1):
            for x in (-2, -1, 0, 1, 2):
                text = "none" if x == 0 else f"key={2.0**x:g},value={2.0**x:g}"
                rows.append({"r": r, "seed": seed, "lr": 2**-6, "lr_multipliers": text,
                             "val_loss": 2 + 0.1 * (x + 1) ** 2 + 0.01 * seed})
            rows.append({"r": r, "seed": seed, "lr": 2**-6, "lr_multipliers": "key=0,value=0",
                         "val_loss": 2.3})
    return rows


def test_multiplier_scans_mark_each_invariants_predicted_optimum():
    from gqa_mup_ref import kv_transfer as kt

    fig = plots.plot_multiplier_scans(_scan_rows())
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["r = 1", "r = 16"]
    vertical = {line.get_label(): line.get_xdata()[0] for line in axes[1].lines
                if line.get_label().endswith("predicts μ* here")}
    # anchored at the measured r = 1 optimum (−1), moved by each prediction at r = 16
    for name in kt.PREDICTIONS:
        assert vertical[f"{name} predicts μ* here"] == pytest.approx(-1 + kt.predicted_shift(name, 16))
    frozen = [line for line in axes[0].lines if line.get_label().endswith("frozen (μ = 0)")]
    assert len(frozen) == 1 and frozen[0].get_ydata()[0] == pytest.approx(2.3)


def test_shift_plot_draws_intervals_and_prediction_curves():
    from gqa_mup_ref import kv_transfer as kt

    rows = [{"r": 4, "shift": -0.5, "sd": 0.3, "n_pairs": 3, "at_edge": False},
            {"r": 16, "shift": -0.2, "sd": 0.6, "n_pairs": 3, "at_edge": True}]
    fig = plots.plot_shifts(rows)
    ax = fig.axes[0]
    curves = {line.get_label(): line for line in ax.lines if line.get_label().endswith("predicts")}
    assert set(curves) == {f"{k} predicts" for k in kt.PREDICTIONS}
    gqa = curves["gqa predicts"]
    assert gqa.get_ydata()[-1] == pytest.approx(kt.predicted_shift("gqa", 16))
    # the r = 4 error bar spans the Student-t interval
    low, high = kt.confidence_interval(-0.5, 0.3, 3)
    segments = [c for c in ax.collections if hasattr(c, "get_segments")][0].get_segments()
    assert any(seg[0][1] == pytest.approx(low) and seg[1][1] == pytest.approx(high) for seg in segments)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "16"]
    flat = plots.plot_shifts(rows, predictions=())
    assert any(line.get_label() == "transfer (no shift)" for line in flat.axes[0].lines)


def test_plot_decisive_draws_every_seed_and_each_prediction():
    from gqa_mup_ref import decisive
    from gqa_mup_ref.decisive import Point

    grid = (-1.5, -1.0, -0.5, 0.0, 0.5, 0.94, 1.5)
    curves = {(r, seed): [Point(x, 1.9 + 0.05 * (x - 0.1 * seed - 0.2 * (r == 8)) ** 2, collapsed=x == 1.5)
                          for x in grid] for r in (1, 8) for seed in range(4)}
    fig = plots.plot_decisive(curves, decisive.analyse(curves))
    left, right = fig.axes
    assert len(left.get_lines()) >= 2 * 4 + 2  # a thin line per seed and r, a mean line per r
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert sorted(label.split(" predicts")[0] for label in labels if " predicts " in label) == sorted(
        decisive.HYPOTHESES)  # each prediction named in the legend (with its value), not on its line
    assert not right.texts
    shifts = right.get_lines()[0].get_ydata()
    assert list(shifts) == pytest.approx([0.2] * 4)
    matplotlib.pyplot.close(fig)
