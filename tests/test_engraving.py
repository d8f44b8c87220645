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
