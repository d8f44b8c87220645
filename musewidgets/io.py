"""Foreign music files in and out: MIDI through pretty_midi, MusicXML and ABC through music21.

This is the only module that talks to music21 and pretty_midi parsers. Everything it reads becomes a
:class:`~musewidgets.piece.Piece` on the step grid; whatever had to move to fit the grid is counted in a
:class:`QuantizeReport`. Every failure to read becomes one :class:`~musewidgets.errors.MusicFileError` whose message
names the file and the reason.
"""

from __future__ import annotations

import contextlib
import functools
import io as _io
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .errors import MusicFileError, QuantizationWarning
from .piece import Note, Part, Piece, key_name

if TYPE_CHECKING:  # pragma: no cover
    import music21
    import pretty_midi

__all__ = [
    "QuantizeReport",
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "check_writable",
    "from_stream",
    "read",
    "read_all",
    "read_with_report",
    "to_midi",
    "to_musicxml",
    "to_stream",
    "write",
]

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
WRITE_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl")
_TICKS_PER_QUARTER = 480  # resolution of the MIDI files we write


@dataclass
class QuantizeReport:
    """What reading a file changed to fit the step grid.

    Attributes
    ----------
    source : str
        File name (or ``'<bytes>'``).
    steps_per_quarter : int
        Grid the notes were moved to.
    onsets_moved, durations_changed : int
        Notes whose start, or length, was rounded to the nearest step (a length never drops below one step).
    grace_notes_dropped, drum_notes_dropped : int
        Notes the grid cannot hold (grace notes have no length; drum hits have no pitch).
    remarks : list of str
        Other decisions in words: assumed metre, ignored metre changes, first of several tunes, ...
    metre_changes : bool
        Full bars in more than one metre were found; the most common metre was kept.
    bars_off_grid : int
        Full bars whose bar line does not fall on the kept metre's grid (irregular incomplete bars before them).
    bars_padded : int
        Incomplete bars padded with a rest so that the next full bar starts on a bar line (only with
        ``align_bars=True``).
    tempo_found : bool
        The file gave a tempo; otherwise the default (100 quarter notes per minute, 120 for MIDI) was used.
    error : str or None
        Why this tune could not be read (only from :func:`read_all`).
    """

    source: str
    steps_per_quarter: int
    onsets_moved: int = 0
    durations_changed: int = 0
    grace_notes_dropped: int = 0
    drum_notes_dropped: int = 0
    remarks: list[str] = field(default_factory=list)
    metre_changes: bool = False
    bars_off_grid: int = 0
    bars_padded: int = 0
    tempo_found: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        """True when any note was moved, lengthened, shortened or dropped."""
        return bool(self.onsets_moved or self.durations_changed or self.grace_notes_dropped or self.drum_notes_dropped)

    def __str__(self) -> str:
        step = {1: "quarter", 2: "eighth", 4: "sixteenth", 8: "32nd"}.get(self.steps_per_quarter, "step")
        said = []
        if self.onsets_moved:
            said.append(f"{self.onsets_moved} note starts moved to the nearest {step}")
        if self.durations_changed:
            said.append(f"{self.durations_changed} note lengths rounded to whole {step}s")
        if self.grace_notes_dropped:
            said.append(f"{self.grace_notes_dropped} grace notes dropped")
        if self.drum_notes_dropped:
            said.append(f"{self.drum_notes_dropped} drum notes dropped")
        said += self.remarks
        return f"{self.source}: " + ("; ".join(said) if said else "read exactly, nothing changed")

    def _steps(self, quarters: float | Fraction, *, duration: bool = False) -> int:
        exact = Fraction(quarters).limit_denominator(10_000) * self.steps_per_quarter
        steps = round(exact)
        if duration and steps < 1:
            steps = 1
        if steps != exact:
            if duration:
                self.durations_changed += 1
            else:
                self.onsets_moved += 1
        return int(steps)


# --------------------------------------------------------------------------- reading


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
        (the ``MAX_*`` constants of this module, named in the message). A tempo that is no tempo (0, or outside 1-1000
        quarter notes a minute) is read as the default and said in the warning. Of an ABC book only the first tune
        is parsed.
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
            piece = _read_midi(data, report)
        return [(_check_piece(piece, report), report)]
    if fmt == "abc":  # each tune is parsed alone: a book's first tune without parsing the rest, a bad tune alone
        tunes = _abc_tunes(data.decode("utf-8", errors="replace"), name)
        jobs = [(functools.partial(_parse_abc, tune), tune.encode()) for tune in tunes]
    else:
        with _reading(name, fmt, data):
            parsed = _parse_music21(data, fmt, name)
        remarks = _xml_remarks(data, fmt)
        jobs = [(lambda score=score: ([score], remarks), data) for score in parsed]
    results = []
    for i, (job, text) in enumerate(jobs):
        label = name if len(jobs) == 1 else f"{name}#{i + 1}"
        report = QuantizeReport(label, steps_per_quarter)
        if first_only and i > 0:
            results.append((None, report))
            continue
        try:
            with _reading(label, fmt, text):
                scores, remarks = job()
                if not scores:
                    raise MusicFileError(f"{label}: the file holds no tunes")
                report.remarks += remarks
                piece = _from_stream(scores[0], report, align_bars=align_bars, in_place=True)
                mistake = _known_mistake(text, fmt) if piece.n_notes == 0 else None
                if mistake:  # an unclosed " or binary junk reads as no notes: say why
                    raise MusicFileError(f"{label}: {mistake}")
                results.append((_check_piece(piece, report), report))
        except MusicFileError as err:
            if first_only:
                raise
            report.error = str(err)
            results.append((None, report))
    return results


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


def _check_piece(piece: Piece, report: QuantizeReport) -> Piece:
    """The piece with its title, or ``MusicFileError`` for a piece without notes or beyond :data:`MAX_BARS`."""
    if piece.n_notes == 0:
        raise MusicFileError(f"{report.source}: the file holds no notes")
    if piece.n_bars > MAX_BARS:
        raise MusicFileError(
            f"{report.source}: the piece lasts {piece.n_bars:,} bars; musewidgets reads pieces of up to "
            f"{MAX_BARS:,} bars"
        )
    return piece if piece.title else piece.replace(title=Path(report.source).stem)


