import re

import pytest
from music21 import converter

from musewidgets import engraving, io
from musewidgets.piece import Note, Part, Piece


@pytest.fixture
def quartet() -> Piece:
    """Two bars of 4/4 in G major: a melody in quarters, a bass in halves with a chord; no ties."""
    melody = Part("Soprano", tuple(Note(p, 4 * i, 4) for i, p in enumerate([67, 69, 71, 72, 74, 72, 71, 67])))
    bass = Part("Bass", (Note(43, 0, 8), Note(50, 0, 8), Note(48, 8, 8), Note(50, 16, 8), Note(43, 24, 8)))
    return Piece((melody, bass), key="G major", time_signature=(4, 4), title="quartet")


def test_svg_has_a_notehead_per_note_and_the_signatures(quartet):
    pages = engraving.to_svg(quartet)
    assert len(pages) == 1
    svg = pages[0]
    assert svg.count('class="note"') == quartet.n_notes
    assert svg.count('class="clef"') >= 2
    assert 'class="keySig"' in svg and 'class="meterSig"' in svg
    assert 'width="800px"' in svg


def test_width_is_settable_and_output_is_deterministic(quartet):
    narrow = engraving.to_svg(quartet, width=300)
    assert all('width="300px"' in page for page in narrow)
    assert engraving.to_svg(quartet) == engraving.to_svg(quartet)


def test_long_piece_engraves_every_note_across_pages():
    melody = Part("Flute", tuple(Note(60 + (i % 12), 4 * i, 4) for i in range(400)))
    piece = Piece((melody,), title="long")
    pages = engraving.to_svg(piece, width=400)
    assert sum(page.count('class="note"') for page in pages) == 400
    joined = engraving.join_pages(pages)
    assert joined.count('class="note"') == 400


def test_musicxml_read_back_by_music21_has_the_same_pitches(quartet):
    score = converter.parseData(io.to_musicxml(quartet), format="musicxml")
    for part, ours in zip(score.parts, quartet.parts):
        theirs = sorted(p.midi for n in part.flatten().notes for p in n.pitches)
        assert theirs == sorted(n.pitch for n in ours.notes)


def test_bad_options_are_clear(quartet):
    with pytest.raises(ValueError, match="`width`"):
        engraving.to_svg(quartet, width=10)
    with pytest.raises(ValueError, match="`scale`"):
        engraving.to_svg(quartet, scale=0)


def clefs(svg: str) -> list[str]:
    """The SMuFL glyph of every clef engraved, in order (E050 treble, E052 treble 8vb, E062 bass)."""
    return re.findall(r'class="clef"[^>]*>\s*<use[^>]*href="#(E0[0-9A-F]{2})', svg)


@pytest.mark.parametrize("tenor_low", [55, 64])
def test_every_tenor_part_gets_the_tenors_clef_whatever_its_notes(tenor_low):
    """Issue 33: a tenor sitting high got a plain treble clef, and the same notes continued the octave treble clef.
    The voices of a choir get their clefs by name; a part of another name still gets the clef of its range."""
    names = ("Soprano", "Alto", "Tenor", "Bass")
    lows = (72, 67, tenor_low, 48)
    parts = tuple(Part(n, tuple(Note(low + i % 3, 4 * i, 4) for i in range(32))) for n, low in zip(names, lows))
    piece = Piece(parts, key="C major", time_signature=(4, 4), title="choir")
    pages = engraving.to_svg(piece, width=500)
    systems = [clefs(page) for page in pages]
    glyphs = [g for s in systems for g in s]
    assert len(glyphs) >= 8 and glyphs == ["E050", "E050", "E052", "E062"] * (len(glyphs) // 4)  # every system
    assert "<clef-octave-change>-1</clef-octave-change>" in io.to_musicxml(piece)
    high = Piece((Part("Flute", tuple(Note(76 + i % 3, 4 * i, 4) for i in range(8))),), time_signature=(4, 4))
    low = Piece((Part("Cello", tuple(Note(40 + i % 3, 4 * i, 4) for i in range(8))),), time_signature=(4, 4))
    assert clefs(engraving.to_svg(high)[0])[0] == "E050" and clefs(engraving.to_svg(low)[0])[0] == "E062"
