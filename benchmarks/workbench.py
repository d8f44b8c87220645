"""Click-to-sound latency of the Workbench: from ``generate()`` to audio, piano roll and score ready.

8 bars of 4-voice chorale, a new seed every take, as a session goes: the first take of a session also loads the
model and renders its notes for the first time, so it is reported on its own; the median and p90 cover the next
takes. Run: ``python -m benchmarks.workbench``. Target on the 2-core reference machine: median <= 300 ms (LSTM).
"""

from __future__ import annotations

import time

from benchmarks.common import machine, summary, table, write_section


def session(model: str, takes: int) -> tuple[float, list[float]]:
    import musewidgets as mw

    t0 = time.perf_counter()
    wb = mw.Workbench(model=model, style="chorale")
    wb.controls.bars.value = 8
    wb.generate()
    first = time.perf_counter() - t0
    times = []
    for _ in range(takes):
        t0 = time.perf_counter()
        wb.generate()  # draws a new seed each take, renders roll, sound and score
        times.append(time.perf_counter() - t0)
    return first, times


def main(takes: int = 20) -> str:
    rows = []
    for model, n in (("lstm", takes), ("transformer", max(5, takes // 4))):
        first, times = session(model, n)
        s = summary(times)
        target = "target median <= 300 ms" if model == "lstm" else ""
        rows.append([model, f"{s['median']:.0f}", f"{s['p90']:.0f}", n, f"{first * 1000:.0f}", target])
    md = "\n\n".join(
        [
            "## Workbench: click to sound",
            f"`python -m benchmarks.workbench` on {machine()}.",
            "From `Workbench.generate()` (what the Generate button runs) until the take's audio (WAV), piano roll "
            "(PNG) and engraved score (SVG) are set on their widgets; 8 bars of 4-voice chorale, a new seed each "
            "take. The first take of a session also builds the widget, loads the model and renders new notes, so it "
            "is shown apart.",
            table(["model", "median ms", "p90 ms", "takes", "first take of a session, ms", "note"], rows),
        ]
    )
    write_section("workbench", md)
    return md


if __name__ == "__main__":
    print(main())
