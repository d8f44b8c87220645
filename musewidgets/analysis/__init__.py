"""Listening to pieces: pure functions of a :class:`~musewidgets.piece.Piece` that return plain values."""
