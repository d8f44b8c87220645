import numpy as np
import pytest

from musewidgets.piece import Note, Part, Piece, concatenate, pitch_name, transpose_key


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pitch": 128, "start": 0, "duration": 1}, "pitch"),
        ({"pitch": -1, "start": 0, "duration": 1}, "pitch"),
        ({"pitch": 60, "start": -1, "duration": 1}, "start"),
        ({"pitch": 60, "start": 0, "duration": -2}, "duration"),
        ({"pitch": 60, "start": 0, "duration": 0}, "duration"),
        ({"pitch": 60, "start": 0, "duration": 1, "velocity": 0}, "velocity"),
    ],
)
def test_note_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        Note(**kwargs)


def test_note_rejects_non_integers():
    with pytest.raises(TypeError, match="`start`"):
        Note(60, 0.5, 1)


def test_piece_validation():
    part = Part("p", (Note(60, 0, 4),))
    with pytest.raises(ValueError, match="`parts`"):
        Piece(())
    with pytest.raises(ValueError, match="`tempo`"):
        Piece((part,), tempo=0)
    with pytest.raises(ValueError, match="`time_signature`"):
        Piece((part,), time_signature=(4, 3))
    with pytest.raises(ValueError, match="`pickup`"):
        Piece((part,), pickup=16)
    with pytest.raises(ValueError, match="`key`"):
        Piece((part,), key="H dur")
    with pytest.raises(ValueError, match="`program`"):
        Part("p", program=128)
    with pytest.raises(ValueError, match=r"`range\[1\]`"):
        Part("p", range=(60, 50))


def test_parts_keep_notes_sorted():
    part = Part("p", (Note(64, 4, 1), Note(60, 0, 1), Note(55, 0, 1)))
    assert [(n.start, n.pitch) for n in part.notes] == [(0, 55), (0, 60), (4, 64)]
    assert not part.is_monophonic
    assert Part("m", (Note(60, 0, 4), Note(62, 4, 4))).is_monophonic


def test_bars_with_pickup(piece):
    assert piece.steps_per_bar == 12
    assert piece.pickup == 4
    assert piece.end == 28
    assert piece.n_bars == 2  # the pickup does not count, as in printed music
    assert piece.bar_start(1) == 16
    assert piece.seconds_per_step == pytest.approx(60 / 90 / 4)


def test_transpose_moves_notes_key_and_ranges():
    piece = Piece((Part("p", (Note(60, 0, 4),), range=(55, 70)),), key="F# minor")
    up = piece.transpose(3)
    assert up.parts[0].notes[0].pitch == 63
    assert up.parts[0].range == (58, 73)
    assert up.key == "A minor"
    assert piece.transpose(-1).key == "F minor"
    assert transpose_key("Bb major", 2) == "C major"
    with pytest.raises(ValueError, match="MIDI range"):
        piece.transpose(70)


def test_slice_bars_clips_and_rebases(piece):
    bar1 = piece.slice_bars(1, 2)
    assert bar1.pickup == 0
    # bar 1 spans steps 16..28: D5 (12..18) is clipped to 16..18, then C5 and B4
    assert [(n.pitch, n.start, n.duration) for n in bar1.parts[0].notes] == [(74, 0, 2), (72, 2, 2), (71, 4, 8)]
    assert [(n.pitch, n.start, n.duration) for n in bar1.parts[1].notes] == [(47, 0, 12)]
    with_pickup = piece.slice_bars(-1, 1)
    assert with_pickup.pickup == 4 and with_pickup.end == 16
    with pytest.raises(ValueError, match="`stop`"):
        piece.slice_bars(1, 1)


def test_concatenate_aligns_bar_lines(piece):
    both = concatenate([piece, piece])
    assert both.n_notes == 2 * piece.n_notes
    # the second copy's pickup (4 steps) fits into the first copy's last bar only if that bar has room:
    # the first copy ends at step 28 = a full bar line, so the pickup starts a new bar at 28 + 12 - 4 = 36
    second = [n for n in both.parts[0].notes if n.start >= 28]
    assert second[0].start == 36
    assert (second[1].start - both.pickup) % both.steps_per_bar == 0  # the downbeat lands on a bar line
    with pytest.raises(ValueError, match="time_signature"):
        concatenate([piece, piece.replace(time_signature=(4, 4), pickup=0)])


def test_pianoroll_round_trip_keeps_repeated_notes(piece):
    roll = piece.to_pianoroll()
    onsets = piece.to_pianoroll(onsets=True)
    assert roll.shape == (2, 28, 128) and roll.dtype == bool
    assert roll[0, 4:12, 71].all() and onsets[0, 8, 71]
    back = Piece.from_pianoroll(roll, onsets=onsets, names=["Melody", "Bass"], programs=[73, 32])
    for a, b in zip(piece.parts, back.parts):
        assert [(n.pitch, n.start, n.duration) for n in a.notes] == [(n.pitch, n.start, n.duration) for n in b.notes]
    merged = Piece.from_pianoroll(roll[0])  # without onsets the repeated B4 merges into one long note
    assert len(merged.parts[0].notes) == len(piece.parts[0].notes) - 1
    assert np.array_equal(piece.to_pianoroll(part=1), roll[1])


def test_from_pianoroll_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        Piece.from_pianoroll(np.zeros((4, 88), dtype=bool))


def test_readable_reprs(piece):
    assert repr(piece.parts[0].notes[0]) == "Note(G4, start=0, duration=4)"
    assert "2 parts" in repr(piece) and "3/4" in repr(piece)
    assert pitch_name(60) == "C4" and pitch_name(61) == "C#4"
