"""A token store: a folder of the user's own music, read once, encoded once, kept on disk for training.

::

    report = prepare("my-midi/", "runs/mine/store", style_name="mine")   # parallel, resumable, with a progress bar
    print(report)                                                       # used files, skipped ones by reason
    store = TokenStore("runs/mine/store")
    batch = store.split("train").batch(np.random.default_rng(0), 32, 512, augment=True)

Preparation walks the folder for every file :mod:`musewidgets.io` reads (MIDI, MusicXML, ABC, Humdrum), reads them
in chunks of :data:`CHUNK_FILES` in parallel processes and writes one **shard** per chunk: ``tokens-NNNNN.npy``
(every kept piece's tokens, one ``uint8`` each, back to back; a plain ``.npy`` that ``np.load(path,
mmap_mode="r")`` opens) and ``pieces-NNNNN.json`` (each piece's place in it, metre, key, bar grid, voices and pitch
spans, and each skipped file with its reason). A shard whose ``pieces`` file exists is done: an interrupted run
(Ctrl-C, a kill, a power cut) redoes only the chunks it had not finished. Every file is written to a temporary
name and renamed, so a shard is whole or absent. Finally ``index.npz`` (one row per kept piece) and ``store.json``
(the style the data makes, the report, a fingerprint of the folder's files) are written; ``store.json`` marks the
store complete, and a second :func:`prepare` of an unchanged folder returns at once (the files' names, sizes and
modification times are compared, nothing is read).

MIDI is parsed in bulk through ``symusic`` (a C++ core) and quantized to the step grid exactly as
:func:`musewidgets.io.read` does (tests/test_store.py checks they give the same notes); a file that the fast path
cannot vouch for (tempo 0, several channels in one track, a program change after a note, SMPTE time, damage,
zero-length notes, beyond the reading limits) is read by :func:`musewidgets.io.read` instead and counted in
:attr:`StoreReport.fallbacks`. MusicXML, ABC and Humdrum go through music21 via :func:`musewidgets.io.read`.

The folder becomes one **style**: every kept piece has the same number of voices (``voices``, by default the most
common count in the folder), ordered from the highest voice to the lowest by mean pitch; part names and programs,
per-voice pitch ranges, the metres of at least 5 % of the pieces and the median tempo are taken from the data.
Files are skipped, and counted under their reason, when they cannot be read (``unreadable``), hold no notes (``no
notes``), go past the reading limits (``too long``), hold chords within a part (``chords in a voice``: the codec
needs single lines) or have another number of voices (``wrong voice count``).

Splits are per file, 80/10/10 by a stable hash of the file's path relative to the folder
(:func:`musewidgets.corpus.split_of`): adding files never moves others between splits.

Training reads its windows with positioned reads (``os.pread``) from the shards: neither the resident memory nor the
address space of a training process grows with the store, so a store larger than RAM, or than a ``ulimit -v``
limit, trains; the operating system's page cache keeps the hot parts. A distributed sampler can read disjoint
shards (:attr:`TokenStore.index` ``["shard"]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MusewidgetsError, MusicFileError

__all__ = [
    "CHUNK_FILES",
    "SKIP_REASONS",
    "STORE_VERSION",
    "StoreError",
    "StoreReport",
    "StoreSplit",
    "TokenStore",
    "is_store",
    "open_or_prepare",
    "prepare",
    "read_midi_fast",
    "style_name_for",
]

STORE_VERSION = 1
CHUNK_FILES = 512  # files per shard: a unit of parallel work and of resuming
SKIP_REASONS = ("unreadable", "no notes", "too long", "chords in a voice", "wrong voice count")
SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}
MAX_SHIFT = 6  # transpositions while training: within +-6 semitones, inside the voice ranges
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_SHOWN = 5  # names of skipped files kept per reason in the report


class StoreError(MusewidgetsError, ValueError):
    """A folder that cannot become a token store (missing, no usable files), or a damaged or foreign store."""


@dataclass
class StoreReport:
    """What :func:`prepare` did: files found, used and skipped (counts per reason and the first few names)."""

    folder: str
    store: str
    style: str
    voices: int
    files: int = 0
    used: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few "file: detail"
    fallbacks: int = 0  # MIDI files the symusic fast path handed to musewidgets.io.read
    readers: dict[str, int] = field(default_factory=dict)  # files read by each reader
    splits: dict[str, int] = field(default_factory=dict)  # kept files per split
    tokens: int = 0
    seconds: float = 0.0
    reused: bool = False  # the store was complete already: nothing was read

    def __str__(self) -> str:
        lines = [
            f"{self.folder}: {self.used:,} of {self.files:,} files used as style {self.style!r} "
            f"({self.voices} voice{'s' * (self.voices != 1)}; "
            + ", ".join(f"{n:,} {s}" for s, n in self.splits.items())
            + f"; {self.tokens:,} tokens) -> {self.store}"
            + (" (reused)" if self.reused else f" in {self.seconds:.1f} s")
        ]
        for reason, n in self.skipped.items():
            shown = "; ".join(self.examples.get(reason, [])[:3])
            lines.append(f"  skipped {n:,} {reason}" + (f" (e.g. {shown})" if shown else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def style_name_for(folder: str | os.PathLike, name: str | None = None) -> str:
    """The style name a folder's music gets: ``name`` if given, else the folder's name made safe; a name of a
    corpus style, or one with other characters than letters, digits, ``_ . -``, raises :class:`StoreError`."""
    from .corpus import STYLES

    if name is None:
        base = Path(os.path.abspath(folder)).name
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.")[:40] or "mine"
        if not name[0].isalnum():
            name = "x" + name[:39]
    if not _NAME.match(name):
        raise StoreError(f"style name {name!r}: use 1 to 40 letters, digits, '_', '.' or '-', starting with one")
    if name in STYLES:
        raise StoreError(f"style name {name!r} is a corpus style's; choose another (--style-name)")
    return name


def is_store(path: str | os.PathLike) -> bool:
    """True for a folder holding a complete token store."""
    return (Path(path) / "store.json").is_file()


# --------------------------------------------------------------------------- reading one file


def _scan_midi(data: bytes) -> dict | None:
    """What the fast path must know that symusic does not say: per track the channels with notes and whether a
    program changes after a note; the tick of the last text/lyric/metre/key event (pretty_midi counts them in a
    piece's length); note and event counts. ``None`` for anything unusual (the slow reader decides)."""
    if data[:4] != b"MThd" or len(data) < 14:
        return None
    if data[12] & 0x80:  # SMPTE time
        return None
    pos, n = 8 + int.from_bytes(data[4:8], "big"), len(data)
    notes = events = 0
    meta_end = 0
    tempo_zero = False
    while pos + 8 <= n:
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        i, end = pos + 8, pos + 8 + size
        if end > n:
            return None  # truncated: the slow reader says how
        pos = end
        if chunk != b"MTrk":
            continue
        status, tick, channels, noted, late_program = 0, 0, set(), False, False
        while i < end:
            delta = 0
            while True:
                if i >= end:
                    return None
                c = data[i]
                i += 1
                delta = (delta << 7) | (c & 0x7F)
                if c < 0x80:
                    break
            tick += delta
            if i >= end:
                return None
            byte = data[i]
            if byte == 0xFF:
                if i + 1 >= end:
                    return None
                kind = data[i + 1]
                i += 2
                length = 0
                while True:
                    if i >= end:
                        return None
                    c = data[i]
                    i += 1
                    length = (length << 7) | (c & 0x7F)
                    if c < 0x80:
                        break
                if kind in (0x01, 0x05, 0x58, 0x59):  # text, lyrics, time and key signatures
                    meta_end = max(meta_end, tick)
                if kind == 0x51 and length == 3 and data[i : i + 3] == b"\x00\x00\x00":
                    tempo_zero = True
                if kind == 0x58 and length >= 1 and data[i] == 0:
                    tempo_zero = True  # a 0/x metre: the slow reader replaces it and says so
                i += length
                if kind == 0x2F:
                    break
            elif byte in (0xF0, 0xF7):
                i += 1
                length = 0
                while True:
                    if i >= end:
                        return None
                    c = data[i]
                    i += 1
                    length = (length << 7) | (c & 0x7F)
                    if c < 0x80:
                        break
                i += length
            else:
                if byte & 0x80:
                    status = byte
                    i += 1
                elif not status:
                    return None
                kind = status & 0xF0
                if kind == 0x90 and i + 1 < end and data[i + 1]:
                    notes += 1
                    channels.add(status & 0x0F)
                    noted = True
                elif kind == 0xC0 and noted:
                    late_program = True
                i += 1 if kind in (0xC0, 0xD0) else 2
            events += 1
        if i > end or len(channels) > 1 or late_program:
            return None
    if tempo_zero:
        return None
    return {"notes": notes, "events": events, "meta_end": meta_end}


def _midi_arrays(data: bytes, name: str, spq: int) -> dict | None:
    """A MIDI file's notes on the step grid, as :func:`musewidgets.io.read` would place them, in numpy arrays:
    ``{"tracks": [(name, program, onsets, durations, pitches, velocities)], "time_signature", "key", "tempo",
    "length", "report"}``; ``None`` where the fast path cannot vouch for the same result. Raises
    :class:`MusicFileError` for a file without notes."""
    from fractions import Fraction

    from symusic import Score

    from . import io
    from .piece import key_name

    scan = _scan_midi(data)
    if scan is None or scan["notes"] > io.MAX_NOTES or scan["events"] > io.MAX_MIDI_EVENTS:
        return None
    try:
        score = Score.from_midi(data)
    except Exception:  # symusic's parser refuses: the slow reader says why in words
        return None
    report = io.QuantizeReport(name, spq)
    res = score.ticks_per_quarter
    if res <= 0:
        return None
    tracks, end_tick = [], scan["meta_end"]
    for track in score.tracks:
        if track.is_drum:
            report.drum_notes_dropped += track.note_num()
            continue
        if not track.note_num():
            continue
        arr = track.notes.numpy()
        start, dur = arr["time"].astype(np.int64), arr["duration"].astype(np.int64)
        if (dur <= 0).any():
            return None
        end_tick = max(end_tick, int((start + dur).max()))
        onsets, moved = io._round_steps(start * spq, res)
        durations, changed = io._round_steps(dur * spq, res)
        changed |= durations < 1
        report.onsets_moved += int(moved.sum())
        report.durations_changed += int(changed.sum())
        label = track.name.strip()
        if not label:
            import pretty_midi

            label = pretty_midi.program_to_instrument_name(int(track.program))
        pitches = arr["pitch"].astype(np.int64)
        velocities = np.maximum(arr["velocity"].astype(np.int64), 1)
        order = np.lexsort((pitches, onsets))  # as a Part sorts its notes: by (start, pitch)
        tracks.append(
            (
                label,
                int(track.program),
                onsets[order],
                np.maximum(durations, 1)[order],
                pitches[order],
                velocities[order],
            )
        )
    if not tracks:
        raise MusicFileError(
            f"{name}: the file holds no notes" + (" (only drums)" if report.drum_notes_dropped else "")
        )
    for t in score.tracks:  # controllers and pitch bends count in pretty_midi's end time
        for events in (t.controls, t.pitch_bends):
            if len(events):
                end_tick = max(end_tick, int(max(e.time for e in events)))
    sigs = sorted(score.time_signatures, key=lambda s: s.time)
    time_sig = (4, 4)
    if sigs:
        time_sig = (sigs[0].numerator, sigs[0].denominator)
        if len({(s.numerator, s.denominator) for s in sigs}) > 1:
            report.remarks.append(f"metre changes ignored, kept {time_sig[0]}/{time_sig[1]}")
    key = None
    keys = sorted(score.key_signatures, key=lambda k: k.time)
    if keys:
        minor = bool(keys[0].tonality)
        key = key_name((7 * int(keys[0].key) + (9 if minor else 0)) % 12, "minor" if minor else "major")
    tempi = sorted(score.tempos, key=lambda t: t.time)
    report.tempo_found = bool(tempi)
    qpm = None
    if tempi:
        qpm = round(60_000_000 / tempi[0].mspq, 2) if tempi[0].time == 0 else 120.0
    tempo = io._usable_tempo(qpm, 120.0, report)
    last = round(Fraction(end_tick, res) * spq)
    length = max([last] + [int((t[2] + t[3]).max()) for t in tracks])
    return {
        "tracks": tracks,
        "time_signature": time_sig,
        "key": key,
        "tempo": tempo,
        "length": length,
        "report": report,
    }


def _piece_of(found: dict):
    """The :class:`~musewidgets.piece.Piece` of :func:`_midi_arrays`' result, checked as io checks its pieces."""
    from . import io
    from .piece import Note, Part

    parts = [
        Part(
            label,
            tuple(Note(p, s, d, v) for p, s, d, v in zip(pi.tolist(), on.tolist(), du.tolist(), ve.tolist())),
            program=program,
        )
        for label, program, on, du, pi, ve in found["tracks"]
    ]
    report = found["report"]
    piece = io._make_piece(
        parts,
        report,
        tempo=found["tempo"],
        time_signature=found["time_signature"],
        key=found["key"],
        length=found["length"],
    )
    return io._check_piece(piece, report)


def read_midi_fast(source: str | os.PathLike | bytes, *, steps_per_quarter: int = 4, name: str | None = None):
    """A MIDI file as :func:`musewidgets.io.read` reads it, parsed by symusic; ``None`` where this fast path cannot
    vouch for the same result (then use :func:`musewidgets.io.read`).

    Raises :class:`MusicFileError` as :func:`musewidgets.io.read` does for a file without notes or beyond the
    reading limits.
    """
    from . import io

    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "<bytes>"
    else:
        path = Path(source)
        name = name or path.name
        if path.stat().st_size > io.MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    found = _midi_arrays(data, name, steps_per_quarter)
    return None if found is None else _piece_of(found)


class _Skip(Exception):
    """A file read well but not usable: ``args`` = (reason, detail)."""


def _encode_fast(found: dict, rel: str, codec, spq: int) -> tuple[dict, np.ndarray] | None:
    """Tokens and record of a MIDI file straight from :func:`_midi_arrays`' arrays (no Note objects): what
    ``codec.encode`` makes of the piece :func:`_piece_of` would build; ``None`` where that piece would be refused
    (the slow path then raises the reader's own error)."""
    from . import io
    from .analysis.keys import key_of_durations
    from .codecs.tokens import HOLD, PITCH0, REST
    from .piece import key_name

    num, den = found["time_signature"]
    if not (1 <= num <= io.MAX_BAR_BEATS and den in (1, 2, 4, 8, 16, 32) and (spq * 4 * num) % den == 0):
        return None
    spb = spq * 4 * num // den
    n_bars = -(-found["length"] // spb)
    if n_bars > io.MAX_BARS or n_bars == 0:
        return None
    tracks = found["tracks"]
    for _, _, on, du, _, _ in tracks:
        if (on[:-1] + du[:-1] > on[1:]).any():
            raise _Skip("chords in a voice", f"{rel}: a part holds chords or overlapping notes")
    if len(tracks) > codec.max_voices:
        raise _Skip("wrong voice count", f"{rel}: {len(tracks)} voices; the codec takes 1 to 4")
    means = [float(t[4].mean()) for t in tracks]
    tracks = [tracks[i] for i in sorted(range(len(tracks)), key=lambda i: -means[i])]  # highest voice first
    n_steps, V = n_bars * spb, len(tracks)
    grid = np.full((n_steps, V), REST, dtype=np.uint8)
    durations = np.zeros(12)
    for v, (_, _, on, du, pi, _) in enumerate(tracks):
        grid[on, v] = PITCH0 + pi
        delta = np.zeros(n_steps + 1, dtype=np.int64)
        np.add.at(delta, on + 1, 1)
        np.add.at(delta, on + du, -1)
        grid[np.cumsum(delta[:n_steps]) > 0, v] = HOLD
        durations += np.bincount(pi % 12, weights=du, minlength=12)
    found_key = key_of_durations(durations)
    key = codec.key_index(None if found_key is None else key_name(*found_key))
    record = {
        "file": rel,
        "voices": V,
        "steps_per_bar": spb,
        "pickup": 0,
        "metre": codec.metre_index((num, den)),
        "key": key,
        "time_signature": [num, den],
        "tempo": found["tempo"],
        "spans": [[int(t[4].min()), int(t[4].max())] for t in tracks],
        "parts": [[t[0], t[1]] for t in tracks],
    }
    return record, grid.reshape(-1)


def _reason(err: MusicFileError) -> str:
    text = str(err)
    if "no notes" in text or "is empty" in text or "holds no tunes" in text:
        return "no notes"
    if re.search(
        r"(lasts [\d,]+ bars|more than [\d,]+ (notes|MIDI events)|the file is [\d.]+ MB|unpacks to more)", text
    ):
        return "too long"
    return "unreadable"


def _encode_chunk(task: tuple) -> dict:
    """Read, encode and write one shard; returns its summary (also what ``pieces-NNNNN.json`` holds)."""
    root, rels, out, shard, spq, fast = task
    from . import io
    from .codecs import TokenCodec

    codec = TokenCodec(styles=())
    pieces, skipped, readers, fallbacks, chunks, offset = [], [], Counter(), [], [], 0
    for rel in rels:
        path = Path(root) / rel
        try:
            record = tokens = None
            if fast and path.suffix.lower() in (".mid", ".midi"):
                try:
                    found = (
                        None if path.stat().st_size > io.MAX_FILE_BYTES else _midi_arrays(path.read_bytes(), rel, spq)
                    )
                except OSError:
                    found = None
                if found is not None:
                    encoded = _encode_fast(found, rel, codec, spq)
                    if encoded is not None:
                        (record, tokens), reader = encoded, "symusic"
                if record is None:
                    fallbacks.append(rel)
            if record is None:
                record, tokens, reader = _encode_slow(path, rel, spq, codec)
        except MusicFileError as err:
            skipped.append([rel, _reason(err), str(err)[:200]])
            continue
        except _Skip as skip:
            skipped.append([rel, *skip.args])
            continue
        except Exception as err:  # a parser failure io did not word: the file is still only skipped
            skipped.append([rel, "unreadable", f"{rel}: {type(err).__name__}: {err}"[:200]])
            continue
        readers[reader] += 1
        chunks.append(tokens)
        pieces.append({**record, "offset": offset, "length": len(tokens)})
        offset += len(tokens)
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
    summary = {
        "shard": shard,
        "files": len(rels),
        "pieces": pieces,
        "skipped": skipped,
        "readers": dict(readers),
        "fallbacks": len(fallbacks),
    }
    out = Path(out)
    _atomic_npy(out / f"tokens-{shard:05d}.npy", tokens)
    _atomic_text(out / f"pieces-{shard:05d}.json", json.dumps(summary))  # last: it marks the shard done
    return summary


def _encode_slow(path: Path, rel: str, spq: int, codec) -> tuple[dict, np.ndarray, str]:
    """Record, tokens and reader of a file read by :func:`musewidgets.io.read` (music21 or pretty_midi)."""
    import warnings

    from . import io
    from .analysis.keys import estimate_key
    from .errors import QuantizationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        warnings.simplefilter("ignore", UserWarning)  # music21's notes about the files
        piece = io.read(path, steps_per_quarter=spq, name=rel)
    reader = "pretty_midi" if path.suffix.lower() in (".mid", ".midi") else "music21"
    parts = [p for p in piece.parts if p.notes]
    if not all(p.is_monophonic for p in parts):
        raise _Skip("chords in a voice", f"{rel}: a part holds chords or overlapping notes")
    if not 1 <= len(parts) <= codec.max_voices:
        raise _Skip("wrong voice count", f"{rel}: {len(parts)} voices; the codec takes 1 to 4")
    means = [float(np.mean([n.pitch for n in p.notes])) for p in parts]
    parts = [parts[i] for i in sorted(range(len(parts)), key=lambda i: -means[i])]  # highest voice first
    piece = piece.replace(parts=tuple(parts), style=None)
    try:
        enc = codec.encode(piece.replace(key=estimate_key(piece)))
    except ValueError as err:
        raise _Skip("unreadable", f"{rel}: {err}"[:200]) from None
    record = {
        "file": rel,
        "voices": len(parts),
        "steps_per_bar": piece.steps_per_bar,
        "pickup": piece.pickup,
        "metre": enc.metre,
        "key": enc.key,
        "time_signature": list(piece.time_signature),
        "tempo": piece.tempo,
        "spans": [list(p.pitch_span()) for p in parts],
        "parts": [[p.name, p.program] for p in parts],
    }
    return record, enc.tokens.astype(np.uint8), reader


def _atomic_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- preparing a folder


def _walk(folder: Path) -> list[tuple[str, int, int]]:
    """Every readable music file under ``folder``: (path relative to it, size, mtime_ns), sorted; hidden files and
    folders are left out."""
    from .io import READ_SUFFIXES

    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in READ_SUFFIXES:
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            found.append((os.path.relpath(full, folder).replace(os.sep, "/"), st.st_size, st.st_mtime_ns))
    found.sort()
    return found


def _fingerprint(files: list[tuple[str, int, int]], spq: int) -> str:
    h = hashlib.sha1(f"store-v{STORE_VERSION} spq={spq} chunk={CHUNK_FILES}\n".encode())
    for rel, size, mtime in files:
        h.update(f"{rel}\t{size}\t{mtime}\n".encode())
    return h.hexdigest()


def prepare(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    style_name: str | None = None,
    voices: int | None = None,
    jobs: int | None = None,
    progress: bool = True,
    fast_midi: bool = True,
    steps_per_quarter: int = 4,
) -> StoreReport:
    """Read every music file under ``folder`` into a token store at ``out``; see the module docstring.

    Parameters
    ----------
    style_name : str, optional
        The style the folder's music becomes (default: the folder's name; see :func:`style_name_for`).
    voices : int, optional
        Keep pieces of this many voices (1-4); default: the most common count among the readable files.
    jobs : int, optional
        Worker processes (default: the available cores); 1 reads in this process.
    progress : bool
        A tqdm bar over the files (in a notebook, a widget bar).
    fast_midi : bool
        Parse MIDI with symusic where it gives what :func:`musewidgets.io.read` gives (default); False reads every
        file with :func:`musewidgets.io.read`.

    Returns a :class:`StoreReport`; raises :class:`StoreError` for a missing folder, a folder without music files or
    without a usable one. An unchanged folder whose store is complete is not read again (``report.reused``).
    """
    t0 = time.perf_counter()
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise StoreError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: is a file, not a folder")
    name = style_name_for(folder, style_name)
    if voices is not None and not 1 <= int(voices) <= 4:
        raise StoreError(f"`voices` must be 1 to 4, got {voices}")
    files = _walk(folder)
    if not files:
        raise StoreError(f"{folder}: holds no MIDI, MusicXML or ABC files")
    fingerprint = _fingerprint(files, steps_per_quarter)
    out.mkdir(parents=True, exist_ok=True)
    head_path = out / "store.json"
    if head_path.exists():
        try:
            head = json.loads(head_path.read_text())
        except ValueError:
            head = {}
        if (
            head.get("fingerprint") == fingerprint
            and head.get("style") == name
            and (voices is None or head.get("voices") == voices)
            and head.get("voices_asked") == voices
        ):
            report = StoreReport(**head["report"])
            report.reused, report.seconds = True, round(time.perf_counter() - t0, 2)
            return report
        head_path.unlink()  # the folder or the settings changed: the index is rebuilt below
    manifest_path = out / "manifest.json"
    manifest = {"version": STORE_VERSION, "fingerprint": fingerprint, "folder": str(folder.resolve())}
    if manifest_path.exists():
        try:
            same = json.loads(manifest_path.read_text()).get("fingerprint") == fingerprint
        except ValueError:
            same = False
        if not same:  # shards of other files: start over (only our own files are removed)
            for p in out.iterdir():
                if re.fullmatch(r"(tokens-\d{5}\.npy|pieces-\d{5}\.json|index\.npz|manifest\.json)", p.name):
                    p.unlink()
    _atomic_text(manifest_path, json.dumps(manifest))
    if fast_midi:
        from importlib.util import find_spec

        fast_midi = find_spec("symusic") is not None  # without it (an old install) every file goes through io.read
    rels = [rel for rel, _, _ in files]
    chunks = [rels[i : i + CHUNK_FILES] for i in range(0, len(rels), CHUNK_FILES)]
    summaries: dict[int, dict] = {}
    todo = []
    for shard, chunk in enumerate(chunks):
        done = out / f"pieces-{shard:05d}.json"
        if done.exists() and (out / f"tokens-{shard:05d}.npy").exists():
            try:
                summaries[shard] = json.loads(done.read_text())
                continue
            except ValueError:
                pass
        todo.append((str(folder), chunk, str(out), shard, steps_per_quarter, fast_midi))
    _run(todo, summaries, jobs, progress, total=len(rels), done=sum(s["files"] for s in summaries.values()))
    return _write_index(out, folder, name, voices, [summaries[i] for i in range(len(chunks))], fingerprint, t0)


def _run(todo: list, summaries: dict, jobs: int | None, progress: bool, total: int, done: int) -> None:
    from tqdm.auto import tqdm

    from .threads import available_cores

    jobs = max(1, min(jobs or available_cores(), len(todo) or 1))
    with tqdm(total=total, initial=done, unit="file", desc="preparing", disable=not progress) as bar:
        if jobs == 1:
            for task in todo:
                s = _encode_chunk(task)
                summaries[s["shard"]] = s
                bar.update(s["files"])
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # forkserver/spawn: a forked copy of a process that runs torch threads can hang
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context(method)) as pool:
            futures = [pool.submit(_encode_chunk, task) for task in todo]
            try:
                for fut in as_completed(futures):
                    s = fut.result()
                    summaries[s["shard"]] = s
                    bar.update(s["files"])
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise


def _write_index(
    out: Path, folder: Path, name: str, voices: int | None, shards: list[dict], fp: str, t0: float
) -> StoreReport:
    from .corpus import split_of

    counts = Counter(len(p["parts"]) for s in shards for p in s["pieces"])
    if not counts:
        skipped = Counter(reason for s in shards for _, reason, _ in s["skipped"])
        why = ", ".join(f"{n} {r}" for r, n in skipped.most_common())
        raise StoreError(f"{folder}: no usable music among {sum(s['files'] for s in shards)} files ({why})")
    chosen = voices or min(counts, key=lambda v: (-counts[v], v))
    rows, skipped, readers, fallbacks = [], [], Counter(), 0
    for s in shards:
        skipped += s["skipped"]
        readers.update(s["readers"])
        fallbacks += s["fallbacks"]
        for p in s["pieces"]:
            if p["voices"] == chosen:
                rows.append((s["shard"], p))
            else:
                skipped.append([p["file"], "wrong voice count", f"{p['file']}: {p['voices']} voices, not {chosen}"])
    if not rows:
        raise StoreError(f"{folder}: no piece has {chosen} voice{'s' * (chosen != 1)} (found: {dict(counts)})")
    lows = np.min([[sp[0] for sp in p["spans"]] for _, p in rows], axis=0)
    highs = np.max([[sp[1] for sp in p["spans"]] for _, p in rows], axis=0)
    n = len(rows)
    index = {
        "shard": np.array([s for s, _ in rows], dtype=np.int32),
        "offset": np.array([p["offset"] for _, p in rows], dtype=np.int64),
        "length": np.array([p["length"] for _, p in rows], dtype=np.int64),
        "split": np.array([SPLIT_CODES[split_of(p["file"])] for _, p in rows], dtype=np.int8),
        "metre": np.array([p["metre"] for _, p in rows], dtype=np.int16),
        "key": np.array([p["key"] for _, p in rows], dtype=np.int16),
        "steps_per_bar": np.array([p["steps_per_bar"] for _, p in rows], dtype=np.int32),
        "pickup": np.array([p["pickup"] for _, p in rows], dtype=np.int32),
        "tempo": np.array([p["tempo"] for _, p in rows], dtype=np.float32),
    }
    spans = np.array([p["spans"] for _, p in rows], dtype=np.int64).reshape(n, chosen, 2)
    shift_lo = np.max(lows[None, :] - spans[:, :, 0], axis=1)  # lowest shift keeping every voice in its range
    shift_hi = np.min(highs[None, :] - spans[:, :, 1], axis=1)
    index["shift_lo"] = np.clip(shift_lo, -MAX_SHIFT, 0).astype(np.int8)
    index["shift_hi"] = np.clip(shift_hi, 0, MAX_SHIFT).astype(np.int8)
    index["files"] = np.array([p["file"] for _, p in rows])
    tmp = out / ".index.npz.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **index)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out / "index.npz")

    metres = Counter(tuple(p["time_signature"]) for _, p in rows)
    common = [list(ts) for ts, c in metres.most_common() if c >= 0.05 * n] or [list(metres.most_common(1)[0][0])]
    names = Counter(tuple(tuple(x) for x in p["parts"]) for _, p in rows).most_common(1)[0][0]
    style_info = {
        "parts": [[pn, int(prog), [int(lo), int(hi)]] for (pn, prog), lo, hi in zip(names, lows, highs)],
        "time_signature": common[0],
        "metres": common,
        "tempo": float(np.median(index["tempo"])),
    }
    by_reason = Counter(reason for _, reason, _ in skipped)
    examples: dict[str, list[str]] = {}
    for rel, reason, detail in skipped:
        if len(examples.setdefault(reason, [])) < _SHOWN:
            examples[reason].append(detail if detail.startswith(rel) else f"{rel}: {detail}")
    split_names = {v: k for k, v in SPLIT_CODES.items()}
    report = StoreReport(
        folder=str(folder),
        store=str(out),
        style=name,
        voices=int(chosen),
        files=sum(s["files"] for s in shards),
        used=n,
        skipped={r: by_reason[r] for r in SKIP_REASONS if by_reason[r]},
        examples=examples,
        fallbacks=fallbacks,
        readers=dict(readers),
        splits={split_names[c]: int((index["split"] == c).sum()) for c in range(3)},
        tokens=int(index["length"].sum()),
        seconds=round(time.perf_counter() - t0, 2),
    )
    head = {
        "format": "musewidgets.store",
        "version": STORE_VERSION,
        "fingerprint": fp,
        "folder": str(folder.resolve()),
        "style": name,
        "voices": int(chosen),
        "voices_asked": voices,
        "style_info": style_info,
        "shards": len(shards),
        "report": report.to_dict(),
    }
    _atomic_text(out / "store.json", json.dumps(head, indent=1))
    return report


# --------------------------------------------------------------------------- reading a store


class TokenStore:
    """A complete token store, opened read-only: its style, index and splits (:meth:`split`).

    Raises :class:`StoreError` for a folder that holds no complete store or one of another format version.
    """

    def __init__(self, path: str | os.PathLike):
        from .codecs import TokenCodec

        self.path = Path(path)
        head_path = self.path / "store.json"
        if not head_path.is_file():
            raise StoreError(f"{self.path}: holds no complete token store (no store.json); run prepare on the folder")
        try:
            head = json.loads(head_path.read_text())
        except ValueError as err:
            raise StoreError(f"{head_path}: damaged ({err})") from None
        if head.get("format") != "musewidgets.store" or head.get("version") != STORE_VERSION:
            raise StoreError(f"{self.path}: a token store of another format version; prepare the folder again")
        self.head = head
        self.style: str = head["style"]
        self.voices: int = head["voices"]
        self.style_info: dict = head["style_info"]
        self.report = StoreReport(**head["report"])
        with np.load(self.path / "index.npz", allow_pickle=False) as z:
            self.index = {k: z[k] for k in z.files if k != "files"}
        self.codec = TokenCodec(styles=(self.style,))
        self._fds: dict[int, tuple[int, int]] = {}

    def __getstate__(self):  # worker processes open their own files
        state = dict(self.__dict__)
        state["_fds"] = {}
        return state

    @property
    def files(self) -> np.ndarray:
        """The file (relative to the folder) of each indexed piece."""
        with np.load(self.path / "index.npz", allow_pickle=False) as z:
            return z["files"]

    def _fd(self, shard: int) -> tuple[int, int]:
        got = self._fds.get(shard)
        if got is None:
            if len(self._fds) >= 64:
                self.close()
            path = self.path / f"tokens-{shard:05d}.npy"
            with open(path, "rb") as f:
                fmt = np.lib.format
                version = fmt.read_magic(f)
                (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
                start = f.tell()
            got = self._fds[shard] = (os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), start)
        return got

    def read(self, shard: int, start: int, n: int) -> np.ndarray:
        """``n`` tokens of ``shard`` from token ``start`` (uint8)."""
        fd, base = self._fd(int(shard))
        if hasattr(os, "pread"):
            data = os.pread(fd, int(n), base + int(start))
        else:  # pragma: no cover (Windows)
            os.lseek(fd, base + int(start), os.SEEK_SET)
            data = os.read(fd, int(n))
        if len(data) != n:
            raise StoreError(f"{self.path}: tokens-{int(shard):05d}.npy is shorter than its index says; prepare again")
        return np.frombuffer(data, dtype=np.uint8)

    def close(self) -> None:
        for fd, _ in self._fds.values():
            os.close(fd)
        self._fds = {}

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def split(self, name: str) -> StoreSplit:
        """The pieces of split ``'train'``, ``'valid'`` or ``'test'``."""
        if name not in SPLIT_CODES:
            raise ValueError(f"`name` must be one of {tuple(SPLIT_CODES)}, got {name!r}")
        return StoreSplit(self, np.flatnonzero(self.index["split"] == SPLIT_CODES[name]))

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r}: style {self.style!r}, {self.report.used} pieces)"


