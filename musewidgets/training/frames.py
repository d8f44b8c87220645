"""Training and evaluation of the frame models (``frame_bernoulli``, ``frame_notewise``) on a frame dataset.

::

    data = load_frame_dataset("JSB_Chorales.mat")
    trainer = FrameTrainer(TrainConfig(family="frame_notewise", minutes=25), data, "runs/", name="lstm_notewise")
    trainer.add_callback("validation", lambda e: print(e["step"], e["mean"]))
    trainer.fit()
    evaluate_frames(load_checkpoint("runs/lstm_notewise.pt").model, data.splits["test"])

The loop is :meth:`Trainer.loop` (events, time budget, step cap, validation, best/last checkpoints, Ctrl-C). The
data go round in epochs (:func:`~musewidgets.datasets.frames.window_batches`): every frame of every training piece
once per epoch, in windows of at most ``seq_len`` frames (and at most a quarter of a batch), packed by length into
batches of at most ``batch_frames`` frames, padding included. So a step costs about the same on any dataset,
whatever its size and the lengths of its pieces, and a budget in steps is a budget in frames. Each window is
transposed by a random number of keys that keeps its notes on the keyboard (``max_shift`` each way, told to the
model); the step minimises the mean NLL per frame. The learning rate warms up over 100 steps, then follows a cosine
from the full rate down to a tenth over the step cap (or the time budget, whichever comes first). Model selection
uses the valid split only; the test split is read by nobody but :func:`evaluate_frames` in the final report.

``config.seed`` fixes everything random (weights, dropout, batches, transpositions), so a run stopped by its step
cap gives the same checkpoint every time on the same machine and thread count (tested), and so does one resumed
from its ``last`` checkpoint (which keeps both random states and the rest of the epoch). A run with a time budget
is not reproducible: it stops at a step that depends on the machine's speed and load, and its learning rate follows
the share of the budget used.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from ..codecs import FrameCodec
from ..datasets.frames import FrameDataset, pad_frames, shift_range, window_batches
from ..models import build
from ..threads import torch_threads
from .seeding import seeded_torch
from .step import update
from .trainer import TrainConfig, Trainer

__all__ = ["FRAME_DEFAULTS", "FrameTrainer", "evaluate_frames"]

FRAME_DEFAULTS = {  # per family: learning rate, frames per batch (padding included)
    "frame_bernoulli": {"lr": 2e-3, "batch_frames": 1024},
    "frame_notewise": {"lr": 2e-3, "batch_frames": 1024},
}


@torch.no_grad()
def evaluate_frames(model, pieces: list[np.ndarray], *, device="cpu", batch_size: int = 32, shifts: int = 0) -> float:
    """Mean NLL per frame in nats: ``-log p(frame_t | frames < t)`` averaged over every frame of ``pieces``.

    The first frame of each piece counts too (predicted from nothing), so this is the whole-piece likelihood
    divided by the number of frames. Pieces are scored whole, untransposed; with ``shifts`` > 0, by the mixture of
    the model reading them transposed by ``-shifts..shifts`` keys (``FrameModel.mixture_log_prob``).
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))  # similar lengths share a batch
    for i in range(0, len(order), batch_size):
        x, mask = pad_frames([pieces[j] for j in order[i : i + batch_size]])
        x, mask = torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)
        nll = -model.mixture_log_prob(x, mask, shifts) if shifts else model(x, mask)[0]
        total += float(nll[mask].double().sum())
        count += int(mask.sum())
    model.train(was_training)
    return total / max(count, 1)


