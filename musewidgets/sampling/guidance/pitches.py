"""The choice among pitches: the key of a take, and the four-voice styles' pitch temperature.

A take asked for no key is told one drawn from the keys the style's pieces are in (:func:`plan_keys`, from
:func:`~.profiles.key_shares`), so that its key is one the style uses; the model alone, told none, chose remote
keys in half of its takes (F# major chorales, Palestrina in B major), against 0-5 % of the style's pieces.

A take asked for a key is chosen among :data:`KEY_CANDIDATES` candidates drawn together, the first that both
key-finders hear in that key (:func:`choose_in_key`); the transformer and the GAN, whose candidates are rarely in
the key, also add ``KEY_STRENGTH * log p`` to every pitch, ``p`` the Krumhansl-Kessler rating of its pitch class in
the key (:func:`key_bias`). Palestrina's takes divide the pitch logits by :data:`PITCH_TEMPERATURE`. Both act among
the pitches only (:func:`among_pitches`), so they never change whether a voice plays, holds or rests.
Measurements: docs/guidance.md.
"""

from __future__ import annotations

import math

import torch

from ...codecs.tokens import PITCH0
from ...keys import KRUMHANSL_KESSLER, fits_key
from ...piece import parse_key
from .base import Prior
from .profiles import key_shares

__all__ = [
    "KEY_CANDIDATES",
    "KEY_STRENGTH",
    "PITCH_TEMPERATURE",
    "AmongPitches",
    "among_pitches",
    "choose_in_key",
    "key_bias",
    "key_prior",
    "pitch_temperature",
    "plan_keys",
]

# the key prior's strength per model family (the others: none, candidates alone)
KEY_STRENGTH = {"gan": 2.0, "transformer": 1.0}
KEY_CANDIDATES = 8  # a take asked for a key is the first of this many candidates in that key (else the closest)
KEYS_SEED_OFFSET = 611_953  # the keys of takes asked for none are drawn from seed + this
# the styles with a pitch temperature: only Palestrina's takes were closer to his music with it (the judges on the
# valid endings, each prior off in turn: docs/guidance.md); chorales were closer without, folk and Irish never had one
PITCH_TEMPERATURE = {"renaissance": 0.8}


def key_bias(tonic: int, mode: str, vocab_size: int, strength: float = 1.0) -> torch.Tensor:
    """Additive bias ``(vocab_size,)`` toward the pitch classes of a key; 0 for rests, holds and the tonic."""
    profile = KRUMHANSL_KESSLER[mode]
    log_p = torch.tensor([math.log(r / profile.max()) for r in profile], dtype=torch.float32)
    bias = torch.zeros(vocab_size)
    pitches = torch.arange(128)
    bias[PITCH0 : PITCH0 + 128] = strength * log_p[(pitches - tonic) % 12]
    return bias


def among_pitches(logits: torch.Tensor, temperature: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``logits`` (n, vocab) with the pitch tokens divided by ``temperature`` and ``bias`` (vocab,) added to them,
    then rescaled to the probability they had together: it changes the choice among pitches, never between a new
    note and a hold or rest (so it does not change the rhythm)."""
    pitch = logits[:, PITCH0:]
    before = torch.logsumexp(pitch, dim=1, keepdim=True)
    moved = pitch / temperature if bias is None else pitch / temperature + bias[PITCH0:]
    moved = moved - torch.logsumexp(moved, dim=1, keepdim=True) + before
    out = logits.clone()
    out[:, PITCH0:] = torch.where(torch.isfinite(before), moved, pitch)
    return out


def choose_in_key(candidates: list, key: str, n: int) -> list:
    """The ``n`` takes of ``n * KEY_CANDIDATES`` ``candidates`` (take ``j``'s are ``candidates[j * K : (j + 1) * K]``)
    for a ``key`` asked for: of each take's candidates, the first that both key-finders hear in ``key``
    (:func:`~musewidgets.keys.fits_key`), else the one whose notes fit ``key`` best."""
    k = len(candidates) // n
    chosen = []
    for j in range(n):
        group = candidates[j * k : (j + 1) * k]
        fits = [fits_key(piece, key) for piece in group]
        both = [i for i, (ok, _) in enumerate(fits) if ok]
        chosen.append(group[both[0] if both else max(range(k), key=lambda i: fits[i][1])])
    return chosen


def key_prior(family: str, key: str | None, vocab_size: int, strength: float = 1.0) -> torch.Tensor | None:
    """:func:`key_bias` ``(vocab_size,)`` for a ``key`` asked for, at ``strength`` times the family's
    :data:`KEY_STRENGTH`; ``None`` without a key or for a family without a prior."""
    strength = KEY_STRENGTH.get(family, 0.0) * strength
    if key is None or not strength:
        return None
    tonic, mode = parse_key(key)
    return key_bias(tonic, mode, vocab_size, strength)


def pitch_temperature(style: str | None, strength: float = 1.0) -> float:
    """The style's :data:`PITCH_TEMPERATURE` raised to ``strength`` (1 where the style has none, or at 0)."""
    return PITCH_TEMPERATURE.get(style, 1.0) ** strength


class AmongPitches(Prior):
    """Divides the pitch tokens' logits by ``temperature``, adds ``bias`` ``(vocab,)`` to them (a key asked for) and
    rescales them to the probability they had together (:func:`among_pitches`); does nothing at 1 and no bias."""

    def __init__(self, temperature: float = 1.0, bias: torch.Tensor | None = None):
        self.temperature, self.bias = temperature, bias

    def __call__(self, logits, run, step, voice):
        if self.temperature != 1.0 or self.bias is not None:
            return among_pitches(logits, self.temperature, self.bias)
        return logits


def plan_keys(style: str | None, n: int, seed: int, greedy: bool = False, strength: float = 1.0) -> list[str] | None:
    """Keys for ``n`` takes asked for none: drawn from the style's :func:`~.profiles.key_shares` raised to
    ``strength`` (1: as often as the style's pieces are in them), from a generator of their own (``seed`` +
    :data:`KEYS_SEED_OFFSET`); ``greedy`` (temperature 0): the commonest. ``None`` for a style without a profile."""
    shares = key_shares().get(style or "")
    if not shares:
        return None
    keys = list(shares)
    if greedy:
        return [keys[0]] * n
    weights = torch.tensor([shares[k] for k in keys], dtype=torch.float64) ** strength
    generator = torch.Generator().manual_seed(seed + KEYS_SEED_OFFSET)
    return [keys[int(i)] for i in torch.multinomial(weights, n, replacement=True, generator=generator)]