def _load_bytes(source: Source, fmt: str | None, name: str | None) -> tuple[bytes, str, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "<bytes>"
        suffix = Path(name).suffix.lower()
        fmt = fmt or _FORMATS.get(suffix) or _sniff(data)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or path.name
        fmt = fmt or _FORMATS.get(path.suffix.lower())
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
            _check_size(size, name)
    else:
        raise TypeError(f"`source` must be a path or bytes, got {type(source).__name__}")
    if not data.strip():
        raise MusicFileError(f"{name}: the file is empty")
    if fmt is None:
        raise MusicFileError(f"{name}: not a MIDI, MusicXML or ABC file (unrecognised content)")
    if fmt not in _FORMATS.values():
        raise MusicFileError(f"{name}: unknown format {fmt!r} (expected one of {sorted(set(_FORMATS.values()))})")
    _check_limits(data, name, fmt)
    return data, name, fmt


# Limits that keep a hostile or broken file from reading for minutes. In music21's corpus the largest file is 1.3 MB
# (an .mxl that unpacks to 10.4 MB of UTF-16), the longest part 1,124 measures and the most notes 20,361 (Beethoven's
# quartets, all movements in one file), the longest ABC tune 291 bar lines, the largest ABC book 720 tunes. music21
# reads MusicXML and ABC in a time that grows with the square of the measures of a part (on the 2-core reference
# machine MusicXML takes 2.4 s for 1,000 measures, 25 s for 3,000; ABC 2.4 s for 200 bars, 6-8 s for 300, 50 s for
# 1,000), so those limits sit just above the corpus (whose tunes change key, metre or unit length at most 10
# times); mido, under pretty_midi, reads 50,000 notes in about 2 s.
MAX_FILE_BYTES = 8 * 2**20
MAX_UNZIPPED_BYTES = 32 * 2**20  # the MusicXML inside an .mxl, unpacked
MAX_BAR_BEATS = 64  # beats in a bar (the numerator of a time signature)
MAX_BARS = 1500  # bars of a piece (measures of one MusicXML part)
MAX_NOTES = 50_000  # notes of a MIDI or MusicXML file or of an ABC tune (MusicXML and ABC rests count too)
MAX_MIDI_EVENTS = 200_000  # events of a MIDI file of every kind: notes on and off, controllers, pitch bends, ...
MAX_ABC_LENGTH = 16  # longest ABC note, in whole notes: its multiplier times L: (the corpus has c442 at L:1/32)
MAX_ABC_BARS = 300  # bar lines in one ABC tune
MAX_ABC_BAR = 32  # whole notes between two ABC bar lines (music21 re-bars an overfull bar slowly; the corpus has 30)
MAX_ABC_TUNES = 1000  # tunes (X: fields) in one ABC file
MAX_ABC_CHANGES = 64  # K:, M: and L: fields in the body of one ABC tune (music21 slows with each)
_ABC_LONG_NOTE = re.compile(rb"[A-Ga-gz][,']*(\d+)")
_ABC_METRE = re.compile(rb"(?m)(?:^|\[)M:\s*(\d+)\s*/\s*(\d+)")
_ABC_UNIT = re.compile(rb"(?m)(?:^|\[)L:\s*(\d+)\s*/\s*(\d+)")
_ABC_BAR_LINE = re.compile(rb"[:\[]*\|+[\]:]*|::")  # |, ||, |], [|, |:, :|, :|:, ::
_XML_BEATS = re.compile(rb"<beats>([^<]*)<")
_ABC_FIELD_LINE = re.compile(rb"[A-Za-z+]:(?![:|])")  # a header or body field line (K:G, w:, +:), not x:: or z:|
_ABC_NOT_NOTES = re.compile(rb'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]')  # text, decorations, fields
_ABC_NOTE = re.compile(rb"[A-Ga-gxzZ]")
_ABC_NOTE_LENGTH = re.compile(rb"[A-Ga-gxz][,']*(\d*)(/*)(\d*)")  # C, C3, C/, C//, C3/2
_ABC_PLAIN_BAR = re.compile(rb"(?<![|:\[\]])\|(?![|:\]\d\[])")  # | alone: music21 makes measures from two of them
_ABC_GRACE = re.compile(rb"\{[^}\n]*\}")
_XML_PART = re.compile(rb"<part[\s>]")
_XML_MEASURE = re.compile(rb"<measure[\s>]")
_XML_NOTE = re.compile(rb"<note[\s>]")


def _check_limits(data: bytes, name: str, fmt: str) -> None:
    """``MusicFileError`` for a file beyond the documented limits (size, bar width, bars, notes, events, tunes)."""
    _check_size(len(data), name)
    if fmt == "midi":
        notes, events = _midi_counts(data)
        if notes > MAX_NOTES:
            raise MusicFileError(
                f"{name}: more than {MAX_NOTES:,} notes; musewidgets reads files of up to {MAX_NOTES:,}"
            )
        if events > MAX_MIDI_EVENTS:
            raise MusicFileError(
                f"{name}: more than {MAX_MIDI_EVENTS:,} MIDI events (notes, controllers, pitch bends, ...); "
                f"musewidgets reads files of up to {MAX_MIDI_EVENTS:,}"
            )
    elif fmt == "mxl":
        xml, _ = _mxl_score(data, name)
        if xml is not None:
            _check_musicxml_limits(xml, name)
    elif fmt == "musicxml":
        _check_musicxml_limits(data, name)
    elif fmt == "abc":
        _check_abc_limits(data, name)


def _check_size(size: int, name: str) -> None:
    if size > MAX_FILE_BYTES:
        raise MusicFileError(
            f"{name}: the file is {size / 2**20:.1f} MB; musewidgets reads files of up to {MAX_FILE_BYTES // 2**20} MB"
        )


def _check_bar_beats(name: str, beats: list[int]) -> None:
    if any(b > MAX_BAR_BEATS for b in beats):
        most = max(beats)
        most = int(most) if most < 1e18 and most == int(most) else f"{most:g}"
        raise MusicFileError(f"{name}: a bar of {most} beats; musewidgets reads bars of up to {MAX_BAR_BEATS}")


def _check_musicxml_limits(data: bytes, name: str) -> None:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: look at it as UTF-8
        data = data.decode("utf-16", errors="replace").encode()
    beats = []
    for text in _XML_BEATS.findall(data):  # 4, 3+2 (a composite metre), or a number music21 would take: 1e308
        try:
            beats.append(sum(int(b) for b in text.split(b"+")) if b"+" in text.strip(b"+ ") else float(text))
        except ValueError:
            continue  # not a number: the parser says so
    _check_bar_beats(name, beats)
    starts = [m.start() for m in _XML_PART.finditer(data)] + [len(data)]
    measures = max((len(_XML_MEASURE.findall(data, a, b)) for a, b in zip(starts, starts[1:])), default=0)
    if b"<score-timewise" in data[:4096]:  # measures hold the parts
        measures = len(_XML_MEASURE.findall(data))
    if measures > MAX_BARS:
        raise MusicFileError(
            f"{name}: a part of {measures:,} measures; musewidgets reads pieces of up to {MAX_BARS:,} bars"
        )
    for fifths in re.findall(rb"<fifths>\s*([+-]?\d+)\s*<", data):
        if abs(int(fifths)) > 14:  # music21 spells every one of them: 1,000,000 sharps read for a minute
            raise MusicFileError(f"{name}: <fifths>{int(fifths)}</fifths> is not a key signature")
    notes = len(_XML_NOTE.findall(data))
    if notes > MAX_NOTES:
        raise MusicFileError(f"{name}: {notes:,} notes; musewidgets reads files of up to {MAX_NOTES:,}")


def _check_abc_limits(data: bytes, name: str) -> None:
    metres = _ABC_METRE.findall(data)
    _check_bar_beats(name, [int(m[0]) for m in metres])
    for top, bottom in metres:
        if not int(top) or not int(bottom):
            raise MusicFileError(f"{name}: M:{int(top)}/{int(bottom)} is not a time signature")
    for top, bottom in _ABC_UNIT.findall(data):
        if not int(top) or not int(bottom):
            raise MusicFileError(f"{name}: L:{int(top)}/{int(bottom)} is not a note length")
        if int(bottom) not in (1, 2, 4, 8, 16, 32, 64):  # L:1/7 made music21 build metres of 3/7 for seconds
            raise MusicFileError(
                f"{name}: L:{int(top)}/{int(bottom)}; musewidgets reads unit note lengths over 1, 2, 4, 8, 16, 32 or 64"
            )
    for metre in re.findall(rb"(?m)(?:^|\[)M:[^\]\n%]*?/\s*([\d.]+)", data):
        if metre not in (b"1", b"2", b"4", b"8", b"16", b"32", b"64"):  # M:2/1.5 read for a minute
            raise MusicFileError(
                f"{name}: a time signature over {_shown(metre)}; musewidgets reads metres over 1, 2, 4, 8, 16, 32 or 64"
            )
    parts = re.split(rb"(?m)^X:", data)
    header, tunes = (parts[0], parts[1:]) if len(parts) > 1 else (b"", parts)  # the header goes with every tune
    if len(tunes) > MAX_ABC_TUNES:
        raise MusicFileError(f"{name}: {len(tunes):,} tunes; musewidgets reads ABC files of up to {MAX_ABC_TUNES:,}")
    for tune in tunes:
        tune = header + tune
        key = re.search(rb"(?m)^K:", tune)  # the header ends with K:, the body may change key, metre, unit length
        changes = len(re.findall(rb"(?m)^[KML]:|\[[KML]:", tune[key.end() :])) if key else 0
        if changes > MAX_ABC_CHANGES:
            raise MusicFileError(
                f"{name}: a tune of {changes:,} key, metre or note-length changes; musewidgets reads up to "
                f"{MAX_ABC_CHANGES}"
            )
        body = b"\n".join(line.split(b"%")[0] for line in tune.splitlines() if not _ABC_FIELD_LINE.match(line))
        if len(_ABC_BAR_LINE.findall(body)) > MAX_ABC_BARS:
            raise MusicFileError(f"{name}: a tune of more than {MAX_ABC_BARS:,} bars; musewidgets reads fewer")
        music = _ABC_NOT_NOTES.sub(b"", body)
        # the longest note, at most: its length multiplier times the longest unit length (L:) of the tune
        times = max((int(n) for n in _ABC_LONG_NOTE.findall(music)), default=1)
        unit = max((Fraction(int(a), int(b)) for a, b in _ABC_UNIT.findall(tune) if int(b)), default=Fraction(1, 8))
        if _ABC_NOTE.search(music) and times * unit > MAX_ABC_LENGTH:
            what = (
                f"L:{unit} is a unit of {round(float(unit), 2):,g} whole notes"
                if unit > MAX_ABC_LENGTH
                else f"a note {times:,} times the default length is {round(float(times * unit), 2):,g} whole notes"
            )
            raise MusicFileError(f"{name}: {what}; musewidgets reads notes of up to {MAX_ABC_LENGTH} whole notes")
        notes = len(_ABC_NOTE.findall(music))
        if notes > MAX_NOTES:
            raise MusicFileError(f"{name}: a tune of {notes:,} notes; musewidgets reads tunes of up to {MAX_NOTES:,}")
        widest = _abc_widest_bar(music) * unit
        if widest > MAX_ABC_BAR:
            raise MusicFileError(
                f"{name}: a bar of {round(float(widest), 2):,g} whole notes (a bar line missing?); musewidgets reads "
                f"ABC bars of up to {MAX_ABC_BAR} whole notes"
            )


def _abc_widest_bar(music: bytes) -> Fraction:
    """The most default note lengths between two bar lines of an ABC tune's music (text, decorations and fields
    taken out), at most; 0 where music21 makes no measures (fewer than two plain bar lines). Chord notes are all
    counted: an upper bound."""
    if len(_ABC_PLAIN_BAR.findall(music)) < 2:
        return Fraction(0)
    widest = Fraction(0)
    for bar in _ABC_BAR_LINE.split(_ABC_GRACE.sub(b"", music)):
        length = Fraction(0)
        for times, slashes, under in _ABC_NOTE_LENGTH.findall(bar):
            under = int(under) if under else 2 ** len(slashes)
            length += Fraction(int(times or 1), under) if under else 0
        widest = max(widest, length)
    return widest


def _mxl_score(data: bytes, name: str) -> tuple[bytes | None, str | None]:
    """The MusicXML document inside an .mxl, the one music21 reads (the first ``.musicxml``, ``.xml`` or ``.mxl``
    outside META-INF), refused if it unpacks beyond :data:`MAX_UNZIPPED_BYTES`; or ``(None, what is wrong)``."""
    import zipfile

    try:
        archive = zipfile.ZipFile(_io.BytesIO(data))
        names = [
            n
            for n in archive.namelist()
            if "META-INF" not in n and (Path(n).suffix in (".musicxml", ".xml", ".mxl") or n == ".xml")
        ]
        if not names:
            return None, "not a readable MXL file (the archive holds no MusicXML file)"
        with archive.open(names[0]) as f:  # the size in the archive's directory may lie: read no more than the limit
            xml = f.read(MAX_UNZIPPED_BYTES + 1)
    except Exception as err:  # zipfile raises BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ...
        return None, f"not a readable MXL file (the archive is damaged: {str(err).strip() or type(err).__name__})"
    if len(xml) > MAX_UNZIPPED_BYTES:
        raise MusicFileError(
            f"{name}: the archive unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB; musewidgets reads MusicXML "
            f"of up to {MAX_UNZIPPED_BYTES // 2**20} MB"
        )
    return xml, None


def _midi_counts(data: bytes) -> tuple[int, int]:
    """(notes, events) of a MIDI file by walking its track chunks, stopping once past :data:`MAX_NOTES` or
    :data:`MAX_MIDI_EVENTS` (about a second for 1 MB of events); damaged data ends the count, not the read."""
    notes = events = 0
    pos, n = (8 + int.from_bytes(data[4:8], "big")) if data[:4] == b"MThd" else len(data), len(data)
    while pos + 8 <= n:
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        i, end = pos + 8, min(pos + 8 + size, n)
        pos += 8 + size
        if chunk != b"MTrk":
            continue
        status = 0
        while i < end:
            while i < end and data[i] & 0x80:  # delta time: 7 bits a byte
                i += 1
            i += 1
            if i >= end:
                break
            byte = data[i]
            if byte in (0xFF, 0xF0, 0xF7):  # meta event or sysex: a length, then that many bytes
                i += 2 if byte == 0xFF else 1
                length = 0
                while i < end:
                    c = data[i]
                    i += 1
                    length = (length << 7) | (c & 0x7F)
                    if c < 0x80:
                        break
                i += length
            else:  # channel message, perhaps with running status (the previous status byte)
                if byte & 0x80:
                    status = byte
                    i += 1
                kind = status & 0xF0
                if kind == 0x90 and i + 1 < end and data[i + 1]:
                    notes += 1
                i += 1 if kind in (0xC0, 0xD0) else 2
            events += 1
            if notes > MAX_NOTES or events > MAX_MIDI_EVENTS:
                return notes, events
    return notes, events


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
    literal = re.search(
        r"(?:could not convert string to float|invalid literal for int\(\) with base 10): '(.*)'", str(err)
    )
    if found or not literal or fmt not in ("abc", "musicxml", "mxl"):
        return found
    # a number the parser could not read: say where it stands (in the text as the parser saw it)
    text = re.escape(literal.group(1))
    doc = ((_mxl_score(data, "")[0] if fmt == "mxl" else data) or b"").decode("utf-8", errors="replace")
    where = re.search(rf'([\w:-]+)="\s*{text}\s*"|<([\w-]+)[^>]*>\s*{text}\s*<', doc)
    shown = _shown(literal.group(1).encode())
    if where and where.group(1):
        return f'{where.group(1)}="{shown}": not a number'
    if where:
        return f"<{where.group(2)}>{shown}</{where.group(2)}>: not a number"
    return None


def _known_mistake(data: bytes, fmt: str) -> str | None:
    if fmt == "midi":
        return _midi_damage(data)
    if fmt in ("abc", "musicxml") and sum(c < 9 or 13 < c < 32 for c in data[:4096]) > 8:
        return f"not a readable {fmt.upper()} file (it holds binary data, not text)"
    if fmt == "abc":
        for field_, what in ((b"L", "a note length"), (b"M", "a time signature")):
            for value in re.findall(rb"(?m)(?:^|\[)%s:([^\]\n%%]*)" % field_, data):
                ok = rb"\s*\d+\s*(/\s*\d+\s*)?" if field_ == b"L" else rb"\s*(\(?[\d+]+\)?\s*/\s*\d+|[Cc]\|?|none)\s*"
                if not value.strip():
                    return f"an empty {field_.decode()}: field (it needs {what})"
                if not re.fullmatch(ok, value):
                    return f"{field_.decode()}:{_shown(value)} is not {what}"
        note = re.search(rb"(?m)^(?![A-Za-z+]:(?![:|]))[^%\n]*?([A-Ga-gz][,']*\d*/0+)(?!\d)", data)
        if note:
            return f"a note length divided by 0 ({_shown(note.group(1))})"
        note = re.search(rb"(?m)^(?![A-Za-z+]:(?![:|]))[^%\n]*?([A-Ga-gz][,']*0+)(?![\d/])", data)
        if note:  # music21 takes it, but not in a tuplet
            return f"a note of length 0 ({_shown(note.group(1))})"
        for line in data.splitlines():
            if not _ABC_FIELD_LINE.match(line) and line.split(b"%")[0].count(b'"') % 2:
                return f'a " that is never closed ({_shown(line)}); chord symbols and text are written "Am", "^text"'
    elif fmt in ("musicxml", "mxl"):
        xml, problem = _mxl_score(data, "") if fmt == "mxl" else (data, None)
        if problem:
            return problem
        for tag in _XML_NUMBERS:
            for text in re.findall(rb"<%s>([^<]*)<" % tag.encode(), xml):
                value = _shown(text)
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


def _shown(text: bytes) -> str:
    """Bytes of a file as a short string for a message."""
    shown = "".join(c if c.isprintable() else "?" for c in text.decode("utf-8", errors="replace").strip())
    return shown if len(shown) <= 40 else shown[:40] + "..."


_XML_POSITIVE = {
    "divisions": "a quarter note divided into {} parts",
    "beat-type": "a time signature with {} as its beat",
    "beats": "a time signature of {} beats",
}
_XML_WHOLE = ("beats", "fifths", "octave", "actual-notes", "normal-notes")
_XML_NUMBERS = (*_XML_POSITIVE, "duration", "octave", "alter", "fifths", "per-minute", "actual-notes", "normal-notes")
_MIDI_META = {  # meta events mido decodes: type -> (name, bytes it needs)
    0x20: ("channel prefix", 1),
    0x21: ("MIDI port", 1),
    0x51: ("tempo", 3),
    0x54: ("SMPTE offset", 5),
    0x58: ("time signature", 4),
    0x59: ("key signature", 2),
}


def _midi_damage(data: bytes) -> str | None:
    """The first damaged meta event of a MIDI file (cut short, or a key or SMPTE rate that is none), in words."""
    pos = (8 + int.from_bytes(data[4:8], "big")) if data[:4] == b"MThd" else len(data)
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "big")
        i, end, track = pos + 8, min(pos + 8 + size, len(data)), data[pos : pos + 4] == b"MTrk"
        pos += 8 + size
        status = 0
        while track and i < end:
            while i < end and data[i] & 0x80:
                i += 1
            i += 1
            if i >= end:
                break
            byte = data[i]
            if byte in (0xFF, 0xF0, 0xF7):
                kind = data[i + 1] if byte == 0xFF and i + 1 < end else None
                i += 2 if byte == 0xFF else 1
                length = 0
                while i < end:
                    c = data[i]
                    i += 1
                    length = (length << 7) | (c & 0x7F)
                    if c < 0x80:
                        break
                body, i = data[i : i + length], i + length
                if kind == 0x00 and len(body) == 1:  # a sequence number has 2 bytes, or none
                    return "a sequence number event of 1 byte where 2 belong (the file is damaged)"
                if kind in _MIDI_META:
                    what, need = _MIDI_META[kind]
                    if len(body) < need:
                        return f"a {what} event of {len(body)} bytes where {need} belong (the file is damaged)"
                    if kind == 0x59 and not (-7 <= int.from_bytes(body[:1], "big", signed=True) <= 7 and body[1] < 2):
                        return f"a key signature event that names no key (bytes {body[0]}, {body[1]})"
                    if kind == 0x54 and body[0] >> 5 > 3:
                        return f"an SMPTE offset event with no frame rate (byte {body[0]})"
            else:
                if byte & 0x80:
                    status = byte
                    i += 1
                i += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
    return None


