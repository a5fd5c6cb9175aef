"""The package's rules applied to a Hugging Face ``transformers`` model built from a config.

Nothing is downloaded: models are built from configs (``AutoModelForCausalLM.from_config``), and the
rules come from :mod:`gqa_mup_ref.parameterization`, usually as ``transfer(...).target_rules``
(:mod:`gqa_mup_ref.transfer`). A μP model differs from a default one in three places, and one call,
:func:`apply_rules`, sets all three:

* **init per role**: ``N(0, init_std²)`` with the role's std (σ₀/√m for hidden matrices), norm gains
  to one, every bias to zero;
* **AdamW groups per role**, from the parameter names (:func:`gqa_mup_ref.param_roles.param_groups_by_name`):
  ``lr · lr_factor``, ``weight_decay · wd_factor``, ``eps · eps_factor``;
* **forward multipliers**: attention logits × ``1/d`` (``attention_scale``), each residual branch ×
  ``m_L^(−α)`` (``residual_multiplier``), the logits × ``1/m`` (the unembedding's multiplier) and the
  embedding × its multiplier (1).

**Two paths, by family.**

* *Granite* (``model_type`` ``granite``): Hugging Face's Granite models carry exactly these multipliers as
  config fields, so they survive ``save_pretrained``/``from_pretrained``: ``attention_multiplier`` (=
  ``attention_scale``), ``residual_multiplier``, ``embedding_multiplier`` and ``logits_scaling``, by which
  Granite *divides* the logits (so it is ``1 / multiplier = m``, not ``1/m``). :func:`granite_config`
  writes such a config for a Llama-shaped target (source ``model_type`` ``llama``, ``mistral`` or
  ``granite``, :data:`GRANITE_SOURCES`) without importing torch or ``transformers``; it is also
  ``python -m gqa_mup_ref transfer ... --emit granite``. This is the path to prefer.
* *Patched* (``llama``, ``mistral``, ``qwen2``, ``qwen3``, :data:`PATCHED_FAMILIES`): their configs have no
  such fields, so :func:`apply_rules` sets each attention module's ``scaling`` and registers forward hooks
  (× residual multiplier on ``o_proj`` and ``down_proj``, × the logit multiplier on ``lm_head``). These are
  not saved: re-apply after ``from_pretrained``, or use the Granite path. Qwen2's biases on q, k and v
  only (Granite's ``attention_bias`` puts one on ``o_proj`` too) and Qwen3's per-head q/k norms have no
  Granite equivalent, which is why these two are patched.

Other families are refused by name (:data:`REFUSED`) with the fix: Gemma's ``(1 + w)`` norm gains, √n
embedding scale and soft-capping, and fused query/key/value projections (Phi-3, Falcon, GPT-NeoX, …).
A parameter is given its role by its name (:data:`gqa_mup_ref.param_roles.LLAMA_PATTERNS`), which
survives wrappers that rebuild parameters and drop attributes set on them (FSDP): the anchored patterns
match a prefixed ``_fsdp_wrapped_module.model.layers.0.self_attn.q_proj.weight`` too.

:func:`check_model` is the check that catches each pitfall (a multiplier not in effect, a norm whose gain
is not one, a bias not zero, a parameter with no or several roles), and :func:`coord_check` the
coordinate check of a family over width.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .parameterization import Rules, Shape, get_parameterization
from .shapes import load_config, shape_from_mapping
from .param_roles import param_groups_by_name, roles_by_name
from .transfer import Transfer

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "GRANITE_SOURCES",
    "PATCHED_FAMILIES",
    "SUPPORTED_FAMILIES",
    "REFUSED",
    "granite_multipliers",
    "granite_config",
    "Applied",
    "apply_rules",
    "check_model",
    "config_at_width",
    "coord_check",
]

GRANITE_SOURCES = ("llama", "mistral", "granite")
"""``model_type`` values :func:`granite_config` converts: Llama-shaped models without extra parts."""
PATCHED_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
"""``model_type`` values whose multipliers :func:`apply_rules` patches in (not saved with the model)."""
SUPPORTED_FAMILIES = ("granite", *PATCHED_FAMILIES)
"""Every ``model_type`` :func:`apply_rules` accepts."""

_FUSED = ("a fused query/key/value projection takes three rules in one matrix; load the model as its "
          "unfused Llama equivalent (q_proj, k_proj, v_proj)")
_GEMMA = ("(1 + w) norm gains (initialised at 0, not 1), a sqrt(hidden_size) embedding scale and logit "
          "soft-capping change the multipliers this package derives; no rule here covers them")
REFUSED: dict[str, str] = {
    "gemma": _GEMMA, "gemma2": _GEMMA, "gemma3": _GEMMA, "gemma3_text": _GEMMA,
    "phi3": _FUSED, "falcon": _FUSED, "gpt_neox": _FUSED, "gpt2": _FUSED, "mpt": _FUSED,
    "phi": "its attention and MLP run in parallel from one norm (no Llama block)",
}
"""``model_type`` -> why it is refused. Every other type outside :data:`SUPPORTED_FAMILIES` is refused too."""

_GRANITE_KEYS = ("attention_multiplier", "residual_multiplier", "embedding_multiplier", "logits_scaling")


def _family_error(model_type: str | None, supported: Sequence[str], where: str) -> ValueError:
    reason = REFUSED.get(model_type or "", "it is not one of the Llama-family models handled here")
    return ValueError(f"{where}: model_type={model_type!r} is not supported ({reason}); supported: "
                      f"{', '.join(supported)}")


# ----------------------------------------------------------------------------- the Granite path


def granite_multipliers(rules: Rules) -> dict[str, float]:
    """The rules' forward multipliers as Granite config fields::

        attention_multiplier = attention_scale (1/d),   residual_multiplier = m_L^(−α),
        embedding_multiplier = embedding multiplier (1), logits_scaling = 1 / unembedding multiplier (m)

    Granite divides the logits by ``logits_scaling``. Refuses rules that put a multiplier on another
    role (Granite has no field for it).
    """
    other = {role: rule.multiplier for role, rule in rules.groups.items()
             if role not in ("embedding", "unembedding") and rule.multiplier != 1.0}
    if other:
        raise ValueError(f"{rules.parameterization} multiplies the outputs of {sorted(other)}; Granite's "
                         "config has multipliers for the embedding, attention logits, residual branches "
                         "and logits only: use apply_rules on the model instead")
    return {
        "attention_multiplier": rules.attention_scale,
        "residual_multiplier": rules.residual_multiplier,
        "embedding_multiplier": rules.groups["embedding"].multiplier,
        "logits_scaling": 1.0 / rules.groups["unembedding"].multiplier,
    }


def _check_shape(config: Mapping[str, Any], shape: Shape, where: str) -> None:
    """The config's shape must be the rules' (width, depth, heads, key/value heads, head dim)."""
    own, _ = shape_from_mapping(config, where)
    keys = (("width", "hidden_size"), ("depth", "num_hidden_layers"), ("n_head", "num_attention_heads"),
            ("n_kv_head", "num_key_value_heads"), ("head_dim", "head_dim"))
    wrong = [f"{key}={getattr(own, name)} (rules: {getattr(shape, name)})"
             for name, key in keys if getattr(own, name) != getattr(shape, name)]
    if wrong:
        raise ValueError(f"{where}: {', '.join(wrong)}: the rules were computed for another shape; "
                         "compute them for this config, e.g. transfer(proxy, <this config>, ...).target_rules")


def granite_config(config: Mapping[str, Any] | str | os.PathLike, rules: Rules | Transfer
                   ) -> tuple[dict, tuple[str, ...]]:
    """A Granite ``config.json`` (a dict) for a Llama-shaped ``config`` with the rules' forward multipliers.

    ``config`` is a dict, a ``config.json`` or a model folder, of ``model_type`` in
    :data:`GRANITE_SOURCES`; ``rules`` are the target's (or a :class:`~gqa_mup_ref.transfer.Transfer`,
    whose ``target_rules`` are used) and must be for the config's shape. Every key is kept but
    ``model_type``, ``architectures`` and Mistral's ``sliding_window``, which Granite does not have (a
    note says so); the four multipliers of :func:`granite_multipliers` are set and
    ``initializer_range`` is σ₀ (Granite's own init is one std for all matrices, so initialise with
    :func:`apply_rules`). Returns the dict and notes. Imports neither torch nor ``transformers``.
    """
    rules = rules.target_rules if isinstance(rules, Transfer) else rules
    if isinstance(config, Mapping):
        data, where = dict(config), "config"
    else:
        data, where = load_config(config), os.fspath(config)
    model_type = data.get("model_type")
    if model_type not in GRANITE_SOURCES:
        if model_type in PATCHED_FAMILIES:
            raise ValueError(f"{where}: model_type={model_type!r} has parts Granite lacks (Qwen2's biases "
                             "on q, k and v only, Qwen3's q/k norms); build the model as it is and call "
                             "gqa_mup_ref.hf.apply_rules on it (multipliers patched, not saved)")
        raise _family_error(model_type, GRANITE_SOURCES, where)
    _check_shape(data, rules.shape, where)
    notes = []
    window = data.pop("sliding_window", None)
    if window is not None:
        notes.append(f"{where}: sliding_window={window} dropped: Granite attends to the whole context, "
                     f"the same as long as sequences are at most {window} tokens")
    data.pop("architectures", None)
    data.update(model_type="granite", architectures=["GraniteForCausalLM"],
                initializer_range=rules.base_init_std, **granite_multipliers(rules))
    return data, tuple(notes)


# ----------------------------------------------------------------------------- applying the rules


@dataclass
class Applied:
    """What :func:`apply_rules` did: the optimizer, its groups, each parameter's role, the hooks it
    registered (empty on the Granite path), whether the multipliers are saved with the model, and notes."""

    optimizer: torch.optim.AdamW
    groups: list[dict]
    roles: dict[str, str]
    handles: list = field(default_factory=list)
    saved_with_model: bool = True
    notes: tuple[str, ...] = ()


def _model_type(model) -> str | None:
    return getattr(getattr(model, "config", None), "model_type", None)


def _layers(model) -> list:
    try:
        return list(model.model.layers)
    except AttributeError:
        raise ValueError(f"{type(model).__name__} has no model.layers; pass a ...ForCausalLM model of "
                         f"a supported family ({', '.join(SUPPORTED_FAMILIES)})") from None


def _scale_output(factor: float):
    def hook(module, inputs, output):
        return output * factor
    return hook


def _set_multipliers(model, rules: Rules) -> tuple[list, bool]:
    """Put the rules' forward multipliers into ``model``: config fields (Granite) or attributes and hooks."""
    values = granite_multipliers(rules)
    for handle in getattr(model, "_gqa_mup_handles", []):  # applying twice must not multiply twice
        handle.remove()
    layers = _layers(model)
    for layer in layers:
        layer.self_attn.scaling = values["attention_multiplier"]
    if _model_type(model) == "granite":
        for key, value in values.items():
            setattr(model.config, key, value)
        for layer in layers:
            layer.residual_multiplier = values["residual_multiplier"]
        model.model.embedding_multiplier = values["embedding_multiplier"]
        model._gqa_mup_handles = []
        return [], True
    residual, logits = values["residual_multiplier"], 1.0 / values["logits_scaling"]
    handles = []
    for layer in layers:
        for module in (layer.self_attn.o_proj, layer.mlp.down_proj):  # each branch's last map
            if residual != 1.0:
                handles.append(module.register_forward_hook(_scale_output(residual)))
    if logits != 1.0:
        handles.append(model.lm_head.register_forward_hook(_scale_output(logits)))
    if values["embedding_multiplier"] != 1.0:
        handles.append(model.model.embed_tokens.register_forward_hook(
            _scale_output(values["embedding_multiplier"])))
    model._gqa_mup_handles = handles
    model._gqa_mup_multipliers = (residual, logits)
    return handles, False


