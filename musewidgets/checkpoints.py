"""Checkpoints: a model's config, weights, codec, styles and training record in one file that cannot run code.

A checkpoint is a ``torch.save`` of plain containers and tensors only, loaded with ``weights_only=True``: a file that
carries pickled code is refused before any of it runs. Files are written to a temporary name, flushed to disk and
renamed, so a save interrupted at any moment (Ctrl-C, SIGKILL, a power cut) leaves the previous checkpoint whole.

``version`` is the format's version: this musewidgets reads version :data:`VERSION` only and says, for another, whether
the file is newer (upgrade musewidgets) or older (train the model again).

Layout::

    {"format": "musewidgets.checkpoint", "version": 1,
     "family": "lstm", "config": {...}, "codec": {...},
     "styles": {"chorale": {"parts": [[name, program, [low, high]], ...], "time_signature": [4, 4],
                            "tempo": 80.0}, ...},
     "meta": {...training record, metrics...},
     "state_dict": {...},
     "optimizer": {...} (optional, for resuming),
     "train_state": {...} (optional, for resuming: random states, early-stopping count; see training.Trainer.loop)}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .codecs import codec_from_dict
from .errors import CheckpointError
from .models import REGISTRY, build, config_to_dict

__all__ = [
    "FORMAT",
    "SHIPPED_DIR",
    "VERSION",
    "Checkpoint",
    "load_checkpoint",
    "partial_path",
    "resolve",
    "save_checkpoint",
    "shipped",
]

FORMAT = "musewidgets.checkpoint"
VERSION = 1
SHIPPED_DIR = Path(__file__).parent / "data" / "models"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode), its codec, per-style defaults and the training record."""

    family: str
    model: torch.nn.Module
    codec: object
    styles: dict
    meta: dict = field(default_factory=dict)
    optimizer: dict | None = None
    path: Path | None = None
    train_state: dict | None = None  # where the run stood, in a ``last`` checkpoint (see training.Trainer.loop)


