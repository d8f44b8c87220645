"""Starting a run from another checkpoint's weights (``TrainConfig.init``, ``musewidgets train --init``), for example
to teach a shipped model key and ending control: :func:`initialize` loads what fits, :func:`start_from` does it for a
task and gives the model card its lineage."""

from __future__ import annotations

import os

import torch

from ..checkpoints import load_checkpoint, resolve

__all__ = ["fresh_names", "init_record", "initialize", "start_from"]


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


def start_from(model, path: str | os.PathLike | None, resume: bool) -> tuple[dict, set[str]]:
    """With an ``init`` checkpoint ``path``: the lineage for the model card (``{"init_from": ...}``,
    :func:`init_record`) and the names of ``model``'s parameters the checkpoint lacks; its weights are loaded into
    ``model`` (:func:`initialize`) unless the run resumes (its ``last`` checkpoint has them). ``({}, set())``
    without one."""
    if not path:
        return {}, set()
    lineage = {"init_from": init_record(path)}
    return lineage, set(initialize(model, path) if not resume else fresh_names(model, path))
