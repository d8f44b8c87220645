"""Training: a loop that emits events and prints nothing, with validation, early stopping and safe checkpoints.

::

    trainer = Trainer(TrainConfig(family="lstm", styles=("chorale",), minutes=1), out_dir="runs/")
    trainer.add_callback("batch_end", lambda e: print(e["step"], e["loss"]))
    result = trainer.fit()

Events (each callback gets one dict): ``batch_end`` (step, loss, tokens_per_s, seconds), ``validation`` (step,
nll per style, mean, best, improved), ``epoch_end`` (epoch, step), ``checkpoint`` (path), ``end`` (reason,
best, steps, seconds). The CLI subscribes a tqdm bar and a log; a notebook a progress bar and a live plot.

Each family brings a task (``run()``) that builds its model, draws its batches and hands ``Trainer.loop`` a
``train_step``, a ``validate`` and a ``save``: next tokens for the rnn, lstm and transformer
(:mod:`~musewidgets.training.sequence`), WGAN-GP on bars for the GAN (:mod:`~musewidgets.training.gan`), hidden
cells for the infill model (:mod:`~musewidgets.training.infill`), labelled stretches for the style classifier
(:mod:`~musewidgets.training.classifier`). The benchmarks' frame models have a Trainer of their own
(:class:`~musewidgets.training.frames.FrameTrainer`) on the same loop. ``init`` starts from another checkpoint's
weights (:func:`initialize`), for example to teach a shipped model key and ending control.

``seed`` fixes everything random: the batches and their augmentation come from a ``numpy.random.Generator``, and what
takes no generator (weight initialisation, dropout, the GAN's noise) from torch's default generator seeded with
``seed`` inside a forked random state (:func:`seeded_torch`), so the caller's random state is left as it was.

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
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import load_checkpoint, partial_path, resolve
from ..datasets import corpus as corpus_mod
from ..models import REGISTRY, build
from ..threads import available_cores, torch_threads, training_threads
from . import distributed

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
    """

    family: str = "lstm"
    styles: tuple[str, ...] = ("chorale", "folk", "irish", "renaissance")
    minutes: float = 10.0
    max_steps: int | None = None
    batch_size: int | None = None  # default per family (DEFAULTS)
    seq_len: int = 512  # tokens per training window
    lr: float | None = None  # default per family
    weight_decay: float = 0.01
    clip: float = 1.0  # gradient-norm clipping
    eval_every: int = 200  # steps between validations
    patience: int = 6  # validations without improvement before stopping
    augment: bool = True  # random transposition within voice ranges
    seed: int = 0
    device: str = "auto"
    limit_pieces: int | None = None
    model: dict = field(default_factory=dict)  # overrides of the family's config
    init: str | None = None  # checkpoint to start from (same family); see Trainer
    end_share: float = 0.25  # share of training windows that end where their piece ends
    key_dropout: float = 0.2  # share of training windows whose key is hidden (index 0)
    # rnn, lstm, transformer: bars before a piece's end over which the model is told how many bars are left
    # (TokenCodec.ending_bars); the shipped runs before 2026-12 used 4
    ending_bars: int = 4
    # rnn, lstm, transformer: with ``max_steps``, the learning rate falls along a cosine to a tenth of its peak at the
    # step cap (see :func:`lr_factor`); else it stays at its peak after the warm-up (the shipped runs before 2026-12)
    anneal: bool = False
    # your own music (rnn, lstm, transformer): a folder of MIDI/MusicXML/ABC files, or a token store made of one
    # (musewidgets.datasets.store); it becomes one style, named ``style_name`` (default: the folder's name), and
    # ``styles`` is not used. The store is kept in ``store`` (default: ``<out_dir>/store``), prepared once and reused.
    data: str | None = None
    style_name: str | None = None
    store: str | None = None
    voices: int | None = None  # keep pieces of this many voices (default: the most common count in the folder)
    # rnn, lstm, transformer: "bf16" computes the forward pass in bfloat16 on a GPU that has it (weights, optimizer
    # and checkpoints stay float32; a CPU is refused); "auto" and "fp32" in float32: at the shipped sizes bfloat16 was
    # slower on an H200 (LSTM 281k against 305k tokens/s, transformer 550k against 641k; benchmarks/train_speed.py)
    precision: str = "auto"


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


# --------------------------------------------------------------------------- the loop


