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

**Phrases that return** (every sequence model, the styles of the corpus): real folk and Irish tunes repeat bars
note for note (an Irish phrase's fifth bar is its first again in 36 % of phrases), and a model sampling left to
right almost never does. Before each bar, a plan drawn from the style's :func:`repetition_profile` (measured on the
training split by ``python -m musewidgets.guidance``, kept in ``data/guidance/repetition.json``) says whether the
bar returns to one ``lag`` bars earlier; if so, at every step of the bar the token that bar had at the same place,
in the same voice, gets ``+repeat_strength``. The plan's draws come from their own generator (seeded from the
take's seed), so the notes of bars that do not return are drawn as without the plan. Bars are counted in phrases of
8 from the first bar line; the last bar of a take that ends is never a repeat (it cadences).

Only models with key and ending control get the key and cadence priors; ``Sampler.iter_generate(guide=False)``
switches all guidance off, so that the model alone can be heard and measured.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import torch

from .analysis.keys import KRUMHANSL_KESSLER
from .codecs.tokens import PITCH0

__all__ = [
    "CADENCE_STRENGTH",
    "KEY_STRENGTH",
    "REPEAT_STRENGTH",
    "cadence_bias",
    "hold_bias",
    "key_bias",
    "outer_voices",
    "plan_repeats",
    "repetition_profiles",
]

KEY_STRENGTH = 2.0
CADENCE_STRENGTH = 5.0
REPEAT_STRENGTH = 8.0  # 6: two in three planned returns came out note for note (LSTM, Irish); 8: most
PHRASE_BARS = 8  # repetition is planned within phrases of this many bars
PROFILES = Path(__file__).parent / "data" / "guidance" / "repetition.json"


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


@cache
def repetition_profiles() -> dict[str, list[list[float]]]:
    """Per corpus style, :func:`~musewidgets.analysis.metrics.repetition_profile` of its training split."""
    return json.loads(PROFILES.read_text())["styles"]


def plan_repeats(style: str, bar: int, n: int, generator: torch.Generator, greedy: bool = False) -> torch.Tensor:
    """``(n,)`` lags: how many bars back bar ``bar`` (counted from the first bar line) returns to, 0 for a new bar.

    Drawn per candidate from the style's profile at the bar's place in its 8-bar phrase (``greedy``, as at
    temperature 0: the likeliest choice, nothing drawn); a phrase's first bar, and every bar of a style without a
    profile, is new.
    """
    place = bar % PHRASE_BARS
    profile = repetition_profiles().get(style)
    if place == 0 or profile is None:
        return torch.zeros(n, dtype=torch.long)
    probs = torch.tensor(profile[place - 1][: place + 1]) + 1e-12
    if greedy:
        return probs.argmax().expand(n).clone()
    return torch.multinomial(probs, n, replacement=True, generator=generator)


def _measure() -> dict:
    """The repetition profile of every corpus style's training split (``python -m musewidgets.guidance``)."""
    from .analysis.metrics import repetition_profile
    from .corpus import load_style, styles

    return {s.name: repetition_profile(load_style(s.name, progress=False).split("train")) for s in styles()}


if __name__ == "__main__":
    PROFILES.parent.mkdir(parents=True, exist_ok=True)
    note = "made by `python -m musewidgets.guidance`: musewidgets.analysis.metrics.repetition_profile per style"
    PROFILES.write_text(json.dumps({"note": note, "styles": _measure()}, indent=1) + "\n")
    print(f"wrote {PROFILES}")
