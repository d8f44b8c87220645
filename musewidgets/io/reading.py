"""Reading a file of any format: its bytes loaded and checked against the limits, the format told, the parser of
that format run (:mod:`~musewidgets.io.midi`, :mod:`~musewidgets.io.abc`, :mod:`~musewidgets.io.musicxml`), its
scores put on the step grid (:mod:`~musewidgets.io.streams`), and every failure turned into one
:class:`~musewidgets.errors.MusicFileError` that names the file and the reason."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from pathlib import Path
from typing import Union

from ..errors import MusicFileError, QuantizationWarning
from ..piece import Piece
from .abc import abc_mistake, abc_tunes, parse_abc
from .limits import MAX_FILE_BYTES, check_limits, check_size, mxl_score, shown
from .midi import midi_damage, read_midi
from .musicxml import musicxml_mistake, musicxml_remarks, parse_music21
from .quantize import QuantizeReport, check_piece
from .streams import read_stream

__all__ = ["READ_SUFFIXES", "Source", "looks_like_abc", "read", "read_abc_melody", "read_all", "read_with_report"]

Source = Union[str, os.PathLike, bytes]  # noqa: UP007 (a runtime alias, kept 3.10-safe)

_FORMATS = {
    ".mid": "midi",
    ".midi": "midi",
    ".musicxml": "musicxml",
    ".xml": "musicxml",
    ".mxl": "mxl",
    ".abc": "abc",
    ".krn": "humdrum",
}
READ_SUFFIXES = tuple(_FORMATS)


def read(source: Source, *, fmt: str | None = None, steps_per_quarter: int = 4, name: str | None = None) -> Piece:
    """Read a MIDI, MusicXML (.musicxml, .xml, .mxl) or ABC file into a :class:`Piece`.

    Parameters
    ----------
    source : path or bytes
        A file path, or the file's bytes (as from an upload widget).
    fmt : {'midi', 'musicxml', 'mxl', 'abc'}, optional
        Format; by default taken from the suffix, or for bytes from the content.
    steps_per_quarter : int, default 4
        Grid to quantize to.
    name : str, optional
        Name used in messages and as the piece's title (defaults to the file name).

    Warns
    -----
    QuantizationWarning
        When notes had to be moved or dropped to fit the grid; :func:`read_with_report` returns the details instead.

    Raises
    ------
    MusicFileError
        For anything that cannot be read: missing, empty, truncated or random bytes, wrong format, no notes, a
        mistake in the file (said in words: ``L:1/0 is not a note length``), or a file beyond the reading limits
        (the ``MAX_*`` constants of :mod:`musewidgets.io.limits`, named in the message). A tempo that is no tempo (0,
        or outside 1-1000 quarter notes a minute) is read as the default and said in the warning. Of an ABC book only
        the first tune is parsed.
    """
    piece, report = read_with_report(source, fmt=fmt, steps_per_quarter=steps_per_quarter, name=name)
    if report.changed or report.remarks:
        warnings.warn(str(report), QuantizationWarning, stacklevel=2)
    return piece


def read_with_report(
    source: Source, *, fmt: str | None = None, steps_per_quarter: int = 4, name: str | None = None
) -> tuple[Piece, QuantizeReport]:
    """Like :func:`read`, but return ``(piece, report)`` and never warn."""
    results = _read(source, fmt, steps_per_quarter, name, first_only=True)
    piece, report = results[0]
    if len(results) > 1:
        report.remarks.append(f"the file holds {len(results)} tunes; read the first")
    return piece, report


ABC_EXAMPLE = "G A B G | c B A2 |]"


def looks_like_abc(text: str) -> bool:
    """Whether ``text``, given where a file's name belongs, is rather a melody in ABC (``'G A B G | c B A2 |]'``): no
    file of that name, and a bar line, a line break or notes apart, in note letters rather than words."""
    body = "\n".join(line for line in text.splitlines() if not re.match(r"\s*[A-Za-z+]:", line))  # no header
    apart = "|" in text or "\n" in text or len(text.split()) > 1
    return apart and _note_letter_share(body) >= 0.8 and not Path(text).exists()


def _note_letter_share(body: str) -> float:
    """The share of the letters of an ABC tune's body (chord names, decorations and comments aside) that are notes
    or rests; 1 where there are no letters."""
    letters = re.findall(r"[A-Za-z]", re.sub(r'"[^"]*"|![^!]*!|%.*', "", body))
    return sum(c in "ABCDEFGabcdefgzxZ" for c in letters) / len(letters) if letters else 1.0


def read_abc_melody(text: str, *, what: str = "the text") -> tuple[Piece, QuantizeReport]:
    """A melody typed in ABC (``'G A B G | c B A2 |]'``, or a whole tune) and its report; a bare tune body is read
    in 4/4, in quarter notes, in C (the header ``X:1 M:4/4 L:1/4 K:C``).

    Raises
    ------
    MusicFileError
        If the text is no melody in ABC (no notes, or words rather than note letters), naming it as ``what``.
    """
    text = (text or "").strip()
    if not any(line.strip().startswith("K:") for line in text.splitlines()):
        text = "X:1\nM:4/4\nL:1/4\nK:C\n" + text
    elif not text.startswith("X:"):
        text = "X:1\n" + text
    try:
        piece, report = read_with_report(text.encode(), name="melody.abc")
    except MusicFileError as err:
        raise MusicFileError(f"{err} (expected a melody in ABC, e.g. {ABC_EXAMPLE})") from None
    if not piece.n_notes:
        raise MusicFileError(f"{what} holds no melody in ABC (expected notes such as {ABC_EXAMPLE})")
    body = "\n".join(line for line in text.splitlines() if not re.match(r"\s*[A-Za-z+]:", line))
    if _note_letter_share(body) < 0.8:
        raise MusicFileError(
            f"{what} holds words, not a melody in ABC (expected note letters A-G and a-g, e.g. {ABC_EXAMPLE})"
        )
    return piece, report


def read_all(
    source: Source,
    *,
    fmt: str | None = None,
    steps_per_quarter: int = 4,
    name: str | None = None,
    align_bars: bool = False,
) -> list[tuple[Piece | None, QuantizeReport]]:
    """Every tune in a file (an ABC book holds many; other files hold one) as ``(piece, report)`` pairs.

    With ``align_bars=True`` an incomplete bar that would shift the following bar lines off the metre grid (a strain
    ending before a repeat) is padded with a rest, and counted in ``report.bars_padded``.

    A tune that cannot be converted comes back as ``(None, report)`` with ``report.error`` saying why; a file
    that cannot be read at all raises :class:`MusicFileError` as :func:`read` does.
    """
    return _read(source, fmt, steps_per_quarter, name, first_only=False, align_bars=align_bars)


def _read(source, fmt, steps_per_quarter, name, *, first_only, align_bars=False):
    data, name, fmt = _load_bytes(source, fmt, name)
    if fmt == "midi":
        report = QuantizeReport(name, steps_per_quarter)
        with _reading(name, fmt, data):
            piece = read_midi(data, report)
        return [(check_piece(piece, report), report)]
    jobs = _tune_jobs(data, fmt, name)
    results = []
    for i, (job, text) in enumerate(jobs):
        label = name if len(jobs) == 1 else f"{name}#{i + 1}"
        report = QuantizeReport(label, steps_per_quarter)
        if first_only and i > 0:
            results.append((None, report))
            continue
        try:
            results.append((_read_tune(job, text, label, fmt, report, align_bars), report))
        except MusicFileError as err:
            if first_only:
                raise
            report.error = str(err)
            results.append((None, report))
    return results


def _tune_jobs(data: bytes, fmt: str, name: str) -> list[tuple]:
    """Per tune of a file music21 reads, ``(job, text)``: a function giving its scores and remarks, and its text."""
    if fmt == "abc":  # each tune is parsed alone: a book's first tune without parsing the rest, a bad tune alone
        tunes = abc_tunes(data.decode("utf-8", errors="replace"), name)
        return [(functools.partial(parse_abc, tune), tune.encode()) for tune in tunes]
    with _reading(name, fmt, data):
        parsed = parse_music21(data, fmt, name)
    remarks = musicxml_remarks(data, fmt)
    return [(lambda score=score: ([score], remarks), data) for score in parsed]


def _read_tune(job, text: bytes, label: str, fmt: str, report: QuantizeReport, align_bars: bool) -> Piece:
    """The piece of one tune: its job run, its first score put on the grid, a piece without notes explained."""
    with _reading(label, fmt, text):
        scores, remarks = job()
        if not scores:
            raise MusicFileError(f"{label}: the file holds no tunes")
        report.remarks += remarks
        piece = read_stream(scores[0], report, align_bars=align_bars, in_place=True)
        mistake = _known_mistake(text, fmt) if piece.n_notes == 0 else None
        if mistake:  # an unclosed " or binary junk reads as no notes: say why
            raise MusicFileError(f"{label}: {mistake}")
        return check_piece(piece, report)


# Python's own exceptions from inside a parser say how it failed, not what is wrong with the file
_INTERNAL = (ZeroDivisionError, AttributeError, TypeError, IndexError, KeyError, RecursionError, AssertionError)
_BUILTIN_VALUE_ERROR = re.compile(r"invalid literal|arg is an empty sequence|could not convert|values to unpack")


@contextlib.contextmanager
def _reading(name: str, fmt: str, data: bytes = b""):
    """Turn whatever a parser raises into a MusicFileError naming the file, in plain words where we can tell."""
    try:
        yield
    except MusicFileError:
        raise
    except Exception as err:  # parsers raise anything from IndexError to their own types
        found = _diagnose(data, fmt, err)
        if found:
            raise MusicFileError(f"{name}: {found}") from err
        text = str(err).strip()
        reason = text.splitlines()[0][:200] if text else type(err).__name__
        if isinstance(err, _INTERNAL) or (isinstance(err, ValueError) and _BUILTIN_VALUE_ERROR.search(text)):
            parser = "mido/pretty_midi" if fmt == "midi" else "music21"
            reason = f"{parser} failed on it: {type(err).__name__}: {reason}"
        raise MusicFileError(f"{name}: not a readable {fmt.upper()} file ({reason})") from err


def _load_bytes(source: Source, fmt: str | None, name: str | None) -> tuple[bytes, str, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "<bytes>"
        suffix = Path(name).suffix.lower()
        fmt = fmt or _FORMATS.get(suffix) or _sniff(data)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or path.name
        if path.is_dir():
            raise MusicFileError(f"{name}: is a folder, not a music file (expected one of {', '.join(READ_SUFFIXES)})")
        fmt = fmt or _FORMATS.get(path.suffix.lower())
        if fmt is None and looks_like_abc(str(source)):
            raise MusicFileError("a melody in ABC was given where a file's name belongs (save it in a .abc file)")
        if fmt is None and not path.exists():
            raise MusicFileError(f"{name}: no such file (expected a music file: {', '.join(READ_SUFFIXES)})")
        if fmt is None:
            raise MusicFileError(
                f"{name}: unsupported file type {path.suffix!r} (expected one of {', '.join(READ_SUFFIXES)})"
            )
        try:
            with open(path, "rb") as f:  # no more than the limit: a huge file (or a device) is not read to its end
                size = os.fstat(f.fileno()).st_size
                data = f.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
        except OSError as err:
            raise MusicFileError(f"{name}: cannot open the file ({err.strerror or err})") from err
        if size > MAX_FILE_BYTES:
            check_size(size, name)
    else:
        raise TypeError(f"`source` must be a path or bytes, got {type(source).__name__}")
    if not data.strip():
        raise MusicFileError(f"{name}: the file is empty")
    if fmt is None:
        raise MusicFileError(f"{name}: not a MIDI, MusicXML or ABC file (unrecognised content)")
    if fmt not in _FORMATS.values():
        raise MusicFileError(f"{name}: unknown format {fmt!r} (expected one of {sorted(set(_FORMATS.values()))})")
    check_limits(data, name, fmt)
    return data, name, fmt


def _sniff(data: bytes) -> str | None:
    head = data[:512].lstrip()
    if head.startswith(b"MThd"):
        return "midi"
    if head.startswith(b"PK"):
        return "mxl"
    if head.startswith(b"<") and (b"score-partwise" in data[:4096] or b"score-timewise" in data[:4096]):
        return "musicxml"
    text = head.decode("latin-1")
    if any(line.startswith(("X:", "K:", "T:", "M:")) for line in text.splitlines()):
        return "abc"
    return None


def _diagnose(data: bytes, fmt: str, err: Exception | None = None) -> str | None:
    """What is wrong with a file a parser failed on, in plain words, where a known mistake explains it."""
    found = _known_mistake(data, fmt)
    if found is None and isinstance(err, EOFError):  # mido reading past the end of a chunk or of the file
        return f"not a readable {fmt.upper()} file: it ends too early (cut short, as by an unfinished download)"
    literal = re.search(
        r"(?:could not convert string to float|invalid literal for int\(\) with base 10): '(.*)'", str(err)
    )
    if found or not literal or fmt not in ("abc", "musicxml", "mxl"):
        return found
    # a number the parser could not read: say where it stands (in the text as the parser saw it)
    text = re.escape(literal.group(1))
    doc = ((mxl_score(data, "")[0] if fmt == "mxl" else data) or b"").decode("utf-8", errors="replace")
    where = re.search(rf'([\w:-]+)="\s*{text}\s*"|<([\w-]+)[^>]*>\s*{text}\s*<', doc)
    number = shown(literal.group(1).encode())
    if where and where.group(1):
        return f'{where.group(1)}="{number}": not a number'
    if where:
        return f"<{where.group(2)}>{number}</{where.group(2)}>: not a number"
    return None


def _known_mistake(data: bytes, fmt: str) -> str | None:
    if fmt == "midi":
        return midi_damage(data)
    if fmt in ("abc", "musicxml") and sum(c < 9 or 13 < c < 32 for c in data[:4096]) > 8:
        return f"not a readable {fmt.upper()} file (it holds binary data, not text)"
    if fmt == "abc":
        return abc_mistake(data)
    if fmt in ("musicxml", "mxl"):
        return musicxml_mistake(data, fmt)
    return None
