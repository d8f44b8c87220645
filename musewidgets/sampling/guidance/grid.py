"""The style's grid (the GAN): new notes keep to the steps of the bar where the style's notes start.

The GAN writes every cell of a bar at once, and started 7.6 % of its Palestrina notes off the quarter-note grid
(the corpus: 0.7 %). A new note on a step where the style's notes almost never start costs ``GRID_STRENGTH``. The
sequence models, which draw one token after the other, keep to the grid by themselves. Measurements: docs/guidance.md.
"""

from __future__ import annotations

import torch

from .profiles import onset_profiles

__all__ = ["GRID_SHARE", "GRID_STRENGTH", "onset_grid"]

GRID_STRENGTH = 6.0  # GAN Palestrina, 64 takes: C2ST 0.96 alone, 0.87 with 3, 0.85 with 6
GRID_SHARE = 0.1  # a step of the bar is off the style's grid below this share of the average step's onsets


def onset_grid(
    style: str | None, time_signature: tuple[int, int], steps: int, strength: float = 1.0
) -> torch.Tensor | None:
    """``(steps,)`` biases for a new note on each step of a bar of ``style`` in ``time_signature``:
    ``-GRID_STRENGTH * strength`` where the style's notes almost never start (under :data:`GRID_SHARE` of the
    average step's onsets), else 0; ``None`` for a style or
    metre without a profile."""
    shares = onset_profiles().get(style or "", {}).get(f"{time_signature[0]}/{time_signature[1]}")
    if shares is None or len(shares) != steps:
        return None
    rare = torch.tensor(shares) * steps < GRID_SHARE
    return torch.where(rare, -GRID_STRENGTH * strength, 0.0)
