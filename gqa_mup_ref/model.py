"""A decoder-only transformer with grouped-query attention, scaled only by its parameterization.

Pre-norm blocks, learned positions, untied embeddings, GELU MLP, no biases. The model decides no
scale by itself: every init std, forward multiplier, the attention-logit scale and the residual
multiplier are read from :meth:`gqa_mup_ref.parameterization.Parameterization.rules`.

Shapes: ``B`` batch, ``T`` tokens, ``n`` width, ``H`` query heads, ``H_kv`` key/value heads,
``d`` head dim (``n / H`` unless the shape sets it), ``n_q = H·d`` query width, ``r = H / H_kv``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .parameterization import ROLES, Parameterization, Rules, Shape, get_parameterization

__all__ = ["ModelConfig", "RoleLinear", "GQATransformer"]


@dataclass(frozen=True)
class ModelConfig:
    """A shape plus what the rules do not depend on: vocabulary, context and MLP ratio."""

    shape: Shape
    vocab_size: int
    context_length: int
    mlp_ratio: int = 4

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")


class RoleLinear(nn.Linear):
    """``nn.Linear`` without bias that knows its role and applies its forward multiplier."""

    def __init__(self, n_in: int, n_out: int, role: str, multiplier: float = 1.0):
        super().__init__(n_in, n_out, bias=False)
        self.role = role
        self.multiplier = multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return y if self.multiplier == 1.0 else y * self.multiplier


class Attention(nn.Module):
    """Causal grouped-query attention; K/V are never materialised ``r`` times (``enable_gqa``)."""

    def __init__(self, shape: Shape, rules: Rules):
        super().__init__()
        n, n_q, kv_width = shape.width, shape.query_width, shape.n_kv_head * shape.head_dim
        self.n_head, self.n_kv_head, self.head_dim = shape.n_head, shape.n_kv_head, shape.head_dim
        self.scale = rules.attention_scale
        self.query = RoleLinear(n, n_q, "query", rules.groups["query"].multiplier)
        self.key = RoleLinear(n, kv_width, "key", rules.groups["key"].multiplier)
        self.value = RoleLinear(n, kv_width, "value", rules.groups["value"].multiplier)
        self.out = RoleLinear(n_q, n, "attn_out", rules.groups["attn_out"].multiplier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.query(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, d)
        k = self.key(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, H_kv, T, d)
        v = self.value(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, H_kv, T, d)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, scale=self.scale, enable_gqa=True
        )  # (B, H, T, d): query head h reads key/value head h // r
        return self.out(y.transpose(1, 2).reshape(B, T, -1))  # (B, T, n_q) -> (B, T, n)


class MLP(nn.Module):
    def __init__(self, shape: Shape, mlp_ratio: int, rules: Rules):
        super().__init__()
        hidden = mlp_ratio * shape.width
        self.up = RoleLinear(shape.width, hidden, "mlp_in", rules.groups["mlp_in"].multiplier)
        self.down = RoleLinear(hidden, shape.width, "mlp_out", rules.groups["mlp_out"].multiplier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """``x ← x + a_L·Attn(LN(x)); x ← x + a_L·MLP(LN(x))`` with residual multiplier ``a_L`` (1/L under CompleteP)."""

    def __init__(self, shape: Shape, mlp_ratio: int, rules: Rules):
        super().__init__()
        self.residual_multiplier = rules.residual_multiplier
        self.norm1 = nn.LayerNorm(shape.width, bias=False)
        self.attn = Attention(shape, rules)
        self.norm2 = nn.LayerNorm(shape.width, bias=False)
        self.mlp = MLP(shape, mlp_ratio, rules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.residual_multiplier * self.attn(self.norm1(x))
        return x + self.residual_multiplier * self.mlp(self.norm2(x))


class GQATransformer(nn.Module):
    """The reference model. ``GQATransformer(config, "gqa-mup")`` is fully specified.

    ``parameterization`` is a name from ``PARAMETERIZATIONS`` or a :class:`Parameterization`;
    ``base_init_std`` is σ₀.
    """

    def __init__(
        self,
        config: ModelConfig,
        parameterization: Parameterization | str = "gqa-mup",
        base_init_std: float = 0.02,
    ):
        super().__init__()
        self.config = config
        self.parameterization = get_parameterization(parameterization)
        self.rules = self.parameterization.rules(config.shape, base_init_std)
        shape, rules = config.shape, self.rules
        self.token_embedding = nn.Embedding(config.vocab_size, shape.width)
        self.position_embedding = nn.Embedding(config.context_length, shape.width)
        self.blocks = nn.ModuleList(
            Block(shape, config.mlp_ratio, rules) for _ in range(shape.depth)
        )
        self.final_norm = nn.LayerNorm(shape.width, bias=False)
        self.unembedding = RoleLinear(
            shape.width, config.vocab_size, "unembedding", rules.groups["unembedding"].multiplier
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise every parameter from the rules: ``N(0, init_std²)``, norm gains to one."""
        for name, role, param in self.named_parameters_with_role():
            if role == "norm":
                nn.init.ones_(param)
            else:
                nn.init.normal_(param, mean=0.0, std=self.rules.groups[role].init_std)

    def named_parameters_with_role(self) -> Iterator[tuple[str, str, nn.Parameter]]:
        """``(name, role, parameter)`` for every parameter; each role is one of ``ROLES``."""
        for module_name, module in self.named_modules():
            if isinstance(module, RoleLinear):
                role = module.role
            elif isinstance(module, nn.Embedding):
                role = "embedding"
            elif isinstance(module, nn.LayerNorm):
                role = "norm"
            else:
                continue
            for param_name, param in module.named_parameters(recurse=False):
                yield f"{module_name}.{param_name}", role, param

    def parameters_by_role(self) -> dict[str, list[nn.Parameter]]:
        """Parameters grouped by role, in ``ROLES`` order (empty roles left out)."""
        groups: dict[str, list[nn.Parameter]] = {role: [] for role in ROLES}
        for _, role, param in self.named_parameters_with_role():
            groups[role].append(param)
        return {role: params for role, params in groups.items() if params}

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab)``, and the mean cross-entropy if ``targets`` are given."""
        B, T = tokens.shape
        if T > self.config.context_length:
            raise ValueError(
                f"sequence of {T} tokens exceeds context_length={self.config.context_length}"
            )
        positions = torch.arange(T, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (B, T, n)
        for block in self.blocks:
            x = block(x)
        logits = self.unembedding(self.final_norm(x))  # (B, T, vocab)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def kv_weights(self) -> Iterator[tuple[str, torch.Tensor]]:
        """``(name, W)`` of every key and value projection, each ``(H_kv·d, n)``."""
        for i, block in enumerate(self.blocks):
            yield f"blocks.{i}.attn.key", block.attn.key.weight
            yield f"blocks.{i}.attn.value", block.attn.value.weight

    @contextlib.contextmanager
    def record_activations(self, detach: bool = True):
        """Record every layer's output during forward passes inside the ``with`` block.

        Yields a dict ``name -> tensor`` (the last forward's outputs) for the embeddings, each
        :class:`RoleLinear`, each block and the final norm; hooks are removed on exit. Used by
        :mod:`gqa_mup_ref.coordcheck`.
        """
        records: dict[str, torch.Tensor] = {}
        handles = []

        def hook(name):
            def save(module, inputs, output):
                records[name] = output.detach() if detach else output

            return save

        for name, module in self.named_modules():
            if isinstance(module, (RoleLinear, Block, nn.Embedding)) or name == "final_norm":
                handles.append(module.register_forward_hook(hook(name)))
        try:
            yield records
        finally:
            for handle in handles:
                handle.remove()
