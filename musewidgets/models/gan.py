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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import register

__all__ = ["GAN", "GANConfig", "key_parts", "roll_features", "straight_through", "voice_mask"]

N_MODES = 3  # unknown, major, minor
MAX_INTERVAL = 24  # the note-to-note table's widest leap, in semitones (wider leaps share its bias)
HOLD_IN_SILENCE = -30.0  # the bias against holding a note that does not sound


@dataclass
class GANConfig:
    n_styles: int = 4
    voices: int = 4
    channels: int = 130  # the roll's channels: rest, hold, 128 pitches (codecs.roll)
    pitch_low: int = 33  # the pitches the generator writes; every style's voice ranges lie inside
    pitch_high: int = 92
    n_metres: int = 14  # codecs.tokens.METRES + "other"
    max_bar_steps: int = 48
    n_keys: int = 25  # codecs.tokens.TokenCodec.key_index: 0 unknown, 1-12 major, 13-24 minor
    ending_bars: int = 2  # bars counted down to the end (1 = the last); 0 = further, or "keep going"
    z_dim: int = 32  # the phrase latent: one per take
    bar_z_dim: int = 16  # fresh noise for every bar
    width: int = 64  # channels of the convolutional stacks
    embed: int = 32  # width of a token's (key-relative) embedding
    context_bars: int = 2  # bars the temporal model reads before writing the next
    critic_context: int = 1  # bars before the written ones that the critic sees (the join)
    phrase_bars: int = 2  # bars written one after the other per training window (the critic sees them all)
    gp_weight: float = 10.0
    gp_share: float = 0.5  # share of each batch the gradient penalty is estimated on (its pass costs most)
    n_critic: int = 2  # critic steps per generator step
    recon: float = 1.0  # weight of the VAE term (Generator.elbo) in the generator's loss; 0: a GAN alone
    adversarial: float = 0.03  # weight of the critic's score in the generator's loss (against the VAE term's)
    stochastic: bool = True  # cells drawn from the softmax (Gumbel) instead of the argmax, in training and sampling
    drift: float = 1e-3  # weight of the critic's squared real score (keeps it near 0; Karras et al. 2018)
    max_duration: int = 32  # the rhythm table's longest note so far, in steps (longer notes share its bias)

    @property
    def inner(self) -> int:
        """Channels inside the model: rest, hold and the pitches ``pitch_low..pitch_high``."""
        return 2 + self.pitch_high - self.pitch_low + 1

    @property
    def controls(self) -> bool:
        """Conditioned on the key and on the bars left to the end (``key=`` and ``ending=`` take effect)."""
        return self.n_keys > 0 and self.ending_bars > 0


