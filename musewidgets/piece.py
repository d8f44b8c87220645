"""The one value that flows through musewidgets: a :class:`Piece` of notes on an integer step grid.

Time is counted in *steps*: ``steps_per_quarter`` steps make one quarter note (default 4, so one step is a
sixteenth). Seconds appear only where audio is made. All containers are frozen dataclasses that validate
themselves, so a ``Piece`` that exists is a ``Piece`` that every codec, view and exporter can take.

Bars: bar lines lie at ``pickup + k * steps_per_bar``. A ``pickup`` (anacrusis) is the incomplete bar before the
first bar line; as in printed music it is not counted, so bar 0 is the first full bar.

Length: a piece knows where it ends (``length``, in steps), independently of where its last note ends, so rests at the
end of a take (a voice that falls silent, a last bar of rests) are part of the piece, are engraved and are heard.
Without a ``length`` (``None``) a piece ends with its last note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Note", "Part", "Piece", "concatenate", "key_name", "pitch_name", "transpose_key"]

_PITCH_CLASSES_SHARP = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_PITCH_CLASSES_FLAT = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
_TONIC_PC = (
    {name: pc for pc, name in enumerate(_PITCH_CLASSES_SHARP)}
    | {name: pc for pc, name in enumerate(_PITCH_CLASSES_FLAT)}
    | {"Cb": 11, "Fb": 4, "E#": 5, "B#": 0}
)
# Tonic spellings with the fewest accidentals (the usual key signatures), by pitch class.
_MAJOR_TONICS = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_MINOR_TONICS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]


def _check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"`{name}` must be <= {high}, got {value}")


def key_name(tonic_pc: int, mode: str) -> str:
    """Name of a key such as ``'F# minor'``, spelled with the usual key signature."""
    tonics = _MINOR_TONICS if mode == "minor" else _MAJOR_TONICS
    return f"{tonics[tonic_pc % 12]} {mode}"


def parse_key(key: str) -> tuple[int, str]:
    parts = key.split()
    if len(parts) != 2 or parts[0] not in _TONIC_PC:
        raise ValueError(f"`key` must look like 'G major' or 'F# minor', got {key!r}")
    return _TONIC_PC[parts[0]], parts[1]


def transpose_key(key: str | None, semitones: int) -> str | None:
    """Transpose a key name by ``semitones``; ``None`` stays ``None``."""
    if key is None:
        return None
    pc, mode = parse_key(key)
    return key_name(pc + semitones, mode)


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch, e.g. 60 -> ``'C4'``."""
    return f"{_PITCH_CLASSES_SHARP[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Note:
    """One note on the step grid.

    Parameters
    ----------
    pitch : int
        MIDI pitch, 0..127 (60 = C4).
    start : int
        Onset in steps from the beginning of the piece, >= 0.
    duration : int
        Length in steps, >= 1.
    velocity : int, default 80
        MIDI velocity, 1..127.
    """

    pitch: int
    start: int
    duration: int
    velocity: int = 80

    def __post_init__(self) -> None:
        _check_int("pitch", self.pitch, 0, 127)
        _check_int("start", self.start, 0)
        _check_int("duration", self.duration, 1)
        _check_int("velocity", self.velocity, 1, 127)

    @property
    def end(self) -> int:
        """Step just after the note ends."""
        return self.start + self.duration

    def __repr__(self) -> str:
        return f"Note({pitch_name(self.pitch)}, start={self.start}, duration={self.duration})"


@dataclass(frozen=True)
class Part:
    """A voice or instrument: a name, a General MIDI program and its notes sorted by (start, pitch).

    Parameters
    ----------
    name : str
        Shown in legends and scores, e.g. ``'Soprano'``.
    notes : sequence of Note
        Stored as a tuple sorted by ``(start, pitch)``.
    program : int, default 0
        General MIDI program 0..127 (0 = Acoustic Grand Piano, 52 = Choir Aahs).
    range : (int, int) or None
        The pitches this voice may sing or play (low, high), inclusive; ``None`` means unrestricted. Samplers keep
        generated notes inside it.
    """

    name: str
    notes: tuple[Note, ...] = ()
    program: int = 0
    range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _check_int("program", self.program, 0, 127)
        object.__setattr__(self, "program", int(self.program))  # a numpy integer from a reader: plain, for JSON
        notes = tuple(self.notes)
        for note in notes:
            if not isinstance(note, Note):
                raise TypeError(f"`notes` must hold Note objects, got {note!r}")
        object.__setattr__(self, "notes", tuple(sorted(notes, key=lambda n: (n.start, n.pitch))))
        if self.range is not None:
            low, high = self.range
            _check_int("range[0]", low, 0, 127)
            _check_int("range[1]", high, low, 127)
            object.__setattr__(self, "range", (int(low), int(high)))

    @property
    def end(self) -> int:
        """Step just after the last note ends (0 for an empty part)."""
        return max((n.end for n in self.notes), default=0)

    @property
    def is_monophonic(self) -> bool:
        """True when no two notes of this part sound at the same time."""
        return all(a.end <= b.start for a, b in zip(self.notes, self.notes[1:]))

    def pitch_span(self) -> tuple[int, int] | None:
        """Lowest and highest pitch actually used, or ``None`` for an empty part."""
        if not self.notes:
            return None
        pitches = [n.pitch for n in self.notes]
        return min(pitches), max(pitches)

    def __repr__(self) -> str:
        return f"Part({self.name!r}, {len(self.notes)} notes, program={self.program})"


