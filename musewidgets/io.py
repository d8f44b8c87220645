"""Foreign music files in and out: MIDI through pretty_midi, MusicXML and ABC through music21.

This is the only module that talks to music21 and pretty_midi parsers. Everything it reads becomes a
:class:`~musewidgets.piece.Piece` on the step grid; whatever had to move to fit the grid is counted in a
:class:`QuantizeReport`. Every failure to read becomes one :class:`~musewidgets.errors.MusicFileError` whose message
names the file and the reason.
"""

from __future__ import annotations

import contextlib
import io as _io
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
        For anything that cannot be read: missing, empty, truncated or random bytes, wrong format, no notes.
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
    with _reading(name, fmt):
        if fmt == "midi":
            report = QuantizeReport(name, steps_per_quarter)
            return [(_check_notes(_read_midi(data, report), report), report)]
        scores = _parse_music21(data, fmt, name)
    results = []
    for i, score in enumerate(scores):
        label = name if len(scores) == 1 else f"{name}#{i + 1}"
        report = QuantizeReport(label, steps_per_quarter)
        if first_only and i > 0:
            results.append((None, report))
            continue
        try:
            with _reading(label, fmt):
                piece = _from_stream(score, report, align_bars=align_bars)
                results.append((_check_notes(piece, report), report))
        except MusicFileError as err:
            if first_only:
                raise
            report.error = str(err)
            results.append((None, report))
    return results


@contextlib.contextmanager
def _reading(name: str, fmt: str):
    """Turn whatever a parser raises into a MusicFileError naming the file."""
    try:
        yield
    except MusicFileError:
        raise
    except Exception as err:  # parsers raise anything from IndexError to their own types
        text = str(err).strip()
        reason = text.splitlines()[0][:200] if text else type(err).__name__
        raise MusicFileError(f"{name}: not a readable {fmt.upper()} file ({reason})") from err


def _check_notes(piece: Piece, report: QuantizeReport) -> Piece:
    if piece.n_notes == 0:
        raise MusicFileError(f"{report.source}: the file holds no notes")
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
            data = path.read_bytes()
        except OSError as err:
            raise MusicFileError(f"{name}: cannot open the file ({err.strerror or err})") from err
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


# Limits that keep a hostile or broken file from reading for minutes: the largest music file in music21's corpus
# is 1.3 MB, the longest notes and widest bars of real music are far inside the others.
MAX_FILE_BYTES = 8 * 2**20
MAX_BAR_BEATS = 64  # beats in a bar (the numerator of a time signature)
MAX_ABC_LENGTH = 999  # multiplier of an ABC note's length (C999 is 999 default lengths)
MAX_ABC_BARS = 5000  # bar lines in one ABC tune
_ABC_LONG_NOTE = re.compile(rb"(?m)^(?![A-Za-z]:)[^%\n]*?[A-Ga-gz][,']*(\d{4,})")
_ABC_METRE = re.compile(rb"(?m)^M:\s*(\d+)\s*/\s*(\d+)")
_XML_BEATS = re.compile(rb"<beats>\s*(\d+)")


def _check_limits(data: bytes, name: str, fmt: str) -> None:
    """``MusicFileError`` for a file beyond the documented limits (size, bar width, note length, bars per tune)."""
    if len(data) > MAX_FILE_BYTES:
        raise MusicFileError(
            f"{name}: the file is {len(data) / 2**20:.1f} MB; musewidgets reads files of up to "
            f"{MAX_FILE_BYTES // 2**20} MB"
        )
    metres = _ABC_METRE.findall(data) if fmt == "abc" else []
    beats = [int(b) for b in _XML_BEATS.findall(data)] if fmt == "musicxml" else [int(m[0]) for m in metres]
    if any(b > MAX_BAR_BEATS for b in beats):
        raise MusicFileError(f"{name}: a bar of {max(beats)} beats; musewidgets reads bars of up to {MAX_BAR_BEATS}")
    if fmt != "abc":
        return
    long_note = _ABC_LONG_NOTE.search(data)
    if long_note and int(long_note.group(1)) > MAX_ABC_LENGTH:
        raise MusicFileError(
            f"{name}: a note {int(long_note.group(1)):,} times the default length; musewidgets reads up to "
            f"{MAX_ABC_LENGTH}"
        )
    for tune in re.split(rb"(?m)^X:", data):
        if tune.count(b"|") > MAX_ABC_BARS:
            raise MusicFileError(f"{name}: a tune of more than {MAX_ABC_BARS:,} bars; musewidgets reads fewer")


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