def _read_midi(data: bytes, report: QuantizeReport) -> Piece:
    import mido
    import numpy as np
    import pretty_midi

    midi = mido.MidiFile(file=_io.BytesIO(data), charset="latin1")
    if midi.ticks_per_beat <= 0:  # SMPTE frames (negative), or nothing
        unit = "SMPTE frames" if midi.ticks_per_beat else "units of 0 ticks a quarter note"
        raise MusicFileError(
            f"{report.source}: the file counts time in {unit}; musewidgets reads MIDI files that count ticks per "
            "quarter note"
        )
    report.tempo_found = _sanitize_midi(midi, report)
    if not midi.tracks:
        raise MusicFileError(f"{report.source}: the file holds no notes (no tracks)")
    pm = pretty_midi.PrettyMIDI(mido_object=midi)
    ticks = _tick_finder(pm)
    spq, res = report.steps_per_quarter, pm.resolution
    parts = []
    for inst in pm.instruments:
        if inst.is_drum:
            report.drum_notes_dropped += len(inst.notes)
            continue
        if not inst.notes:
            continue
        starts = ticks(np.array([n.start for n in inst.notes]))
        onsets, moved = _round_steps(starts * spq, res)
        durations, changed = _round_steps((ticks(np.array([n.end for n in inst.notes])) - starts) * spq, res)
        changed |= durations < 1  # a note never gets shorter than one step
        report.onsets_moved += int(moved.sum())
        report.durations_changed += int(changed.sum())
        notes = tuple(
            Note(n.pitch, start, duration, max(1, n.velocity))
            for n, start, duration in zip(inst.notes, onsets.tolist(), np.maximum(durations, 1).tolist())
        )
        name = inst.name.strip() or pretty_midi.program_to_instrument_name(inst.program)
        parts.append(Part(name, notes, program=inst.program))
    if not parts:
        only_drums = " (only drums)" if report.drum_notes_dropped else ""
        raise MusicFileError(f"{report.source}: the file holds no notes{only_drums}")
    time_sig = (4, 4)
    if pm.time_signature_changes:
        ts = pm.time_signature_changes[0]
        time_sig = (ts.numerator, ts.denominator)
        if len({(t.numerator, t.denominator) for t in pm.time_signature_changes}) > 1:
            report.remarks.append(f"metre changes ignored, kept {ts.numerator}/{ts.denominator}")
    else:
        report.remarks.append("no time signature, assumed 4/4")
    key = None
    if pm.key_signature_changes:
        number = pm.key_signature_changes[0].key_number
        key = key_name(number % 12, "minor" if number >= 12 else "major")
    _, tempi = pm.get_tempo_changes()
    # MIDI stores whole microseconds per beat
    tempo = _usable_tempo(round(float(tempi[0]), 2) if report.tempo_found else None, 120.0, report)
    # the file lasts until its last event (our files mark a take's trailing rests with a text event at its end)
    last = round(Fraction(int(ticks(np.array([pm.get_end_time()]))[0]), res) * spq)
    length = max([last] + [n.end for p in parts for n in p.notes])
    return _make_piece(parts, report, tempo=tempo, time_signature=time_sig, key=key, length=length)


