"""A small decoder-only Transformer with rotary positions and a key/value cache for sampling.

Rotary position embeddings (Su et al. 2021) make attention depend on distances only, so sampling can run past the
training window with a sliding cache of the last ``context`` positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import Batch, SequenceConfig, SequenceModel, register

__all__ = ["Transformer", "TransformerConfig"]


@dataclass
class TransformerConfig(SequenceConfig):
    d_model: int = 192
    heads: int = 4
    layers: int = 4
    context: int = 512  # positions a token can attend to (the training window)
    dropout: float = 0.1


def rotary(positions: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of shape (T, dim / 2) for integer ``positions`` (T,)."""
    inv = 1.0 / (10_000 ** (torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim))
    angles = positions.float()[:, None] * inv[None]
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: (B, heads, T, dim); cos, sin: (T, dim / 2)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    """Pre-norm residual block: causal self-attention, then a 4x MLP."""

    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.heads = c.heads
        self.ln1 = nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = nn.Linear(c.d_model, c.d_model)
        self.ln2 = nn.LayerNorm(c.d_model)
        self.mlp = nn.Sequential(nn.Linear(c.d_model, 4 * c.d_model), nn.GELU(), nn.Linear(4 * c.d_model, c.d_model))
        self.drop = nn.Dropout(c.dropout)
        self.p_drop = c.dropout

    def attend(self, x, cos, sin, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)  # (B, heads, T, hd)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p_drop if self.training else 0.0)
            new_cache = None
        else:
            k = torch.cat([cache[0], k], dim=2) if cache[0] is not None else k
            v = torch.cat([cache[1], v], dim=2) if cache[1] is not None else v
            y = F.scaled_dot_product_attention(q, k, v)  # one new query attends to everything cached
            new_cache = (k, v)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.drop(self.proj(y)), new_cache

    def forward(self, x, cos, sin, cache=None):
        a, new_cache = self.attend(x, cos, sin, cache)
        x = x + a
        return x + self.drop(self.mlp(self.ln2(x))), new_cache


@register("transformer", TransformerConfig)
class Transformer(SequenceModel):
    """Decoder-only Transformer over the interleaved voice tokens."""

    def __init__(self, config: TransformerConfig):
        super().__init__(config)
        self.inp = nn.Linear(config.d_embed, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln = nn.LayerNorm(config.d_model)
        self.out = nn.Linear(config.d_model, config.vocab_size)
        self.drop = nn.Dropout(config.dropout)

    def hidden(self, x):
        T = x.shape[1]
        cos, sin = rotary(torch.arange(T, device=x.device), self.config.d_model // self.config.heads)
        h = self.drop(self.inp(x))
        for block in self.blocks:
            h, _ = block(h, cos, sin)
        return self.ln(h)

    def head(self, h):
        return self.out(h)

    def init_state(self, batch_size: int) -> dict:
        return {"pos": 0, "cache": [(None, None)] * len(self.blocks)}

    def step(self, inputs: Batch, state: dict) -> tuple[torch.Tensor, dict]:
        to_end = inputs.get("to_end")
        x = self.cond(
            inputs["inputs"][:, None],
            inputs["voice"][:, None],
            inputs["bar_pos"][:, None],
            inputs["metre"],
            inputs["style"],
            inputs.get("key"),
            None if to_end is None else to_end[:, None],
        )
        cos, sin = rotary(torch.tensor([state["pos"]]), self.config.d_model // self.config.heads)
        h = self.inp(x)
        caches = []
        keep = self.config.context - 1  # sliding window: the new position plus the last `keep`
        for block, cache in zip(self.blocks, state["cache"]):
            h, (k, v) = block(h, cos, sin, cache)
            caches.append((k[:, :, -keep:], v[:, :, -keep:]))
        return self.out(self.ln(h))[:, 0], {"pos": state["pos"] + 1, "cache": caches}
