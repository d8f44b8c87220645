"""Sampling: every model's music, drawn token by token (or bar by bar) from an explicit, seeded generator.

:mod:`.core` turns logits into a token; :mod:`.sampler` writes takes with the sequence models and the GAN;
:mod:`.infill` fills in bars and voices with the infill model; :mod:`.strict` is strict voice leading; :mod:`.guidance`
holds the priors the samplers add to the model's logits.
"""

from .infill import fill, harmonize, load_infill, regenerate
from .sampler import Sampler, check_settings, filter_logits, load_sampler, sample_next_token

__all__ = [
    "Sampler",
    "check_settings",
    "fill",
    "filter_logits",
    "harmonize",
    "load_infill",
    "load_sampler",
    "regenerate",
    "sample_next_token",
]
