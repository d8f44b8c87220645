"""The step grid a file is read onto: :class:`QuantizeReport` (what reading changed to fit it) and the last steps
of every reader, MIDI (:mod:`~musewidgets.io.midi`, and the bulk reader of :mod:`musewidgets.datasets.midi`) or
music21 (:mod:`~musewidgets.io.streams`): rounding to steps, a usable tempo, the metre checked and the piece made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import MusicFileError
from ..piece import Part, Piece
from .limits import MAX_BAR_BEATS, MAX_BARS

__all__ = ["QuantizeReport", "check_piece", "make_piece", "round_steps", "usable_tempo"]


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


def check_piece(piece: Piece, report: QuantizeReport) -> Piece:
    """The piece with its title, or ``MusicFileError`` for a piece without notes or beyond :data:`MAX_BARS`."""
    if piece.n_notes == 0:
        raise MusicFileError(f"{report.source}: the file holds no notes")
    if piece.n_bars > MAX_BARS:
        raise MusicFileError(
            f"{report.source}: the piece lasts {piece.n_bars:,} bars; musewidgets reads pieces of up to "
            f"{MAX_BARS:,} bars"
        )
    return piece if piece.title else piece.replace(title=Path(report.source).stem)


def round_steps(num, den: int):
    """``num / den`` rounded half to even (as Python's ``round``), and where that moved it."""
    import numpy as np

    q, r = np.divmod(np.asarray(num, dtype=np.int64), den)
    up = (2 * r > den) | ((2 * r == den) & (q % 2 == 1))
    return q + up, r != 0


def usable_tempo(qpm: float | None, default: float, report: QuantizeReport) -> float:
    """``qpm`` if the file gave a tempo a piece can have (1 to 1000 quarter notes a minute), else ``default``."""
    report.tempo_found = qpm is not None and 1 <= qpm <= 1000
    if qpm is not None and not report.tempo_found:
        report.remarks.append(
            f"ignored a tempo of {qpm:g} quarter notes a minute (musewidgets takes 1 to 1000), read at {default:g}"
        )
    return qpm if report.tempo_found else default


def make_piece(parts: list[Part], report: QuantizeReport, **fields) -> Piece:
    """The :class:`Piece` of ``parts`` and ``fields`` (its keyword arguments, ``time_signature`` among them), or
    ``MusicFileError`` naming ``report.source`` for a metre the grid cannot hold or a piece :class:`Piece` refuses."""
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
