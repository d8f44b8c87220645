"""Model families behind one registry: ``rnn``, ``lstm``, ``transformer`` (token sequences), ``gan`` (rolls), and
``frame_bernoulli`` / ``frame_notewise`` (binary frames, for the polyphonic-music benchmarks), ``classifier`` (the
style classifier the analysis listens with), and ``infill`` (a masked model of the voices x time grid, filled in by
Gibbs sampling: :mod:`musewidgets.sampling.infill`).

Importing this package imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from . import classifier, frames, gan, infill, rnn, transformer  # noqa: F401  (registers the families)
from .base import REGISTRY, SequenceConfig, SequenceModel

__all__ = ["FAMILIES", "REGISTRY", "SequenceConfig", "SequenceModel", "build", "config_to_dict"]

FAMILIES = tuple(REGISTRY)


def build(family: str, config: dict | None = None):
    """A fresh model of ``family`` with its config's defaults overridden by ``config``."""
    if family not in REGISTRY:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(REGISTRY)}")
    config_cls, model_cls = REGISTRY[family]
    known = {f.name for f in fields(config_cls)}
    unknown = set(config or {}) - known
    if unknown:
        raise ValueError(f"unknown config fields for {family}: {', '.join(sorted(unknown))}")
    return model_cls(config_cls(**(config or {})))


def config_to_dict(model) -> dict:
    return asdict(model.config)
