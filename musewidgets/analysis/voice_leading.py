"""Voice-leading faults of multi-voice music, counted the way a harmony teacher marks them.

Parts are voices ordered from high to low: part 0 is the top voice (Soprano), the last part the bass. Every count
below is exact and deterministic; the tests build pieces with known faults and check each number.

Event model
-----------
The *events* are the steps at which any part has a note onset, in time order. At each event every voice has one
*sounding pitch* -- the pitch of its note with ``start <= step < end`` -- or none (the voice rests). A part that holds
several notes at once (never in the corpus, possible in a generated take) sounds its highest one. A voice *moves*
between two consecutive events when it sounds at both and its pitch changes; a held or re-struck note on the same
pitch does not move. Intervals are ``abs(upper - lower)`` in semitones; their *class* is that number mod 12, so
unisons, octaves and compound intervals (a twelfth is a fifth) count alike.

Faults
------
``'parallel fifth'`` / ``'parallel octave'`` (:func:`parallels`)
    For every pair of voices ``i < j`` (not only adjacent ones) and every two consecutive events at which both
    voices sound: both voices move in the same direction, and the interval class between them is 7 at both events
    (a fifth) or 0 at both (a unison or octave). One fault per pair and pair of events, at the second event.
    Contrary motion into a fifth and oblique motion (one voice holds) are not parallels. Nor are fifths that one of
    the two voices reaches through a passing note (the passing note makes an event in between), or across a rest
    in one of the two voices while another voice has an onset. A passing note in a *third* voice does not separate
    them (both voices hold through that event), and neither does a rest in all voices, which makes no event.
``'voice crossing'`` (:func:`crossings`)
    Adjacent voices ``i, i + 1`` (Soprano-Alto, Alto-Tenor, Tenor-Bass) both sound and the lower voice is strictly
    above the upper one. Counted once at the event where a crossing starts: at the first event, or where the pair
    was not crossed at the previous event (a rest in either voice ends a crossing). Only adjacent pairs are checked,
    as in the textbook rule: when all voices sound, any crossing of non-adjacent voices implies one of adjacent
    voices at the same event. A unison is not a crossing.
``'spacing'`` (:func:`spacing_faults`)
    Adjacent *upper* voices -- every adjacent pair except the lowest one (Soprano-Alto and Alto-Tenor in four
    voices; the tenor and bass may lie more than an octave apart) -- both sound and the upper one lies more than an
    octave (> 12 semitones) above the lower one. Counted once at the start of each such stretch, like crossings.
``'out of range'`` (:func:`range_faults`)
    A note outside its voice's range: ``part.range`` where set, else, in a four-part piece, the textbook SATB ranges
    of :data:`SATB_RANGES` (Aldwell & Schachter, *Harmony and Voice Leading*, 4th ed. 2011, ch. 4: Soprano C4-G5,
    Alto G3-D5, Tenor C3-G4, Bass E2-C4), else no range (melodies and other textures are never out of range). One
    fault per note, at its onset, with ``voices == (i, i)``.

Rates
-----
:func:`voice_leading` divides each count by the length of the piece in bars and multiplies by 8: faults per 8 bars.
The length is ``piece.end / steps_per_bar`` bars, so a pickup counts as the fraction of a bar it is (and so do the
rests at the end of a take); a piece shorter than one bar counts as one bar, so nothing is divided by zero. A
one-voice piece has no pairs of voices, so all its rates are 0.0 except ``out_of_range_per_8_bars``, which is 0.0
too unless its part has a ``range``.

References
----------
Edward Aldwell and Carl Schachter, *Harmony and Voice Leading*, 4th ed., Schirmer, 2011 (ch. 4 and 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..piece import Piece

__all__ = [
    "FAULT_KINDS",
    "RATE_NAMES",
    "SATB_RANGES",
    "Fault",
    "crossings",
    "faults",
    "parallels",
    "range_faults",
    "spacing_faults",
    "voice_leading",
    "voice_ranges",
]

PARALLEL_FIFTH = "parallel fifth"
PARALLEL_OCTAVE = "parallel octave"
CROSSING = "voice crossing"
SPACING = "spacing"
OUT_OF_RANGE = "out of range"
FAULT_KINDS = (PARALLEL_FIFTH, PARALLEL_OCTAVE, CROSSING, SPACING, OUT_OF_RANGE)

# Soprano, Alto, Tenor, Bass: (lowest, highest) MIDI pitch, inclusive (Aldwell & Schachter 2011, ch. 4).
SATB_RANGES = ((60, 79), (55, 74), (48, 67), (40, 60))

RATE_NAMES = (
    "parallel_fifths_per_8_bars",
    "parallel_octaves_per_8_bars",
    "parallels_per_8_bars",
    "crossings_per_8_bars",
    "spacing_per_8_bars",
    "out_of_range_per_8_bars",
)


@dataclass(frozen=True)
class Fault:
    """One voice-leading fault, where the Workbench draws it.

    Parameters
    ----------
    kind : str
        One of :data:`FAULT_KINDS`.
    step : int
        Where it happens, in steps from the start of the piece: the event a parallel or a crossing arrives at, the
        onset of an out-of-range note.
    voices : (int, int)
        Part indices, upper voice first; ``(i, i)`` for a fault of one voice (out of range).
    bar : int
        Bar of ``step`` (bar 0 is the first full bar; -1 is the pickup).
    """

    kind: str
    step: int
    voices: tuple[int, int]
    bar: int


def _events(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """Event steps, shape ``(n_events,)``, and each voice's sounding pitch there, shape ``(n_parts, n_events)``.

    A voice that rests has pitch -1.
    """
    end = piece.notes_end
    sounding = np.full((len(piece.parts), end), -1, dtype=np.int16)
    onsets = np.zeros(end, dtype=bool)
    for i, part in enumerate(piece.parts):
        row = sounding[i]
        for note in part.notes:  # sorted by (start, pitch): a chord's highest note is written last
            s, e = note.start, note.start + note.duration
            np.maximum(row[s:e], note.pitch, out=row[s:e])
            onsets[s] = True
    steps = np.flatnonzero(onsets)
    return steps, sounding[:, steps]


def _bar(piece: Piece, step: int) -> int:
    return (step - piece.pickup) // piece.steps_per_bar


def _starts(flags: np.ndarray) -> np.ndarray:
    """Indices where a run of True begins (at index 0 or after a False)."""
    return np.flatnonzero(flags & ~np.concatenate(([False], flags[:-1])))


def parallels(piece: Piece) -> list[Fault]:
    """Parallel fifths and octaves (unisons and compound intervals included) between every pair of voices.

    See the module docstring for the exact definition.

    Returns
    -------
    list of Fault
        Kinds ``'parallel fifth'`` and ``'parallel octave'``, sorted by step, then voices.
    """
    return _parallels(piece, *_events(piece))


def _parallels(piece: Piece, steps: np.ndarray, pitch: np.ndarray) -> list[Fault]:
    found = []
    if len(steps) < 2:
        return found
    sounds = pitch >= 0
    both = sounds[:, :-1] & sounds[:, 1:]  # (n_parts, n_events - 1): sounds at both events
    motion = np.sign(np.diff(pitch.astype(np.int32), axis=1))  # -1, 0, +1
    n = len(piece.parts)
    for i in range(n):
        for j in range(i + 1, n):
            similar = both[i] & both[j] & (motion[i] == motion[j]) & (motion[i] != 0)
            if not similar.any():
                continue
            interval = np.abs(pitch[i].astype(np.int32) - pitch[j]) % 12
            for kind, cls in ((PARALLEL_FIFTH, 7), (PARALLEL_OCTAVE, 0)):
                for k in np.flatnonzero(similar & (interval[:-1] == cls) & (interval[1:] == cls)):
                    step = int(steps[k + 1])
                    found.append(Fault(kind, step, (i, j), _bar(piece, step)))
    found.sort(key=lambda f: (f.step, f.voices, f.kind))
    return found


def _pair_starts(piece: Piece, events, kind: str, pairs, condition) -> list[Fault]:
    """Faults at the start of every stretch of events where ``condition(upper, lower)`` holds for a sounding pair."""
    steps, pitch = events
    found = []
    for i, j in pairs:
        upper, lower = pitch[i].astype(np.int32), pitch[j].astype(np.int32)
        flags = (upper >= 0) & (lower >= 0) & condition(upper, lower)
        for k in _starts(flags):
            step = int(steps[k])
            found.append(Fault(kind, step, (i, j), _bar(piece, step)))
    found.sort(key=lambda f: (f.step, f.voices))
    return found


def crossings(piece: Piece) -> list[Fault]:
    """Voice crossings of adjacent voices, one per crossing however long it lasts.

    Returns
    -------
    list of Fault
        Kind ``'voice crossing'`` at the event where the lower voice first sounds above the upper one, sorted by
        step.
    """
    return _crossings(piece, _events(piece))


def _crossings(piece: Piece, events) -> list[Fault]:
    pairs = [(i, i + 1) for i in range(len(piece.parts) - 1)]
    return _pair_starts(piece, events, CROSSING, pairs, lambda upper, lower: lower > upper)


def spacing_faults(piece: Piece) -> list[Fault]:
    """More than an octave between adjacent upper voices (not between the two lowest), once per stretch.

    Returns
    -------
    list of Fault
        Kind ``'spacing'`` at the event where the gap first exceeds 12 semitones, sorted by step.
    """
    return _spacing(piece, _events(piece))


def _spacing(piece: Piece, events) -> list[Fault]:
    pairs = [(i, i + 1) for i in range(len(piece.parts) - 2)]
    return _pair_starts(piece, events, SPACING, pairs, lambda upper, lower: upper - lower > 12)


def voice_ranges(piece: Piece) -> list[tuple[int, int] | None]:
    """The range each part is held to: ``part.range``, else SATB in a four-part piece, else ``None``."""
    default = SATB_RANGES if len(piece.parts) == 4 else (None,) * len(piece.parts)
    return [part.range if part.range is not None else d for part, d in zip(piece.parts, default)]


def range_faults(piece: Piece) -> list[Fault]:
    """Notes outside their voice's range (see :func:`voice_ranges`), one fault per note.

    Returns
    -------
    list of Fault
        Kind ``'out of range'`` at each such note's onset, ``voices == (i, i)``, sorted by step.
    """
    found = []
    for i, (part, rng) in enumerate(zip(piece.parts, voice_ranges(piece))):
        if rng is None:
            continue
        low, high = rng
        for note in part.notes:
            if not low <= note.pitch <= high:
                found.append(Fault(OUT_OF_RANGE, note.start, (i, i), _bar(piece, note.start)))
    found.sort(key=lambda f: (f.step, f.voices))
    return found


def faults(piece: Piece) -> list[Fault]:
    """All faults of :data:`FAULT_KINDS`, sorted by step (then voices, then kind)."""
    events = _events(piece)
    found = _parallels(piece, *events) + _crossings(piece, events) + _spacing(piece, events) + range_faults(piece)
    found.sort(key=lambda f: (f.step, f.voices, FAULT_KINDS.index(f.kind)))
    return found


def _bars(piece: Piece) -> float:
    """Length of the piece in bars, a pickup counted as a fraction of a bar; at least 1."""
    return max(piece.end / piece.steps_per_bar, 1.0)


def voice_leading(piece: Piece) -> dict[str, float]:
    """Faults per 8 bars, by kind: the keys of :data:`RATE_NAMES`, in that order.

    Each rate is ``count * 8 / bars`` with ``bars = max(piece.end / steps_per_bar, 1)``; ``parallels_per_8_bars``
    is fifths plus octaves. All 0.0 for a piece without faults (a one-voice piece, a piece without notes).
    """
    counts = dict.fromkeys(FAULT_KINDS, 0)
    for fault in faults(piece):
        counts[fault.kind] += 1
    scale = 8.0 / _bars(piece)
    values = (
        counts[PARALLEL_FIFTH],
        counts[PARALLEL_OCTAVE],
        counts[PARALLEL_FIFTH] + counts[PARALLEL_OCTAVE],
        counts[CROSSING],
        counts[SPACING],
        counts[OUT_OF_RANGE],
    )
    return {name: value * scale for name, value in zip(RATE_NAMES, values)}
