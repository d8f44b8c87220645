"""Held finals: a take that ends holds its final chord through the last bar as often as the style's pieces do.

41 % of Palestrina's pieces hold their final chord through the whole last bar, a longa from the bar line before
(chorales, folk and Irish tunes: under 3 %), and a model drawing left to right starts notes in every bar.
:func:`plan_held_final` draws per candidate, with the style's share, whether the take ends so; such a take attacks a
note in every voice on the second-to-last bar line (the outer voices aimed at their finals by the cadence of that
moment) and then only holds (:func:`held_final`). Measurements: docs/guidance.md.
"""

from __future__ import annotations

import math

import torch

from ...codecs.tokens import HOLD, REST
from .base import Prior
from .profiles import held_final_shares

__all__ = ["HELD_FINAL_MIN_BARS", "HELD_FINAL_SEED_OFFSET", "HeldFinal", "held_final", "plan_held_final"]

HELD_FINAL_SEED_OFFSET = 15_485_863  # whether a take holds its final over the last two bars: drawn from seed + this
HELD_FINAL_MIN_BARS = 4  # a take of fewer bars ends in its last bar


def plan_held_final(style: str | None, n: int, seed: int, greedy: bool = False, strength: float = 1.0) -> torch.Tensor:
    """``(n,)`` bool: which candidates end on a final chord attacked on the second-to-last bar line and held to the
    end, drawn with the style's :func:`held_final_shares` from a generator of their own (``seed`` +
    :data:`HELD_FINAL_SEED_OFFSET`), so that the other candidates are drawn as without the plan; ``greedy``
    (temperature 0): all of them if the style's pieces mostly end so, else none. ``strength`` scales the share (at
    most 1)."""
    share = min(1.0, held_final_shares().get(style or "", 0.0) * strength)
    if greedy:
        return torch.full((n,), share > 0.5)
    generator = torch.Generator().manual_seed(seed + HELD_FINAL_SEED_OFFSET)
    return torch.rand(n, generator=generator) < share


def held_final(
    logits: torch.Tensor, held: torch.Tensor, sounding: torch.Tensor, attack: bool, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Logits ``(n, vocab)`` of one voice with the held final imposed on the rows ``held``: at the ``attack`` step a
    new note (no hold, no rest; plus the cadence's pitch ``bias`` for an outer voice), after it only ``HOLD`` (``REST``
    for a voice that ``sounding`` says is silent). A row left with no possible token keeps its logits."""
    if attack:
        forced = logits.clone()
        forced[:, [HOLD, REST]] = -math.inf
        if bias is not None:
            forced = forced + bias
    else:
        keep = torch.where(sounding >= 0, HOLD, REST)[:, None]
        forced = torch.full_like(logits, -math.inf).scatter_(1, keep, logits.gather(1, keep))
    possible = torch.isfinite(forced).any(1, keepdim=True)
    return torch.where(held[:, None] & possible, forced, logits)


class HeldFinal(Prior):
    """Imposes :func:`held_final` on the candidates that :func:`plan_held_final` picks, in a take that ends
    (``run.closing``) and has at least :data:`HELD_FINAL_MIN_BARS` new bars; the attack's outer voices lean to the
    cadence (``run.cadence`` at ``cadence_strength``)."""

    def __init__(self, strength: float = 1.0, cadence_strength: float = 1.0):
        self.strength, self.cadence_strength = strength, cadence_strength
        self.held = self.attack = self.early = None

    def start(self, run):
        if run.closing is None or run.bars < HELD_FINAL_MIN_BARS:
            return
        held = plan_held_final(run.style, run.n, run.seed, run.greedy, self.strength)
        if held.any():
            self.held, self.attack = held, run.total_steps - 2 * run.spb

    def begin_step(self, run, step):
        if step == self.attack:
            self.early = run.cadence(self.cadence_strength)

    def __call__(self, logits, run, step, voice):
        if self.held is None or step < self.attack:
            return logits
        bias = self.early[0][:, voice] if step == self.attack and voice in run.outer else None
        return held_final(logits, self.held, run.sounding[:, voice], step == self.attack, bias)