def subscribe_progress(trainer: Trainer, *, desc: str, quiet: bool = False) -> None:
    """A tqdm bar and one log line per validation (what the CLI shows).

    The bar counts steps up to the step cap when there is one (as the notebook's monitor does), else seconds of the
    time budget; with neither (``minutes=inf``, no cap) it counts steps without an end.
    """
    from tqdm.auto import tqdm

    cfg = trainer.config
    by_seconds = cfg.max_steps is None and math.isfinite(cfg.minutes)
    total = round(cfg.minutes * 60) if by_seconds else cfg.max_steps
    bar = tqdm(total=total, unit="s" if by_seconds else "step", desc=desc, disable=quiet)

    def on_batch(e):
        value = round(e["seconds"]) if by_seconds else e["step"]
        bar.n = value if bar.total is None else min(bar.total, value)
        bar.set_postfix(step=e["step"], loss=f"{e['loss']:.3f}", refresh=False)
        bar.refresh()

    def on_validation(e):
        per_style = " ".join(f"{s}={v:.3f}" for s, v in e["nll"].items())
        bar.write(
            f"{desc} step {e['step']}: valid {per_style} (mean {e['mean']:.3f}{', best' if e['improved'] else ''})"
        )

    trainer.add_callback("batch_end", on_batch)
    trainer.add_callback("validation", on_validation)
    trainer.add_callback("end", lambda e: bar.close())


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's default generators (the CPU's, and ``device``'s if it is a GPU) seeded with
    ``seed``; the caller's random state is restored afterwards.

    For what draws from them and takes no generator argument: weight initialisation, dropout, Gumbel noise.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


def _torch_rng_state(device: torch.device) -> dict:
    """torch's default generators' states (uint8 tensors): the CPU's, and ``device``'s if it is a GPU."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_torch_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


_BEST_KEYS = ("best_valid_nll", "best_valid", "best_valid_error")  # the best score in each family's meta


@dataclass
class RunState:
    """Where a run stands when :meth:`Trainer.loop` starts: a fresh run's, or what :meth:`Trainer.restore` read."""

    step: int = 0  # optimizer steps taken
    best: float = math.inf  # best mean validation score so far (lower is better)
    seconds: float = 0.0  # training time so far
    bad: int = 0  # validations since the best one (early stopping)
    extra: dict = field(default_factory=dict)  # the task's own state (the frame trainer's place in its epoch)


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
        return self.out_dir / f"{self.config.family}.pt"

    @property
    def last_path(self) -> Path:
        return self.out_dir / f"{self.config.family}.last.pt"

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
        if self.config.precision not in PRECISIONS:
            raise ValueError(f"`precision` must be one of {', '.join(PRECISIONS)}, got {self.config.precision!r}")
        if self.config.precision == "bf16" and not _bf16_gpu(self._device()):
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
        cfg = self.config
        start = start or RunState()
        step, best, bad, elapsed = start.step, start.best, start.bad, start.seconds
        device = self._device()
        ctx = self._dist()  # under torchrun: process 0 validates, saves and decides when to stop, for all
        main = ctx is None or ctx.is_main
        metrics: dict = {}
        t0 = time.perf_counter()
        for path in (self.best_path, self.last_path) if main else ():  # what a save killed midway left behind
            partial_path(path).unlink(missing_ok=True)
        if ctx is not None:
            validate = functools.partial(ctx.on_main, validate)

        def seconds():
            return elapsed + time.perf_counter() - t0

        def checkpoint(path, valid, is_best):
            state = None
            if not is_best:
                state = {
                    "best": best,
                    "bad": bad,
                    "numpy_rng": json.dumps(rng.bit_generator.state),  # 128-bit integers: kept as text
                    "torch_rng": _torch_rng_state(device),
                    "metrics": dict(metrics),
                    "extra": extra() if extra else {},
                }
            if main:
                save(path, step=step, seconds=round(seconds(), 1), valid=valid, best=best, train_state=state)
            self.emit("checkpoint", path=str(path), step=step)

        reason = "time budget"
        try:
            while True:
                why = None
                if seconds() > cfg.minutes * 60:
                    why = "time budget"
                elif cfg.max_steps is not None and step >= cfg.max_steps:
                    why = "step cap"
                elif self.stop_requested:
                    why = "stopped"
                if ctx is not None:  # every process stops at the same step
                    why = ctx.decide(why)
                if why is not None:
                    reason = why
                    break
                tick = time.perf_counter()
                metrics = train_step(step)
                step += 1
                tokens = metrics.pop("tokens")
                self.emit(
                    "batch_end",
                    step=step,
                    tokens_per_s=tokens / (time.perf_counter() - tick),
                    seconds=seconds(),
                    **metrics,
                )
                if epoch_steps and step % epoch_steps == 0:
                    self.emit("epoch_end", epoch=step // epoch_steps, step=step)
                if step % cfg.eval_every == 0:
                    valid = validate()
                    mean = float(np.mean(list(valid.values())))
                    improved = mean < best
                    if improved:
                        best, bad = mean, 0
                        checkpoint(self.best_path, valid, True)
                    else:
                        bad += 1
                    checkpoint(self.last_path, valid, False)
                    self.emit("validation", step=step, nll=valid, mean=mean, best=best, improved=improved)
                    if patience is not None and bad >= patience:
                        reason = "early stopping"
                        break
        except KeyboardInterrupt:
            if ctx is not None:  # the other processes may be anywhere: no more collectives; `last` is kept
                raise
            reason = "interrupted"
        short = not self.best_path.exists() or best == math.inf
        if ctx is not None:
            short = ctx.decide(short)  # what process 0 sees on its disk
        if short:  # too short for a validation: keep what we have
            valid = validate()
            best = float(np.mean(list(valid.values())))
            checkpoint(self.best_path, valid, True)
        summary = {
            "reason": reason,
            "best": best,
            "steps": step,
            "seconds": round(seconds(), 1),
            "path": str(self.best_path),
        }
        self.emit("end", **summary)
        return summary

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
            _set_torch_rng_state(state["torch_rng"], self._device())
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
            "train_config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
            "command": self.command,
            "machine": self._machine(),
            "data": data,
            **extra,
        }


