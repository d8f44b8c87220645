"""The reading limits, and the checks of a file's bytes against them before any parser sees it.

A file beyond a limit is refused with a :class:`~musewidgets.errors.MusicFileError` that names the limit, in the time
it takes to look at its bytes (a parser could take minutes). :func:`check_limits` checks a file of any format; the MIDI
chunks and events are walked by :func:`midi_tracks` and :func:`track_events` (also used by the bulk MIDI reader of
:mod:`musewidgets.datasets.midi`), and an ``.mxl`` is unpacked by :func:`mxl_score`.
"""

from __future__ import annotations

import io as _io
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from ..errors import MusicFileError

__all__ = [
    "ABC_FIELD_LINE",
    "MAX_ABC_BAR",
    "MAX_ABC_BARS",
    "MAX_ABC_CHANGES",
    "MAX_ABC_LENGTH",
    "MAX_ABC_TUNES",
    "MAX_BARS",
    "MAX_BAR_BEATS",
    "MAX_FILE_BYTES",
    "MAX_MIDI_EVENTS",
    "MAX_NOTES",
    "MAX_UNZIPPED_BYTES",
    "check_limits",
    "check_size",
    "midi_tracks",
    "mxl_score",
    "shown",
    "track_events",
]

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
MAX_MEASURES = 4 * MAX_BARS  # measures of all the parts of a MusicXML score (the corpus's largest: 2,968)
MAX_NOTES = 50_000  # notes of a MIDI or MusicXML file or of an ABC tune (MusicXML and ABC rests count too)
MAX_MIDI_EVENTS = 200_000  # events of a MIDI file of every kind: notes on and off, controllers, pitch bends, ...
MAX_ABC_LENGTH = 16  # longest ABC note, in whole notes: its multiplier times L: (the corpus has c442 at L:1/32)
MAX_ABC_BARS = 300  # bar lines in one ABC tune
MAX_ABC_BAR = 32  # whole notes between two ABC bar lines (music21 re-bars an overfull bar slowly; the corpus has 30)
MAX_ABC_TUNES = 1000  # tunes (X: fields) in one ABC file
MAX_ABC_CHANGES = 64  # K:, M: and L: fields in the body of one ABC tune (music21 slows with each)
MAX_ABC_GRACE_NOTES = 1000  # notes inside {grace groups} of one ABC tune (10,000 read for more than 30 s)
_ABC_LONG_NOTE = re.compile(rb"[A-Ga-gz][,']*(\d+)")
_ABC_METRE = re.compile(rb"(?m)(?:^|\[)M:\s*(\d+)\s*/\s*(\d+)")
_ABC_UNIT = re.compile(rb"(?m)(?:^|\[)L:\s*(\d+)\s*/\s*(\d+)")
_ABC_BAR_LINE = re.compile(rb"[:\[]*\|+[\]:]*|::")  # |, ||, |], [|, |:, :|, :|:, ::
_XML_BEATS = re.compile(rb"<beats>([^<]*)<")
ABC_FIELD_LINE = re.compile(rb"[A-Za-z+]:(?![:|])")  # a header or body field line (K:G, w:, +:), not x:: or z:|
_ABC_NOT_NOTES = re.compile(rb'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]')  # text, decorations, fields
_ABC_NOTE = re.compile(rb"[A-Ga-gxzZ]")
_ABC_NOTE_LENGTH = re.compile(rb"[A-Ga-gxz][,']*(\d*)(/*)(\d*)")  # C, C3, C/, C//, C3/2
_ABC_PLAIN_BAR = re.compile(rb"(?<![|:\[\]])\|(?![|:\]\d\[])")  # | alone: music21 makes measures from two of them
_ABC_GRACE = re.compile(rb"\{[^}\n]*\}")
_XML_PART = re.compile(rb"<part[\s/>]")
_XML_MEASURE = re.compile(rb"<measure[\s/>]")  # <measure/> too: 20,000 of them were counted only by music21
_XML_NOTE = re.compile(rb"<note[\s/>]")
_KERN_METRE = re.compile(rb"\*M(\d+)/")  # a metre interpretation, *M3/4 (in any spine)
_KERN_BAR = re.compile(rb"(?m)^=")  # a record of bar lines (one per bar, whatever the spines)


def check_limits(data: bytes, name: str, fmt: str) -> None:
    """``MusicFileError`` for a file beyond the documented limits (size, bar width, bars, notes, events, tunes)."""
    check_size(len(data), name)
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
        xml, _ = mxl_score(data, name)
        if xml is not None:
            _check_musicxml_limits(xml, name)
    elif fmt == "musicxml":
        _check_musicxml_limits(data, name)
    elif fmt == "abc":
        _check_abc_limits(data, name)
    elif fmt == "humdrum":
        _check_humdrum_limits(data, name)


def _check_humdrum_limits(data: bytes, name: str) -> None:
    """Metres (``*M99999/1`` made music21 fill one bar for minutes) and bar lines, before music21 reads a note."""
    beats = []
    for num in _KERN_METRE.findall(data):
        beats.append(int(num) if len(num) < 19 else float("inf"))
    _check_bar_beats(name, beats)
    bars = len(_KERN_BAR.findall(data))
    if bars > MAX_BARS:
        raise MusicFileError(f"{name}: {bars:,} bar lines; musewidgets reads pieces of up to {MAX_BARS:,} bars")


