"""Shared helpers: timing with medians and percentiles, the machine's description, and docs/benchmarks.md sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Every figure here comes from a script in `benchmarks/`; `python -m benchmarks` reruns them all and rewrites this file
(each script alone rewrites its own section; about ten minutes on the 2-core reference machine). Times are wall-clock
medians unless a column says otherwise.
"""


def measure(fn: Callable[[], object], *, repeat: int = 20, warmup: int = 2) -> list[float]:
    """Seconds taken by ``repeat`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict[str, float]:
    """Median, 90th percentile, min and max in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return {"median": statistics.median(ms), "p90": p90, "min": ms[0], "max": ms[-1], "n": len(ms)}


def machine() -> str:
    """One line: CPU model, cores, memory, Python and OS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_text = f", {mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem_text = ""
    return f"{cpu}, {os.cpu_count()} cores{mem_text}, Python {platform.python_version()}, {platform.system()}"


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, markdown: str, *, doc: Path = DOC, first: bool = False) -> None:
    """Replace the section ``name`` of docs/benchmarks.md, leaving the others alone; a new one goes at the end
    (``first=True``: right after the header)."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = doc.read_text() if doc.exists() else HEADER
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    elif first and text.startswith(HEADER):
        text = HEADER + "\n" + block + "\n\n" + text[len(HEADER) :].lstrip()
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def replace_summary_rows(prefix: str, rows: list[list[object]], *, doc: Path = DOC) -> None:
    """In the summary table on top of docs/benchmarks.md, put ``rows`` in place of the rows whose first cell starts
    with ``prefix`` (so one script run alone keeps the summary in step with its section); no summary: nothing."""
    if not doc.exists():
        return
    text = doc.read_text()
    begin, end = "<!-- begin summary -->", "<!-- end summary -->"
    if begin not in text or end not in text:
        return
    head, rest = text.split(begin, 1)
    body, tail = rest.split(end, 1)
    lines = body.split("\n")
    old = [i for i, line in enumerate(lines) if line.startswith(f"| {prefix}")]
    if not old:
        return
    new = ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    lines = lines[: old[0]] + new + [line for i, line in enumerate(lines[old[0] :], old[0]) if i not in old]
    doc.write_text(head + begin + "\n".join(lines) + end + tail)
