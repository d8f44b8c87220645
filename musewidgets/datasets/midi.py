"""Bulk MIDI reading for the token store, through ``symusic`` (a C++ core; about 100x pretty_midi).

:func:`read_midi_fast` gives the :class:`~musewidgets.piece.Piece` :func:`musewidgets.io.read` gives (the same notes,
checked by tests/test_store.py) or ``None`` where it cannot vouch for that: tempo 0, several channels in one track, a
program change after a note, SMPTE time, damage, zero-length notes, beyond the reading limits. Preparation
(:mod:`~musewidgets.datasets.preparation`) encodes straight from :func:`midi_arrays` and hands a ``None`` to
:func:`musewidgets.io.read`.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import MusicFileError
from ..io.limits import MAX_FILE_BYTES, MAX_MIDI_EVENTS, MAX_NOTES, midi_tracks, track_events
from ..io.midi import upbeat
from ..io.quantize import QuantizeReport, check_piece, make_piece, round_steps, usable_tempo
from ..piece import Note, Part, key_name

__all__ = ["midi_arrays", "piece_from_arrays", "read_midi_fast"]


def _scan_midi(data: bytes) -> dict | None:
    """What the fast path must know that symusic does not say: per track the channels with notes and whether a
    program changes after a note; the tick of the last text/lyric/metre/key event (pretty_midi counts them in a
    piece's length); note and event counts. ``None`` for anything unusual (the slow reader decides)."""
    if data[:4] != b"MThd" or len(data) < 14:
        return None
    if data[12] & 0x80:  # SMPTE time
        return None
    scan = {"notes": 0, "events": 0, "meta_end": 0}
    try:
        for start, end in midi_tracks(data, strict=True):  # truncated: the slow reader says how
            if not _scan_track(data, start, end, scan):
                return None
    except ValueError:  # damaged
        return None
    if scan.pop("tempo_zero", False):
        return None
    return scan


def _scan_track(data: bytes, start: int, end: int, scan: dict) -> bool:
    """Add one track's notes, events and last meta tick to ``scan`` (and ``"tempo_zero"`` for a tempo of 0 or a 0/x
    metre); False where the fast path cannot take the track: an event past its end, notes on several channels, a
    program change after a note."""
    tick, channels, noted, late_program, stop = 0, set(), False, False, start
    for delta, status, meta, at, stop in track_events(data, start, end, strict=True):
        tick += delta
        kind = status & 0xF0
        if status == 0xFF:
            if meta in (0x01, 0x05, 0x58, 0x59):  # text, lyrics, time and key signatures
                scan["meta_end"] = max(scan["meta_end"], tick)
            if meta == 0x51 and stop - at == 3 and data[at : at + 3] == b"\x00\x00\x00":
                scan["tempo_zero"] = True
            if meta == 0x58 and stop - at >= 1 and data[at] == 0:
                scan["tempo_zero"] = True  # a 0/x metre: the slow reader replaces it and says so
            if meta == 0x2F:
                break
        elif kind == 0x90 and at + 1 < end and data[at + 1]:
            scan["notes"] += 1
            channels.add(status & 0x0F)
            noted = True
        elif kind == 0xC0 and noted:
            late_program = True
        scan["events"] += 1
    return not (stop > end or len(channels) > 1 or late_program)


def midi_arrays(data: bytes, name: str, spq: int) -> dict | None:
    """A MIDI file's notes on the step grid, as :func:`musewidgets.io.read` would place them, in numpy arrays:
    ``{"tracks": [(name, program, onsets, durations, pitches, velocities)], "time_signature", "key", "tempo",
    "length", "report"}``; ``None`` where the fast path cannot vouch for the same result. Raises
    :class:`MusicFileError` for a file without notes."""

    from symusic import Score

    scan = _scan_midi(data)
    if scan is None or scan["notes"] > MAX_NOTES or scan["events"] > MAX_MIDI_EVENTS:
        return None
    try:
        score = Score.from_midi(data)
    except Exception:  # symusic's parser refuses: the slow reader says why in words
        return None
    report = QuantizeReport(name, spq)
    res = score.ticks_per_quarter
    if res <= 0:
        return None
    found = _grid_tracks(score, spq, report)
    if found is None:
        return None
    tracks, end_tick = found
    if not tracks:
        raise MusicFileError(
            f"{name}: the file holds no notes" + (" (only drums)" if report.drum_notes_dropped else "")
        )
    end_tick = max(end_tick, scan["meta_end"])
    for t in score.tracks:  # controllers and pitch bends count in pretty_midi's end time
        for events in (t.controls, t.pitch_bends):
            if len(events):
                end_tick = max(end_tick, int(max(e.time for e in events)))
    time_sig, pickup, key, tempo = _metre_key_tempo(score, report)
    last = round(Fraction(end_tick, res) * spq)
    length = max([last] + [int((t[2] + t[3]).max()) for t in tracks])
    return {
        "tracks": tracks,
        "time_signature": time_sig,
        "pickup": pickup,
        "key": key,
        "tempo": tempo,
        "length": length,
        "report": report,
    }


def _grid_tracks(score, spq: int, report: QuantizeReport) -> tuple[list, int] | None:
    """The tracks with notes of a symusic score, drums dropped, as ``(name, program, onsets, durations, pitches,
    velocities)`` with the notes on the grid in a Part's order, and the tick where the last note ends; ``None`` for a
    note of no length."""
    res = score.ticks_per_quarter
    tracks, end_tick = [], 0
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
        onsets, moved = round_steps(start * spq, res)
        durations, changed = round_steps(dur * spq, res)
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
    return tracks, end_tick


def _metre_key_tempo(score, report: QuantizeReport) -> tuple[tuple[int, int], int, str | None, float]:
    """The first metre (4/4 without one) after an upbeat (steps; :func:`musewidgets.io.midi.upbeat`), key (``None``)
    and tempo (120 without a usable one) of a symusic score, as :func:`musewidgets.io.read` takes them, saying in
    ``report`` what it passed over."""
    sigs = sorted(score.time_signatures, key=lambda s: s.time)
    time_sig, pickup = (4, 4), 0
    if sigs:
        if len(sigs) > 1 and sigs[0].time == 0:
            at = Fraction(int(sigs[1].time), score.ticks_per_quarter) * report.steps_per_quarter
            first, then = (sigs[0].numerator, sigs[0].denominator), (sigs[1].numerator, sigs[1].denominator)
            pickup = upbeat(first, then, at, report.steps_per_quarter)
        sigs = sigs[1:] if pickup else sigs
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
    return time_sig, pickup, key, usable_tempo(qpm, 120.0, report)


def piece_from_arrays(found: dict):
    """The :class:`~musewidgets.piece.Piece` of :func:`midi_arrays`' result, checked as io checks its pieces."""
    parts = [
        Part(
            label,
            tuple(Note(p, s, d, v) for p, s, d, v in zip(pi.tolist(), on.tolist(), du.tolist(), ve.tolist())),
            program=program,
        )
        for label, program, on, du, pi, ve in found["tracks"]
    ]
    report = found["report"]
    piece = make_piece(
        parts,
        report,
        tempo=found["tempo"],
        time_signature=found["time_signature"],
        pickup=found["pickup"],
        key=found["key"],
        length=found["length"],
    )
    return check_piece(piece, report)


def read_midi_fast(source: str | os.PathLike | bytes, *, steps_per_quarter: int = 4, name: str | None = None):
    """A MIDI file as :func:`musewidgets.io.read` reads it, parsed by symusic; ``None`` where this fast path cannot
    vouch for the same result (then use :func:`musewidgets.io.read`).

    Raises :class:`MusicFileError` as :func:`musewidgets.io.read` does for a file without notes or beyond the
    reading limits.
    """
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "<bytes>"
    else:
        path = Path(source)
        name = name or path.name
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    found = midi_arrays(data, name, steps_per_quarter)
    return None if found is None else piece_from_arrays(found)
