"""The sequence models' sampler (RNN, LSTM, transformer): one token per voice per step, bar by bar.

Each step runs the model once per voice, top down. A voice's logits are masked (its range; ``HOLD`` only while it
sounds), then every prior of the take's :class:`~musewidgets.sampling.guidance.Guidance` nudges them in turn
(:class:`~musewidgets.sampling.guidance.Priors`), and :func:`~musewidgets.sampling.core.sample_next_token` draws the
token. A primer's tokens are fed first, as given. A plan's ``fixed`` tokens (a melody to harmonize) are kept as
given at their steps, and the model writes the other voices after them, step by step; the take then ends where they
end (no closing rest of its own). The pieces are yielded after every bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from ..codecs.tokens import BOS, HOLD, PITCH0, REST
from ..keys import estimate_key
from ..piece import Piece
from .core import Plan, sample_next_token
from .guidance import (
    AmongPitches,
    Cadence,
    HeldFinal,
    Priors,
    Repeats,
    StyleContrast,
    VoiceLeading,
    key_prior,
    outer_voices,
    pitch_temperature,
    plan_cadence,
    style_strength,
)
from .strict import StrictVoiceLeading

__all__ = ["Run", "write_sequence"]


class Run:
    """A take being written, as its priors see it: the plan, the tokens so far and what each voice sounds.

    Attributes
    ----------
    history : torch.Tensor, shape (n, total_steps, voices)
        Every token so far, the primer's included.
    sounding : torch.Tensor, shape (n, voices)
        The pitch each voice plays (-1: silent).
    closing : int or None
        The first step of the last bar of a take that ends like a piece (models with controls); ``None`` otherwise.
    silent_from : int
        The step from which every voice rests: after an upbeat, the take's last bar is as much shorter (models with
        controls, in a take that ends like a piece); ``total_steps`` otherwise.
    """

    def __init__(self, sampler, plan: Plan):
        codec, n = sampler.codec, plan.rows
        self.codec, self.style, self.seed, self.n, self.bars = codec, plan.style, plan.seed, n, plan.bars
        key = plan.key if plan.primer is None else None
        self.header = sampler.header(plan.style, plan.primer, plan.time_signature, key, plan.pickup)
        self.V = V = len(self.header["parts"])
        ts = tuple(self.header["time_signature"])
        self.spb = codec.steps_per_quarter * 4 * ts[0] // ts[1]
        self.pickup = self.header["pickup"]
        primer, self.primer_tokens = plan.primer, []
        if primer is not None:
            self.primer_tokens = codec.encode(primer.replace(style=plan.style)).tokens.tolist()
        self.start_step = len(self.primer_tokens) // V
        upbeat = self.pickup if primer is None else 0  # (a primer's tokens reach the bar line after its end)
        self.total_steps = self.start_step + upbeat + plan.bars * self.spb
        self.closing = self.total_steps - self.spb if sampler.controls and plan.ending else None
        # a take that starts with an upbeat and ends like a piece ends that much before its last bar line
        self.silent_from = self.total_steps - upbeat if sampler.controls and plan.ending else self.total_steps
        self.fixed = plan.fixed  # (total_steps, V) tokens kept as given, -1 where the model writes
        if self.fixed is not None:
            if tuple(self.fixed.shape) != (self.total_steps, self.V) or primer is not None:
                raise ValueError(
                    f"fixed tokens must be ({self.total_steps}, {self.V}) (steps, voices) of a take without a primer, "
                    f"got {tuple(self.fixed.shape)}"
                )
            self.silent_from = self.total_steps  # the given tokens say where the take ends
        self.greedy = plan.greedy
        self.greedy_final = plan.greedy or self.header["key"] is not None  # a key asked for closes on its tonic
        self.outer = outer_voices(V)
        self.history = torch.zeros(n, self.total_steps, V, dtype=torch.long)
        self.sounding = torch.full((n, V), -1, dtype=torch.long)
        self.hold_block = torch.full((n, V), -math.inf)  # HOLD only while a note sounds
        self.decoders = [codec.decoder(self.header) for _ in range(n)]
        for d in self.decoders:
            d.feed([self.primer_tokens[i : i + V] for i in range(0, len(self.primer_tokens), V)])

    def record(self, step: int, voice: int, token: torch.Tensor) -> None:
        """Keep the tokens ``(n,)`` of ``voice`` at ``step``."""
        self.history[:, step, voice] = token
        self.hold_block[:, voice] = torch.where(token == REST, -math.inf, 0.0)
        self.sounding[:, voice] = torch.where(
            token >= PITCH0, token - PITCH0, torch.where(token == REST, -1, self.sounding[:, voice])
        )

    def pieces(self) -> list[Piece]:
        """Every candidate so far, as a piece."""
        return [d.piece() for d in self.decoders]

    def cadence(self, strength: float = 1.0):
        """:func:`~musewidgets.sampling.guidance.plan_cadence` for the candidates so far: the tonic of the key asked
        for, else of the key estimated from each candidate; finals drawn from the take's seed."""
        if self.header["key"] is not None:
            keys = [self.header["key"]] * self.n
        else:
            keys = [estimate_key(piece) for piece in self.pieces()]
        style = self.header.get("style")
        return plan_cadence(keys, style, self.V, self.codec.vocab_size, self.seed, self.greedy_final, strength)


