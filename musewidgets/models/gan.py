"""A style-conditioned GAN that writes music bar by bar, each bar following the bars before it (MuseGAN-style).

Design, and why:

* **Output**: for every voice and step of a bar, logits over rest, hold and the pitches (the one-hot roll of
  :class:`~musewidgets.codecs.RollCodec`), so each voice stays a single line by construction and the same decoder as
  the sequence models turns the roll back into notes. Voices outside a style or pitches outside a voice's range are
  masked away (``-inf``).
* **Latents and time** (after MuseGAN, Dong et al. 2018): a *phrase* latent ``z``, the same for every bar of a take
  (MuseGAN's time-independent latents: the character of the take), fresh noise for every bar (its time-dependent
  latents), and the bars that came before: a *temporal* model reads the last ``context_bars`` bars, real or
  generated, and with ``z`` and the noise makes the next bar's latent. So the generator writes a take of any number
  of bars, bar ``k + 1`` following bar ``k`` (as MidiNet's conditioner, Yang et al. 2017), and continues a primer
  by reading its last bars (trained that way: real bars as the context, the critic judging the join).
* **Bar generator**: the bar latent plus a beat-position embedding, transposed convolutions from beats to steps (as
  MuseGAN's bar generator, over time), and per-voice heads: logits for every cell of the bar at once.
* **Note to note**: the cells are then drawn step by step, each step's logits biased by what sounds at the step
  before: the interval from the voice's own sounding pitch (a leap table), rest or hold after a note or silence (a
  hold after silence is refused), the interval below the voice above (order and spacing), and for holding on,
  how long the note has sounded and where in the bar the step is (rhythm: how long notes last and where they
  start; without it every uncertain step is a chance of a new note, and takes chatter in short notes). A bar is a
  Markov chain given its latent, cheap to draw (a table look-up per step), with the bar generator deciding the music
  and the chain keeping every line a line. The tables start at the training data's log-frequencies (the rhythm
  table at log-odds), as do per-style, per-voice biases for every pitch (register) and scale degree (tonality, per
  mode).
* **Pitch relative to the key**: the generator and the critic are conditioned on a key, and a pitch's embedding is
  the sum of its scale degree's (pitch minus tonic, mod 12) and its own. So the networks learn music in scale
  degrees, once for all twelve tonics (what transposing every piece to C does, with the register kept: the pitch's
  own vector knows how high it is). Training pairs each real window with the key the project's own estimate hears
  in its piece; sampling draws the key from the style's key distribution (:attr:`GAN.key_prior`), or takes the key
  asked for, or the primer's.
* **Endings**: the bars carry a count-down to the end of the piece (1 = the last bar; 0 = further, or "keep going"),
  as the sequence models do, and a quarter of the training windows end where their piece ends, so "end here" writes
  a cadence.
* **Discrete samples**: the cells are drawn from the softmax (Gumbel noise) and passed on by a straight-through
  estimator, the hard one-hot forward and the softmax's gradient backward (BinaryMuseGAN's stochastic binary
  neurons, Dong & Yang 2018, for one-of-n channels; Jang et al. 2017): the critic sees exact one-hot rolls from both
  sides. So sampling draws every cell as the sequence models draw tokens (temperature, top-k, top-p; 0 takes the
  most likely), with the latents as in training. ``stochastic=False`` takes the argmax instead, everywhere; then
  the temperature scales the latents.
* **Critic**: sees the bar before and the written bars through the same key-relative embedding plus MuseGAN-style
  features read off the roll: for every voice and step the sounding pitch's height and scale degree (chroma),
  onsets and holds; the neighbouring voices' distances (crossings, spacing); unisons, octaves, fifths and fourths
  between every two voices (parallels). Convolutions over time, pooled per bar (per-bar features), then a
  convolution over the bars (the phrase) with the count-down to the end; the style enters by projection (Miyato &
  Koyama 2018).
* **Objective**: WGAN-GP (Gulrajani et al. 2017) with ``n_critic`` critic steps per generator step, Adam (betas
  0.5, 0.9); the penalty on half of each batch, in a pass of its own (its second-order backward pass is most of a
  critic step on the CPU). The generator adds a VAE term (VAE-GAN, Larsen et al. 2016): an encoder infers the
  latents of the real bars and the generator is also trained to write them again (cross-entropy, plus the latents'
  KL divergence), so it learns from every real note from the first step, and the critic makes what it writes from
  the prior sound real; ``adversarial`` weighs the critic's score against the VAE term (a strong critic's
  gradients otherwise pull the generator off what it has learnt: its reconstruction error climbs back). No batch
  normalisation anywhere, so training and sampling behave alike.

Channels inside the model are the roll's rest, hold and the pitches ``pitch_low..pitch_high`` (every style's voice
ranges lie inside); :meth:`GAN.logits` gives all 130 channels, the rest at ``-inf``. Bars must be a whole number
of quarters (every style's common metre is).

A GAN has no likelihood, so it has no NLL in the model cards; the cards report how well held-out music and its
takes can be told apart instead.

Here: :class:`GAN` (generator and critic in one checkpoint; bars for the sampler, :meth:`GAN.sample_bars`; the
critic's loss). Its parts: :mod:`~musewidgets.models.gan_config` (the config, the key's parts),
:mod:`~musewidgets.models.gan_networks` (the roll reader, generator, encoder and critic) and
:mod:`~musewidgets.models.gan_chain` (note to note: a bar written step by step).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from .base import register
from .gan_chain import straight_through
from .gan_config import GANConfig, key_parts
from .gan_networks import Critic, Generator, roll_features

__all__ = ["GAN", "GANConfig", "key_parts", "roll_features", "straight_through", "voice_mask"]


def voice_mask(ranges, n_voices: int, voices: int = 4, channels: int = 130) -> torch.Tensor:
    """Additive mask ``(voices, 130)`` over the roll's channels: 0 where allowed, ``-inf`` elsewhere. A voice the
    style has may rest, hold or play inside its range ``(low, high)``; the others only rest."""
    mask = torch.full((voices, channels), -torch.inf)
    for v in range(voices):
        if v < n_voices:
            low, high = ranges[v] or (0, 127)
            mask[v, :2] = 0.0
            mask[v, 2 + low : 2 + high + 1] = 0.0
        else:
            mask[v, 0] = 0.0
    return mask


@register("gan", GANConfig)
class GAN(nn.Module):
    """Generator and critic together, so that one checkpoint holds both."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.critic = Critic(config)
        # how often each key (TokenCodec.key_index) opens a training piece, per style: what sampling draws from
        self.register_buffer("key_prior", torch.ones(config.n_styles, config.n_keys))

    # ------------------------------------------------------------------ channels
    def inner_channels(self, channels: torch.Tensor) -> torch.Tensor:
        """Roll channels (0 rest, 1 hold, 2 + pitch) -> inner channels; pitches outside ``pitch_low..pitch_high``
        move by octaves into it."""
        c = self.config
        pitch = channels - 2
        low, high = c.pitch_low, c.pitch_high
        pitch = torch.where(pitch < low, pitch + 12 * ((low - pitch + 11) // 12), pitch)
        pitch = torch.where(pitch > high, pitch - 12 * ((pitch - high + 11) // 12), pitch)
        return torch.where(channels >= 2, pitch - low + 2, channels)

    def roll_channels(self, inner: torch.Tensor) -> torch.Tensor:
        """Inner channels -> roll channels."""
        return torch.where(inner >= 2, inner + self.config.pitch_low, inner)

    def to_inner(self, mask: torch.Tensor) -> torch.Tensor:
        """Anything over the roll's channels ``(..., 130)`` (a mask, logits) cut to the inner channels."""
        c = self.config
        return torch.cat([mask[..., :2], mask[..., 2 + c.pitch_low : 3 + c.pitch_high]], dim=-1)

    # ------------------------------------------------------------------ sampling
    def logits(self, *args, **kwargs) -> torch.Tensor:
        """Logits ``(B, voices, bar_steps, 130)`` of the next bar over the roll's channels (``-inf`` where masked or
        outside the generator's pitches); arguments as :meth:`Generator.bar_logits` (``context, before, cond, z,
        noise, to_end, bar_steps``)."""
        c = self.config
        inner = self.generator.bar_logits(*args, **kwargs)
        out = torch.full((*inner.shape[:-1], c.channels), -torch.inf, dtype=inner.dtype, device=inner.device)
        out[..., :2] = inner[..., :2]
        out[..., 2 + c.pitch_low : 3 + c.pitch_high] = inner[..., 2:]
        return out

    def sample_bars(
        self,
        *,
        style: torch.Tensor,
        metre: torch.Tensor,
        key: torch.Tensor,
        mask: torch.Tensor,
        bar_steps: int,
        to_end: list[int],
        generator: torch.Generator,
        temperature: float = 1.0,
        context: torch.Tensor | None = None,
        choose=None,
        guide=None,
    ) -> Iterator[torch.Tensor]:
        """Yield the roll channels ``(B, voices, bar_steps)`` of one bar after another, ``len(to_end)`` bars.

        ``style``, ``metre``, ``key`` (B,); ``mask`` (B, voices, 130) additive; ``to_end`` the count-down of each
        bar; ``context`` (B, voices, steps) roll channels of the music before (a primer; its last
        ``context_bars`` bars are read, ending on a bar line), or ``None`` to start a piece. The latents come from
        ``generator``, scaled by ``temperature``. The bar is written step by step (:meth:`Generator.decode`): each
        step the most likely inner channel, or ``choose(logits)`` ``(B, [V,] inner) -> (B, [V])`` where given;
        ``guide``: the sampler's priors, as for :meth:`Generator.decode_sampled`, told ``guide.end_bar(inner)`` the
        inner channels ``(B, V, L)`` of every bar written.
        """
        c = self.config
        B, K = len(style), c.context_bars
        window = torch.zeros(B, c.voices, K * bar_steps, dtype=torch.long)  # rests
        before = torch.ones(B, K)
        if context is not None and context.shape[2]:
            have = min(K, -(-context.shape[2] // bar_steps))
            tail = context[:, :, -have * bar_steps :]
            window[:, :, -tail.shape[2] :] = self.inner_channels(tail)
            before[:, K - have :] = 0.0
        cond = {"style": style, "metre": metre, "key": key, "mask": self.to_inner(mask)}
        z = torch.randn(B, c.z_dim, generator=generator) * temperature
        window = F.one_hot(window, c.inner).float()
        lookup = self.generator.lookup(self.generator.chain(style))
        sounding, flag, duration = self.generator.sounding(window)
        P = sounding.shape[-1]
        state = torch.where(flag[:, :, -1] > 0.5, sounding[:, :, -1].argmax(-1), P)  # (B, V)
        duration = duration[:, :, -1]
        pick = choose or (lambda logits: logits.argmax(-1))
        for left in to_end:
            noise = torch.randn(B, c.bar_z_dim, generator=generator) * temperature
            ends = torch.full((B,), left, dtype=torch.long)
            logits = self.to_inner(self.logits(window, before, cond, z, noise, ends, bar_steps))
            inner, state, duration = self.generator.decode_sampled(logits, state, duration, lookup, pick, guide)
            if guide is not None:
                guide.end_bar(inner)
            yield self.roll_channels(inner)  # (B, V, L)
            bar = F.one_hot(inner, c.inner).float()
            window = torch.cat([window, bar], dim=2)[:, :, -K * bar_steps :]
            before = torch.cat([before[:, 1:], torch.zeros(B, 1)], dim=1)

    # ------------------------------------------------------------------ training
    def critic_loss(self, real, fake, cond, to_end) -> tuple[torch.Tensor, torch.Tensor]:
        """WGAN-GP loss of the critic on real and written windows and the Wasserstein estimate (mean real score
        minus mean fake score). The scores come from one pass over both; the penalty from a pass of its own over
        mixtures of the first ``gp_share`` of the pairs, so that its second-order backward pass covers only them."""
        c, B = self.config, real.shape[0]
        scores = self.critic(
            torch.cat([real, fake]), {k: torch.cat([v] * 2) for k, v in cond.items()}, to_end.repeat(2, 1)
        )
        d_real, d_fake = scores.split(B)
        m = max(1, round(B * c.gp_share))
        penalty = self.gradient_penalty(real[:m], fake[:m], {k: v[:m] for k, v in cond.items()}, to_end[:m])
        distance = d_real.mean() - d_fake.mean()
        return -distance + c.gp_weight * penalty + c.drift * (d_real**2).mean(), distance.detach()

    def gradient_penalty(self, real, fake, cond, to_end) -> torch.Tensor:
        """The gradient penalty alone: ``(|grad critic| - 1)^2`` at random mixtures of ``real`` and ``fake``."""
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mix, cond, to_end).sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
