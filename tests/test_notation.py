"""Scores a musician trusts: printed rests, full measures, pickups, ties, keys and exact lengths.

Each check re-reads what we write (with music21 and our reader) or engraves it with verovio, rather than trusting
the writer.
"""

from __future__ import annotations

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import musewidgets as mw
from musewidgets.engraving import to_svg
from musewidgets.io import read, to_midi, to_musicxml
from musewidgets.keys import estimate_key
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling.guidance import plan_pickup


def _notes(piece: Piece):
    return [[(n.pitch, n.start, n.duration) for n in p.notes] for p in piece.parts]


def _gaps(piece: Piece) -> int:
    """Rests a musician would write: silences between notes of a voice and before the final bar line."""
    count = 0
    bar_lines = {piece.bar_start(k) for k in range(piece.n_bars + 1)}
    end = piece.bar_start(piece.n_bars)
    for part in piece.parts:
        cursor = 0
        for n in part.notes:
            if n.start > cursor:
                # a silence across bar lines is one rest per measure it touches
                count += 1 + sum(1 for b in bar_lines if cursor < b < n.start)
            cursor = max(cursor, n.end)
        if cursor < end:
            count += 1 + sum(1 for b in bar_lines if cursor < b < end)
    return count


def _parse(xml: str):
    from music21 import converter

    return converter.parseData(xml, format="musicxml", forceSource=True)


def _check_measures(piece: Piece, xml: str) -> None:
    """No hidden rest; every measure adds up to the metre; a pickup measure only where the piece has one."""
    assert 'print-object="no"' not in xml
    score = _parse(xml)
    bar = Fraction(piece.steps_per_bar, piece.steps_per_quarter)
    pickup = Fraction(piece.pickup, piece.steps_per_quarter)
    for part in score.parts:
        measures = list(part.getElementsByClass("Measure"))
        assert len(measures) == piece.n_bars + (1 if piece.pickup else 0)
        for i, m in enumerate(measures):
            total = sum(Fraction(e.quarterLength).limit_denominator(1000) for e in m.notesAndRests)
            if len(m.voices):
                total = Fraction(m.voices[0].quarterLength).limit_denominator(1000)
            assert total == (pickup if (piece.pickup and i == 0) else bar), (part.id, m.number, total)
    if piece.pickup:
        assert re.search(r'<measure implicit="yes" number="0">', xml)
    else:
        assert 'number="0"' not in xml


@pytest.fixture(scope="module")
def chorale() -> Piece:
    return mw.load_style("chorale").get("bach/bwv66.6.mxl")


@pytest.fixture(scope="module")
def folk_tune() -> Piece:
    return mw.load_style("folk").get("essenFolksong/altdeu10.abc#2")


@pytest.fixture(scope="module")
def one_voice_take() -> Piece:
    """A generated folk take that has rests inside it (the first of a few seeds that does)."""
    sampler = mw.load_sampler("lstm")
    for seed in range(40):
        [take] = sampler.generate(style="folk", bars=8, seed=seed, temperature=1.3)
        if _gaps(take) >= 2:
            return take
    pytest.fail("no seed in 0..39 gave a folk take with rests")


# ----------------------------------------------------------------------------- rests and measures


def test_corpus_chorale_keeps_its_pickup_and_writes_full_measures(chorale):
    assert chorale.pickup == 4  # one beat
    xml = to_musicxml(chorale)
    _check_measures(chorale, xml)
    again = read(xml.encode(), fmt="musicxml")
    assert _notes(again) == _notes(chorale)
    assert (again.pickup, again.key, again.n_bars) == (chorale.pickup, chorale.key, chorale.n_bars)


def test_folk_tune_rests_are_written_and_engraved(folk_tune):
    expected = _gaps(folk_tune)
    assert expected >= 7  # the example: 7 rests, none of them shown
    xml = to_musicxml(folk_tune)
    _check_measures(folk_tune, xml)
    rests = [r for part in _parse(xml).parts for r in part.recurse().getElementsByClass("Rest")]
    assert len(rests) == expected
    assert not any(r.style.hideObjectOnPrint for r in rests)
    svg = "".join(to_svg(folk_tune))
    assert len(re.findall(r'class="rest"', svg)) == expected


def test_generated_one_voice_take_with_rests_round_trips(one_voice_take):
    take = one_voice_take
    xml = to_musicxml(take)
    _check_measures(take, xml)
    score = _parse(xml)
    assert len(list(score.recurse().getElementsByClass("Rest"))) == _gaps(take)
    again = read(xml.encode(), fmt="musicxml")
    assert _notes(again) == _notes(take)
    assert again.n_bars == take.n_bars == 8
    svg = "".join(to_svg(take))
    assert len(re.findall(r'class="rest"', svg)) == _gaps(take)


