"""Roman numerals (musewidgets.analysis.harmony) against a hand-checked analysis of a Bach phrase."""

from __future__ import annotations

from musewidgets.analysis.harmony import Label, beat_steps, by_bar, figure, roman_numerals
from musewidgets.datasets import corpus
from musewidgets.piece import Note, Part, Piece


def test_the_opening_of_bwv_269_is_labelled_as_a_musician_labels_it():
    """'Aus meines Herzens Grunde', G major, 3/4, a quarter's pickup. By hand, the chord at each beat's start:
    pickup G-B-D-G (I); bar 1: G-B-D-G (I), E-C-E-G (C major over its third: IV6), F#-A-D-D (D major over its third:
    V6); bar 2: G-G-D-B (I), D-F#-D-B (B minor over its third: iii6), E-G-B-G (vi)."""
    chorale = corpus.load_style("chorale", progress=False).get("bach/bwv269.mxl")
    labels = [x for x in roman_numerals(chorale) if x.bar <= 2]
    assert [x.figure for x in labels] == ["I", "I", "IV6", "V6", "I", "iii6", "vi"]
    assert (labels[0].bar, labels[0].beat) == (0, 3) and (labels[3].bar, labels[3].beat) == (1, 3)
    assert by_bar(labels) == "bar 0: I | bar 1: I IV6 V6 | bar 2: I iii6 vi"


def test_a_cadence_in_a_minor_key_with_its_raised_leading_note():
    # i - iv - V7 - i in D minor, whole bars: D-F-A, G-Bb-D, A-C#-E-G, D-F-A
    chords = [(50, 57, 62, 65), (43, 58, 62, 67), (45, 57, 61, 67), (50, 57, 62, 65)]
    parts = [Part(f"v{v}", tuple(Note(c[v], 16 * i, 16) for i, c in enumerate(chords))) for v in range(4)]
    labels = roman_numerals(Piece(parts=tuple(parts), key="D minor"))
    assert [x.figure for x in labels[::4]] == ["i", "iv", "V7", "i"]


def test_a_melody_alone_and_a_beat_of_one_pitch_class_get_no_label():
    melody = Piece(parts=(Part("m", tuple(Note(60 + i, 4 * i, 4) for i in range(8))),), key="C major")
    assert roman_numerals(melody) == []
    octaves = Piece(parts=(Part("a", (Note(72, 0, 16),)), Part("b", (Note(60, 0, 16),))), key="C major")
    assert roman_numerals(octaves) == []


def test_the_beat_of_a_compound_metre_is_a_dotted_quarter():
    one = (Part("m", (Note(60, 0, 4),)),)
    assert beat_steps(Piece(parts=one, time_signature=(6, 8))) == 6
    assert beat_steps(Piece(parts=one, time_signature=(3, 4))) == 4
    assert beat_steps(Piece(parts=one, time_signature=(3, 8))) == 2
    assert Label(1, 1, 0, "I").figure == "I"


def test_chords_are_figured_as_a_harmony_class_writes_them():
    d_minor, c_major = (2, "minor"), (0, "major")
    assert figure([49, 55, 58, 64], *d_minor) == "viio7"  # C#-E-G-Bb: the leading note is the root
    assert figure([55, 61, 64, 70], *d_minor) == "viio43"  # the same over G
    assert figure([46, 58, 62, 65], *d_minor) == "VI"  # B flat major is the key's own sixth degree
    assert figure([52, 55, 58, 62], *d_minor) == "iiø7"
    assert figure([53, 57, 60, 62], *c_major) == "ii65"
    assert figure([55, 59, 62, 65], *c_major) == "V7" and figure([53, 55, 59, 62], *c_major) == "V42"
    assert figure([58, 62, 65, 70], *c_major) == "bVII" and figure([48, 52, 56], *c_major) == "I+"
    assert figure([60, 72], *c_major) is None


def test_analyse_shows_the_numerals_bar_by_bar_for_voices_not_for_a_melody():
    from musewidgets.widgets.analysis import AnalysisPanel

    panel = AnalysisPanel()
    panel.show(corpus.load_style("chorale", progress=False).get("bach/bwv269.mxl"), "chorale")
    shown = panel.summary.value
    assert "Harmony</b> (Roman numerals in G major): bar 0: I | bar 1: I IV6 V6 | bar 2: I iii6 vi" in shown
    panel.show(corpus.load_style("folk", progress=False).pieces[0], "folk")
    assert "Harmony" not in panel.summary.value
