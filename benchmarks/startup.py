"""Start-up and memory: ``import musewidgets`` against importing the libraries it wraps, and peak memory of a take.

Each figure comes from fresh Python processes (``python -X importtime`` is not used: it slows imports down).
Run: ``python -m benchmarks.startup`` (about half a minute).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks.common import machine, table, write_section

IMPORT = "import time; t0 = time.perf_counter(); {stmt}; print(time.perf_counter() - t0)"
# VmHWM is the peak resident set of this process image; unlike ru_maxrss it starts afresh at exec, so the memory
# of the parent that forked us is not counted
PEAK = (
    "import json, re; {stmt}; "
    "print(json.dumps(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024))"
)
TAKE = (
    "import musewidgets as mw; wb = mw.Workbench(model='lstm', style='chorale'); wb.controls.bars.value = 8; "
    "wb.generate()"
)
FLOOR = "import torch, music21, ipywidgets, matplotlib, verovio, pretty_midi"


def _run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def import_ms(stmt: str, repeat: int = 7) -> float:
    """Median milliseconds of ``stmt`` in fresh processes (after one unmeasured run to warm the file cache)."""
    _run(IMPORT.format(stmt=stmt))
    return statistics.median(_run(IMPORT.format(stmt=stmt)) for _ in range(repeat)) * 1000


def peak_mib(stmt: str) -> float:
    """Peak resident memory (MiB) of a fresh process that runs ``stmt``."""
    return _run(PEAK.format(stmt=stmt))


def main(repeat: int = 7) -> dict:
    imports = {
        stmt: import_ms(stmt, repeat)
        for stmt in ("import musewidgets", "import numpy", "import music21", "import torch", "import ipywidgets")
    }
    take, floor, bare = peak_mib(TAKE), peak_mib(FLOOR), peak_mib("pass")
    rows = [
        [f"`{stmt}`", f"{ms:.0f}", "baseline" if stmt != "import musewidgets" else ""] for stmt, ms in imports.items()
    ]
    md = "\n\n".join(
        [
            "## Start-up and memory",
            f"`python -m benchmarks.startup` on {machine()}.",
            f"Import time: median of {repeat} fresh processes each. `import musewidgets` loads numpy and its own light "
            "modules only; torch, music21, ipywidgets, matplotlib and verovio wait until first used.",
            table(["statement", "median ms", "note"], rows),
            "Peak resident memory of a fresh process (`VmHWM` in `/proc/self/status`):",
            table(
                ["process", "peak MiB"],
                [
                    ["bare Python (`pass`)", f"{bare:.0f}"],
                    [f"baseline: only importing what a take needs (`{FLOOR}`)", f"{floor:.0f}"],
                    ["one Workbench take: LSTM, 8 bars of chorale, roll + score + sound", f"{take:.0f}"],
                ],
            ),
        ]
    )
    write_section("startup", md)
    LAST.update(imports_ms=imports, peak_mib={"take": take, "floor": floor, "bare": bare})
    return {"markdown": md, **LAST}


LAST: dict = {}  # the latest results, for the summary of ``python -m benchmarks``


if __name__ == "__main__":
    print(main()["markdown"])
