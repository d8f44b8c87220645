"""Guidance: documented nudges on the logits that help a sequence model keep the key and end like a piece.

The models are *told* the key and how many bars are left (:mod:`musewidgets.codecs.tokens`), and learn what to do
with that from the corpus. Learning it well takes longer than a CPU fine-tune allows, and even real music is not
always in its key by a key estimate (8 bars of a real corpus piece are in the key of the whole piece by the
Krumhansl-Schmuckler estimate 67-81 % of the time). So the samplers also add, in the open, two log-prior terms to
the logits before a token is drawn (a product of experts: the model times a simple prior):

**Key** (when the user asks for one): every pitch token gets ``key_strength * log(p)``, ``p`` the Krumhansl-Kessler
(1982) probe-tone rating of its pitch class in that key divided by the largest rating, so the tonic gets 0 and a
chromatic note about ``-1.05 * key_strength``. Rests and holds are untouched.

**Cadence** ("end here", the last bar): in the outer voices (the top and the bottom part) the pitch tokens of the
tonic get ``+cadence_strength``, and ``HOLD`` gets ``+cadence_strength / 2`` while the voice holds the tonic and
``-cadence_strength / 2`` while it holds another note: a final note on the tonic, held, is favoured, never forced.
The tonic is that of the requested key, else of the key estimated from the take so far.

Only models with key and ending control are guided; ``Sampler.iter_generate(guide=False)`` switches guidance off,
so that the model alone can be heard and measured.
"""

from __future__ import annotations

import math

import torch

from .analysis.keys import KRUMHANSL_KESSLER
from .codecs.tokens import PITCH0

__all__ = ["CADENCE_STRENGTH", "KEY_STRENGTH", "cadence_bias", "hold_bias", "key_bias", "outer_voices"]

KEY_STRENGTH = 2.0
CADENCE_STRENGTH = 5.0


def key_bias(tonic: int, mode: str, vocab_size: int, strength: float = KEY_STRENGTH) -> torch.Tensor:
    """Additive bias ``(vocab_size,)`` toward the pitch classes of a key; 0 for rests, holds and the tonic."""
    profile = KRUMHANSL_KESSLER[mode]
    log_p = torch.tensor([math.log(r / profile.max()) for r in profile], dtype=torch.float32)
    bias = torch.zeros(vocab_size)
    pitches = torch.arange(128)
    bias[PITCH0 : PITCH0 + 128] = strength * log_p[(pitches - tonic) % 12]
    return bias


def cadence_bias(
    tonics: list[int | None], n_voices: int, vocab_size: int, strength: float = CADENCE_STRENGTH
) -> torch.Tensor:
    """Additive bias ``(n, n_voices, vocab_size)`` on the pitch tokens of the last bar: the tonic in the outer voices.

    ``tonics`` holds one tonic pitch class per candidate (``None``: no bias for that candidate). Holding is nudged
    separately (:func:`hold_bias`), since it depends on the note that sounds.
    """
    bias = torch.zeros(len(tonics), n_voices, vocab_size)
    pcs = torch.arange(128) % 12
    for i, tonic in enumerate(tonics):
        if tonic is not None:
            for v in outer_voices(n_voices):
                bias[i, v, PITCH0 : PITCH0 + 128] = torch.where(pcs == tonic, strength, 0.0)
    return bias


def hold_bias(sounding: torch.Tensor, tonics: torch.Tensor, strength: float = CADENCE_STRENGTH) -> torch.Tensor:
    """Additive bias ``(n,)`` on ``HOLD`` for one outer voice in the last bar: ``+strength / 2`` while it holds the
    tonic, ``-strength / 2`` while it holds another note; 0 where the tonic is unknown (``tonics < 0``).

    ``sounding`` is the pitch each candidate's voice is playing (-1 when silent).
    """
    on_tonic = (sounding >= 0) & (sounding % 12 == tonics)
    return torch.where(tonics < 0, 0.0, torch.where(on_tonic, strength / 2, -strength / 2))


def outer_voices(n_voices: int) -> list[int]:
    """The top and the bottom voice (the one voice of a melody)."""
    return sorted({0, n_voices - 1})
