"""Chapter 5's analysis against hand-computed examples: exact parabolas, known shifts, the predictions."""

import math
import statistics

import pytest

from gqa_mup_ref import kv_transfer as kt


def _row(r, seed, loss, lr=2**-7, multipliers="", kv_factor="none"):
    return {"r": r, "seed": seed, "lr": lr, "val_loss": loss, "lr_multipliers": multipliers,
            "kv_factor": kv_factor}


def _mult_text(scan, mu):
    if mu == 1:
        return ""
    return ",".join(f"{role}={mu:g}" for role in kt.SCANS[scan])


def _scan(r, seed, vertex, scan="key+value", curvature=0.1, offset=2.0):
    """Rows whose loss is an exact parabola in log2 mu with its minimum at ``vertex``."""
    return [_row(r, seed, offset + curvature * (x - vertex) ** 2, multipliers=_mult_text(scan, 2.0**x))
            for x in (-2, -1, 0, 1, 2, 3)]


def test_parse_multipliers_reads_row_text_and_mappings():
    assert kt.parse_multipliers("key=0.25,value=0.25") == {"key": 0.25, "value": 0.25}
    assert kt.parse_multipliers("") == {} and kt.parse_multipliers(None) == {}
    assert kt.parse_multipliers("none") == {}  # what analysis.tidy_rows writes for no multipliers
    assert kt.parse_multipliers({"key": 2}) == {"key": 2.0}
    with pytest.raises(ValueError, match="must look like 'key=2,value=2'"):
        kt.parse_multipliers("key")


def test_scan_rows_sorts_runs_into_scans_and_shares_mu_one():
    rows = [_row(1, 0, 2.0, multipliers="none"), _row(1, 0, 2.1, multipliers="key=2,value=2"),
            _row(1, 0, 2.2, multipliers="key=2"), _row(1, 0, 2.3, multipliers="value=0.5"),
            _row(1, 0, 2.4, multipliers="key=2,value=4"), _row(1, 0, 2.5, multipliers="key=0")]
    assert [(r["mu"], r["val_loss"]) for r in kt.scan_rows(rows, "key+value")] == [(1, 2.0), (2, 2.1)]
    assert [(r["mu"], r["val_loss"]) for r in kt.scan_rows(rows, "key")] == [(1, 2.0), (2, 2.2)]
    assert [(r["log2_mu"], r["val_loss"]) for r in kt.scan_rows(rows, "value")] == [(0, 2.0), (-1, 2.3)]
    with pytest.raises(ValueError, match="scan='query'"):
        kt.scan_rows(rows, "query")


def test_best_multiplier_recovers_each_seeds_vertex():
    # Exact parabolas: the 5-point fit around the argmin returns the vertex exactly.
    rows = _scan(1, 0, 0.3) + _scan(1, 1, -0.1) + _scan(1, 2, 0.4) + _scan(4, 0, 1.2)
    table = {t["r"]: t for t in kt.best_multiplier(rows)}
    one = table[1]
    assert one["per_seed"] == pytest.approx({0: 0.3, 1: -0.1, 2: 0.4})
    assert one["log2_mu_star"] == pytest.approx(0.2)
    sd = math.sqrt(((0.1) ** 2 + (0.3) ** 2 + (0.2) ** 2) / 2)  # deviations from 0.2
    assert one["sd"] == pytest.approx(sd) and one["sem"] == pytest.approx(sd / math.sqrt(3))
    assert one["n_seeds"] == 3 and not one["at_edge"] and one["loss_star"] == pytest.approx(2.0)
    assert table[4]["n_seeds"] == 1 and math.isnan(table[4]["sd"])


def test_best_multiplier_flags_an_optimum_at_the_end_of_the_grid():
    table = kt.best_multiplier(_scan(16, 0, 5.0))
    assert table[0]["at_edge"] and table[0]["log2_mu_star"] == 3


def test_predicted_shifts_are_the_three_invariants():
    assert kt.predicted_shift("none", 16) == 0
    assert kt.predicted_shift("gqa", 4) == pytest.approx(math.log2(1.5))
    assert kt.predicted_shift("gqa", 16) == pytest.approx(math.log2(2.5))
    assert kt.predicted_shift("sqrt-r", 16) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="kv_factor='cbrt'"):
        kt.predicted_shift("cbrt", 4)