def _sanitize_midi(midi, report: QuantizeReport) -> bool:
    """Replace what pretty_midi cannot take and a musician would not miss (tempo 0, a 0/x time signature) by silent
    markers, saying so in the report, and drop empty tracks; True if the file sets a tempo."""
    import mido

    ignored, tempo_found = set(), False
    for track in midi.tracks:
        for i, msg in enumerate(track):
            if msg.type == "set_tempo" and msg.tempo == 0:
                ignored.add("a tempo of 0 microseconds a beat (not a tempo)")
            elif msg.type == "time_signature" and msg.numerator == 0:
                ignored.add(f"a time signature of 0/{msg.denominator} (not a metre)")
            else:
                tempo_found |= msg.type == "set_tempo"
                continue
            track[i] = mido.MetaMessage("marker", text="", time=msg.time)  # keeps the time to the next event
    midi.tracks[:] = [track for track in midi.tracks if len(track)]  # pretty_midi fails on an empty track
    report.remarks += sorted(f"ignored {what}" for what in ignored)
    return tempo_found


def _tick_finder(pm):
    """A function: array of times (s) -> array of MIDI ticks, as ``pm.time_to_tick`` gives one by one."""
    import numpy as np

    table = getattr(pm, "_PrettyMIDI__tick_to_time", None)  # pretty_midi's own tick -> time table
    if table is None:  # pragma: no cover (another pretty_midi): one at a time
        return lambda times: np.array([pm.time_to_tick(t) for t in times], dtype=np.int64)
    table = np.asarray(table, dtype=float)

    def ticks(times):
        idx = np.searchsorted(table, times, side="left")
        out = np.empty(len(times), dtype=np.int64)
        inside = idx < len(table)
        i, t = idx[inside], times[inside]
        closer = (i > 0) & (np.abs(t - table[np.maximum(i - 1, 0)]) < np.abs(t - table[np.minimum(i, len(table) - 1)]))
        out[inside] = np.where(closer, i - 1, i)
        if not inside.all():  # past the table: at the last tempo
            final = pm._tick_scales[-1][1]
            out[~inside] = np.round(len(table) - 1 + (times[~inside] - table[-1]) / final)
        return out

    return ticks


