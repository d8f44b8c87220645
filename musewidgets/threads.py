"""How many CPU threads torch uses for our work: chosen on purpose, and the caller's setting given back afterwards.

Sampling a take is thousands of tiny matrix products (one token at a time, batch 1 to 64). Splitting such a product
over threads costs more in hand-over than it saves, and when another process keeps a core busy (the normal case on a
shared classroom JupyterHub) a thread team waits for its slowest member on every product: measured on the 2-core
reference machine, LSTM 8 bars of chorale with a busy neighbour process took 278 ms with 1 thread and 1,405 ms with
2 (``docs/benchmarks.md``). So sampling always runs on :data:`SAMPLING_THREADS` = 1 thread, whatever
``torch.set_num_threads`` the user or another library chose, and that choice is restored when sampling ends.

Training works on batches of thousands of tokens, where a second thread does pay off on an idle machine, but a
thread team still stalls when a core is taken. :func:`training_threads` uses half the cores this process may run on
(at least 1): on the 2-core machine that is 1, which is also what the benchmark training jobs use side by side.

``torch.set_num_threads`` is global to the process; OpenMP keeps a per-thread copy that each thread picks up when it
first runs a parallel operation. :func:`torch_threads` therefore sets and restores the count in the thread that does
the work (the Workbench samples in a background thread).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["SAMPLING_THREADS", "available_cores", "torch_threads", "training_threads"]

SAMPLING_THREADS = 1


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


def training_threads() -> int:
    """Threads for training on the CPU: half the available cores, at least 1 (see the module docstring)."""
    return max(1, available_cores() // 2)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; the previous count is restored afterwards, even on error.

    Parameters
    ----------
    n : int
        Threads for torch's intra-op pool, >= 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a whole number of threads >= 1, got {n!r}")
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
