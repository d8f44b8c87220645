"""Piece <-> binary frames, the representation of the polyphonic-music benchmarks (JSB Chorales and its kin).

A frame is the set of keys sounding at one instant, sampled every ``steps_per_frame`` steps (a quarter note with
the default 4 steps per quarter): ``frames[t, k]`` is 1 when MIDI pitch ``low_pitch + k`` sounds at the start of
frame ``t``. Frames keep neither voices nor repeated strikes, so decoding joins a key held over several frames into
one note; ``encode(decode(f)) == f`` for any frames ``f``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..piece import Piece

__all__ = ["FrameCodec"]


@dataclass(frozen=True)
class FrameCodec:
    n_keys: int = 88
    low_pitch: int = 21  # MIDI pitch of key 0 (A0 on a piano)
    steps_per_frame: int = 4
    steps_per_quarter: int = 4

    def encode(self, piece: Piece) -> np.ndarray:
        """Binary frames ``(n_frames, n_keys)`` uint8 of a piece (all parts together); notes off the keys are lost.

        The frames cover the piece to its end (:attr:`Piece.end`: its ``length``, else where its last note ends), one
        every ``steps_per_frame`` steps, so ``n_frames = ceil(piece.end / steps_per_frame)``.
        """
        if piece.steps_per_quarter != self.steps_per_quarter:
            raise ValueError(
                f"`piece` has {piece.steps_per_quarter} steps per quarter, this codec {self.steps_per_quarter}"
            )
        roll = piece.to_pianoroll().any(axis=0)  # (steps, 128)
        # the roll runs to the bar line after the end; a decoded piece ends where its frames end, maybe mid-bar
        frames = roll[: piece.end : self.steps_per_frame, self.low_pitch : self.low_pitch + self.n_keys]
        return frames.astype(np.uint8)

    def decode(self, frames: np.ndarray, **fields) -> Piece:
        """A one-part piece from frames ``(n_frames, n_keys)``; ``fields`` go to :class:`Piece` (tempo, title ...)."""
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.n_keys:
            raise ValueError(f"`frames` must have shape (n_frames, {self.n_keys}), got {frames.shape}")
        roll = np.zeros((len(frames) * self.steps_per_frame, 128), dtype=bool)
        roll[:, self.low_pitch : self.low_pitch + self.n_keys] = np.repeat(frames > 0, self.steps_per_frame, axis=0)
        fields.setdefault("names", ["Keyboard"])
        return Piece.from_pianoroll(roll, steps_per_quarter=self.steps_per_quarter, **fields)

    def to_dict(self) -> dict:
        return {"kind": "frames", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> FrameCodec:
        return cls(**{k: v for k, v in data.items() if k != "kind"})
