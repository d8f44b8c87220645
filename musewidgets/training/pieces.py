"""The pieces the token families learn from (rnn, lstm, transformer: :class:`~musewidgets.training.SequenceData`;
infill: :class:`~musewidgets.training.infill.InfillData`): one split of each style, read once, and where each random
training window comes from."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..codecs.tokens import Encoded
from ..datasets import corpus as corpus_mod
from ..keys import estimate_key

__all__ = ["StylePieces", "encode_heard"]


def encode_heard(codec, piece) -> Encoded:
    """``piece`` encoded by ``codec`` (a :class:`~musewidgets.codecs.TokenCodec`) with the key a listener hears (the
    project's estimate), not the key signature the file was written with."""
    return codec.encode(piece.replace(key=estimate_key(piece)))


class StylePieces:
    """The pieces of split ``split`` of every style in ``corpora`` (the first ``limit`` of each), as a subclass
    prepares them (:meth:`prepare`), in ``by_style``; per piece ``shifts``, the transpositions that keep it inside its
    style's voice ranges (at least ``[0]``), and per style ``weights``, which draw pieces in proportion to their
    length (:meth:`length`)."""

    def __init__(self, corpora: dict, split: str, limit: int | None = None):
        self.by_style: dict[str, list] = {}
        self.shifts: dict[str, list[list[int]]] = {}
        self.weights: dict[str, np.ndarray] = {}
        for name, c in corpora.items():
            pieces = c.split(split)[:limit]
            ranges = c.voice_ranges()
            self.by_style[name] = [self.prepare(p) for p in pieces]
            self.shifts[name] = [corpus_mod.transpositions(p, ranges) or [0] for p in pieces]
            lengths = np.array([self.length(item) for item in self.by_style[name]], dtype=float)
            self.weights[name] = lengths / max(lengths.sum(), 1.0)

    def prepare(self, piece):
        """What ``by_style`` keeps of ``piece``."""
        raise NotImplementedError

    def length(self, item) -> int:
        """The length of a prepared piece, by which it is drawn."""
        raise NotImplementedError

    def last_start(self, item, size: int) -> int:
        """The last step at which a window of ``size`` (the subclass's unit: tokens, steps) of a prepared piece may
        start."""
        raise NotImplementedError

    def draw(
        self, rng: np.random.Generator, batch_size: int, size: int, augment: bool, end_share: float, key_dropout: float
    ) -> Iterator[tuple[str, int, int, int, bool]]:
        """Where each window of a batch comes from, an equal share per style: ``(style, piece, start step, shift,
        key hidden)``. The piece is drawn by ``weights``; a share ``end_share`` of the windows starts at
        :meth:`last_start` (ends where the piece ends), the others anywhere up to it; the shift is one of the
        piece's ``shifts`` with ``augment``, else 0; a share ``key_dropout`` hides the key. One window at a time:
        what the caller draws from ``rng`` between two windows (the infill's masks) comes between their draws."""
        styles = list(self.by_style)
        for b in range(batch_size):
            name = styles[b % len(styles)]
            i = int(rng.choice(len(self.by_style[name]), p=self.weights[name]))
            last = self.last_start(self.by_style[name][i], size)
            start = last if rng.random() < end_share else int(rng.integers(0, last + 1))
            shift = int(rng.choice(self.shifts[name][i])) if augment else 0
            yield name, i, start, shift, rng.random() < key_dropout
