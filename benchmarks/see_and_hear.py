"""See and hear: time to WAV, to engraved SVG and to piano-roll PNG for an 8-bar, 4-voice chorale.

Run: ``python -m benchmarks.see_and_hear`` (about a minute). Targets on the 2-core reference machine: WAV <= 50 ms,
SVG <= 150 ms, PNG <= 150 ms (medians).
"""

from __future__ import annotations

import io
import time

from benchmarks.common import machine, measure, summary, table, write_section
from musewidgets import audio, engraving, plotting
from musewidgets.datasets import corpus
from musewidgets.io import to_midi


def _fresh_bank() -> None:
    audio._BANKS.clear()  # forget every kept note, as in a new Python session


def main(repeat: int = 20) -> str:
    chorales = corpus.load_style("chorale", progress=False)
    piece = chorales.get("bach/bwv66.6.mxl").slice_bars(0, 8)
    seconds = piece.end * piece.seconds_per_step
    session = [p.slice_bars(0, 8) for p in chorales.split("test")[:repeat] if p.n_bars >= 8]

    rows = []

    def rtf(s):
        return seconds / (s["median"] / 1000)

    def row(what, times, note=""):
        s = summary(times)
        rows.append([what, f"{s['median']:.1f}", f"{s['p90']:.1f}", s["n"], note])
        return s

    _fresh_bank()
    t0 = time.perf_counter()
    audio.to_wav(piece)
    cold = time.perf_counter() - t0
    wav = row(
        "WAV, notes heard before (same piece again)",
        measure(lambda: audio.to_wav(piece), repeat=repeat),
        "target <= 50 ms",
    )
    rows.append(["WAV, first piece of a session (empty note bank)", f"{cold * 1000:.1f}", "", 1, "one-off"])
    _fresh_bank()
    session_times = []
    for p in session:  # different chorales one after another, as takes in a session would come
        t0 = time.perf_counter()
        audio.to_wav(p)
        session_times.append(time.perf_counter() - t0)
    row(
        f"WAV, {len(session)} different chorales in a row from an empty bank",
        session_times,
        "first ones render their new notes",
    )
    exact = row(
        "WAV, one-pass render (`exact=True`, used for export)",
        measure(lambda: audio.to_wav(piece, exact=True), repeat=5, warmup=1),
        "",
    )
    pm = to_midi(piece)
    sine = row(
        "baseline: pretty_midi sine synthesis (`PrettyMIDI.synthesize`)",
        measure(lambda: pm.synthesize(fs=48_000), repeat=5, warmup=1),
        "no SoundFont, mono",
    )
    svg = row(
        "SVG (music21 MusicXML + verovio)", measure(lambda: engraving.to_svg(piece), repeat=repeat), "target <= 150 ms"
    )
    png = row(
        "PNG piano roll (matplotlib Agg)",
        measure(lambda: plotting.pianoroll_png(piece), repeat=repeat),
        "target <= 150 ms",
    )

    buf = io.BytesIO()
    pm.write(buf)
    md = "\n\n".join(
        [
            "## See and hear",
            f"`python -m benchmarks.see_and_hear` on {machine()}.",
            f"Piece: the first 8 bars of Bach's chorale BWV 66.6 (4 voices, {piece.n_notes} notes, {seconds:.0f} s "
            f"of music at {piece.tempo:g} qpm); WAV is 48 kHz 16-bit stereo with the bundled TimGM6mb SoundFont.",
            table(["what", "median ms", "p90 ms", "runs", "note"], rows),
            "Real-time factor (seconds of music per second of rendering): usual WAV path "
            f"{rtf(wav):,.0f}x, one-pass SoundFont render {rtf(exact):,.0f}x, pretty_midi sine synthesis "
            f"{rtf(sine):,.0f}x.",
        ]
    )
    write_section("see_and_hear", md)
    summary_rows = [
        [
            f"synthesis real-time factor ({seconds:.0f} s of 4-voice chorale)",
            f"{rtf(wav):,.0f}x (SoundFont, note bank); {rtf(exact):,.0f}x one-pass",
            f"{rtf(sine):,.0f}x",
            "pretty_midi sine synthesis (no SoundFont)",
        ],
        ["engraving, 8 bars to SVG", f"{svg['median']:.0f} ms (p90 {svg['p90']:.0f})", "n/a", NO_ENGRAVING_BASELINE],
        ["piano roll, 8 bars to PNG", f"{png['median']:.0f} ms (p90 {png['p90']:.0f})", "", ""],
    ]
    return {"markdown": md, "summary": summary_rows}


NO_ENGRAVING_BASELINE = "no offline engraver to compare: music21's `show()` needs MuseScore or LilyPond installed"


if __name__ == "__main__":
    print(main()["markdown"])
