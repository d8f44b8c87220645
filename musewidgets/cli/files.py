"""The command line's files: every output a command was given is checked before any work, so that a path that
cannot be written fails in a second, not after the table, the training or the take it was to hold; music is read
with what reading changed noted, and pieces are saved by suffix.

A command names its outputs once, where its parser is built (``set_defaults(writes={"json": FILE})``), and
:func:`check_outputs` checks them all before the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "EXISTING_FOLDER",
    "FILE",
    "FOLDER",
    "MUSIC",
    "check_existing_folder",
    "check_folder",
    "check_outputs",
    "read_music_arg",
    "save",
]

MUSIC = "music"  # a piece, in the format its suffix names (.mid, .wav, .svg ...)
FILE = "file"  # a file of any suffix (JSON, markdown)
FOLDER = "folder"  # a folder, made if missing
EXISTING_FOLDER = "existing folder"  # a folder that must be there already (of model cards, say)


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, every output of ``args.writes`` (option name -> kind) that cannot be written."""
    from .. import export

    check = {
        MUSIC: export.check_exportable,
        FILE: export.check_destination,
        FOLDER: check_folder,
        EXISTING_FOLDER: check_existing_folder,
    }
    for dest, kind in getattr(args, "writes", {}).items():
        given = getattr(args, dest, None)
        for path in given if isinstance(given, list) else [] if given is None else [given]:
            check[kind](path)


def check_folder(path: str | os.PathLike) -> Path:
    """``path`` if it is a folder that can be written to, or can be made (with its parents); else raise
    :class:`~musewidgets.errors.MusicFileError` naming why."""
    from ..errors import MusicFileError

    path = Path(path)
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise MusicFileError(f"{existing}: is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MusicFileError(f"{path}: cannot write there: permission denied")
    return path


def check_existing_folder(path: str | os.PathLike) -> Path:
    """``path`` if it is a folder there already that can be written to; else raise
    :class:`~musewidgets.errors.MusicFileError` naming why."""
    from ..errors import MusicFileError

    if not Path(path).exists():
        raise MusicFileError(f"{path}: no such folder")
    return check_folder(path)


def save(piece, outputs: Sequence[str | Path]) -> None:
    """Save ``piece`` to every output (by suffix), saying each one written."""
    from .. import export

    for out in outputs:
        export.save(piece, out)
        print(f"wrote {out}")


def read_music_arg(text: str):
    """The piece a command's input names: a music file, or a melody in ABC typed in its place (as the Workbench's
    Harmonize box takes it); what reading changed or remarked goes to stderr as a ``note:`` line."""
    from .. import io

    if io.looks_like_abc(text):
        piece, report = io.read_abc_melody(text, what="the melody given in place of a file")
    else:
        piece, report = io.read_with_report(text)
    if report.changed or report.remarks:
        print(f"note: {report}", file=sys.stderr)
    return piece
