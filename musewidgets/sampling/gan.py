"""The GAN's sampler: bar after bar, each bar reading the bars before it (a primer's last bars first).

Every cell is drawn as the sequence models draw tokens (temperature, top-k, top-p; a GAN trained on the argmax,
``stochastic=False``, takes the argmax and scales its latents by the temperature instead). The key the GAN is
conditioned on: the primer's (its own, else estimated from its notes), else the one asked for, else one drawn from the
style's key distribution. The priors of the take's :class:`~musewidgets.sampling.guidance.Guidance` apply to its
cells as they do to the sequence models' tokens (:class:`GanGuide`): a key asked for favours its pitches (not a
primer's: the GAN reads the primer), bars planned to return lean to the bar they return to, parallel fifths and
octaves cost (voices then drawn from the top, one after the other), the outer voices of the last bar of a take that
ends lean to the style's finals on the tonic of the key the GAN writes in, and new notes keep to the style's grid.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..codecs.roll import RollCodec
from ..codecs.tokens import HOLD, PITCH0, REST
from ..keys import estimate_key
from ..models.gan import key_parts, voice_mask
from ..piece import Piece
from .core import Plan, sample_next_token
from .guidance import cadence_bias, hold_bias, key_prior, onset_grid, outer_voices, plan_ending, plan_repeats
from .guidance.cadence import CADENCE_STRENGTH, HOLD_STRENGTH
from .guidance.parallels import PARALLEL_STRENGTH
from .guidance.repeats import REPEAT_STRENGTH, REPEATS_SEED_OFFSET
from .strict import StrictVoiceLeading

__all__ = ["GanGuide", "write_gan"]


class GanGuide:
    """The priors of ``plan.guidance`` on the GAN's cells (rest, hold, or a pitch of its range, per voice), in the
    protocol of :meth:`musewidgets.models.gan.GAN.sample_bars`: ``step(t, state)`` a bias ``(n, voices, cells)`` for
    step ``t`` of the bar (or ``None``); where ``voices`` is true, ``voice(v)`` the parallels' cost given the voices
    drawn before at this step; ``drawn``, ``end_step`` and ``end_bar`` are told what was written."""

    def __init__(self, sampler, plan: Plan, header: dict, key_t: torch.Tensor, context, primer_steps: list):
        model, cfg, g = sampler.model, sampler.model.config, plan.guidance
        n, V, vocab = plan.rows, len(header["parts"]), sampler.codec.vocab_size
        ts = tuple(header["time_signature"])
        self.n, self.V, self.cfg, self.bars = n, V, cfg, plan.bars
        self.spb = spb = sampler.codec.steps_per_quarter * 4 * ts[0] // ts[1]
        self.style, self.greedy, self.ends = plan.style, plan.greedy, bool(plan.ending and plan.bars)
        self.token_of = token_of = cells_to_tokens(cfg)
        self.bar, self.returning, self.guard = 0, None, None
        first = len(primer_steps)  # the step where the new bars begin, a bar line
        self.history = torch.zeros(n, cfg.voices, first + plan.bars * spb, dtype=torch.long)  # inner channels
        if context is not None:
            self.history[:, :, :first] = model.inner_channels(context)
        self.start, self.first_bar = first, (first - header["pickup"]) // spb
        self.repeats = torch.Generator().manual_seed(plan.seed + REPEATS_SEED_OFFSET) if g.repeats else None
        self.repeat_strength = REPEAT_STRENGTH * g.repeats
        if V > 1 and g.parallels:
            penalty = PARALLEL_STRENGTH * g.parallels
            self.guard = StrictVoiceLeading(n, V, vocab, parallels_only=True, penalty=penalty)
            for row in primer_steps:  # the primer's notes, as the sequence models feed them
                for v, tok in enumerate(row):
                    self.guard.update(v, torch.full((n,), tok, dtype=torch.long))
                self.guard.end_step()
        self.voices = self.guard is not None
        asked = key_prior(sampler.family, header["key"], vocab, g.key) if plan.primer is None else None
        self.key = asked if asked is None else asked[token_of]  # on the inner channels
        self.grid = onset_grid(plan.style, ts, spb, g.grid) if g.grid else None  # new notes off the style's grid cost
        self.cadence, self.hold_strength = None, HOLD_STRENGTH * g.cadence
        if self.ends and g.cadence:
            tonics = key_parts(key_t)[0]
            asked_key = header["key"] is not None  # asked for, or the primer's: close on its tonic
            weights = plan_ending(plan.style, V, n, plan.seed, greedy=plan.greedy or asked_key)
            bias = cadence_bias(tonics.tolist(), V, vocab, CADENCE_STRENGTH * g.cadence, weights)
            self.cadence = (torch.zeros(n, cfg.voices, len(token_of)), tonics, weights)
            self.cadence[0][:, :V] = bias[:, :, token_of]

    def _plan_return(self):
        lags = plan_repeats(self.style, self.first_bar + self.bar, self.n, self.repeats, greedy=self.greedy)
        rows = (lags > 0).nonzero().flatten()
        return (rows, self.start - lags[rows] * self.spb) if len(rows) else None

    def step(self, t: int, state: torch.Tensor) -> torch.Tensor | None:
        last = self.ends and self.bar == self.bars - 1
        if t == 0:  # does this bar return to an earlier one?
            self.returning = self._plan_return() if self.repeats is not None and not last else None
        off_grid = self.grid is not None and bool(self.grid[t])
        cadence = last and self.cadence is not None
        n, voices, cells = self.n, self.cfg.voices, len(self.token_of)
        if not cadence and self.returning is None and not off_grid:
            return None if self.key is None else self.key.expand(n, voices, -1)
        bias = self.cadence[0].clone() if cadence else torch.zeros(n, voices, cells)
        if off_grid:
            bias[:, :, 2:] += self.grid[t]
        if self.key is not None:
            bias += self.key
        if cadence:
            P = self.cfg.pitch_high - self.cfg.pitch_low + 1
            for v in outer_voices(self.V):
                sounding = torch.where(state[:, v] < P, state[:, v] + self.cfg.pitch_low, -1)
                bias[:, v, 1] += hold_bias(sounding, self.cadence[1], self.hold_strength, self.cadence[2][v])
        if self.returning is not None:  # the channel the returning bar had here
            rows, source = self.returning
            for v in range(self.V):
                bias[rows, v, self.history[rows, v, source + t]] += self.repeat_strength
        return bias

    def voice(self, v: int) -> torch.Tensor | None:
        return self.guard.mask(v)[:, self.token_of] if v < self.V else None

    def drawn(self, v: int, channel: torch.Tensor) -> None:
        if v < self.V:
            self.guard.update(v, self.token_of[channel])

    def end_step(self) -> None:
        self.guard.end_step()

    def end_bar(self, inner: torch.Tensor) -> None:
        self.history[:, :, self.start : self.start + self.spb] = inner
        self.bar, self.start = self.bar + 1, self.start + self.spb


def cells_to_tokens(cfg) -> torch.Tensor:
    """``(cells,)``: the token of each of the GAN's cells (rest, hold, then its pitches from low to high)."""
    return torch.tensor([REST, HOLD, *range(PITCH0 + cfg.pitch_low, PITCH0 + cfg.pitch_high + 1)])


