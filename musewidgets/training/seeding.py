"""Seeded random state for training: torch's default generators seeded inside a forked random state, and their
states kept in a ``last`` checkpoint (so that a resumed run goes on as if it had never stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded_torch", "set_torch_rng_state", "torch_rng_state"]


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


def torch_rng_state(device: torch.device) -> dict:
    """torch's default generators' states (uint8 tensors): the CPU's, and ``device``'s if it is a GPU."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_torch_rng_state(state: dict, device: torch.device) -> None:
    """Put back the states :func:`torch_rng_state` kept (the GPU's only when ``device`` is a GPU)."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
