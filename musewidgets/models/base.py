"""What every sequence model shares: the conditioning embedding, the interface, and the registry of families.

A sequence model reads, at each position ``i``, the previous token and the conditioning of position ``i`` (voice,
position in the bar, metre, style, and in models trained since key and ending control: the key and the bars left
to the end), and predicts token ``i``::

    logits, loss = model(batch)              # training: batch of (B, T) tensors, loss = mean NLL in nats
    state = model.init_state(batch_size)     # sampling: one position at a time
    logits, state = model.step(inputs, state)

Every family has a config dataclass that travels with its weights in a checkpoint (:mod:`musewidgets.checkpoints`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["REGISTRY", "Batch", "Conditioning", "SequenceConfig", "SequenceModel", "register"]

REGISTRY: dict[str, tuple[type, type]] = {}  # family -> (config class, model class)


def register(family: str, config_cls: type):
    """Class decorator: make a model class available under ``family``."""

    def wrap(model_cls):
        REGISTRY[family] = (config_cls, model_cls)
        model_cls.family = family
        return model_cls

    return wrap


@dataclass
class SequenceConfig:
    """Sizes shared by the sequence families; each family's config adds its own."""

    vocab_size: int = 132  # REST, HOLD, PAD, BOS and 128 pitches (codecs.tokens)
    n_styles: int = 4
    n_metres: int = 14  # 13 known metres + "other"
    max_voices: int = 4
    max_bar_steps: int = 48
    d_embed: int = 128  # width of the summed token + conditioning embedding
    n_keys: int = 0  # 25 (unknown + 12 major + 12 minor) in models with key control; 0 in older checkpoints
    ending_bars: int = 0  # bars counted down to the end (codecs.tokens.TokenCodec.to_end); 0 in older checkpoints

    @property
    def controls(self) -> bool:
        """Whether the model is conditioned on the key and on the bars left to the end."""
        return self.n_keys > 0 and self.ending_bars > 0


# inputs, targets, voice, bar_pos, to_end (B, T); metre, style, key (B,). ``to_end`` and ``key`` are optional
# (index 0 when left out) and only models with ``config.controls`` read them.
Batch = dict[str, torch.Tensor]


class Conditioning(nn.Module):
    """Embedding of the previous token plus the position's voice, bar position, metre, style, key and bars to the
    end, summed.

    A model trained without the key and ending tables can be extended with them and fine-tuned
    (``musewidgets train --init``); they start at random like the other tables, at the same scale, so that the
    network hears them from the first step (tables started at zero stayed a whisper beside the others: in 200 steps
    of fine-tuning the LSTM still ignored the key).
    """

    def __init__(self, config: SequenceConfig):
        super().__init__()
        d = config.d_embed
        self.token = nn.Embedding(config.vocab_size, d)
        self.voice = nn.Embedding(config.max_voices, d)
        self.bar_pos = nn.Embedding(config.max_bar_steps, d)
        self.metre = nn.Embedding(config.n_metres, d)
        self.style = nn.Embedding(config.n_styles, d)
        self.key = self.to_end = None
        if config.controls:
            self.key = nn.Embedding(config.n_keys, d)
            self.to_end = nn.Embedding(config.ending_bars + 1, d)

    def forward(self, inputs, voice, bar_pos, metre, style, key=None, to_end=None) -> torch.Tensor:
        # inputs, voice, bar_pos, to_end: (B, T); metre, style, key: (B,) -> (B, T, d)
        x = self.token(inputs) + self.voice(voice) + self.bar_pos(bar_pos)
        per_piece = self.metre(metre) + self.style(style)
        if self.key is not None:  # not given: index 0, "any key" and "keep going"
            per_piece = per_piece + self.key(torch.zeros_like(metre) if key is None else key)
            x = x + self.to_end(torch.zeros_like(inputs) if to_end is None else to_end)
        return x + per_piece.unsqueeze(1)


class SequenceModel(nn.Module):
    """Base class: subclasses build ``self.cond`` and implement ``hidden``, ``head``, ``init_state`` and ``step``."""

    family: ClassVar[str] = "?"

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.config = config
        self.cond = Conditioning(config)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d_embed) -> (B, T, H)
        raise NotImplementedError

    def head(self, h: torch.Tensor) -> torch.Tensor:  # (..., H) -> (..., vocab)
        raise NotImplementedError

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, vocab)`` and, when ``batch`` has ``targets``, the mean NLL over non-PAD targets."""
        x = self.cond(
            batch["inputs"],
            batch["voice"],
            batch["bar_pos"],
            batch["metre"],
            batch["style"],
            batch.get("key"),
            batch.get("to_end"),
        )
        logits = self.head(self.hidden(x))
        loss = None
        if "targets" in batch:
            loss = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=0)
        return logits, loss

    def init_state(self, batch_size: int) -> Any:
        raise NotImplementedError

    def step(self, inputs: Batch, state: Any) -> tuple[torch.Tensor, Any]:
        """Logits ``(B, vocab)`` for one position; ``inputs`` holds (B,) tensors for every key of a batch.

        Call under ``torch.inference_mode()`` (the samplers do): steps keep no autograd graph.
        """
        raise NotImplementedError

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
