"""Voice-leading faults: exact counts on hand-built pieces, and Bach as a guard against a too-loose definition."""

from __future__ import annotations

import numpy as np
import pytest

from musewidgets.analysis.voice_leading import (
    FAULT_KINDS,
    RATE_NAMES,
    SATB_RANGES,
    Fault,
    crossings,
    faults,
    parallels,
    range_faults,
    spacing_faults,
    voice_leading,
    voice_ranges,
)
from musewidgets.datasets import corpus
from musewidgets.piece import Note, Part, Piece

_NAMES = ("Soprano", "Alto", "Tenor", "Bass")


def voices(*lines, dur: int = 4, pickup: int = 0, ranges=None, **fields) -> Piece:
    """A piece with one part per line, high to low; a line holds pitches (``None`` = rest) of ``dur`` steps each.

    A pitch given as ``(pitch, n)`` lasts ``n * dur`` steps.
    """
    parts = []
    for i, line in enumerate(lines):
        notes, t = [], 0
        for item in line:
            pitch, n = item if isinstance(item, tuple) else (item, 1)
            if pitch is not None:
                notes.append(Note(pitch, t, n * dur))
            t += n * dur
        name = _NAMES[i] if len(lines) == 4 else f"Voice {i + 1}"
        parts.append(Part(name, tuple(notes), range=None if ranges is None else ranges[i]))
    return Piece(tuple(parts), pickup=pickup, **fields)


def kinds(found: list[Fault]) -> list[str]:
    return [f.kind for f in found]


# ------------------------------------------------------------------------------------------------------ parallels
def test_parallel_fifth_counted_once():
    found = parallels(voices([67, 69], [60, 62]))  # C-G -> D-A
    assert found == [Fault("parallel fifth", 4, (0, 1), 0)]


def test_contrary_and_oblique_fifths_are_not_parallels():
    assert parallels(voices([67, 74], [60, 55])) == []  # G4/C4 -> D5/G3: a fifth, a twelfth, contrary motion
    assert parallels(voices([(67, 2)], [60, 48])) == []  # the upper voice holds, the lower leaps an octave
    assert parallels(voices([67, 67], [60, 48])) == []  # re-struck on the same pitch: still no motion


def test_parallel_octaves_unisons_and_compound_intervals():
    assert kinds(parallels(voices([72, 74], [60, 62]))) == ["parallel octave"]  # C4/C5 -> D4/D5
    assert kinds(parallels(voices([60, 62], [60, 62]))) == ["parallel octave"]  # unisons
    assert kinds(parallels(voices([79, 81], [60, 62]))) == ["parallel fifth"]  # twelfths
    assert kinds(parallels(voices([67, 62], [60, 55]))) == ["parallel fifth"]  # both down
    assert parallels(voices([72, 69], [60, 62])) == []  # octave -> fifth
    assert parallels(voices([67, 74], [60, 62])) == []  # fifth -> octave


def test_parallels_between_every_pair_of_voices():
    # soprano and bass in octaves while the alto holds: a fault of the outer pair (0, 2)
    assert parallels(voices([72, 74], [(67, 2)], [60, 62])) == [Fault("parallel octave", 4, (0, 2), 0)]
    # all three in parallel root-position triads without thirds: S-A fifths, S-B octaves, A-B fifths
    found = parallels(voices([72, 74], [67, 69], [60, 62]))
    assert [(f.kind, f.voices) for f in found] == [
        ("parallel octave", (0, 2)),
        ("parallel fifth", (1, 2)),
    ]  # S-A is a fourth, not a fifth


def test_events_passing_notes_and_rests():
    # a passing note in one of the two voices separates the fifths
    assert parallels(voices([67, 68, 69], [(60, 2), 62])) == []
    # a passing note in a third voice does not: both outer voices hold through that event
    assert kinds(parallels(voices([(67, 2), (69, 2)], [64, 65, 64, 65], [(60, 2), (62, 2)]))) == ["parallel fifth"]
    # a rest in one voice while the other moves separates them
    assert parallels(voices([67, None, 69], [60, 55, 62])) == []
    # a rest in all voices makes no event: the fifths on either side are consecutive
    assert kinds(parallels(voices([67, None, 69], [60, None, 62]))) == ["parallel fifth"]


def test_fault_bar_and_step_with_pickup():
    piece = voices([67, 69, 71, 69, 71], [60, 62, 64, 62, 60], pickup=4, dur=2)  # fifths at steps 2, 4 and 6
    found = parallels(piece)
    assert [(f.step, f.bar) for f in found] == [(2, -1), (4, 0), (6, 0)]  # the pickup is bar -1
    assert parallels(voices([67, 69], [60, 62], dur=16))[0].bar == 1