def test_notes_across_bar_lines_are_tied_and_read_back_whole():
    # a half note from beat 4 of bar 1 into bar 2, and a note held over three bar lines
    piece = Piece(
        (Part("Melody", (Note(67, 12, 8), Note(72, 24, 40))),),
        key="C major",
        length=64,
    )
    xml = to_musicxml(piece)
    _check_measures(piece, xml)
    assert xml.count('<tie type="start"') == 3 and xml.count('<tie type="stop"') == 3  # 1 + 2 bar lines crossed
    assert _notes(read(xml.encode(), fmt="musicxml")) == _notes(piece)


def test_overlapping_notes_of_one_part_go_to_voices_and_keep_their_timing():
    piece = Piece((Part("Piano", (Note(60, 0, 16), Note(64, 4, 4), Note(67, 8, 8))),), key="C major")
    xml = to_musicxml(piece)
    _check_measures(piece, xml)
    assert sorted(map(tuple, _notes(read(xml.encode(), fmt="musicxml"))[0])) == sorted(_notes(piece)[0])


# ----------------------------------------------------------------------------- keys


def _scale(pitches, **fields) -> Piece:
    return Piece((Part("Melody", tuple(Note(p, 4 * i, 4) for i, p in enumerate(pitches))),), **fields)


def test_c_major_scale_gets_c_major_no_fifths_and_no_accidentals():
    piece = _scale([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 55, 60])
    piece = piece.replace(key=estimate_key(piece))
    assert piece.key == "C major"
    xml = to_musicxml(piece)
    assert "<fifths>0</fifths>" in xml and "<accidental" not in xml and "<alter>" not in xml


def test_e_minor_take_has_one_sharp_and_spells_d_sharp():
    piece = _scale([64, 66, 67, 69, 71, 72, 75, 76, 71, 75, 76, 64, 59, 64])
    piece = piece.replace(key=estimate_key(piece))
    assert piece.key == "E minor"
    xml = to_musicxml(piece)
    assert "<fifths>1</fifths>" in xml
    score = _parse(xml)
    names = {p.nameWithOctave for p in score.pitches}
    assert "D#5" in names and "E-5" not in names
    assert to_midi(piece).key_signature_changes[0].key_number == 12 + 4  # pretty_midi: E minor