def _init(model, roles: Mapping[str, str], rules: Rules) -> None:
    """``N(0, init_std²)`` per role; norm gains one; biases zero (a q/k/v bias is not a norm gain)."""
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            role = roles[name]
            if name.endswith(".bias"):
                param.zero_()
            elif role == "norm":
                param.fill_(1.0)
            else:
                param.normal_(0.0, rules.groups[role].init_std)


def apply_rules(model, rules: Rules | Transfer, lr: float | None = None, weight_decay: float | None = None,
                eps: float | None = None, betas: tuple[float, float] = (0.9, 0.95), init: bool = True,
                patterns: Mapping[str, str] | None = None) -> Applied:
    """Apply ``rules`` to a Hugging Face causal LM of :data:`SUPPORTED_FAMILIES` in one call: init per
    role (``init=True``), forward multipliers (Granite: its config fields; others: patched, see the module
    docstring) and an AdamW over per-role groups.

    ``rules`` may be a :class:`~gqa_mup_ref.transfer.Transfer`: its target rules, and its base ``lr``,
    ``weight_decay`` and ``eps`` unless given. ``patterns`` overrides name patterns as in
    :func:`~gqa_mup_ref.param_roles.roles_by_name`. Refuses other families and a model whose config's shape
    is not the rules'.
    """
    import torch

    if isinstance(rules, Transfer):
        base = rules.base
        lr = base["lr"] if lr is None else lr
        weight_decay = base["weight_decay"] if weight_decay is None else weight_decay
        eps = base["eps"] if eps is None else eps
        rules = rules.target_rules
    if lr is None:
        raise ValueError("lr is missing: give the base Adam LR tuned on the proxy (or pass a Transfer)")
    weight_decay = 0.0 if weight_decay is None else weight_decay
    eps = 1e-8 if eps is None else eps
    where = f"{type(model).__name__}.config"
    if _model_type(model) not in SUPPORTED_FAMILIES:
        raise _family_error(_model_type(model), SUPPORTED_FAMILIES, where)
    _check_shape(model.config.to_dict(), rules.shape, where)
    roles = roles_by_name(model, patterns)
    if init:
        _init(model, roles, rules)
    handles, saved = _set_multipliers(model, rules)
    groups = param_groups_by_name(model, rules, lr, weight_decay, patterns, eps)
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    notes = []
    if not saved:
        notes.append(f"{_model_type(model)}: the forward multipliers are patched in and not saved by "
                     "save_pretrained: call apply_rules(..., init=False) after from_pretrained, or build "
                     "the model as Granite (granite_config)")
    if getattr(model.config, "tie_word_embeddings", False):
        notes.append("tie_word_embeddings: the shared matrix takes the embedding role (its LR, no decay); "
                     "the logits still take the unembedding multiplier")
    if _model_type(model) == "qwen3":
        notes.append("qwen3: the per-head q/k norms take the norm rule; the book's experiments have no "
                     "q/k norms")
    return Applied(optimizer, groups, roles, handles, saved, tuple(notes))


