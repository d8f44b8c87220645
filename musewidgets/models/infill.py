"""The ``infill`` family: an orderless, masked model of the voices x time grid (Coconet, Huang et al. 2017; DeepBach,
Hadjeres et al. 2017), filled in by blocked Gibbs sampling (:mod:`musewidgets.sampling.infill`).

The grid is the token codec's (:mod:`musewidgets.codecs.tokens`): one cell per voice per step, ``REST``, ``HOLD`` or
a pitch. Some cells are hidden (``MASK``); the model reads everything else, before and after, and predicts every
hidden cell at once::

    cells (B, T, V)  --embed, concat voices-->  (B, T, V * d_cell)  --linear + conditioning-->  (B, T, d_model)
      --bidirectional transformer encoder (rotary positions)-->  (B, T, d_model)  --head-->  logits (B, T, V, vocab)

One position per *step* (the voices of a step side by side in its input vector), not per cell: four times shorter
sequences than cell by cell, which is what makes it train in minutes on a CPU; a step's voices are predicted from
the same hidden vector, independently given the rest of the grid, as in Coconet. Conditioning, added to every step:
position in the bar, bars left to the end (the count-down of the token codec), and per piece the metre, style and
key (index 0: unknown). Voices a style lacks (a melody has one) are ``PAD`` cells, never predicted.

Training (:mod:`musewidgets.training.infill`) hides cells at random (random cells, whole voices, time blocks,
voice x time blocks) and scores the hidden cells only: ``forward(batch)`` returns the logits and the mean NLL per
hidden cell in nats.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import register
from .transformer import Block, rotary, rotate

__all__ = ["Infill", "InfillConfig"]


@dataclass
class InfillConfig:
    vocab_size: int = 132  # REST, HOLD, PAD, BOS and 128 pitches (codecs.tokens); MASK is one more row: vocab_size
    n_styles: int = 4
    n_metres: int = 14  # 13 known metres + "other"
    n_keys: int = 25  # unknown + 12 major + 12 minor (codecs.tokens.TokenCodec.key_index)
    ending_bars: int = 4  # bars counted down to the end (codecs.tokens.TokenCodec.to_end)
    max_voices: int = 4  # cells per step; a style with fewer voices has PAD cells
    max_bar_steps: int = 48
    d_cell: int = 64  # embedding of one cell; a step's input is its voices' cell embeddings side by side
    d_model: int = 128
    heads: int = 4
    layers: int = 4
    # steps per training window; a longer grid is read window by window (musewidgets.sampling.infill)
    context: int = 128
    dropout: float = 0.05

    @property
    def mask_token(self) -> int:
        """The input index of a hidden cell."""
        return self.vocab_size


class _Block(Block):
    """The transformer's pre-norm block (self-attention with rotary positions, then a 4x MLP), bidirectional: every
    step attends to every other step of the piece."""

    def forward(self, x, cos, sin, pad=None):
        # x: (B, T, C); pad: (B, T) True for steps outside the piece (attended by none)
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)  # (B, heads, T, hd)
        allowed = None if pad is None else ~pad[:, None, None, :]  # (B, 1, 1, T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=self.p_drop if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))


@register("infill", InfillConfig)
class Infill(nn.Module):
    """Predicts every hidden cell of a voices x time grid from all the others (see the module docstring)."""

    def __init__(self, config: InfillConfig):
        super().__init__()
        self.config = c = config
        self.cell = nn.Embedding(c.vocab_size + 1, c.d_cell)  # tokens and MASK
        self.inp = nn.Linear(c.max_voices * c.d_cell, c.d_model)
        self.bar_pos = nn.Embedding(c.max_bar_steps, c.d_model)
        self.to_end = nn.Embedding(c.ending_bars + 1, c.d_model)
        self.metre = nn.Embedding(c.n_metres, c.d_model)
        self.style = nn.Embedding(c.n_styles, c.d_model)
        self.key = nn.Embedding(c.n_keys, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(_Block(c) for _ in range(c.layers))
        self.ln = nn.LayerNorm(c.d_model)
        self.out = nn.Linear(c.d_model, c.max_voices * c.vocab_size)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V, vocab)`` for every cell and, when ``batch`` has ``targets``, the mean NLL over the cells
        whose target is not ``PAD`` (the hidden ones).

        ``batch``: ``cells`` (B, T, V) tokens with ``config.mask_token`` where hidden and ``PAD`` for absent voices
        (and steps past a piece's end); ``bar_pos``, ``to_end`` (B, T); ``metre``, ``style``, ``key`` (B,);
        optional ``targets`` (B, T, V).
        """
        c = self.config
        cells = batch["cells"]
        B, T, V = cells.shape
        x = self.cell(cells).reshape(B, T, V * c.d_cell)  # (B, T, V * d_cell)
        per_piece = self.metre(batch["metre"]) + self.style(batch["style"]) + self.key(batch["key"])  # (B, d)
        h = self.inp(x) + self.bar_pos(batch["bar_pos"]) + self.to_end(batch["to_end"]) + per_piece[:, None]
        h = self.drop(h)
        pad = (cells == 0).all(-1)  # (B, T) steps with no cell at all
        pad = pad if pad.any() else None
        cos, sin = rotary(torch.arange(T, device=cells.device), c.d_model // c.heads)
        for block in self.blocks:
            h = block(h, cos, sin, pad)
        logits = self.out(self.ln(h)).view(B, T, V, c.vocab_size)
        loss = None
        if "targets" in batch:
            loss = F.cross_entropy(logits.reshape(-1, c.vocab_size), batch["targets"].reshape(-1), ignore_index=0)
        return logits, loss

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