def test_key_is_written_as_a_midi_key_signature(tmp_path):
    piece = _scale([65, 67, 69, 70, 72], key="F major")
    path = mw.write(piece, tmp_path / "f.mid")
    import mido

    keys = [m.key for track in mido.MidiFile(path).tracks for m in track if m.type == "key_signature"]
    assert keys == ["F"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert read(path).key == "F major"


def test_f_major_take_spells_b_flat_not_a_sharp():
    piece = _scale([65, 67, 69, 70, 72, 70, 69, 67, 65])
    piece = piece.replace(key=estimate_key(piece))
    assert piece.key == "F major"
    names = {p.name for p in _parse(to_musicxml(piece)).pitches}
    assert "B-" in names and "A#" not in names


def test_estimate_agrees_with_music21_krumhansl(chorale, folk_tune):
    from musewidgets.io import to_stream
    from musewidgets.piece import key_name

    corpus = mw.load_style("chorale")
    pieces = [chorale, folk_tune] + [corpus.get(pid) for pid in corpus.ids[:10]]
    for piece in pieces:
        k = to_stream(piece).analyze("key.krumhansl")
        assert estimate_key(piece) == key_name(k.tonic.pitchClass, k.mode), piece.title


def test_fits_key_agrees_with_music21_s_own_key_finder(chorale, folk_tune):
    from musewidgets.io import to_stream
    from musewidgets.keys import AARDEN_ESSEN, fits_key, key_scores, pitch_class_durations
    from musewidgets.piece import key_name

    modes = ("major", "minor")
    pieces = [chorale, folk_tune] + [mw.load_style("irish").split("test")[i] for i in range(10)]
    both = 0
    for piece in pieces:
        k = to_stream(piece).analyze("key")  # music21's default: Aarden's Essen profiles
        theirs = key_name(k.tonic.pitchClass, k.mode)
        durations = pitch_class_durations(piece)
        r = {
            key_name(t, m): np.corrcoef(np.roll(AARDEN_ESSEN[m], t), durations)[0, 1] for t in range(12) for m in modes
        }
        assert max(r, key=r.get) == theirs, piece.title  # Aarden's profiles are music21's
        fits, score = fits_key(piece, theirs)
        assert fits == (estimate_key(piece) == theirs), piece.title
        assert score == pytest.approx(r[theirs] + key_scores(piece)[theirs])
        both += fits
    assert 0 < both < len(pieces)  # the two key-finders differ on some pieces: the test can tell them apart


def test_fits_key_reads_any_spelling_of_a_key_and_names_a_bad_one():
    from musewidgets.keys import fits_key

    d_flat = _scale([61, 65, 68, 73, 68, 65, 63, 60, 61])
    assert fits_key(d_flat, "C# major") == fits_key(d_flat, "Db major") and fits_key(d_flat, "Db major")[0]
    with pytest.raises(ValueError, match="dorian"):
        fits_key(d_flat, "C dorian")
    assert fits_key(_scale([62, 62, 74]), "D major") == (False, -np.inf)  # one pitch class: no correlation


def test_estimate_key_edge_cases():
    assert estimate_key(Piece((Part("Empty"),))) is None
    assert estimate_key(_scale([62, 62, 74])) == "D major"


@pytest.mark.parametrize("family", ["lstm", "gan"])
def test_every_take_gets_a_key_and_corpus_pieces_keep_theirs(family, chorale):
    sampler = mw.load_sampler(family)
    [take] = sampler.generate(style="chorale", bars=4, seed=3)
    assert take.key is not None and take.key == estimate_key(take)
    assert "<fifths>" in to_musicxml(take)
    if family != "gan":
        primed = sampler.generate(style="chorale", bars=2, seed=3, primer=chorale.slice_bars(0, 2))[0]
        assert primed.key == chorale.key == "F# minor"  # the primer's written key, not an estimate


# ----------------------------------------------------------------------------- exact lengths


def test_transformer_take_ending_in_rests_has_all_eight_bars():
    # the take (seed 2023752058 of the transformer of the time) ended in rests and lost its last bar; the
    # shipped models change, so take the first of a seeded batch that ends in rests
    takes = mw.load_sampler("transformer").generate(
        style="chorale", bars=8, n=16, seed=2023752058, ending=False, pickup=0
    )
    take = next(t for t in takes if t.notes_end < t.end)  # it ends with rests: that was the bug
    assert take.n_bars == 8 and take.end == 128
    assert len(list(_parse(to_musicxml(take)).parts[0].getElementsByClass("Measure"))) == 8


def test_length_is_validated_and_survives_transforms():
    piece = _scale([60, 62], length=32)
    assert (piece.n_bars, piece.end, piece.notes_end) == (2, 32, 8)
    assert piece.transpose(2).n_bars == 2
    assert piece.slice_bars(1).n_bars == 1 and piece.slice_bars(1).n_notes == 0
    assert mw.concatenate([piece, piece]).n_bars == 4
    with pytest.raises(ValueError, match="length"):
        _scale([60, 62], length=7)
    assert Piece.from_pianoroll(piece.to_pianoroll(), length=32).n_bars == 2
    assert Piece.from_pianoroll(piece.to_pianoroll()).end == 32  # a roll's length is its number of steps


_STYLE_VOICES = {"chorale": 4, "folk": 1, "irish": 1, "renaissance": 4}


@pytest.fixture(scope="module")
def samplers():
    return {family: mw.load_sampler(family) for family in ("rnn", "lstm", "transformer", "gan")}


@pytest.fixture(scope="module")
def primers():
    return {style: mw.load_style(style).get(mw.load_style(style).ids[0]) for style in _STYLE_VOICES}


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    family=st.sampled_from(["rnn", "lstm", "transformer", "gan"]),
    style=st.sampled_from(sorted(_STYLE_VOICES)),
    bars=st.integers(1, 32),
    seed=st.integers(0, 2**31 - 1),
    temperature=st.sampled_from([0.0, 0.5, 1.0, 1.5]),
    primer_bars=st.sampled_from([0, 1, 2]),
    more=st.integers(0, 4),
)
def test_takes_have_exactly_the_requested_bars(
    samplers, primers, family, style, bars, seed, temperature, primer_bars, more
):
    sampler = samplers[family]
    primer = None
    if primer_bars and family != "gan":
        source = primers[style]
        primer = source.slice_bars(-1 if source.pickup else 0, primer_bars)  # with its pickup, if it has one
    [take] = sampler.generate(style=style, bars=bars, seed=seed, temperature=temperature, primer=primer)
    expected = bars + (primer.n_bars if primer is not None else 0)
    assert take.n_bars == expected
    assert take.end == take.bar_start(expected)
    if primer is not None:
        assert take.pickup == primer.pickup
    else:  # the upbeat the take's seed draws (the GAN writes whole bars)
        drawn = plan_pickup(style, take.time_signature, seed, temperature == 0) if family != "gan" else 0
        assert take.pickup == drawn
    if more and family != "gan":  # what Continue does: the take is the primer
        [longer] = sampler.generate(style=style, bars=more, seed=seed + 1, temperature=temperature, primer=take)
        assert longer.n_bars == expected + more
        assert _notes(longer.slice_bars(-1 if take.pickup else 0, expected)) == _notes(
            take.slice_bars(-1 if take.pickup else 0, expected)
        )


def test_midi_keeps_trailing_rests_and_the_key(tmp_path):
    piece = _scale([60, 62, 64], key="C major", length=48)  # 3 bars, the last two silent
    path = mw.write(piece, tmp_path / "rests.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = read(path)
    assert (again.n_bars, again.end, again.key) == (3, 48, "C major")
    assert _notes(again) == _notes(piece)
