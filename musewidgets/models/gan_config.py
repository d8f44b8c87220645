"""The GAN's config (:class:`GANConfig`), its constants and the key's parts (:func:`key_parts`): what every part of
the GAN (:mod:`musewidgets.models.gan`) reads."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["HOLD_IN_SILENCE", "MAX_INTERVAL", "N_MODES", "GANConfig", "key_parts"]

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
