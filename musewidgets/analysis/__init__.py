"""Listening to pieces: pure functions of a :class:`~musewidgets.piece.Piece` that return plain values."""

from .keys import estimate_key, key_scores

__all__ = ["estimate_key", "key_scores"]