def key_parts(key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tonic pitch class and mode (0 unknown, 1 major, 2 minor) of key indices (``TokenCodec.key_index``)."""
    tonic = torch.where(key >= 13, key - 13, (key - 1).clamp(min=0))
    mode = torch.where(key == 0, 0, torch.where(key >= 13, 2, 1))
    return tonic, mode


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


def straight_through(logits: torch.Tensor, stochastic: bool = False) -> torch.Tensor:
    """Hard one-hot of the argmax forward, the softmax's gradient backward; ``stochastic``: of the argmax after
    Gumbel noise, so a sample of ``softmax(logits)`` (Gumbel-softmax, Jang et al. 2017)."""
    if stochastic:
        gumbel = -torch.empty_like(logits).exponential_().log()
        logits = logits + gumbel
    soft = logits.softmax(dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), soft.shape[-1]).to(soft.dtype)
    return hard + soft - soft.detach()


N_FEATURES_PER_VOICE = 17  # sounding height, scale degree (12), sounding, onset, hold, rest


PERFECT = (0, 7, 5)  # interval classes of unison and octave, fifth, fourth (the upper voice's degree minus k)


def n_features(voices: int) -> int:
    """Width of :func:`roll_features`: per voice, per neighbouring pair (height gap), per pair (perfect intervals)."""
    return voices * N_FEATURES_PER_VOICE + voices - 1 + len(PERFECT) * voices * (voices - 1) // 2


def _later(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x`` (B, V, T, ...) moved ``d`` steps later in time, zeros in front."""
    return F.pad(x[:, :, :-d], (0, 0) * (x.dim() - 3) + (d, 0))


def _carry_through_holds(struck: torch.Tensor, hold: torch.Tensor) -> torch.Tensor:
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


def roll_features(roll: torch.Tensor, tonic: torch.Tensor, c: GANConfig) -> torch.Tensor:
    """What a musician reads off a roll, per step: ``(B, T, n_features(voices))``.

    For every voice: the height of the sounding pitch (octaves from middle C), its scale degree relative to
    ``tonic`` (one-hot, 12), whether a note sounds, starts, is held, or the voice rests; then the height differences
    of neighbouring voices where both sound (crossings and spacing); then for every two voices whether they sound a
    unison or octave, a fifth or a fourth apart (parallels are the first two twice in a row). The sounding note is
    the recurrence of :func:`_carry_through_holds`, so the features take mixtures of rolls (the gradient penalty's)
    and pass gradients, of any order.
    """
    B, V, T, C = roll.shape
    pitches = torch.arange(c.pitch_low, c.pitch_high + 1, device=roll.device)
    degree = F.one_hot((pitches[None] - tonic[:, None]) % 12, 12).to(roll.dtype)  # (B, P, 12)
    height = ((pitches - 60) / 12.0).to(roll.dtype)[None, :, None].expand(B, -1, 1)
    read = torch.cat([height, degree, torch.ones_like(height)], dim=2)  # (B, P, 14)
    struck = (roll[..., 2:].reshape(B, V * T, -1) @ read).view(B, V, T, 14)  # the note struck at each step
    sounding = _carry_through_holds(struck, roll[..., 1:2])
    flags = sounding[..., 13:14]
    per_voice = torch.cat([sounding, struck[..., 13:14], roll[..., 1:2], roll[..., 0:1]], dim=-1)  # (B, V, T, 17)
    gaps = (sounding[:, :-1, :, 0] - sounding[:, 1:, :, 0]) * flags[:, :-1, :, 0] * flags[:, 1:, :, 0]  # (B, V-1, T)
    # for every two voices whether they sound a unison or octave, a fifth, or a fourth apart (mod 12; twice in a
    # row with both moving, the first two are parallels)
    degrees = sounding[..., 1:13].transpose(1, 2)  # (B, T, V, 12)
    upper, lower = torch.triu_indices(V, V, offset=1, device=roll.device)
    classes = [(degrees @ degrees.roll(k, dims=-1).transpose(2, 3))[:, :, upper, lower] for k in PERFECT]
    intervals = torch.cat(classes, dim=-1)  # (B, T, 3 * pairs)
    return torch.cat([per_voice.permute(0, 2, 1, 3).reshape(B, T, V * 17), gaps.transpose(1, 2), intervals], dim=-1)


class KeyEmbedding(nn.Module):
    """Vectors of the inner channels relative to a key: rest, hold, and for a pitch its scale degree's plus its own."""

    def __init__(self, c: GANConfig, dim: int):
        super().__init__()
        self.c = c
        n_pitches = c.pitch_high - c.pitch_low + 1
        self.special = nn.Parameter(torch.randn(2, dim) * 0.5)
        self.degree = nn.Parameter(torch.randn(12, dim) * 0.5)
        self.pitch = nn.Parameter(torch.randn(n_pitches, dim) * 0.1)

    def table(self, tonic: torch.Tensor) -> torch.Tensor:
        # tonic (B,) -> (B, inner, dim)
        pitches = torch.arange(self.c.pitch_low, self.c.pitch_high + 1, device=tonic.device)
        degree = (pitches[None] - tonic[:, None]) % 12  # (B, P)
        notes = self.degree[degree] + self.pitch[None]
        return torch.cat([self.special.expand(len(tonic), -1, -1), notes], dim=1)


class RollReader(nn.Module):
    """Per-step vectors of a roll ``(B, V, T, inner)``: key-relative token embeddings of every voice and
    :func:`roll_features`, mixed, then two convolutions of stride 2 over time (``(B, width, T / 4)`` out)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        w = c.width
        self.embed = KeyEmbedding(c, c.embed)
        self.mix = nn.Linear(c.voices * c.embed + n_features(c.voices), w)
        self.mode = nn.Embedding(N_MODES, w)
        self.down1 = nn.Conv1d(w, w, 4, stride=2, padding=1)
        self.down2 = nn.Conv1d(w, w, 4, stride=2, padding=1)

    def forward(self, roll: torch.Tensor, tonic: torch.Tensor, mode: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, width, T / 4)`` features and the per-step mix ``(B, width, T)``."""
        B, V, T, _ = roll.shape
        tokens = (roll.reshape(B, V * T, -1) @ self.embed.table(tonic)).view(B, V, T, -1)
        tokens = tokens.transpose(1, 2).reshape(B, T, V * self.c.embed)
        x = self.mix(torch.cat([tokens, roll_features(roll, tonic, self.c)], dim=-1)) + self.mode(mode)[:, None]
        first = F.leaky_relu(x, 0.2).transpose(1, 2)  # (B, width, T)
        h = F.leaky_relu(self.down1(first), 0.2)
        return F.leaky_relu(self.down2(h), 0.2), first


def _per_bar(h: torch.Tensor, bars: int) -> torch.Tensor:
    """Mean and max of ``(B, W, T')`` over each of ``bars`` equal bars -> ``(B, bars, 2W)``."""
    B, W, T = h.shape
    h = h.view(B, W, bars, T // bars)
    return torch.cat([h.mean(-1), h.amax(-1)], dim=1).transpose(1, 2)


class Encoder(nn.Module):
    """Infers the latents of real music (training only, for the reconstruction term): from a window of context
    bars and ``n`` written bars, the phrase latent ``z`` and every written bar's noise, as Gaussians (mean,
    log-variance)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        w = c.width
        self.reader = RollReader(c)
        self.bar = nn.Linear(2 * w, w)
        self.style = nn.Embedding(c.n_styles, w)
        self.phrase = nn.Conv1d(w, w, 3, padding=1)
        self.noise = nn.Linear(w, 2 * c.bar_z_dim)
        self.z = nn.Linear(w, 2 * c.z_dim)

    def forward(self, roll: torch.Tensor, cond: dict, n: int):
        """``roll`` (B, V, (context_bars + n) * L, inner) -> ``(z_mean, z_logvar)`` (B, z_dim) and
        ``(noise_mean, noise_logvar)`` (B, n, bar_z_dim)."""
        K = self.c.context_bars
        tonic, mode = key_parts(cond["key"])
        h, _ = self.reader(roll, tonic, mode)
        bars = F.leaky_relu(self.bar(_per_bar(h, K + n)) + self.style(cond["style"])[:, None], 0.2)
        f = F.leaky_relu(self.phrase(bars.transpose(1, 2)), 0.2).transpose(1, 2) + bars  # (B, K + n, w)
        noise = self.noise(f[:, K:]).chunk(2, dim=-1)
        z = self.z(f[:, K:].mean(1)).chunk(2, dim=-1)
        return z, noise


def _kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of N(mean, exp(logvar)) from N(0, 1), summed."""
    return 0.5 * (logvar.exp() + mean**2 - 1 - logvar).sum()


class Generator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        w = c.width
        self.reader = RollReader(c)  # the temporal model reads the bars before
        self.context = nn.Linear(c.context_bars * (2 * w + 1) + w, w)
        self.style = nn.Embedding(c.n_styles, w)
        self.metre = nn.Embedding(c.n_metres, w)
        self.mode = nn.Embedding(N_MODES, w)
        self.to_end = nn.Embedding(c.ending_bars + 1, w)
        self.latent = nn.Sequential(
            nn.Linear(c.z_dim + c.bar_z_dim + w, 2 * w), nn.LeakyReLU(0.2), nn.Linear(2 * w, 2 * w)
        )
        self.beat_pos = nn.Embedding(c.max_bar_steps // 4, 2 * w)
        self.beats = nn.Conv1d(2 * w, 2 * w, 3, padding=1)
        self.up1 = nn.ConvTranspose1d(2 * w, w, 2, stride=2)  # beats -> eighths
        self.conv1 = nn.Conv1d(w, w, 3, padding=1)
        self.up2 = nn.ConvTranspose1d(w, w, 2, stride=2)  # eighths -> sixteenths
        self.conv2 = nn.Conv1d(w, w, 3, padding=1)
        self.step_pos = nn.Embedding(c.max_bar_steps, w)
        self.heads = nn.Linear(w, c.voices * c.embed)
        self.out = KeyEmbedding(c, c.embed)
        # per style and voice: a bias for every channel (register, rests) and for every scale degree (tonality),
        # started at the log-frequencies of the training data (GANTask), so the first bars are already in register
        self.bias = nn.Parameter(torch.zeros(c.n_styles, c.voices, c.inner))
        self.degree_bias = nn.Parameter(torch.zeros(c.n_styles, N_MODES, c.voices, 12))
        self.encoder = Encoder(c) if c.recon > 0 else None
        # note to note (a Markov chain in every voice, given the bar's logits): a bias for every interval from the
        # sounding pitch, and for rest and hold after silence or a note; a hold after silence is refused
        self.interval = nn.Parameter(torch.zeros(c.n_styles, c.voices, 2 * MAX_INTERVAL + 1))
        self.rest_hold = nn.Parameter(torch.zeros(c.n_styles, c.voices, 2, 2))  # [silent, sounding] x [rest, hold]
        # and voice to voice: a bias for every interval below the pitch of the voice above, so that the lines keep
        # their order and spacing
        self.vertical = nn.Parameter(torch.zeros(c.n_styles, c.voices, 2 * MAX_INTERVAL + 1))
        # and in time: a bias for holding the sounding note, by the step of the bar and how long it has sounded, so
        # that notes last as long as they do in the style and start where they do
        self.rhythm = nn.Parameter(torch.zeros(c.n_styles, c.voices, c.max_bar_steps, c.max_duration + 1))

    def bar_logits(
        self,
        context: torch.Tensor,
        before: torch.Tensor,
        cond: dict,
        z: torch.Tensor,
        noise: torch.Tensor,
        to_end: torch.Tensor,
        bar_steps: int,
    ) -> torch.Tensor:
        """Inner logits ``(B, V, bar_steps, inner)`` of the next bar.

        ``context`` (B, V, context_bars * bar_steps, inner): the bars before (one-hot, or straight-through);
        ``before`` (B, context_bars): 1 where a context bar lies before the piece's start (its roll is all rests);
        ``cond``: ``style``, ``metre``, ``key`` (B,) and ``mask`` (B, V, inner) additive; ``z`` (B, z_dim),
        ``noise`` (B, bar_z_dim), ``to_end`` (B,).
        """
        c = self.c
        K = c.context_bars
        tonic, mode = key_parts(cond["key"])
        h, first = self.reader(context, tonic, mode)  # (B, w, K*L/4), (B, w, K*L)
        summary = torch.cat([_per_bar(h, K).flatten(1), before, first[:, :, -1]], dim=1)
        u = F.leaky_relu(self.context(summary), 0.2)
        u = u + self.style(cond["style"]) + self.metre(cond["metre"]) + self.mode(mode) + self.to_end(to_end)
        u = self.latent(torch.cat([z, noise, u], dim=1))  # (B, 2w)
        n_beats = bar_steps // 4
        x = u[:, :, None] + self.beat_pos.weight[:n_beats].T[None]  # (B, 2w, beats)
        x = F.leaky_relu(x, 0.2)
        x = F.leaky_relu(self.beats(x), 0.2) + x
        x = F.leaky_relu(self.up1(x), 0.2)
        x = F.leaky_relu(self.conv1(x), 0.2) + x
        x = self.up2(x) + self.step_pos.weight[:bar_steps].T[None]
        x = F.leaky_relu(x, 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2) + x  # (B, w, L)
        B = x.shape[0]
        query = self.heads(x.transpose(1, 2)).view(B, bar_steps, c.voices, c.embed)
        logits = torch.einsum("btvd,bcd->bvtc", query, self.out.table(tonic))
        pitches = torch.arange(c.pitch_low, c.pitch_high + 1, device=tonic.device)
        degree = (pitches[None] - tonic[:, None]) % 12  # (B, P)
        degree_bias = self.degree_bias[cond["style"], mode]  # (B, V, 12)
        degree_bias = torch.gather(degree_bias, 2, degree[:, None].expand(-1, c.voices, -1))
        bias = self.bias[cond["style"]] + F.pad(degree_bias, (2, 0))  # (B, V, inner)
        return logits + (bias + cond["mask"])[:, :, None]

    # ------------------------------------------------------------------ note to note
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
        state = _carry_through_holds(
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

    def rollout(self, context, before, cond, z, noise, to_end, bar_steps: int) -> torch.Tensor:
        """Write ``noise.shape[1]`` bars one after the other, each reading the bars before it: straight-through
        one-hot rolls ``(B, V, n * bar_steps, inner)``. ``noise`` (B, n, bar_z_dim), ``to_end`` (B, n)."""
        K = self.c.context_bars
        tables = self.chain(cond["style"])
        sounding, flag, duration = self.sounding(context)
        sounding, flag, duration = sounding[:, :, -1], flag[:, :, -1], duration[:, :, -1]

        def choose(logits):
            return straight_through(logits, self.c.stochastic)

        bars = []
        for i in range(noise.shape[1]):
            logits = self.bar_logits(context, before, cond, z, noise[:, i], to_end[:, i], bar_steps)
            bar, sounding, flag, duration = self.decode(logits, sounding, flag, duration, tables, choose)
            bars.append(bar)
            context = torch.cat([context, bar], dim=2)[:, :, -K * bar_steps :]
            before = torch.cat([before[:, 1:], torch.zeros_like(before[:, :1])], dim=1)
        return torch.cat(bars, dim=2)

    def elbo(self, real, before, cond, to_end, bar_steps: int) -> torch.Tensor:
        """The negative evidence lower bound per cell of the written bars of real windows (B, V, (context_bars + n)
        * bar_steps, inner): cross-entropy of each bar given the real bars before it and the latents the
        :class:`Encoder` infers, plus their KL divergence from the prior (the VAE of VAE-GAN, Larsen et al. 2016)."""
        c, K, L = self.c, self.c.context_bars, bar_steps
        n = to_end.shape[1]
        (z_mean, z_logvar), (noise_mean, noise_logvar) = self.encoder(real, cond, n)
        z = z_mean + (0.5 * z_logvar).exp() * torch.randn_like(z_mean)
        noise = noise_mean + (0.5 * noise_logvar).exp() * torch.randn_like(noise_mean)
        total = _kl(z_mean, z_logvar) + _kl(noise_mean, noise_logvar)
        tables = self.chain(cond["style"])
        sounding, flag, duration = self.sounding(real)
        position = torch.arange(L, device=real.device)
        for i in range(n):
            flags = torch.cat([before[:, i:], torch.zeros_like(before[:, : min(i, K)])], dim=1)
            logits = self.bar_logits(real[:, :, i * L : (K + i) * L], flags, cond, z, noise[:, i], to_end[:, i], L)
            now = slice((K + i) * L - 1, (K + i + 1) * L - 1)  # the step before each step of the bar
            logits = logits + self.chain_bias(
                sounding[:, :, now], flag[:, :, now], duration[:, :, now], position, tables
            )
            target = real[:, :, (K + i) * L : (K + i + 1) * L].argmax(-1)
            total = total + F.cross_entropy(logits.reshape(-1, c.inner), target.reshape(-1), reduction="sum")
        return total / (real.shape[0] * c.voices * n * L)


class Critic(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        w = c.width
        self.reader = RollReader(c)
        self.bar = nn.Linear(2 * w, w)
        self.to_end = nn.Embedding(c.ending_bars + 1, w)
        self.written = nn.Embedding(2, w)  # context bar or written bar
        self.phrase = nn.Conv1d(w, w, 3, padding=1)
        self.score = nn.Linear(w, 1)
        self.style = nn.Embedding(c.n_styles, w)

    def forward(self, roll: torch.Tensor, cond: dict, to_end: torch.Tensor) -> torch.Tensor:
        """Scores ``(B,)`` of windows ``roll`` (B, V, (critic_context + n) * bar_steps, inner), the last ``n`` bars
        written (``to_end`` (B, n) their count-down)."""
        K, n = self.c.critic_context, to_end.shape[1]
        tonic, mode = key_parts(cond["key"])
        h, _ = self.reader(roll, tonic, mode)
        bars = self.bar(_per_bar(h, K + n))  # (B, K + n, w)
        ends = torch.cat([torch.zeros_like(to_end[:, :1]).expand(-1, K), to_end], dim=1)
        written = torch.cat([torch.zeros_like(ends[:, :K]), torch.ones_like(ends[:, K:])], dim=1)
        bars = F.leaky_relu(bars + self.to_end(ends) + self.written(written), 0.2).transpose(1, 2)  # (B, w, K + n)
        f = F.leaky_relu(self.phrase(bars), 0.2) + bars
        f = f.mean(-1)  # (B, w)
        return self.score(f)[:, 0] + (f * self.style(cond["style"])).sum(dim=1)


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
    def logits(
        self,
        context: torch.Tensor,
        before: torch.Tensor,
        cond: dict,
        z: torch.Tensor,
        noise: torch.Tensor,
        to_end: torch.Tensor,
        bar_steps: int,
    ) -> torch.Tensor:
        """Logits ``(B, voices, bar_steps, 130)`` of the next bar over the roll's channels (``-inf`` where masked or
        outside the generator's pitches); arguments as :meth:`Generator.bar_logits`."""
        c = self.config
        inner = self.generator.bar_logits(context, before, cond, z, noise, to_end, bar_steps)
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
