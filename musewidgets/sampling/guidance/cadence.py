"""Cadence: a take that ends closes like the style's pieces.

The outer voices (the top and the bottom part) of the last bar lean toward a final drawn for each take from the notes
the style's real pieces end on (:func:`plan_ending`, from the style's ending profile): a pitch gets
``CADENCE_STRENGTH * w`` and ``HOLD`` on the note a voice holds ``HOLD_STRENGTH / 2 * (2 w - 1)``, ``w`` the pitch's
weight toward the drawn final (:func:`cadence_bias`, :func:`hold_bias`). A take asked for a key (or continuing a
primer) closes on the likeliest final, the tonic of that key, and so does a take at temperature 0. The infill model
gets its own form (:func:`infill_cadence`): the voices under a melody's last note lean to a perfect or plagal cadence.
Measurements: docs/guidance.md.
"""

from __future__ import annotations

import numpy as np
import torch

from ...codecs.tokens import HOLD, PITCH0
from ...keys import key_scores
from ...piece import Piece, parse_key
from .base import Prior
from .profiles import ending_profiles

__all__ = [
    "CADENCE_STRENGTH",
    "ENDING_SEED_OFFSET",
    "HOLD_STRENGTH",
    "TONIC_ONLY",
    "TRIAD",
    "Cadence",
    "approach_weights",
    "cadence_bias",
    "ending_key",
    "ending_weights",
    "hold_bias",
    "infill_cadence",
    "outer_voices",
    "plan_cadence",
    "plan_ending",
]

CADENCE_STRENGTH = 5.0
HOLD_STRENGTH = 10.0  # HOLD in the last bar: 5 ended 56 % of 64 LSTM chorale takes on the tonic, 10: 69 % (real 73)
ENDING_SEED_OFFSET = 104_729  # a take's finals are drawn from seed + this
TRIAD = {"major": (0, 4, 7), "minor": (0, 3, 7)}  # the tonic chord's pitch classes above the tonic


TONIC_ONLY = torch.eye(12)[0]  # the weights of a style without an ending profile: the tonic alone


def outer_voices(n_voices: int) -> list[int]:
    """The top and the bottom voice (the one voice of a melody)."""
    return sorted({0, n_voices - 1})


def ending_weights(style: str | None, n_voices: int) -> dict[int, torch.Tensor]:
    """Per outer voice, the weight ``(12,)`` of each interval above the tonic for its final note (see above)."""
    profile = ending_profiles().get(style) if style else None
    weights = {}
    for v in outer_voices(n_voices):
        if profile is None:
            weights[v] = TONIC_ONLY
        else:
            shares = torch.tensor(profile["top" if v == 0 else "bass"])
            weights[v] = 1 + torch.log(shares / shares.max()).clamp(min=-1.0)  # 1 for the likeliest, 0 under 1/e of it
    return weights


def approach_weights(style: str | None) -> torch.Tensor | None:
    """The weight ``(12,)`` of each interval above the final bass note for the bass note before it (the style's
    ``"approach"`` ending profile, weighted as :func:`ending_weights` does); ``None`` where the style has none."""
    profile = ending_profiles().get(style) if style else None
    if not profile or not sum(profile.get("approach", ())):
        return None
    shares = torch.tensor(profile["approach"])
    return 1 + torch.log(shares / shares.max()).clamp(min=-1.0)