def test_multiplier_shifts_pair_seeds_and_cancel_a_common_seed_offset():
    # Each seed has its own offset (0.5, -0.4, 0.1) shared by both r; r = 16 sits 1.0 higher,
    # 1.1 and 0.9 in two seeds: paired shifts 1.0, 1.1, 0.9 (seed 2 at r = 16 is missing).
    rows = (_scan(1, 0, 0.5) + _scan(1, 1, -0.4) + _scan(1, 2, 0.1)
            + _scan(16, 0, 1.5) + _scan(16, 1, 0.7) + _scan(16, 3, 0.0))
    shifts = {s["r"]: s for s in kt.multiplier_shifts(rows)}
    assert shifts[1]["shift"] == 0 and shifts[1]["n_pairs"] == 3
    sixteen = shifts[16]
    assert sixteen["n_pairs"] == 2  # seeds 0 and 1 only
    assert sixteen["shift"] == pytest.approx(1.05)
    assert sixteen["sd"] == pytest.approx(math.sqrt(2 * 0.05**2))
    assert sixteen["pred_none"] == 0 and sixteen["pred_sqrt-r"] == pytest.approx(2.0)
    assert sixteen["pred_gqa"] == pytest.approx(math.log2(2.5))


def test_lr_shifts_share_r_one_between_factors():
    def curve(r, seed, vertex, kv_factor):
        return [_row(r, seed, 1.5 + 0.2 * (x - vertex) ** 2, lr=2.0**x, kv_factor=kv_factor)
                for x in (-10, -9, -8, -7, -6, -5)]

    rows = (curve(1, 0, -7.2, "none") + curve(1, 1, -7.0, "none")
            + curve(4, 0, -7.2, "none") + curve(4, 1, -7.0, "none")  # transfers
            + curve(4, 0, -7.7, "gqa") + curve(4, 1, -7.7, "gqa"))  # moves down by 0.5 and 0.7
    shifts = {(s["kv_factor"], s["r"]): s for s in kt.lr_shifts(rows)}
    assert shifts[("none", 4)]["shift"] == pytest.approx(0.0, abs=1e-9)
    assert shifts[("gqa", 4)]["shift"] == pytest.approx(-0.6)
    assert shifts[("gqa", 4)]["sd"] == pytest.approx(math.sqrt(2 * 0.1**2))
    assert shifts[("gqa", 1)]["shift"] == 0  # the shared reference
    optima = {(o["kv_factor"], o["r"]): o for o in kt.lr_optima_per_seed(kt.share_reference(rows))}
    assert optima[("sqrt-r", 1)]["log2_lr_star"] == pytest.approx(-7.1)
    assert ("sqrt-r", 4) not in optima


def test_multiplier_contrast_pairs_seeds_without_a_fit():
    # r = 1 vertex at 0: loss(mu=2) - loss(mu=1/2) = 0.1*(1 - 1) = 0; r = 16 vertex at 1:
    # 0.1*((1-1)^2 - (-1-1)^2) = -0.4 for every seed, whatever its offset.
    rows = (_scan(1, 0, 0.0) + _scan(1, 1, 0.0, offset=2.5)
            + _scan(16, 0, 1.0) + _scan(16, 1, 1.0, offset=1.7) + _scan(16, 2, 1.0))
    rows.append(_row(4, 0, float("nan"), multipliers="key=2,value=2"))
    rows.append(_row(4, 0, 2.0, multipliers="key=0.5,value=0.5"))
    table = {c["r"]: c for c in kt.multiplier_contrast(rows, high=2.0, low=0.5)}
    assert table[1]["mean"] == pytest.approx(0.0) and table[1]["n"] == 2
    assert table[16]["mean"] == pytest.approx(-0.4) and table[16]["sd"] == pytest.approx(0, abs=1e-12)
    assert table[16]["n"] == 3
    assert table[4]["n"] == 0 and table[4]["dropped"] == 1


def test_t_quantiles_match_scipy_where_installed():
    stats = pytest.importorskip("scipy.stats")
    for df, t in kt.T_975.items():
        assert t == pytest.approx(stats.t.ppf(0.975, df), abs=6e-4)


def test_confidence_interval_is_student_t_on_the_mean():
    values = [0.1, 0.5, 0.6]
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    low, high = kt.confidence_interval(mean, sd, 3)
    assert (high - low) / 2 == pytest.approx(4.303 * sd / math.sqrt(3))
    assert (low + high) / 2 == pytest.approx(mean)
    # df = 12 is not tabulated: the next smaller (10) is used, which is wider than the exact one
    assert kt.confidence_interval(0.0, 1.0, 13)[1] == pytest.approx(2.228 / math.sqrt(13))
    assert all(math.isnan(v) for v in kt.confidence_interval(0.3, math.nan, 1))
    with pytest.raises(ValueError, match="df=0"):
        kt._t_975(0)


def test_judge_separates_consistent_from_excluded_predictions():
    predictions = {"none": 0.0, "gqa": 1.32, "sqrt-r": 2.0}
    # mean 0.1, sem 0.1 (sd 0.1*sqrt(3)): interval 0.1 ± 0.43 holds 0 only
    verdict = kt.judge(0.1, 0.1 * math.sqrt(3), 3, predictions)
    assert verdict["consistent"] == ["none"] and verdict["excluded"] == ["gqa", "sqrt-r"]
    # a wide interval excludes nothing; a single value cannot exclude anything
    assert kt.judge(1.0, 1.0, 3, predictions)["excluded"] == []
    assert kt.judge(5.0, math.nan, 1, predictions)["consistent"] == list(predictions)


