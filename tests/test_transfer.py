"""The transfer calculator and name-based parameter groups, against hand-computed rules."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gqa_mup_ref.cli import main
from gqa_mup_ref.parameterization import PARAMETERIZATIONS, Shape, get_parameterization
from gqa_mup_ref.shapes import parse_inline_spec, parse_shape, read_shape, shape_from_config
from gqa_mup_ref.param_roles import param_groups_by_name, roles_by_name
from gqa_mup_ref.transfer import BOOK_TESTED_R, KV_EVIDENCE, absolute_values, transfer

PROXY = "width=256,heads=4,kv_heads=2,depth=4"  # r = 2, d = 64
TARGET = "width=4096,heads=32,kv_heads=8,depth=32"  # r = 4, d = 128 (an 8B-like shape)
ETA, LAM, SIGMA = 0.01, 0.1, 0.02


def c(r, rho=1.0):
    """GQA-μP key/value factor, written out: (√ρ + √r) / (√ρ + 1)."""
    return (math.sqrt(rho) + math.sqrt(r)) / (math.sqrt(rho) + 1)


# ----------------------------------------------------------------------------- the calculator


@pytest.mark.parametrize("param", list(PARAMETERIZATIONS))
@pytest.mark.parametrize("base", [(None, None), (128, 1)])
def test_transferring_the_proxy_to_itself_returns_its_own_values(param, base):
    result = transfer(PROXY, PROXY, ETA, LAM, SIGMA, param=param, base_width=base[0],
                      base_depth=base[1])
    assert result.groups == result.proxy_groups
    assert result.attention_scale == result.proxy_rules.attention_scale
    assert result.residual_multiplier == result.proxy_rules.residual_multiplier
    assert result.notes == ()


def test_proxy_values_at_its_own_base_are_the_rule_table_at_m_1():
    g = transfer(PROXY, TARGET, ETA, LAM, SIGMA).proxy_groups
    assert g["query"] == pytest.approx(
        {"lr": ETA, "weight_decay": LAM, "init_std": SIGMA, "multiplier": 1.0}
        | ({"eps": 1e-8 / 4} if "eps" in g["query"] else {}))  # ε/(m·m_L), m_L = 4/1
    assert g["key"]["lr"] == pytest.approx(ETA * (1 + math.sqrt(2)) / 2)
    assert g["key"]["weight_decay"] == pytest.approx(LAM * 2 / (1 + math.sqrt(2)))


def test_ratios_target_over_proxy_follow_the_rule_table():
    result = transfer(PROXY, TARGET, ETA, LAM, SIGMA)
    t, p = result.groups, result.proxy_groups
    m, m_L = 4096 / 256, 32 / 4
    for role in ("query", "attn_out", "mlp_in", "mlp_out"):
        assert t[role]["lr"] / p[role]["lr"] == pytest.approx(1 / m)
        assert t[role]["weight_decay"] / p[role]["weight_decay"] == pytest.approx(m)
        assert t[role]["init_std"] == pytest.approx(SIGMA / math.sqrt(m))
    for role in ("key", "value"):
        assert t[role]["lr"] == pytest.approx(ETA * c(4) / m)
        assert t[role]["lr"] / p[role]["lr"] == pytest.approx(c(4) / c(2) / m)
        assert t[role]["lr"] * t[role]["weight_decay"] == pytest.approx(ETA * LAM)  # η·λ invariant
    # the embedding keeps everything but Adam ε, which CompleteP shrinks like the gradient (1/m)
    assert {k: v for k, v in t["embedding"].items() if k != "eps"} == \
        {k: v for k, v in p["embedding"].items() if k != "eps"}
    assert t["embedding"]["eps"] / p["embedding"]["eps"] == pytest.approx(1 / m)
    assert t["unembedding"]["multiplier"] == pytest.approx(1 / m)
    assert t["unembedding"]["lr"] == ETA
    assert t["norm"]["lr"] == ETA  # α = 1: m_L^(α-1) = 1
    assert result.attention_scale == pytest.approx(1 / 128)
    assert result.residual_multiplier == pytest.approx(1 / 32)  # base depth 1: 1/L
    assert result.residual_multiplier / result.proxy_rules.residual_multiplier == pytest.approx(1 / m_L)


def test_general_head_dim_uses_rho_in_the_key_value_factor_and_w_o_its_own_fan_in():
    result = transfer(PROXY, "width=3072,heads=16,kv_heads=8,depth=28,head_dim=256", ETA, LAM, SIGMA)
    rho = 16 * 256 / 3072
    assert result.groups["key"]["lr"] == pytest.approx(ETA * c(2, rho) * 256 / 3072)
    assert result.attention_scale == pytest.approx(1 / 256)
    # W_O's fan-in n_q grew from 256 to 4096 (16x) while n grew 12x: its LR follows n_q
    assert result.groups["attn_out"]["lr"] == pytest.approx(ETA * 256 / 4096)
    assert result.groups["attn_out"]["init_std"] == pytest.approx(SIGMA / math.sqrt(4096 / 256))
    assert result.groups["attn_out"]["weight_decay"] == pytest.approx(LAM * 4096 / 256)
    assert result.groups["query"]["lr"] == pytest.approx(ETA * 256 / 3072)  # fan-in n
    assert result.target_rules.groups["attn_out"].lr_factor == pytest.approx(256 / 4096)
    assert any("rho = n_q/n differs" in note and "0.75 x the LR" in note for note in result.notes)
    same = transfer("width=192,heads=4,kv_heads=2,depth=4,head_dim=64",
                    "width=3072,heads=16,kv_heads=8,depth=28,head_dim=256", ETA)  # rho 4/3 in both
    assert not any("rho" in note for note in same.notes)
    assert same.groups["attn_out"]["lr"] == pytest.approx(same.groups["query"]["lr"])


def test_base_depth_moves_the_residual_multiplier_but_not_the_learning_rates():
    own = transfer(PROXY, TARGET, ETA, base_depth=4)
    one = transfer(PROXY, TARGET, ETA)  # the default: base depth 1
    assert one.proxy_rules.residual_multiplier == pytest.approx(1 / 4)
    assert one.residual_multiplier == pytest.approx(1 / 32)
    assert own.proxy_rules.residual_multiplier == 1.0
    assert {r: g["lr"] for r, g in own.groups.items()} == {r: g["lr"] for r, g in one.groups.items()}


def test_default_depth_convention_is_the_training_loops_residual_one_over_L():
    # A proxy of depth 4 trained the package's way (RunConfig.base_depth = 1) had residual 1/4 and
    # in-block Adam eps / 4; a 28-layer target needs 1/28 and eps / (m * 28), m = 3584 / 256.
    from gqa_mup_ref.config import RunConfig

    assert RunConfig().base_depth == 1
    result = transfer(PROXY, "width=3584,heads=28,kv_heads=4,depth=28", ETA, eps=1e-8)
    assert result.proxy_rules.residual_multiplier == pytest.approx(1 / 4)
    assert result.residual_multiplier == pytest.approx(1 / 28)
    assert result.groups["mlp_out"]["eps"] == pytest.approx(1e-8 / (3584 / 256 * 28))
    assert "the proxy is assumed trained with residual multiplier 0.25" in result.assumption
    assert "--base-depth 4" in result.assumption
    own = transfer(PROXY, TARGET, ETA, base_depth=4)
    assert "residual multiplier 1 " in own.assumption and "--base-depth 1" in own.assumption


def test_a_shape_proxy_keeps_its_base_width_and_depth():
    # The width-transfer sweep's models (base width 128, base depth 1): without passing the base,
    # the calculator must give the n = 256 model the LRs it trained with, eta * 128 / 256.
    from gqa_mup_ref.config import RunConfig

    proxy = RunConfig(width=64, n_head=4, n_kv_head=1, depth=2).shape
    target = RunConfig(width=256, n_head=16, n_kv_head=4, depth=2).shape
    result = transfer(proxy, target, ETA)
    assert result.groups["query"]["lr"] == pytest.approx(ETA * 128 / 256)
    assert result.groups["key"]["lr"] == pytest.approx(ETA * c(4) * 128 / 256)
    assert result.residual_multiplier == pytest.approx(1 / 2)
    assert result.target.base_width == 128 and result.target.base_depth == 1
    with pytest.raises(ValueError, match=r"target: base_width=100, base_depth=1 differ from the "
                                         r"proxy's base \(128, 1\)"):
        transfer(proxy, Shape(256, 2, 16, 4, base_width=100), ETA)


@pytest.mark.parametrize("kv_factor", ["none", "gqa", "sqrt-r", "inv-sqrt-r", "keep"])
def test_every_key_value_choice_transfers_the_proxy_to_itself(kv_factor):
    result = transfer(PROXY, PROXY, ETA, LAM, kv_factor=kv_factor)
    for role, values in result.groups.items():
        assert values == pytest.approx(result.proxy_groups[role]), role


@pytest.mark.parametrize(
    "kv_factor, proxy_factor, target_factor",
    [
        (None, c(2), c(4)),  # gqa-mup's own
        ("none", 1.0, 1.0),
        ("sqrt-r", math.sqrt(2), 2.0),
        ("inv-sqrt-r", 1 / math.sqrt(2), 0.5),
        ("keep", c(2), c(2)),  # the proxy's own ratio, at the target's r = 4
    ],
)
def test_kv_factor_sets_the_key_value_to_hidden_ratio(kv_factor, proxy_factor, target_factor):
    result = transfer(PROXY, TARGET, ETA, LAM, kv_factor=kv_factor)  # r: 2 -> 4, m = 16
    for role in ("key", "value"):
        assert result.proxy_groups[role]["lr"] == pytest.approx(ETA * proxy_factor)
        assert result.groups[role]["lr"] == pytest.approx(ETA * target_factor / 16)
        assert result.groups[role]["weight_decay"] == pytest.approx(LAM * 16 / target_factor)
    assert result.groups["query"]["lr"] == pytest.approx(ETA / 16)
    assert result.kv_factor == (kv_factor or "gqa")


def test_a_change_of_r_gets_the_books_evidence_and_a_range_warning():
    changed = transfer(PROXY, TARGET, ETA)  # r 2 -> 4 at d = 128: inside the tested r
    [note] = [n for n in changed.notes if n.startswith("r changes from 2 (proxy) to 4 (target)")]
    assert KV_EVIDENCE in note and f"{c(2):.4g} to {c(4):.4g} x the hidden LR" in note
    assert f"c(r_target)/c(r_proxy) = {c(4) / c(2):.3g}" in note and f"and {c(4) / c(2):.3g} times it" in note
    assert f"within a factor {math.sqrt(c(4) / c(2)):.3g} of either" in note
    assert not any("beyond the range" in n for n in changed.notes)
    assert any("head dim 128 is above the largest the book tested across r (32)" in n for n in changed.notes)
    mqa = transfer(PROXY, "width=4096,heads=32,kv_heads=1,depth=32", ETA)  # r = 32 at d = 128
    assert any("r = 32 (head dim 128) is beyond the range the book tested" in n for n in mqa.notes)
    assert not transfer(PROXY, "width=1024,heads=16,kv_heads=8,depth=8", ETA).notes  # r = 2 kept
    # the tested range: r <= 16 at head dim 4, r <= 8 at head dim 32 (and above)
    assert BOOK_TESTED_R == {4: 16, 32: 8}
    small = transfer("width=64,heads=16,kv_heads=16,depth=2", "width=64,heads=16,kv_heads=1,depth=2", ETA)
    assert not any("beyond" in n for n in small.notes)  # r = 16 at d = 4
    wide = transfer("width=256,heads=8,kv_heads=8,depth=2", "width=512,heads=16,kv_heads=1,depth=2", ETA)
    assert any("r = 16 (head dim 32) is beyond" in n for n in wide.notes)


def test_the_evidence_sentence_matches_chapter_5s_passing_checks():
    """KV_EVIDENCE paraphrases checks of chapter 5; if their committed outputs change, reword it."""
    book = Path(__file__).resolve().parents[1] / "book" / "ch05_2_the_evidence.ipynb"
    outputs = "".join(text for cell in json.loads(book.read_text())["cells"]
                      for out in cell.get("outputs", []) for text in out.get("text", []))
    assert "decisive experiment (d = 32, r = 1 -> 8, 12 seeds): gqa's predicted shift excluded, none's not, " \
        "direct comparison towards none (case 1)" in outputs
    assert "direct comparisons: no gqa-vs-none comparison resolved at either scale; sqrt-r resolved worse " \
        "than none at d = 32 -> PASS" in outputs
    assert "head dim 32 (r = 1 -> 8, 12 seeds, 400 steps), the c(r) (gqa) factor's predicted shift" in KV_EVIDENCE
    assert "plain muP's (none: no shift) is not" in KV_EVIDENCE and "only with 3 of the 12 seeds" in KV_EVIDENCE
    assert "sqrt(r) (sqrt-r) is excluded at both scales tested" in KV_EVIDENCE


def test_sp_transfers_nothing_but_the_attention_scale():
    result = transfer(PROXY, TARGET, ETA, LAM, param="sp")
    assert result.groups == result.proxy_groups
    assert result.attention_scale == pytest.approx(1 / math.sqrt(128))


def test_a_larger_proxy_is_allowed_with_a_note():
    result = transfer(TARGET, PROXY, ETA)
    assert result.groups["query"]["lr"] == pytest.approx(ETA * 16)
    assert any("larger than the target" in note for note in result.notes)


def test_absolute_values_follow_every_factor_field_of_a_rule():
    @dataclasses.dataclass(frozen=True)
    class RuleWithEps:
        init_std: float
        lr_factor: float
        wd_factor: float
        multiplier: float
        eps_factor: float

    values = absolute_values(RuleWithEps(0.01, 0.5, 2.0, 1.0, 0.25), lr=0.1, weight_decay=0.3,
                             eps=1e-8)
    assert values == pytest.approx({"init_std": 0.01, "lr": 0.05, "weight_decay": 0.6,
                                    "multiplier": 1.0, "eps": 2.5e-9})


# ----------------------------------------------------------------------------- parsing shapes


def write(tmp_path, text, name="config.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hf_config_is_read_and_other_keys_ignored(tmp_path):
    config = {"hidden_size": 3072, "num_attention_heads": 16, "num_key_value_heads": 8,
              "num_hidden_layers": 28, "head_dim": 256, "vocab_size": 256000, "rope_theta": 1e4}
    shape = shape_from_config(write(tmp_path, json.dumps(config)))
    assert (shape.width, shape.n_head, shape.n_kv_head, shape.depth, shape.head_dim) == (
        3072, 16, 8, 28, 256)
    assert shape.query_width == 4096


def test_hf_config_defaults_kv_heads_to_heads_and_head_dim_to_width_over_heads(tmp_path):
    path = write(tmp_path, '{"hidden_size": 768, "num_attention_heads": 12, '
                           '"num_hidden_layers": 12, "head_dim": null}')
    shape = parse_shape(str(path))
    assert (shape.n_kv_head, shape.r, shape.head_dim) == (12, 1, 64)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"hidden_size": 768, "num_attention_heads": 12}', "missing key 'num_hidden_layers'"),
        ('{"hidden_size": "768", "num_attention_heads": 12, "num_hidden_layers": 2}',
         "hidden_size='768' must be a positive integer"),
        ('{"hidden_size": 768.0, "num_attention_heads": 12, "num_hidden_layers": 2}',
         "hidden_size=768.0 must be a positive integer"),
        ('{"hidden_size": 768, "num_attention_heads": 12, "num_key_value_heads": 5, '
         '"num_hidden_layers": 2}',
         "num_attention_heads=12 is not divisible by num_key_value_heads=5; choose "
         "num_key_value_heads in {1, 2, 3, 4, 6, 12}"),
        ('{"hidden_size": 770, "num_attention_heads": 12, "num_hidden_layers": 2}',
         "hidden_size=770 is not divisible by num_attention_heads=12"),
        ('{"hidden_size": 1000000000, "num_attention_heads": 8, "num_hidden_layers": 2}',
         "hidden_size=1000000000 is larger than 1048576"),
        ('{"hidden_size": 64, "num_attention_heads": 8, "num_hidden_layers": 2, "head_dim": 1}',
         "head_dim=1 is below 2"),
        ('{"hidden_size": 768,\n "num_attention_heads": 12\n "num_hidden_layers": 2}',
         "config.json:3:2: invalid JSON"),
        ('[768, 12]', "expected a JSON object"),
        ('{"text_config": {"hidden_size": 768}}', "found under 'text_config'"),
    ],
)
def test_bad_config_is_refused_naming_file_and_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as error:
        shape_from_config(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_a_model_folder_is_read_through_its_config_json(tmp_path):
    write(tmp_path, '{"hidden_size": 896, "num_attention_heads": 14, "num_key_value_heads": 2, '
                    '"num_hidden_layers": 24}')
    assert shape_from_config(tmp_path) == Shape(896, 24, 14, 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="a folder without a config.json"):
        parse_shape(str(empty))


def test_a_missing_num_key_value_heads_is_r_1_with_a_note(tmp_path):
    path = write(tmp_path, '{"hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 2}')
    shape, notes = read_shape(path)
    assert shape.r == 1
    [note] = notes
    assert "no 'num_key_value_heads'" in note and "Hugging Face's own default" in note
    assert note in transfer(PROXY, path, ETA).notes


FALCON = '"hidden_size": 512, "num_attention_heads": 8, "num_hidden_layers": 2'


@pytest.mark.parametrize(
    "extra, kv_heads, note",
    [
        ('"multi_query": true', 1, "multi_query=true read as one key/value head"),
        ('"multi_query": false', 8, None),
        ('"new_decoder_architecture": true, "multi_query": true, "num_kv_heads": 2', 2, None),
        ('"num_kv_heads": 4', 4, None),
        ('"num_key_value_heads": 4, "num_kv_heads": 4', 4, None),
    ],
)
def test_falcon_style_key_value_heads_are_read_as_transformers_reads_them(tmp_path, extra, kv_heads, note):
    shape, notes = read_shape(write(tmp_path, "{" + FALCON + ", " + extra + "}"))
    assert shape.n_kv_head == kv_heads
    assert (note is None and not notes) or (note is not None and note in notes[0])


@pytest.mark.parametrize(
    "extra, message",
    [
        ('"num_key_value_heads": 4, "num_kv_heads": 2', "num_key_value_heads=4 and num_kv_heads=2 disagree"),
        ('"num_kv_heads": 3', "num_attention_heads=8 is not divisible by num_kv_heads=3"),
        ('"multi_query": "yes"', "multi_query='yes' must be true or false"),
    ],
)
def test_falcon_style_keys_that_cannot_be_read_are_refused_by_name(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        read_shape(write(tmp_path, "{" + FALCON + ", " + extra + "}"))


def test_tied_embeddings_get_a_note_stating_the_shared_rule(tmp_path):
    path = write(tmp_path, "{" + FALCON + ', "num_key_value_heads": 2, "tie_word_embeddings": true}')
    [note] = read_shape(path)[1]
    assert "tie_word_embeddings=true: the one shared matrix takes the embedding row" in note


def test_unreadable_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        parse_shape(str(tmp_path / "missing.json"))


def test_inline_spec_with_head_dim():
    shape = parse_inline_spec("width=256, heads=4, kv_heads=2, depth=4, head_dim=32")
    assert shape == Shape(256, 4, 4, 2, head_dim=32)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("width=256,heads=4,depth=4,layers=2", "'layers=2' is not one of"),
        ("width=256,heads=4", "missing depth"),
        ("width=256,heads=four,depth=2", "heads='four' must be a positive integer"),
        ("width=256,heads=4,depth=0", "depth=0 must be a positive integer"),
        ("width=256,heads=4,depth=2,depth=3", "depth is given twice"),
        ("width=250,heads=4,depth=2", "width=250 is not divisible by heads=4"),
        ("width=256,heads=6,kv_heads=4,depth=2,head_dim=64", "heads=6 is not divisible by kv_heads=4"),
        ("width=8,heads=8,depth=2", "head dim = width / heads = 1 is below 2"),
    ],
)
def test_bad_inline_spec_is_refused(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_inline_spec(spec)


# ----------------------------------------------------------------------------- command line


def run_cli(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr()


def test_cli_json_is_one_object_with_the_contract_keys(capsys):
    status, out = run_cli(["transfer", "--proxy", PROXY, "--target", TARGET, "--lr", "0.01",
                           "--weight-decay", "0.1", "--json"], capsys)
    assert status == 0
    data = json.loads(out.out)
    assert {"groups", "attention_scale", "residual_multiplier", "proxy", "target",
            "parameterization"} <= set(data)
    assert data["parameterization"] == "gqa-mup" and data["kv_factor"] == "gqa"
    assert data["assumption"].startswith("the proxy is assumed trained with residual multiplier 0.25")
    assert data["base"]["base_depth"] == 1 and data["residual_multiplier"] == pytest.approx(1 / 32)
    assert data["target"]["width"] == 4096 and data["proxy"]["base_width"] == 256
    for values in data["groups"].values():
        assert {"lr", "weight_decay", "init_std", "multiplier"} <= set(values)
    assert data["groups"]["key"]["lr"] == pytest.approx(0.01 * 1.5 / 16)


def test_cli_table_and_note_on_stderr(capsys):
    status, out = run_cli(["transfer", "--proxy", TARGET, "--target", PROXY, "--lr", "0.01"], capsys)
    assert status == 0
    assert out.out.startswith("gqa-mup: base values tuned on the proxy: lr=0.01")
    assert out.out.splitlines()[1].strip().startswith("the proxy is assumed trained with residual "
                                                       "multiplier 0.03125")  # 1/32
    assert "attention_scale = 0.015625" in out.out
    assert out.err.startswith("note: the proxy is larger than the target")


@pytest.mark.parametrize(
    "changes, message",
    [
        (["--param", "ntk"], "invalid choice: 'ntk'"),
        (["--target", "width=4096,heads=32,kv_heads=5,depth=32"], "kv_heads=5; choose kv_heads"),
        (["--lr", "-1"], "lr=-1.0 must be positive"),
        (["--lr", "inf"], "lr=inf must be positive, finite"),
        (["--lr", "nan"], "lr=nan must be positive, finite"),
        (["--lr", "2"], "lr=2.0 must be positive, finite and at most 1"),
        (["--weight-decay", "inf"], "weight_decay=inf must be finite"),
        (["--weight-decay", "-0.1"], "weight_decay=-0.1 must be finite and at least 0"),
        (["--lr", "0.5", "--weight-decay", "2"], "lr x weight_decay = 0.5 x 2 = 1 is at least 1"),
        (["--init-std", "inf"], "init_std=inf must be positive, finite and at most 1"),
        (["--init-std", "5"], "init_std=5.0 must be positive, finite and at most 1"),
        (["--eps", "inf"], "eps=inf must be positive, finite and at most 0.01"),
        (["--eps", "0"], "eps=0.0 must be positive"),
        (["--target", "width=1000000000,heads=8,depth=2"], "width=1000000000 is larger than"),
        (["--target", "width=64,heads=8,depth=100000"], "depth=100000 is larger than 16384"),
        (["--target", "width=64,heads=8,depth=2,head_dim=1"], "head_dim=1 is below 2"),
        (["--base-width", "4194304"], "base_width=4194304 is larger than 1048576"),
        (["--base-depth", "0"], "base_depth=0 must be a positive integer"),
        (["--param", "sp", "--kv-factor", "gqa"], "sp has no width, depth or key/value scaling"),
        (["--target", "no_such_config.json"], "no_such_config.json: cannot read"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(changes, message, capsys):
    argv = ["transfer", "--proxy", PROXY, "--target", TARGET, "--lr", "0.01", *changes]
    status, out = run_cli(argv, capsys)
    assert status == 2
    assert message in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_transfer_command_does_not_import_torch():
    """`transfer` answers in well under a second because it never loads torch."""
    code = ("import sys, contextlib, io; from gqa_mup_ref.cli import main; "
            "out = io.StringIO(); ctx = contextlib.redirect_stdout(out); ctx.__enter__(); "
            f"status = main(['transfer', '--proxy', '{PROXY}', '--target', '{TARGET}', "
            "'--lr', '0.01', '--json']); ctx.__exit__(None, None, None); "
            "print(status, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 False"


# ----------------------------------------------------------------------------- your own model


def tiny_llama(width=64, heads=4, kv_heads=2, layers=2, vocab=32, bias=False):
    """Only names and sizes matter here: a module tree named like Hugging Face's Llama."""
    import torch.nn as nn

    d = width // heads
    block = lambda: nn.ModuleDict({  # noqa: E731
        "self_attn": nn.ModuleDict({
            "q_proj": nn.Linear(width, heads * d, bias=bias),
            "k_proj": nn.Linear(width, kv_heads * d, bias=bias),
            "v_proj": nn.Linear(width, kv_heads * d, bias=bias),
            "o_proj": nn.Linear(heads * d, width, bias=False),
        }),
        "mlp": nn.ModuleDict({
            "gate_proj": nn.Linear(width, 3 * width, bias=False),
            "up_proj": nn.Linear(width, 3 * width, bias=False),
            "down_proj": nn.Linear(3 * width, width, bias=False),
        }),
        "input_layernorm": nn.RMSNorm(width),
        "post_attention_layernorm": nn.RMSNorm(width),
    })
    model = nn.Module()
    model.model = nn.ModuleDict({"embed_tokens": nn.Embedding(vocab, width),
                                 "layers": nn.ModuleList([block() for _ in range(layers)]),
                                 "norm": nn.RMSNorm(width)})
    model.lm_head = nn.Linear(width, vocab, bias=False)
    return model


