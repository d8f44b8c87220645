"""The polyphonic-music likelihood benchmark (JSB Chorales and the datasets in its format), beside the literature.

``musewidgets bench jsb --data JSB_Chorales.mat`` evaluates the shipped benchmark checkpoints; ``--train`` trains
them again from scratch. The metric is the field's: the NLL of each frame given the frames before it, summed over
the keys, averaged over every frame of the split, in nats (see :func:`~musewidgets.frame_training.evaluate_frames`).

::

    data = load_frame_dataset(find_jsb())
    for row in evaluate(data):
        print(row["name"], row["test_nll"])
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError, MusicFileError

__all__ = [
    "BENCH_DIR",
    "MODELS",
    "PUBLISHED",
    "BenchModel",
    "evaluate",
    "find_jsb",
    "report",
    "train",
    "write_cards",
]

BENCH_DIR = Path(__file__).parent / "data" / "bench" / "jsb"

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
    """One benchmark model: its family, config and training budget (minutes on the machine at hand)."""

    name: str
    family: str
    minutes: float
    config: dict = field(default_factory=dict)
    summary: str = ""


MODELS = {
    m.name: m
    for m in (
        BenchModel(
            "lstm_bernoulli",
            "frame_bernoulli",
            12.0,
            {"hidden": 256, "layers": 2, "dropout": 0.3},
            "2-layer LSTM over frames, an independent sigmoid per key (the classic setup)",
        ),
        BenchModel(
            "lstm_notewise",
            "frame_notewise",
            28.0,
            {"hidden": 256, "layers": 2, "dropout": 0.3, "local": 18, "local_frames": 8, "local_channels": 32},
            "2-layer LSTM over frames; within a frame, notes from the lowest up, each a softmax over higher keys "
            "and END (exact, normalized), with key-relative filters over the last frames",
        ),
    )
}


def find_jsb() -> Path | None:
    """Where JSB_Chorales.mat is: ``$MUSEWIDGETS_JSB``, else ``shared/data/jsb`` beside the project; None if absent."""
    if os.environ.get("MUSEWIDGETS_JSB"):
        return Path(os.environ["MUSEWIDGETS_JSB"])
    root = Path(__file__).resolve().parents[1]
    for candidate in (root.parent / "shared", root / "shared"):
        path = candidate / "data" / "jsb" / "JSB_Chorales.mat"
        if path.is_file():
            return path
    return None


def _checkpoints(folder: str | Path) -> dict:
    from .checkpoints import load_checkpoint

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


def evaluate(dataset, folder: str | Path = BENCH_DIR, *, splits=("test", "valid")) -> list[dict]:
    """Per checkpoint in ``folder``: ``{"name", "family", "params", "<split>_nll", ...}`` on ``dataset``.

    Raises
    ------
    MusicFileError
        If the dataset's keyboard differs from the one a checkpoint was trained on.
    """
    import torch

    from .frame_training import evaluate_frames

    rows = []
    with torch.inference_mode():
        for name, ck in _checkpoints(folder).items():
            if ck.model.config.n_keys != dataset.n_keys:
                raise MusicFileError(
                    f"{dataset.name}: {dataset.n_keys} keys per frame, "
                    f"but {name} was trained on {ck.model.config.n_keys}"
                )
            row = {"name": name, "family": ck.family, "params": ck.model.n_params()}
            for split in splits:
                row[f"{split}_nll"] = evaluate_frames(ck.model, dataset.splits[split])
            rows.append(row)
    return rows


def report(path: str | Path | None = None, folder: str | Path = BENCH_DIR) -> tuple[list[dict], str]:
    """Rows as :func:`evaluate` gives them, and where they come from.

    Evaluated on ``path`` (default :func:`find_jsb`) when that file exists; otherwise read from the model cards in
    ``folder``, which the same evaluation wrote (so a notebook shows the same numbers on a machine without the data).
    """
    path = path or find_jsb()
    if path is not None and Path(path).is_file():
        from .frames import load_frame_dataset

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
    minutes: float | None = None,
    jobs: int = 1,
    command: str = "",
    progress: bool = True,
) -> list[dict]:
    """Train the benchmark models (all of :data:`MODELS` or ``names``) from scratch into ``out``; write cards.

    ``minutes`` replaces each model's own budget. With ``jobs > 1`` the models train side by side in separate
    processes, sharing the CPU cores between them. Returns each run's summary.
    """
    names = list(names or MODELS)
    for name in names:
        if name not in MODELS:
            raise ValueError(f"unknown benchmark model {name!r}; known: {', '.join(MODELS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    args = [(dataset.source, name, str(out), minutes, command, progress and jobs == 1, jobs) for name in names]
    if jobs > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            summaries = list(pool.map(_train_one, *zip(*args)))
    else:
        summaries = [_train_one(*a) for a in args]
    write_cards(out, dataset)
    return summaries


def _train_one(source, name, out, minutes, command, progress, jobs) -> dict:

    from .frame_training import FrameTrainer
    from .frames import load_frame_dataset
    from .training import TrainConfig, subscribe_progress

    model = MODELS[name]
    budget = minutes or model.minutes
    config = TrainConfig(
        family=model.family, styles=(), minutes=budget, eval_every=200, patience=None, model=model.config
    )
    trainer = FrameTrainer(config, load_frame_dataset(source), out, name=name, command=command)
    if jobs > 1:  # side by side: each job takes its share of the cores
        trainer.n_threads = max(1, (os.cpu_count() or 1) // jobs)
    if progress:
        subscribe_progress(trainer, desc=name)
    summary = trainer.fit()
    trainer.last_path.unlink(missing_ok=True)  # the resume file is not needed once the run is done
    return {"name": name, **summary}


def write_cards(folder: str | Path, dataset) -> dict:
    """Evaluate every checkpoint in ``folder`` on ``dataset`` and write ``<name>.json`` / ``<name>.md`` beside it."""
    folder = Path(folder)
    rows = {r["name"]: r for r in evaluate(dataset, folder)}
    cards = {}
    for name, ck in _checkpoints(folder).items():
        meta = ck.meta
        model = MODELS.get(name)
        card = {
            "name": name,
            "family": ck.family,
            "description": model.summary if model else "",
            "parameters": rows[name]["params"],
            "config": meta.get("train_config", {}).get("model", {}),
            "data": meta.get("dataset", {}),
            "command": meta.get("command", ""),
            "train_seconds": meta.get("train_seconds"),
            "steps": meta.get("steps"),
            "machine": meta.get("machine", ""),
            "valid_nll": round(rows[name]["valid_nll"], 4),
            "test_nll": round(rows[name]["test_nll"], 4),
            "evaluated": time.strftime("%Y-%m-%d"),
        }
        cards[name] = card
        (folder / f"{name}.json").write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
        (folder / f"{name}.md").write_text(_markdown(card, rows))
    return cards


def _markdown(card: dict, rows: dict) -> str:
    data = card["data"]
    is_jsb = str(data.get("name", "")).lower().startswith("jsb")
    splits = ", ".join(f"{s} {v[0]} pieces / {v[1]} frames" for s, v in data.items() if isinstance(v, list))
    lines = [
        f"# Model card: `{card['name']}` ({card['family']})",
        "",
        f"{card['description']}.",
        "",
        f"- **Parameters:** {card['parameters']:,}",
        f"- **Data:** {data.get('file', '?')} ({splits}); trained on train, selected on valid, test read once for "
        "this card; random transposition of up to 6 keys either way while training (the shift is an input)",
        f"- **Command:** `{card['command']}`",
        f"- **Training:** {card['steps']} steps in {card['train_seconds']} s on {card['machine']}",
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
    if is_jsb:  # the published figures are for JSB Chorales only
        lines += [f"| {name} | | {nll:.2f} | {source} |" for name, nll, source in PUBLISHED]
    return "\n".join(lines) + "\n"