def priors_for(sampler, run: Run, plan: Plan) -> Priors:
    """The priors of ``plan.guidance`` for this take, in the order they apply (and strict voice leading, which
    refuses where the parallels prior only costs)."""
    g, vocab = plan.guidance, run.codec.vocab_size
    asked = None  # a key asked for (not a primer's: the model hears that in its notes)
    if sampler.controls and plan.primer is None:
        asked = key_prior(sampler.family, run.header["key"], vocab, g.key)
    priors = Priors([AmongPitches(pitch_temperature(plan.style, g.pitch), asked)])
    if g.cadence:
        priors.append(Cadence(g.cadence))
    if g.repeats:
        priors.append(Repeats(g.repeats))
    if plan.strict:
        priors.append(VoiceLeading(StrictVoiceLeading(run.n, run.V, vocab)))
    elif run.V > 1 and g.parallels:
        priors.append(VoiceLeading.parallels(run.n, run.V, vocab, g.parallels))
    if g.held_final:
        priors.append(HeldFinal(g.held_final, g.cadence))
    return priors


class _Inputs:
    """The model's inputs for one voice at one step: the token before, the voice, the place in the bar, metre, style
    and (models with controls) the key and the bars left."""

    def __init__(self, sampler, run: Run, plan: Plan):
        codec, n = run.codec, run.n
        self.run, self.max_bar_steps = run, codec.max_bar_steps
        self.metre = torch.full((n,), codec.metre_index(tuple(run.header["time_signature"])), dtype=torch.long)
        self.style = torch.full((n,), codec.style_index(plan.style), dtype=torch.long)
        self.voices = [torch.full((n,), v, dtype=torch.long) for v in range(run.V)]
        self.positions: dict[int, torch.Tensor] = {}
        self.controls = None
        if sampler.controls:
            # the primer's own key where there is one (the model hears it), else the requested key, else the key
            # each row is told (one the style uses; 0: free)
            key = torch.full((n,), codec.key_index(run.header["key"]), dtype=torch.long)
            if plan.told:
                key = torch.tensor([codec.key_index(k) for k in plan.told], dtype=torch.long)
            end = run.total_steps if plan.ending else None
            to_end = codec.to_end(run.total_steps, 1, run.spb, end)  # bars left, per step
            left = {int(b): torch.full((n,), int(b), dtype=torch.long) for b in set(to_end.tolist())}
            self.controls = (key, [left[int(b)] for b in to_end])

    def __call__(self, prev: torch.Tensor, step: int, voice: int) -> dict:
        pos = ((step - self.run.pickup) % self.run.spb) % self.max_bar_steps
        if pos not in self.positions:
            self.positions[pos] = torch.full((self.run.n,), pos, dtype=torch.long)
        out = {"inputs": prev, "voice": self.voices[voice], "bar_pos": self.positions[pos]}
        out |= {"metre": self.metre, "style": self.style}
        if self.controls:
            out["key"], out["to_end"] = self.controls[0], self.controls[1][step]
        return out


def write_sequence(sampler, plan: Plan, rng: torch.Generator) -> Iterator[list[Piece]]:
    """Yield the ``plan.rows`` pieces after every new bar; the last yield is complete."""
    run = Run(sampler, plan)
    model, strength = sampler.model, style_strength(plan.style, plan.guidance.style)
    others = sampler.confusable(plan.style, tuple(run.header["time_signature"])) if strength else []
    if others:  # style guidance: away from the styles the take could be mistaken for
        model = StyleContrast(model, [run.codec.style_index(o) for o in others], strength)
    priors, inputs, masks = priors_for(sampler, run, plan), _Inputs(sampler, run, plan), sampler.masks(run.header)
    priors.start(run)
    state, prev, V = model.init_state(run.n), torch.full((run.n,), BOS, dtype=torch.long), run.V
    silent = torch.full_like(masks[0], -math.inf).index_fill_(0, torch.tensor([REST]), 0.0)
    for i, tok in enumerate(run.primer_tokens):  # feed the primer: its tokens are given, not sampled
        step, v = divmod(i, V)
        _, state = model.step(inputs(prev, step, v), state)
        prev = torch.full((run.n,), tok, dtype=torch.long)
        run.record(step, v, prev)
        priors.drawn(run, step, v, prev)
        if v == V - 1:
            priors.end_step(run, step)
    bar = []  # tokens of the current bar: one (n, V) list per step
    for step in range(run.start_step, run.total_steps):
        priors.begin_step(run, step)
        for v in range(V):
            logits, state = model.step(inputs(prev, step, v), state)
            given = -1 if run.fixed is None else int(run.fixed[step, v])
            if given >= 0:  # kept as given: the model only reads it
                prev = torch.full((run.n,), given, dtype=torch.long)
            else:
                logits = logits + (masks[v] if step < run.silent_from else silent)
                logits[:, HOLD] += run.hold_block[:, v]
                prev = sample_next_token(priors(logits, run, step, v), rng, **plan.settings)
            run.record(step, v, prev)
            priors.drawn(run, step, v, prev)
        priors.end_step(run, step)
        bar.append(run.history[:, step])
        if (step + 1 - run.pickup) % run.spb == 0 or step + 1 == run.total_steps:
            for d, rows in zip(run.decoders, torch.stack(bar, dim=1).tolist()):
                d.feed(rows)
            bar = []
            yield run.pieces()
