import io as stdio
import warnings

import pretty_midi
import pytest
from music21 import corpus as m21corpus

from musewidgets import MusewidgetsError, MusicFileError, QuantizationWarning, io
from musewidgets.piece import Note, Part, Piece

from .conftest import make_piece


def notes_of(piece):
    return [[(n.pitch, n.start, n.duration) for n in p.notes] for p in piece.parts]


@pytest.mark.parametrize("suffix", [".mid", ".musicxml", ".xml", ".mxl"])
def test_write_read_round_trip(tmp_path, piece, suffix):
    path = io.write(piece, tmp_path / f"tiny{suffix}")
    back = io.read(path)
    assert notes_of(back) == notes_of(piece)
    assert [p.name for p in back.parts] == ["Melody", "Bass"]
    assert back.time_signature == (3, 4)
    assert back.key == "G major"
    assert back.tempo == pytest.approx(90)
    if suffix != ".mid":  # MIDI has no notion of a pickup bar
        assert back.pickup == piece.pickup


def test_midi_keeps_programs_and_velocities(tmp_path, piece):
    path = io.write(piece, tmp_path / "tiny.mid")
    pm = pretty_midi.PrettyMIDI(str(path))
    assert [i.program for i in pm.instruments] == [73, 32]
    back = io.read(path)
    assert [p.program for p in back.parts] == [73, 32]
    assert back.parts[0].notes[1].velocity == 100


def test_real_chorale_matches_music21():
    path = m21corpus.getWork("bach/bwv66.6")
    piece = io.read(path)
    score = m21corpus.parse("bach/bwv66.6").stripTies()
    expected = sum(len(p.flatten().notes) for p in score.parts)
    assert len(piece.parts) == 4
    assert piece.n_notes == expected
    assert [p.name for p in piece.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert piece.key == "F# minor" and piece.time_signature == (4, 4) and piece.pickup == 4


def test_read_from_bytes_detects_the_format(tmp_path, piece):
    for suffix in (".mid", ".musicxml", ".mxl"):
        data = io.write(piece, tmp_path / f"x{suffix}").read_bytes()
        assert notes_of(io.read(data)) == notes_of(piece)


ABC_TWO_TUNES = b"""X:1
T:First
M:2/4
L:1/8
K:D
d2 f2 | a4 |]

X:2
T:Second
M:2/4
L:1/8
K:G
G2 B2 | d4 |]
"""


def test_abc_book_reads_every_tune():
    pieces = io.read_all(ABC_TWO_TUNES, name="book.abc")
    assert [p.title for p, _ in pieces] == ["First", "Second"]
    assert [n.pitch for n in pieces[1][0].parts[0].notes] == [67, 71, 74]
    with pytest.warns(QuantizationWarning, match="2 tunes"):
        first = io.read(ABC_TWO_TUNES, name="book.abc")
    assert first.title == "First" and first.key == "D major"


def test_quantization_reports_what_moved():
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    # 120 qpm: a quarter is 0.5 s; a sixteenth 0.125 s. A triplet eighth at 1/3 of a quarter is off the grid.
    inst.notes.append(pretty_midi.Note(80, 60, 0.0, 0.5))
    inst.notes.append(pretty_midi.Note(80, 62, 0.5 + 1 / 6, 0.5 + 2 / 6))
    pm.instruments.append(inst)
    buf = stdio.BytesIO()
    pm.write(buf)
    piece, report = io.read_with_report(buf.getvalue(), name="triplet.mid")
    assert report.onsets_moved == 1
    assert report.changed
    assert "1 note starts moved to the nearest sixteenth" in str(report)
    assert [n.start for n in piece.parts[0].notes] == [0, 5]
    with pytest.warns(QuantizationWarning, match="triplet.mid"):
        io.read(buf.getvalue(), name="triplet.mid")


def test_clean_file_reads_without_warning(tmp_path, piece):
    path = io.write(piece, tmp_path / "clean.musicxml")
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuantizationWarning)
        io.read(path)


