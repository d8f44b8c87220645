"""Token and roll codecs: exact round trips, refusals, robustness of decode, conditioning and storage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musewidgets.codecs import (
    BOS,
    HOLD,
    PAD,
    PITCH0,
    REST,
    RollCodec,
    TokenCodec,
    codec_from_dict,
)
from musewidgets.codecs.roll import CHANNELS
from musewidgets.datasets import corpus
from musewidgets.errors import UnknownStyleError
from musewidgets.piece import Note, Part, Piece

from .conftest import make_piece


def _mono_piece(*, style: str | None = None) -> Piece:
    """The conftest piece (3/4, pickup of 4 steps) with a single-line bass."""
    melody = make_piece().parts[0]
    melody = Part(
        melody.name, tuple(Note(n.pitch, n.start, n.duration) for n in melody.notes), program=73
    )  # velocity 80
    bass = Part("Bass", (Note(43, 4, 12), Note(47, 16, 12)), program=32, range=(36, 64))
    return make_piece().replace(parts=(melody, bass), style=style)


# ----------------------------------------------------------------------------- TokenCodec round trips


def _to_bar_line(piece):
    """What decoding gives back: the piece, ending at the bar line after its last note (tokens fill whole bars)."""
    return piece.replace(length=piece.bar_start(piece.n_bars))


@pytest.mark.parametrize("style", ["chorale", "folk", "irish", "renaissance"])
def test_decode_encode_round_trips_every_corpus_piece(style):
    codec = TokenCodec()
    pieces = corpus.load_style(style, progress=False).pieces
    assert len(pieces) > 300
    mismatched = []
    for i, piece in enumerate(pieces):
        enc = codec.encode(piece)
        assert len(enc.tokens) == len(enc.voice) == len(enc.bar_pos) == piece.bar_start(piece.n_bars) * len(piece.parts)
        if codec.decode(enc.tokens, enc.header) != _to_bar_line(piece):
            mismatched.append(i)
    assert mismatched == []


def test_round_trip_keeps_header_fields_and_repeated_notes():
    piece = _mono_piece(style="folk")
    codec = TokenCodec()
    enc = codec.encode(piece)
    back = codec.decode(enc.tokens, enc.header)
    assert back == _to_bar_line(piece)
    # velocities are not encoded: decoded notes get 80, as in the corpus
    loud = piece.replace(parts=(Part("Melody", (Note(60, 0, 4, velocity=100),)), piece.parts[1]))
    assert codec.decode(codec.encode(loud).tokens, codec.encode(loud).header).parts[0].notes[0].velocity == 80
    # two struck B4s in a row stay two notes
    assert [n.pitch for n in back.parts[0].notes][:3] == [67, 71, 71]
    # the header is JSON-friendly
    assert json.loads(json.dumps(enc.header)) == enc.header


def test_encode_rejects_polyphonic_parts(piece):
    with pytest.raises(ValueError, match="Bass"):
        TokenCodec().encode(piece)


def test_encode_rejects_too_many_voices():
    part = Part("V", (Note(60, 0, 4),))
    five = Piece(tuple(Part(f"V{i}", part.notes) for i in range(5)))
    with pytest.raises(ValueError, match="5 parts"):
        TokenCodec().encode(five)
    # four is fine, and a codec allowing fewer refuses four
    TokenCodec().encode(Piece(five.parts[:4]))
    with pytest.raises(ValueError):
        TokenCodec(max_voices=2).encode(Piece(five.parts[:3]))


def test_encode_rejects_other_grid_and_unknown_style():
    with pytest.raises(ValueError, match="grid"):
        TokenCodec().encode(Piece((Part("A", (Note(60, 0, 8),)),), steps_per_quarter=8))
    with pytest.raises(UnknownStyleError):
        TokenCodec().encode(_mono_piece(style="jazz"))


def test_token_layout_is_interleaved_by_step():
    enc = TokenCodec().encode(_mono_piece())
    grid = enc.tokens.reshape(-1, 2)  # (steps, voices)
    assert grid[0].tolist() == [PITCH0 + 67, REST]  # the pickup: melody sounds, bass rests
    assert grid[1:4, 0].tolist() == [HOLD] * 3
    assert grid[4].tolist() == [PITCH0 + 71, PITCH0 + 43]
    assert grid[8, 0] == PITCH0 + 71  # repeated pitch is struck again, not held
    assert grid[15, 1] == HOLD and grid[16, 1] == PITCH0 + 47
    assert grid[-1].tolist() == [HOLD, HOLD]


# ----------------------------------------------------------------------------- decode robustness


def _one_voice_header(**extra) -> dict:
    header = {
        "parts": [["Melody", 73, None]],
        "tempo": 100.0,
        "time_signature": [4, 4],
        "key": None,
        "pickup": 0,
        "style": None,
        "title": None,
    }
    return header | extra


def test_decode_reads_stray_hold_bos_and_pad_as_rests():
    tokens = [
        HOLD,  # HOLD at the very start: a rest
        BOS,  # BOS: a rest
        PITCH0 + 60,
        HOLD,
        PAD,  # PAD ends the note, as a rest
        HOLD,  # HOLD after a rest: a rest
        PITCH0 + 62,
        PITCH0 + 62,
        HOLD,
        REST,
        HOLD,  # HOLD after REST: a rest
        BOS,
    ]
    piece = TokenCodec().decode(np.array(tokens), _one_voice_header())
    assert [(n.pitch, n.start, n.duration) for n in piece.parts[0].notes] == [(60, 2, 2), (62, 6, 1), (62, 7, 2)]


def test_decode_of_only_non_notes_gives_an_empty_part():
    piece = TokenCodec().decode([HOLD, PAD, BOS, REST, HOLD], _one_voice_header())
    assert piece.parts[0].notes == ()


def test_decode_holds_a_note_to_the_end_and_checks_length():
    codec = TokenCodec()
    piece = codec.decode([PITCH0 + 60, HOLD, HOLD], _one_voice_header())
    assert [(n.pitch, n.start, n.duration) for n in piece.parts[0].notes] == [(60, 0, 3)]
    two = _one_voice_header(parts=[["A", 0, None], ["B", 0, None]])
    with pytest.raises(ValueError):
        codec.decode([PITCH0 + 60, HOLD, HOLD], two)


# ----------------------------------------------------------------------------- conditioning


def test_conditioning_arrays_with_a_pickup():
    piece = _mono_piece(style="folk")  # 3/4 = 12 steps a bar, pickup of 4 steps, 2 voices
    enc = TokenCodec().encode(piece)
    n_steps = 4 + 2 * 12
    assert len(enc.tokens) == n_steps * 2
    assert enc.voice.tolist() == [0, 1] * n_steps
    expected_pos = [(t - 4) % 12 for t in range(n_steps)]
    assert expected_pos[:6] == [8, 9, 10, 11, 0, 1]
    assert enc.bar_pos.tolist() == [p for p in expected_pos for _ in range(2)]
    assert enc.bar_pos[4 * 2] == 0  # the first bar line
    assert enc.metre == 2  # (3, 4) is the second known metre; 0 means "other"
    assert enc.style == 1  # "folk" in the default styles
    assert TokenCodec().encode(_mono_piece()).style == 0  # no style
    other = _mono_piece().replace(time_signature=(7, 8), pickup=0)
    assert TokenCodec().encode(other).metre == 0


def test_long_bars_wrap_the_bar_position():
    codec = TokenCodec(max_bar_steps=8)
    voice, bar_pos = codec.positions(n_steps=14, n_voices=1, steps_per_bar=12, pickup=0)
    assert bar_pos.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 0, 1]
    assert voice.tolist() == [0] * 14


# ----------------------------------------------------------------------------- RollCodec


def test_roll_and_tokens_round_trip():
    rng = np.random.default_rng(0)
    grid = rng.choice([REST, HOLD, PITCH0, PITCH0 + 60, PITCH0 + 127], size=(3, 20))
    roll = RollCodec.to_roll(grid)
    assert roll.shape == (3, 20, CHANNELS) and roll.dtype == np.float32
    assert np.array_equal(roll.sum(axis=-1), np.ones((3, 20)))
    assert roll[0, 0, {REST: 0, HOLD: 1}.get(grid[0, 0], grid[0, 0] - PITCH0 + 2)] == 1
    assert np.array_equal(RollCodec.to_tokens(roll), grid)


def test_roll_decode_gives_the_piece_back():
    piece = corpus.load_style("chorale", progress=False).pieces[0]
    codec = RollCodec()
    enc = codec.tokens.encode(piece)
    roll = codec.to_roll(enc.tokens.reshape(-1, 4).T)
    assert codec.decode(roll, enc.header) == _to_bar_line(piece)


def test_phrases_shape_and_padding_of_missing_voices():
    codec = RollCodec()
    chorale = corpus.load_style("chorale", progress=False).pieces[0]
    phrases = codec.phrases(chorale)
    n_steps = chorale.bar_start(chorale.n_bars)
    expected = len(range(chorale.pickup, n_steps - 64 + 1, chorale.steps_per_bar))
    assert expected > 0
    assert phrases.shape == (expected, 4, 64, CHANNELS)
    assert np.array_equal(phrases.sum(axis=-1), np.ones(phrases.shape[:-1]))
    # the first phrase starts at the first bar line: its tokens are the piece's tokens from there
    grid = codec.tokens.encode(chorale).tokens.reshape(-1, 4)
    first = grid[chorale.pickup : chorale.pickup + 64].T
    assert np.array_equal(RollCodec.to_tokens(phrases[0]), first)

    folk = next(p for p in corpus.load_style("folk", progress=False).pieces if p.bar_start(p.n_bars) >= 80)
    fp = codec.phrases(folk, hop=16)
    assert fp.shape[1:] == (4, 64, CHANNELS) and len(fp) >= 1
    assert (fp[:, 1:, :, 0] == 1).all()  # voices the piece lacks only rest
    assert fp[:, 0, :, 2:].sum() > 0  # the melody has notes


def test_phrases_of_a_short_piece_is_empty():
    short = _mono_piece()
    assert RollCodec().phrases(short).shape == (0, 4, 64, CHANNELS)


# ----------------------------------------------------------------------------- storage


@pytest.mark.parametrize(
    "codec",
    [
        TokenCodec(),
        TokenCodec(styles=("a", "b"), max_voices=2, steps_per_quarter=2, max_bar_steps=24),
        RollCodec(),
        RollCodec(styles=("x",), voices=2, steps=32),
    ],
)
def test_codec_dict_round_trip(codec):
    data = codec.to_dict()
    data = json.loads(json.dumps(data))  # stored as JSON-friendly containers
    assert data["kind"] == ("tokens" if isinstance(codec, TokenCodec) else "roll")
    assert type(codec).from_dict(data) == codec
    rebuilt = codec_from_dict(data)
    assert type(rebuilt) is type(codec) and rebuilt == codec
    assert isinstance(rebuilt.styles, tuple)


def test_codec_from_dict_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown codec kind"):
        codec_from_dict({"kind": "wav"})
    with pytest.raises(ValueError):
        codec_from_dict({})