class _Pieces:
    """The pieces of a split as :class:`~musewidgets.codecs.tokens.Encoded`, made one at a time when asked."""

    def __init__(self, split: StoreSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split.rows)

    def __getitem__(self, i: int):
        return self.split.encoded(i)

    def __iter__(self):
        return (self.split.encoded(i) for i in range(len(self)))


class StoreSplit:
    """One split of a :class:`TokenStore`: random training windows (:meth:`batch`, as
    :meth:`musewidgets.training.SequenceData.batch`) and whole pieces for evaluation (``by_style``)."""

    def __init__(self, store: TokenStore, rows: np.ndarray):
        self.store, self.rows = store, rows
        ix = store.index
        self.length = ix["length"][rows]
        self.codec = store.codec
        self.by_style = {store.style: _Pieces(self)}
        cdf = np.cumsum(self.length, dtype=np.float64)
        self._cdf = cdf / cdf[-1] if len(cdf) and cdf[-1] > 0 else cdf

    @property
    def n_tokens(self) -> int:
        return int(self.length.sum())

    def __len__(self) -> int:
        return len(self.rows)

    def tokens(self, i: int) -> np.ndarray:
        """All tokens of piece ``i`` of the split (int64)."""
        r = self.rows[i]
        ix = self.store.index
        return self.store.read(ix["shard"][r], ix["offset"][r], ix["length"][r]).astype(np.int64)

    def encoded(self, i: int):
        """Piece ``i`` of the split as the codec encodes it (tokens and conditioning)."""
        from .codecs.tokens import Encoded

        ix, r, V = self.store.index, self.rows[i], self.store.voices
        tokens = self.tokens(i)
        steps = len(tokens) // V
        spb, pickup = int(ix["steps_per_bar"][r]), int(ix["pickup"][r])
        voice, bar_pos = self.codec.positions(steps, V, spb, pickup)
        info = self.store.style_info
        header = {"parts": [list(p) for p in info["parts"]], "tempo": float(ix["tempo"][r]), "style": self.store.style}
        return Encoded(
            tokens,
            voice,
            bar_pos,
            int(ix["metre"][r]),
            0,
            header,
            to_end=self.codec.to_end(steps, V, spb, steps),
            key=int(ix["key"][r]),
        )

    def batch(
        self,
        rng: np.random.Generator,
        batch_size: int,
        seq_len: int,
        augment: bool,
        *,
        end_share: float = 0.0,
        key_dropout: float = 0.0,
        part: tuple[int, int] | None = None,
    ) -> dict:
        """Random windows: the same dict of tensors as :meth:`musewidgets.training.SequenceData.batch` (pieces
        drawn in proportion to their length, a share ``end_share`` ending where the piece ends, a share
        ``key_dropout`` with key 0, transposed at random within the voice ranges when ``augment``).

        ``part=(rank, world)`` (distributed training) gives rows ``rank::world`` of that batch, bit for bit, and
        reads only their windows: the generator advances as for the whole batch, so every process, drawing from
        the same seeded generator, gets its own rows of the same global batch."""
        import torch

        from .codecs.tokens import BOS, PAD, PITCH0
        from .training import transpose_key_index

        if not len(self.rows):
            raise StoreError(f"{self.store.path}: the split has no pieces")
        ix, V, codec = self.store.index, self.store.voices, self.codec
        rank, world = part or (0, 1)
        if not 0 <= rank < world:
            raise ValueError(f"`part` must be (rank, world) with 0 <= rank < world, got {part!r}")
        kept = len(range(rank, batch_size, world))
        rows = {
            k: np.full((kept, seq_len), PAD if k in ("inputs", "targets") else 0, dtype=np.int64)
            for k in ("inputs", "targets", "voice", "bar_pos", "to_end")
        }
        metre, style, key = (np.zeros(kept, dtype=np.int64) for _ in range(3))
        for row in range(batch_size):
            i = min(int(np.searchsorted(self._cdf, rng.random(), side="right")), len(self.rows) - 1)
            r = self.rows[i]
            length = int(ix["length"][r])
            last = max(0, (length - seq_len) // V)
            at_end = rng.random() < end_share
            start = (last if at_end else int(rng.integers(0, last + 1))) * V
            shift = int(rng.integers(ix["shift_lo"][r], ix["shift_hi"][r] + 1)) if augment else 0
            dropped = rng.random() < key_dropout
            if row % world != rank:  # another process's row: drawn, not read
                continue
            b = row // world
            n = min(seq_len, length - start)
            lead = 1 if start > 0 else 0
            raw = self.store.read(ix["shard"][r], ix["offset"][r] + start - lead, n + lead).astype(np.int64)
            tokens = raw[lead:]
            prev = np.concatenate([raw[:1] if lead else [BOS], tokens[:-1]])
            tokens = np.where(tokens >= PITCH0, tokens + shift, tokens)
            prev = np.where(prev >= PITCH0, prev + shift, prev)
            rows["inputs"][b, :n], rows["targets"][b, :n] = prev, tokens
            steps = np.arange(start, start + n) // V
            spb, pickup, total = int(ix["steps_per_bar"][r]), int(ix["pickup"][r]), length // V
            rows["voice"][b, :n] = np.arange(start, start + n) % V
            rows["bar_pos"][b, :n] = ((steps - pickup) % spb) % codec.max_bar_steps
            left = -((steps - total) // spb)
            rows["to_end"][b, :n] = np.where((left >= 1) & (left <= codec.ending_bars), left, 0)
            metre[b], style[b] = ix["metre"][r], 0
            key[b] = 0 if dropped else transpose_key_index(int(ix["key"][r]), shift)
        out = {k: torch.from_numpy(v) for k, v in rows.items()}
        out["metre"], out["style"], out["key"] = (torch.from_numpy(a) for a in (metre, style, key))
        return out


def open_or_prepare(data: str | os.PathLike, store_dir: str | os.PathLike, **kwargs) -> TokenStore:
    """A :class:`TokenStore`: ``data`` itself if it is a store, else the store of folder ``data`` at
    ``store_dir``, prepared (or reused, or resumed) first."""
    if is_store(data):
        return TokenStore(data)
    prepare(data, store_dir, **kwargs)
    return TokenStore(store_dir)
