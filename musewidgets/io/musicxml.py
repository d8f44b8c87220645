"""MusicXML (plain, or compressed as .mxl) and Humdrum, read through music21 (:func:`parse_music21`), what music21
passes over said in words (:func:`musicxml_remarks`, :func:`musicxml_mistake`), and written (:func:`to_musicxml`)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MusicFileError
from ..piece import Piece
from .limits import mxl_score, shown
from .streams import to_stream

if TYPE_CHECKING:  # pragma: no cover
    import music21

__all__ = ["musicxml_mistake", "musicxml_remarks", "parse_music21", "to_musicxml"]

_XML_POSITIVE = {
    "divisions": "a quarter note divided into {} parts",
    "beat-type": "a time signature with {} as its beat",
    "beats": "a time signature of {} beats",
}
_XML_WHOLE = ("beats", "fifths", "octave", "actual-notes", "normal-notes")
_XML_NUMBERS = (*_XML_POSITIVE, "duration", "octave", "alter", "fifths", "per-minute", "actual-notes", "normal-notes")


def musicxml_mistake(data: bytes, fmt: str) -> str | None:
    """A mistake in a MusicXML file (``fmt`` ``'musicxml'``) or .mxl archive (``'mxl'``) that explains why music21
    failed on it, in words: a damaged archive, or a number that is none (``<divisions>0</divisions>``)."""
    xml, problem = mxl_score(data, "") if fmt == "mxl" else (data, None)
    if problem:
        return problem
    for tag in _XML_NUMBERS:
        for text in re.findall(rb"<%s>([^<]*)<" % tag.encode(), xml):
            value = shown(text)
            if tag == "beats" and re.fullmatch(r"\d+(\s*\+\s*\d+)+", value):  # 3+2: a composite metre
                continue
            if tag in _XML_WHOLE and not re.fullmatch(r"[+-]?\d+", value):
                return f"<{tag}>{value}</{tag}>: {value!r} is not a whole number"
            try:
                number = float(value)
            except ValueError:
                return f"<{tag}>{value}</{tag}>: {value!r} is not a number"
            if number <= 0 and tag in _XML_POSITIVE:
                return f"<{tag}>{value}</{tag}>: " + _XML_POSITIVE[tag].format(value)
            if number < 0 and tag == "duration":
                return f"<duration>{value}</duration>: a note or rest that lasts less than nothing"
    return None


def musicxml_remarks(data: bytes, fmt: str) -> list[str]:
    """What music21 skips in a MusicXML file with no more than a warning, said in words: a ``<sound tempo="0">``."""
    xml = mxl_score(data, "")[0] if fmt == "mxl" else data if fmt == "musicxml" else None
    if xml is None or not re.search(rb'<sound[^>]*\btempo="\s*-?(0+(\.0*)?|\.0+)\s*"', xml):
        return []
    return ['ignored a tempo of 0 quarter notes a minute (<sound tempo="0">), read at 100']


def parse_music21(data: bytes, fmt: str, name: str) -> list[music21.stream.Score]:
    """The scores music21 reads from a file's bytes in format ``fmt`` (``'musicxml'``, ``'mxl'`` or ``'humdrum'``);
    ``MusicFileError`` where it finds none."""
    from music21 import converter, stream

    if fmt == "mxl":  # music21 reads compressed MusicXML from a path only
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.mxl"
            path.write_bytes(data)
            parsed = converter.parse(path, format="musicxml", forceSource=True)
    else:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        text = data.decode("utf-16" if utf16 else "utf-8-sig", errors="replace")
        parsed = converter.parseData(text, format=fmt, forceSource=True)
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    if not scores:
        raise MusicFileError(f"{name}: the file holds no tunes")
    return scores


def to_musicxml(piece: Piece) -> str:
    """The piece as an uncompressed MusicXML document (a string), as :func:`write` would save it."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(to_stream(piece)).parse().decode("utf-8")
