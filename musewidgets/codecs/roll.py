"""Piece <-> one-hot roll for the GAN: per voice and step, one channel of ``REST``, ``HOLD`` or a pitch.

A roll has shape ``(voices, steps, 130)``: channel 0 is rest, 1 hold, ``2 + p`` a new note of MIDI pitch ``p``. It
is the token grid of :class:`~musewidgets.codecs.tokens.TokenCodec` laid out as a picture, so a GAN can draw a whole
phrase at once and the same decoder turns it back into notes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..piece import Piece
from .tokens import HOLD, PITCH0, REST, TokenCodec

__all__ = ["CHANNELS", "RollCodec"]

CHANNELS = 2 + 128


@dataclass(frozen=True)
class RollCodec:
    """Fixed-size phrases of ``steps`` steps for ``voices`` voices (fewer-voice pieces leave the rest silent)."""

    styles: tuple[str, ...] = ("chorale", "folk", "irish", "renaissance")
    voices: int = 4
    steps: int = 64
    steps_per_quarter: int = 4

    @property
    def tokens(self) -> TokenCodec:
        return TokenCodec(self.styles, self.voices, self.steps_per_quarter)

    def phrases(self, piece: Piece, hop: int | None = None) -> np.ndarray:
        """Every ``steps``-long window of the piece starting on a bar line, as rolls ``(n, voices, steps, 130)``."""
        enc = self.tokens.encode(piece)
        grid = np.full((len(enc.tokens) // enc.n_voices, self.voices), REST, dtype=np.int64)
        grid[:, : enc.n_voices] = enc.tokens.reshape(-1, enc.n_voices)
        hop = hop or piece.steps_per_bar
        starts = range(piece.pickup, len(grid) - self.steps + 1, hop)
        out = np.zeros((len(starts), self.voices, self.steps, CHANNELS), dtype=np.float32)
        for i, s in enumerate(starts):
            out[i] = self.to_roll(grid[s : s + self.steps].T)  # a note held into the window stays HOLD
        return out

    @staticmethod
    def channels(tokens: np.ndarray) -> np.ndarray:
        """The roll channel of every token of a grid (any shape): 0 rest, 1 hold, ``2 + p`` a new note of pitch
        ``p``."""
        tokens = np.asarray(tokens)
        return np.where(tokens >= PITCH0, tokens - PITCH0 + 2, np.where(tokens == HOLD, 1, 0))

    @staticmethod
    def tokens_of(channels: np.ndarray) -> np.ndarray:
        """The tokens of roll channels (any shape); the inverse of :meth:`channels`."""
        channels = np.asarray(channels)
        return np.where(channels >= 2, channels - 2 + PITCH0, np.where(channels == 1, HOLD, REST))

    @classmethod
    def to_roll(cls, tokens: np.ndarray) -> np.ndarray:
        """One-hot roll ``(voices, steps, 130)`` of a token grid ``(voices, steps)``."""
        return np.eye(CHANNELS, dtype=np.float32)[cls.channels(tokens)]

    @classmethod
    def to_tokens(cls, roll: np.ndarray) -> np.ndarray:
        """Token grid ``(voices, steps)`` of a roll (the most likely channel of each cell)."""
        return cls.tokens_of(np.asarray(roll).argmax(axis=-1))

    def decode(self, roll: np.ndarray, header: dict) -> Piece:
        """A piece from a roll; ``header`` as in :class:`~musewidgets.codecs.tokens.Encoded` (its parts decide how
        many voices are kept)."""
        tokens = self.to_tokens(roll)[: len(header["parts"])]
        return self.tokens.decode(tokens.T.reshape(-1), header)

    def to_dict(self) -> dict:
        return {"kind": "roll", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, data: dict) -> RollCodec:
        data = {k: v for k, v in data.items() if k != "kind"}
        data["styles"] = tuple(data["styles"])
        return cls(**data)