def _read_midi(data: bytes, report: QuantizeReport) -> Piece:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(_io.BytesIO(data))
    parts = []
    for inst in pm.instruments:
        if inst.is_drum:
            report.drum_notes_dropped += len(inst.notes)
            continue
        notes = []
        for n in inst.notes:
            start_q = Fraction(pm.time_to_tick(n.start), pm.resolution)
            end_q = Fraction(pm.time_to_tick(n.end), pm.resolution)
            start = report._steps(start_q)
            notes.append(Note(n.pitch, start, report._steps(end_q - start_q, duration=True), max(1, n.velocity)))
        name = inst.name.strip() or pretty_midi.program_to_instrument_name(inst.program)
        parts.append(Part(name, tuple(notes), program=inst.program))
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
    report.tempo_found = len(tempi) > 0
    tempo = round(float(tempi[0]), 2) if len(tempi) else 120.0  # MIDI stores whole microseconds per beat
    # the file lasts until its last event (our files mark a take's trailing rests with a text event at its end)
    last = round(Fraction(pm.time_to_tick(pm.get_end_time()), pm.resolution) * report.steps_per_quarter)
    length = max([last] + [n.end for p in parts for n in p.notes])
    return _make_piece(parts, report, tempo=tempo, time_signature=time_sig, key=key, length=length)


def _make_piece(parts: list[Part], report: QuantizeReport, **fields) -> Piece:
    try:
        return Piece(tuple(parts), steps_per_quarter=report.steps_per_quarter, **fields)
    except ValueError as err:  # e.g. a 7/32 metre that the grid cannot hold
        raise MusicFileError(f"{report.source}: {err}") from err


def _parse_music21(data: bytes, fmt: str, name: str) -> list[music21.stream.Score]:
    from music21 import converter, stream

    if fmt == "mxl":  # music21 reads compressed MusicXML from a path only
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.mxl"
            path.write_bytes(data)
            parsed = converter.parse(path, format="musicxml", forceSource=True)
    else:
        text = data.decode("utf-8", errors="replace")
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


def _from_stream(score: music21.stream.Stream, report: QuantizeReport, *, align_bars: bool = False) -> Piece:
    from music21 import key as m21key
    from music21 import tempo

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
    report.tempo_found = bool(marks and marks[0].getQuarterBPM())
    qpm = float(marks[0].getQuarterBPM()) if report.tempo_found else 100.0
    bar = Fraction(4 * time_sig[0], time_sig[1])  # quarters
    pickup = Fraction(0)
    if measures and measures[0].paddingLeft:
        pickup = bar - _frac(measures[0].paddingLeft)
        pickup = pickup if 0 < pickup < bar else Fraction(0)
    shifts = _bar_shifts(measures, bar, pickup, report, align_bars)
    if report.bars_off_grid:
        report.remarks.append(f"{report.bars_off_grid} bars start off the {time_sig[0]}/{time_sig[1]} bar grid")

    parts = []
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
            velocity = element.volume.velocity or 80
            notes.extend(Note(min(127, max(0, p)), start, duration, int(velocity)) for p in pitches)
        instrument = part.getInstrument(returnDefault=False)
        program = instrument.midiProgram if instrument is not None and instrument.midiProgram is not None else 0
        name = (part.partName or "").strip() or f"Part {i + 1}"
        parts.append(Part(name, tuple(notes), program=program))
    title = score.metadata.title if score.metadata is not None and score.metadata.title else None
    pickup = report._steps(pickup)
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