def test_multiplier_contrast_against_frozen_roles():
    rows = [_row(1, s, 2.0 + s / 10, multipliers="none") for s in range(3)]
    rows += [_row(1, s, 2.3 + s / 10 + 0.01 * s, multipliers="key=0,value=0") for s in range(3)]
    (cost,) = kt.multiplier_contrast(rows, 1.0, 0.0)
    assert cost["mean"] == pytest.approx(-0.31) and cost["n"] == 3  # loss(1) − loss(frozen)
    assert all(r["mu"] > 0 for r in kt.scan_rows(rows, "key+value"))  # fits never see μ = 0
    frozen = kt.scan_rows(rows, "key+value", frozen=True)
    assert sorted(r["log2_mu"] for r in frozen)[:3] == [-math.inf] * 3


def test_transfer_regret_is_the_loss_at_the_reference_optimum_minus_the_best_at_r():
    rows = []
    for seed in (0, 1):
        # r = 1: best at 2^-6 for seed 0, 2^-7 for seed 1
        rows += [_row(1, seed, 2.0 + abs(x - (-6 - seed)) * 0.1, lr=2.0**x) for x in (-8, -7, -6)]
        # r = 16: "none" best at 2^-6, "gqa" best at 2^-8 (a larger K/V factor moves it down)
        rows += [_row(16, seed, 2.5 + abs(x + 6) * 0.1, lr=2.0**x, kv_factor="none")
                 for x in (-8, -7, -6)]
        rows += [_row(16, seed, 2.45 + abs(x + 8) * 0.1, lr=2.0**x, kv_factor="gqa")
                 for x in (-8, -7, -6)]
    rows.append(_row(16, 0, math.nan, lr=2.0**-5, kv_factor="gqa"))  # a diverged run elsewhere
    own = {t["kv_factor"]: t for t in kt.transfer_regret(rows)}
    # against each factor's own best: seed 0 none 2.5 - 2.5, gqa 2.65 - 2.45; seed 1 none 2.6 - 2.5,
    # gqa 2.55 - 2.45
    assert own["none"]["mean"] == pytest.approx(0.05) and own["gqa"]["mean"] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="against='best'"):
        kt.transfer_regret(rows, against="best")
    table = {t["kv_factor"]: t for t in kt.transfer_regret(rows, against="any")}
    # seed 0 keeps 2^-6: none 2.5 - 2.45 = 0.05, gqa 2.65 - 2.45 = 0.2;
    # seed 1 keeps 2^-7: none 2.6 - 2.45 = 0.15, gqa 2.55 - 2.45 = 0.1
    assert table["none"]["mean"] == pytest.approx(0.1) and table["gqa"]["mean"] == pytest.approx(0.15)
    assert table["none"]["n"] == 2 and table["none"]["lr0"] == {0: 2**-6, 1: 2**-7}


def test_transferred_loss_differences_are_the_difference_of_regrets_against_the_best_of_all():
    rows = []
    for seed in range(3):
        for log2_lr in (-7, -6, -5):
            lr = 2.0**log2_lr
            rows.append({"seed": seed, "r": 1, "kv_factor": "none", "lr": lr,
                         "val_loss": 2.0 + 0.1 * (log2_lr + 6) ** 2 + 0.01 * seed})
            for factor, shift in (("none", 0.0), ("gqa", -1.0)):
                rows.append({"seed": seed, "r": 8, "kv_factor": factor, "lr": lr,
                             "val_loss": 2.1 + 0.1 * (log2_lr + 6 - shift) ** 2 + 0.02 * seed})
    got = kt.transferred_loss_differences(rows, "gqa")
    assert set(got) == {8} and sorted(got[8]) == [0, 1, 2]
    # at lr0 = 2^-6: gqa's loss has (0 + 1)^2 * 0.1 more than none's
    assert all(abs(v - 0.1) < 1e-12 for v in got[8].values())
    regret = {g["kv_factor"]: g["mean"] for g in kt.transfer_regret(rows, against="any")}
    assert statistics.fmean(got[8].values()) == pytest.approx(regret["gqa"] - regret["none"])


def test_interval_text_writes_the_student_t_interval_as_a_table_cell():
    # n = 4: t(3) = 3.182, so 0.5 ± 3.182 · 1/√4 = 0.5 ± 1.591
    assert kt.interval_text(0.5, 1.0, 4) == "[-1.09, +2.09]"
    assert kt.interval_text(0.5, 1.0, 1) == "–" and kt.interval_text(math.nan, 1.0, 4) == "–"


