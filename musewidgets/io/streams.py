"""music21 streams to and from :class:`~musewidgets.piece.Piece`: :func:`from_stream` (and :func:`read_stream`, which
every MusicXML, ABC and Humdrum file goes through) puts a score's notes on the step grid; :func:`to_stream` writes a
piece out as a score with measures, printed rests, ties, clefs and spelled pitches (for MusicXML and engraving)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import TYPE_CHECKING

from ..errors import QuantizationWarning
from ..piece import Note, Part, Piece, key_name
from .quantize import QuantizeReport, make_piece, usable_tempo

if TYPE_CHECKING:  # pragma: no cover
    import music21

__all__ = ["from_stream", "read_stream", "to_stream"]


def from_stream(stream: music21.stream.Stream, *, steps_per_quarter: int = 4, name: str = "<stream>") -> Piece:
    """Convert a music21 ``Score`` (or a single ``Part``) into a :class:`Piece`.

    Ties are merged into single notes, chords become simultaneous notes of their part, and a pickup measure
    becomes :attr:`Piece.pickup`. Warns with a :class:`QuantizationWarning` when notes had to move.
    """
    report = QuantizeReport(name, steps_per_quarter)
    piece = read_stream(stream, report)
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


def read_stream(
    score: music21.stream.Stream, report: QuantizeReport, *, align_bars: bool = False, in_place: bool = False
) -> Piece:
    """The Piece of a music21 stream, counting in ``report`` what moved to fit its grid; ``in_place`` merges its
    tied notes in place (a stream just parsed, which nobody else holds: copying a long score first costs seconds)."""
    if in_place:
        score.stripTies(inPlace=True)
    else:
        score = score.stripTies(inPlace=False)
    parts_in = list(score.parts) or [score]
    flat_all = score.flatten()
    measures = list(parts_in[0].getElementsByClass("Measure"))
    time_sig = _main_metre(measures, flat_all, report)
    key, qpm = _key_and_tempo(flat_all, report)
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
        notes, outside = _part_notes(part, shifts, report)
        out_of_range += outside
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
    return make_piece(
        parts, report, tempo=qpm, time_signature=time_sig, key=key, pickup=pickup, title=title, length=length
    )


def _key_and_tempo(flat: music21.stream.Stream, report: QuantizeReport) -> tuple[str | None, float]:
    """The key of the first key signature (``None`` without one), and the tempo of the first metronome mark in
    quarter notes a minute (100 without a usable one, said in the report)."""
    from music21 import key as m21key
    from music21 import tempo

    key = None
    keys = list(flat.getElementsByClass(m21key.KeySignature))
    if keys:
        k = keys[0] if isinstance(keys[0], m21key.Key) else keys[0].asKey("major")
        key = key_name(k.tonic.pitchClass, k.mode)
    marks = list(flat.getElementsByClass(tempo.MetronomeMark))
    qpm = None
    if marks:
        try:
            qpm = marks[0].getQuarterBPM()
        except ZeroDivisionError:  # a metronome mark of 0 beats a minute
            qpm = 0
    return key, usable_tempo(None if qpm is None else float(qpm), 100.0, report)


def _part_notes(part: music21.stream.Stream, shifts: list[Fraction], report: QuantizeReport) -> tuple[list, int]:
    """The notes of one part on the grid (its measures delayed by ``shifts``, see :func:`_bar_shifts`), counting
    in ``report`` what moved or was dropped; and how many pitches lay beyond the MIDI range."""
    notes, out_of_range = [], 0
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
    return notes, out_of_range


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


def to_stream(piece: Piece) -> music21.stream.Score:
    """The piece as a music21 ``Score``: measures, visible rests, ties, clefs, key, metre, tempo and a pickup.

    Every measure is full (its notes and rests add up to the time signature) except a pickup measure (numbered 0,
    written as MusicXML ``implicit="yes"``), which only a piece with a ``pickup`` has; the last bar is filled up with
    rests to the bar line. Rests are real, printed rests (music21 hides the rests it invents, so none are left for it
    to invent). Notes that cross a bar line are split and tied. Overlapping notes of one part go to separate voices.
    Pitches are spelled for the key (E# rather than F as the leading tone of F# minor; sharps in sharp keys, flats in
    flat keys). A choir's voice gets its clef by name (soprano and alto treble, tenor treble 8vb, bass bass), any other
    part the clef that suits its range.
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
        first.insert(0, _clef_for(p.name, p.notes, clef))
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


# The clefs of the four voices of a choir, by part name: always the same, whatever the notes of a take (a tenor
# part once got a plain treble clef when a take sat high, and its continuation the octave treble clef).
VOICE_CLEFS = {"soprano": "treble", "alto": "treble", "tenor": "treble8vb", "bass": "bass"}


def _clef_for(name: str, notes, clef):
    """The clef of a choir's voice by its name (:data:`VOICE_CLEFS`); else treble, treble 8vb or bass by range."""
    kind = VOICE_CLEFS.get((name or "").strip().lower())
    if kind is None and notes:
        mean = sum(n.pitch for n in notes) / len(notes)  # chorales: alto ~63, tenor ~58, bass ~50
        low = min(n.pitch for n in notes)
        kind = "treble" if mean >= 60.5 else "treble8vb" if low >= 48 and mean >= 53 else "bass"
    return {"treble8vb": clef.Treble8vbClef, "bass": clef.BassClef}.get(kind, clef.TrebleClef)()


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