def _round_steps(num, den: int):
    """``num / den`` rounded half to even (as Python's ``round``), and where that moved it."""
    import numpy as np

    q, r = np.divmod(np.asarray(num, dtype=np.int64), den)
    up = (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
    return q + up, r != 0


def _usable_tempo(qpm: float | None, default: float, report: QuantizeReport) -> float:
    """``qpm`` if the file gave a tempo a piece can have (1 to 1000 quarter notes a minute), else ``default``."""
    report.tempo_found = qpm is not None and 1 <= qpm <= 1000
    if qpm is not None and not report.tempo_found:
        report.remarks.append(
            f"ignored a tempo of {qpm:g} quarter notes a minute (musewidgets takes 1 to 1000), read at {default:g}"
        )
    return qpm if report.tempo_found else default


def _make_piece(parts: list[Part], report: QuantizeReport, **fields) -> Piece:
    num, den = fields["time_signature"]
    spq = report.steps_per_quarter
    problem = None
    if num < 1 or den < 1:
        problem = f"{num}/{den} is not a time signature"
    elif num > MAX_BAR_BEATS:
        problem = f"a bar of {num} beats; musewidgets reads bars of up to {MAX_BAR_BEATS}"
    elif den not in (1, 2, 4, 8, 16, 32):
        problem = f"a time signature of {num}/{den}; musewidgets reads metres of whole, half, quarter, ... 32nd beats"
    elif (spq * 4 * num) % den:
        need = spq * den // math.gcd(spq * 4 * num, den)
        problem = f"a bar of {num}/{den} does not fit a grid of {spq} steps a quarter note (steps_per_quarter={need})"
    if problem:
        raise MusicFileError(f"{report.source}: {problem}")
    try:
        return Piece(tuple(parts), steps_per_quarter=spq, **fields)
    except ValueError as err:
        raise MusicFileError(f"{report.source}: {err}") from err


def _abc_tunes(text: str, name: str) -> list[str]:
    """The tunes of an ABC text in music21's order (by X: number; of two tunes with one number, the later), each
    with the file's header (what comes before the first X:) in front, as music21 reads them."""
    marks = list(re.finditer(r"(?m)^X:(.*)$", text))
    if not marks:
        return [text]
    header, tunes = text[: marks[0].start()], {}
    for mark, end in zip(marks, [m.start() for m in marks[1:]] + [len(text)]):
        value = mark.group(1).split("%")[0].strip()
        try:
            number = int(value)
        except ValueError:
            raise MusicFileError(f"{name}: X:{value} is not a tune number (X:1, X:2, ... number the tunes)") from None
        tunes[number] = text[mark.start() : end]
    return [header + tunes[number] for number in sorted(tunes)]


_ABC_TEMPO = re.compile(r"(?m)^Q:(.*)$|\[Q:([^\]\n]*)\]")
# slurs: a ( not opening a tuplet, a ); text, comments, decorations, inline fields and field lines are kept whole
_ABC_SLUR = re.compile(r'(?m)^[A-Za-z+]:.*$|"[^"\n]*"|%.*$|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]|\((?!\d)|\)')


def _unclosed_slurs_out(tune: str) -> str:
    """The tune with the slurs it opens and never closes closed at once (music21 adds every later note to each open
    slur, which takes seconds in a long tune)."""
    opened = []
    for m in _ABC_SLUR.finditer(tune):
        if m.group(0) == "(":
            opened.append(m.start())
        elif m.group(0) == ")" and opened:
            opened.pop()
    if not opened:
        return tune
    # each closed at once, "()": the ( stays where it was (music21 reads a broken rhythm across it otherwise)
    return ")".join(tune[a:b] for a, b in zip([0, *(i + 1 for i in opened)], [*(i + 1 for i in opened), len(tune)]))


def _parse_abc(tune: str) -> tuple[list, list[str]]:
    """One ABC tune as music21 scores, and remarks on what was mended on the way: a tempo of 0 is dropped; a tune
    without L: or M: gets ABC's default note length (an eighth), which music21 knows only from M:; slurs that are
    never closed are taken out (music21 adds every later note to each open slur: a tune with many read for 17 s)."""
    from music21 import converter, stream

    remarks = []

    def zero_tempo(match: re.Match) -> str:
        value = match.group(1) if match.group(1) is not None else match.group(2)
        number = re.sub(r'"[^"]*"', "", value.split("%")[0]).rsplit("=", 1)[-1].strip()
        if not re.fullmatch(r"0+(\.0*)?|\.0+", number):
            return match.group(0)
        remarks.append(f"ignored Q:{value.strip()} (a tempo of 0 is not a tempo), read at 100")
        return ""

    tune = _ABC_TEMPO.sub(zero_tempo, tune)
    tune = _unclosed_slurs_out(tune)
    if not re.search(r"(?m)^[LM]:|\[[LM]:", tune):
        x = re.search(r"(?m)^X:.*$", tune)
        tune = tune[: x.end()] + "\nL:1/8" + tune[x.end() :] if x else "L:1/8\n" + tune
    try:
        parsed = converter.parseData(tune, format="abc", forceSource=True)
    except Exception:  # music21 fails on some tempo fields (Q:1/0=100, Q:abc): read without them
        fields = [m.group(0).strip("[]") for m in _ABC_TEMPO.finditer(tune)]
        if not fields:
            raise
        parsed = converter.parseData(_ABC_TEMPO.sub("", tune), format="abc", forceSource=True)  # or its own error
        remarks += [f"ignored {field} (not a tempo music21 can read), read at 100" for field in fields]
    return (list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]), remarks


