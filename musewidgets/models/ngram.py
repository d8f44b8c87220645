"""Counting baselines for the model cards: unigram and bigram token models with add-alpha smoothing.

The bigram conditions on the previous token *of the same voice* (what that voice did one step earlier), which is
the strongest simple predictor in an interleaved voice sequence (a note is most often held).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..codecs.tokens import BOS, VOCAB_SIZE

__all__ = ["NGram"]


class NGram:
    """``order`` 1 (unigram) or 2 (bigram on the same voice's previous token); one table per style."""

    def __init__(self, order: int, alpha: float = 0.1):
        if order not in (1, 2):
            raise ValueError(f"`order` must be 1 or 2, got {order!r}")
        self.order, self.alpha = order, alpha
        self.counts: dict[int, np.ndarray] = {}

    @staticmethod
    def _pairs(tokens: np.ndarray, n_voices: int) -> tuple[np.ndarray, np.ndarray]:
        prev = np.concatenate([np.full(n_voices, BOS), tokens[:-n_voices]]) if len(tokens) else tokens
        return prev, tokens

    def fit(self, encoded: Iterable) -> NGram:
        """Count tokens of :class:`~musewidgets.codecs.tokens.Encoded` pieces, per style."""
        for e in encoded:
            shape = (VOCAB_SIZE,) if self.order == 1 else (VOCAB_SIZE, VOCAB_SIZE)
            table = self.counts.setdefault(e.style, np.zeros(shape))
            prev, cur = self._pairs(e.tokens, e.n_voices)
            if self.order == 1:
                np.add.at(table, cur, 1)
            else:
                np.add.at(table, (prev, cur), 1)
        return self

    def nll(self, encoded: Iterable) -> tuple[float, int]:
        """Summed negative log-likelihood in nats and the number of tokens."""
        total, count = 0.0, 0
        logp = {
            s: np.log((t + self.alpha) / (t + self.alpha).sum(axis=-1, keepdims=True)) for s, t in self.counts.items()
        }
        for e in encoded:
            table = logp[e.style]
            prev, cur = self._pairs(e.tokens, e.n_voices)
            total -= float(table[cur].sum() if self.order == 1 else table[prev, cur].sum())
            count += len(cur)
        return total, count

    def perplexity(self, encoded: Iterable) -> float:
        total, count = self.nll(encoded)
        return math.exp(total / max(count, 1))