def save_checkpoint(
    path: str | os.PathLike,
    model,
    codec,
    styles: dict,
    meta: dict,
    optimizer: dict | None = None,
    train_state: dict | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint atomically: to :func:`partial_path`, flushed to disk, then renamed over ``path``.

    ``optimizer`` and ``train_state`` (plain containers, numbers, strings and tensors only) are what a resume needs.
    ``half=True`` stores the floating-point weights as float16, half the bytes; :func:`load_checkpoint` reads them
    into the model's float32 weights (for a finished model that is shipped, not for one that trains on).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "family": model.family,
        "config": config_to_dict(model),
        "codec": codec.to_dict(),
        "styles": styles,
        "meta": meta,
        "state_dict": {
            k: v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()
            for k, v in model.state_dict().items()
        },
    }
    if optimizer is not None:
        data["optimizer"] = optimizer
    if train_state is not None:
        data["train_state"] = train_state
    tmp = partial_path(path)
    try:
        torch.save(data, tmp)
        _fsync(tmp)  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(path.parent)  # and the rename itself
    return path


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary file :func:`save_checkpoint` writes before renaming it to ``path`` (a process killed while
    saving leaves it behind; it is never read)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a folder cannot be opened on some systems (Windows): the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint safely.

    Raises
    ------
    CheckpointError
        If the file is missing, damaged, not a musewidgets checkpoint, of an unknown family, or carries code.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(b"PK\x03\x04"):  # torch.save writes a zip archive
        kind = next((name for magic, name in _OTHER_FILES if head.startswith(magic)), "not a PyTorch checkpoint")
        raise CheckpointError(f"{path.name}: refused: {kind}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for code, RuntimeError/EOFError for damage
        text = str(err)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            reason = "it carries Python objects or code, which are never loaded"
        else:
            reason = f"the file is damaged or not a PyTorch checkpoint ({type(err).__name__})"
        raise CheckpointError(f"{path.name}: refused: {reason}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: not a musewidgets checkpoint")
    _check_version(path.name, data.get("version"))
    family = data.get("family")
    if family not in REGISTRY:
        raise CheckpointError(f"{path.name}: unknown model family {family!r}")
    for entry, kind in (("config", dict), ("state_dict", dict), ("codec", dict), ("styles", dict), ("meta", dict)):
        if not isinstance(data.get(entry, {} if entry == "meta" else None), kind):
            raise CheckpointError(f"{path.name}: its {entry!r} entry is not a {kind.__name__} (a damaged checkpoint)")
    try:
        model = build(family, data["config"])
        model.load_state_dict(data["state_dict"])
        codec = codec_from_dict(data["codec"])
        styles = dict(data["styles"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{path.name}: the checkpoint does not fit its model ({err})") from err
    bad = [
        name for name, value in data["state_dict"].items() if value.is_floating_point() and not value.isfinite().all()
    ]
    if bad:
        raise CheckpointError(f"{path.name}: weight {bad[0]!r} holds NaN or infinity: the training diverged")
    _check_styles(path.name, family, styles)
    model.eval()
    meta, optimizer, train_state = data.get("meta", {}), data.get("optimizer"), data.get("train_state")
    return Checkpoint(family, model, codec, styles, meta, optimizer, path, train_state)


def _check_version(name: str, version) -> None:
    """``CheckpointError`` saying what to do unless ``version`` is the format this musewidgets reads."""
    if type(version) is int and version == VERSION:
        return
    if type(version) is not int:
        raise CheckpointError(
            f"{name}: carries no valid checkpoint format version ({version!r}; this musewidgets reads format "
            f"{VERSION}); train the model again with `musewidgets train`"
        )
    if version > VERSION:
        raise CheckpointError(
            f"{name}: made by a newer musewidgets (checkpoint format {version}; this one reads format {VERSION}); "
            "upgrade musewidgets to load it"
        )
    raise CheckpointError(
        f"{name}: made in an older checkpoint format ({version}; this musewidgets reads format {VERSION}) and no "
        "converter exists; train the model again with `musewidgets train`"
    )


# What a file given as a checkpoint often is instead (its first bytes).
_OTHER_FILES = (
    (b"MThd", "it is a MIDI file, not a checkpoint"),
    (b"<?xml", "it is an XML (MusicXML?) file, not a checkpoint"),
    (b"%PDF", "it is a PDF, not a checkpoint"),
    (b"\x80", "it is a bare pickle, which could run code, not a musewidgets checkpoint"),
)


def _check_styles(name: str, family: str, styles: dict) -> None:
    """``CheckpointError`` unless every style entry of a generator has what the samplers read."""
    if family == "classifier":
        return
    for style, info in styles.items():
        try:
            parts = info["parts"]
            ok = isinstance(style, str) and len(parts) >= 1
            for part_name, program, rng in parts:
                ok &= isinstance(part_name, str) and 0 <= int(program) <= 127
                ok &= rng is None or (len(rng) == 2 and 0 <= int(rng[0]) <= int(rng[1]) <= 127)
            numerator, denominator = info["time_signature"]
            ok &= int(numerator) >= 1 and int(denominator) in (1, 2, 4, 8, 16, 32)
            ok &= 1 <= float(info["tempo"]) <= 1000  # quarter notes a minute, as a Piece's (inf overflowed later)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(f"{name}: the entry for style {style!r} is malformed (parts, time_signature, tempo)")


def shipped() -> dict[str, Path]:
    """The checkpoints that ship with the package, by name (``'lstm'``, ``'gan'`` ...)."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.pt"))}


def resolve(name_or_path: str | os.PathLike) -> Path:
    """Path of a shipped model name or of a checkpoint file; raises :class:`CheckpointError` if neither."""
    known = shipped()
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    path = Path(name_or_path)
    if path.suffix == ".pt" or path.exists():
        return path
    raise CheckpointError(
        f"unknown model {str(name_or_path)!r}; shipped models: {', '.join(known) or 'none'} (or give a .pt file)"
    )
