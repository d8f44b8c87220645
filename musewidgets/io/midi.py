"""MIDI files: read through mido and pretty_midi onto the step grid (:func:`read_midi`), written through pretty_midi
(:func:`to_midi`), and a damaged file's fault said in words (:func:`midi_damage`)."""

from __future__ import annotations

import io as _io
from fractions import Fraction
from typing import TYPE_CHECKING

from ..errors import MusicFileError
from ..piece import Note, Part, Piece, key_name
from .limits import midi_tracks, track_events
from .quantize import QuantizeReport, make_piece, round_steps, usable_tempo

if TYPE_CHECKING:  # pragma: no cover
    import pretty_midi

__all__ = ["midi_damage", "read_midi", "to_midi", "upbeat"]

_TICKS_PER_QUARTER = 480  # resolution of the MIDI files we write
_MIDI_META = {  # meta events mido decodes: type -> (name, bytes it needs)
    0x20: ("channel prefix", 1),
    0x21: ("MIDI port", 1),
    0x51: ("tempo", 3),
    0x54: ("SMPTE offset", 5),
    0x58: ("time signature", 4),
    0x59: ("key signature", 2),
}


def midi_damage(data: bytes) -> str | None:
    """The first damaged meta event of a MIDI file (cut short, or a key or SMPTE rate that is none), in words."""
    for start, end in midi_tracks(data):
        for _, _, kind, at, stop in track_events(data, start, end):
            body = data[at:stop]
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
    return None


def read_midi(data: bytes, report: QuantizeReport) -> Piece:
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
        onsets, moved = round_steps(starts * spq, res)
        durations, changed = round_steps((ticks(np.array([n.end for n in inst.notes])) - starts) * spq, res)
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
    time_sig, pickup = (4, 4), 0
    changes = pm.time_signature_changes
    if changes:
        pickup = _upbeat(changes, ticks, res, spq)
        ts = changes[1] if pickup else changes[0]
        time_sig = (ts.numerator, ts.denominator)
        if len({(t.numerator, t.denominator) for t in changes[1 if pickup else 0 :]}) > 1:
            report.remarks.append(f"metre changes ignored, kept {ts.numerator}/{ts.denominator}")
    else:
        report.remarks.append("no time signature, assumed 4/4")
    key = None
    if pm.key_signature_changes:
        number = pm.key_signature_changes[0].key_number
        key = key_name(number % 12, "minor" if number >= 12 else "major")
    _, tempi = pm.get_tempo_changes()
    # MIDI stores whole microseconds per beat
    tempo = usable_tempo(round(float(tempi[0]), 2) if report.tempo_found else None, 120.0, report)
    # the file lasts until its last event (our files mark a take's trailing rests with a text event at its end)
    last = round(Fraction(int(ticks(np.array([pm.get_end_time()]))[0]), res) * spq)
    length = max([last] + [n.end for p in parts for n in p.notes])
    return make_piece(parts, report, tempo=tempo, time_signature=time_sig, key=key, length=length, pickup=pickup)


def upbeat(first: tuple[int, int], then: tuple[int, int], at: Fraction, steps_per_quarter: int) -> int:
    """Steps of the upbeat a MIDI file marks as notation programs (and :func:`to_midi`) write one: its first time
    signature ``first`` lasts one bar, shorter than a bar of the ``then`` that follows it ``at`` steps in; else 0."""
    bar = Fraction(4 * steps_per_quarter * first[0], first[1])
    full = Fraction(4 * steps_per_quarter * then[0], then[1])
    return int(at) if at == bar and at.denominator == 1 and 0 < at < full else 0


def _upbeat(changes, ticks, res: int, spq: int) -> int:
    """:func:`upbeat` of pretty_midi's time signature changes."""
    import numpy as np

    if len(changes) < 2 or changes[0].time > 0:
        return 0
    first, then = changes[0], changes[1]
    at = Fraction(int(ticks(np.array([then.time]))[0]), res) * spq  # where the second starts, in steps
    return upbeat((first.numerator, first.denominator), (then.numerator, then.denominator), at, spq)


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


def _bar_of(steps: int, den: int, piece: Piece) -> tuple[int, int]:
    """A time signature ``(n, d)`` whose bar lasts ``steps``: in the piece's beat ``den`` where it divides, else in
    the shortest note value that does (a sixteenth's upbeat in 4/4 is a bar of 1/16)."""
    d = den
    while (steps * d) % (4 * piece.steps_per_quarter) and d < 64:
        d *= 2
    return steps * d // (4 * piece.steps_per_quarter), d


def to_midi(piece: Piece) -> pretty_midi.PrettyMIDI:
    """The piece as a ``pretty_midi.PrettyMIDI`` object (one instrument per part, 480 ticks per quarter).

    The key is written as a key-signature event; a piece that ends in rests gets a text event ``'end'`` at its end, so
    the file (and :func:`read`) keeps its full length. An upbeat is a first bar in a time signature of its own length
    (a quarter's in 4/4: 1/4), so that a sequencer's bar lines fall where the piece's do and :func:`read` finds it.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=_TICKS_PER_QUARTER, initial_tempo=piece.tempo)
    num, den = piece.time_signature
    if piece.pickup:  # the upbeat as a bar of its own length, as notation programs write one
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*_bar_of(piece.pickup, den, piece), 0.0))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, piece.pickup * piece.seconds_per_step))
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
