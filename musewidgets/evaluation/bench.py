"""The polyphonic-music likelihood benchmark (JSB Chorales and the datasets in its format), beside the literature.

``musewidgets bench jsb --data JSB_Chorales.mat`` evaluates the shipped benchmark checkpoints; ``--train`` trains
them again from scratch, each for its own number of optimizer steps (:attr:`BenchModel.steps`; a step is a batch of
about a thousand frames on any dataset), so the result does not depend on how fast or how busy the machine is: the
same seed and steps give the same checkpoint on the same machine and thread count. ``--minutes`` trains for
wall-clock time instead. Training runs on :func:`~musewidgets.threads.training_threads` torch threads (half the
cores, 1 on a 2-core machine), shared out between ``jobs``: a thread team waits for its slowest member, so when
another process keeps a core busy every step of a 2-thread run stalls, while a 1-thread run just shares the core.
``threads`` (``--threads``) overrides that count: the shipped ``lstm_notewise``, whose within-frame stage is most of
a step's work, was trained with ``--threads 2`` on the quiet 2-core machine (its card says so).

The metric is the field's: the NLL of each frame given the frames before it, summed over the keys, averaged over
every frame of the split, in nats (see :func:`~musewidgets.training.frames.evaluate_frames`).

::

    data = load_frame_dataset(find_jsb())
    for row in evaluate(data):
        print(row["name"], row["test_nll"])
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckpointError, MusicFileError
from ..threads import torch_threads, training_threads

__all__ = [
    "BENCH_DIR",
    "MIXTURE_SHIFTS",
    "MODELS",
    "PUBLISHED",
    "BenchModel",
    "evaluate",
    "find_jsb",
    "report",
    "train",
    "write_cards",
]

BENCH_DIR = Path(__file__).parents[1] / "data" / "bench" / "jsb"

# Test NLL per frame (nats) on JSB Chorales, as published.
PUBLISHED = [
    ("random", 61.0, "Boulanger-Lewandowski et al. 2012"),
    ("RNN", 8.71, "Boulanger-Lewandowski et al. 2012"),
    ("LSTM", 8.67, "Chung et al. 2014"),
    ("GRU", 8.54, "Chung et al. 2014"),
    ("TCN", 8.10, "Bai et al. 2018"),
    ("RNN-RBM", 6.27, "Boulanger-Lewandowski et al. 2012"),
    ("RNN-NADE", 5.56, "Boulanger-Lewandowski et al. 2012"),
]


@dataclass(frozen=True)
class BenchModel:
    """One benchmark model: its family, config and training budget in optimizer steps.

    A step is a batch of at most ``batch_frames`` frames, padding included; ``train`` holds any other
    :class:`~musewidgets.training.TrainConfig` fields (lr, weight_decay ...) for its runs.
    """

    name: str
    family: str
    steps: int
    config: dict = field(default_factory=dict)
    summary: str = ""
    train: dict = field(default_factory=dict)
    batch_frames: int = 1024


MODELS = {
    m.name: m
    for m in (
        BenchModel(
            "lstm_bernoulli",
            "frame_bernoulli",
            9800,
            {"hidden": 256, "layers": 2, "dropout": 0.3},
            "2-layer LSTM over frames, an independent sigmoid per key (the classic setup)",
        ),
        BenchModel(
            "lstm_notewise",
            "frame_notewise",
            6000,  # valid 4.75 / test 4.74 (best at step 5800), 29 min with --threads 2; benchmarks/jsb_sweep.py
            {
                "hidden": 256,
                "layers": 2,
                "dropout": 0.3,
                "local": 18,
                "local_frames": 8,
                "local_channels": 32,
                "d_note": 128,
                "note_hidden": 384,
            },
            "2-layer LSTM over frames; within a frame, notes from the lowest up, each a softmax over higher keys "
            "and END (exact, normalized), with key-relative filters over the last frames",
        ),
    )
}


# test-time mixture: each model also scored reading the pieces transposed by -3..3 keys, mixed (FrameModel.
# mixture_log_prob). Chosen on valid with lstm_notewise: 4.747 read once, 4.654 over -1..1, 4.633 over -2..2, 4.621
# over -3..3, 4.618 over -6..6, so 7 readings rather than 13
MIXTURE_SHIFTS = 3


def find_jsb() -> Path | None:
    """Where JSB_Chorales.mat is: ``$MUSEWIDGETS_JSB``, else ``shared/data/jsb`` beside the project; None if absent."""
    if os.environ.get("MUSEWIDGETS_JSB"):
        return Path(os.environ["MUSEWIDGETS_JSB"])
    root = Path(__file__).resolve().parents[2]  # the project folder
    for candidate in (root.parent / "shared", root / "shared"):
        path = candidate / "data" / "jsb" / "JSB_Chorales.mat"
        if path.is_file():
            return path
    return None


def _checkpoints(folder: str | Path) -> dict:
    from ..checkpoints import load_checkpoint

    folder = Path(folder)
    paths = sorted(p for p in folder.glob("*.pt") if not p.name.endswith(".last.pt"))
    if not paths:
        raise CheckpointError(f"{folder}: no benchmark checkpoints (*.pt) here")
    out = {}
    for path in paths:
        ck = load_checkpoint(path)
        if not ck.family.startswith("frame_"):
            raise CheckpointError(f"{path.name}: a {ck.family} checkpoint, not a frame model")
        out[path.stem] = ck
    return out


def evaluate(dataset, folder: str | Path = BENCH_DIR, *, splits=("test", "valid"), shifts: int = 0) -> list[dict]:
    """Per checkpoint in ``folder``: ``{"name", "family", "params", "<split>_nll", ...}`` on ``dataset``.

    ``shifts`` > 0 scores each model mixed over the pieces read ``-shifts..shifts`` keys transposed
    (:data:`MIXTURE_SHIFTS`; see :meth:`~musewidgets.models.frames.FrameModel.mixture_log_prob`).

    Raises
    ------
    MusicFileError
        If the dataset's keyboard differs from the one a checkpoint was trained on.
    """
    import torch

    from ..training.frames import evaluate_frames

    rows = []
    # half the cores, as for training: with another process busy, 2 threads took 34 s here and 1 thread 1.3 s
    with torch.inference_mode(), torch_threads(training_threads()):
        for name, ck in _checkpoints(folder).items():
            if ck.model.config.n_keys != dataset.n_keys:
                raise MusicFileError(
                    f"{dataset.name}: {dataset.n_keys} keys per frame, "
                    f"but {name} was trained on {ck.model.config.n_keys}"
                )
            row = {"name": name, "family": ck.family, "params": ck.model.n_params()}
            for split in splits:
                row[f"{split}_nll"] = evaluate_frames(ck.model, dataset.splits[split], shifts=shifts)
            rows.append(row)
    return rows


def report(path: str | Path | None = None, folder: str | Path = BENCH_DIR) -> tuple[list[dict], str]:
    """Rows as :func:`evaluate` gives them, and where they come from.

    Evaluated on ``path`` (default :func:`find_jsb`) when that file exists; otherwise read from the model cards in
    ``folder``, which the same evaluation wrote (so a notebook shows the same numbers on a machine without the data).
    """
    path = path or find_jsb()
    if path is not None and Path(path).is_file():
        from ..datasets.frames import load_frame_dataset

        return evaluate(load_frame_dataset(path), folder), f"evaluated now on {Path(path).name}"
    rows = []
    for card_path in sorted(Path(folder).glob("*.json")):
        card = json.loads(card_path.read_text())
        rows.append({k: card[k] for k in ("name", "family", "test_nll", "valid_nll")} | {"params": card["parameters"]})
    return rows, f"read from the model cards in {Path(folder).name}/ (no dataset file here)"


def train(
    dataset,
    out: str | Path,
    *,
    names=None,
    steps: int | None = None,
    minutes: float | None = None,
    jobs: int = 1,
    threads: int | None = None,
    command: str = "",
    progress: bool = True,
) -> list[dict]:
    """Train the benchmark models (all of :data:`MODELS` or ``names``) from scratch into ``out``; write cards.

    Each model trains for its own :attr:`BenchModel.steps` unless ``steps`` replaces them; ``minutes`` trains for
    wall-clock time instead (not reproducible: the steps it reaches depend on the machine and its load). With
    ``jobs > 1`` the models train side by side in separate processes, sharing the training threads between them.
    ``threads`` sets each job's torch threads instead (on a quiet machine, all its cores make a step faster).
    Returns each run's summary (``steps``, ``frames``, ``seconds``, ``frames_per_s``, ``threads``, ...).
    """
    names = list(names or MODELS)
    for name in names:
        if name not in MODELS:
            raise ValueError(f"unknown benchmark model {name!r}; known: {', '.join(MODELS)}")
    if steps is not None and minutes is not None:
        raise ValueError("give `steps` or `minutes`, not both")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"`threads` must be a whole number >= 1, got {threads!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    threads = threads or max(1, training_threads() // jobs)  # one thread per job on the 2-core machine (docstring)
    args = [
        (dataset.source, name, str(out), steps, minutes, command, progress and jobs == 1, threads) for name in names
    ]
    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            summaries = list(pool.map(_train_one, *zip(*args)))
    else:
        summaries = [_train_one(*a) for a in args]
    write_cards(out, dataset)
    return summaries


def _train_one(source, name, out, steps, minutes, command, progress, threads) -> dict:
    from ..datasets.frames import load_frame_dataset
    from ..training.frames import FrameTrainer

    model = MODELS[name]
    config = _train_config(model, steps=steps, minutes=minutes)
    trainer = FrameTrainer(
        config, load_frame_dataset(source), out, name=name, command=command, batch_frames=model.batch_frames
    )
    trainer.n_threads = threads
    if progress:
        _subscribe_progress(trainer, name)
    summary = trainer.fit()
    trainer.last_path.unlink(missing_ok=True)  # the resume file is not needed once the run is done
    _store_half(trainer.best_path)
    seconds = max(summary["seconds"], 1e-9)
    return {
        "name": name,
        **summary,
        "frames": trainer.frames_seen,
        "frames_per_s": round(trainer.frames_seen / seconds),
        "threads": threads,
    }


def _store_half(path: Path) -> None:
    # the finished checkpoint's weights in float16: half the bytes, and the NLL moves in the fifth decimal
    # (lstm_notewise valid 4.74713 -> 4.74716, lstm_bernoulli 8.02053 -> 8.02055)
    from ..checkpoints import load_checkpoint, save_checkpoint

    ck = load_checkpoint(path)
    save_checkpoint(path, ck.model, ck.codec, ck.styles, {**ck.meta, "weights": "float16"}, half=True)


def _train_config(model: BenchModel, *, steps: int | None = None, minutes: float | None = None):
    # model.steps (or steps) optimizer steps and no time limit; or minutes of wall-clock time and no step cap
    from ..training import TrainConfig

    budget = (
        {"minutes": minutes, "max_steps": None} if minutes else {"minutes": math.inf, "max_steps": steps or model.steps}
    )
    return TrainConfig(
        family=model.family, styles=(), eval_every=200, patience=None, model=model.config, **budget, **model.train
    )


def _subscribe_progress(trainer, desc: str) -> None:
    # a bar over the steps (or the seconds of a --minutes run) and a line per validation, on stderr
    from tqdm.auto import tqdm

    cfg = trainer.config
    by_steps = cfg.max_steps is not None
    bar = tqdm(
        total=cfg.max_steps if by_steps else round(cfg.minutes * 60), unit="step" if by_steps else "s", desc=desc
    )

    def on_batch(e):
        bar.n = e["step"] if by_steps else min(bar.total, round(e["seconds"]))
        bar.set_postfix(loss=f"{e['loss']:.3f}", frames=trainer.frames_seen, refresh=False)
        bar.refresh()

    def on_validation(e):
        bar.write(f"{desc} step {e['step']}: valid {e['mean']:.3f}{' (best)' if e['improved'] else ''}")

    trainer.add_callback("batch_end", on_batch)
    trainer.add_callback("validation", on_validation)
    trainer.add_callback("end", lambda e: bar.close())


def write_cards(folder: str | Path, dataset) -> dict:
    """Evaluate every checkpoint in ``folder`` on ``dataset`` and write ``<name>.json`` / ``<name>.md`` beside it."""
    folder = Path(folder)
    rows = {r["name"]: r for r in evaluate(dataset, folder)}
    mixed = {r["name"]: r for r in evaluate(dataset, folder, shifts=MIXTURE_SHIFTS)}
    cards = {}
    for name, ck in _checkpoints(folder).items():
        meta = ck.meta
        model = MODELS.get(name)
        card = {
            "name": name,
            "family": ck.family,
            "description": model.summary if model else "",
            "parameters": rows[name]["params"],
            "weights": meta.get("weights", "float32"),  # as stored in the file; the model computes in float32
            "config": meta.get("train_config", {}).get("model", {}),
            "data": meta.get("dataset", {}),
            "command": meta.get("command", ""),
            "train_seconds": meta.get("train_seconds"),
            "steps": meta.get("steps"),
            "frames": meta.get("frames"),  # training frames learned from (padding excluded)
            "batch_frames": meta.get("batch_frames"),
            "threads": meta.get("threads"),
            "frames_per_s": _per_second(meta.get("frames"), meta.get("train_seconds")),
            "machine": meta.get("machine", ""),
            "valid_nll": round(rows[name]["valid_nll"], 4),
            "test_nll": round(rows[name]["test_nll"], 4),
            "mixture_shifts": MIXTURE_SHIFTS,
            "valid_nll_mixture": round(mixed[name]["valid_nll"], 4),
            "test_nll_mixture": round(mixed[name]["test_nll"], 4),
            "evaluated": time.strftime("%Y-%m-%d"),
        }
        cards[name] = card
        (folder / f"{name}.json").write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
        (folder / f"{name}.md").write_text(_markdown(card, rows, mixed))
    return cards


def _per_second(frames, seconds) -> int | None:
    return round(frames / seconds) if frames and seconds else None


def _training(card: dict) -> str:
    # '5500 steps of up to 1024 frames (4.3M frames seen) in 1500 s, 2900 frames/s ... on 1 thread of <machine>';
    # cards from before the frame count: steps and time
    if not card.get("frames"):
        return f"{card['steps']} steps in {card['train_seconds']} s on {card['machine']}"
    threads = card.get("threads") or "?"
    return (
        f"{card['steps']} steps of up to {card['batch_frames']} frames ({card['frames'] / 1e6:.2f}M frames seen) in "
        f"{card['train_seconds']} s, {card['frames_per_s']} frames/s (validation included) on {threads} "
        f"thread{'s' if threads != 1 else ''} of {card['machine']}"
    )


def _markdown(card: dict, rows: dict, mixed: dict) -> str:
    data = card["data"]
    is_jsb = str(data.get("name", "")).lower().startswith("jsb")
    splits = ", ".join(f"{s} {v[0]} pieces / {v[1]} frames" for s, v in data.items() if isinstance(v, list))
    lines = [
        f"# Model card: `{card['name']}` ({card['family']})",
        "",
        f"{card['description']}.",
        "",
        f"- **Parameters:** {card['parameters']:,}, stored as {card.get('weights', 'float32')}",
        f"- **Data:** {data.get('file', '?')} ({splits}); trained on train, selected on valid, test read only for "
        "this card; random transposition of up to 6 keys either way while training (the shift is an input)",
        f"- **Command:** `{card['command']}`",
        f"- **Training:** {_training(card)}",
        f"- **Evaluated:** {card['evaluated']}",
        "",
        "NLL per frame (nats, summed over the keys, every frame of the split, the first included; lower is",
        "better)" + (", beside the published JSB Chorales test figures:" if is_jsb else ":"),
        "",
        "| model | valid | test | source |",
        "| --- | --- | --- | --- |",
    ]
    for name, row in rows.items():
        mark = " **(this)**" if name == card["name"] else ""
        lines.append(f"| {name}{mark} | {row['valid_nll']:.2f} | {row['test_nll']:.2f} | musewidgets |")
    for name, row in mixed.items():
        mark = " **(this)**" if name == card["name"] else ""
        lines.append(
            f"| {name}{mark}, mixed over {2 * MIXTURE_SHIFTS + 1} transpositions | {row['valid_nll']:.2f} | "
            f"{row['test_nll']:.2f} | musewidgets, test-time mixture |"
        )
    if is_jsb:  # the published figures are for JSB Chorales only
        lines += [f"| {name} | | {nll:.2f} | {source} |" for name, nll, source in PUBLISHED]
    lines += [
        "",
        f"The mixture reads each piece transposed by -{MIXTURE_SHIFTS}..{MIXTURE_SHIFTS} keys (the model told each "
        "shift, as in training) and gives each frame the mean of the probabilities; a transposition that pushes a "
        "frame's notes off the keyboard gives it 0. It is the same network, run "
        f"{2 * MIXTURE_SHIFTS + 1} times; the figures above it are one reading, as the published ones are.",
    ]
    return "\n".join(lines) + "\n"
