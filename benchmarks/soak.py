"""Long sessions: 300 takes in one process, as a long lesson goes; memory, figures, widgets and files left behind.

One Workbench (LSTM, chorale, 4-bar takes) generates 300 takes with ``wb.generate()`` (what the Generate button
runs). Between takes the user does what a lesson does, on a fixed schedule (:func:`lesson_step`): selects an older
take, stars one, likes or dislikes one, opens Analyse for a while (and asks for similar pieces), shows the download
links, compares two takes side by side, copies a take's settings, deletes a take. Two variants, each in a fresh
process of its own:

- ``full``: the history keeps growing (a take in ten is deleted), as most lessons go;
- ``busy``: takes are deleted as they go (past :data:`BUSY_HISTORY` takes, the take on show is deleted), so what
  stays is what the session itself keeps once the takes are gone.

At takes 1, 50, 100, ... 300, with the oldest take kept on show for the moment (so every measurement holds the same
take's pictures and sound: a 40-bar take on show holds 26 MiB of them, a one-bar take a few) and after
``gc.collect()``: resident memory (psutil), the memory the history needs (every
kept take's piece and settings, measured object by object), the audio note bank (a bounded cache, see
:mod:`musewidgets.audio`), the open ipywidgets (``ipywidgets.Widget.widgets``: a widget never ``close()``d stays
there, and with it every byte it shows) and the bytes they hold, the open pyplot figures and the live matplotlib
``Figure`` objects. Each process runs in an empty working folder with an empty ``TMPDIR`` and its own session folder
(``MUSEWIDGETS_SESSION_DIR``: the takes saved as they are made, by design), so every file left behind is counted.

Run: ``python -m benchmarks.soak`` (about 13 minutes on the 2-core reference machine; ``--variant full --takes 100``
runs one variant in this process and prints it; ``--trace`` adds, by line, the memory allocated after take 50 and
still held at the end: a leak shows there, and so does a capped cache that replaced old entries with new ones).
Target: resident memory grows by < 50 MiB from take 50 to take 300; no figure open, no temp file left.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

TAKES = 300
BARS = 4
EVERY = 50  # takes between measurements (and take 1)
FROM_TAKE = 50  # growth is measured from this take to the last: the first takes warm caches up
GROWTH_TARGET_MIB = 50
BUSY_HISTORY = 10  # takes kept in the busy variant
VARIANTS = ("full", "busy", "varied")
# the varied lesson: what a class varies, in turn (model, style, bars), a cycle that does not divide 300
VARIED_MODELS = ("lstm", "transformer", "rnn", "gan")
VARIED_STYLES = ("chorale", "folk", "irish", "renaissance")
VARIED_BARS = (4, 1, 8, 16, 2, 32, 8)
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ measurements
def rss_mib() -> float:
    """Resident memory of this process in MiB (psutil, else /proc/self/statm)."""
    try:
        import psutil
    except ImportError:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return psutil.Process().memory_info().rss / 2**20


def open_widgets() -> dict:
    """ipywidgets' registry of open widgets (model id -> widget): a widget leaves it only when closed."""
    import ipywidgets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Widget.widgets is deprecated, and still the registry
        return dict(ipywidgets.Widget.widgets)


def widget_kinds() -> collections.Counter:
    """Open widgets by class name."""
    return collections.Counter(type(w).__name__ for w in open_widgets().values())


def widget_payload_bytes() -> int:
    """Bytes of the strings and byte strings the open widgets hold in their synced traits (PNG, WAV, SVG, HTML)."""
    total = 0
    for widget in open_widgets().values():
        for name in widget.keys:
            value = getattr(widget, name, None)
            if isinstance(value, (bytes, str)):
                total += len(value)
    return total