def _xml_remarks(data: bytes, fmt: str) -> list[str]:
    """What music21 skips in a MusicXML file with no more than a warning, said in words: a ``<sound tempo="0">``."""
    xml = _mxl_score(data, "")[0] if fmt == "mxl" else data if fmt == "musicxml" else None
    if xml is None or not re.search(rb'<sound[^>]*\btempo="\s*-?(0+(\.0*)?|\.0+)\s*"', xml):
        return []
    return ['ignored a tempo of 0 quarter notes a minute (<sound tempo="0">), read at 100']


def _parse_music21(data: bytes, fmt: str, name: str) -> list[music21.stream.Score]:
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


def from_stream(stream: music21.stream.Stream, *, steps_per_quarter: int = 4, name: str = "<stream>") -> Piece:
    """Convert a music21 ``Score`` (or a single ``Part``) into a :class:`Piece`.

    Ties are merged into single notes, chords become simultaneous notes of their part, and a pickup measure
    becomes :attr:`Piece.pickup`. Warns with a :class:`QuantizationWarning` when notes had to move.
    """
    report = QuantizeReport(name, steps_per_quarter)
    piece = _from_stream(stream, report)
    if report.changed or report.remarks:
        warnings.warn(str(report), QuantizationWarning, stacklevel=2)
    return piece


def _main_metre(measures: list, flat: music21.stream.Stream, report: QuantizeReport) -> tuple[int, int]:
    """The metre of most bars; notes in the report whether full bars of another metre occur."""
    from collections import Counter

    from music21 import meter

    full_bars: Counter[tuple[int, int]] = Counter()
    current = None
    for m in measures:
        current = m.timeSignature or current
        if current is not None and m.duration.quarterLength == current.barDuration.quarterLength:
            full_bars[(current.numerator, current.denominator)] += 1
    if not full_bars:  # no measures: take the first time signature, if any
        sigs = list(flat.getElementsByClass(meter.TimeSignature))
        if not sigs:
            report.remarks.append("no time signature, assumed 4/4")
            return (4, 4)
        return (sigs[0].numerator, sigs[0].denominator)
    (main, _), *others = full_bars.most_common()
    if any(count > 1 for _, count in others):  # one odd short bar is an ABC artefact, not a metre change
        report.metre_changes = True
        report.remarks.append(f"metre changes ignored, kept {main[0]}/{main[1]}")
    return main


