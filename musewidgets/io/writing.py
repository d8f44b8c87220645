"""Writing a piece to a file, MIDI or MusicXML by the file's suffix (:func:`write`)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import MusicFileError
from ..piece import Piece
from .midi import to_midi
from .streams import to_stream

__all__ = ["WRITE_SUFFIXES", "check_writable", "write"]

WRITE_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl")


def check_writable(path: str | os.PathLike, suffixes: tuple[str, ...] = WRITE_SUFFIXES) -> str:
    """The lower-case suffix of ``path`` if it is one of ``suffixes``; else raise :class:`MusicFileError`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise MusicFileError(
            f"{path.name}: cannot write {suffix or 'a file without suffix'} (use one of {', '.join(suffixes)})"
        )
    return suffix


def write(piece: Piece, path: str | os.PathLike) -> Path:
    """Write a piece to ``.mid``/``.midi`` (pretty_midi) or ``.musicxml``/``.xml``/``.mxl`` (music21), by suffix.

    The file is written to a temporary name first and then renamed, so a failure never leaves half a file.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    suffix = check_writable(path)
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        if suffix in (".mid", ".midi"):
            to_midi(piece).write(str(tmp))
        else:
            to_stream(piece).write("mxl" if suffix == ".mxl" else "musicxml", fp=tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
