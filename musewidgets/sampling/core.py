"""The pure core of sampling: logits to a token, the settings checked, and the plan of a take.

``sample_next_token`` is the one place where logits become a token: temperature 0 is the argmax; otherwise logits
are divided by the temperature, cut to the ``top_k`` largest and to the smallest set whose probability reaches
``top_p``, and sampled from an explicit ``torch.Generator``, so the same seed gives the same notes, bit for bit, and
nothing touches the global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..keys import key_from_text
from ..piece import Piece
from .guidance import Guidance

__all__ = [
    "MIN_TEMPERATURE",
    "Plan",
    "check_key",
    "check_settings",
    "check_temperature",
    "filter_logits",
    "sample_next_token",
]

MIN_TEMPERATURE = 0.01  # below it (but 0) the logits divided by it overflow (1e-320: inf, then NaN)


def filter_logits(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """Logits after temperature, top-k and top-p: what :func:`sample_next_token` samples from (``temperature > 0``).

    Logits are divided by the temperature, cut to the ``top_k`` largest (0 = off) and then to the smallest set whose
    probability reaches ``top_p`` (1 = off); cut tokens get ``-inf``.
    """
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        drop = probs.cumsum(dim=-1) - probs >= top_p  # keep the smallest prefix that reaches top_p
        sorted_logits = sorted_logits.masked_fill(drop, -math.inf)
        logits = torch.full_like(logits, -math.inf).scatter(-1, order, sorted_logits)
    return logits


def sample_next_token(
    logits: torch.Tensor,
    rng: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> torch.Tensor:
    """One token per row of ``logits`` (B, V) -> (B,).

    ``temperature=0`` takes the argmax; ``top_k=0`` and ``top_p=1`` switch those cut-offs off (:func:`filter_logits`).
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=rng)[:, 0]


def check_temperature(temperature: float) -> None:
    """``ValueError`` unless ``temperature`` is 0 or from :data:`MIN_TEMPERATURE` to 10."""
    number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if not (number and (temperature == 0 or MIN_TEMPERATURE <= temperature <= 10)):
        raise ValueError(
            f"`temperature` must be 0 (the likeliest token) or from {MIN_TEMPERATURE:g} to 10, got {temperature!r}"
        )


def check_settings(*, temperature: float, top_k: int, top_p: float, bars: int, n: int = 1, seed: int = 0) -> None:
    """Raise ``ValueError`` naming the first setting out of range."""
    check_temperature(temperature)
    if not (isinstance(top_k, int) and top_k >= 0):
        raise ValueError(f"`top_k` must be a whole number >= 0 (0 = off), got {top_k!r}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"`top_p` must be in (0, 1] (1 = off), got {top_p!r}")
    if not (isinstance(bars, int) and 1 <= bars <= 256):
        raise ValueError(f"`bars` must be a whole number from 1 to 256, got {bars!r}")
    if not (isinstance(n, int) and 1 <= n <= 64):
        raise ValueError(f"`n` (candidates) must be from 1 to 64, got {n!r}")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ValueError(f"`seed` must be a whole number >= 0, got {seed!r}")


def check_key(key) -> str:
    """``key`` as a key name the piece accepts (``'D minor'``), or ``ValueError`` naming what is wrong; the short
    forms a musician writes are read too (``'Dm'``, ``'d'``, ``'F#'``, ``'Bbm'``: :func:`.keys.key_from_text`)."""
    return key_from_text(key)


@dataclass(frozen=True)
class Plan:
    """What a take is asked for, checked: what the samplers of each family read besides the model."""

    style: str
    bars: int  # new bars, after the primer
    rows: int  # takes drawn together (the candidates of every take)
    seed: int
    settings: dict  # temperature, top_k and top_p, for sample_next_token
    time_signature: tuple[int, int]
    key: str | None = None  # asked for (None: a key the style uses, or the model's choice without guidance)
    told: tuple[str, ...] | None = None  # with no key asked, the key each row is told (one the style uses)
    primer: Piece | None = None  # music to continue, kept unchanged at the start
    pickup: int = 0  # steps before the first bar line of a take without a primer (an upbeat)
    ending: bool = True  # end like a piece (models with controls)
    strict: bool = False  # strict voice leading (sequence models)
    guidance: Guidance = field(default_factory=Guidance)
    # tokens kept as given, (steps, voices), -1 where the model writes: a melody to harmonize (sequence models)
    fixed: torch.Tensor | None = None

    @property
    def greedy(self) -> bool:
        """Temperature 0: every choice, the plans' too, is the likeliest."""
        return self.settings["temperature"] == 0