def deep_size(obj, seen: set | None = None) -> int:
    """Bytes of ``obj`` and everything it holds (dataclasses, containers, numpy arrays), each object counted once."""
    import dataclasses

    import numpy as np

    seen = set() if seen is None else seen
    stack, total = [obj], 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, np.ndarray):  # getsizeof counts the data an array owns; a view's base holds the rest
            if o.base is not None:
                stack.append(o.base)
        elif isinstance(o, dict):
            stack += list(o.keys()) + list(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack += list(o)
        elif dataclasses.is_dataclass(o):
            stack += [getattr(o, f.name) for f in dataclasses.fields(o)]
        elif hasattr(o, "__dict__"):
            stack.append(vars(o))
    return total


def note_bank_bytes() -> int:
    """Bytes of audio the note bank keeps (a least-recently-used cache with a cap; see musewidgets.audio)."""
    from musewidgets import audio

    return sum(bank._bytes for bank in audio._BANKS.values())


def figures() -> tuple[int, int]:
    """(pyplot figures open, matplotlib Figure objects alive)."""
    if "matplotlib" not in sys.modules:
        return 0, 0
    from matplotlib.figure import Figure

    fignums = len(sys.modules["matplotlib.pyplot"].get_fignums()) if "matplotlib.pyplot" in sys.modules else 0
    return fignums, sum(issubclass(type(o), Figure) for o in gc.get_objects())  # type(): no lazy attribute runs


def files_under(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.is_dir() else set()


# ------------------------------------------------------------------ the lesson
def lesson_step(wb, i: int, *, busy: bool = False, similar: bool = True, every_style: bool = False) -> None:
    """What the user does after take ``i`` (1-based), on a fixed schedule; ``busy``: delete takes as they come, so
    the history never holds more than :data:`BUSY_HISTORY`; ``similar``: ask for similar pieces now and then (the
    first time builds the corpus index when none is cached), ``every_style``: every sixth take, not every thirtieth."""
    takes = wb.takes
    if i % 7 == 0 and len(takes) > 3:  # listen to an older take again
        wb.take_list.selected = takes[len(takes) // 2].id
    if i % 5 == 0:
        wb.take_list.toggle_star()
    if i % 13 == 0:
        wb.rate(1 if i % 2 else -1)
    if i % 30 in (0, 1, 2, 3, 4) or every_style and i % 6 == 1:  # Analyse open for five takes in thirty
        wb.analyse_button.value = True
        if similar and (i % 30 == 1 or every_style and i % 6 == 1) and wb.analysis.piece is not None:
            neighbours = wb.analysis.find_similar()
            if neighbours:
                wb.analysis.play(neighbours[0])
    elif wb.analyse_button.value:
        wb.analyse_button.value = False
    if i % 8 == 0:
        wb._show_downloads()
    if i % 9 == 0 and len(wb.takes) > 2:  # compare with the first take still there, for four takes in nine
        wb.take_list.compare_with.value = wb.takes[0].id
    elif i % 9 == 4:
        wb.take_list.compare_with.value = None
    if i % 25 == 0:  # replay a take's settings, then draw new seeds again
        wb.copy_settings()
        wb.controls.lock_seed.value = False
    if i % 10 == 0:
        wb.take_list.delete()
    while busy and len(wb.takes) > BUSY_HISTORY:  # not worth keeping: the take on show goes, its neighbour shows
        wb.take_list.delete()


def vary(wb, i: int) -> None:
    """Before take ``i`` of the varied lesson: the next model, a style it knows, a length (1-32 bars), in turn."""
    c = wb.controls
    model = VARIED_MODELS[i % len(VARIED_MODELS)]
    if c.model.value != model:
        c.model.value = model
    styles = list(c.style.options)
    c.style.value = styles[(i // len(VARIED_MODELS)) % len(styles)]
    c.bars.value = VARIED_BARS[i % len(VARIED_BARS)]


def session(
    takes: int = TAKES,
    *,
    bars: int = BARS,
    busy: bool = False,
    varied: bool = False,
    every: int = EVERY,
    trace: bool = False,
) -> dict:
    """Run one lesson in this process and measure it at take 1 and every ``every`` takes (see the module doc);
    ``varied``: each take another model, style and length (:func:`vary`), a take in six continued, and similar
    pieces asked for in every style."""
    import musewidgets as mw

    work, tmp = Path.cwd(), Path(tempfile.gettempdir())
    before_work, before_tmp = files_under(work), files_under(tmp)
    wb = mw.Workbench(model="lstm", style="chorale")
    wb.controls.bars.value = bars
    rows, kinds_at, snapshot, t0 = [], {}, None, time.perf_counter()
    for i in range(1, takes + 1):
        if varied:
            vary(wb, i)
        wb.continue_take() if varied and i % 6 == 0 and wb.current is not None else wb.generate()
        lesson_step(wb, i, busy=busy, every_style=varied)
        if i == 1 or i % every == 0 or i == takes:
            shown = wb.take_list.selected
            wb.take_list.selected = wb.takes[0].id  # the same take on show at every measurement (see the doc)
            gc.collect()
            pyplot_figs, live_figs = figures()
            rows.append(
                {
                    "take": i,
                    "rss_mib": rss_mib(),
                    "history": len(wb.takes),
                    "history_mib": deep_size(wb.takes) / 2**20,
                    "bank_mib": note_bank_bytes() / 2**20,
                    "widgets": len(open_widgets()),
                    "widget_mib": widget_payload_bytes() / 2**20,
                    "pyplot_figures": pyplot_figs,
                    "live_figures": live_figs,
                    "seconds": time.perf_counter() - t0,
                }
            )
            kinds_at[i] = widget_kinds()
            wb.take_list.selected = shown
            print(
                f"soak: {'varied' if varied else 'busy' if busy else 'full'} {_row_text(rows[-1])}",
                file=sys.stderr,
                flush=True,
            )
        if trace and i == min(FROM_TAKE, takes):
            import tracemalloc

            tracemalloc.start(1)
            snapshot = tracemalloc.take_snapshot()
    wb.wait(30)
    gc.collect()
    first, last = min(kinds_at), max(kinds_at)
    grown = {k: n - kinds_at[first].get(k, 0) for k, n in kinds_at[last].items() if n != kinds_at[first].get(k, 0)}
    result = {
        "variant": "varied" if varied else "busy" if busy else "full",
        "takes": takes,
        "bars": bars,
        "rows": rows,
        "widgets_grown": grown,  # widget classes that grew from take 1 to the last
        "new_work_files": sorted(files_under(work) - before_work),
        "new_temp_files": sorted(files_under(tmp) - before_tmp),
        "session_files": len(list(wb.session.folder.rglob("*"))) if wb.session is not None else 0,
    }
    if snapshot is not None:
        import tracemalloc

        diffs = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")
        tracemalloc.stop()
        result["trace"] = [
            {"where": str(d.traceback[0]), "kib": d.size_diff / 1024, "blocks": d.count_diff} for d in diffs[:15]
        ]
    return result


def _row_text(row: dict) -> str:
    return (
        f"take {row['take']}: RSS {row['rss_mib']:.0f} MiB, history {row['history']} takes "
        f"{row['history_mib']:.2f} MiB, note bank {row['bank_mib']:.0f} MiB, {row['widgets']} widgets holding "
        f"{row['widget_mib']:.1f} MiB, figures {row['pyplot_figures']}/{row['live_figures']}, {row['seconds']:.0f} s"
    )


def run_variant(variant: str, takes: int = TAKES, *, trace: bool = False) -> dict:
    """One lesson in a fresh process, in an empty working folder with an empty TMPDIR and session folder."""
    with tempfile.TemporaryDirectory(prefix="musewidgets-soak-") as base:
        folders = {name: Path(base) / name for name in ("work", "tmp", "sessions")}
        for folder in folders.values():
            folder.mkdir()
        out = Path(base) / "result.json"
        env = {
            **os.environ,
            "TMPDIR": str(folders["tmp"]),
            "MUSEWIDGETS_SESSION_DIR": str(folders["sessions"]),
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        args = [sys.executable, "-m", "benchmarks.soak", "--variant", variant, "--takes", takes, "--json", out]
        args += ["--trace"] if trace else []
        subprocess.run([str(a) for a in args], env=env, cwd=folders["work"], check=True)
        return json.loads(out.read_text())


# ------------------------------------------------------------------ the report
def growth(result: dict) -> tuple[float, float]:
    """MiB of resident memory gained from take :data:`FROM_TAKE`: (at the last take, at the highest after it)."""
    rows = [r for r in result["rows"] if r["take"] >= FROM_TAKE] or result["rows"]
    return rows[-1]["rss_mib"] - rows[0]["rss_mib"], max(r["rss_mib"] for r in rows) - rows[0]["rss_mib"]


def markdown(results: list[dict], seconds: float) -> str:
    from benchmarks.common import machine, table

    header = [
        "take",
        "RSS MiB",
        "takes kept",
        "history MiB",
        "note bank MiB",
        "open widgets",
        "widget bytes MiB",
        "open / live figures",
    ]
    parts = [
        "## Long sessions",
        f"`python -m benchmarks.soak` on {machine()}; {seconds:.0f} s.",
        f"One Workbench (LSTM, chorale, {results[0]['bars']}-bar takes) makes {results[0]['takes']} takes with "
        "`generate()` in one process, while the user does what a long lesson does on a fixed schedule: selects an "
        "older take, stars, likes and dislikes, opens Analyse for five takes in thirty (and plays a similar piece), "
        "shows the download links, compares two takes, copies a take's settings, deletes a take in ten. *busy*: the "
        f"take on show is deleted whenever more than {BUSY_HISTORY} are kept. Measured with the oldest take on show "
        "for the moment (every row holds the same take's pictures and sound) and after `gc.collect()`: "
        "resident memory; the history (every kept take's piece and settings, object by object: kept by design); the "
        "audio note bank (a least-recently-used cache of rendered notes with a cap, see `musewidgets.audio`); the "
        "open ipywidgets (`ipywidgets.Widget.widgets`) and the bytes they hold; open pyplot figures and live "
        "matplotlib `Figure` objects. Each variant runs in a fresh process in an empty working folder with an empty "
        f"`TMPDIR`. Target: resident memory grows by < {GROWTH_TARGET_MIB} MiB from take {FROM_TAKE} to the last; "
        "no figure open and no temporary file left.",
    ]
    for result in results:
        rows = [
            [
                r["take"],
                f"{r['rss_mib']:.0f}",
                r["history"],
                f"{r['history_mib']:.2f}",
                f"{r['bank_mib']:.0f}",
                r["widgets"],
                f"{r['widget_mib']:.1f}",
                f"{r['pyplot_figures']} / {r['live_figures']}",
            ]
            for r in result["rows"]
        ]
        g, peak = growth(result)
        meets = "meets" if g < GROWTH_TARGET_MIB else "misses"
        later = [r for r in result["rows"] if r["take"] >= FROM_TAKE] or result["rows"]
        start, end = later[0], later[-1]
        bank = end["bank_mib"] - start["bank_mib"]
        history = end["history_mib"] - start["history_mib"]
        widgets = sorted({r["widgets"] for r in later})
        left = len(result["new_work_files"]) + len(result["new_temp_files"])
        kind = {
            "full": "the history grows",
            "busy": "takes deleted as they go",
            "varied": "each take another model, style and length; a take in six continued; similar pieces, every style",
        }[result["variant"]]
        parts += [
            f"**{result['variant']}** ({kind})",
            table(header, rows),
            f"From take {start['take']} to {end['take']}: resident memory {g:+.0f} MiB ({meets} the target; at most "
            f"{peak:+.0f} MiB on the way), of which the note bank {bank:+.0f} MiB and the history {history:+.1f} MiB. "
            f"Open widgets from take {start['take']} on: {widgets[0]} to {widgets[-1]} (two takes side by side add "
            f"two views and their layouts). Files left in the working folder and TMPDIR: {left}; the session folder "
            f"holds {result['session_files']} files (every take saved as it is made, the deleted ones too, by design).",
        ]
    return "\n\n".join(parts)


def main(takes: int = TAKES) -> dict:
    """Both variants, each in its own process; writes the "Long sessions" section of docs/benchmarks.md."""
    from benchmarks.common import write_section

    t0 = time.perf_counter()
    results = [run_variant(v, takes) for v in VARIANTS]
    md = markdown(results, time.perf_counter() - t0)
    write_section("soak", md)
    full = results[0]
    summary = [
        [
            f"resident memory growth, take {FROM_TAKE} to {full['takes']}",
            f"{growth(full)[0]:+.0f} MiB",
            f"< {GROWTH_TARGET_MIB} MiB",
            "the target",
        ]
    ]
    return {"markdown": md, "summary": summary, "results": results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process and print it")
    parser.add_argument("--takes", type=int, default=TAKES)
    parser.add_argument("--every", type=int, default=EVERY, help="takes between measurements")
    parser.add_argument("--json", type=Path, help="write the variant's measurements to this file")
    parser.add_argument("--trace", action="store_true", help="also list the largest tracemalloc growths")
    args = parser.parse_args()
    if args.variant is None:
        print(main(args.takes)["markdown"])
    else:
        variant = {"busy": args.variant == "busy", "varied": args.variant == "varied"}
        result = session(args.takes, **variant, every=args.every, trace=args.trace)
        if args.json is not None:
            args.json.write_text(json.dumps(result))
        for item in result.get("trace", []):
            print(f"{item['kib']:+10.0f} KiB {item['blocks']:+8d} blocks  {item['where']}")
        print(json.dumps({k: v for k, v in result.items() if k not in ("rows", "trace")}, indent=1))