@dataclass(frozen=True)
class Piece:
    """A piece of music: parts of notes on a shared step grid, with tempo, metre and key.

    Parameters
    ----------
    parts : sequence of Part
        At least one part; stored as a tuple.
    steps_per_quarter : int, default 4
        Grid resolution; 4 means one step is a sixteenth note.
    tempo : float, default 100.0
        Quarter notes per minute.
    time_signature : (int, int), default (4, 4)
        Numerator and denominator; one bar must be a whole number of steps.
    key : str or None
        ``'G major'``, ``'F# minor'`` ... or ``None`` if unknown.
    pickup : int, default 0
        Steps before the first bar line (an anacrusis), ``0 <= pickup < steps_per_bar``.
    style : str or None
        Corpus style label such as ``'chorale'``.
    title : str or None
        Human-readable name, e.g. the corpus file (``'bwv66.6'``).
    length : int or None
        Steps from the start of the piece (the pickup included) to its end; at least the end of the last note.
        ``None`` means the piece ends where its last note ends. A generated take of ``N`` bars has
        ``length == pickup + N * steps_per_bar`` even when it ends with rests.
    """

    parts: tuple[Part, ...]
    steps_per_quarter: int = 4
    tempo: float = 100.0
    time_signature: tuple[int, int] = (4, 4)
    key: str | None = None
    pickup: int = 0
    style: str | None = None
    title: str | None = None
    length: int | None = None

    def __post_init__(self) -> None:
        parts = tuple(self.parts)
        if not parts:
            raise ValueError("`parts` must hold at least one Part")
        for part in parts:
            if not isinstance(part, Part):
                raise TypeError(f"`parts` must hold Part objects, got {part!r}")
        object.__setattr__(self, "parts", parts)
        _check_int("steps_per_quarter", self.steps_per_quarter, 1, 96)
        object.__setattr__(self, "steps_per_quarter", int(self.steps_per_quarter))
        if not (isinstance(self.tempo, (int, float)) and 1 <= self.tempo <= 1000):
            raise ValueError(f"`tempo` must be between 1 and 1000 quarter notes per minute, got {self.tempo!r}")
        object.__setattr__(self, "tempo", float(self.tempo))
        num, den = self.time_signature
        _check_int("time_signature numerator", num, 1, 64)
        if den not in (1, 2, 4, 8, 16, 32):
            raise ValueError(f"`time_signature` denominator must be a power of two up to 32, got {den!r}")
        object.__setattr__(self, "time_signature", (int(num), int(den)))
        if (self.steps_per_quarter * 4 * num) % den:
            raise ValueError(
                f"`time_signature` {num}/{den} is not a whole number of steps at "
                f"steps_per_quarter={self.steps_per_quarter}"
            )
        if self.key is not None:
            parse_key(self.key)
        _check_int("pickup", self.pickup, 0, self.steps_per_bar - 1)
        object.__setattr__(self, "pickup", int(self.pickup))
        if self.length is not None:
            _check_int("length", self.length, self.notes_end)
            object.__setattr__(self, "length", int(self.length))

    # ----------------------------------------------------------------- measures
    @property
    def steps_per_bar(self) -> int:
        """Steps in one full bar."""
        num, den = self.time_signature
        return self.steps_per_quarter * 4 * num // den

    @property
    def notes_end(self) -> int:
        """Step just after the last note of any part ends (0 without notes)."""
        return max(p.end for p in self.parts)

    @property
    def end(self) -> int:
        """Step at which the piece ends: :attr:`length` where set, else :attr:`notes_end`."""
        return self.notes_end if self.length is None else self.length

    @property
    def n_bars(self) -> int:
        """Number of bars after the pickup, counting a final incomplete bar as a bar."""
        return max(0, math.ceil((self.end - self.pickup) / self.steps_per_bar))

    @property
    def n_notes(self) -> int:
        """Total number of notes in all parts."""
        return sum(len(p.notes) for p in self.parts)

    @property
    def seconds_per_step(self) -> float:
        """Duration of one step in seconds at this piece's tempo."""
        return 60.0 / (self.tempo * self.steps_per_quarter)

    def bar_start(self, bar: int) -> int:
        """Step at which full bar ``bar`` starts (bar 0 follows the pickup)."""
        return self.pickup + bar * self.steps_per_bar

    # ----------------------------------------------------------------- transforms
    def replace(self, **changes) -> Piece:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def transpose(self, semitones: int) -> Piece:
        """Shift every note and the key by ``semitones``; voice ranges move along.

        Raises
        ------
        ValueError
            If a note would leave the MIDI range 0..127.
        """
        _check_int("semitones", semitones)
        if semitones == 0:
            return self
        lo = min((n.pitch for p in self.parts for n in p.notes), default=60)
        hi = max((n.pitch for p in self.parts for n in p.notes), default=60)
        if lo + semitones < 0 or hi + semitones > 127:
            raise ValueError(f"`semitones`={semitones} moves notes outside the MIDI range 0..127 (span {lo}..{hi})")

        def shift_range(r):
            return None if r is None else (max(0, r[0] + semitones), min(127, r[1] + semitones))

        parts = tuple(
            replace(p, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in p.notes), range=shift_range(p.range))
            for p in self.parts
        )
        return replace(self, parts=parts, key=transpose_key(self.key, semitones))

    def slice_bars(self, start: int, stop: int | None = None) -> Piece:
        """Bars ``start`` up to (not including) ``stop`` as a new piece without pickup.

        Bar 0 is the first full bar; ``start=-1`` includes the pickup. Notes that sound across the slice edges are
        clipped to it, so a note tied into the first bar keeps sounding from the bar line.
        """
        _check_int("start", start, -1 if self.pickup else 0)
        stop = self.n_bars if stop is None else stop
        _check_int("stop", stop, start + 1)
        lo = 0 if start == -1 else self.bar_start(start)
        hi = self.bar_start(stop)
        pickup = self.pickup if start == -1 else 0
        parts = []
        for p in self.parts:
            notes = []
            for n in p.notes:
                s, e = max(n.start, lo), min(n.end, hi)
                if s < e:
                    notes.append(replace(n, start=s - lo, duration=e - s))
            parts.append(replace(p, notes=tuple(notes)))
        return replace(self, parts=tuple(parts), pickup=pickup, length=hi - lo)

    def to_pianoroll(self, *, part: int | None = None, onsets: bool = False) -> np.ndarray:
        """Piano roll of one part or all parts.

        Returns
        -------
        np.ndarray, dtype=bool, shape=(n_steps, 128), or (n_parts, n_steps, 128) when ``part`` is None
            ``roll[..., t, p]`` is True while pitch ``p`` sounds at step ``t``; with ``onsets=True`` only at the
            step where a note starts. ``n_steps`` is the end of the last full bar.
        """
        n_steps = self.bar_start(self.n_bars)
        parts = self.parts if part is None else (self.parts[part],)
        roll = np.zeros((len(parts), n_steps, 128), dtype=bool)
        for i, p in enumerate(parts):
            for n in p.notes:
                if onsets:
                    roll[i, n.start, n.pitch] = True
                else:
                    roll[i, n.start : n.end, n.pitch] = True
        return roll if part is None else roll[0]

    @classmethod
    def from_pianoroll(
        cls,
        roll: np.ndarray,
        *,
        onsets: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        programs: Sequence[int] | None = None,
        **fields,
    ) -> Piece:
        """Build a piece from a boolean roll of shape ``(n_parts, n_steps, 128)`` or ``(n_steps, 128)``.

        A run of active steps of one pitch becomes one note; ``onsets`` (same shape) splits a run where a repeated
        note is struck again, so ``from_pianoroll(p.to_pianoroll(), onsets=p.to_pianoroll(onsets=True))`` gives
        back ``p``'s notes. The piece is ``n_steps`` long (``length``), trailing silence included. Other keyword
        arguments (``tempo``, ``time_signature`` ...) go to :class:`Piece`.
        """
        roll = np.asarray(roll, dtype=bool)
        if roll.ndim == 2:
            roll = roll[None]
            onsets = None if onsets is None else np.asarray(onsets, dtype=bool)[None]
        if roll.ndim != 3 or roll.shape[2] != 128:
            raise ValueError(f"`roll` must have shape (n_parts, n_steps, 128), got {roll.shape}")
        if onsets is not None and np.shape(onsets) != roll.shape:
            raise ValueError(f"`onsets` must have the shape of `roll` {roll.shape}, got {np.shape(onsets)}")
        n_parts = roll.shape[0]
        names = list(names) if names is not None else [f"Part {i + 1}" for i in range(n_parts)]
        programs = list(programs) if programs is not None else [0] * n_parts
        parts = []
        for i in range(n_parts):
            active = np.pad(roll[i], ((1, 1), (0, 0)))  # (T + 2, 128)
            starts = active[1:] & ~active[:-1]  # (T + 1, 128): a run begins
            if onsets is not None:
                starts[:-1] |= onsets[i] & roll[i]
            notes = []
            for pitch in np.flatnonzero(roll[i].any(axis=0)):
                col = roll[i][:, pitch]
                run_starts = np.flatnonzero(starts[:-1, pitch])
                for j, s in enumerate(run_starts):
                    e = s
                    nxt = run_starts[j + 1] if j + 1 < len(run_starts) else len(col)
                    while e < nxt and col[e]:
                        e += 1
                    notes.append(Note(int(pitch), int(s), int(e - s)))
            parts.append(Part(names[i], tuple(notes), program=programs[i]))
        return cls(parts=tuple(parts), **{"length": roll.shape[1], **fields})

    def to_dict(self) -> dict:
        """Every field as plain JSON values; :meth:`from_dict` gives back an equal piece.

        Notes are ``[pitch, start, duration, velocity]`` lists, so a take of 64 bars in four voices stays a few
        tens of kilobytes.
        """
        return {
            "parts": [
                {
                    "name": p.name,
                    "program": p.program,
                    "range": None if p.range is None else list(p.range),
                    "notes": [[int(n.pitch), int(n.start), int(n.duration), int(n.velocity)] for n in p.notes],
                }
                for p in self.parts
            ],
            "steps_per_quarter": self.steps_per_quarter,
            "tempo": self.tempo,
            "time_signature": list(self.time_signature),
            "key": self.key,
            "pickup": self.pickup,
            "style": self.style,
            "title": self.title,
            "length": self.length,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Piece:
        """The piece :meth:`to_dict` described; raises ``ValueError`` (or ``TypeError``) for anything else."""
        try:
            parts = tuple(
                Part(
                    name=str(p["name"]),
                    program=p["program"],
                    range=None if p["range"] is None else tuple(p["range"]),
                    notes=tuple(Note(*n) for n in p["notes"]),
                )
                for p in data["parts"]
            )
            fields = {k: data[k] for k in ("steps_per_quarter", "tempo", "key", "pickup", "style", "title", "length")}
            return cls(parts=parts, time_signature=tuple(data["time_signature"]), **fields)
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a piece: {type(err).__name__} {err}") from err

    def __repr__(self) -> str:
        num, den = self.time_signature
        label = f"{self.title!r}, " if self.title else ""
        return (
            f"Piece({label}{len(self.parts)} parts, {self.n_notes} notes, {self.n_bars} bars of {num}/{den}, "
            f"key={self.key}, tempo={self.tempo:g})"
        )


def concatenate(pieces: Iterable[Piece]) -> Piece:
    """Join pieces end to end, each starting at the first bar line after the previous one ends.

    All pieces must share ``steps_per_quarter``, ``time_signature`` and the number of parts; names, programs, tempo,
    key and pickup come from the first piece; the result ends where the last piece ends (its rests included).
    """
    pieces = list(pieces)
    if not pieces:
        raise ValueError("`pieces` must hold at least one Piece")
    first = pieces[0]
    notes: list[list[Note]] = [list(p.notes) for p in first.parts]
    cursor = first.bar_start(first.n_bars)
    end = first.end
    for k, piece in enumerate(pieces[1:], start=1):
        if (piece.steps_per_quarter, piece.time_signature, len(piece.parts)) != (
            first.steps_per_quarter,
            first.time_signature,
            len(first.parts),
        ):
            raise ValueError(f"piece {k} differs from piece 0 in steps_per_quarter, time_signature or number of parts")
        offset = cursor - piece.pickup  # the pickup fills the end of the previous last bar ...
        if offset < end:  # ... unless that bar is full: then it gets a bar of its own
            offset += first.steps_per_bar
        for i, part in enumerate(piece.parts):
            notes[i].extend(replace(n, start=n.start + offset) for n in part.notes)
        cursor = offset + piece.bar_start(piece.n_bars)
        end = offset + piece.end
    parts = tuple(replace(p, notes=tuple(ns)) for p, ns in zip(first.parts, notes))
    return replace(first, parts=parts, length=end)