class FrameTrainer(Trainer):
    """Trains one frame family on a :class:`~musewidgets.datasets.frames.FrameDataset`; checkpoints are ``<name>.pt``.

    ``batch_frames`` (default per family, :data:`FRAME_DEFAULTS`) is the size of a batch in frames, padding included;
    ``config.batch_size``, when set, also caps the windows in a batch. :attr:`frames_seen` counts the training frames
    the run has learned from (padding excluded).
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: FrameDataset,
        out_dir: str | Path,
        *,
        name: str | None = None,
        command: str = "",
        resume: bool = False,
        batch_frames: int | None = None,
    ):
        if config.family not in FRAME_DEFAULTS:
            raise ValueError(f"`config.family` must be one of {', '.join(FRAME_DEFAULTS)}, got {config.family!r}")
        super().__init__(config, out_dir, command=command, resume=resume)
        self.dataset = dataset
        self.name = name or config.family  # checkpoints: <name>.pt and <name>.last.pt
        self.batch_frames = batch_frames or FRAME_DEFAULTS[config.family]["batch_frames"]
        if self.batch_frames < 1:
            raise ValueError(f"`batch_frames` must be >= 1, got {self.batch_frames}")
        self.frames_seen = 0

    def fit(self) -> dict:
        """Train until the budget, the step cap, early stopping, :meth:`stop` or Ctrl-C; return a summary.

        ``config.seed`` fixes the data order and transpositions (a numpy Generator). Weight initialisation and dropout
        draw from torch's default generator, seeded with ``config.seed`` inside a forked random state, so the caller's
        state is left as it was. Stopped by its step cap, a run is reproducible on the same machine and thread count;
        under a wall-clock budget it is not (it stops at a different step).
        """
        device = self._device()
        with seeded_torch(self.config.seed, device), torch_threads(self.threads()):
            return self._fit(device)

    def _fit(self, device: torch.device) -> dict:
        cfg, data = self.config, self.dataset
        lr = cfg.lr or FRAME_DEFAULTS[cfg.family]["lr"]
        model = build(cfg.family, {**cfg.model, "n_keys": data.n_keys}).to(device)
        codec = FrameCodec(n_keys=data.n_keys, low_pitch=data.low_pitch)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        rng = np.random.default_rng(cfg.seed)
        start = self.restore(model, opt, rng)
        self.frames_seen = start.extra["frames"] if "frames" in start.extra else self._frames_before(start.step)
        train = data.splits["train"]
        limit = model.config.max_shift if cfg.augment else 0
        shifts = [shift_range(p, limit) for p in train]
        lengths = [len(p) for p in train]
        window = max(1, min(cfg.seq_len, self.batch_frames // 4))  # at least 4 windows fit a batch

        def epoch() -> list:
            return window_batches(
                lengths, rng, batch_frames=self.batch_frames, window=window, max_windows=cfg.batch_size
            )

        if "batches" in start.extra:  # the rest of the epoch the run was in, and the length of its first
            batches = [[tuple(span) for span in spans] for spans in start.extra["batches"]]
            epoch_steps = start.extra["epoch_steps"]
        else:
            batches = epoch()
            epoch_steps = len(batches)
        t0 = time.perf_counter() - start.seconds
        model.train()

        def progress(step: int) -> float:  # fraction of the budget used
            by_time = (time.perf_counter() - t0) / (cfg.minutes * 60)
            return min(1.0, max(by_time, step / cfg.max_steps if cfg.max_steps else 0.0))

        def train_step(step: int) -> dict:
            nonlocal batches
            if not batches:
                batches = epoch()
            spans = batches.pop()
            pieces = [train[i][a:b] for i, a, b in spans]
            shift = [int(rng.integers(shifts[i][0], shifts[i][1] + 1)) for i, _, _ in spans]
            x, mask = pad_frames(pieces, shift)
            x, mask = torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)
            warm = min(1.0, (step + 1) / 100)
            for group in opt.param_groups:
                group["lr"] = lr * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * progress(step))))
            _, loss = model(x, mask, torch.tensor(shift, device=device))
            update(model, opt, loss, cfg.clip)
            frames = int(mask.sum())
            self.frames_seen += frames
            return {"loss": loss.item(), "tokens": frames, "frames": frames, "padded": mask.numel()}

        def where_in_epoch() -> dict:
            spans = [[[int(i), int(a), int(b)] for i, a, b in batch] for batch in batches]
            return {"batches": spans, "epoch_steps": epoch_steps, "frames": self.frames_seen}

        return self.loop(
            train_step=train_step,
            validate=lambda: {data.name: evaluate_frames(model, data.splits["valid"], device=device)},
            save=self.saver(model, codec, opt, params=model.n_params()),
            rng=rng,
            start=start,
            patience=cfg.patience,
            epoch_steps=epoch_steps,
            extra=where_in_epoch,
        )

    def _frames_before(self, step: int) -> int:
        """The frames learned from before ``step``, by a ``last`` file from before the run's state was kept (0 for a
        fresh run)."""
        from ..checkpoints import load_checkpoint

        return int(load_checkpoint(self.last_path).meta.get("frames", 0)) if step else 0

    def _meta(self, *, steps: int, **extra) -> dict:
        """A frame checkpoint's meta: the name, the train config, the command, the machine, the dataset, then the
        steps, the frames learned from, the batch size in frames, the threads and ``extra``."""
        data = self.dataset
        return {
            "name": self.name,
            "train_config": self.config.to_dict(),
            "command": self.command,
            "machine": self._machine(),
            "dataset": {
                "name": data.name,
                "file": Path(data.source).name,
                **{s: [len(p), data.n_frames(s)] for s, p in data.splits.items()},
            },
            "steps": steps,
            "frames": self.frames_seen,
            "batch_frames": self.batch_frames,
            "threads": torch.get_num_threads(),
            **extra,
        }
