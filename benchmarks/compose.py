"""Composing under a melody and by filling in: harmonizing held-out chorale sopranos
(musewidgets.sampling.harmonization), and regenerating chosen bars with seams that sound joined
(musewidgets.sampling.infill).

``python -m benchmarks.compose`` rewrites the "compose" section of docs/benchmarks.md (about five minutes on the
2-core machine). Every figure is a function of the shipped checkpoints, the corpus and the seeds below;
the times are the only figures that depend on the machine.

**Harmonize.** The last 8 bars of every held-out (test split) Bach chorale at least 8 bars long: its soprano is
harmonized (seed = the excerpt's index) and the result is scored against Bach's own four voices by the scorecard
(:func:`musewidgets.evaluation.scorecard.score`: the judges of :mod:`musewidgets.evaluation.judge`, style fidelity, the
share of each voice's moves that are steps) and by the voice-leading rates. *Cadence*: the
share of excerpts that end in a perfect or plagal cadence, as a musician hears one: the last chord a triad in root
position (or its open fifth), its bass reached by a fourth or a fifth (Bach's own share is the reference).

**Regenerate.** The same excerpts, bars 2-5 (of 0-7) of the named voices regenerated (seed = index). A fault
(parallel fifth or octave, crossing, spacing) is counted at the event it arrives at. *Seam* events are the last
event before each border of the selection and the first event at or after it (the moves that join old and new);
*inside* events are the other events within the selection. The rates are faults per event, pooled over excerpts;
Bach's own excerpts, measured the same way, give the level a seam should not exceed.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks.common import machine, table, write_section

BARS = 8
SELECTION = (2, 6)  # bars 2..5 of 0..7
KINDS = ("parallel fifth", "parallel octave", "crossing", "spacing")
VOICE_SETS = {"all four voices": None, "alto and tenor": (1, 2)}


def _excerpts():
    from musewidgets.analysis.metrics import last_bars
    from musewidgets.datasets import corpus

    pieces = [p for p in corpus.load_style("chorale", progress=False).split("test") if p.n_bars >= BARS]
    return [last_bars(p, BARS) for p in pieces]


def _cadence(piece) -> bool:
    """A perfect or plagal cadence at the end: the last chord is a triad in root position (or its open fifth or
    octave: the bass is its root) and the bass arrives on it by a fourth or a fifth."""
    last = max(n.start for part in piece.parts for n in part.notes)
    chord = {n.pitch % 12 for part in piece.parts for n in part.notes if n.start <= last < n.start + n.duration}
    bass = [n for n in piece.parts[-1].notes if n.start <= last < n.start + n.duration]
    before = [n for n in piece.parts[-1].notes if bass and n.start + n.duration <= bass[0].start]
    if not bass or not before:
        return False
    root = bass[0].pitch % 12
    third = {(root + 3) % 12, (root + 4) % 12}
    triad = chord <= {root, (root + 7) % 12} | third and not third <= chord
    return triad and (bass[0].pitch - before[-1].pitch) % 12 in (5, 7)


def _rates(pieces) -> dict:
    from musewidgets.analysis.voice_leading import voice_leading

    rates = [voice_leading(p) for p in pieces]
    return {k: float(np.mean([r[k] for r in rates])) for k in rates[0]}


def harmonize_rows(excerpts, model) -> tuple[list, dict]:
    from musewidgets.analysis.classifier import load_classifier
    from musewidgets.evaluation.judge import JUDGES, measure, voices
    from musewidgets.evaluation.scorecard import score
    from musewidgets.sampling.harmonization import harmonize, load_writer

    classifier, bach = load_classifier(), measure(excerpts)
    rows, figures = [], {}

    def row(name, pieces, seconds=None):
        r = score(pieces, bach, style="chorale", model=name, classifier=classifier)
        vl = _rates(pieces)
        cad = [_cadence(p) for p in pieces]
        figures[name] = {
            **{j: r[j][0] for j in JUDGES},
            "fidelity": r["fidelity"],
            "steps": r["steps"],
            "parallels": vl["parallels_per_8_bars"],
            "cadence": float(np.mean(cad)),
        }
        rows.append(
            [
                name,
                *(f"{r[j][0]:.2f}" if pieces is not excerpts else "" for j in JUDGES),
                voices(r["steps"]),
                f"{r['fidelity']:.0%}",
                f"{vl['parallels_per_8_bars']:.2f}",
                f"{vl['crossings_per_8_bars']:.2f}",
                f"{vl['spacing_per_8_bars']:.2f}",
                f"{np.mean(cad):.0%}",
                "" if seconds is None else f"{np.median(seconds):.2f} s",
            ]
        )

    row("Bach", excerpts)
    writer = load_writer("transformer")
    ways = (
        ("harmonize", {"model": writer, "finish": model}),
        ("harmonize, unguided", {"model": writer, "finish": model, "guide": False}),
        ("infill model alone (until issue 31)", {"model": model}),
    )
    for name, settings in ways:
        takes, seconds = [], []
        for i, x in enumerate(excerpts):
            melody = x.replace(parts=x.parts[:1])
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # melodies moved into the soprano range
                takes.append(harmonize(melody, style="chorale", seed=i, **settings))
            seconds.append(time.perf_counter() - t0)
        row(name, takes, seconds)
    return rows, figures


def _seam_counts(piece, selection_steps: tuple[int, int]) -> tuple[int, int, int, int]:
    """(faults at seam events, seam events, faults at inside events, inside events)."""
    from musewidgets.analysis.voice_leading import _events, faults

    steps, _ = _events(piece)
    lo, hi = selection_steps
    seam = set()
    for border in (lo, hi):
        before, after = steps[steps < border], steps[steps >= border]
        seam.update(int(s) for s in before[-1:])
        seam.update(int(s) for s in after[:1])
    inside = {int(s) for s in steps if lo <= s < hi} - seam
    found = [f.step for f in faults(piece) if f.kind in KINDS]
    return (
        sum(s in seam for s in found),
        len(seam),
        sum(s in inside for s in found),
        len(inside),
    )


def regenerate_rows(excerpts, model) -> tuple[list, dict]:
    from musewidgets.sampling.infill import regenerate

    def pooled(pieces):
        counts = np.array([_seam_counts(p, (p.bar_start(SELECTION[0]), p.bar_start(SELECTION[1]))) for p in pieces])
        a, b, c, d = counts.sum(0)
        return a / b, c / d

    rows, figures = [], {}
    seam, inside = pooled(excerpts)
    rows.append(["Bach (as written)", "", f"{seam:.3f}", f"{inside:.3f}", ""])
    for name, voices in VOICE_SETS.items():
        takes, seconds, changed_outside = [], [], 0
        for i, x in enumerate(excerpts):
            t0 = time.perf_counter()
            take = regenerate(x, bars=SELECTION, voices=voices, seed=i, model=model)
            seconds.append(time.perf_counter() - t0)
            takes.append(take)
            changed_outside += _changed_outside(x, take, voices)
        seam, inside = pooled(takes)
        figures[name] = {"seam": seam, "inside": inside, "changed_outside": changed_outside}
        rows.append(
            [f"regenerated: {name}", changed_outside, f"{seam:.3f}", f"{inside:.3f}", f"{np.median(seconds):.2f} s"]
        )
    return rows, figures


def _changed_outside(before, after, voices) -> int:
    """Cells of the token grid outside the selection that differ (must be 0)."""
    from musewidgets.codecs import TokenCodec
    from musewidgets.sampling.infill import bar_mask

    codec = TokenCodec()
    V = len(before.parts)
    a = codec.encode(before).tokens.reshape(-1, V)
    b = codec.encode(after).tokens.reshape(-1, V)
    mask = bar_mask(before, SELECTION, voices).T
    n = min(len(a), len(b))
    return int(((a[:n] != b[:n]) & ~mask[:n]).sum()) + abs(len(a) - len(b))


def main() -> dict:
    from musewidgets.sampling.infill import load_infill

    model = load_infill("infill")
    excerpts = _excerpts()
    h_rows, h_figures = harmonize_rows(excerpts, model)
    r_rows, r_figures = regenerate_rows(excerpts, model)
    md = "\n\n".join(
        [
            "## Compose: harmonize and regenerate",
            f"`python -m benchmarks.compose` on {machine()}, the shipped models (harmonize: the `transformer` writes "
            "the voices under the soprano, the `infill` model their cadence; regenerate: the `infill` model), the "
            f"last {BARS} bars of the {len(excerpts)} held-out Bach chorales at least {BARS} bars long (see the "
            "script's docstring for every definition). logistic, boosting, neural: how often each judge of "
            "`musewidgets.evaluation.judge` tells the harmonizations from Bach's own (0.5: it cannot; telling two "
            "sets of real chorale endings apart, the judges score 0.4-0.55, docs/scorecard.md); steps: the share of "
            "each voice's moves to a new pitch that are steps (soprano/alto/tenor/bass); fidelity: the style "
            "classifier hears a chorale; cadence: the excerpt ends in a perfect or plagal cadence (a root-position "
            "triad reached by a bass fourth or fifth); parallels, crossings and spacing faults per 8 bars.",
            table(
                [
                    "harmonizing sopranos",
                    "logistic",
                    "boosting",
                    "neural",
                    "steps",
                    "fidelity",
                    "parallels",
                    "crossings",
                    "spacing",
                    "cadence",
                    "time",
                ],
                h_rows,
            ),
            f"Regenerating bars {SELECTION[0]}-{SELECTION[1] - 1} of the same excerpts: cells outside the selection "
            "that changed (must be 0), and voice-leading faults (parallels, crossings, spacing) per event at the "
            "seams and inside the selection.",
            table(["regenerate", "cells changed outside", "faults/event at seams", "inside", "time"], r_rows),
        ]
    )
    write_section("compose", md)
    return {"markdown": md, "harmonize": h_figures, "regenerate": r_figures}


if __name__ == "__main__":
    print(main()["markdown"])
