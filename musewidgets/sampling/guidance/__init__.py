"""Guidance: small, documented priors that the samplers add to a model's logits, each with a strength (0 = off).

The models are *told* the key, the metre and how many bars are left, and learn from the corpus what to do with that;
the priors add, in the open, what they learn too slowly on a CPU (a product of experts: the model times a simple
prior). Each prior is a small object with one call on one voice's logits (:class:`Prior`), composed in a list that
every sequence sampler applies in the same order (:class:`Priors`, after transformers' ``LogitsProcessorList``); the
GAN and the infill model apply the same priors to their own cells. :class:`Guidance` holds one strength per prior:

======================  ===================================================================================
``key``                 a take asked for a key is chosen among candidates in it (:mod:`.pitches`)
``cadence``             a take that ends closes on a final of the style (:mod:`.cadence`)
``held_final``          ... and holds its final chord as often as the style does (:mod:`.held_final`)
``repeats``             bars return note for note as in the style's pieces (:mod:`.repeats`)
``style``               Irish takes steered away from folk songs (:mod:`.style`)
``pitch``               the four-voice styles' pitch temperature (:mod:`.pitches`)
``parallels``           parallel fifths and octaves cost (:mod:`.parallels`)
``grid``                the GAN's notes start where the style's do (:mod:`.grid`)
======================  ===================================================================================

``Guidance()`` (every strength 1) is the default of every sampler, ``guide=False`` (``Guidance.off()``) the model
alone; ``guide="cadence=0"`` turns one prior off. What each prior changed, measured, is in docs/guidance.md.
"""

from .base import MAX_STRENGTH, PRIORS, Guidance, Prior, Priors
from .cadence import (
    CADENCE_STRENGTH,
    HOLD_STRENGTH,
    TONIC_ONLY,
    Cadence,
    approach_weights,
    cadence_bias,
    ending_weights,
    hold_bias,
    outer_voices,
    plan_cadence,
    plan_ending,
)
from .grid import GRID_SHARE, GRID_STRENGTH, onset_grid
from .held_final import HELD_FINAL_MIN_BARS, HeldFinal, held_final, plan_held_final
from .parallels import PARALLEL_STRENGTH, VoiceLeading
from .pitches import (
    KEY_CANDIDATES,
    KEY_STRENGTH,
    PITCH_TEMPERATURE,
    AmongPitches,
    among_pitches,
    choose_in_key,
    key_bias,
    key_prior,
    pitch_temperature,
    plan_keys,
)
from .profiles import (
    ending_profiles,
    held_final_shares,
    key_shares,
    onset_profiles,
    pickup_shares,
    plan_pickup,
    repetition_profiles,
)
from .repeats import PHRASE_BARS, REPEAT_STRENGTH, Repeats, plan_repeats
from .style import STYLE_STRENGTH, StyleContrast, style_strength

__all__ = [
    "CADENCE_STRENGTH",
    "GRID_SHARE",
    "GRID_STRENGTH",
    "HELD_FINAL_MIN_BARS",
    "HOLD_STRENGTH",
    "KEY_CANDIDATES",
    "KEY_STRENGTH",
    "MAX_STRENGTH",
    "PARALLEL_STRENGTH",
    "PHRASE_BARS",
    "PITCH_TEMPERATURE",
    "PRIORS",
    "REPEAT_STRENGTH",
    "STYLE_STRENGTH",
    "TONIC_ONLY",
    "AmongPitches",
    "Cadence",
    "Guidance",
    "HeldFinal",
    "Prior",
    "Priors",
    "Repeats",
    "StyleContrast",
    "VoiceLeading",
    "among_pitches",
    "approach_weights",
    "cadence_bias",
    "choose_in_key",
    "ending_profiles",
    "ending_weights",
    "held_final",
    "held_final_shares",
    "hold_bias",
    "key_bias",
    "key_prior",
    "key_shares",
    "onset_grid",
    "onset_profiles",
    "pickup_shares",
    "plan_pickup",
    "outer_voices",
    "pitch_temperature",
    "plan_cadence",
    "plan_ending",
    "plan_held_final",
    "plan_keys",
    "plan_repeats",
    "repetition_profiles",
    "style_strength",
]