def test_param_groups_by_name_give_each_parameter_its_role_lr_and_decay():
    model = tiny_llama(bias=True)
    rules = get_parameterization("gqa-mup").rules(Shape(64, 2, 4, 2, base_width=16))
    groups = param_groups_by_name(model, rules, lr=0.01, weight_decay=0.1)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    m = 64 / 16
    expected_lr = {"q_proj.weight": 0.01 / m, "k_proj.weight": 0.01 * c(2) / m,
                   "v_proj.weight": 0.01 * c(2) / m, "o_proj.weight": 0.01 / m,
                   "gate_proj.weight": 0.01 / m, "up_proj.weight": 0.01 / m,
                   "down_proj.weight": 0.01 / m, "embed_tokens.weight": 0.01,
                   "lm_head.weight": 0.01, "norm.weight": 0.01, "bias": 0.01}
    expected_wd = {"q_proj.weight": 0.1 * m, "embed_tokens.weight": 0.0, "norm.weight": 0.0,
                   "bias": 0.0, "lm_head.weight": 0.1, "k_proj.weight": 0.1 * m / c(2)}
    seen = 0
    for name, param in model.named_parameters():
        suffix = next(s for s in expected_lr if name.endswith(s))
        assert lr_of[id(param)] == pytest.approx(expected_lr[suffix]), name
        if suffix in expected_wd:
            assert wd_of[id(param)] == pytest.approx(expected_wd[suffix]), name
        seen += 1
    assert seen == sum(len(g["params"]) for g in groups) == 3 + 2 * 12  # every parameter, once


