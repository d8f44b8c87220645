"""Strict voice leading while sampling: refuse the tokens that would make a voice-leading fault.

Sequence models sample one token per voice per step, the top voice first. In strict mode, before voice ``v`` draws
its token at a step, :meth:`StrictVoiceLeading.mask` forbids (``-inf``) every token that would make, with the voices
already drawn at that step, a fault as :mod:`musewidgets.analysis.voice_leading` counts it:

- a **parallel fifth or octave** with any higher voice ``u``: both move from the last event (a step where any voice
  struck a note) in the same direction, into the interval class (mod 12) they held there, 7 or 0;
- a **crossing** with the voice just above: a pitch above it (holding a note that now lies above it, too);
- **spacing** of more than an octave below the voice just above, for the upper voices (not the lowest pair);
- a pitch outside the textbook SATB range of its voice (Aldwell & Schachter), for four-voice styles.

A rest is never forbidden, so strict sampling never dead-ends: when every note is refused the voice rests. The
model's own probabilities decide among what is left (temperature, top-k and top-p apply after the mask), so the
same seed gives the same notes, and ``strict=False`` leaves sampling exactly as it was.

``StrictVoiceLeading(..., parallels_only=True, penalty=p)`` is the soft form the default sampling uses as guidance
(:mod:`musewidgets.sampling.guidance.parallels`): only parallel fifths and octaves, and they cost ``p`` (in logits)
instead of being refused; crossings, spacing and range are left to the model, as real four-part music has them too.
"""

from __future__ import annotations

import numpy as np
import torch

from ..analysis.voice_leading import SATB_RANGES
from ..codecs.tokens import HOLD, PITCH0, REST

__all__ = ["StrictVoiceLeading"]

_PITCHES = np.arange(128)[None, :]  # (1, 128)


class StrictVoiceLeading:
    """Per-candidate bookkeeping of what sounds, and the masks that keep ``n`` candidates of ``V`` voices clean.

    Call :meth:`mask` before voice ``v`` draws, :meth:`update` with what it drew, and :meth:`end_step` after the
    last voice of a step. The bookkeeping is numpy (a few microseconds a call, where torch's per-operation overhead
    would double the cost of sampling one take); the masks are handed over as torch tensors.
    """

    def __init__(self, n: int, voices: int, vocab_size: int, *, parallels_only: bool = False, penalty: float = np.inf):
        self.n, self.voices, self.vocab = n, voices, vocab_size
        self.parallels_only, self.penalty = parallels_only, penalty
        self.sounding = np.full((n, voices), -1)  # pitch each voice sounds now (-1: rest), as decided so far
        self.previous = np.full((n, voices), -1)  # pitches at the last event before this step
        self.struck = np.zeros(n, dtype=bool)  # a note was struck at this step
        self.range = np.full((voices, 128), -np.inf, dtype=np.float32)
        for v in range(voices):
            low, high = SATB_RANGES[v] if voices == 4 and not parallels_only else (0, 127)
            self.range[v, low : high + 1] = 0.0

    def mask(self, v: int) -> torch.Tensor:
        """(n, vocab) additive mask for voice ``v``: 0 where allowed, ``-penalty`` (``-inf``: refused) for tokens that
        would make a fault."""
        forbid = np.zeros((self.n, 128), dtype=bool)
        hold = self.sounding[:, v]  # what HOLD would keep sounding
        forbid_hold = np.zeros(self.n, dtype=bool)
        p = _PITCHES
        if v > 0 and not self.parallels_only:
            above = self.sounding[:, v - 1]  # decided at this step
            sounds = above >= 0
            forbid |= sounds[:, None] & (p > above[:, None])  # crossing
            forbid_hold |= sounds & (hold >= 0) & (hold > above)
            if v < self.voices - 1:  # spacing: not between the two lowest voices
                forbid |= sounds[:, None] & (above[:, None] - p > 12)
                forbid_hold |= sounds & (hold >= 0) & (above - hold > 12)
        pv0 = self.previous[:, v][:, None]
        for u in range(v):
            cu, pu0 = self.sounding[:, u][:, None], self.previous[:, u][:, None]
            moved = (cu >= 0) & (pu0 >= 0) & (cu != pu0) & (pv0 >= 0)
            if not moved.any():
                continue
            before = np.abs(pu0 - pv0) % 12
            perfect = moved & ((before == 0) | (before == 7))
            same_way = np.sign(cu - pu0) == np.sign(p - pv0)
            forbid |= perfect & same_way & (p != pv0) & (np.abs(cu - p) % 12 == before)
        out = np.zeros((self.n, self.vocab), dtype=np.float32)
        out[:, PITCH0 : PITCH0 + 128] = np.where(forbid, -self.penalty, self.range[v])
        out[:, HOLD] = np.where(forbid_hold, -self.penalty, 0.0)
        out[:, REST] = 0.0
        return torch.from_numpy(out)

    def update(self, v: int, tokens: torch.Tensor) -> None:
        """Record voice ``v``'s tokens (n,) at this step."""
        t = tokens.numpy()
        struck = t >= PITCH0
        self.sounding[:, v] = np.where(struck, t - PITCH0, np.where(t == REST, -1, self.sounding[:, v]))
        self.struck |= struck

    def end_step(self) -> None:
        """A step is complete: where a note was struck, it is the new last event."""
        self.previous = np.where(self.struck[:, None], self.sounding, self.previous)
        self.struck[:] = False
