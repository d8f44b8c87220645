"""Fuzzing: generated and damaged files through ``musewidgets.io.read``, random pieces and frames through the codecs.

Each input goes through one target; the only outcomes allowed are a result or a
:class:`~musewidgets.errors.MusicFileError` whose message names the file (a :class:`QuantizationWarning` is a warning,
not an outcome). Anything else is a failure; a ``MusicFileError`` that shows a parser's internal error
(``music21 failed on it: ZeroDivisionError ...``) or does not name the file is counted as *unexplained*. Every input
is timed, and any that takes more than :data:`SLOW_SECONDS` is flagged. The targets:

- ``midi bytes``: byte-level damage (truncation, bit flips, chunk duplication and deletion, huge numbers, splices)
  to valid MIDI files, written by musewidgets and built event by event with mido (tempo, metre, key, programs,
  controllers, pitch bends, sysex, drums, several tracks);
- ``musicxml grammar`` / ``abc grammar``: hypothesis strategies that write structured MusicXML and ABC from their
  parts (measures, attributes, notes, chords, ties, voices, tempi; header fields, notes, lengths, tuplets, chords,
  bar lines, inline fields, several tunes), with edge values (0, negative, huge, malformed) in every number;
- ``musicxml bytes`` / ``mxl bytes`` / ``abc bytes``: the same damage to MusicXML from musewidgets' writer (plain,
  and re-zipped as .mxl) and to ABC tunes from music21's corpus, plus numbers swapped for 0, -1 or huge ones;
- ``random bytes``: random bytes under every suffix and none (sniffed), bare and behind each format's magic;
- ``tokens round trip``: random valid pieces (1-4 monophonic voices, any metre the grid holds, pickups, keys, styles,
  velocities) through :class:`~musewidgets.codecs.TokenCodec`: ``decode(encode(p))`` is ``p`` with velocity 80,
  ending at the bar line after its end, as documented;
- ``frames round trip``: random binary frames through :class:`~musewidgets.codecs.FrameCodec`:
  ``encode(decode(f)) == f``, as documented;
- ``atheris``: coverage-guided fuzzing of ``read`` (all formats, seeded with valid files), only where the atheris
  wheel is installed (``pip install atheris``; it is no dependency of musewidgets). It runs in a child process.

Run: ``python -m benchmarks.fuzz --inputs 10000`` (5-10 minutes on the 2-core reference machine). Inputs that
fail or are slow are saved under ``--out`` (a temporary folder by default) to be replayed with ``musewidgets.read``.
A short version runs in the test suite (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from musewidgets import io as mwio
from musewidgets.codecs import FrameCodec, TokenCodec
from musewidgets.errors import MusicFileError
from musewidgets.piece import Note, Part, Piece, key_name

SLOW_SECONDS = 2.0  # an input that takes longer is flagged
HANG_SECONDS = 120  # an input still running after this is stopped and counted as a failure
SUFFIXES = {"midi": ".mid", "musicxml": ".musicxml", "mxl": ".mxl", "abc": ".abc", "humdrum": ".krn"}

# Bugs the fuzzing (and the probes of the hardening issue) found, all fixed in musewidgets/io/, each with a
# regression test in tests/test_io.py: (input, what happened, what happens now).
FIXED = [
    ("MIDI with a set-tempo of 0", "'float division by zero'", "read at 120; the report says the tempo was ignored"),
    ("MIDI with 0 ticks a quarter note (or SMPTE time)", "'float division by zero'", "says so in words"),
    ("MIDI with a 0/4 time signature", "'0 is not a valid `numerator` type or value'", "ignored, said in the report"),
    (
        "MIDI with an empty track, or none",
        "'max() arg is an empty sequence'",
        "read (empty tracks dropped) / 'no notes'",
    ),
    ("MIDI tempo beyond 1-1000 quarter notes a minute", "'`tempo` must be between 1 and 1000'", "read at 120, said"),
    (
        "MIDI key signature or sequence number event cut short (fuzz)",
        "'list index out of range'",
        "'a key signature event of 0 bytes ...'",
    ),
    ("MIDI of 1.3 million notes under 8 MB", "25 s and 840 MB to fail", "refused at once: MAX_NOTES 50,000"),
    ('MusicXML `<per-minute>0` / `<sound tempo="0">`', "'division by zero' / silently 100", "read at 100, said"),
    ("MusicXML `<divisions>0`, `<beat-type>0`", "'float division by zero'", "names the element and the mistake"),
    ("MusicXML without `<part>`", "\"'Score' object has no attribute 'partName'\"", "'the file holds no notes'"),
    ("MusicXML `<duration></duration>` (fuzz)", "\"'NoneType' object has no attribute 'strip'\"", "'is not a number'"),
    (
        'MusicXML `<fifths>1e9`, `dynamics="1.5.89"`, a stray byte in `dynamics` (fuzz)',
        "'invalid literal for int()' / 'could not convert'",
        "names the element or attribute",
    ),
    ("MusicXML note of `<duration>` 10^11", "read: a piece of 2.5 million bars", "refused: MAX_BARS 1,500"),
    ("MusicXML `<duration>-1` (fuzz)", "'float division by zero'", "'lasts less than nothing'"),
    ("MusicXML `<fifths>1000000` (fuzz)", "58 s", "refused at once: 'not a key signature'"),
    ("MusicXML `<beat-type>3`", "'`time_signature` denominator must be a power of two'", "in words"),
    ("MusicXML note in octave 99", "folded to octave 8 silently", "folded, said in the report"),
    ("our MusicXML, one measure 3,000 times", "27 s, 270 MB", "refused at once: MAX_BARS 1,500"),
    (".mxl with damaged deflate data (fuzz)", "zlib.error escaped, not a MusicFileError", "'the archive is damaged'"),
    ("ABC `Q:1/4=0`", "'division by zero'", "read at 100; the report says the tempo was ignored"),
    ("ABC `Q:1/0=100`, `Q:abc`", "'float division by zero' / 'could not convert string to float'", "read at 100"),
    (
        "ABC `M:4/0`, `M:0/4`, `L:1/0`, `L:0/8`, empty `M:` (fuzz)",
        "'float division by zero', nonsense notes, 'not enough values to unpack'",
        "refused in words",
    ),
    ("ABC `L:1/G6` (fuzz)", "\"invalid literal for int() with base 10: 'G6'\"", "'L:1/G6 is not a note length'"),
    ("ABC note `C/0`; `E0` in a tuplet (fuzz)", "'float division by zero'", "'a note length divided by 0 (C/0)'"),
    ("ABC `X:abc`", "\"invalid literal for int() with base 10: 'abc'\"", "'X:abc is not a tune number'"),
    ('ABC `"Am` never closed, binary junk (fuzz)', "'list index out of range' / 'no notes'", "said in words"),
    ("ABC tune without L: or M: (legal ABC)", "'no active default note length provided ...'", "read with L:1/8"),
    ("ABC tune of 60 unclosed slurs (fuzz)", "17 s", "1 s: each closed at once, no note changes"),
    ("ABC `M:2/1.5` (fuzz)", "67 s", "refused at once: 'a time signature over 1.5'"),
    ("ABC note `e999` in an overfull bar (fuzz)", "14 s (music21 re-bars it)", "refused: MAX_ABC_LENGTH 16 wholes"),
    ("ABC `L:1000000/16` (fuzz)", "122 s", "refused at once: MAX_ABC_LENGTH 16 whole notes"),
    ("ABC tune of 18 bars, a MusicXML file pasted into one (atheris)", "62 s", "refused at once: MAX_ABC_BAR 32"),
    ("ABC `L:1/7` (fuzz)", "9 s, then 'a time signature of 3/7'", "refused at once in words"),
    ("ABC `x::` (a rest, then ::) read as a field line (fuzz)", "'float division by zero' unexplained", "diagnosed"),
    ("MusicXML `<beats>1e308` (fuzz)", "24 s (the limit read only '1')", "refused at once: MAX_BAR_BEATS"),
    ("ABC tune of 600 K:/M:/L: changes (fuzz)", "28 s", "refused at once: MAX_ABC_CHANGES 64"),
    ("ABC book of 720 tunes (music21's erk30.abc), read()", "26 s", "0.1 s: only the first tune is parsed"),
    ("ABC of 5,000 empty tunes", "5-18 s to say 'no notes'", "refused at once: MAX_ABC_TUNES 1,000"),
    ("ABC tune of 1,000 bars (MAX_ABC_BARS was 5,000)", "50 s (5,000 bars: over 5 minutes)", "MAX_ABC_BARS 300"),
    (
        "ABC tune with text in its bars, re-barred into odd metres (fuzz)",
        "4.0 s (music21 beamed every bar)",
        "0.6 s: read without beams",
    ),
    ("a path to a huge file or a device", "read whole into memory", "size checked first, at most 8 MB read"),
    (
        "FrameCodec: frames not filling whole bars (fuzz)",
        "encode(decode(f)) padded 5 frames to 8",
        "== f, as documented",
    ),
]


@dataclass
class Target:
    """Counts for one target."""

    name: str
    inputs: int = 0
    refused: int = 0  # MusicFileError: the documented refusal
    failures: list[str] = field(default_factory=list)  # "ExceptionType: message" of each failing input
    unexplained: list[str] = field(default_factory=list)  # MusicFileError messages that explain nothing
    slow: list[float] = field(default_factory=list)
    max_seconds: float = 0.0
    foreign_warnings: set[str] = field(default_factory=set)

    @property
    def bugs(self) -> set[str]:
        """Distinct kinds of failure: the exception (or the parser's error, for an unexplained message), numbers
        replaced by N."""
        kinds = self.failures + [u.split("failed on it: ")[-1].split(": ", 1)[-1] for u in self.unexplained]
        return {re.sub(r"\b\d+\b", "N", k)[:70] for k in kinds}


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def stop(*_):
        raise _Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Fuzzer:
    """Runs inputs through targets and keeps the counts; failing and slow inputs are saved under ``out``."""

    def __init__(self, out: Path | None = None):
        self.targets: dict[str, Target] = {}
        self.out = out

    def target(self, name: str) -> Target:
        return self.targets.setdefault(name, Target(name))

    def _save(self, target: Target, kind: str, data: bytes, suffix: str) -> None:
        if self.out is None:
            return
        folder = self.out / target.name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{kind}-{target.inputs:06d}{suffix}").write_bytes(data)

    def run(self, name: str, call: Callable[[], object], *, data: bytes = b"", suffix: str = "", label: str = ""):
        """Run one input: ``call()`` may return or raise MusicFileError (naming ``label``); anything else fails."""
        target = self.target(name)
        target.inputs += 1
        t0 = time.perf_counter()
        failure = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with _time_limit(HANG_SECONDS):
                    call()
            except MusicFileError as err:
                target.refused += 1
                text = str(err)
                if (label and label not in text) or "failed on it" in text or "\n" in text:
                    target.unexplained.append(text[:300])
                    self._save(target, "unexplained", data, suffix)
            except Exception as err:  # anything else is a bug
                failure = f"{type(err).__name__}: {str(err).strip()[:300]}"
        seconds = time.perf_counter() - t0
        for w in caught:
            if w.category.__name__ != "QuantizationWarning":
                target.foreign_warnings.add(f"{w.category.__name__}: {str(w.message)[:120]}")
        target.max_seconds = max(target.max_seconds, seconds)
        if seconds > SLOW_SECONDS:
            target.slow.append(seconds)
            self._save(target, f"slow-{seconds:.0f}s", data, suffix)
        if failure is not None:
            target.failures.append(failure)
            self._save(target, "failure", data, suffix)

    def read(self, name: str, data: bytes, fmt: str | None, *, rng: random.Random | None = None):
        """``musewidgets.io.read`` of ``data`` as an upload named after ``fmt`` (sniffed when None); now and then
        from a file, to take the path route too."""
        suffix = SUFFIXES.get(fmt, "") if fmt else ""
        label = f"fuzz{suffix}" if fmt else "<bytes>"
        if rng is not None and rng.random() < 0.1 and fmt:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / label
                path.write_bytes(data)
                self.run(name, lambda: mwio.read(path), data=data, suffix=suffix, label=label)
            return
        self.run(
            name, lambda: mwio.read(data, name=None if fmt is None else label), data=data, suffix=suffix, label=label
        )


# ----------------------------------------------------------------------------- files made to pass the limits

_EXTREMES = ["0", "-1", "1", "64", "65", "99999", "-1e308", "1e308", "1e-308", "nan", "inf", "3+2", "2147483648"]


def beyond_limits(rng: random.Random) -> tuple[bytes, str]:
    """One file of a family that once slipped past the limits (issue 32): ``(data, format)``. Humdrum metres and
    bar lines, compressed .mxl members, self-closing and entity-made measures, many parts, extreme numbers in every
    counted element, ABC grace notes."""
    kind = rng.choice(["humdrum", "mxl", "measures", "entities", "parts", "numbers", "graces"])
    if kind == "humdrum":
        metre = f"*M{rng.choice(_EXTREMES)}/{rng.choice(['1', '4', '8', '0', '3'])}"
        body = "\n".join(rng.choice(["4c", "8d", "=", "2e", "4r"]) for _ in range(rng.choice([10, 2000, 20000])))
        return f"**kern\n{metre}\n{body}\n*-\n".encode(), "humdrum"
    head = b'<?xml version="1.0"?><score-partwise><part-list/>'
    if kind == "mxl":
        inner = head + b'<part id="P1">' + b"<measure/>" * rng.choice([10, 5000]) + b" " * rng.choice([0, 40 * 2**20])
        method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_STORED])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=method) as z:
            z.writestr("score.musicxml", inner + b"</part></score-partwise>")
        return buf.getvalue(), "mxl"
    if kind == "measures":
        measure = rng.choice([b"<measure/>", b"<measure />", b'<measure number="1"/>', b"<measure></measure>"])
        return head + b'<part id="P1">' + measure * rng.choice(
            [100, 1600, 20000]
        ) + b"</part></score-partwise>", "musicxml"
    if kind == "entities":
        doctype = b'<!DOCTYPE score-partwise [<!ENTITY m "<measure/><measure/><measure/><measure/>">]>'
        return b'<?xml version="1.0"?>' + doctype + head[
            21:
        ] + b'<part id="P1">' + b"&m;" * 2000 + b"</part></score-partwise>", "musicxml"
    if kind == "parts":
        n, m = rng.choice([(8, 1400), (20, 300), (2, 10)])
        parts = b"".join(b'<part id="P%d">' % i + b"<measure></measure>" * m + b"</part>" for i in range(n))
        return head + parts + b"</score-partwise>", "musicxml"
    if kind == "numbers":
        tag = rng.choice(["beats", "beat-type", "divisions", "duration", "fifths", "octave", "alter"])
        note = b"<note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>"
        attrs = "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
        attrs = attrs.replace(f"<{tag}>", f"<{tag}>{rng.choice(_EXTREMES)}<!--").replace(f"</{tag}>", f"--></{tag}>")
        if tag in ("duration", "octave", "alter"):
            note = note.replace(b"<duration>1", f"<{tag}>{rng.choice(_EXTREMES)}</{tag}><duration>1".encode())
        return (
            head + b'<part id="P1"><measure>' + attrs.encode() + note + b"</measure></part></score-partwise>",
            "musicxml",
        )
    graces = "{" + "g" * rng.choice([10, 100, 1000]) + "}"
    return f"X:1\nM:4/4\nL:1/8\nK:C\n{(graces + 'C') * rng.choice([1, 10, 100])}|\n".encode(), "abc"


# ----------------------------------------------------------------------------- valid files to damage


def random_piece(rng: random.Random, *, max_voices: int = 3, polyphonic: bool = True) -> Piece:
    """A small valid piece: 1-3 parts, 1-6 bars, a metre, maybe a pickup, a key, chords and ties across bars."""
    spq = 4
    num, den = rng.choice([(4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (9, 8), (5, 4), (3, 8), (12, 8), (7, 8)])
    bar = spq * 4 * num // den
    pickup = rng.choice([0, 0, rng.randrange(bar)])
    bars = rng.randint(1, 6)
    parts = []
    for v in range(rng.randint(1, max_voices)):
        notes, t = [], rng.randrange(3)
        while t < pickup + bars * bar:
            d = rng.choice([1, 2, 2, 3, 4, 4, 6, 8, 12, 16])
            pitches = [rng.randint(36, 84)] + ([rng.randint(36, 84)] if polyphonic and rng.random() < 0.15 else [])
            for p in sorted(set(pitches)):
                notes.append(Note(p, t, d, rng.randint(1, 127)))
            t += d + rng.choice([0, 0, 0, 1, 2, 4])
        parts.append(Part(f"V{v + 1}", tuple(notes), program=rng.randrange(128)))
    key = rng.choice([None, key_name(rng.randrange(12), rng.choice(["major", "minor"]))])
    return Piece(
        tuple(parts),
        time_signature=(num, den),
        pickup=pickup,
        key=key,
        tempo=rng.choice([60, 90, 100.5, 120, 200]),
        title=rng.choice([None, "Fuzz", "Ünïcödé & <xml>"]),
    )


def _midi_bytes(pm) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _mido_bytes(rng: random.Random) -> bytes:
    """A MIDI file built event by event: tempo, metre, key, text, programs, controllers, bends, sysex, drums."""
    import mido

    midi = mido.MidiFile(type=rng.choice([0, 1, 1]), ticks_per_beat=rng.choice([96, 120, 220, 384, 480, 960]))
    tpb = midi.ticks_per_beat
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name="fuzz", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=rng.choice([250000, 500000, 600000, 1000000]), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=rng.choice([2, 3, 4, 6]), denominator=4, time=0))
    meta.append(mido.MetaMessage("key_signature", key=rng.choice(["C", "G", "Eb", "F#m", "Bbm"]), time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=rng.choice([400000, 700000]), time=tpb * 4))
    midi.tracks.append(meta)
    tracks = [meta] if midi.type == 0 else [mido.MidiTrack() for _ in range(rng.randint(1, 3))]
    for i, track in enumerate(tracks):
        channel = 9 if rng.random() < 0.2 else i
        track.append(mido.Message("program_change", program=rng.randrange(128), channel=channel, time=0))
        for _ in range(rng.randint(1, 24)):
            note = rng.randint(30, 90)
            track.append(mido.Message("note_on", note=note, velocity=rng.randint(1, 127), channel=channel, time=0))
            if rng.random() < 0.3:
                track.append(mido.Message("control_change", control=64, value=rng.choice([0, 127]), channel=channel))
            if rng.random() < 0.2:
                track.append(mido.Message("pitchwheel", pitch=rng.randint(-8192, 8191), channel=channel))
            if rng.random() < 0.05:
                track.append(mido.Message("sysex", data=[1, 2, 3]))
            track.append(mido.Message("note_off", note=note, channel=channel, time=rng.randint(1, tpb * 2)))
        if midi.type == 1:
            midi.tracks.append(track)
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


def seed_files(rng: random.Random, n: int = 12) -> dict[str, list[bytes]]:
    """Valid files of each format to damage: from musewidgets' writer, from mido, from music21's corpus."""
    seeds: dict[str, list[bytes]] = {"midi": [], "musicxml": [], "mxl": [], "abc": []}
    for _ in range(n):
        piece = random_piece(rng)
        seeds["midi"].append(_midi_bytes(mwio.to_midi(piece)))
        seeds["midi"].append(_mido_bytes(rng))
        xml = mwio.to_musicxml(piece).encode()
        seeds["musicxml"].append(xml)
        seeds["mxl"].append(_zip_mxl(xml))
    seeds["abc"] = corpus_abc_tunes(rng, 3 * n)
    return seeds


def _zip_mxl(xml: bytes) -> bytes:
    """MusicXML bytes packed as an .mxl archive (container pointing at ``score.musicxml``)."""
    container = (
        b'<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
        b'<rootfile full-path="score.musicxml" media-type="application/vnd.recordare.musicxml+xml"/>'
        b"</rootfiles></container>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.recordare.musicxml")
        z.writestr("META-INF/container.xml", container)
        z.writestr("score.musicxml", xml)
    return buf.getvalue()


def corpus_abc_tunes(rng: random.Random, n: int) -> list[bytes]:
    """``n`` short ABC tunes from music21's corpus (folk songs and Irish tunes), each with its header."""
    import music21

    root = Path(music21.__file__).parent / "corpus"
    files = sorted(root.glob("essenFolksong/*.abc")) + sorted(root.glob("ryansMammoth/*.abc"))[:200]
    tunes = []
    while len(tunes) < n and files:
        text = rng.choice(files).read_bytes()
        parts = re.split(rb"(?m)^(?=X:)", text)
        tune = rng.choice(parts[1:] or parts)
        if 20 < len(tune) < 3000:
            tunes.append(tune)
    return tunes


# ----------------------------------------------------------------------------- damage

_HUGE = [b"\xff\xff\xff\x7f", b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x80\x80\x80\x80\x00"]
_NUMBERS = ["0", "-1", "00", "99999999999999999999", "1.5", "1e308", "nan", "", "7", "-0", "65", "1000000"]


def mutate(data: bytes, rng: random.Random, others: list[bytes] = (), *, text: bool = False) -> bytes:
    """One to three random kinds of damage: truncation, bit flips, byte overwrites, a chunk duplicated or deleted,
    huge numbers written in, a splice with another file; for text formats also numbers swapped for edge values."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8 if text else 7)
        n = len(out)
        if n == 0:
            break
        if kind == 0:  # truncation
            del out[rng.randrange(n) :]
        elif kind == 1:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                out[i] ^= 1 << rng.randrange(8)
        elif kind == 2:  # bytes overwritten
            for _ in range(rng.randint(1, 4)):
                out[rng.randrange(n)] = rng.randrange(256)
        elif kind == 3:  # a chunk duplicated, up to many times
            a = rng.randrange(n)
            b = min(n, a + rng.randint(1, 512))
            at = rng.randrange(n)
            out[at:at] = bytes(out[a:b]) * rng.choice([1, 2, 10, 200])
        elif kind == 4:  # a chunk deleted
            a = rng.randrange(n)
            del out[a : a + rng.randint(1, 64)]
        elif kind == 5:  # a huge number (or a zero) written over
            i = rng.randrange(n)
            h = rng.choice(_HUGE)
            out[i : i + len(h)] = h
        elif kind == 6:  # spliced with another file
            if others:
                other = rng.choice(others)
                out = out[: rng.randrange(n)] + other[rng.randrange(max(1, len(other))) :]
        else:  # numbers of a text format swapped for edge values
            s = out.decode("latin-1")
            spans = [m.span() for m in re.finditer(r"\d+", s)]
            for a, b in rng.sample(spans, min(len(spans), rng.randint(1, 3))):
                s = s[:a] + rng.choice(_NUMBERS) + s[b:]
                break  # spans after the first edit have moved
            out = bytearray(s.encode("latin-1"))
    return bytes(out)


# ----------------------------------------------------------------------------- grammars (hypothesis)

_EDGE_INTS = st.sampled_from([0, -1, 1, 2, 3, 4, 7, 8, 16, 32, 64, 65, 999, 10**6, 10**12])


def _num(ints):
    """Mostly one of ``ints`` (as text), sometimes an edge value or a malformed number."""
    return st.one_of(ints, ints, ints, ints, _EDGE_INTS, st.sampled_from(["1.5", "abc", "", "-0", "1e9"])).map(str)


@st.composite
def musicxml_documents(draw) -> bytes:
    """A score-partwise MusicXML document from its parts, with edge values in every number."""
    n_parts = draw(st.integers(1, 3))
    declared = [f"P{i + 1}" for i in range(n_parts)]
    used = list(declared) if draw(st.booleans()) or n_parts == 1 else declared[:-1] + ["PX"]
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<score-partwise version="3.1">']
    if draw(st.booleans()):
        out.append(f"<work><work-title>{draw(st.sampled_from(['Fuzz', '', '&amp;', 'ü']))}</work-title></work>")
    out.append("<part-list>")
    out += [f'<score-part id="{p}"><part-name>{p}</part-name></score-part>' for p in declared]
    out.append("</part-list>")
    divisions = draw(_num(st.sampled_from([1, 2, 4, 8, 24, 480, 10080])))
    for pid in used:
        out.append(f'<part id="{pid}">')
        for m in range(draw(st.integers(0, 5))):
            out.append(f'<measure number="{draw(_num(st.just(m + 1)))}">')
            if m == 0 or draw(st.integers(0, 5)) == 0:
                out.append("<attributes>")
                out.append(f"<divisions>{divisions}</divisions>")
                if draw(st.booleans()):
                    out.append(f"<key><fifths>{draw(_num(st.integers(-7, 7)))}</fifths></key>")
                if draw(st.integers(0, 4)):
                    beats = draw(_num(st.sampled_from([2, 3, 4, 6, 9, 12])))
                    beat_type = draw(_num(st.sampled_from([2, 4, 8, 16])))
                    out.append(f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>")
                if draw(st.booleans()):
                    out.append("<clef><sign>" + draw(st.sampled_from(["G", "F", "C", "percussion"])) + "</sign></clef>")
                out.append("</attributes>")
            if draw(st.integers(0, 4)) == 0:
                out.append(
                    "<direction><direction-type><metronome><beat-unit>"
                    + draw(st.sampled_from(["quarter", "eighth", "half", "breve", "nonsense"]))
                    + "</beat-unit><per-minute>"
                    + draw(_num(st.sampled_from([60, 100, 120])))
                    + "</per-minute></metronome></direction-type>"
                    + f'<sound tempo="{draw(_num(st.sampled_from([60, 100, 120])))}"/></direction>'
                )
            for _ in range(draw(st.integers(0, 6))):
                kind = draw(st.sampled_from(["note", "note", "note", "rest", "chord", "grace", "backup", "forward"]))
                duration = draw(_num(st.sampled_from([1, 2, 4, 8, 12, 480, 10080])))
                if kind in ("backup", "forward"):
                    out.append(f"<{kind}><duration>{duration}</duration></{kind}>")
                    continue
                body = []
                if kind == "grace":
                    body.append("<grace/>")
                if kind == "chord":
                    body.append("<chord/>")
                if kind == "rest":
                    body.append("<rest/>")
                else:
                    step = draw(st.sampled_from(list("CDEFGAB") + ["X", ""]))
                    alter = draw(st.sampled_from(["", "<alter>1</alter>", "<alter>-2</alter>", "<alter>0.5</alter>"]))
                    octave = draw(_num(st.integers(0, 8)))
                    body.append(f"<pitch><step>{step}</step>{alter}<octave>{octave}</octave></pitch>")
                if kind != "grace":
                    body.append(f"<duration>{duration}</duration>")
                if draw(st.integers(0, 4)) == 0:
                    body.append(f'<tie type="{draw(st.sampled_from(["start", "stop", "continue", "x"]))}"/>')
                if draw(st.booleans()):
                    body.append(f"<voice>{draw(_num(st.sampled_from([1, 2])))}</voice>")
                body.append(
                    f"<type>{draw(st.sampled_from(['quarter', 'eighth', 'whole', '16th', 'maxima', 'x']))}</type>"
                )
                if draw(st.integers(0, 5)) == 0:
                    body.append("<dot/>")
                if draw(st.integers(0, 6)) == 0:
                    body.append(
                        "<time-modification><actual-notes>"
                        + draw(_num(st.just(3)))
                        + "</actual-notes><normal-notes>2</normal-notes></time-modification>"
                    )
                out.append("<note>" + "".join(body) + "</note>")
            out.append("</measure>")
        out.append("</part>")
    out.append("</score-partwise>")
    return "\n".join(out).encode()


_ABC_METRES = ["4/4", "3/4", "6/8", "2/4", "C", "C|", "none", "9/8", "0/4", "4/0", "65/4", "7/32", "3/1", "", "2/2"]
_ABC_LENGTHS = ["1/8", "1/4", "1/16", "1/0", "0/8", "1/3", "1", "2/4", "", "1/64"]
_ABC_TEMPI = ["1/4=120", "120", "1/4=0", "C=0", "1/0=100", '"Allegro" 1/4=100', "abc", "1/4=-5", "1/4=99999", "3/8=60"]
_ABC_KEYS = ["C", "G", "Dm", "Amix", "F#m", "Bb", "Zz", "", "C clef=bass", "HP", "none", "D exp ^f _b", "Ebdor"]
_ABC_BARS = ["|", "|", "|", "||", "|]", "|:", ":|", "::", "[1", "[2", ":|2", "[|"]


@st.composite
def abc_note(draw) -> str:
    accidental = draw(st.sampled_from(["", "", "", "^", "^^", "_", "__", "="]))
    letter = draw(st.sampled_from(list("CDEFGABcdefgab")))
    octave = draw(st.sampled_from(["", "", "", ",", ",,", "'", "''", "''''''''''", ",,,,,,,,,,"]))
    length = draw(st.sampled_from(["", "", "", "2", "3", "4", "/", "//", "3/2", "/0", "0", "999", "8", "/3", "16"]))
    return accidental + letter + octave + length


@st.composite
def abc_element(draw) -> str:
    kind = draw(st.integers(0, 19))
    if kind < 9:
        return draw(abc_note())
    if kind == 9:
        return draw(st.sampled_from(["z", "z2", "x", "Z", "Z4", "z/"]))
    if kind == 10:
        return "[" + "".join(draw(st.lists(abc_note(), max_size=4))) + "]" + draw(st.sampled_from(["", "2", "/"]))
    if kind == 11:
        return draw(st.sampled_from(["(3", "(2", "(0", "(5:4:3", "(3:2:2", "(9"]))
    if kind == 12:
        return draw(st.sampled_from([">", "<", ">>", "<<<"]))
    if kind == 13:
        return draw(st.sampled_from(["-", "(", ")", ".", "~", "!trill!", "!fermata!", "!x", "+f+", "u", "T"]))
    if kind == 14:
        return "{" + "".join(draw(st.lists(abc_note(), min_size=1, max_size=3))) + "}"
    if kind == 15:
        return draw(st.sampled_from(['"Am"', '"^text"', '"G7/B"', '"', '"_below"']))
    if kind == 16:
        field_ = draw(st.sampled_from(["M", "L", "K", "Q", "V"]))
        value = {
            "M": _ABC_METRES,
            "L": _ABC_LENGTHS,
            "K": _ABC_KEYS,
            "Q": _ABC_TEMPI,
            "V": ["1", "2", "T1 clef=bass"],
        }[field_]
        return f"[{field_}:{draw(st.sampled_from(value))}]"
    if kind == 17:
        return draw(st.sampled_from([" ", " ", "\n", "\\\n", "% a comment\n", "\nw: la la la\n", "`"]))
    return draw(st.sampled_from(_ABC_BARS))


@st.composite
def abc_tune(draw, number: int = 1) -> str:
    lines = [f"X:{draw(st.sampled_from([str(number), str(number), 'abc', '', '0', '-3', '99999999999']))}"]
    for name, values in (("T", ["Fuzz", "", "ü"]), ("M", _ABC_METRES), ("L", _ABC_LENGTHS), ("Q", _ABC_TEMPI)):
        if draw(st.integers(0, 3)):
            lines.append(f"{name}:{draw(st.sampled_from(values))}")
    if draw(st.integers(0, 5)) == 0:
        lines += ["V:1", "V:2 clef=bass"]
    lines.append(f"K:{draw(st.sampled_from(_ABC_KEYS))}")
    body = "".join(draw(st.lists(abc_element(), max_size=40)))
    if draw(st.integers(0, 5)) == 0:
        body = "V:1\n" + body + "\nV:2\n" + "".join(draw(st.lists(abc_element(), max_size=20)))
    return "\n".join(lines) + "\n" + body + "\n"


@st.composite
def abc_files(draw) -> bytes:
    """One to three ABC tunes, sometimes behind a file header, from a grammar with edge values in every field."""
    head = draw(st.sampled_from(["", "", "%abc-2.1\n", "M:6/8\nL:1/8\n\n", "T:header\n"]))
    tunes = [draw(abc_tune(i + 1)) for i in range(draw(st.integers(1, 3)))]
    return (head + "\n".join(tunes)).encode()


# ----------------------------------------------------------------------------- codec strategies

_TOKENS, _FRAMES = TokenCodec(), FrameCodec()
_GRID_METRES = [(4, 4), (3, 4), (2, 4), (6, 8), (3, 8), (2, 2), (9, 8), (12, 8), (5, 4), (3, 1), (7, 8), (1, 4)]


@st.composite
def monophonic_pieces(draw, *, codec: TokenCodec = _TOKENS) -> Piece:
    """A valid piece the token codec takes: 1-4 monophonic voices on its grid, any metre the grid holds."""
    spq = codec.steps_per_quarter
    num, den = draw(st.sampled_from([m for m in _GRID_METRES if (spq * 4 * m[0]) % m[1] == 0]))
    bar = spq * 4 * num // den
    pickup = draw(st.integers(0, bar - 1))
    parts = []
    for _ in range(draw(st.integers(1, codec.max_voices))):
        notes, t = [], draw(st.integers(0, 8))
        for _ in range(draw(st.integers(0, 12))):
            duration = draw(st.integers(1, 3 * bar))
            notes.append(Note(draw(st.integers(0, 127)), t, duration, draw(st.integers(1, 127))))
            t += duration + draw(st.sampled_from([0, 0, 1, 3, bar]))
        rng = draw(st.one_of(st.none(), st.tuples(st.integers(0, 60), st.integers(60, 127))))
        parts.append(Part(draw(st.text(max_size=8)), tuple(notes), program=draw(st.integers(0, 127)), range=rng))
    notes_end = max((n.end for p in parts for n in p.notes), default=0)
    length = draw(st.one_of(st.none(), st.integers(notes_end, notes_end + 2 * bar)))
    key = draw(st.one_of(st.none(), st.builds(key_name, st.integers(0, 11), st.sampled_from(["major", "minor"]))))
    return Piece(
        tuple(parts),
        steps_per_quarter=spq,
        tempo=draw(st.one_of(st.integers(1, 1000), st.floats(1, 1000))),
        time_signature=(num, den),
        key=key,
        pickup=pickup,
        style=draw(st.sampled_from([None, *codec.styles])),
        title=draw(st.one_of(st.none(), st.text(max_size=12))),
        length=length,
    )


def check_token_round_trip(piece: Piece, codec: TokenCodec = _TOKENS) -> None:
    """``decode(encode(p))`` is ``p`` with velocity 80, ending at the bar line after its end (AssertionError if not)."""
    enc = codec.encode(piece)
    back = codec.decode(enc.tokens, enc.header)
    parts = tuple(replace(p, notes=tuple(replace(n, velocity=80) for n in p.notes)) for p in piece.parts)
    expected = piece.replace(parts=parts, length=piece.bar_start(piece.n_bars))
    assert back == expected, f"round trip changed the piece: {piece!r}"
    assert json.loads(json.dumps(enc.header)) == enc.header, "the header is not JSON-friendly"


def check_frame_round_trip(frames: np.ndarray, codec: FrameCodec = _FRAMES) -> None:
    """``encode(decode(f)) == f`` for any binary frames (AssertionError if not)."""
    back = codec.encode(codec.decode(frames))
    assert back.shape == frames.shape and (back == frames).all(), f"frames changed: shape {frames.shape}"


def frame_arrays(codec: FrameCodec = _FRAMES):
    return st.integers(1, 48).flatmap(lambda n: hnp.arrays(np.uint8, (n, codec.n_keys), elements=st.integers(0, 1)))


# ----------------------------------------------------------------------------- the run


def _hypothesis(strategy, n: int, body: Callable, seed_: int) -> None:
    """Call ``body`` on ``n`` examples of ``strategy``, generated only (no shrinking: ``body`` records failures)."""

    @seed(seed_)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(example):
        body(example)

    run()


def fuzz(inputs: int = 10_000, *, seed_: int = 0, out: Path | None = None, atheris_share: float = 0.1) -> Fuzzer:
    """Spread ``inputs`` over the targets and run them; ``atheris_share`` of them go to atheris where installed."""
    rng = random.Random(seed_)
    fz = Fuzzer(out)
    seeds = seed_files(rng)
    others = [d for files in seeds.values() for d in files]
    use_atheris = atheris_share > 0 and _atheris_installed()
    share = {
        "midi bytes": 0.2,
        "musicxml grammar": 0.12,
        "musicxml bytes": 0.08,
        "mxl bytes": 0.04,
        "abc grammar": 0.14,
        "abc bytes": 0.1,
        "random bytes": 0.1,
        "beyond the limits": 0.05,
        "tokens round trip": 0.07,
        "frames round trip": 0.05,
    }
    total = sum(share.values())
    share = {k: v / total * (1 - atheris_share if use_atheris else 1) for k, v in share.items()}
    count = {k: max(1, round(v * inputs)) for k, v in share.items()}

    for _ in range(count["midi bytes"]):
        fz.read("midi bytes", mutate(rng.choice(seeds["midi"]), rng, seeds["midi"]), "midi", rng=rng)
    for _ in range(count["musicxml bytes"]):
        fz.read("musicxml bytes", mutate(rng.choice(seeds["musicxml"]), rng, others, text=True), "musicxml", rng=rng)
    for _ in range(count["mxl bytes"]):
        xml = rng.choice(seeds["musicxml"])
        data = _zip_mxl(mutate(xml, rng, text=True)) if rng.random() < 0.7 else mutate(rng.choice(seeds["mxl"]), rng)
        fz.read("mxl bytes", data, "mxl", rng=rng)
    for _ in range(count["abc bytes"]):
        fz.read("abc bytes", mutate(rng.choice(seeds["abc"]), rng, seeds["abc"], text=True), "abc", rng=rng)
    for _ in range(count["random bytes"]):
        data = rng.randbytes(rng.choice([1, 16, 256, 4096]))
        magic = rng.choice(
            [
                b"",
                b"",
                b"MThd",
                b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk",
                b"PK\x03\x04",
                b"<score-partwise>",
                b"X:1\n",
                b"K:C\n",
            ]
        )
        fz.read("random bytes", magic + data, rng.choice([None, "midi", "musicxml", "mxl", "abc"]), rng=rng)

    for _ in range(count["beyond the limits"]):
        data, fmt = beyond_limits(rng)
        fz.read("beyond the limits", data, fmt, rng=rng)

    _hypothesis(
        musicxml_documents(),
        count["musicxml grammar"],
        lambda doc: fz.read("musicxml grammar", doc, "musicxml", rng=rng),
        seed_,
    )
    _hypothesis(abc_files(), count["abc grammar"], lambda doc: fz.read("abc grammar", doc, "abc", rng=rng), seed_)
    _hypothesis(
        monophonic_pieces(),
        count["tokens round trip"],
        lambda p: fz.run("tokens round trip", lambda: check_token_round_trip(p)),
        seed_,
    )
    _hypothesis(
        frame_arrays(),
        count["frames round trip"],
        lambda f: fz.run("frames round trip", lambda: check_frame_round_trip(f)),
        seed_,
    )

    if use_atheris:
        _run_atheris(fz, max(1, round(atheris_share * inputs)), seeds, seed_)
    return fz


# ----------------------------------------------------------------------------- atheris (optional)


def _atheris_installed() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _run_atheris(fz: Fuzzer, runs: int, seeds: dict[str, list[bytes]], seed_: int) -> None:
    """Coverage-guided fuzzing in a child process (libFuzzer ends its process), seeded with the valid files."""
    target = fz.target("atheris")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for fmt, files in seeds.items():
            for i, data in enumerate(files):
                (corpus / f"{fmt}-{i}").write_bytes(bytes([list(SUFFIXES).index(fmt)]) + data)
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.fuzz",
            "--atheris-child",
            str(report),
            f"-runs={runs + 10}",
            f"-seed={seed_ + 1}",
            "-max_len=65536",
            "-rss_limit_mb=4096",
            f"-timeout={HANG_SECONDS}",
            f"-artifact_prefix={tmp}/",  # libFuzzer's crash-*, slow-unit-* files: not into the working folder
            str(corpus),
        ]
        child = subprocess.run(cmd, capture_output=True, text=True)
        if not report.exists():
            target.failures.append(f"atheris child ended without a report: {child.stderr.strip()[-300:]}")
            return
        result = json.loads(report.read_text())
    target.inputs = result["inputs"]
    target.refused = result["refused"]
    target.failures += result["failures"]
    target.unexplained += result["unexplained"]
    target.max_seconds = result["max_seconds"]
    target.slow = result["slow"]
    target.foreign_warnings = set(result["foreign_warnings"])


def _atheris_child(report: str, libfuzzer_args: list[str]) -> None:
    """In the child: instrument the readers, then fuzz ``read`` with the first byte choosing the format."""
    import atheris

    with atheris.instrument_imports(include=["musewidgets.io", "mido", "pretty_midi", "music21.abcFormat"]):
        import mido  # noqa: F401
        import music21.abcFormat  # noqa: F401
        import pretty_midi  # noqa: F401

        from musewidgets import io as instrumented  # noqa: F401
    fz = Fuzzer()
    formats = list(SUFFIXES)

    def one_input(data: bytes) -> None:
        if not data:
            return
        fmt = formats[data[0] % len(formats)]
        fz.read("atheris", data[1:], fmt)
        _write_child_report(fz, report)  # after every input: libFuzzer ends the process without Python's exit hooks

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def _write_child_report(fz: Fuzzer, path: str) -> None:
    t = fz.target("atheris")
    Path(path).write_text(
        json.dumps(
            {
                "inputs": t.inputs,
                "refused": t.refused,
                "failures": t.failures,
                "unexplained": t.unexplained,
                "max_seconds": t.max_seconds,
                "slow": t.slow,
                "foreign_warnings": sorted(t.foreign_warnings),
            }
        )
    )


# ----------------------------------------------------------------------------- report


def markdown(fz: Fuzzer, seconds: float, inputs: int, atheris_ran: bool) -> str:
    from benchmarks.common import machine, table

    rows = []
    for t in fz.targets.values():
        rows.append(
            [
                t.name,
                t.inputs,
                t.refused,
                len(t.failures),
                len(t.unexplained),
                f"{t.max_seconds:.2f}",
                len(t.slow),
                "; ".join(sorted(t.bugs)) or "none",
            ]
        )
    total = sum(t.inputs for t in fz.targets.values())
    failures = sum(len(t.failures) + len(t.unexplained) for t in fz.targets.values())
    slow = sum(len(t.slow) for t in fz.targets.values())
    fixed = table(["input", "before", "now"], [[a, b, c] for a, b, c in FIXED])
    warned = sorted({w for t in fz.targets.values() for w in t.foreign_warnings})
    return "\n\n".join(
        [
            "## Fuzzing",
            f"`python -m benchmarks.fuzz --inputs {inputs}` on {machine()}: {total:,} inputs in {seconds / 60:.1f} "
            f"minutes, {failures} failures or unexplained messages, {slow} inputs over {SLOW_SECONDS:g} s. "
            + (
                "atheris (coverage-guided, in a child process) ran too."
                if atheris_ran
                else "atheris is not installed, so no coverage-guided run (`pip install atheris` adds one)."
            ),
            "Allowed per input: a result, or a `MusicFileError` that names the file (warnings are warnings). "
            "*refused*: such errors (most damaged inputs are rightly refused); *failures*: any other exception, or a "
            "round trip that changed its input; *unexplained*: a `MusicFileError` that shows a parser's internal "
            "error or does not name the file; *max s*: the slowest input.",
            table(
                [
                    "target",
                    "inputs",
                    "refused",
                    "failures",
                    "unexplained",
                    "max s/input",
                    f"over {SLOW_SECONDS:g} s",
                    "bugs",
                ],
                rows,
            ),
            "Bugs found by the fuzzing and by the hardening probes, all fixed in `musewidgets/io/` (the last in "
            "`musewidgets/codecs/frames.py`), each with a regression test in `tests/test_io.py` (the last in "
            "`tests/test_fuzz.py`):",
            fixed,
            (
                "Warnings other than `QuantizationWarning` seen: " + "; ".join(f"`{w}`" for w in warned[:6])
                if warned
                else "No warning other than `QuantizationWarning` was seen."
            ),
        ]
    )


def main(inputs: int = 10_000, *, seed_: int = 0, out: Path | None = None, atheris: bool = True) -> dict:
    from benchmarks.common import write_section

    t0 = time.perf_counter()
    fz = fuzz(inputs, seed_=seed_, out=out, atheris_share=0.1 if atheris else 0.0)
    atheris_ran = "atheris" in fz.targets and fz.targets["atheris"].inputs > 0
    md = markdown(fz, time.perf_counter() - t0, inputs, atheris_ran)
    write_section("fuzzing", md)
    total = sum(t.inputs for t in fz.targets.values())
    bad = sum(len(t.failures) + len(t.unexplained) for t in fz.targets.values())
    summary = [["fuzzing: inputs failing or unexplained", f"{bad} of {total:,}", "0", "the target"]]
    return {"markdown": md, "summary": summary, "fuzzer": fz, "atheris": atheris_ran}


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--atheris-child":
        _atheris_child(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs in all (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder for failing and slow inputs (default: a temporary one)")
    parser.add_argument("--no-atheris", action="store_true", help="skip the coverage-guided run")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="musewidgets-fuzz-"))
    result = main(args.inputs, seed_=args.seed, out=out, atheris=not args.no_atheris)
    print(result["markdown"])
    print(f"\nfailing and slow inputs (if any) are under {out}")
