"""Note to note: how the GAN's generator writes a bar step by step from the bar's logits, each step biased by what
sounds at the step before (a Markov chain in every voice, given the bar's logits; see :mod:`musewidgets.models.gan`).

The tables of the chain are the generator's parameters (``interval``, ``rest_hold``, ``vertical``, ``rhythm``);
:class:`NoteChain` is the part of :class:`~musewidgets.models.gan_networks.Generator` that reads them. Cells are drawn
by :func:`straight_through` in training and by the sampler's ``choose`` in :meth:`NoteChain.decode_sampled`.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .gan_config import HOLD_IN_SILENCE, MAX_INTERVAL

__all__ = ["NoteChain", "carry_through_holds", "straight_through"]


def straight_through(logits: torch.Tensor, stochastic: bool = False) -> torch.Tensor:
    """Hard one-hot of the argmax forward, the softmax's gradient backward; ``stochastic``: of the argmax after
    Gumbel noise, so a sample of ``softmax(logits)`` (Gumbel-softmax, Jang et al. 2017)."""
    if stochastic:
        gumbel = -torch.empty_like(logits).exponential_().log()
        logits = logits + gumbel
    soft = logits.softmax(dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft.dtype)
    return hard + soft - soft.detach()


def _later(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x`` (B, V, T, ...) moved ``d`` steps later in time, zeros in front."""
    return F.pad(x[:, :, :-d], (0, 0) * (x.dim() - 3) + (d, 0))


def carry_through_holds(struck: torch.Tensor, hold: torch.Tensor) -> torch.Tensor:
    """``sounding[t] = struck[t] + hold[t] * sounding[t - 1]`` along dim 2 of ``struck`` (B, V, T, F), ``hold``
    (B, V, T, 1): a Hillis-Steele parallel scan, log2 T steps of products and sums (so differentiable, to any
    order, and exact for mixtures of rolls too)."""
    sounding, carry = struck, hold  # carry: the product of the holds since the step the sum reaches back to
    d = 1
    while d < struck.shape[2]:
        sounding = sounding + carry * _later(sounding, d)
        carry = carry * _later(carry, d)
        d *= 2
    return sounding