def test_eps_is_given_per_group_only_when_asked_and_known():
    model = tiny_llama()
    rules = get_parameterization("gqa-mup").rules(Shape(64, 2, 4, 2))
    assert all("eps" not in g for g in param_groups_by_name(model, rules, 0.01))
    has_eps = "eps_factor" in {f.name for f in dataclasses.fields(rules.groups["query"])}
    groups = param_groups_by_name(model, rules, 0.01, eps=1e-8)
    assert all(("eps" in g) == has_eps for g in groups)


def test_unmatched_and_doubly_matched_names_are_one_error_listing_them():
    import torch.nn as nn

    model = tiny_llama()
    model.extra = nn.Linear(3, 3, bias=False)
    with pytest.raises(ValueError) as error:
        roles_by_name(model, {"query": r"(q_proj|o_proj)\.weight$"})
    text = str(error.value)
    assert "1 parameter(s) match no role: extra.weight" in text
    assert "model.layers.0.self_attn.o_proj.weight (query, attn_out)" in text
    assert "model.layers.1.self_attn.o_proj.weight (query, attn_out)" in text


def test_patterns_override_defaults_per_role():
    import torch.nn as nn

    model = tiny_llama()
    model.extra = nn.Linear(3, 3, bias=False)
    roles = roles_by_name(model, {"mlp_out": r"(down_proj|extra)\.weight$"})
    assert roles["extra.weight"] == "mlp_out"
    assert roles["model.layers.1.mlp.up_proj.weight"] == "mlp_in"
    assert roles["model.norm.weight"] == roles["model.layers.0.input_layernorm.weight"] == "norm"


