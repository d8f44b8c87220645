"""Style guidance: Irish takes steered away from the folk songs the models blur them into.

:class:`StyleContrast` multiplies the model's next-token distribution by the model's own evidence for the take's style
against the styles it could be mistaken for (the same number of voices, the same metre), raised to ``STYLE_STRENGTH``:
classifier-free guidance (Ho and Salimans 2022) with the model as its own classifier. It wraps the model, since it
needs the model's logits under the other styles. Measurements: docs/guidance.md.
"""

from __future__ import annotations

import math

import torch

__all__ = ["STYLE_STRENGTH", "StyleContrast", "style_strength"]

# per style: only Irish, which the models blur into folk; folk takes came closer to Irish tunes with it
STYLE_STRENGTH = {"irish": 1.0}


def style_strength(style: str | None, strength: float = 1.0) -> float:
    """The style's :data:`STYLE_STRENGTH` times ``strength`` (0 for a style without style guidance)."""
    return STYLE_STRENGTH.get(style, 0.0) * strength


class StyleContrast:
    """A sequence model seen through style guidance: its next-token distribution in the take's style, times the
    model's own evidence for that style over the styles the take could be mistaken for, raised to ``strength``.

    ``step`` runs the model once for the take's style and once for each of ``others`` (style indices, one batch) and
    returns ``(1 + strength) * log p(x | style) - strength * log mean_c p(x | c)``, the mean over the style and the
    others: classifier-free guidance (Ho and Salimans 2022), where the classifier is the model's own ``p(style | x)``.
    ``init_state`` and ``step`` are the model's, so a sampler uses it in the model's place.
    """

    def __init__(self, model, others: list[int], strength: float):
        self.model, self.others, self.strength = model, list(others), strength
        self.config = model.config

    def init_state(self, batch_size: int):
        return self.model.init_state(batch_size * (1 + len(self.others)))

    def step(self, inputs: dict, state):
        n, k = len(inputs["style"]), 1 + len(self.others)
        batch = {name: value.repeat(k) for name, value in inputs.items()}
        batch["style"] = torch.cat([inputs["style"], torch.tensor(self.others).repeat_interleave(n)])
        logits, state = self.model.step(batch, state)
        log_p = logits.log_softmax(-1).view(k, n, -1)
        mixture = torch.logsumexp(log_p, dim=0) - math.log(k)
        return (1 + self.strength) * log_p[0] - self.strength * mixture, state
