"""Save a piece in any format musewidgets makes, chosen by the file's suffix.

============  =============================================  ==================================
suffix        what                                            made by
============  =============================================  ==================================
.mid .midi    Standard MIDI file                              pretty_midi (:mod:`musewidgets.io`)
.musicxml     MusicXML (.xml also; .mxl compressed)           music21 (:mod:`musewidgets.io`)
.wav          48 kHz 16-bit stereo, rendered in one pass      midirenderer (:mod:`musewidgets.audio`)
.svg          engraved score, all pages stacked               verovio (:mod:`musewidgets.engraving`)
.png          piano roll                                      matplotlib (:mod:`musewidgets.plotting`)
============  =============================================  ==================================
"""

from __future__ import annotations

import os
from pathlib import Path

from .piece import Piece

__all__ = ["EXPORT_SUFFIXES", "check_destination", "check_exportable", "save", "to_bytes"]

EXPORT_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".wav", ".svg", ".png")


def check_destination(path: str | os.PathLike) -> Path:
    """``path`` if a file can be written there; else raise :class:`MusicFileError` naming why (a folder that does
    not exist, a folder in the way, no permission). Any suffix: :func:`check_exportable` checks a piece's too."""
    from .errors import MusicFileError

    path = Path(path)
    if not path.parent.is_dir():
        raise MusicFileError(f"{path}: cannot write there: the folder {path.parent} does not exist")
    if path.is_dir():
        raise MusicFileError(f"{path}: cannot write there: it is a folder")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise MusicFileError(f"{path}: cannot write there: permission denied")
    return path


def check_exportable(path: str | os.PathLike) -> str:
    """The lower-case suffix of ``path`` if :func:`save` can write it there; else raise :class:`MusicFileError`
    (an unknown suffix, a folder that does not exist, a folder in the way)."""
    from .io import check_writable

    suffix = check_writable(path, EXPORT_SUFFIXES)
    check_destination(path)
    return suffix


def to_bytes(piece: Piece, suffix: str) -> bytes:
    """The file contents :func:`save` would write for ``suffix`` (e.g. ``'.wav'``), for downloads."""
    from .io import check_writable

    suffix = check_writable(f"piece{suffix}", EXPORT_SUFFIXES)  # the suffix alone: no file is written here
    if suffix == ".wav":
        from .audio import to_wav

        return to_wav(piece, exact=True)
    if suffix == ".svg":
        from .engraving import join_pages, to_svg

        return join_pages(to_svg(piece)).encode("utf-8")
    if suffix == ".png":
        from .plotting import pianoroll_png

        return pianoroll_png(piece)
    if suffix in (".musicxml", ".xml"):
        from .io import to_musicxml

        return to_musicxml(piece).encode("utf-8")
    import tempfile

    from .io import write

    with tempfile.TemporaryDirectory() as tmp:  # MIDI and .mxl are written by their libraries to files
        return write(piece, Path(tmp) / f"piece{suffix}").read_bytes()


def save(piece: Piece, path: str | os.PathLike) -> Path:
    """Write ``piece`` to ``path`` in the format its suffix names (see the table above); atomic."""
    path = Path(path)
    data = to_bytes(piece, check_exportable(path))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as err:  # said of the file asked for, not of its hidden temporary
        raise OSError(err.errno, err.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