# -------------------------------------------------------------------------------------------- crossings, spacing
def test_crossing_counted_once_while_it_lasts():
    piece = voices([67, 64, 64, 67, 64, 72], [60, 65, 66, 60, 67, 60])  # crossed at events 1-2 and 4
    found = crossings(piece)
    assert [(f.step, f.voices) for f in found] == [(4, (0, 1)), (16, (0, 1))]
    assert crossings(voices([67, 67], [67, 60])) == []  # a unison is not a crossing
    assert [f.step for f in crossings(voices([64, 64], [65, 65]))] == [0]  # crossed from the first event


def test_crossings_of_adjacent_voices_only():
    # the tenor above the alto and the bass above the tenor: two faults, one per adjacent pair
    piece = voices([72], [60], [64], [67])
    assert [f.voices for f in crossings(piece)] == [(1, 2), (2, 3)]


def test_spacing_between_upper_voices_only():
    # S-A 19 semitones apart for three events, then 12 (allowed), then 13 again; T-B always two octaves apart
    piece = voices([79, 79, 79, 72, 73], [60, 60, 60, 60, 60], [55, 55, 55, 55, 55], [31, 31, 31, 31, 31])
    found = spacing_faults(piece)
    assert [(f.step, f.voices) for f in found] == [(0, (0, 1)), (16, (0, 1))]
    assert spacing_faults(voices([72, 74], [48, 50])) == []  # two voices: the lower pair is never checked
    assert [f.voices for f in spacing_faults(voices([72], [67], [50], [40]))] == [(1, 2)]  # alto-tenor


# ------------------------------------------------------------------------------------------------------- ranges
def test_alto_out_of_range():
    piece = voices([84, 76], [80, 67], [55, 55], [48, 48])  # soprano 84 > G5, alto 80 > D5
    found = range_faults(piece)
    assert [(f.step, f.voices) for f in found] == [(0, (0, 0)), (0, (1, 1))]
    assert voice_ranges(piece) == list(SATB_RANGES)


def test_ranges_come_from_parts_first_and_melodies_have_none():
    piece = voices([84, 76], [80, 67], [55, 55], [48, 48], ranges=[(60, 90), None, None, None])
    assert [f.voices for f in range_faults(piece)] == [(1, 1)]
    assert range_faults(voices([20, 120])) == []  # one voice, no range: never out of range
    assert len(range_faults(voices([20, 120, 60], ranges=[(50, 70)]))) == 2


# -------------------------------------------------------------------------------------------------- all, rates
def test_faults_sorted_by_step():
    piece = voices([72, 74, 64, 84], [60, 62, 65, 60], [48, 50, 55, 55], [40, 41, 41, 41])
    found = faults(piece)
    assert [f.step for f in found] == sorted(f.step for f in found)
    assert set(kinds(found)) <= set(FAULT_KINDS)
    assert kinds(found) == [
        "parallel octave",  # S-A at step 4
        "parallel octave",  # S-T at step 4
        "parallel octave",  # A-T at step 4
        "voice crossing",  # A above S at step 8
        "out of range",  # soprano 84 at step 12
        "spacing",  # S-A 24 apart at step 12
    ]


def test_rates_per_8_bars():
    one_fifth = voices([67, 69], [60, 62], length=64)  # 4 bars of 4/4
    rates = voice_leading(one_fifth)
    assert list(rates) == list(RATE_NAMES)
    assert rates["parallel_fifths_per_8_bars"] == 2.0
    assert rates["parallels_per_8_bars"] == 2.0
    assert rates["parallel_octaves_per_8_bars"] == rates["crossings_per_8_bars"] == 0.0
    # a pickup of one beat counts as a quarter of a bar: 2.25 bars
    with_pickup = voices([67, 69], [60, 62], pickup=4, length=36)
    assert voice_leading(with_pickup)["parallel_fifths_per_8_bars"] == pytest.approx(8 / 2.25)
    # shorter than a bar counts as one bar
    assert voice_leading(voices([67, 69], [60, 62]))["parallel_fifths_per_8_bars"] == 8.0


def test_one_voice_and_empty_pieces_have_no_faults():
    melody = voices([60, 67, 60, 67, 96, 20])
    assert faults(melody) == []
    assert set(voice_leading(melody).values()) == {0.0}
    empty = Piece((Part("Melody"),))
    assert faults(empty) == []
    assert set(voice_leading(empty).values()) == {0.0}


def test_bach_has_few_parallels():
    chorales = corpus.load_style("chorale", progress=False).split("test")
    rates = [voice_leading(p) for p in chorales]
    mean = {name: float(np.mean([r[name] for r in rates])) for name in RATE_NAMES}
    print("Bach chorales, test split, per 8 bars:", mean)
    assert mean["parallel_fifths_per_8_bars"] < 0.5
    assert mean["parallel_octaves_per_8_bars"] < 0.5
    assert mean["crossings_per_8_bars"] < 2.0
