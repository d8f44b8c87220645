"""musewidgets.memory: freed memory goes back to the system after every Workbench job."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from musewidgets import memory

GLIBC = sys.platform.startswith("linux") and memory._malloc_trim() is not None


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_freed_pages_between_live_objects_go_back_to_the_system():
    """Memory freed between objects still alive stays with the process (nothing at the top of the heap to trim) until
    release_memory() hands its pages back."""
    script = textwrap.dedent(
        """
        import gc
        from pathlib import Path
        from musewidgets.memory import release_memory

        def rss():
            return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

        blocks = [bytes(2048) for _ in range(100_000)]  # 200 MB in malloc's arena (too big for pymalloc)
        kept = blocks[::64]  # one block in 64 stays alive, so the freed ones cannot leave from the top
        del blocks
        gc.collect()
        before = rss()
        assert release_memory()
        print(before - rss())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(out.stdout) > 100  # MiB given back


def test_without_malloc_trim_nothing_happens(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release_memory() is False


def test_every_workbench_job_gives_memory_back(monkeypatch):
    from musewidgets.widgets import jobs
    from musewidgets.widgets.status import StatusLine

    calls = []
    monkeypatch.setattr(jobs, "release_memory", lambda: calls.append(1))
    runner = jobs.Jobs(StatusLine())
    assert runner.run(lambda: 42) == 42 and calls == [1]
    runner.run(lambda: 1 / 0)  # a failed job too
    assert calls == [1, 1]
