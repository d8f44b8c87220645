"""Parallel fifths and octaves cost: the soft form of strict voice leading.

In the sequence models a token that would make a parallel fifth or octave with a voice already drawn at that step
costs ``PARALLEL_STRENGTH`` logits (:class:`VoiceLeading` over :class:`~musewidgets.sampling.strict.StrictVoiceLeading`
with ``parallels_only``; crossings, spacing and range are left to the model, as real four-part music has them too).
In the infill model a new note, or a ``HOLD`` that moves a note's end, costs as much per parallel it makes with the
cells on both sides (:func:`parallel_cost`, :func:`hold_cost`). Measurements: docs/guidance.md.
"""

from __future__ import annotations

import bisect

import numpy as np

from ..strict import StrictVoiceLeading
from .base import Prior

__all__ = ["PARALLEL_STRENGTH", "VoiceLeading", "hold_cost", "parallel_cost"]

PARALLEL_STRENGTH = 6.0  # 2 left 2.3 parallels per 8 bars of LSTM chorale, 4 left 0.7, 6 left 0.06 (Bach: 0.03)
PITCHES = np.arange(128)


class VoiceLeading(Prior):
    """Adds a voice-leading guard's mask to each voice's logits and tells it every token: strict voice leading (a
    setting, not a prior: :class:`~musewidgets.sampling.strict.StrictVoiceLeading`) or, by :meth:`parallels`, the
    cost of parallel fifths and octaves."""

    def __init__(self, guard: StrictVoiceLeading):
        self.guard = guard

    @classmethod
    def parallels(cls, n: int, n_voices: int, vocab_size: int, strength: float = 1.0) -> VoiceLeading:
        """Parallel fifths and octaves at ``strength`` times :data:`PARALLEL_STRENGTH` logits each."""
        penalty = PARALLEL_STRENGTH * strength
        return cls(StrictVoiceLeading(n, n_voices, vocab_size, parallels_only=True, penalty=penalty))

    def __call__(self, logits, run, step, voice):
        return logits + self.guard.mask(voice)

    def drawn(self, run, step, voice, token):
        self.guard.update(voice, token)

    def end_step(self, run, step):
        self.guard.end_step()


def parallel_cost(
    sounding: np.ndarray, onset: np.ndarray, t: int, v: int, strength: float, events: list[int] | None = None
) -> np.ndarray | None:
    """(128,) cost of each pitch ``p`` as a new note at cell (t, v): ``strength`` per parallel fifth or octave it
    would make with another voice; ``None`` for none.

    Two moves of voice ``v`` depend on ``p``: into it, from the event before ``t``, and out of it, where the note
    ends (the cells after ``t`` that hold it) and the voice strikes its next note: from the last event of the note
    to that onset. ``sounding`` (T, V): the pitch each voice sounds at each step (-1: silent); ``onset`` (T, V):
    where notes start; ``events``: the steps where any note starts, in order (found from ``onset`` if not given).
    """
    T, V = sounding.shape
    if events is None:
        events = np.flatnonzero(onset.any(1)).tolist()
    q = sounding[t].tolist()  # the other voices at t
    cost = None

    def add(cls, hit):
        nonlocal cost
        if cls in (0, 7):
            cost = strength * hit if cost is None else cost + strength * hit

    j = bisect.bisect_left(events, t)
    if j:  # from the event before into t: both move the same way into the interval class they held
        e0 = events[j - 1]
        a0, b0 = int(sounding[e0, v]), sounding[e0].tolist()
        for u in range(V):
            if u != v and a0 >= 0 and q[u] >= 0 and b0[u] >= 0 and q[u] != b0[u]:
                cls = abs(a0 - b0[u]) % 12
                if cls in (0, 7):
                    same_way = np.sign(PITCHES - a0) == np.sign(q[u] - b0[u])
                    add(cls, (PITCHES != a0) & same_way & (np.abs(PITCHES - q[u]) % 12 == cls))
    end = t  # the note's last step: the cells after t that hold it
    while end + 1 < T and not onset[end + 1, v] and sounding[end + 1, v] >= 0:
        end += 1
    if end + 1 < T and onset[end + 1, v]:  # out of the note, into the voice's next one
        k = bisect.bisect_right(events, end) - 1
        last = max(t, events[k]) if k >= 0 else t  # the last event while the note sounds (t is one)
        c, r0, r = int(sounding[end + 1, v]), sounding[last].tolist(), sounding[end + 1].tolist()
        for u in range(V):
            if u != v and r0[u] >= 0 and r[u] >= 0 and r[u] != r0[u]:
                cls = abs(c - r[u]) % 12
                if cls in (0, 7):
                    same_way = np.sign(c - PITCHES) == np.sign(r[u] - r0[u])
                    add(cls, (PITCHES != c) & same_way & (np.abs(PITCHES - r0[u]) % 12 == cls))
    return cost


def hold_cost(sounding: np.ndarray, onset: np.ndarray, t: int, v: int, strength: float, events: list[int]) -> float:
    """The cost of ``HOLD`` at cell (t, v): holding the note the voice sounds at ``t - 1`` moves its end, and with it
    the move out of the note into the voice's next one; ``strength`` per parallel fifth or octave that move makes."""
    T, V = sounding.shape
    a = int(sounding[t - 1, v]) if t else -1
    if a < 0:
        return 0.0
    end = t
    while end + 1 < T and not onset[end + 1, v] and sounding[end + 1, v] >= 0:
        end += 1
    if end + 1 >= T or not onset[end + 1, v]:
        return 0.0
    k = bisect.bisect_right(events, end) - 1
    if k >= 0 and events[k] == t and onset[t, v] and onset[t].sum() == 1:
        k -= 1  # held, this cell starts no note: t is no event
    if k < 0:
        return 0.0
    last = events[k]
    c, r0, r = int(sounding[end + 1, v]), sounding[last].tolist(), sounding[end + 1].tolist()
    faults = 0
    for u in range(V):
        if u != v and a != c and r0[u] >= 0 and r[u] >= 0 and r[u] != r0[u]:
            cls = abs(c - r[u]) % 12
            faults += cls in (0, 7) and abs(a - r0[u]) % 12 == cls and (c > a) == (r[u] > r0[u])
    return strength * faults