def cadence_bias(
    tonics: list[int | None],
    n_voices: int,
    vocab_size: int,
    strength: float = CADENCE_STRENGTH,
    weights: dict[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Additive bias ``(n, n_voices, vocab_size)`` on the pitch tokens of the last bar, in the outer voices:
    ``strength * w`` for a pitch ``w`` of the way to the style's likeliest final (:func:`ending_weights`; by default
    the tonic alone).

    ``tonics`` holds one tonic pitch class per candidate (``None``: no bias for that candidate). ``weights`` per
    outer voice: ``(12,)`` for every candidate, or ``(n, 12)``, one row per candidate (:func:`plan_ending`).
    Holding is nudged separately (:func:`hold_bias`), since it depends on the note that sounds.
    """
    weights = weights or {v: TONIC_ONLY for v in outer_voices(n_voices)}
    bias = torch.zeros(len(tonics), n_voices, vocab_size)
    pitches = torch.arange(128)
    for i, tonic in enumerate(tonics):
        if tonic is not None:
            for v, w in weights.items():
                row = w[i] if w.dim() == 2 else w
                bias[i, v, PITCH0 : PITCH0 + 128] = strength * row[(pitches - tonic) % 12]
    return bias


def hold_bias(
    sounding: torch.Tensor,
    tonics: torch.Tensor,
    strength: float = HOLD_STRENGTH,
    weights: torch.Tensor = TONIC_ONLY,
) -> torch.Tensor:
    """Additive bias ``(n,)`` on ``HOLD`` for one outer voice in the last bar: ``strength / 2 * (2 w - 1)`` for the
    weight ``w`` of the note it holds (by default: ``+strength / 2`` on the tonic, ``-strength / 2`` on any other
    note); 0 where the tonic is unknown (``tonics < 0``) or the voice is silent.

    ``sounding`` is the pitch each candidate's voice is playing (-1 when silent); ``weights`` is ``(12,)``, or
    ``(n, 12)`` with one row per candidate.
    """
    interval = (sounding - tonics) % 12
    w = weights[torch.arange(len(interval)), interval] if weights.dim() == 2 else weights[interval]
    return torch.where((tonics < 0) | (sounding < 0), 0.0, strength / 2 * (2 * w - 1))


def plan_ending(style: str | None, n_voices: int, n: int, seed: int, greedy: bool = False) -> dict[int, torch.Tensor]:
    """Per outer voice, ``(n, 12)`` weights of each interval above the tonic for the final note: a final drawn per
    candidate from the style's ending profile, so that takes end on the tonic, the fifth or the fourth as often as
    the style's pieces do (always nudging toward the likeliest final would end every take on the tonic).

    The bass (the one voice of a melody) ends on the drawn interval ``r`` (weight 1, 0 elsewhere); the top voice of
    several takes the top profile's weights moved up by ``r``, so it keeps its usual place in the final chord
    (mostly doubling the bass) whatever chord that is. The draws come from a generator of their own, seeded from the
    take's ``seed``, so the notes are drawn as without them. ``greedy`` (temperature 0, or a key asked for) takes the
    likeliest final. A style without a profile ends on the tonic.
    """
    profile = ending_profiles().get(style) if style else None
    voices = outer_voices(n_voices)
    if profile is None:
        return {v: TONIC_ONLY.expand(n, 12).clone() for v in voices}
    shares = torch.tensor(profile["bass" if n_voices > 1 else "top"], dtype=torch.float64)
    if greedy:
        finals = shares.argmax().expand(n).clone()
    else:
        generator = torch.Generator().manual_seed(seed + ENDING_SEED_OFFSET)
        finals = torch.multinomial(shares + 1e-12, n, replacement=True, generator=generator)
    weights = {voices[-1]: torch.eye(12)[finals]}
    if n_voices > 1:
        top = ending_weights(style, n_voices)[0]
        weights[0] = torch.stack([top.roll(int(r)) for r in finals])  # top[(x - r) % 12] at interval x
    return weights


def plan_cadence(
    keys: list[str | None],
    style: str | None,
    n_voices: int,
    vocab_size: int,
    seed: int = 0,
    greedy: bool = False,
    strength: float = 1.0,
):
    """The last bar's cadence for candidates in ``keys`` (``None``: unknown): pitch bias ``(n, n_voices,
    vocab_size)`` at ``strength`` times :data:`CADENCE_STRENGTH`, the tonic per candidate ``(n,)`` (-1 where
    unknown), and the weights ``(n, 12)`` per outer voice of the finals drawn from ``seed`` (:func:`plan_ending`)."""
    tonics = [parse_key(k)[0] if k is not None else None for k in keys]
    weights = plan_ending(style, n_voices, len(keys), seed, greedy)
    bias = cadence_bias(tonics, n_voices, vocab_size, CADENCE_STRENGTH * strength, weights)
    return bias, torch.tensor([-1 if t is None else t for t in tonics]), weights


class Cadence(Prior):
    """From the first step of the last bar of a take that ends (``run.closing``), nudges the outer voices toward the
    finals of :func:`plan_cadence` (``run.cadence``), holding included (:func:`hold_bias`); ``strength`` scales
    both :data:`CADENCE_STRENGTH` and :data:`HOLD_STRENGTH`."""

    def __init__(self, strength: float = 1.0):
        self.strength, self.plan = strength, None

    def begin_step(self, run, step):
        if step == run.closing:
            self.plan = run.cadence(self.strength)

    def __call__(self, logits, run, step, voice):
        if self.plan is None or voice not in run.outer:
            return logits
        bias, tonics, weights = self.plan
        logits = logits + bias[:, voice]
        logits[:, HOLD] += hold_bias(run.sounding[:, voice], tonics, HOLD_STRENGTH * self.strength, weights[voice])
        return logits


def infill_cadence(
    piece: Piece, grid, free, key: str | None, style: str, steps_per_quarter: int = 4, strength: float = 1.0
):
    """The cadence prior for the bass, when the top voice's final note is given and lies in the tonic chord: a list
    of windows ``(first step, last step, voice, pitch bias (128,), HOLD bias by pitch class (12,))``, one under the
    final note (the style's final bass notes: the tonic) and, where the style has an approach profile, one on the
    quarter before it (the notes its basses come to the final from: the dominant in a chorale); ``None`` where it does
    not apply (see :func:`~musewidgets.sampling.infill.fill`). ``strength`` scales :data:`CADENCE_STRENGTH`."""
    T, V = grid.shape
    top = grid[:, 0]
    onsets = np.flatnonzero(top >= PITCH0)
    if V < 2 or not len(onsets):
        return None
    first = int(onsets[-1])
    last = first
    while last + 1 < T and top[last + 1] == HOLD:
        last += 1
    if free[first : last + 1, 0].any() or not free[first : last + 1, V - 1].any():
        return None
    heard = key or ending_key(piece, int(top[first] - PITCH0))
    if heard is None:
        return None
    tonic, mode = parse_key(heard)
    if (top[first] - PITCH0 - tonic) % 12 not in TRIAD[mode]:
        return None

    c = CADENCE_STRENGTH * strength

    def window(lo, hi, w, voice=V - 1):
        pitch = c * w[(np.arange(128) - tonic) % 12]
        hold = c / 2 * (2 * w[(np.arange(12) - tonic) % 12] - 1)
        return lo, hi, voice, pitch, hold

    windows = [window(first, last, ending_weights(style, V)[V - 1].numpy().astype(float))]
    triad = np.zeros(12)
    triad[list(TRIAD[mode])] = 1.0
    windows += [window(first, first, triad, v) for v in range(1, V - 1)]  # inner voices: in the tonic chord
    for v in range(1, V):  # the final chord is held: no voice moves on under the top voice's last note
        if last > first:
            windows.append((first + 1, last, v, np.zeros(128), np.full(12, c)))
    approach = approach_weights(style)
    if approach is not None and first > 0 and free[max(0, first - steps_per_quarter) : first, V - 1].any():
        windows.append(window(max(0, first - steps_per_quarter), first - 1, approach.numpy().astype(float)))
    return windows


def ending_key(piece: Piece, final: int) -> str | None:
    """The key a piece whose top voice ends on ``final`` most likely ends in: ``piece.key`` where its tonic chord
    holds that note, else of the keys whose tonic chord does, the one the notes fit best (Krumhansl-Schmuckler). On
    the last 8 bars of the 41 held-out chorales its tonic is Bach's final bass in 37 (the key signature's in 33, the
    key estimated from all four of Bach's voices in 30: chorales modulate, and a signature does not tell a major
    key from its relative minor)."""
    if piece.key and (final - parse_key(piece.key)[0]) % 12 in TRIAD[parse_key(piece.key)[1]]:
        return piece.key
    scores = key_scores(piece)
    fits = [k for k in scores if (final - parse_key(k)[0]) % 12 in TRIAD[parse_key(k)[1]]]
    return max(fits, key=scores.get) if fits else None
