"""Metrics: exact values on hand-built pieces, MusPy as the oracle on corpus and random pieces, invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musewidgets.analysis import metrics as m
from musewidgets.analysis.voice_leading import RATE_NAMES
from musewidgets.datasets import corpus
from musewidgets.piece import Note, Part, Piece

muspy = pytest.importorskip("muspy")

MUSPY_METRICS = (
    "pitch_range",
    "n_pitch_classes_used",
    "polyphony",
    "pitch_class_entropy",
    "scale_consistency",
    "empty_beat_rate",
    "groove_consistency",
)


def to_muspy(piece: Piece) -> muspy.Music:
    """The piece as a ``muspy.Music``: resolution = steps per quarter, one track per part, times in steps."""
    num, den = piece.time_signature
    tracks = [
        muspy.Track(
            program=part.program,
            name=part.name,
            notes=[
                muspy.Note(time=n.start, pitch=n.pitch, duration=n.duration, velocity=n.velocity) for n in part.notes
            ],
        )
        for part in piece.parts
    ]
    return muspy.Music(
        resolution=piece.steps_per_quarter,
        tempos=[muspy.Tempo(time=0, qpm=piece.tempo)],
        time_signatures=[muspy.TimeSignature(time=0, numerator=num, denominator=den)],
        tracks=tracks,
    )


def muspy_metrics(piece: Piece) -> dict[str, float]:
    music = to_muspy(piece)
    return {
        "pitch_range": muspy.pitch_range(music),
        "n_pitch_classes_used": muspy.n_pitch_classes_used(music),
        "polyphony": muspy.polyphony(music),
        "pitch_class_entropy": muspy.pitch_class_entropy(music),
        "scale_consistency": muspy.scale_consistency(music),
        "empty_beat_rate": muspy.empty_beat_rate(music),
        "groove_consistency": muspy.groove_consistency(music, piece.steps_per_bar),
    }


def excerpts(n_per_style: int = 3) -> list[Piece]:
    """First 8 bars of the first test pieces of each style that have 8 bars (no pickup after slicing)."""
    pieces = []
    for style in ("chorale", "folk", "irish", "renaissance"):
        test = [p for p in corpus.load_style(style, progress=False).split("test") if p.n_bars >= 8]
        pieces += [p.slice_bars(0, 8) for p in test[:n_per_style]]
    return pieces


def random_piece(rng: np.random.Generator) -> Piece:
    """A few parts of random notes, rests and overlaps in a random metre: MusPy's edge cases (notes ending on beat
    lines, empty beats, a last note on a bar line) come up often."""
    steps_per_quarter = int(rng.choice([2, 4]))
    time_signature = [(4, 4), (3, 4), (6, 8), (2, 2)][rng.integers(4)]
    parts = []
    for i in range(int(rng.integers(1, 5))):
        notes = [
            Note(int(rng.integers(36, 90)), int(rng.integers(0, 48)), int(rng.integers(1, 12)))
            for _ in range(int(rng.integers(0, 25)))
        ]
        parts.append(Part(f"Part {i}", tuple(notes)))
    if not any(p.notes for p in parts):
        parts[0] = Part("Part 0", (Note(60, 3, 2),))
    return Piece(tuple(parts), steps_per_quarter=steps_per_quarter, time_signature=time_signature)


def line(pitches, dur: int = 4, start: int = 0) -> tuple[Note, ...]:
    """Notes of ``dur`` steps one after another; ``None`` is a rest."""
    return tuple(Note(p, start + k * dur, dur) for k, p in enumerate(pitches) if p is not None)


def close(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, equal_nan=True))


# --------------------------------------------------------------------------------------------- MusPy as oracle
def test_corpus_excerpts_agree_with_muspy():
    pieces = excerpts()
    assert len(pieces) == 12
    for piece in pieces:
        ours, theirs = {name: getattr(m, name)(piece) for name in MUSPY_METRICS}, muspy_metrics(piece)
        for name in MUSPY_METRICS:
            assert close(ours[name], theirs[name]), (piece.title, name, ours[name], theirs[name])


def test_random_pieces_agree_with_muspy():
    rng = np.random.default_rng(0)
    for _ in range(60):
        piece = random_piece(rng)
        theirs = muspy_metrics(piece)
        for name in MUSPY_METRICS:
            ours = getattr(m, name)(piece)
            assert close(ours, theirs[name]), (name, ours, theirs[name], piece.parts)


def test_bars_and_beats_counted_from_the_bar_lines():
    chorales = corpus.load_style("chorale", progress=False).split("test")
    piece = next(p for p in chorales if p.pickup == 4)  # a one-beat pickup: MusPy's beats are the bar's beats
    assert close(m.empty_beat_rate(piece), muspy.empty_beat_rate(to_muspy(piece)))
    # MusPy's bars start at step 0; ours at the bar lines, without the pickup's onsets
    after_pickup = Piece(
        tuple(
            Part(p.name, tuple(Note(n.pitch, n.start - 4, n.duration) for n in p.notes if n.start >= 4))
            for p in piece.parts
        )
    )
    assert close(m.groove_consistency(piece), muspy.groove_consistency(to_muspy(after_pickup), 16))
    assert not close(m.groove_consistency(piece), muspy.groove_consistency(to_muspy(piece), 16))
    # an eighth-note pickup shifts the beats by an eighth so that they start at the bar line
    # (MusPy's beats 0 1 2 3 4 would be: 67+72, 72, empty, 72, 72's end: 1/5 empty)
    eighth = Piece((Part("Melody", (Note(67, 0, 2), *line([72, None, None, 72], start=2))),), pickup=2)
    assert m.empty_beat_rate(eighth) == pytest.approx(1 / 6)  # beats: pickup, 72, 72's end, empty, 72, 72's end


# ----------------------------------------------------------------------------------------------- pitch, texture
def test_pitch_metrics_by_hand():
    piece = Piece((Part("Upper", line([72, 74, 76, 72])), Part("Lower", line([48, 55, 48, 53]))))
    assert m.pitch_range(piece) == 28.0
    assert m.n_pitch_classes_used(piece) == 5.0  # C D E G F
    counts = np.array([4, 1, 1, 1, 1])  # C four times
    p = counts / counts.sum()
    assert m.pitch_class_entropy(piece) == pytest.approx(-(p * np.log2(p)).sum())
    assert m.scale_consistency(piece) == 1.0
    assert m.mean_pitch(piece) == pytest.approx((72 + 74 + 76 + 72 + 48 + 55 + 48 + 53) / 8)
    assert m.polyphony(piece) == 2.0
    chromatic = Piece((Part("Melody", line(range(60, 72))),))
    assert m.scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert m.pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))


def test_polyphony_counts_sounding_steps_only_and_unisons_once():
    piece = Piece((Part("A", (Note(60, 0, 4), Note(64, 0, 2))), Part("B", (Note(60, 8, 4),))))
    assert m.polyphony(piece) == pytest.approx((2 + 2 + 1 + 1 + 1 + 1 + 1 + 1) / 8)
    unison = Piece((Part("A", (Note(60, 0, 4),)), Part("B", (Note(60, 0, 4),))))
    assert m.polyphony(unison) == 1.0


def test_notes_per_bar_counts_the_pickup_as_a_fraction():
    piece = Piece((Part("Melody", line([60] * 9)),), pickup=4)  # 9 quarters: 1 beat of pickup + 2 bars
    assert m.notes_per_bar(piece) == pytest.approx(9 / 2.25)
    assert m.notes_per_bar(piece.replace(length=68)) == pytest.approx(9 / 4.25)  # rests at the end count


# ------------------------------------------------------------------------------------------------ form, cadence
def bars(*contents, parts: int = 1) -> Piece:
    """A 4/4 piece whose bar ``k`` holds ``contents[k]`` (a list of pitches, quarter notes; ``None`` = empty bar)."""
    notes = [n for k, c in enumerate(contents) if c is not None for n in line(c, start=16 * k)]
    return Piece(tuple(Part(f"Part {i}", tuple(notes)) for i in range(parts)), length=16 * len(contents))


A, B = [60, 62, 64, 65], [67, 65, 64, 62]


def test_a_bar_repeated_five_times():
    piece = bars(A, A, A, A, A, B, A)
    assert m.longest_bar_loop(piece) == 5.0
    assert m.repeated_bars(piece) == pytest.approx(5 / 6)  # bars 1-4 and 6 repeat, bar 5 is new
    assert m.longest_bar_loop(bars(A, B, A, B)) == 1.0
    assert m.repeated_bars(bars(A, B, A, B)) == pytest.approx(2 / 3)
    assert m.repeated_bars(bars(A, B, [60, 62, 64, 66])) == 0.0


def test_empty_bars_never_repeat():
    piece = bars(A, None, None, A)
    assert m.repeated_bars(piece) == pytest.approx(1 / 3)
    assert m.longest_bar_loop(piece) == 1.0
    assert m.longest_bar_loop(bars(None, None)) == 0.0
    assert math.isnan(m.repeated_bars(bars(A)))


def test_bar_content_is_clipped_and_relative_to_the_bar_line():
    held = Piece((Part("M", (Note(60, 0, 32),)),))  # a whole note tied over the bar line looks the same in both bars
    assert m.repeated_bars(held) == 1.0
    shifted = Piece((Part("M", (Note(60, 4, 8), Note(60, 20, 8))),), pickup=4)  # bar lines at 4, 20
    assert m.longest_bar_loop(shifted) == 2.0
    voices = Piece((Part("S", line(A + A)), Part("B", line([48, 48, 48, 48, 48, 48, 48, 43]))))
    assert m.repeated_bars(voices) == 0.0  # every part must repeat


def test_tonic_ending():
    def ending(upper, lower, key="C major"):
        return Piece((Part("S", line([67, upper])), Part("B", line([55, lower]))), key=key)

    assert m.tonic_ending(ending(72, 48)) == 1.0
    assert m.tonic_ending(ending(76, 48)) == 0.0  # the top note is the third
    assert m.tonic_ending(ending(72, 43)) == 0.0  # the bass is the dominant
    assert m.tonic_ending(ending(72, 48, key="F major")) == 0.0
    assert m.tonic_ending(ending(72, 48, key="F major"), key="C minor") == 1.0  # the argument wins
    # the last chord includes notes held into the last onset
    held = Piece((Part("S", line([67, 72])), Part("A", (Note(64, 0, 8),)), Part("B", (Note(48, 0, 8),))), key="C major")
    assert m.tonic_ending(held) == 1.0
    # without a key the key is estimated: a C major scale and cadence
    melody = Piece((Part("Melody", line([60, 64, 67, 72, 71, 74, 67, 65, 64, 62, 60])),))
    assert m.tonic_ending(melody) == 1.0
    unfinished = Piece((Part("Melody", line([60, 64, 67, 72, 71, 74, 67, 65, 64, 62])),))
    assert m.tonic_ending(unfinished) == 0.0


# ---------------------------------------------------------------------------------------------------------- all
def test_metrics_keys_order_and_types():
    piece = excerpts(1)[0]
    values = m.metrics(piece)
    assert tuple(values) == m.METRIC_NAMES
    assert m.METRIC_NAMES[-len(RATE_NAMES) :] == RATE_NAMES
    assert all(isinstance(v, float) for v in values.values())
    assert all(math.isfinite(v) for v in values.values())
    for name in m.METRIC_NAMES[: -len(RATE_NAMES)]:
        assert close(values[name], getattr(m, name)(piece))


def test_no_notes():
    empty = Piece((Part("Melody"),))
    values = m.metrics(empty)
    undefined = {name for name, v in values.items() if math.isnan(v)}
    assert undefined == {
        "pitch_range",
        "polyphony",
        "pitch_class_entropy",
        "scale_consistency",
        "empty_beat_rate",
        "groove_consistency",
        "repeated_bars",
        "tonic_ending",
        "mean_pitch",
        "notes_per_bar",
    }
    assert values["n_pitch_classes_used"] == values["longest_bar_loop"] == 0.0
    rests = m.metrics(empty.replace(length=64))  # four bars of rests
    assert rests["notes_per_bar"] == 0.0 and rests["repeated_bars"] == 0.0


def test_transposition_changes_only_pitch_height():
    pitch_dependent = {"mean_pitch", "out_of_range_per_8_bars"}
    for piece in excerpts(2):
        before = m.metrics(piece)
        for semitones in (-5, 2, 7):
            after = m.metrics(piece.transpose(semitones))
            assert after["mean_pitch"] == pytest.approx(before["mean_pitch"] + semitones)
            for name in m.METRIC_NAMES:
                if name not in pitch_dependent:
                    assert close(after[name], before[name]), (piece.title, semitones, name)