class NoteChain:
    """The note-to-note chain of :class:`~musewidgets.models.gan_networks.Generator` (a mixin: ``self.c`` is its
    :class:`~musewidgets.models.gan_config.GANConfig`, and ``self.interval``, ``self.rest_hold``, ``self.vertical``
    and ``self.rhythm`` its tables)."""

    def chain(self, style: torch.Tensor) -> tuple:
        """The note-to-note tables of each window's style: interval biases as matrices ``(B, V, P, P)`` from the
        sounding pitch to the new one, the rest and hold biases ``(B, V, 2, 2)``, interval biases ``(B, V, P,
        P)`` from the pitch of the voice above to the new one, and hold biases ``(B, V, max_bar_steps,
        max_duration + 1)`` by the step of the bar and the steps the note has sounded."""
        P = self.c.pitch_high - self.c.pitch_low + 1
        steps = torch.arange(P, device=style.device)
        index = (steps[None, :] - steps[:, None]).clamp(-MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL  # [q, p]: p - q
        below = (steps[:, None] - steps[None, :]).clamp(-MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL  # [q, p]: q - p
        return (
            self.interval[style][:, :, index],
            self.rest_hold[style],
            self.vertical[style][:, :, below],
            self.rhythm[style],
        )

    @staticmethod
    def chain_bias(sounding, flag, duration, position, tables) -> torch.Tensor:
        """Biases over the inner channels ``(B, V, [T,] inner)`` of the next step, given what sounds now:
        ``sounding`` (B, V, [T,] P) one-hot pitch (zeros in silence), ``flag`` (B, V, [T]) 1 while a note sounds,
        ``duration`` (B, V, [T]) the steps it has sounded (0 in silence), ``position`` the next step's place in its
        bar (an int, or (T,) with the time axis). A voice's next pitch hears its own sounding pitch (the interval it
        leaps) and the voice above's (the interval below it: order and spacing); holding on hears how long the note
        has sounded and where in the bar it is."""
        intervals, rest_hold, below, rhythm = tables
        above = F.pad(sounding[:, :-1], (0, 0) * (sounding.dim() - 2) + (1, 0))  # the voice above's, per voice
        if flag.dim() == 3:  # a time axis
            rest_hold = rest_hold[:, :, None]
            notes = sounding @ intervals + above @ below  # (B, V, T, P)
        else:
            notes = (sounding[:, :, None] @ intervals + above[:, :, None] @ below)[:, :, 0]  # (B, V, P)
        rest = flag * rest_hold[..., 1, 0] + (1 - flag) * rest_hold[..., 0, 0]
        lasting = torch.gather(rhythm[:, :, position], -1, duration[..., None])[..., 0]  # (B, V, [T])
        hold = flag * (rest_hold[..., 1, 1] + lasting) + (1 - flag) * HOLD_IN_SILENCE
        return torch.cat([rest[..., None], hold[..., None], notes], dim=-1)

    def sounding(self, roll: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pitch sounding in every voice at every step of a one-hot roll (B, V, T, inner): one-hot ``(B, V, T,
        P)``, the flag ``(B, V, T)`` and the steps it has sounded ``(B, V, T)`` (0 in silence, at most
        ``max_duration``; no gradient)."""
        state = carry_through_holds(
            torch.cat([roll[..., 2:], roll[..., 2:].sum(-1, keepdim=True)], dim=-1), roll[..., 1:2]
        )
        flag = state[..., -1]
        with torch.no_grad():
            channel = roll.argmax(-1)
            steps = torch.arange(roll.shape[2], device=roll.device).expand_as(channel)
            last = torch.where(channel != 1, steps, -1).cummax(dim=2).values  # the latest onset or rest
            duration = torch.where(flag > 0.5, steps - last + 1, 0).clamp(0, self.c.max_duration)
        return state[..., :-1], flag, duration

    def _lasted(self, duration, flag, onset, hold):
        """The steps a voice's note has sounded after a step with ``onset``, ``hold`` (B, V) 0/1 drawn."""
        longer = torch.where((hold > 0.5) & (flag > 0.5), duration + 1, 0)
        return torch.where(onset > 0.5, 1, longer).clamp(max=self.c.max_duration)

    def decode(self, logits, sounding, flag, duration, tables, choose):
        """Write a bar step by step from its logits (B, V, L, inner), each step biased by the chain given the step
        before; ``choose(logits (B, V, inner)) -> one-hot``. Returns the one-hot bar and the state after it."""
        out = []
        for t in range(logits.shape[2]):
            y = choose(logits[:, :, t] + self.chain_bias(sounding, flag, duration, t, tables))  # (B, V, inner)
            onset = y[..., 2:].sum(-1)
            duration = self._lasted(duration, flag.detach(), onset.detach(), y[..., 1].detach())
            sounding = y[..., 2:] + y[..., 1:2] * sounding
            flag = onset + y[..., 1] * flag
            out.append(y)
        return torch.stack(out, dim=2), sounding, flag, duration

    def lookup(self, tables) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The chain's tables as rows to look up while sampling: by what sounds in a voice (a pitch index, or
        ``P`` for silence), its biases over the inner channels ``(B, V, P + 1, inner)``; by what sounds in the voice
        above, its biases ``(B, V, P + 1, inner)`` (voice 0 hears nothing above); the hold biases by step of the
        bar and duration ``(B, V, max_bar_steps, max_duration + 1)``."""
        intervals, rest_hold, below, _ = tables
        B, V, P, _ = intervals.shape
        own = torch.zeros(B, V, P + 1, 2 + P)
        own[:, :, :P, 0], own[:, :, :P, 1] = rest_hold[:, :, 1:2, 0], rest_hold[:, :, 1:2, 1]
        own[:, :, :P, 2:] = intervals
        own[:, :, P, 0], own[:, :, P, 1] = rest_hold[:, :, 0, 0], HOLD_IN_SILENCE
        above = torch.zeros(B, V, P + 1, 2 + P)
        above[:, 1:, :P, 2:] = below[:, 1:]
        return own, above, tables[3]

    def decode_sampled(self, logits, state, duration, lookup, choose, guide=None):
        """:meth:`decode` for sampling, where every step is exactly one channel: ``state`` (B, V) the pitch index
        sounding in each voice (``P``: silence), ``duration`` (B, V) the steps it has sounded, ``choose(logits
        (B, [V,] inner)) -> (B, [V])`` channel indices. Returns the bar's inner channels ``(B, V, L)`` and the state
        and duration after it; the same notes as :meth:`decode`, faster.

        ``guide`` (optional) adds priors of the sampler's: ``guide.step(t, state)`` a bias ``(B, V, inner)`` or
        ``None`` for step ``t``; where ``guide.voices`` is true the voices are drawn one after the other from the
        top, ``guide.voice(v)`` a bias ``(B, inner)`` or ``None`` given the voices drawn before at this step,
        ``guide.drawn(v, channel)`` told each draw and ``guide.end_step()`` the end of the step.
        """
        own, above, rhythm = lookup
        B, V, P1, C = own.shape
        rows_b, rows_v = torch.arange(B)[:, None], torch.arange(V)[None, :]
        after = torch.arange(P1)[:, None].expand(-1, C).clone()  # what sounds after channel c, given what sounded
        after[:, 0], after[:, 2:] = P1 - 1, torch.arange(C - 2)
        states = torch.cat([torch.full((B, 1), P1 - 1), state], dim=1)  # a silent voice above voice 0
        out = []
        for t in range(logits.shape[2]):
            bias = own[rows_b, rows_v, states[:, 1:]] + above[rows_b, rows_v, states[:, :-1]]
            sounds = states[:, 1:] < P1 - 1
            bias[:, :, 1] += torch.where(sounds, rhythm[rows_b, rows_v, t, duration], 0.0)
            here = logits[:, :, t] + bias
            extra = guide.step(t, states[:, 1:]) if guide is not None else None
            if extra is not None:
                here = here + extra
            if guide is not None and guide.voices:
                drawn = []
                for v in range(V):
                    nudge = guide.voice(v)
                    channel = choose(here[:, v] if nudge is None else here[:, v] + nudge)  # (B,)
                    guide.drawn(v, channel)
                    drawn.append(channel)
                guide.end_step()
                channel = torch.stack(drawn, dim=1)
            else:
                channel = choose(here)  # (B, V)
            duration = self._lasted(duration, sounds.float(), (channel >= 2).float(), (channel == 1).float())
            states = torch.cat([states[:, :1], after[states[:, 1:], channel]], dim=1)
            out.append(channel)
        return torch.stack(out, dim=2), states[:, 1:], duration