def _from_stream(
    score: music21.stream.Stream, report: QuantizeReport, *, align_bars: bool = False, in_place: bool = False
) -> Piece:
    """The Piece of a music21 stream; ``in_place`` merges its tied notes in place (a stream just parsed, which
    nobody else holds: copying a long score first costs seconds)."""
    from music21 import key as m21key
    from music21 import tempo

    if in_place:
        score.stripTies(inPlace=True)
    else:
        score = score.stripTies(inPlace=False)
    parts_in = list(score.parts) or [score]
    flat_all = score.flatten()
    measures = list(parts_in[0].getElementsByClass("Measure"))
    time_sig = _main_metre(measures, flat_all, report)
    key = None
    keys = list(flat_all.getElementsByClass(m21key.KeySignature))
    if keys:
        k = keys[0] if isinstance(keys[0], m21key.Key) else keys[0].asKey("major")
        key = key_name(k.tonic.pitchClass, k.mode)
    marks = list(flat_all.getElementsByClass(tempo.MetronomeMark))
    qpm = None
    if marks:
        try:
            qpm = marks[0].getQuarterBPM()
        except ZeroDivisionError:  # a metronome mark of 0 beats a minute
            qpm = 0
    qpm = _usable_tempo(None if qpm is None else float(qpm), 100.0, report)
    bar = Fraction(4 * time_sig[0], time_sig[1])  # quarters
    pickup = Fraction(0)
    if measures and measures[0].paddingLeft:
        pickup = bar - _frac(measures[0].paddingLeft)
        pickup = pickup if 0 < pickup < bar else Fraction(0)
    shifts = _bar_shifts(measures, bar, pickup, report, align_bars)
    if report.bars_off_grid:
        report.remarks.append(f"{report.bars_off_grid} bars start off the {time_sig[0]}/{time_sig[1]} bar grid")

    parts, out_of_range = [], 0
    for i, part in enumerate(parts_in):
        notes = []
        part_measures = list(part.getElementsByClass("Measure"))
        if part_measures:
            timed = (
                (m.offset + shifts[min(j, len(shifts) - 1)] + el.getOffsetInHierarchy(m), el)
                for j, m in enumerate(part_measures)
                for el in m.recurse().notes
            )
        else:
            flat = part.flatten()
            timed = ((flat.elementOffset(el), el) for el in flat.notes)
        for offset, element in timed:
            if element.duration.isGrace:
                report.grace_notes_dropped += len(element.pitches)
                continue
            pitches = [p.midi for p in element.pitches]
            if not pitches:  # unpitched percussion
                report.drum_notes_dropped += 1
                continue
            start = report._steps(offset)
            duration = report._steps(element.quarterLength, duration=True)
            velocity = min(127, max(1, int(element.volume.velocity or 80)))
            out_of_range += sum(not 0 <= round(p.ps) <= 127 for p in element.pitches)  # music21 folds them in
            notes.extend(Note(min(127, max(0, p)), start, duration, velocity) for p in pitches)
        instrument = part.getInstrument(returnDefault=False)
        program = instrument.midiProgram if instrument is not None and instrument.midiProgram is not None else 0
        name = (getattr(part, "partName", None) or "").strip() or f"Part {i + 1}"  # a Score without parts has none
        parts.append(Part(name, tuple(notes), program=program))
    if out_of_range:
        report.remarks.append(f"{out_of_range} notes beyond the MIDI range (0-127) moved into it by octaves")
    title = score.metadata.title if score.metadata is not None and score.metadata.title else None
    pickup = report._steps(pickup)
    if pickup >= report.steps_per_quarter * 4 * time_sig[0] // time_sig[1]:  # within half a step of a whole bar
        pickup = 0
    # the piece ends at its last bar line (trailing rests count), or where its last note ends if that is later
    if measures:
        final = measures[-1]
        last = _frac(final.offset) + shifts[min(len(measures), len(shifts)) - 1] + _frac(final.quarterLength)
    else:
        last = _frac(score.highestTime)
    notes_end = max((n.end for p in parts for n in p.notes), default=0)
    length = max(round(last * report.steps_per_quarter), notes_end)
    return _make_piece(
        parts, report, tempo=qpm, time_signature=time_sig, key=key, pickup=pickup, title=title, length=length
    )


def _frac(x) -> Fraction:
    return Fraction(x).limit_denominator(10_000)


def _bar_shifts(measures: list, bar: Fraction, pickup: Fraction, report: QuantizeReport, align: bool) -> list[Fraction]:
    """Per measure, how far to delay it so that every full bar starts on a bar line.

    Folk-tune books end a strain with an incomplete bar and start the next with a pickup; played with repeats the two
    make one bar, written out flat they shift every later bar line. With ``align`` the incomplete bar is padded with
    a rest (counted in ``report.bars_padded``); without it, misplaced bars are only counted.
    """
    shifts, shift = [], Fraction(0)
    for m in measures:
        offset = _frac(m.offset) + shift
        if _frac(m.duration.quarterLength) == bar and (offset - pickup) % bar:
            if align:
                pad = bar - (offset - pickup) % bar
                shift += pad
                report.bars_padded += 1
            else:
                report.bars_off_grid += 1
        shifts.append(shift)
    return shifts or [Fraction(0)]


# --------------------------------------------------------------------------- writing


def to_stream(piece: Piece) -> music21.stream.Score:
    """The piece as a music21 ``Score``: measures, visible rests, ties, clefs, key, metre, tempo and a pickup.

    Every measure is full (its notes and rests add up to the time signature) except a pickup measure (numbered 0,
    written as MusicXML ``implicit="yes"``), which only a piece with a ``pickup`` has; the last bar is filled up with
    rests to the bar line. Rests are real, printed rests (music21 hides the rests it invents, so none are left for it
    to invent). Notes that cross a bar line are split and tied. Overlapping notes of one part go to separate voices.
    Pitches are spelled for the key (E# rather than F as the leading tone of F# minor; sharps in sharp keys, flats in
    flat keys), and each part gets the clef that suits its range (treble, treble 8vb for tenors, bass).
    """
    from music21 import clef, instrument, key, metadata, meter, stream, tempo

    m21key = None
    if piece.key is not None:
        tonic, mode = piece.key.split()
        m21key = key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, mode)
    spell = _speller(m21key)
    bars = _measure_bounds(piece)
    score = stream.Score()
    score.metadata = metadata.Metadata(title=piece.title or "musewidgets")
    for i, p in enumerate(piece.parts):
        part = stream.Part(id=f"P{i + 1}")
        part.partName = p.name
        inst = instrument.instrumentFromMidiProgram(p.program)
        inst.partName = p.name
        inst.partAbbreviation = f"{p.name[:1]}." if p.name else None  # S. A. T. B. on later systems
        inst.partId = part.id  # fixed ids: the same piece always gives the same MusicXML
        inst.instrumentId = f"{part.id}-I1"
        voices = _voices(p.notes)
        measures = []
        for number, (lo, hi) in enumerate(bars, start=0 if piece.pickup else 1):
            m = stream.Measure(number=number)
            if number == 0:  # the pickup: shorter than a bar, and not counted
                m.paddingLeft = Fraction(piece.steps_per_bar - piece.pickup, piece.steps_per_quarter)
                m.showNumber = stream.enums.ShowNumber.NEVER
            for v, groups in enumerate(voices):
                elements = _measure_elements(groups, lo, hi, piece.steps_per_quarter, spell)
                if len(voices) == 1:
                    for offset, element in elements:
                        m.insert(offset, element)
                else:
                    voice = stream.Voice(id=str(v + 1))
                    for offset, element in elements:
                        voice.insert(offset, element)
                    m.insert(0, voice)
            measures.append(m)
        first = measures[0]
        first.insert(0, inst)
        first.insert(0, _clef_for(p.notes, clef))
        if m21key is not None:
            first.insert(0, key.Key(m21key.tonic, m21key.mode))
        first.insert(0, meter.TimeSignature(f"{piece.time_signature[0]}/{piece.time_signature[1]}"))
        if i == 0:
            first.insert(0, tempo.MetronomeMark(number=round(piece.tempo, 2)))
        for m in measures:
            part.append(m)
        score.insert(0, part)
    # beams and accidentals (against the key signature and earlier notes of the bar); measures, rests and ties are ours
    for part in score.parts:
        part.makeBeams(inPlace=True)
        part.makeAccidentals(inPlace=True, cautionaryNotImmediateRepeat=False)
    return score