def check_model(model, rules: Rules, at_init: bool = True,
                patterns: Mapping[str, str] | None = None) -> list[str]:
    """Problems that would make ``model`` not follow ``rules``, one line each (empty: none found).

    Checks that every parameter has exactly one role by name (a fused projection has none), that the
    forward multipliers are in effect (each attention's ``scaling``; Granite's config fields, or the
    patched hooks), and, ``at_init``, that every norm has gain one on a zero-mean unit-RMS input (a
    ``(1 + w)`` norm initialised to ones has gain two) and every bias is zero.
    """
    import torch

    problems = []
    try:
        roles = roles_by_name(model, patterns)
    except ValueError as error:
        return [str(error)]
    values = granite_multipliers(rules)
    for i, layer in enumerate(_layers(model)):
        if not math.isclose(layer.self_attn.scaling, values["attention_multiplier"], rel_tol=1e-9):
            problems.append(f"layer {i}: attention scaling {layer.self_attn.scaling:.6g}, rules "
                            f"{values['attention_multiplier']:.6g}")
            break
    if _model_type(model) == "granite":
        for key, value in values.items():
            if not math.isclose(getattr(model.config, key), value, rel_tol=1e-9):
                problems.append(f"config.{key}={getattr(model.config, key):.6g}, rules {value:.6g}")
    else:
        wanted = (values["residual_multiplier"], 1.0 / values["logits_scaling"])
        if getattr(model, "_gqa_mup_multipliers", (1.0, 1.0)) != wanted:
            problems.append(f"residual and logit multipliers {wanted} not patched in: call apply_rules")
    if at_init:
        generator = torch.Generator().manual_seed(0)
        modules = dict(model.named_modules())
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                if param.detach().abs().max() > 0:
                    problems.append(f"{name}: bias not zero at init")
            elif roles[name] == "norm":
                module = modules[name.rpartition(".")[0]]
                x = torch.randn(4, param.numel(), generator=generator, dtype=param.dtype)
                x = x - x.mean(-1, keepdim=True)
                x = x / x.square().mean(-1, keepdim=True).sqrt()
                with torch.no_grad():
                    gain = float(module(x).square().mean().sqrt())
                if abs(gain - 1) > 1e-2:
                    problems.append(f"{name}: gain {gain:.3g} at init, not 1 (a (1 + w) norm?)")
    return problems


