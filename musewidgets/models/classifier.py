"""The ``classifier`` family: which corpus style a piece sounds like, and a piece embedding for "more like this".

A small dilated 1-D convolution over the style features (:mod:`musewidgets.codecs.features`) sees about eight bars
at once; masked mean and max pooling over time turn a piece of any length into one vector, a linear layer makes that
the piece's **embedding**, and a last linear layer gives one logit per style::

    features (B, T, C) -> conv stack (B, W, T) -> pool (B, 2W) -> embedding (B, E) -> logits (B, n_styles)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .base import register

__all__ = ["ClassifierConfig", "StyleClassifier", "batch_of", "predict"]


@dataclass
class ClassifierConfig:
    in_channels: int = 52  # codecs.features.N_CHANNELS
    width: int = 64  # convolution channels
    n_layers: int = 5  # dilations 1, 2, 4, 8, 16: a receptive field of 125 sixteenths (about eight 4/4 bars)
    kernel: int = 5
    embed: int = 64  # size of the piece embedding
    n_styles: int = 4
    dropout: float = 0.1


@register("classifier", ClassifierConfig)
class StyleClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c = config
        layers, width = [], c.in_channels
        for i in range(c.n_layers):
            d = 2**i
            layers.append(nn.Conv1d(width, c.width, c.kernel, dilation=d, padding=d * (c.kernel - 1) // 2))
            width = c.width
        self.convs = nn.ModuleList(layers)
        self.embedding = nn.Linear(2 * c.width, c.embed)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(c.embed, c.n_styles)

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C) features and (B, T) bool mask of real steps -> (B, E) embeddings."""
        h = x.transpose(1, 2)  # (B, C, T)
        for i, conv in enumerate(self.convs):
            y = F.gelu(conv(h))
            h = y if i == 0 else h + y  # residual from the second layer on
        m = mask[:, None, :].to(h.dtype)  # (B, 1, T)
        mean = (h * m).sum(-1) / m.sum(-1).clamp(min=1)
        peak = h.masked_fill(m == 0, -1e4).amax(-1)
        return torch.tanh(self.embedding(torch.cat([mean, peak], dim=1)))  # (B, E)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``batch``: ``x`` (B, T, C), ``mask`` (B, T), optional ``style`` (B,) targets -> (logits (B, S), loss)."""
        logits = self.out(self.drop(self.embed(batch["x"], batch["mask"])))
        loss = F.cross_entropy(logits, batch["style"]) if "style" in batch else None
        return logits, loss

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def batch_of(encoded: list[np.ndarray], styles: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Pad ``(T_i, C)`` feature arrays into a batch: ``x`` (B, T, C), ``mask`` (B, T), ``style`` (B,) if given."""
    T = max(len(e) for e in encoded)
    x = np.zeros((len(encoded), T, encoded[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(encoded), T), dtype=bool)
    for i, e in enumerate(encoded):
        x[i, : len(e)] = e
        mask[i, : len(e)] = True
    batch = {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask)}
    if styles is not None:
        batch["style"] = torch.tensor(styles, dtype=torch.long)
    return batch


@torch.no_grad()
def predict(model, encoded: list[np.ndarray], device="cpu", batch_size: int = 64) -> np.ndarray:
    """Style probabilities, shape ``(len(encoded), n_styles)``, for feature arrays; batches of similar length."""
    was_training = model.training
    model.eval()
    order = np.argsort([len(e) for e in encoded])
    out = np.zeros((len(encoded), model.config.n_styles), dtype=np.float64)
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        batch = {k: v.to(device) for k, v in batch_of([encoded[j] for j in idx]).items()}
        logits, _ = model(batch)
        out[idx] = logits.softmax(-1).double().cpu().numpy()
    model.train(was_training)
    return out
