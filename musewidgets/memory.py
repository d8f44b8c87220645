"""Memory a long session has freed, given back to the system.

When Python, numpy and torch free memory, glibc's ``malloc`` keeps it for later in its arenas (one per thread that
allocates, and the Workbench samples each take in a thread of its own), so a process that made a long take and then a
short one still holds the long one's pages: resident memory only grows over a lesson. ``malloc_trim(0)`` hands every
arena's free pages back to the system. Measured on the 2-core reference machine: a Workbench of 20 takes of every model,
style and length held 826 MiB, and 722 MiB after one call; ``benchmarks/soak.py`` measures whole lessons.

Only glibc has ``malloc_trim``: elsewhere (macOS, Windows, musl) :func:`release_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["release_memory"]


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process already runs on
    except (AttributeError, OSError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_memory() -> bool:
    """Give the memory the process has freed back to the system (see the module docstring); True if any was."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
