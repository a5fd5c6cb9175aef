"""The command line: the `rules --json` contract, and one-line errors."""

import json
import math
import subprocess
import sys

import pytest

from gqa_mup_ref.cli import main

CONTRACT = ["rules", "--param", "gqa-mup", "--width", "1024", "--base-width", "256", "--depth", "8",
            "--heads", "16", "--kv-heads", "4", "--json"]
ROLES = ["embedding", "query", "key", "value", "attn_out", "mlp_in", "mlp_out", "unembedding", "norm"]


def test_contract_command_prints_one_json_object():
    out = subprocess.run([sys.executable, "-m", "gqa_mup_ref", *CONTRACT], capture_output=True,
                         text=True, check=True).stdout
    data = json.loads(out)
    assert set(ROLES) <= set(data["groups"])
    for role in ROLES:
        for field in ("lr_factor", "wd_factor", "init_std", "multiplier"):
            assert isinstance(data["groups"][role][field], (int, float)), (role, field)
    # science.md §4 at m = 4, r = 4, L = 8, d = 64, σ₀ = 0.02:
    assert data["groups"]["key"]["lr_factor"] == pytest.approx(1.5 / 4)
    assert data["groups"]["value"]["wd_factor"] == pytest.approx(4 / 1.5)
    assert data["groups"]["query"]["init_std"] == pytest.approx(0.02 / 2)
    assert data["groups"]["unembedding"]["multiplier"] == pytest.approx(0.25)
    assert data["attention_scale"] == pytest.approx(1 / 64)
    assert data["residual_multiplier"] == pytest.approx(1 / 8)


def test_base_init_std_scales_init_only(capsys):
    main(CONTRACT + ["--base-init-std", "0.04"])
    data = json.loads(capsys.readouterr().out)
    assert data["groups"]["embedding"]["init_std"] == pytest.approx(0.04)
    assert data["groups"]["key"]["lr_factor"] == pytest.approx(0.375)


def test_table_output(capsys):
    assert main(["rules", "--param", "sp", "--width", "256", "--depth", "2", "--heads", "4",
                 "--kv-heads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sp (kv_factor=none")
    assert f"attention_scale = {1 / math.sqrt(64):.6g}" in out


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"--kv-heads": "5"}, "n_head=16 is not divisible by n_kv_head=5; choose n_kv_head in"),
        ({"--width": "1000"}, "width=1000 is not divisible by n_head=16"),
        ({"--depth": "0"}, "depth=0 must be a positive integer"),
        ({"--width": "-1024"}, "width=-1024 must be a positive integer"),
        ({"--param": "ntk"}, "invalid choice: 'ntk' (choose from 'sp', 'mup', 'gqa-mup'"),
        ({"--heads": "many"}, "argument --heads: invalid int value: 'many'"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_value(changes, message, capsys):
    argv = list(CONTRACT)
    for flag, value in changes.items():
        argv[argv.index(flag) + 1] = value
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_rules_and_sweep_bookkeeping_load_without_torch():
    """`rules` and the rerun of a finished sweep stay fast (< 2 s) because they never import torch."""
    code = ("import sys, gqa_mup_ref.cli, gqa_mup_ref.sweep, gqa_mup_ref.config; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- help, version, rules bounds


def test_help_lists_every_command_on_one_line_and_version_exists():
    out = subprocess.run([sys.executable, "-m", "gqa_mup_ref", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert '"""' not in out and "Command line of" not in out  # no raw docstring
    lines = out.splitlines()
    for command in ("rules", "sweep", "report", "coordcheck"):
        (line,) = [x for x in lines if x.strip().startswith(command + " ")]
        assert len(line.split()) > 3  # its help is on the same line
    version = subprocess.run([sys.executable, "-m", "gqa_mup_ref", "--version"], capture_output=True,
                             text=True, check=True).stdout
    from gqa_mup_ref import __version__

    assert version.strip() == f"python -m gqa_mup_ref {__version__}"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"--width": str(10**12)}, "--width=1000000000000 is larger than 1048576"),
        ({"--base-width": str(2**21)}, "--base-width=2097152 is larger than 1048576"),
        ({"--base-init-std": "inf"}, "--base-init-std=inf must be a finite number in (0, 1]"),
        ({"--base-init-std": "0"}, "--base-init-std=0.0 must be a finite number in (0, 1]"),
        ({"--width": "16"}, "head dim = --width / --heads = 1 is below 2; use fewer heads"),
    ],
)
def test_rules_bounds_its_inputs(changes, message, capsys):
    argv = list(CONTRACT) + ["--base-init-std", "0.02"]
    for flag, value in changes.items():
        argv[argv.index(flag) + 1] = value
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_rules_says_which_base_width_it_used_on_stderr(capsys):
    argv = [a for a in CONTRACT if a not in ("--base-width", "256")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["groups"]["key"]["lr_factor"] == pytest.approx(1.5)  # m = 1
    assert "--base-width not given; using the model's width 1024" in captured.err
    main(CONTRACT)
    assert capsys.readouterr().err == ""


def test_cpu_torch_index_is_documented_but_never_used_by_ci_or_the_default_install():
    """CI and `pip install -e .` use the registry alone; only Binder's environment.yml (GPU-less, online) adds the
    CPU wheel index (tests/test_packaging.py)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    url = "download.pytorch.org/whl/cpu"
    assert f"pip install torch --index-url https://{url}" in (root / "README.md").read_text()
    for name in (".ci/run", "pyproject.toml"):
        path = root / name
        assert not path.exists() or url not in path.read_text(), name