def test_shift_rows_judge_each_r_against_the_three_predictions():
    # r = 1 best at log2 mu = 0; r = 4 at 0.9, 1.0, 1.1 (mean shift 1.0, sd 0.1 over three pairs);
    # r = 16 beyond the grid's last point (x = 3), so at its edge.
    rows = [row for seed, v in enumerate((0.9, 1.0, 1.1))
            for row in _scan(1, seed, 0.0) + _scan(4, seed, v) + _scan(16, seed, 5.0)]
    table = {s["r"]: s for s in kt.shift_rows(rows, "key+value", "η₀")}
    assert sorted(table) == [4, 16]  # r = 1 is the reference, not a row
    four = table[4]
    assert (four["η"], four["scan"], four["pairs"]) == ("η₀", "key+value", 3)
    assert four["shift"] == pytest.approx(1.0) and four["sd"] == pytest.approx(0.1)
    # 1.0 ± 4.303 · 0.1/√3 = [0.75, 1.25]: holds log2 √4 = 1, not 0 (none) or log2 1.5 (gqa)
    assert four["95% interval"] == "[+0.75, +1.25]"
    assert four["consistent with"] == "sqrt-r" and not four["at edge"]
    assert four["_verdict"]["excluded"] == ["none", "gqa"]
    assert table[16]["at edge"] and table[16]["consistent with"] == "(edge: no verdict)"
    order = [(kt.ETA6, "key+value"), (kt.ETA7, "key+value"), (kt.ETA7, "key"), (kt.ETA7, "value")]
    assert [(s["η"], s["scan"], s["r"]) for s in kt.shift_table(rows, rows)] == [
        (eta, scan, r) for eta, scan in order for r in (4, 16)]


def _write_sweep(folder, name, lrs, multipliers=("",)):
    """A sweep file (seeds 0 and 1 at each lr and multiplier) and its stored runs, with
    val_loss = -log2(lr) / 10 + seed."""
    from gqa_mup_ref import runstore, sweep
    from gqa_mup_ref.train import RunResult

    grid = ", ".join(f"{{lr = {lr}, lr_multipliers = {{{m}}}}}" for lr in lrs for m in multipliers)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'results = "runs"\nparameterization = "mup"\nwidth = 16\nbase_width = 16\n'
                    f"kv_factor = \"none\"\nn_head = 4\nn_kv_head = 4\nsteps = 10\n[grid]\nseed = [0, 1]\n"
                    f"setting = [{grid}]\n")
    for config in sweep.load_sweep_config(path)[0]:
        loss = -math.log2(config.lr) / 10 + config.seed
        runstore.save_result(path.parent / "runs", RunResult(config, loss, loss, False, 10, 1.0))
    return path


def test_stored_rows_read_each_files_runs_once(tmp_path):
    _write_sweep(tmp_path, "a/sweep.toml", [2**-6, 2**-7])
    _write_sweep(tmp_path, "a/sweep_low.toml", [2**-7, 2**-8])  # shares its 2^-7 runs
    rows = kt.stored_rows(tmp_path, "a/sweep.toml", "a/sweep_low.toml")
    assert len(rows) == 6 and len({row["key"] for row in rows}) == 6
    assert sorted((row["log2_lr"], row["seed"], row["val_loss"]) for row in rows) == [
        (x, seed, -x / 10 + seed) for x in (-8, -7, -6) for seed in (0, 1)]


def test_chapter_rows_add_the_lr_sweeps_plain_run_at_2_to_the_minus_7_to_the_scan(tmp_path, monkeypatch):
    _write_sweep(tmp_path, "lr/sweep.toml", [2**-6, 2**-7])
    _write_sweep(tmp_path, "mult/sweep.toml", [2**-7], multipliers=('key = 2.0, value = 2.0',))
    monkeypatch.setattr(kt, "SWEEPS", {"small_lr": ("lr/sweep.toml",), "scan7": ("mult/sweep.toml",)})
    rows = kt.chapter_rows(tmp_path)
    assert len(rows["small_lr"]) == 4
    # the two mu = 2 runs, then the two seeds' mu = 1 runs at 2^-7 from the LR sweep
    assert sorted((row["lr_multipliers"], row["lr"]) for row in rows["scan7"]) == [
        ("key=2,value=2", 2**-7)] * 2 + [("none", 2**-7)] * 2
    # a scan that stored its own mu = 1 runs (the same runs) gets no second copy
    _write_sweep(tmp_path, "both/sweep.toml", [2**-7], multipliers=("", "key = 2.0, value = 2.0"))
    monkeypatch.setattr(kt, "SWEEPS", {"small_lr": ("lr/sweep.toml",), "scan7": ("both/sweep.toml",)})
    assert len(kt.chapter_rows(tmp_path)["scan7"]) == 4
