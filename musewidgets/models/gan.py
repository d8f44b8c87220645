"""A style-conditioned GAN that draws whole phrases (4 voices x 64 sixteenths) at once.

Design, and why:

* **Output**: for every voice and step, logits over 130 channels (rest, hold, 128 pitches), the one-hot roll of
  :class:`~musewidgets.codecs.RollCodec`. Each voice stays a single line by construction, and the same decoder as
  the sequence models turns a roll back into notes.
* **Discrete samples**: the generator's cells go through a straight-through Gumbel-softmax, so the critic sees
  exact one-hot rolls from both sides (real data is one-hot; a soft roll would give itself away by its blur).
* **Objective**: Wasserstein loss with gradient penalty (WGAN-GP, Gulrajani et al. 2017): no saturating
  discriminator, a loss that tracks sample quality, and training that does not collapse at these small sizes;
  5 critic steps per generator step, Adam(1e-4, betas 0.5/0.9) as in the paper.
* **Conditioning**: the style is embedded into the generator's input and enters the critic by projection
  (Miyato & Koyama 2018). Styles with one voice have the other three voices forced to rest.

A GAN has no likelihood, so it has no NLL in the model cards; the cards report pitch-class and rhythm statistics
against the held-out phrases instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import register

__all__ = ["GAN", "GANConfig"]


@dataclass
class GANConfig:
    n_styles: int = 4
    voices: int = 4
    steps: int = 64  # one phrase: 4 bars of 4/4 at 4 steps per quarter
    channels: int = 130  # rest, hold, 128 pitches
    z_dim: int = 96
    width: int = 192  # channels of the convolutional stacks
    gp_weight: float = 10.0


class Generator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        self.style = nn.Embedding(c.n_styles, c.z_dim)
        self.fc = nn.Linear(2 * c.z_dim, c.width * (c.steps // 8))
        self.up = nn.Sequential(
            nn.BatchNorm1d(c.width),
            nn.ReLU(),
            nn.ConvTranspose1d(c.width, c.width, 4, stride=2, padding=1),  # steps/8 -> steps/4
            nn.BatchNorm1d(c.width),
            nn.ReLU(),
            nn.ConvTranspose1d(c.width, c.width, 4, stride=2, padding=1),  # -> steps/2
            nn.BatchNorm1d(c.width),
            nn.ReLU(),
            nn.ConvTranspose1d(c.width, c.width, 4, stride=2, padding=1),  # -> steps
            nn.BatchNorm1d(c.width),
            nn.ReLU(),
            nn.Conv1d(c.width, c.voices * c.channels, 3, padding=1),
        )

    def forward(self, z: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # z: (B, z_dim), style: (B,) -> logits (B, voices, steps, channels)
        B = z.shape[0]
        h = self.fc(torch.cat([z, self.style(style)], dim=1)).view(B, self.c.width, self.c.steps // 8)
        out = self.up(h)  # (B, voices * channels, steps)
        return out.view(B, self.c.voices, self.c.channels, self.c.steps).transpose(2, 3)


class Critic(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        self.c = c
        self.net = nn.Sequential(
            nn.Conv1d(c.voices * c.channels, c.width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(c.width, c.width, 4, stride=2, padding=1),  # steps/2
            nn.LeakyReLU(0.2),
            nn.Conv1d(c.width, c.width, 4, stride=2, padding=1),  # steps/4
            nn.LeakyReLU(0.2),
            nn.Conv1d(c.width, c.width, 4, stride=2, padding=1),  # steps/8
            nn.LeakyReLU(0.2),
        )
        self.fc = nn.Linear(c.width * (c.steps // 8), c.width)
        self.score = nn.Linear(c.width, 1)
        self.style = nn.Embedding(c.n_styles, c.width)

    def forward(self, roll: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # roll: (B, voices, steps, channels) -> (B,)
        B = roll.shape[0]
        x = roll.transpose(2, 3).reshape(B, self.c.voices * self.c.channels, self.c.steps)
        f = F.leaky_relu(self.fc(self.net(x).flatten(1)), 0.2)  # (B, width)
        return self.score(f)[:, 0] + (f * self.style(style)).sum(dim=1)


@register("gan", GANConfig)
class GAN(nn.Module):
    """Generator and critic together, so that one checkpoint holds both."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.critic = Critic(config)

    def logits(self, z: torch.Tensor, style: torch.Tensor, voice_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Generator logits ``(B, voices, steps, channels)``; ``voice_mask`` (B, voices, channels) adds -inf where a
        voice may not go (absent voices may only rest; pitches outside a voice's range)."""
        logits = self.generator(z, style)
        return logits if voice_mask is None else logits + voice_mask[:, :, None, :]

    def fake(self, z, style, voice_mask=None, tau: float = 1.0) -> torch.Tensor:
        """Exact one-hot rolls with straight-through gradients (Gumbel-softmax)."""
        return F.gumbel_softmax(self.logits(z, style, voice_mask), tau=tau, hard=True, dim=-1)

    def gradient_penalty(self, real, fake, style) -> torch.Tensor:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        score = self.critic(mix, style)
        (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