def initialize(model, path: str | os.PathLike) -> list[str]:
    """Load the weights of checkpoint ``path`` into ``model`` where the names and shapes match; return the names of
    the parameters the checkpoint lacks.

    Those (the key and ending embeddings of a model trained before them) keep their fresh random values. The
    bars-to-the-end table of a model that counts down over more bars than the checkpoint's (``ending_bars``) keeps
    the checkpoint's rows, and its new rows start as the checkpoint's row 0 ("further from the end", what those bars
    were to it), so the model begins where the checkpoint was; it counts among the returned names. Raises
    ``CheckpointError`` for another family or a weight of another shape.
    """
    from ..errors import CheckpointError

    ck = load_checkpoint(resolve(path))
    if ck.family != model.family:
        raise CheckpointError(f"{path}: holds a {ck.family} model; cannot start a {model.family} from it")
    own = model.state_dict()
    theirs = ck.model.state_dict()
    grown = _grown(own, theirs)
    for name in grown:
        value = theirs[name]
        theirs[name] = torch.cat([value, value[:1].expand(len(own[name]) - len(value), -1)])
    for name, value in theirs.items():
        if name not in own or own[name].shape != value.shape:
            raise CheckpointError(
                f"{path}: weight {name!r} does not fit this {model.family} (shape {tuple(value.shape)}); "
                "start from a checkpoint of the same sizes"
            )
    model.load_state_dict(theirs, strict=False)
    return grown + [name for name, _ in model.named_parameters() if name not in theirs]


def _grown(own: dict, theirs: dict) -> list[str]:
    """The bars-to-the-end tables of state dict ``own`` that have more rows than those of ``theirs``."""
    return [
        name
        for name, value in theirs.items()
        if name.endswith("to_end.weight")
        and name in own
        and own[name].shape[1:] == value.shape[1:]
        and len(own[name]) > len(value)
    ]


def lr_factor(step: int, max_steps: int | None = None, floor: float = 0.1) -> float:
    """The learning rate of step ``step`` (from 0) as a share of the peak: a linear warm-up over 100 steps, then,
    with a step cap ``max_steps``, a cosine down to ``floor`` at the cap (none without one)."""
    warm = min(1.0, (step + 1) / 100)
    if not max_steps:
        return warm
    return warm * ((1 + floor) / 2 + (1 - floor) / 2 * math.cos(math.pi * min(step / max_steps, 1.0)))


def init_record(path: str | os.PathLike) -> dict:
    """How the checkpoint a run starts from was made (command, steps, seconds, machine, and its own start), for
    the model card."""
    meta = load_checkpoint(resolve(path)).meta
    keys = ("command", "steps", "train_seconds", "machine", "init_from")
    return {"checkpoint": str(path), **{k: meta[k] for k in keys if k in meta}}


def fresh_names(model, path: str | os.PathLike) -> list[str]:
    """The names of ``model``'s parameters that checkpoint ``path`` lacks (what :func:`initialize` leaves fresh)."""
    theirs = load_checkpoint(resolve(path)).model.state_dict()
    return _grown(model.state_dict(), theirs) + [name for name, _ in model.named_parameters() if name not in theirs]


PRECISIONS = ("auto", "fp32", "bf16")


def _bf16_gpu(device) -> bool:
    device = torch.device(device)
    return device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def mixed_precision(device, precision: str = "auto"):
    """The context the forward pass of a training step runs in: bfloat16 autocast for ``precision="bf16"`` on a GPU
    that has it, else nothing (float32; see :class:`TrainConfig`). Weights, gradients and the optimizer stay
    float32; the loss is computed in float32 (autocast runs cross-entropy in float32)."""
    import contextlib

    if precision == "bf16" and _bf16_gpu(device):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