def _primer(sampler, plan: Plan, V: int):
    """The primer's tokens per step, its channels as the GAN's context ``(rows, voices, steps)`` and its key (its own,
    else estimated from its notes); ``[], None, plan.key`` without a primer."""
    if plan.primer is None:
        return [], None, plan.key
    tokens = sampler.codec.encode(plan.primer.replace(style=plan.style)).tokens.reshape(-1, V)
    grid = torch.zeros((len(tokens), sampler.model.config.voices), dtype=torch.long)  # rests
    grid[:, :V] = torch.as_tensor(RollCodec.channels(tokens))
    return tokens.tolist(), grid.T[None].expand(plan.rows, -1, -1), plan.primer.key or estimate_key(plan.primer)


def write_gan(sampler, plan: Plan, rng: torch.Generator) -> Iterator[list[Piece]]:
    """Yield the ``plan.rows`` pieces after every new bar; the last yield is complete."""
    model, cfg, codec, n = sampler.model, sampler.model.config, sampler.codec, plan.rows
    header = sampler.header(plan.style, plan.primer, plan.time_signature, plan.key)
    V, ts = len(header["parts"]), tuple(header["time_signature"])
    trained = tuple(sampler.checkpoint.styles[plan.style]["time_signature"])
    if ts != trained:
        raise ValueError(
            f"the gan writes {plan.style} in {trained[0]}/{trained[1]} only; the `primer` is in {ts[0]}/{ts[1]}"
        )
    primer_steps, context, key = _primer(sampler, plan, V)
    if key is not None:
        key_t = torch.full((n,), codec.key_index(key), dtype=torch.long)
    elif plan.told:  # a key the style uses, for each row
        key_t = torch.tensor([codec.key_index(k) for k in plan.told], dtype=torch.long)
    else:
        prior = model.key_prior[codec.style_index(plan.style)]
        key_t = torch.multinomial(prior.expand(n, -1), 1, generator=rng)[:, 0]
    bars = plan.bars
    bars_left = [bars - i if plan.ending and bars - i <= cfg.ending_bars else 0 for i in range(bars)]
    decoders = [codec.decoder(header) for _ in range(n)]
    for d in decoders:
        d.feed(primer_steps)

    def choose(logits):  # a GAN trained on sampled cells: sample them, as the sequence models sample tokens
        return sample_next_token(logits.flatten(0, -2), rng, **plan.settings).view(logits.shape[:-1])

    guide = None if plan.guidance.is_off else GanGuide(sampler, plan, header, key_t, context, primer_steps)
    written = model.sample_bars(
        style=torch.full((n,), codec.style_index(plan.style), dtype=torch.long),
        metre=torch.full((n,), codec.metre_index(ts), dtype=torch.long),
        key=key_t,
        mask=voice_mask([part[2] for part in header["parts"]], V, cfg.voices).expand(n, -1, -1),
        bar_steps=codec.steps_per_quarter * 4 * ts[0] // ts[1],
        to_end=bars_left,
        generator=rng,
        temperature=1.0 if cfg.stochastic else plan.settings["temperature"],
        context=context,
        choose=choose if cfg.stochastic else None,
        guide=guide,
    )
    for channels in written:  # (n, voices, spb)
        tokens = RollCodec.tokens_of(channels[:, :V].numpy()).transpose(0, 2, 1)  # (n, spb, V)
        for d, rows in zip(decoders, tokens.tolist()):
            d.feed(rows)
        yield [d.piece() for d in decoders]
