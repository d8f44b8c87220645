"""Phrases that return: bars come back note for note as often, and as far back, as in the style's pieces.

Real folk and Irish tunes repeat bars note for note (an Irish phrase's fifth bar returns to an earlier bar in 36 % of
phrases), and a model sampling left to right almost never does. Before each bar a plan drawn from the style's
repetition profile (:func:`plan_repeats`) says whether the bar returns to one ``lag`` bars earlier; if so, each step's
token of that bar, in the same voice, gets ``+REPEAT_STRENGTH``. A bar the plan keeps new is kept new: while it has
copied an earlier bar note for note, going on copying it costs ``REPEAT_STRENGTH`` in the bar's second half.
Measurements: docs/guidance.md.
"""

from __future__ import annotations

import torch

from ...codecs.tokens import PITCH0
from .base import Prior
from .profiles import repetition_profiles

__all__ = ["PHRASE_BARS", "REPEAT_STRENGTH", "REPEATS_SEED_OFFSET", "Repeats", "plan_repeats"]

REPEAT_STRENGTH = 8.0  # 6: two in three planned returns came out note for note (LSTM, Irish); 8: most
PHRASE_BARS = 8  # repetition is planned within phrases of this many bars
REPEATS_SEED_OFFSET = 7919  # a take's repetition plan is drawn from seed + this


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


class Repeats(Prior):
    """At each bar line, plans from the style's profile which candidates' bar returns to an earlier one (never the
    last bar of a take that ends, ``run.closing``), then leans each step of it toward the token the earlier bar had
    there, and keeps bars planned new from copying an earlier one through their second half; ``strength`` scales
    :data:`REPEAT_STRENGTH`."""

    def __init__(self, strength: float = 1.0):
        self.strength = REPEAT_STRENGTH * strength
        self.returning = None  # (candidates whose bar returns, the step each copies from)
        self.copying = None  # (first steps of the earlier bars, (n, J): which of them each candidate still copies)
        self.earlier, self.theirs = [], None

    def start(self, run):
        self.generator = torch.Generator().manual_seed(run.seed + REPEATS_SEED_OFFSET)
        self.profiled = repetition_profiles().get(run.style) is not None

    def begin_step(self, run, step):
        if step < run.pickup or (step - run.pickup) % run.spb:
            return
        lags = plan_repeats(run.style, (step - run.pickup) // run.spb, run.n, self.generator, greedy=run.greedy)
        closing = run.closing is not None and step >= run.closing
        rows = (lags > 0).nonzero().flatten() if not closing else torch.zeros(0, dtype=torch.long)
        self.returning = (rows, step - lags[rows] * run.spb) if len(rows) else None
        if self.earlier and self.profiled:
            starts = torch.tensor(self.earlier)
            span = starts[:, None] + torch.arange(run.spb)  # (J, spb): the steps of each earlier bar
            onsets = (run.history[:, span] >= PITCH0).flatten(2).any(2)  # (n, J): bars with notes can repeat
            planned_new = torch.ones(run.n, dtype=torch.bool)
            planned_new[rows] = False
            self.copying = (starts, onsets & planned_new[:, None])
        self.earlier.append(step)

    def __call__(self, logits, run, step, voice):
        place = (step - run.pickup) % run.spb
        if self.returning is not None:  # the token the returning bar had here
            rows, source = self.returning
            logits[rows, run.history[rows, source + place, voice]] += self.strength
        if self.copying is not None:  # a bar kept new that has copied an earlier one so far: vary its second half
            starts, still = self.copying
            self.theirs = run.history[:, starts + place, voice]  # (n, J): what those bars had here
            if place >= run.spb // 2:
                cost = torch.zeros_like(logits).scatter_add_(1, self.theirs, still.float())
                logits = logits - self.strength * cost.clamp(max=1.0)
        return logits

    def drawn(self, run, step, voice, token):
        if self.copying is not None and step >= run.start_step:
            self.copying = (self.copying[0], self.copying[1] & (self.theirs == token[:, None]))
