"""Training every family: one loop that emits events (:mod:`~musewidgets.training.trainer`) and each family's task.

=====================  ===============================================================================
``trainer``            :class:`Trainer`, :class:`TrainConfig`: checks, device, data, resume, checkpoints' meta
``loop``               one run of the loop every family shares: stopping, validation, best/last checkpoints
``step``               what a step shares: the learning-rate schedule, mixed precision, the optimizer update
``seeding``            torch's random state, seeded in a fork and kept for resuming
``warm_start``         starting from another checkpoint's weights (``init``)
``progress``           the CLI's progress bar and log
``pieces``             the token families' pieces per style, and where their training windows come from
``sequence``           next-token training of the rnn, lstm and transformer; :func:`evaluate_nll`
``gan``                the GAN's WGAN-GP steps on bars
``infill``             the infill model's hidden cells (harmonize, regenerate)
``classifier``         the style classifier on re-encoded stretches
``frames``             :class:`FrameTrainer` for the polyphonic-music benchmarks (JSB Chorales), on the same loop
``distributed``        DistributedDataParallel under ``torchrun``
=====================  ===============================================================================

Imports flow one way: the tasks import the trainer, which finds a family's task by name (``trainer.TASKS``) when a
run starts; the data come from :mod:`musewidgets.datasets`, which imports nothing from here.
"""

from ..codecs.tokens import transpose_key_index
from .frames import FrameTrainer, evaluate_frames
from .sequence import SequenceData, SequenceTask, evaluate_nll
from .trainer import (
    DEFAULTS,
    EVENTS,
    PRECISIONS,
    RunState,
    TrainConfig,
    Trainer,
    initialize,
    mixed_precision,
    seeded_torch,
    subscribe_progress,
)

__all__ = [
    "DEFAULTS",
    "EVENTS",
    "PRECISIONS",
    "FrameTrainer",
    "RunState",
    "SequenceData",
    "SequenceTask",
    "TrainConfig",
    "Trainer",
    "evaluate_frames",
    "evaluate_nll",
    "initialize",
    "mixed_precision",
    "seeded_torch",
    "subscribe_progress",
    "transpose_key_index",
]