# ----------------------------------------------------------------------------- coordinate check


def config_at_width(config, width: int):
    """A copy of a ``transformers`` config at ``width``: heads fixed; ``intermediate_size`` and an
    explicit ``head_dim`` scaled by ``width / hidden_size`` (so every hidden fan-in grows with width)."""
    import copy

    ratio = width / config.hidden_size
    new = copy.deepcopy(config)
    new.hidden_size = width
    new.intermediate_size = round(config.intermediate_size * ratio)
    if getattr(config, "head_dim", None) is not None:
        new.head_dim = round(config.head_dim * ratio)
    return new


def _rms(tensor) -> float:
    return float(tensor.double().square().mean().sqrt())


def coord_check(config, widths: Sequence[int], param: str = "gqa-mup", lr: float = 2**-6,
                steps: int = 3, base_width: int | None = None, init_std: float = 0.02, seed: int = 0,
                batch_size: int = 8, seq_len: int = 32, data: str = "pydoc") -> list[dict]:
    """Coordinate check of a Hugging Face family over width: rows for :func:`gqa_mup_ref.coordcheck.flatness`.

    ``config`` is a ``transformers`` config of a supported family; each width's model is
    :func:`config_at_width` built by ``AutoModelForCausalLM.from_config`` (seed ``seed``), given
    ``param``'s rules (base width ``base_width``, default the smallest width; base depth 1) by
    :func:`apply_rules` and trained ``steps`` AdamW steps at base LR ``lr`` on batches of ``data`` (a
    :func:`~gqa_mup_ref.data.load_corpus` source; its 96 symbols need ``vocab_size >= 96``). Recorded on
    one fixed batch: ``act_rms`` (RMS entry) and ``dact_rms`` (RMS change since init) of the embedding
    output, each decoder layer's output (role ``block``) and the logits. ``param="sp"`` is default
    practice: one std, one LR, logits ``1/√d``, no multipliers.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from .data import load_corpus

    base_width = min(widths) if base_width is None else base_width
    parameterization = get_parameterization(param)
    corpus = load_corpus(data)
    if config.vocab_size < corpus.vocab_size:
        raise ValueError(f"config: vocab_size={config.vocab_size} is below the {corpus.vocab_size} "
                         f"symbols of the {data!r} corpus; build the config with vocab_size >= "
                         f"{corpus.vocab_size}")
    generator = torch.Generator().manual_seed(seed + 1)
    probe = corpus.get_batch("val", batch_size, seq_len, generator)[0]
    batches = [corpus.get_batch("train", batch_size, seq_len, generator) for _ in range(steps)]
    rows = []
    for width in widths:
        cfg = config_at_width(config, width)
        shape, _ = shape_from_mapping(cfg.to_dict(), f"config at width {width}")
        shape = Shape(shape.width, shape.depth, shape.n_head, shape.n_kv_head, base_width, 1, shape.head_dim)
        rules = parameterization.rules(shape, init_std)
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg)
        optimizer = apply_rules(model, rules, lr).optimizer
        records = {}

        def save(name):
            def hook(module, inputs, output):
                records[name] = (output[0] if isinstance(output, tuple) else output).detach().clone()
            return hook

        hooks = [model.model.embed_tokens.register_forward_hook(save("embedding"))]
        hooks += [layer.register_forward_hook(save(f"layers.{i}")) for i, layer in enumerate(model.model.layers)]

        def probe_acts():
            with torch.no_grad():
                logits = model(probe).logits
            return dict(records) | {"logits": logits.detach().clone()}

        common = {"vary": "width", "x": width, "width": width, "parameterization": param,
                  "kv_factor": rules.kv_factor, "variant": param, "seed": seed}
        acts0 = probe_acts()
        for step in range(steps + 1):
            if step:
                inputs, targets = batches[step - 1]
                logits = model(inputs).logits  # (B, T, vocab): next-token prediction
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            acts = acts0 if step == 0 else probe_acts()
            for name, act in acts.items():
                role = "block" if name.startswith("layers.") else name
                rows.append(common | {"step": step, "layer": name, "role": role,
                                      "quantity": "act_rms", "value": _rms(act)})
                if step:
                    rows.append(common | {"step": step, "layer": name, "role": role,
                                          "quantity": "dact_rms", "value": _rms(act - acts0[name])})
        for handle in hooks:
            handle.remove()
    return rows
