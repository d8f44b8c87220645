"""The GAN's networks (the design: :mod:`musewidgets.models.gan`): what reads a roll (key-relative embeddings and the
features a musician hears, :class:`RollReader`), the :class:`Generator` that writes bar after bar, the
:class:`Encoder` that infers the latents of real music (training's VAE term) and the :class:`Critic`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .gan_chain import NoteChain, carry_through_holds, straight_through
from .gan_config import MAX_INTERVAL, N_MODES, GANConfig, key_parts

__all__ = ["BarReader", "Critic", "Encoder", "Generator", "KeyEmbedding", "RollReader", "n_features", "roll_features"]

N_FEATURES_PER_VOICE = 17  # sounding height, scale degree (12), sounding, onset, hold, rest


PERFECT = (0, 7, 5)  # interval classes of unison and octave, fifth, fourth (the upper voice's degree minus k)


def n_features(voices: int) -> int:
    """Width of :func:`roll_features`: per voice, per neighbouring pair (height gap), per pair (perfect intervals)."""
    return voices * N_FEATURES_PER_VOICE + voices - 1 + len(PERFECT) * voices * (voices - 1) // 2


def roll_features(roll: torch.Tensor, tonic: torch.Tensor, c: GANConfig) -> torch.Tensor:
    """What a musician reads off a roll, per step: ``(B, T, n_features(voices))``.

    For every voice: the height of the sounding pitch (octaves from middle C), its scale degree relative to
    ``tonic`` (one-hot, 12), whether a note sounds, starts, is held, or the voice rests; then the height differences
    of neighbouring voices where both sound (crossings and spacing); then for every two voices whether they sound a
    unison or octave, a fifth or a fourth apart (parallels are the first two twice in a row). The sounding note is
    the recurrence of :func:`carry_through_holds`, so the features take mixtures of rolls (the gradient penalty's)
    and pass gradients, of any order.
    """
    B, V, T, C = roll.shape
    pitches = torch.arange(c.pitch_low, c.pitch_high + 1, device=roll.device)
    degree = F.one_hot((pitches[None] - tonic[:, None]) % 12, 12).to(roll.dtype)  # (B, P, 12)
    height = ((pitches - 60) / 12.0).to(roll.dtype)[None, :, None].expand(B, -1, 1)
    read = torch.cat([height, degree, torch.ones_like(height)], dim=2)  # (B, P, 14)
    struck = (roll[..., 2:].reshape(B, V * T, -1) @ read).view(B, V, T, 14)  # the note struck at each step
    sounding = carry_through_holds(struck, roll[..., 1:2])
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


class BarReader(nn.Module):
    """What the encoder and the critic share: a window of bars read by a :class:`RollReader`, pooled per bar
    (:func:`_per_bar`) and mixed into one vector per bar (:meth:`read_bars`)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        self.reader = RollReader(c)
        self.bar = nn.Linear(2 * c.width, c.width)

    def read_bars(self, roll: torch.Tensor, key: torch.Tensor, bars: int) -> torch.Tensor:
        """``roll`` (B, V, bars * L, inner) in key ``key`` (B,) -> ``(B, bars, width)``."""
        tonic, mode = key_parts(key)
        h, _ = self.reader(roll, tonic, mode)
        return self.bar(_per_bar(h, bars))


class Encoder(BarReader):
    """Infers the latents of real music (training only, for the reconstruction term): from a window of context
    bars and ``n`` written bars, the phrase latent ``z`` and every written bar's noise, as Gaussians (mean,
    log-variance)."""

    def __init__(self, c: GANConfig):
        super().__init__(c)
        w = c.width
        self.style = nn.Embedding(c.n_styles, w)
        self.phrase = nn.Conv1d(w, w, 3, padding=1)
        self.noise = nn.Linear(w, 2 * c.bar_z_dim)
        self.z = nn.Linear(w, 2 * c.z_dim)

    def forward(self, roll: torch.Tensor, cond: dict, n: int):
        """``roll`` (B, V, (context_bars + n) * L, inner) -> ``(z_mean, z_logvar)`` (B, z_dim) and
        ``(noise_mean, noise_logvar)`` (B, n, bar_z_dim)."""
        K = self.c.context_bars
        bars = F.leaky_relu(self.read_bars(roll, cond["key"], K + n) + self.style(cond["style"])[:, None], 0.2)
        f = F.leaky_relu(self.phrase(bars.transpose(1, 2)), 0.2).transpose(1, 2) + bars  # (B, K + n, w)
        noise = self.noise(f[:, K:]).chunk(2, dim=-1)
        z = self.z(f[:, K:].mean(1)).chunk(2, dim=-1)
        return z, noise


def _kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of N(mean, exp(logvar)) from N(0, 1), summed."""
    return 0.5 * (logvar.exp() + mean**2 - 1 - logvar).sum()


class Generator(NoteChain, nn.Module):
    """Writes bars one after the other: the bar network's logits for every cell of the next bar (:meth:`bar_logits`),
    then the cells step by step through the note-to-note chain (:class:`~musewidgets.models.gan_chain.NoteChain`)."""

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


class Critic(BarReader):
    """Scores windows of bars, the last ones written (real music high): per bar, what it reads, whether it was
    written and its count-down to the end, then a convolution over the bars; the style enters by projection."""

    def __init__(self, c: GANConfig):
        super().__init__(c)
        w = c.width
        self.to_end = nn.Embedding(c.ending_bars + 1, w)
        self.written = nn.Embedding(2, w)  # context bar or written bar
        self.phrase = nn.Conv1d(w, w, 3, padding=1)
        self.score = nn.Linear(w, 1)
        self.style = nn.Embedding(c.n_styles, w)

    def forward(self, roll: torch.Tensor, cond: dict, to_end: torch.Tensor) -> torch.Tensor:
        """Scores ``(B,)`` of windows ``roll`` (B, V, (critic_context + n) * bar_steps, inner), the last ``n`` bars
        written (``to_end`` (B, n) their count-down)."""
        K, n = self.c.critic_context, to_end.shape[1]
        bars = self.read_bars(roll, cond["key"], K + n)  # (B, K + n, w)
        ends = torch.cat([torch.zeros_like(to_end[:, :1]).expand(-1, K), to_end], dim=1)
        written = torch.cat([torch.zeros_like(ends[:, :K]), torch.ones_like(ends[:, K:])], dim=1)
        bars = F.leaky_relu(bars + self.to_end(ends) + self.written(written), 0.2).transpose(1, 2)  # (B, w, K + n)
        f = F.leaky_relu(self.phrase(bars), 0.2) + bars
        f = f.mean(-1)  # (B, w)
        return self.score(f)[:, 0] + (f * self.style(cond["style"])).sum(dim=1)
