"""Harmony a teacher can read: a Roman numeral for the chord on every beat, in the piece's key.

::

    >>> roman_numerals(chorale)                          # doctest: +SKIP
    [Label(bar=0, beat=1, step=0, figure='I'), Label(bar=1, beat=1, step=4, figure='I'), ...]
    >>> by_bar(roman_numerals(chorale))                  # doctest: +SKIP
    'bar 0: I | bar 1: I IV6 V6 | bar 2: I iii6 vi'

On each beat (the metre's beat: a quarter in 4/4 and 3/4, a dotted quarter in 6/8), the notes sounding in all the
voices at its start are one chord, named in the key (the piece's own, else :func:`~musewidgets.keys.estimate_key` of
its notes) as a harmony class writes it: the scale degree of its root (music21 finds the root, the quality and the
inversion), upper case for major, lower for minor, ``o`` diminished, ``ø`` half-diminished, ``+`` augmented, and the
inversion figured (``V6``, ``ii65``, ``V42``). In a minor key the raised leading note is the key's own (``V``,
``viio7``), as teachers write it; a root outside the key is flat or sharp of a degree (``bVII``, ``#IV``). A beat where
fewer than two pitch classes sound gets no label, and passing notes that arrive after the beat are not heard: a label
names the beat's first chord. (music21's own ``romanNumeralFromChord`` writes ``V7#3`` and ``bVI`` in minor keys.)

Bars are counted from 1 and the pickup is bar 0, as :mod:`.originality` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..piece import Piece, parse_key

__all__ = ["Label", "beat_steps", "by_bar", "figure", "roman_numerals"]


@dataclass(frozen=True)
class Label:
    """The Roman numeral of the chord at the start of a beat."""

    bar: int  # from 1; 0 is the pickup
    beat: int  # from 1
    step: int  # the beat's first step
    figure: str  # 'I', 'V6', 'ii65', 'bVII' ...


def beat_steps(piece: Piece) -> int:
    """Steps in one beat of the piece's metre (compound metres: three of the written unit)."""
    num, den = piece.time_signature
    unit = piece.steps_per_quarter * 4 // den
    return unit * 3 if num % 3 == 0 and num > 3 and den >= 8 else unit


_MAJOR = {0: "I", 2: "II", 4: "III", 5: "IV", 7: "V", 9: "VI", 11: "VII"}
_MINOR = {0: "I", 2: "II", 3: "III", 5: "IV", 7: "V", 8: "VI", 10: "VII", 11: "VII"}  # 11: the raised leading note
_TRIAD = {0: "", 1: "6", 2: "64"}
_SEVENTH = {0: "7", 1: "65", 2: "43", 3: "42"}


_CHROMATIC = {  # roots outside the key, as a harmony class writes them
    "major": {1: "bII", 3: "bIII", 6: "#IV", 8: "bVI", 10: "bVII"},
    "minor": {1: "bII", 4: "#III", 6: "#IV", 9: "#VI"},
}


def _degree(root: int, mode: str) -> str:
    """The numeral of a root (pitch class above the tonic): the scale's degree, else the flat or sharp one."""
    return (_MAJOR if mode == "major" else _MINOR).get(root) or _CHROMATIC[mode if mode == "major" else "minor"][root]


def figure(pitches: list[int], tonic: int, mode: str) -> str | None:
    """The Roman numeral of the chord of MIDI ``pitches`` in the key (``tonic`` pitch class, ``mode``): degree of
    its root, upper case for major and augmented, lower for minor and diminished (``o``; ``ø`` half-diminished,
    ``+`` augmented), then its inversion figured (``6``, ``64``; ``7``, ``65``, ``43``, ``42``). ``None`` for fewer
    than two pitch classes."""
    from music21 import chord

    c = chord.Chord(sorted(pitches))
    if len({p % 12 for p in pitches}) < 2:
        return None
    root = (c.root().pitchClass - tonic) % 12
    quality = c.quality
    if c.isDiminishedSeventh() and 11 in {(p - tonic) % 12 for p in pitches}:
        root = 11  # a symmetric chord: its root is the leading note when it holds it (viio7)
    numeral = _degree(root, mode)
    numeral = numeral if quality in ("major", "augmented", "other") else numeral.lower()
    if quality == "diminished":
        numeral += "ø" if c.isHalfDiminishedSeventh() else "o"
    elif quality == "augmented":
        numeral += "+"
    inversion = c.inversion() if c.inversion() is not None else 0
    if c.isDiminishedSeventh():  # counted from the root chosen above: the bass is 0, 3, 6 or 9 semitones above it
        inversion = ((min(pitches) - tonic - root) % 12) // 3
    seventh = c.seventh is not None and len(c.pitchClasses) >= 4
    return numeral + (_SEVENTH.get(inversion, "7") if seventh else _TRIAD.get(inversion, ""))


def roman_numerals(piece: Piece, key: str | None = None) -> list[Label]:
    """A :class:`Label` for every beat where two or more pitch classes sound, in ``key`` (default: the piece's)."""
    from ..keys import estimate_key

    name = key or piece.key or estimate_key(piece)
    if name is None:
        return []
    tonic, mode = parse_key(name)
    beat = beat_steps(piece)
    first = piece.pickup % beat  # the first beat that starts on the grid of beats (a pickup of part of a beat)
    labels = []
    for step in range(first, piece.end, beat):
        sounding = [n.pitch for part in piece.parts for n in part.notes if n.start <= step < n.end]
        numeral = figure(sounding, tonic, mode) if sounding else None
        if numeral is None:
            continue
        bar = 0 if step < piece.pickup else (step - piece.pickup) // piece.steps_per_bar + 1
        start = piece.pickup - piece.steps_per_bar if bar == 0 else piece.bar_start(bar - 1)
        labels.append(Label(bar, (step - start) // beat + 1, step, numeral))
    return labels


def by_bar(labels: list[Label]) -> str:
    """The labels written bar by bar: ``'bar 1: I IV6 V6 | bar 2: I iii6 vi'``."""
    bars: dict[int, list[str]] = {}
    for label in labels:
        bars.setdefault(label.bar, []).append(label.figure)
    return " | ".join(f"bar {bar}: {' '.join(figures)}" for bar, figures in bars.items())
