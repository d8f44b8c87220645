"""Sampling: every model's music, drawn token by token (or bar by bar) from an explicit, seeded generator.

:mod:`.core` turns logits into a token; :mod:`.sampler` writes takes with the sequence models (:mod:`.sequence`) and
the GAN (:mod:`.gan`); :mod:`.infill` fills in bars and voices with the infill model; :mod:`.harmonization` writes the
voices under a melody (a sequence model, then the infill model's cadence); :mod:`.strict` is strict voice leading;
:mod:`.guidance` holds the priors every sampler adds to the model's logits, each with a strength
(:class:`~.guidance.Guidance`).
"""

from .core import check_settings, filter_logits, sample_next_token
from .guidance import Guidance
from .harmonization import harmonize
from .infill import fill, load_infill, regenerate
from .sampler import Sampler, load_sampler

__all__ = [
    "Guidance",
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
