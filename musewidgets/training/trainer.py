"""Training: a loop that emits events and prints nothing, with validation, early stopping and safe checkpoints.

::

    trainer = Trainer(TrainConfig(family="lstm", styles=("chorale",), minutes=1), out_dir="runs/")
    trainer.add_callback("batch_end", lambda e: print(e["step"], e["loss"]))
    result = trainer.fit()

Events (each callback gets one dict): ``batch_end`` (step, loss, tokens_per_s, seconds), ``validation`` (step,
nll per style, mean, best, improved), ``epoch_end`` (epoch, step), ``checkpoint`` (path), ``end`` (reason,
best, steps, seconds). The CLI subscribes a tqdm bar and a log; a notebook a progress bar and a live plot.

Each family brings a task (``run()``) that builds its model, draws its batches and hands ``Trainer.loop`` (one
run of it: :mod:`~musewidgets.training.loop`) a ``train_step``, a ``validate`` and a ``save`` (:meth:`Trainer.saver`,
the same for every family): next tokens for the rnn, lstm and transformer
(:mod:`~musewidgets.training.sequence`), WGAN-GP on bars for the GAN (:mod:`~musewidgets.training.gan`), hidden
cells for the infill model (:mod:`~musewidgets.training.infill`), labelled stretches for the style classifier
(:mod:`~musewidgets.training.classifier`). The benchmarks' frame models have a Trainer of their own
(:class:`~musewidgets.training.frames.FrameTrainer`) on the same loop. ``init`` starts from another checkpoint's
weights (:mod:`~musewidgets.training.warm_start`), for example to teach a shipped model key and ending control.

``seed`` fixes everything random: the batches and their augmentation come from a ``numpy.random.Generator``, and what
takes no generator (weight initialisation, dropout, the GAN's noise) from torch's default generator seeded with
``seed`` inside a forked random state (:func:`~musewidgets.training.seeding.seeded_torch`), so the caller's random
state is left as it was.

Checkpoints are written atomically; ``best`` is kept whenever validation improves and ``last`` at every validation,
with the optimizer and where the run stands (both random states, the best score, the validations since it), so
Ctrl-C, a SIGKILL or a power cut loses at most one interval. ``resume=True`` continues from ``last`` as if the run
had never stopped: stopped by its step cap, a resumed run ends with the same weights, bit for bit, as one that ran
through, on the same machine and thread count (on a GPU, as far as its kernels are deterministic). A run stopped by
its time budget is not reproducible, resumed or not: where it stops depends on the machine's speed and load.

Under ``torchrun`` the rnn, lstm and transformer train with DistributedDataParallel
(:mod:`~musewidgets.training.distributed`): the same global batch and seed give the single-process loss curve up to
floating-point noise; process 0 alone prepares the token store, validates, saves, emits the events and decides when
to stop.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import platform
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import load_checkpoint, partial_path, save_checkpoint
from ..datasets import corpus as corpus_mod
from ..models import REGISTRY, build
from ..threads import available_cores, torch_threads, training_threads
from . import distributed
from .loop import Run, RunState
from .progress import subscribe_progress
from .seeding import seeded_torch, set_torch_rng_state
from .step import PRECISIONS, bf16_gpu, lr_factor, mixed_precision
from .warm_start import initialize

__all__ = [
    "DEFAULTS",
    "EVENTS",
    "PRECISIONS",
    "RunState",
    "TrainConfig",
    "Trainer",
    "initialize",
    "lr_factor",
    "mixed_precision",
    "seeded_torch",
    "subscribe_progress",
]

EVENTS = ("batch_end", "validation", "epoch_end", "checkpoint", "end")
# family -> "module:class" of its task in this package; imported when a run starts
TASKS = {
    "rnn": "sequence:SequenceTask",
    "lstm": "sequence:SequenceTask",
    "transformer": "sequence:SequenceTask",
    "gan": "gan:GANTask",
    "infill": "infill:InfillTask",
    "classifier": "classifier:ClassifierTask",
}
# windows per step: 16x the largest batch the shipped models trained with (100,000 tried to allocate 26 GB)
MAX_BATCH_SIZE = 1024
MAX_SEQ_LEN = 16_384  # tokens per training window: 64 bars of four voices at 16 steps a bar are 4,096
MAX_ENDING_BARS = 16  # longest count-down to a piece's end a run may ask for
DEFAULTS = {  # per family: learning rate, batch size
    "rnn": {"lr": 2e-3, "batch_size": 32},
    "lstm": {"lr": 2e-3, "batch_size": 32},
    "transformer": {"lr": 6e-4, "batch_size": 32},
    "gan": {"lr": 1e-4, "batch_size": 64},
}


@dataclass
class TrainConfig:
    """What to train and for how long.

    ``styles`` defaults to all four corpus styles. ``minutes`` is a wall-clock budget; ``max_steps`` an optional
    step cap. ``limit_pieces`` uses only the first pieces of each split (tests, quick looks).

    The fields come in three blocks: the run's, which every family reads as far as they apply (the gan has no
    ``weight_decay``, ``clip`` or ``patience``, the frame models no ``styles``), then what only the families that
    learn from token windows read (rnn, lstm, transformer and infill), then what only the rnn, lstm and transformer
    read. The other families ignore a block that is not theirs (:meth:`Trainer.check` refuses ``ending_bars``,
    ``anneal`` and ``data`` for them). Checkpoints and model cards keep it as one flat dict (:meth:`to_dict`).
    """

    # ---------------------------------------------------------------- the run: every family
    family: str = "lstm"
    styles: tuple[str, ...] = ("chorale", "folk", "irish", "renaissance")
    minutes: float = 10.0
    max_steps: int | None = None
    batch_size: int | None = None  # default per family (DEFAULTS)
    seq_len: int = 512  # tokens per training window
    lr: float | None = None  # default per family
    weight_decay: float = 0.01  # AdamW's (the gan's Adam has none)
    clip: float = 1.0  # gradient-norm clipping (not the gan)
    eval_every: int = 200  # steps between validations
    patience: int = 6  # validations without improvement before stopping (the gan never stops early)
    augment: bool = True  # random transposition within voice ranges
    seed: int = 0
    device: str = "auto"
    limit_pieces: int | None = None
    model: dict = field(default_factory=dict)  # overrides of the family's config

    # ---------------------------------------------------------------- rnn, lstm, transformer and infill
    init: str | None = None  # checkpoint to start from (same family); see Trainer
    end_share: float = 0.25  # share of training windows that end where their piece ends
    key_dropout: float = 0.2  # share of training windows whose key is hidden (index 0)

    # ---------------------------------------------------------------- rnn, lstm and transformer
    # bars before a piece's end over which the model is told how many bars are left (TokenCodec.ending_bars); the
    # shipped runs before 2026-12 used 4
    ending_bars: int = 4
    # with ``max_steps``, the learning rate falls along a cosine to a tenth of its peak at the step cap (see
    # :func:`~musewidgets.training.step.lr_factor`); else it stays at its peak after the warm-up (the shipped runs
    # before 2026-12)
    anneal: bool = False
    # your own music: a folder of MIDI/MusicXML/ABC files, or a token store made of one
    # (musewidgets.datasets.store); it becomes one style, named ``style_name`` (default: the folder's name), and
    # ``styles`` is not used. The store is kept in ``store`` (default: ``<out_dir>/store``), prepared once and reused.
    data: str | None = None
    style_name: str | None = None
    store: str | None = None
    voices: int | None = None  # keep pieces of this many voices (default: the most common count in the folder)
    # "bf16" computes the forward pass in bfloat16 on a GPU that has it (weights, optimizer and checkpoints stay
    # float32; a CPU is refused); "auto" and "fp32" in float32: at the shipped sizes bfloat16 was slower on an H200
    # (LSTM 281k against 305k tokens/s, transformer 550k against 641k; benchmarks/train_speed.py)
    precision: str = "auto"

    def to_dict(self) -> dict:
        """The flat dict that checkpoints and model cards keep as ``train_config`` (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# --------------------------------------------------------------------------- data


def _task_class(family: str):
    module, _, name = TASKS[family].partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def _style_info(corpora: dict[str, corpus_mod.Corpus]) -> dict:
    """Per style: parts (name, program, range), most common metre and median tempo, for samplers."""
    from collections import Counter

    info = {}
    for name, c in corpora.items():
        ranges = c.voice_ranges()
        first = c.pieces[0]
        metres = Counter(p.time_signature for p in c.pieces)
        common = [list(ts) for ts, count in metres.most_common() if count >= 0.05 * len(c.pieces)]
        info[name] = {
            "parts": [[p.name, p.program, list(r)] for p, r in zip(first.parts, ranges)],
            "time_signature": common[0],
            "metres": common,  # every metre of at least 5% of the pieces, most common first: the user's choice
            "tempo": float(np.median([p.tempo for p in c.pieces])),
        }
    return info


# --------------------------------------------------------------------------- the trainer

_BEST_KEYS = ("best_valid_nll", "best_valid", "best_valid_error")  # the best score in each family's meta


class Trainer:
    """Trains one family on some styles, emitting events; see the module docstring."""

    def __init__(self, config: TrainConfig, out_dir: str | Path, *, command: str = "", resume: bool = False):
        self.config = config
        self.out_dir = Path(out_dir)
        self.command = command
        self.resume = resume
        self.callbacks: dict[str, list[Callable]] = defaultdict(list)
        self.stop_requested = False
        self.n_threads: int | None = None  # torch threads while training; None: chosen by threads()
        self.show_progress = True  # a progress bar while a ``data`` folder is prepared
        self.store_report = (
            None  # with ``data``: what preparing the folder found (musewidgets.datasets.store.StoreReport)
        )
        self._store = None  # with ``data``: the token store, once opened
        self.name = config.family  # checkpoints: <name>.pt (best) and <name>.last.pt (last)
        self.styles_info: dict = {}  # per style: parts, metres, tempo (for samplers); set when a run starts

    def add_callback(self, event: str, fn: Callable[[dict], None]) -> None:
        if event not in EVENTS:
            raise ValueError(f"`event` must be one of {EVENTS}, got {event!r}")
        self.callbacks[event].append(fn)

    def emit(self, event: str, **payload) -> None:
        """Call the callbacks of ``event``; under torchrun on process 0 only (its progress is everyone's)."""
        ctx = self._dist()
        if ctx is not None and not ctx.is_main:
            return
        for fn in self.callbacks[event]:
            fn(payload)

    def stop(self) -> None:
        """Ask the loop to stop after the current step (keeps the best checkpoint)."""
        self.stop_requested = True

    @property
    def best_path(self) -> Path:
        return self.out_dir / f"{self.name}.pt"

    @property
    def last_path(self) -> Path:
        return self.out_dir / f"{self.name}.last.pt"

    def _dist(self) -> distributed.Context | None:
        """The process group of a run under torchrun, once joined (:func:`musewidgets.training.distributed.session`)."""
        return distributed.current() if distributed.launched() else None

    def _device(self) -> torch.device:
        """The device to train on; ``ValueError`` naming the problem for an unknown or unavailable one.

        Under torchrun a GPU run puts each process on the GPU of its ``LOCAL_RANK``."""
        name = self.config.device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        if distributed.launched() and str(name).startswith("cuda"):
            if str(name) != "cuda":
                raise ValueError(f"device {name!r}: under torchrun each process takes its LOCAL_RANK's GPU; use cuda")
            if not torch.cuda.is_available():
                raise ValueError(f"device {name!r}: this torch ({torch.__version__}) sees no CUDA GPU; use cpu or auto")
            rank, gpus = distributed.local_rank(), torch.cuda.device_count()
            if rank >= gpus:
                raise ValueError(
                    f"process {rank} on this machine has no GPU of its own ({gpus} here): start at most {gpus} "
                    "processes per machine (--nproc_per_node), or use --device cpu"
                )
            return torch.device("cuda", rank)
        if self.config.device == "auto":
            return torch.device(name)
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise ValueError(f"unknown device {name!r}; use cpu, cuda (or cuda:N) or auto") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: this torch ({torch.__version__}) sees no CUDA GPU; use cpu or auto")
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"device {name!r} is not supported; use cpu, cuda (or cuda:N) or auto")
        return device

    def fit(self) -> dict:
        """Train until the time budget, the step cap, early stopping, :meth:`stop` or Ctrl-C; return a summary.

        On the CPU, training runs on :meth:`threads` torch threads and gives the caller's count back afterwards.
        """
        self.check()
        with distributed.session(self._device()):  # under torchrun: the process group, for the whole run
            return self._fit()

    def _fit(self) -> dict:
        cfg = self.config
        task_class = _task_class(cfg.family)
        if cfg.data is not None:
            store = self.open_store()
            self.styles_info = {store.style: store.style_info}
            task = task_class(self, {}, store=store)
        else:
            for style in cfg.styles:
                corpus_mod.get_style(style)
            corpora = {s: corpus_mod.load_style(s, progress=False) for s in cfg.styles}
            self.styles_info = _style_info(corpora)
            task = task_class(self, corpora)
        with torch_threads(self.threads()), seeded_torch(cfg.seed, self._device()):
            return task.run()

    def check(self) -> None:
        """Refuse, with a ``ValueError`` naming it, a setting that cannot work (an unknown or unavailable device, a
        batch size out of range, an unknown style, model settings the family does not take), before anything is
        loaded; :meth:`fit` calls it first."""
        self._device()
        size = self.config.batch_size
        if size is not None and not 1 <= size <= MAX_BATCH_SIZE:
            raise ValueError(f"`batch_size` must be from 1 to {MAX_BATCH_SIZE}, got {size}")
        if not 2 <= self.config.seq_len <= MAX_SEQ_LEN:  # 99,999,999,999 once asked numpy for 23 TiB
            raise ValueError(f"`seq_len` must be from 2 to {MAX_SEQ_LEN:,} tokens, got {self.config.seq_len:,}")
        if self.config.precision not in PRECISIONS:
            raise ValueError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {self.config.precision!r}")
        if self.config.precision == "bf16" and not bf16_gpu(self._device()):
            raise ValueError("`precision` bf16 needs a GPU with bfloat16; use auto or fp32 here")
        ending_bars, family = self.config.ending_bars, self.config.family
        if not 1 <= ending_bars <= MAX_ENDING_BARS:
            raise ValueError(f"`ending_bars` must be from 1 to {MAX_ENDING_BARS}, got {ending_bars}")
        if ending_bars != TrainConfig.ending_bars and family not in distributed.SEQUENCE_FAMILIES:
            raise ValueError(f"`ending_bars` is for rnn, lstm and transformer runs, not the {family}")
        if self.config.anneal:
            if self.config.family not in distributed.SEQUENCE_FAMILIES:
                raise ValueError(f"`anneal` is for rnn, lstm and transformer runs, not the {self.config.family}")
            if not self.config.max_steps:
                raise ValueError("`anneal` lowers the learning rate towards the step cap: give `max_steps` too")
        if distributed.launched():
            family, world = self.config.family, int(os.environ["WORLD_SIZE"])
            if family not in distributed.SEQUENCE_FAMILIES:
                raise ValueError(f"under torchrun rnn, lstm and transformer train; train the {family} with one process")
            if (size or DEFAULTS[family]["batch_size"]) < world:
                size = size or DEFAULTS[family]["batch_size"]
                raise ValueError(f"`batch_size` {size} is less than the {world} processes: each needs a row of it")
        if self.config.data is not None:
            self._check_data()
        else:
            for style in self.config.styles:
                corpus_mod.get_style(style)  # UnknownStyleError lists the known ones
        overrides = dict(self.config.model)
        if overrides and self.config.family in REGISTRY:  # a misspelt or impossible size, before any data is read
            try:
                with torch.random.fork_rng(devices=[]):  # building draws initial weights: not from the caller's state
                    build(self.config.family, overrides)
            except (TypeError, ValueError, RuntimeError) as err:
                shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
                raise ValueError(f"model settings ({shown}) do not make a {self.config.family}: {err}") from None

    def _check_data(self) -> None:
        """``data`` must be a folder (or a token store), for a family that learns next tokens."""
        from ..datasets.store import StoreError, is_store, style_name_for

        cfg = self.config
        if cfg.family not in ("rnn", "lstm", "transformer"):
            raise ValueError(f"`data` (your own music) trains rnn, lstm or transformer models, not {cfg.family}")
        if cfg.init:
            raise ValueError("`data` and `init` together are not supported yet: train your own music from scratch")
        path = Path(cfg.data)
        if not path.is_dir():
            raise StoreError(f"{path}: no such folder" if not path.exists() else f"{path}: is a file, not a folder")
        if cfg.voices is not None and not 1 <= cfg.voices <= 4:
            raise ValueError(f"`voices` must be 1 to 4, got {cfg.voices}")
        if not is_store(path):
            style_name_for(path, cfg.style_name)

    @property
    def store_path(self) -> Path:
        """Where the token store of ``config.data`` is kept: ``config.store``, else ``<out_dir>/store``."""
        return Path(self.config.store) if self.config.store else self.out_dir / "store"

    def open_store(self, *, progress: bool | None = None):
        """The :class:`~musewidgets.datasets.store.TokenStore` of ``config.data``: prepared (in parallel, with a
        progress bar unless ``progress=False``), resumed or reused; the report is kept in :attr:`store_report`."""
        from ..datasets.preparation import prepare
        from ..datasets.store import StoreError, TokenStore, is_store

        cfg = self.config
        if self._store is not None:
            return self._store
        if is_store(cfg.data):
            store = TokenStore(cfg.data)
        else:
            ctx = self._dist()
            show = (self.show_progress if progress is None else progress) and (ctx is None or ctx.is_main)

            def make():
                return prepare(cfg.data, self.store_path, style_name=cfg.style_name, voices=cfg.voices, progress=show)

            # under torchrun process 0 prepares the store, the others wait, then all open it read-only
            report = make() if ctx is None else ctx.on_main(make)
            try:
                store = TokenStore(self.store_path)
            except StoreError:
                if ctx is None or ctx.is_main:
                    raise
                raise StoreError(
                    f"{self.store_path}: process {ctx.rank} does not see the token store process 0 prepared; put --out "
                    "on a folder every machine shares, or give each machine a prepared store as --data"
                ) from None
            store.report = report  # this run's (seconds, reused) rather than the first preparation's
        self.store_report = store.report
        self._store = store
        return store

    def threads(self) -> int:
        """Torch threads for this run: :attr:`n_threads` if set, else on the CPU
        :func:`~musewidgets.threads.training_threads`, and on a GPU the caller's count."""
        if self.n_threads is not None:
            return self.n_threads
        if self._device().type != "cpu":
            return torch.get_num_threads()
        if distributed.launched():  # the machine's cores shared among the processes torchrun started on it
            return max(1, available_cores() // distributed.local_world_size())
        return training_threads()

    def loop(
        self,
        *,
        train_step: Callable[[int], dict],
        validate: Callable[[], dict],
        save: Callable[..., None],
        rng: np.random.Generator,
        start: RunState | None = None,
        patience: int | None = None,
        epoch_steps: int = 0,
        extra: Callable[[], dict] | None = None,
    ) -> dict:
        """The loop every family shares: budget, step cap, stop, Ctrl-C, validation, best/last checkpoints.

        ``train_step(step) -> dict`` runs one update and returns metrics for ``batch_end`` (with ``tokens``, the
        items it learned from); ``validate() -> {style: score}`` (lower is better);
        ``save(path, step=, seconds=, valid=, best=, train_state=)`` writes a checkpoint: ``train_state`` is None
        for ``best``, and for ``last`` what a resume needs besides the weights and the optimizer (the state of
        ``rng``, the generator the task draws its batches from, and of torch's generators; the best score and the
        validations since it; the last step's metrics; ``extra()``, the task's own). ``start`` is where the run
        stands (:meth:`restore`); ``patience`` validations without improvement stop early (None: never).
        """
        ctx = self._dist()  # under torchrun: process 0 validates, saves and decides when to stop, for all
        run = Run(self, save=save, rng=rng, start=start or RunState(), device=self._device(), ctx=ctx, extra=extra)
        for path in (self.best_path, self.last_path) if run.main else ():  # what a save killed midway left behind
            partial_path(path).unlink(missing_ok=True)
        if ctx is not None:
            validate = functools.partial(ctx.on_main, validate)
        try:
            reason = run.until_stopped(train_step, validate, patience, epoch_steps)
        except KeyboardInterrupt:
            if ctx is not None:  # the other processes may be anywhere: no more collectives; `last` is kept
                raise
            reason = "interrupted"
        run.finish(validate)
        summary = {
            "reason": reason,
            "best": run.best,
            "steps": run.step,
            "seconds": round(run.seconds(), 1),
            "path": str(self.best_path),
        }
        self.emit("end", **summary)
        return summary

    def saver(self, model, codec, optimizer, *, scores=("valid_nll", "best_valid_nll"), **fields) -> Callable:
        """The ``save`` of :meth:`loop` for a task: a checkpoint of ``model`` with ``codec`` and :attr:`styles_info`
        whose meta (:meth:`_meta`) holds the steps, the training seconds, the validation scores and the best one
        (named ``scores``), then ``fields`` in their order; ``last`` also holds the state of ``optimizer`` (an
        optimizer, or a dict of them by name) and of the run (``train_state``)."""

        def save(path, *, step, seconds, valid, best, train_state):
            meta = self._meta(steps=step, train_seconds=seconds, **dict(zip(scores, (valid, best))), **fields)
            state = None  # only the resume file carries the optimizers'
            if train_state is not None:
                named = isinstance(optimizer, dict)
                state = {k: o.state_dict() for k, o in optimizer.items()} if named else optimizer.state_dict()
            save_checkpoint(path, model, codec, self.styles_info, meta, optimizer=state, train_state=train_state)

        return save

    def restore(self, model, opt, rng: np.random.Generator) -> RunState:
        """With ``resume=True`` and a ``last`` checkpoint: put the run back where that checkpoint left it.

        Loads the weights into ``model``, the optimizer state into ``opt`` (an optimizer, or a dict of them by
        name), the state of ``rng`` (the task's data generator) and of torch's generators (so call it inside
        :func:`seeded_torch`, as :meth:`fit` does), and returns where the run stood. A ``last`` file from before
        the random states were kept restarts ``rng`` from ``seed + step``: the run goes on, but not as it would
        have. Without a checkpoint to resume, nothing changes and a fresh start's :class:`RunState` comes back.
        """
        if not (self.resume and self.last_path.exists()):
            return RunState()
        ck = load_checkpoint(self.last_path)
        try:
            model.load_state_dict(ck.model.state_dict())
        except RuntimeError:
            from ..errors import CheckpointError

            sizes = ck.meta.get("train_config", {}).get("model")
            raise CheckpointError(
                f"{self.last_path}: was trained with other model sizes ({sizes}); resume with the same --set "
                "options, or train into a new --out"
            ) from None
        if ck.optimizer:
            for name, o in opt.items() if isinstance(opt, dict) else [(None, opt)]:
                o.load_state_dict(ck.optimizer if name is None else ck.optimizer[name])
        meta, state = ck.meta, ck.train_state or {}
        step = int(meta.get("steps", 0))
        if "numpy_rng" in state:
            rng.bit_generator.state = json.loads(state["numpy_rng"])
            set_torch_rng_state(state["torch_rng"], self._device())
        else:
            rng.bit_generator.state = np.random.default_rng(self.config.seed + step).bit_generator.state
        return RunState(
            step=step,
            best=state.get("best", next((meta[k] for k in _BEST_KEYS if k in meta), math.inf)),
            seconds=meta.get("train_seconds", 0.0),
            bad=state.get("bad", 0),
            extra=state.get("extra", {}),
        )

    def _machine(self) -> str:
        device = self._device()
        gpu = f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""
        cores = f"{os.cpu_count()} CPU cores"
        return f"{platform.machine()} {platform.system()}, {cores}, torch {torch.__version__}, {device}{gpu}"

    def _meta(self, **extra) -> dict:
        """A checkpoint's meta: the train config, the command, the machine, the data, then ``extra``."""
        data = {
            s: "music21 corpus, split by musewidgets.datasets.corpus.split_of (80/10/10)" for s in self.config.styles
        }
        if self.config.data is not None and self.store_report is not None:
            r = self.store_report
            data = {
                r.style: f"{r.used} of {r.files} files of {r.folder} ({r.voices} voice{'s' * (r.voices != 1)}), "
                "split by file by musewidgets.datasets.corpus.split_of (80/10/10)"
            }
            keys = ("folder", "style", "voices", "files", "used", "skipped", "splits", "tokens")
            extra = {"store": {"path": r.store, **{k: getattr(r, k) for k in keys}}, **extra}
        return {
            "train_config": self.config.to_dict(),
            "command": self.command,
            "machine": self._machine(),
            "data": data,
            **extra,
        }
