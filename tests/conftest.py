"""Tiny in-memory fixtures shared by the tests."""

from __future__ import annotations

import pytest

from musewidgets.piece import Note, Part, Piece


def make_piece(*, pickup: int = 0, key: str | None = "G major") -> Piece:
    """Two bars of 3/4 in two parts: a melody with a repeated note and a pickup, and a bass with a chord."""
    melody = Part(
        "Melody",
        (
            Note(67, 0, 4),  # pickup
            Note(71, 4, 4, velocity=100),
            Note(71, 8, 4),  # repeated pitch
            Note(74, 12, 6),
            Note(72, 18, 2),
            Note(71, 20, 8),
        ),
        program=73,
    )
    bass = Part(
        "Bass",
        (Note(43, 4, 12), Note(50, 4, 12), Note(47, 16, 12)),  # a two-note chord, then a held note
        program=32,
    )
    return Piece((melody, bass), time_signature=(3, 4), key=key, pickup=pickup or 4, tempo=90, title="tiny")


def tiny_config(**changes):
    """A TrainConfig for a seconds-long run of a tiny LSTM; keyword arguments override any field."""
    from musewidgets.training import TrainConfig

    base = dict(
        family="lstm",
        styles=("chorale", "folk"),
        minutes=5,
        max_steps=20,
        eval_every=20,
        limit_pieces=10,
        batch_size=8,
        seq_len=64,
        model={"hidden": 32, "layers": 1, "d_embed": 32},
    )
    return TrainConfig(**(base | changes))


@pytest.fixture
def piece() -> Piece:
    return make_piece()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep corpus caches and saved sessions out of the user's folders (a fresh sessions folder per test)."""
    monkeypatch.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("MUSEWIDGETS_SESSION_DIR", str(tmp_path_factory.mktemp("sessions")))
