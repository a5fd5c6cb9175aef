"""Model shapes from what a practitioner has: a local ``config.json`` (or its folder), or an inline spec.

:func:`parse_shape` turns either into a :class:`~gqa_mup_ref.shape_symbols.Shape`; nothing is
downloaded and torch is not imported. Every error is one line that names the user's own key (the
config file's ``num_attention_heads``, the spec's ``heads``) with its value and the fix, and the
sizes are bounded like the ``rules`` command's: a width above :data:`MAX_WIDTH` or a depth above
:data:`MAX_DEPTH` is a typo, and a head dimension below :data:`MIN_HEAD_DIM` a degenerate model.

A Hugging Face config without ``num_key_value_heads`` is read as multi-head attention
(``num_key_value_heads = num_attention_heads``, r = 1), which is what ``transformers`` itself assumes
for Llama-style configs; :func:`read_shape` says so in its notes. Falcon's ``num_kv_heads`` and
``multi_query`` are read the way ``transformers`` reads them, and ``tie_word_embeddings: true`` gets a
note stating the one rule the shared matrix takes. A Gemma config (its ``query_pre_attn_scalar``, logit
soft-capping and √n embedding scale) gets a note that the printed multipliers assume a Llama-style forward.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .parameterization import Shape

__all__ = [
    "HF_KEYS",
    "INLINE_KEYS",
    "MLP_KEYS",
    "PACKAGE_NAMES",
    "MAX_WIDTH",
    "MAX_DEPTH",
    "MIN_HEAD_DIM",
    "check_bounds",
    "read_shape",
    "parse_shape",
    "read_mlp_width",
    "load_config",
    "shape_from_mapping",
    "parse_inline_spec",
    "shape_from_config",
]

MAX_WIDTH = 2**20
"""Largest width (and base width) accepted: beyond it a number is a typo, not a model."""
MAX_DEPTH = 2**14
"""Largest depth (and base depth) accepted."""
MIN_HEAD_DIM = 2
"""Smallest head dimension accepted (attention with 1-dimensional heads is degenerate)."""

HF_KEYS = {
    "width": "hidden_size",
    "n_head": "num_attention_heads",
    "n_kv_head": "num_key_value_heads",
    "depth": "num_hidden_layers",
    "head_dim": "head_dim",
}
"""``Shape`` field -> key of a Hugging Face ``config.json``."""

_FORWARD_KEYS = ("query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping")
"""Config keys (Gemma-2's) that change the forward pass's scales in ways the rules do not model."""

MLP_KEYS = {"config": "intermediate_size", "inline": "mlp"}
"""Where the MLP's inner width is given: a config's key and an inline spec's key."""

INLINE_KEYS = {"width": "width", "n_head": "heads", "n_kv_head": "kv_heads", "depth": "depth",
               "head_dim": "head_dim"}
"""``Shape`` field -> key of an inline spec."""

PACKAGE_NAMES = {field: field for field in INLINE_KEYS}
"""``Shape`` field -> itself: the names errors use for a ``Shape`` built in Python."""

_OPTIONAL = ("n_kv_head", "head_dim")  # n_kv_head defaults to n_head, head_dim to width / n_head
_SPEC_EXAMPLE = "width=256,heads=4,kv_heads=2,depth=4"


def _integer(value: Any, where: str, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {key}={value!r} must be a positive integer; {hint}")
    return value


def check_bounds(values: Mapping[str, int | None], names: Mapping[str, str], where: str) -> None:
    """Refuse sizes no model has, and heads that do not divide, naming the user's keys.

    ``values`` maps ``Shape`` fields to positive integers (``n_kv_head`` and ``head_dim`` may be
    missing or ``None``); ``names`` maps the fields to the names the user wrote (:data:`HF_KEYS`,
    :data:`INLINE_KEYS` or :data:`PACKAGE_NAMES`). The divisibility checks are the ``Shape``'s own,
    made here first so that the message speaks the user's language:
    ``H mod H_kv = 0`` and, without an explicit head dim, ``n mod H = 0``.
    """
    n, h, depth = values["width"], values["n_head"], values["depth"]
    kv = values.get("n_kv_head") or h
    if n > MAX_WIDTH:
        raise ValueError(f"{where}: {names['width']}={n} is larger than {MAX_WIDTH} (2^20); give the "
                         "model width d_model, e.g. 4096")
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: {names['depth']}={depth} is larger than {MAX_DEPTH}; give the "
                         "number of transformer blocks")
    if h % kv:
        divisors = ", ".join(str(k) for k in range(1, h + 1) if h % k == 0)
        raise ValueError(f"{where}: {names['n_head']}={h} is not divisible by {names['n_kv_head']}={kv}; "
                         f"choose {names['n_kv_head']} in {{{divisors}}}")
    head_dim = values.get("head_dim")
    if head_dim is None:
        if n % h:
            raise ValueError(f"{where}: {names['width']}={n} is not divisible by {names['n_head']}={h}; "
                             f"choose a multiple of {h}, or give {names['head_dim']} explicitly")
        if n // h < MIN_HEAD_DIM:
            raise ValueError(f"{where}: head dim = {names['width']} / {names['n_head']} = {n // h} is "
                             f"below {MIN_HEAD_DIM}; use fewer heads")
    elif head_dim < MIN_HEAD_DIM:
        raise ValueError(f"{where}: {names['head_dim']}={head_dim} is below {MIN_HEAD_DIM}; give the "
                         "dimension of one attention head, e.g. 128")


def _shape(values: Mapping[str, int], names: Mapping[str, str], where: str) -> Shape:
    check_bounds(values, names, where)
    values = dict(values)
    values.setdefault("n_kv_head", values["n_head"])
    return Shape(values["width"], values["depth"], values["n_head"], values["n_kv_head"],
                 head_dim=values.get("head_dim"))


def _load_json(path: Path) -> dict:
    """The JSON object in ``path``, or in ``path/config.json`` when ``path`` is a model folder."""
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{path}: a folder without a config.json; pass the model's config.json "
                             f"or an inline spec {_SPEC_EXAMPLE}")
        path = path / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(f"{path}: cannot read ({reason}); pass a readable config.json or an "
                         f"inline spec {_SPEC_EXAMPLE}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}:{error.colno}: invalid JSON ({error.msg}); "
                         "fix the file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of model settings, got "
                         f"{type(data).__name__}")
    return data