def check_size(size: int, name: str) -> None:
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
    for b in beats:
        if not b > 0:  # <beats>-1e308</beats> once slipped past the limit, to be refused by music21 after 10 s
            raise MusicFileError(f"{name}: <beats>{b:g}</beats> is not a time signature")
    starts = [m.start() for m in _XML_PART.finditer(data)] + [len(data)]
    measures = max((len(_XML_MEASURE.findall(data, a, b)) for a, b in zip(starts, starts[1:])), default=0)
    if b"<score-timewise" in data[:4096]:  # measures hold the parts
        measures = len(_XML_MEASURE.findall(data))
    if measures > MAX_BARS:
        raise MusicFileError(
            f"{name}: a part of {measures:,} measures; musewidgets reads pieces of up to {MAX_BARS:,} bars"
        )
    everything = len(_XML_MEASURE.findall(data))
    if everything > MAX_MEASURES:
        raise MusicFileError(
            f"{name}: {everything:,} measures in all its parts; musewidgets reads scores of up to {MAX_MEASURES:,}"
        )
    if b"<!ENTITY" in data:  # an internal entity can make measures (or notes) that no count here sees
        raise MusicFileError(f"{name}: the file declares XML entities (<!ENTITY>), which MusicXML does not use")
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
                f"{name}: a time signature over {shown(metre)}; musewidgets reads metres over 1, 2, 4, 8, 16, 32 or 64"
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
        body = b"\n".join(line.split(b"%")[0] for line in tune.splitlines() if not ABC_FIELD_LINE.match(line))
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
        graces = sum(len(_ABC_NOTE.findall(group)) for group in _ABC_GRACE.findall(music))
        if graces > MAX_ABC_GRACE_NOTES:
            raise MusicFileError(
                f"{name}: a tune of {graces:,} grace notes; musewidgets reads tunes of up to {MAX_ABC_GRACE_NOTES:,}"
            )
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


def mxl_score(data: bytes, name: str) -> tuple[bytes | None, str | None]:
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
        if archive.getinfo(names[0]).compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2 and LZMA unpack a whole block at once (a 2 KB member to a gigabyte) before a limit can apply
            return None, "not a readable MXL file (its MusicXML is packed with bzip2 or LZMA, not zip's deflate)"
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
    for start, end in midi_tracks(data):
        for _, status, _, at, _ in track_events(data, start, end):
            if status & 0xF0 == 0x90 and at + 1 < end and data[at + 1]:  # a note on of velocity > 0
                notes += 1
            events += 1
            if notes > MAX_NOTES or events > MAX_MIDI_EVENTS:
                return notes, events
    return notes, events


def midi_tracks(data: bytes, *, strict: bool = False) -> Iterator[tuple[int, int]]:
    """Where the body of each track chunk (``MTrk``) of a MIDI file lies: ``(start, end)`` indices into ``data``, in
    file order, skipping the header chunk and chunks of other types; none where ``data`` does not start with
    ``MThd``. A chunk cut short by the end of the data ends there, or with ``strict`` raises :class:`ValueError`."""
    pos, n = (8 + int.from_bytes(data[4:8], "big")) if data[:4] == b"MThd" else len(data), len(data)
    while pos + 8 <= n:
        chunk, start, end = data[pos : pos + 4], pos + 8, pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        if end > n and strict:
            raise ValueError("a chunk runs past the end of the file")
        if chunk == b"MTrk":
            yield start, min(end, n)
        pos = end


def track_events(
    data: bytes, start: int, end: int, *, strict: bool = False
) -> Iterator[tuple[int, int, int | None, int, int]]:
    """The events of the track chunk whose body is ``data[start:end]`` (see :func:`midi_tracks`).

    Yields ``(delta, status, meta, at, stop)`` per event: its delta time (ticks); its status byte (0xFF for a meta
    event, 0xF0 or 0xF7 for sysex, else the channel message's own or running status, 0 where none came before); the
    type of a meta event (``None`` for other events, or where the file ends before it); where its data begin (for
    meta and sysex events, after their length); where the next event begins (past ``end`` where the event is cut
    short). An event cut short ends the track, or with ``strict`` raises :class:`ValueError`, as does a channel
    message with no status byte to run on.
    """
    i, status = start, 0
    while i < end:
        delta, i, _ = _varlen(data, i, end)
        if i >= end:
            if strict:
                raise ValueError("an event cut short")
            return
        byte = data[i]
        if byte in (0xFF, 0xF0, 0xF7):  # meta event or sysex: a length, then that many bytes
            meta = None
            if byte == 0xFF:
                if i + 1 < end:
                    meta = data[i + 1]
                elif strict:
                    raise ValueError("a meta event cut short")
            length, i, whole = _varlen(data, i + 2 if byte == 0xFF else i + 1, end)
            if strict and not whole:
                raise ValueError("a meta or sysex event cut short")
            yield delta, byte, meta, i, i + length
            i += length
        else:  # channel message, perhaps with running status (the previous status byte)
            if byte & 0x80:
                status = byte
                i += 1
            elif strict and not status:
                raise ValueError("running status with no status before it")
            stop = i + (1 if status & 0xF0 in (0xC0, 0xD0) else 2)
            yield delta, status, None, i, stop
            i = stop


def _varlen(data: bytes, i: int, end: int) -> tuple[int, int, bool]:
    """The variable-length quantity at ``data[i]`` (7 bits a byte, the last byte below 0x80): ``(value, index after
    it, whether it ended before ``end``)``; cut short, the value so far and where the data ran out."""
    value = 0
    while i < end:
        c = data[i]
        i += 1
        value = (value << 7) | (c & 0x7F)
        if c < 0x80:
            return value, i, True
    return value, i, False


def shown(text: bytes) -> str:
    """Bytes of a file as a short string for a message."""
    shown = "".join(c if c.isprintable() else "?" for c in text.decode("utf-8", errors="replace").strip())
    return shown if len(shown) <= 40 else shown[:40] + "..."