def test_names_are_matched_whole_and_fused_qkv_is_refused_with_the_fix():
    import torch.nn as nn

    model = nn.Module()
    model.attn = nn.Module()
    model.attn.qkv_proj = nn.Linear(8, 24, bias=False)  # Phi-3: ends in "v_proj.weight", is not a value matrix
    model.mlp = nn.Module()
    model.mlp.gate_up_proj = nn.Linear(8, 32, bias=False)  # both halves are mlp_in
    model.mlp.down_proj = nn.Linear(16, 8, bias=False)
    with pytest.raises(ValueError) as error:
        roles_by_name(model)
    text = str(error.value)
    assert "1 fused query/key/value projection(s) (attn.qkv_proj.weight)" in text
    assert "split each into q_proj, k_proj and v_proj" in text and "match no role" not in text
    del model.attn
    assert roles_by_name(model) == {"mlp.gate_up_proj.weight": "mlp_in", "mlp.down_proj.weight": "mlp_out"}


def test_lr_shift_per_doubling_is_the_least_squares_slope_with_propagated_error():
    from gqa_mup_ref.transfer import lr_shift_per_doubling

    rows = [{"width": 64, "log2_lr_star": -7.9, "log2_lr_std": 0.3, "n_seeds": 3},
            {"width": 256, "log2_lr_star": -10.1, "log2_lr_std": 0.6, "n_seeds": 3},
            {"width": 128, "log2_lr_star": -9.0, "log2_lr_std": 0.0, "n_seeds": 3}]
    out = lr_shift_per_doubling(rows)
    # x = 6, 7, 8: the slope is (y₂₅₆ − y₆₄) / 2 and its variance (se₆₄² + se₂₅₆²) / 4.
    assert out["shift"] == pytest.approx((-10.1 + 7.9) / 2)
    assert out["stderr"] == pytest.approx(math.sqrt((0.3**2 + 0.6**2) / 3) / 2)
    with pytest.raises(ValueError, match="two or more"):
        lr_shift_per_doubling(rows[:1])


