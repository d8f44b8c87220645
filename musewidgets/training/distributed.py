"""Training on several processes or machines: ``torchrun ... -m musewidgets train ...`` with DistributedDataParallel.

::

    torchrun --standalone --nproc_per_node 2 -m musewidgets train --model lstm --data my-tunes/ --out runs/mine
    # two machines (run on each, with its own --node_rank; the endpoint is a host:port both can reach):
    torchrun --nnodes 2 --nproc_per_node 1 --node_rank 0 --rdzv_backend c10d --rdzv_endpoint host0:29400 \\
        -m musewidgets train ...

A process started by torchrun (``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in its environment) joins a process group
(gloo on the CPU, NCCL on GPUs, each process on the GPU of its ``LOCAL_RANK``) for the length of the training
(:func:`session`); outside torchrun nothing here runs and training is exactly what it was.

How the work is shared (:class:`musewidgets.training.SequenceTask`): every process draws the same global batch from
the same seeded generator and keeps its rows ``rank::world``; each process's loss is the sum of its tokens' NLL over
the global batch's token count (times the world size, which DDP's gradient average divides out), so the averaged
gradient is the single-process gradient of the same global batch, and the loss curve is the single-process one up to
floating-point noise (with ``dropout=0``; dropout masks are drawn per process). From a token store a process reads
only its own rows' windows (:meth:`~musewidgets.datasets.store.StoreSplit.batch` with ``part``; the random draws of the
others' rows are cheap), never the whole store. Process 0 alone prepares the token store (the others wait),
validates (and sends the scores to the others, so that early stopping agrees), writes checkpoints and reports
progress; it also decides when to stop (time budget, :meth:`~musewidgets.training.Trainer.stop`), and every process
stops at the same step.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["Context", "current", "launched", "local_rank", "local_world_size", "session", "wrap"]

# waits at a collective (process 0 preparing a large folder, validating) end with an error after this long
TIMEOUT = timedelta(hours=2)
SEQUENCE_FAMILIES = ("rnn", "lstm", "transformer")


def launched() -> bool:
    """True in a process that torchrun started (``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` are set)."""
    return all(k in os.environ for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_world_size() -> int:
    """Processes torchrun started on this machine (1 outside torchrun)."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


@dataclass(frozen=True)
class Context:
    """This process's place in the process group: ``rank`` of ``world``; ``is_main`` for rank 0."""

    rank: int
    world: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def decide(self, value: Any) -> Any:
        """Process 0's ``value`` (any picklable object), on every process."""
        import torch.distributed as dist

        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def on_main(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on process 0 only and return its result on every process; if it raises there, the others
        raise a :class:`~musewidgets.errors.MusewidgetsError` with its message (rather than waiting forever)."""
        from ..errors import MusewidgetsError

        result, error = None, None
        if self.is_main:
            try:
                result = fn()
            except BaseException as err:  # noqa: BLE001 - told to the others, then raised again
                error = err
        told = self.decide(("error", str(error)) if error is not None else ("ok", result))
        if error is not None:
            raise error
        if told[0] == "error":
            raise MusewidgetsError(f"process 0 failed: {told[1]}")
        return told[1]

    def all_sum(self, values: list[float]) -> list[float]:
        """The element-wise sum of ``values`` over the processes (in float64, on the CPU or this process's GPU)."""
        import torch
        import torch.distributed as dist

        device = torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()


def current() -> Context | None:
    """The process group this process belongs to, or None (not under torchrun, or outside :func:`session`)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    return Context(dist.get_rank(), dist.get_world_size(), local_rank(), dist.get_backend())


@contextmanager
def session(device) -> Iterator[Context | None]:
    """Under torchrun, join the process group for the block (gloo for a CPU ``device``, NCCL for a GPU one) and
    leave it afterwards; yields the :class:`Context`. Outside torchrun it yields None and does nothing. Nested
    sessions share the outer one's group."""
    if not launched():
        yield None
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        yield current()
        return
    if not dist.is_available():
        raise RuntimeError(f"this torch ({torch.__version__}) has no torch.distributed; train with one process")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=TIMEOUT)
    try:
        yield current()
        # free the DistributedDataParallel wrapper (in a reference cycle of the task's closures) and its pending
        # gloo work now: left to interpreter shutdown, their tensors were freed after Python had gone and the
        # process aborted now and then ("terminate called without an active exception"); then leave together
        gc.collect()
        dist.barrier()
    finally:
        dist.destroy_process_group()


def wrap(model, device):
    """``model`` in :class:`torch.nn.parallel.DistributedDataParallel` (its weights: process 0's, broadcast)."""
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index], output_device=device.index)
    return DistributedDataParallel(model)
