"""One run of the loop every family shares (:meth:`~musewidgets.training.Trainer.loop`): where the run stands, when
it stops (time budget, step cap, :meth:`~musewidgets.training.Trainer.stop`), its validations with early stopping,
and its ``best`` and ``last`` checkpoints, the latter with what a resume needs besides the weights."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .seeding import torch_rng_state

__all__ = ["Run", "RunState"]


@dataclass
class RunState:
    """Where a run stands when :meth:`Trainer.loop` starts: a fresh run's, or what :meth:`Trainer.restore` read."""

    step: int = 0  # optimizer steps taken
    best: float = math.inf  # best mean validation score so far (lower is better)
    seconds: float = 0.0  # training time so far
    bad: int = 0  # validations since the best one (early stopping)
    extra: dict = field(default_factory=dict)  # the task's own state (the frame trainer's place in its epoch)


class Run:
    """One run of :meth:`Trainer.loop` for ``trainer`` (its config, events, stop flag and checkpoint paths), from
    ``start``: the steps taken, the best mean validation score and the validations since it, the last step's
    metrics, the training time (a resumed run's earlier time included) and the checkpoints it writes with ``save``.

    Under torchrun (``ctx``) process 0 alone saves, and decides for every process when to stop.
    """

    def __init__(self, trainer, *, save: Callable, rng: np.random.Generator, start: RunState, device, ctx, extra=None):
        self.trainer, self.config = trainer, trainer.config
        self.save, self.rng, self.extra = save, rng, extra
        self.step, self.best, self.bad, self.elapsed = start.step, start.best, start.bad, start.seconds
        self.device, self.ctx = device, ctx
        self.main = ctx is None or ctx.is_main
        self.metrics: dict = {}
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        return self.elapsed + time.perf_counter() - self.t0

    def stop_reason(self) -> str | None:
        """Why the run stops before its next step (process 0's reason, on every process), or None."""
        cfg = self.config
        why = None
        if self.seconds() > cfg.minutes * 60:
            why = "time budget"
        elif cfg.max_steps is not None and self.step >= cfg.max_steps:
            why = "step cap"
        elif self.trainer.stop_requested:
            why = "stopped"
        if self.ctx is not None:  # every process stops at the same step
            why = self.ctx.decide(why)
        return why

    def until_stopped(self, train_step: Callable, validate: Callable, patience: int | None, epoch_steps: int) -> str:
        """Train and validate every ``eval_every`` steps until a reason to stop; return it."""
        while True:
            why = self.stop_reason()
            if why is not None:
                return why
            self.train(train_step, epoch_steps)
            if self.step % self.config.eval_every == 0:
                self.validate(validate)
                if patience is not None and self.bad >= patience:
                    return "early stopping"

    def train(self, train_step: Callable, epoch_steps: int) -> None:
        """One step and its ``batch_end`` event (and ``epoch_end`` where an epoch of ``epoch_steps`` ends)."""
        tick = time.perf_counter()
        self.metrics = train_step(self.step)
        self.step += 1
        tokens = self.metrics.pop("tokens")
        self.trainer.emit(
            "batch_end",
            step=self.step,
            tokens_per_s=tokens / (time.perf_counter() - tick),
            seconds=self.seconds(),
            **self.metrics,
        )
        if epoch_steps and self.step % epoch_steps == 0:
            self.trainer.emit("epoch_end", epoch=self.step // epoch_steps, step=self.step)

    def validate(self, validate: Callable) -> None:
        """A validation: ``best`` saved where the mean improves, ``last`` always, then the ``validation`` event."""
        valid = validate()
        mean = float(np.mean(list(valid.values())))
        improved = mean < self.best
        if improved:
            self.best, self.bad = mean, 0
            self.checkpoint(self.trainer.best_path, valid, True)
        else:
            self.bad += 1
        self.checkpoint(self.trainer.last_path, valid, False)
        self.trainer.emit("validation", step=self.step, nll=valid, mean=mean, best=self.best, improved=improved)

    def finish(self, validate: Callable) -> None:
        """A run too short for a validation (no ``best`` on process 0's disk) keeps what it has: validated once and
        saved as ``best``."""
        short = not self.trainer.best_path.exists() or self.best == math.inf
        if self.ctx is not None:
            short = self.ctx.decide(short)  # what process 0 sees on its disk
        if short:
            valid = validate()
            self.best = float(np.mean(list(valid.values())))
            self.checkpoint(self.trainer.best_path, valid, True)

    def checkpoint(self, path, valid: dict, is_best: bool) -> None:
        """Save to ``path`` (process 0) and emit ``checkpoint``; ``last`` (not ``is_best``) with the run's state."""
        state = None
        if not is_best:
            state = {
                "best": self.best,
                "bad": self.bad,
                "numpy_rng": json.dumps(self.rng.bit_generator.state),  # 128-bit integers: kept as text
                "torch_rng": torch_rng_state(self.device),
                "metrics": dict(self.metrics),
                "extra": self.extra() if self.extra else {},
            }
        if self.main:
            seconds = round(self.seconds(), 1)
            self.save(path, step=self.step, seconds=seconds, valid=valid, best=self.best, train_state=state)
        self.trainer.emit("checkpoint", path=str(path), step=self.step)