# The stored width-transfer runs re-train in tests/test_reproduction.py (calm runs, measured tolerance).


# ----------------------------------------------------------------------------- the down projection's fan-in


def test_mlp_out_follows_its_own_fan_in_when_the_mlp_ratios_differ(tmp_path):
    """A Qwen2.5-7B-like target (hidden 3584, intermediate 18944) from a proxy with a 4n MLP: the down
    projection's fan-in grew by 18944/2048, not 3584/512, so its LR is eta * 2048/18944 (and the
    decay, independent of the LR's product, its inverse), its init sigma_0 / sqrt(18944/2048)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
                                "num_key_value_heads": 4, "num_hidden_layers": 28}))
    result = transfer("width=512,heads=4,kv_heads=1,depth=4,mlp=2048", path, ETA, LAM, SIGMA)
    fan_in = 18944 / 2048
    assert result.groups["mlp_out"]["lr"] == pytest.approx(ETA / fan_in)
    assert result.groups["mlp_out"]["weight_decay"] == pytest.approx(LAM * fan_in)
    assert result.groups["mlp_out"]["init_std"] == pytest.approx(SIGMA / math.sqrt(fan_in))
    assert result.groups["mlp_in"]["lr"] == pytest.approx(ETA * 512 / 3584)  # fan-in n: unchanged
    assert result.groups["mlp_out"]["eps"] == result.groups["mlp_in"]["eps"]
    assert result.target_rules.groups["mlp_out"].lr_factor == pytest.approx(1 / fan_in)
    assert any("0.7568 x the LR" in note for note in result.notes)  # (4 / (18944/3584)): about 25 % lower


def test_mlp_width_given_once_is_a_note_and_equal_ratios_change_nothing(tmp_path):
    same = transfer("width=256,heads=4,depth=2,mlp=1024", "width=1024,heads=8,depth=4,mlp=4096", ETA)
    plain = transfer("width=256,heads=4,depth=2", "width=1024,heads=8,depth=4", ETA)
    assert same.groups == plain.groups and same.notes == plain.notes
    one = transfer("width=256,heads=4,depth=2", "width=1024,heads=8,depth=4,mlp=3072", ETA)
    assert one.groups == plain.groups
    assert any("only the target gives its MLP width" in note for note in one.notes)
    with pytest.raises(ValueError, match="mlp=0 must be a positive integer"):
        transfer("width=256,heads=4,depth=2,mlp=0", "width=1024,heads=8,depth=4", ETA)


def test_a_gemma2_config_gets_a_note_naming_its_own_forward_scales(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "gemma2", "hidden_size": 2304, "num_attention_heads": 8,
                                "num_key_value_heads": 4, "num_hidden_layers": 26, "head_dim": 256,
                                "query_pre_attn_scalar": 256, "final_logit_softcapping": 30.0}))
    [note] = [n for n in read_shape(path)[1] if "soft-capping" in n]
    assert "query_pre_attn_scalar=256" in note and "final_logit_softcapping=30.0" in note
    assert not any("soft-capping" in n for n in read_shape(write(tmp_path, "{" + FALCON + "}"))[1])