def _kv_heads(data: Mapping[str, Any], where: str, notes: list[str]) -> tuple[str, int] | None:
    """The key/value head count and the key it came from, Hugging Face's way: ``num_key_value_heads``;
    Falcon's ``num_kv_heads`` (read when ``new_decoder_architecture`` is set or ``multi_query`` absent)
    and ``multi_query`` (one key/value head); ``None`` (r = 1, with a note) when the config has none."""
    hf, falcon = data.get("num_key_value_heads"), data.get("num_kv_heads")
    if hf is not None and falcon is not None and hf != falcon:
        raise ValueError(f"{where}: num_key_value_heads={hf!r} and num_kv_heads={falcon!r} disagree; "
                         "keep the one the model uses")
    if hf is not None:
        return "num_key_value_heads", _integer(hf, where, "num_key_value_heads", "fix the value in the file")
    multi_query = data.get("multi_query")
    if multi_query is not None and not isinstance(multi_query, bool):
        raise ValueError(f"{where}: multi_query={multi_query!r} must be true or false; fix the file")
    if falcon is not None and (data.get("new_decoder_architecture") or multi_query is None):
        return "num_kv_heads", _integer(falcon, where, "num_kv_heads", "fix the value in the file")
    if multi_query:
        notes.append(f"{where}: multi_query=true read as one key/value head (r = num_attention_heads)")
        return "multi_query", 1
    if multi_query is None:
        notes.append(f"{where} has no 'num_key_value_heads': read as num_attention_heads (r = 1, "
                     "multi-head attention), Hugging Face's own default; add the key if the model "
                     "shares key/value heads")
    return None


def load_config(path: str | os.PathLike) -> dict:
    """The JSON object of a ``config.json``, or of the ``config.json`` in a model folder; errors name
    the file and the fix."""
    return _load_json(Path(path))


def shape_from_mapping(data: Mapping[str, Any], where: str = "config") -> tuple[Shape, tuple[str, ...]]:
    """The shape in a Hugging Face style config already read into a dict, and notes; ``where`` names
    it in errors. The keys read are listed under :func:`read_shape`."""
    values: dict[str, int] = {}
    notes: list[str] = []
    names = dict(HF_KEYS)
    for field, key in HF_KEYS.items():
        if field == "n_kv_head":
            found = _kv_heads(data, where, notes)
            if found is not None:
                names[field], values[field] = found
            continue
        if key not in data or (field == "head_dim" and data[key] is None):
            if field in _OPTIONAL:
                continue
            nested = [k for k, v in data.items() if isinstance(v, dict) and key in v]
            hint = (f" (found under {nested[0]!r}: pass that part as its own config.json)"
                    if nested else "")
            raise ValueError(f"{where}: missing key {key!r}{hint}; add it, or pass an inline spec "
                             f"{_SPEC_EXAMPLE}")
        values[field] = _integer(data[key], where, key, "fix the value in the file")
    forward = [f"{key}={data[key]!r}" for key in _FORWARD_KEYS if data.get(key) is not None]
    if forward or str(data.get("model_type", "")).startswith("gemma"):
        found = f" ({', '.join(forward)})" if forward else ""
        notes.append(f"{where}: model_type={data.get('model_type')!r}{found}: its forward pass scales "
                     "attention, logits or the embedding its own way (query_pre_attn_scalar, soft-capping, "
                     "a sqrt(hidden_size) embedding scale), which no rule here covers: the learning rates "
                     "hold, but the printed attention_scale and multipliers assume a Llama-style forward")
    if data.get("tie_word_embeddings") is True:
        notes.append(f"{where}: tie_word_embeddings=true: the one shared matrix takes the embedding "
                     "row (its LR, no weight decay), and the logits still take the unembedding row's "
                     "multiplier; the unembedding row's LR and decay do not apply")
    return _shape(values, names, where), tuple(notes)


