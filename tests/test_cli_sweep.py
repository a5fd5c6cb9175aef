"""The sweep, report and coordcheck commands: what a user sees, and errors before anything is made."""

import json
import os
import subprocess
import sys

import pytest
import torch

from gqa_mup_ref import sweep
from gqa_mup_ref.cli import main

TINY = dict(width=32, base_width=32, depth=1, n_head=2, n_kv_head=1, steps=5, batch_size=4,
            context_length=16, eval_batches=2)


def write_config(tmp_path, grid="log2_lr = [-9, -7, -5, -3]\nseed = [0, 1]\n", name="tiny.toml"):
    lines = [f"{k} = {v}" for k, v in TINY.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n[grid]\n" + grid)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 8-run sweep (4 LRs × 2 seeds), its config and the command's output."""
    folder = tmp_path_factory.mktemp("finished")
    path = write_config(folder)
    out = subprocess.run([sys.executable, "-m", "gqa_mup_ref", "sweep", "--config", str(path),
                          "--workers", "1", "--quiet"], capture_output=True, text=True,
                         env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    return path, folder / "tiny-results", out.stdout


def test_sweep_ends_with_the_table_and_the_optimum(finished):
    _, results, out = finished
    assert "8 runs: 8 done now" in out
    assert "val_loss per grid point over seeds (mean ± sd, sem, n" in out
    table = out[out.index("per grid point"):out.index("fitted optimum")]
    rows = [line for line in table.splitlines()[1:] if "±" in line]
    assert len(rows) == 4 and all(line.split()[-2] == "2" for line in rows)  # n = 2 seeds each
    assert "fitted optimum per setting" in out and "log2_lr*" in out
    assert out.rstrip().endswith(f"results in {results}")


def test_report_prints_the_same_for_a_folder_and_draws_it(finished, tmp_path, capsys):
    path, results, out = finished
    assert main(["report", str(results), "--plot", str(tmp_path / "lr.png"),
                 "--csv", str(tmp_path / "runs.csv")]) == 0
    report = capsys.readouterr().out
    start = out.index("8 runs;")
    assert report.startswith(out[start:out.index("results in")].strip())
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert len((tmp_path / "runs.csv").read_text().splitlines()) == 1 + 8
    # the numbers are the stored ones: mean of the two seeds at the first LR
    records = [r for r in sweep.load_records(results) if r["config"]["lr"] == 2**-9]
    mean = sum(r["val_loss"] for r in records) / 2
    assert f"{mean:.4f} ±" in report


def test_report_of_a_missing_folder_or_bad_plot_name_is_one_line(tmp_path, finished, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(finished[1]), "--plot", str(tmp_path / "fig.gif")]) == 2
    assert "use .png, .pdf or .svg" in capsys.readouterr().err


def test_non_records_are_ignored_by_dry_run_run_and_report_and_listed_once(tmp_path, capsys):
    path = write_config(tmp_path, grid="log2_lr = [-9]\n")
    results = tmp_path / "tiny-results"
    results.mkdir()
    (results / "notes.json").write_text('{"note": "mine"}')
    for argv in (["sweep", "--config", str(path), "--dry-run"],
                 ["sweep", "--config", str(path), "--workers", "1", "--quiet"],
                 ["report", str(results)]):
        assert main(argv) == 0, argv
        err = capsys.readouterr().err
        assert err.count("notes.json") == 1 and "not run records" in err, (argv, err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_device_cuda_without_a_gpu_fails_before_anything_is_created(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["sweep", "--config", str(path), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device=cuda but no CUDA GPU is available here" in err and "--device cpu" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "tiny-results").exists()


def test_device_gpu_lists_the_choices(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["sweep", "--config", str(path), "--device", "gpu", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--device='gpu' is not a device; choose one of cpu, cuda, auto" in err
    assert not (tmp_path / "tiny-results").exists()


def test_fixed_field_error_names_field_and_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("n_head = 5\nn_kv_head = 4\nwidth = 40\n[grid]\nlog2_lr = [-8, -7]\n")
    assert main(["sweep", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "fixed fields" in err and "n_head=5" in err
    assert "grid point" not in err and len(err.strip().splitlines()) == 1


def test_coordcheck_over_kv_heads_writes_figure_table_and_slopes(tmp_path, capsys):
    prefix = tmp_path / "cc"
    assert main(["coordcheck", "--vary", "n_kv_head", "--width", "32", "--base-width", "32",
                 "--heads", "4", "--depth", "1", "--steps", "1", "--out", str(prefix)]) == 0
    out = capsys.readouterr().out
    assert "log-log slope of act_rms against n_kv_head" in out
    csv = (tmp_path / "cc.csv").read_text().splitlines()
    assert csv[0].startswith("vary,x,") and len(csv) > 10
    assert {line.split(",")[1] for line in csv[1:]} == {"1", "2", "4"}  # every divisor of 4
    slopes = json.loads((tmp_path / "cc-slopes.json").read_text())
    assert slopes["vary"] == "n_kv_head" and slopes["values"] == [1, 2, 4] and slopes["slopes"]
    assert (tmp_path / "cc.png").stat().st_size > 1000


def test_coordcheck_bad_values_are_one_line(tmp_path, capsys):
    assert main(["coordcheck", "--values", "64,x", "--out", str(tmp_path / "c")]) == 2
    assert "--values='64,x' must be comma-separated integers" in capsys.readouterr().err
    assert main(["coordcheck", "--values", "30", "--out", str(tmp_path / "c")]) == 2
    assert "width=30 is not divisible by n_head=4" in capsys.readouterr().err