def _midi_without_notes() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=0))
    buf = stdio.BytesIO()
    pm.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.mid", b"", "empty"),
        ("blank.abc", b"   \n\n", "empty"),
        ("truncated.mid", None, "not a readable MIDI file"),
        ("noise.mid", bytes(range(256)) * 4, "not a readable MIDI file"),
        ("noise.bin", bytes(range(7, 256)) * 4, "unsupported file type '.bin'|unrecognised content"),
        ("noise.abc", bytes(range(7, 256)) * 4, "no notes|not a readable ABC file"),
        ("fake.musicxml", b"<html><body>hello</body></html>", "not a readable MUSICXML file"),
        ("broken.mxl", b"PK\x03\x04 not really a zip", "not a readable MXL file"),
        ("silent.mid", _midi_without_notes(), "no notes"),
        ("silent.abc", b"X:1\nT:Nothing\nM:4/4\nK:C\n", "no notes"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else "",
)
def test_bad_input_raises_one_clear_error(tmp_path, piece, name, data, reason):
    if data is None:  # the first half of a real MIDI file
        full = io.write(piece, tmp_path / "full.mid").read_bytes()
        data = full[: len(full) // 2]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(MusicFileError, match=reason) as info:
        io.read(path)
    assert name in str(info.value)
    assert isinstance(info.value, MusewidgetsError) and isinstance(info.value, ValueError)
    with pytest.raises(MusicFileError, match=reason):  # the same bytes as an upload
        io.read(data, name=name)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(MusicFileError, match="cannot open"):
        io.read(tmp_path / "nope.mid")
    (tmp_path / "song.txt").write_text("hello")
    with pytest.raises(MusicFileError, match="unsupported file type '.txt'"):
        io.read(tmp_path / "song.txt")
    with pytest.raises(TypeError, match="`source`"):
        io.read(42)


def test_write_refuses_unknown_suffix_and_leaves_no_file(tmp_path, piece):
    with pytest.raises(MusicFileError, match="cannot write .wav"):
        io.write(piece, tmp_path / "x.wav")
    assert list(tmp_path.iterdir()) == []


def test_stream_round_trip_without_files(piece):
    stream = io.to_stream(piece)
    assert len(stream.parts) == 2
    assert notes_of(io.from_stream(stream)) == notes_of(piece)


def test_polyphonic_part_survives_musicxml(tmp_path):
    piano = Part("Piano", (Note(60, 0, 8), Note(64, 0, 4), Note(67, 4, 12)))
    piece = Piece((piano,))
    back = io.read(io.write(piece, tmp_path / "poly.musicxml"))
    assert notes_of(back) == notes_of(piece)


def test_drums_are_dropped_and_reported():
    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0, 0.25))
    keys = pretty_midi.Instrument(program=0)
    keys.notes.append(pretty_midi.Note(100, 60, 0, 0.5))
    pm.instruments += [drums, keys]
    buf = stdio.BytesIO()
    pm.write(buf)
    piece, report = io.read_with_report(buf.getvalue(), name="band.mid")
    assert len(piece.parts) == 1 and report.drum_notes_dropped == 1


def test_pickup_measure_is_written_as_an_anacrusis(tmp_path):
    piece = make_piece()
    stream = io.to_stream(piece)
    first = stream.parts[0].getElementsByClass("Measure").first()
    assert first.number == 0
    assert first.paddingLeft == 2.0  # a quarter-note pickup in 3/4


def test_notation_spells_for_the_key_and_picks_clefs_by_range():
    from music21 import clef

    piece = io.read(m21corpus.getWork("bach/bwv66.6"))  # F# minor
    score = io.to_stream(piece)
    names = {p.name for n in score.flatten().notes for p in n.pitches}
    assert "E#" in names and "F" not in names  # the leading tone, not a natural F
    clefs = [type(part.recurse().getElementsByClass(clef.Clef).first()) for part in score.parts]
    assert clefs == [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]