def _read_config(path: str | os.PathLike) -> tuple[Shape, tuple[str, ...]]:
    """The shape in a ``config.json`` (or a model folder holding one), and notes; see :func:`read_shape`."""
    path = Path(path)
    data = _load_json(path)
    return shape_from_mapping(data, str(path / "config.json" if path.is_dir() else path))


def shape_from_config(path: str | os.PathLike) -> Shape:
    """The shape in a Hugging Face style ``config.json`` or a model folder holding one; the keys read
    are listed under :func:`read_shape`."""
    return _read_config(path)[0]


def parse_inline_spec(spec: str) -> Shape:
    """``"width=256,heads=4,kv_heads=2,depth=4[,head_dim=64][,mlp=1024]"`` as a shape (kv_heads defaults
    to heads; ``mlp``, the MLP's inner width, is read by :func:`read_mlp_width`)."""
    where = f"spec {spec!r}"
    allowed = ", ".join((*INLINE_KEYS.values(), MLP_KEYS["inline"]))
    field_of = {key: field for field, key in INLINE_KEYS.items()} | {MLP_KEYS["inline"]: "mlp"}
    values: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, text = (s.strip() for s in part.partition("="))
        if not sep or key not in field_of:
            raise ValueError(f"{where}: {part.strip()!r} is not one of {allowed} as key=value; "
                             f"write e.g. {_SPEC_EXAMPLE}")
        if field_of[key] in values:
            raise ValueError(f"{where}: {key} is given twice; give it once")
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{where}: {key}={text!r} must be a positive integer") from None
        values[field_of[key]] = _integer(number, where, key, "use a positive integer")
    missing = [INLINE_KEYS[f] for f in INLINE_KEYS if f not in _OPTIONAL and f not in values]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}; write e.g. {_SPEC_EXAMPLE}")
    values.pop("mlp", None)  # read by read_mlp_width
    return _shape(values, INLINE_KEYS, where)


def read_shape(text: str | os.PathLike) -> tuple[Shape, tuple[str, ...]]:
    """A shape and its notes from an inline spec (text with ``=`` that is not an existing path), or
    else a ``config.json`` or a model folder holding one.

    A config is read as :func:`shape_from_config` describes: ``hidden_size``, ``num_attention_heads``,
    ``num_key_value_heads`` (or Falcon's ``num_kv_heads`` / ``multi_query``; when none is given: the
    number of heads, r = 1, Hugging Face's own default, said in a note), ``num_hidden_layers`` and an
    optional ``head_dim`` (default ``hidden_size / num_attention_heads``); ``tie_word_embeddings:
    true`` adds a note. ``intermediate_size`` is read by :func:`read_mlp_width`; other keys are ignored.
    """
    text = os.fspath(text)
    if "=" in text and not Path(text).exists():
        return parse_inline_spec(text), ()
    return _read_config(text)


def read_mlp_width(text: str | os.PathLike) -> int | None:
    """The MLP's inner width (the down projection's fan-in) where the user gave it: a config's
    ``intermediate_size`` or an inline spec's ``mlp``; ``None`` where absent. Call after
    :func:`read_shape` has accepted ``text``."""
    text = os.fspath(text)
    if "=" in text and not Path(text).exists():
        parse_inline_spec(text)  # the same checks and messages
        found = [part.partition("=")[2].strip() for part in text.split(",")
                 if part.partition("=")[0].strip() == MLP_KEYS["inline"]]
        return int(found[0]) if found else None
    path = Path(text)
    data = _load_json(path)
    value = data.get(MLP_KEYS["config"])
    if value is None:
        return None
    where = str(path / "config.json" if path.is_dir() else path)
    value = _integer(value, where, MLP_KEYS["config"], "fix the value in the file")
    if value > 64 * MAX_WIDTH:
        raise ValueError(f"{where}: {MLP_KEYS['config']}={value} is larger than {64 * MAX_WIDTH}; give "
                         "the MLP's inner width, e.g. 14336")
    return value


def parse_shape(text: str | os.PathLike) -> Shape:
    """The shape of :func:`read_shape`, without its notes."""
    return read_shape(text)[0]
