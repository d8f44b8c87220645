"""A short fuzzing run: generated and damaged files through ``read``, random pieces and frames through the codecs.

Only the outcome is checked (a Piece, or a MusicFileError naming the file; a round trip that keeps its input), never
the time. The long run, with timings, is ``python -m benchmarks.fuzz --inputs 10000`` (docs/benchmarks.md).
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.fuzz import (
    abc_files,
    check_frame_round_trip,
    check_token_round_trip,
    frame_arrays,
    monophonic_pieces,
    musicxml_documents,
    mutate,
    random_piece,
    seed_files,
)
from musewidgets import io
from musewidgets.codecs import FrameCodec
from musewidgets.errors import MusicFileError

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _read_or_refuse(data: bytes, name: str | None) -> None:
    """``read`` gives a Piece or a MusicFileError that names the file; any other exception fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QuantizationWarning and music21's own warnings are warnings, not outcomes
        try:
            io.read(data, name=name)
        except MusicFileError as err:
            assert (name or "<bytes>") in str(err)
            assert "failed on it" not in str(err), str(err)  # a parser's internal error, unexplained


@settings(FUZZ, max_examples=120)
@given(monophonic_pieces())
def test_token_codec_round_trips_any_valid_piece(piece):
    check_token_round_trip(piece)


@settings(FUZZ, max_examples=60)
@given(frame_arrays())
def test_frame_codec_round_trips_any_frames(frames):
    check_frame_round_trip(frames)


def test_frames_of_a_length_off_the_bar_line_round_trip():
    # found by fuzzing: encode padded the frames to the bar line, so 5 frames (a bar and a quarter) came back as 8
    codec = FrameCodec()
    frames = np.zeros((5, 88), dtype=np.uint8)
    frames[4, 39] = frames[0, 20] = 1
    assert np.array_equal(codec.encode(codec.decode(frames)), frames)


@settings(FUZZ, max_examples=50)
@given(abc_files())
def test_generated_abc_is_read_or_refused_in_words(data):
    _read_or_refuse(data, "fuzz.abc")


@settings(FUZZ, max_examples=50)
@given(musicxml_documents())
def test_generated_musicxml_is_read_or_refused_in_words(data):
    _read_or_refuse(data, "fuzz.musicxml")


@pytest.fixture(scope="module")
def seeds():
    return seed_files(random.Random(0), n=3)


@pytest.mark.parametrize("fmt", ["midi", "musicxml", "mxl", "abc"])
def test_damaged_files_are_read_or_refused_in_words(seeds, fmt):
    rng = random.Random(fmt)
    suffix = {"midi": ".mid", "musicxml": ".musicxml", "mxl": ".mxl", "abc": ".abc"}[fmt]
    for _ in range(40 if fmt == "midi" else 15):
        data = mutate(rng.choice(seeds[fmt]), rng, seeds[fmt], text=fmt in ("musicxml", "abc"))
        _read_or_refuse(data, f"damaged{suffix}")


def test_random_bytes_are_refused_in_words():
    rng = random.Random(1)
    for magic in (b"", b"MThd", b"PK\x03\x04", b"<score-partwise>", b"X:1\n"):
        for name in (None, "noise.mid", "noise.musicxml", "noise.mxl", "noise.abc"):
            _read_or_refuse(magic + rng.randbytes(rng.choice([16, 512])), name)


def test_pieces_of_the_writer_read_back():
    rng = random.Random(2)
    for _ in range(3):
        piece = random_piece(rng, polyphonic=False)
        _read_or_refuse(io.to_musicxml(piece).encode(), "written.musicxml")