def _measure_bounds(piece: Piece) -> list[tuple[int, int]]:
    """(start, end) steps of every measure: the pickup (if any), then full bars up to the bar line after the end."""
    bars = max(1, piece.n_bars)
    bounds = [(0, piece.pickup)] if piece.pickup else []
    return bounds + [(piece.bar_start(k), piece.bar_start(k + 1)) for k in range(bars)]


def _voices(notes) -> list[list[tuple[int, int, list[int], int]]]:
    """Notes grouped into chords ``(start, duration, pitches, velocity)`` and the chords into non-overlapping voices."""
    groups: dict[tuple[int, int], list[Note]] = {}
    for n in notes:
        groups.setdefault((n.start, n.duration), []).append(n)
    voices: list[list[tuple[int, int, list[int], int]]] = []
    for (start, duration), ns in sorted(groups.items()):
        chord_ = (start, duration, [n.pitch for n in ns], ns[0].velocity)
        for voice in voices:  # the first voice that is free by then
            if voice[-1][0] + voice[-1][1] <= start:
                voice.append(chord_)
                break
        else:
            voices.append([chord_])
    return voices or [[]]


def _measure_elements(groups, lo: int, hi: int, spq: int, spell) -> list:
    """``(offset in quarters, Note/Chord/Rest)`` filling steps ``lo..hi`` of one voice: its notes, tied across bar
    lines, and printed rests in every gap."""
    from music21 import chord, note, tie

    elements, cursor = [], lo
    for start, duration, pitches, velocity in groups:
        end = start + duration
        if end <= lo or start >= hi:
            continue
        s, e = max(start, lo), min(end, hi)
        if s > cursor:
            elements.append((Fraction(cursor - lo, spq), note.Rest(quarterLength=Fraction(s - cursor, spq))))
        ql = Fraction(e - s, spq)
        spelled = [spell(p) for p in pitches]
        if len(spelled) == 1:
            element = note.Note(spelled[0], quarterLength=ql)
        else:
            element = chord.Chord(spelled, quarterLength=ql)
        element.volume.velocity = velocity
        tied_in, tied_out = start < lo, end > hi
        if tied_in or tied_out:
            element.tie = tie.Tie("continue" if tied_in and tied_out else "stop" if tied_in else "start")
        elements.append((Fraction(s - lo, spq), element))
        cursor = e
    if cursor < hi:
        elements.append((Fraction(cursor - lo, spq), note.Rest(quarterLength=Fraction(hi - cursor, spq))))
    return elements


def _clef_for(notes, clef):
    """Treble, treble 8vb (tenors) or bass, by the part's range."""
    if not notes:
        return clef.TrebleClef()
    mean = sum(n.pitch for n in notes) / len(notes)  # chorales: alto ~63, tenor ~58, bass ~50
    low = min(n.pitch for n in notes)
    if mean >= 60.5:
        return clef.TrebleClef()
    if low >= 48 and mean >= 53:
        return clef.Treble8vbClef()
    return clef.BassClef()


def _speller(m21key):
    """A function MIDI pitch -> music21 Pitch spelled for ``m21key`` (scale tones, then the key's direction)."""
    from music21 import pitch

    names: dict[int, str] = {}
    sharps = 0
    if m21key is not None:
        sharps = m21key.sharps
        scale = list(m21key.pitches)
        if m21key.mode == "minor":  # raised sixth and seventh of melodic and harmonic minor
            scale += [scale[5].transpose("A1"), scale[6].transpose("A1")]
        for p in scale:
            names.setdefault(p.pitchClass, p.name)
    flats = {1: "D-", 3: "E-", 6: "G-", 8: "A-", 10: "B-"}
    sharps_names = {1: "C#", 3: "D#", 6: "F#", 8: "G#", 10: "A#"}

    def spell(midi: int):
        pc = midi % 12
        name = names.get(pc) or (flats if sharps < 0 else sharps_names).get(pc)
        if name is None:
            return pitch.Pitch(midi=midi)
        p = pitch.Pitch(name)
        p.octave = midi // 12 - 1
        p.octave += (midi - p.midi) // 12  # B#3 and Cb4 sit across the octave line from their pitch class
        return p

    return spell


def to_musicxml(piece: Piece) -> str:
    """The piece as an uncompressed MusicXML document (a string), as :func:`write` would save it."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(to_stream(piece)).parse().decode("utf-8")


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


def to_midi(piece: Piece) -> pretty_midi.PrettyMIDI:
    """The piece as a ``pretty_midi.PrettyMIDI`` object (one instrument per part, 480 ticks per quarter).

    The key is written as a key-signature event; a piece that ends in rests gets a text event ``'end'`` at its end, so
    the file (and :func:`read`) keeps its full length.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=_TICKS_PER_QUARTER, initial_tempo=piece.tempo)
    num, den = piece.time_signature
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    if piece.key is not None:
        tonic, mode = piece.key.split()
        if mode in ("major", "minor"):
            pm.key_signature_changes.append(
                pretty_midi.KeySignature(pretty_midi.key_name_to_key_number(f"{tonic} {mode}"), 0.0)
            )
    seconds = piece.seconds_per_step
    if piece.end > piece.notes_end:  # rests at the end: a text event marks where the piece ends
        pm.text_events.append(pretty_midi.Text("end", piece.end * seconds))
    for p in piece.parts:
        inst = pretty_midi.Instrument(program=p.program, name=p.name)
        for n in p.notes:
            inst.notes.append(pretty_midi.Note(n.velocity, n.pitch, n.start * seconds, n.end * seconds))
        pm.instruments.append(inst)
    return pm
