"""Musical descriptors of a piece, in families, for judges that tell takes from real music (:mod:`.judge`).

Many small facts a musician hears, grouped by what they are about, each family a fixed-length vector for a given
number of voices (per-voice values for up to :data:`MAX_VOICES` voices, top down, zeros for voices a piece lacks):

``pitch``       key-relative pitch classes (duration-weighted shares, 12) and their entropy
``key``         the estimated key's accidentals (0-6) and mode
``intervals``   per voice, shares of melodic moves: unison, step, third, fourth-fifth, sixth-octave, wider; mean size;
                share upward
``repeats``     per voice, share of notes re-striking the pitch before, longest such run
``rhythm``      per voice, shares of note lengths (16th ... whole and more), notes per bar
``onsets``      shares of onsets on the downbeat, other beats, half beats, finer
``rests``       per voice, share of the excerpt resting, rests inside it; share of bars silent in every voice
``vertical``    shares of the intervals between adjacent voices at onsets by kind, mean outer spacing
``motion``      shares of parallel, similar, contrary and oblique motion between pairs of voices
``register``    per voice, mean pitch, spread and range
``contour``     per voice, slope of pitch over the excerpt and share of moves that change direction
``repetition``  repeated bars and the longest bar loop (:mod:`.metrics`)
``ending``      the bass and top finals above the estimated tonic (tonic, fifth, third, other) and how long the
                final sounds

Key-relative values use :func:`~musewidgets.keys.estimate_key` of the piece's own notes; the judges' endings by
music21's key-finder too are :func:`music21_ending`.
"""

from __future__ import annotations

import math

import numpy as np

from ..keys import estimate_key
from ..piece import Piece, parse_key
from .metrics import longest_bar_loop, repeated_bars

__all__ = ["FAMILIES", "MAX_VOICES", "accidentals", "descriptors", "music21_ending", "step_shares"]

MAX_VOICES = 4
_MOVES = (0, 2, 4, 7, 12)  # upper bounds of unison, step, third, fourth-fifth, sixth-octave (semitones)
_LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16)  # note lengths in 16ths: the bins' upper bounds


def _lines(piece: Piece) -> list[list[tuple[int, int, int]]]:
    """Per voice (top down, at most MAX_VOICES), its notes as (start, end, pitch), the top note of a chord."""
    lines = []
    for part in piece.parts[:MAX_VOICES]:
        top: dict[int, tuple[int, int, int]] = {}
        for n in part.notes:
            if n.start not in top or n.pitch > top[n.start][2]:
                top[n.start] = (n.start, n.end, n.pitch)
        lines.append([top[s] for s in sorted(top)])
    return lines


def _per_voice(rows: list[np.ndarray], width: int) -> np.ndarray:
    out = np.zeros((MAX_VOICES, width))
    for v, row in enumerate(rows[:MAX_VOICES]):
        out[v] = row
    return out.ravel()


def _shares(values, bounds) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if not len(values):
        return np.zeros(len(bounds) + 1)
    return np.bincount(np.searchsorted(bounds, values), minlength=len(bounds) + 1)[: len(bounds) + 1] / len(values)


def _pitch(piece, lines, tonic, mode) -> np.ndarray:
    weights = np.zeros(12)
    for line in lines:
        for start, end, pitch in line:
            weights[(pitch - tonic) % 12] += end - start
    shares = weights / weights.sum() if weights.sum() else weights
    entropy = -sum(p * math.log2(p) for p in shares if p > 0)
    return np.r_[shares, entropy]


def accidentals(tonic: int, mode: str) -> int:
    """Sharps or flats in the key signature of the key on pitch class ``tonic`` (0-6; F# major and Gb major: 6)."""
    major = tonic if mode == "major" else (tonic + 3) % 12
    fifths = (major * 7) % 12  # sharps, counted round the circle of fifths
    return min(fifths, 12 - fifths)


def _key(piece, lines, tonic, mode) -> np.ndarray:
    return np.array([accidentals(tonic, mode), mode == "minor"], dtype=float)


def _intervals(piece, lines, tonic, mode) -> np.ndarray:
    rows = []
    for line in lines:
        moves = np.diff([p for _, _, p in line]) if len(line) > 1 else np.zeros(0)
        size = np.abs(moves)
        up = float(np.mean(moves > 0)) if len(moves) else 0.0
        rows.append(np.r_[_shares(size, _MOVES), size.mean() if len(size) else 0.0, up])
    return _per_voice(rows, len(_MOVES) + 3)


def _repeats(piece, lines, tonic, mode) -> np.ndarray:
    rows = []
    for line in lines:
        same = np.diff([p for _, _, p in line]) == 0 if len(line) > 1 else np.zeros(0, dtype=bool)
        run = longest = 0
        for s in same:
            run = run + 1 if s else 0
            longest = max(longest, run)
        rows.append(np.array([same.mean() if len(same) else 0.0, longest]))
    return _per_voice(rows, 2)


def _rhythm(piece, lines, tonic, mode) -> np.ndarray:
    scale = 4 / piece.steps_per_quarter  # in 16ths
    bars = max(1, piece.n_bars)
    rows = [np.r_[_shares([(e - s) * scale for s, e, _ in line], _LENGTHS), len(line) / bars] for line in lines]
    return _per_voice(rows, len(_LENGTHS) + 2)


def _onsets(piece, lines, tonic, mode) -> np.ndarray:
    beat = piece.steps_per_quarter * 4 // piece.time_signature[1]
    where = [((s - piece.pickup) % piece.steps_per_bar) for line in lines for s, _, _ in line]
    kinds = [0 if w == 0 else 1 if w % beat == 0 else 2 if (2 * w) % beat == 0 else 3 for w in where]
    return np.bincount(kinds, minlength=4)[:4] / max(1, len(kinds))


def _sounding(piece, lines) -> np.ndarray:
    """(voices, steps) pitch each voice sounds, -1 silent."""
    grid = np.full((MAX_VOICES, max(piece.end, 1)), -1)
    for v, line in enumerate(lines):
        for start, end, pitch in line:
            grid[v, start:end] = pitch
    return grid


def _rests(piece, lines, tonic, mode) -> np.ndarray:
    grid = _sounding(piece, lines)[: len(lines)]
    rows = []
    for v, line in enumerate(lines):
        silent = grid[v] < 0
        inside = silent[line[0][0] : line[-1][1]].mean() if line else 0.0
        rows.append(np.array([silent.mean(), inside]))
    spb = piece.steps_per_bar
    bars = [grid[:, piece.bar_start(b) : piece.bar_start(b) + spb] for b in range(piece.n_bars)]
    empty = np.mean([(bar < 0).all() for bar in bars if bar.size]) if bars else 0.0
    return np.r_[_per_voice(rows, 2), empty]


def _events(lines) -> list[int]:
    return sorted({s for line in lines for s, _, _ in line})


def _vertical(piece, lines, tonic, mode) -> np.ndarray:
    grid = _sounding(piece, lines)[: len(lines)]
    kinds, spacing = np.zeros(6), []
    for t in _events(lines):
        voiced = [p for p in grid[:, t] if p >= 0] if t < grid.shape[1] else []
        for a, b in zip(voiced, voiced[1:]):
            cls = abs(a - b) % 12
            kinds[{0: 0, 3: 1, 4: 1, 5: 2, 7: 3, 8: 4, 9: 4}.get(cls, 5)] += 1
        if len(voiced) > 1:
            spacing.append(voiced[0] - voiced[-1])
    shares = kinds / kinds.sum() if kinds.sum() else kinds
    return np.r_[shares, np.mean(spacing) if spacing else 0.0]


def _motion(piece, lines, tonic, mode) -> np.ndarray:
    grid = _sounding(piece, lines)[: len(lines)]
    counts = np.zeros(4)  # parallel, similar, contrary, oblique
    events = [t for t in _events(lines) if t < grid.shape[1]]
    for t0, t1 in zip(events, events[1:]):
        for u in range(len(lines)):
            for v in range(u + 1, len(lines)):
                a0, a1, b0, b1 = grid[u, t0], grid[u, t1], grid[v, t0], grid[v, t1]
                if min(a0, a1, b0, b1) < 0 or (a0 == a1 and b0 == b1):
                    continue
                da, db = np.sign(a1 - a0), np.sign(b1 - b0)
                kind = 3 if da == 0 or db == 0 else 2 if da != db else 0 if (a1 - b1) == (a0 - b0) else 1
                counts[kind] += 1
    return counts / counts.sum() if counts.sum() else counts


def _register(piece, lines, tonic, mode) -> np.ndarray:
    rows = []
    for line in lines:
        pitches = np.array([p for _, _, p in line], dtype=float)
        rows.append(np.array([pitches.mean(), pitches.std(), np.ptp(pitches)]) if len(pitches) else np.zeros(3))
    return _per_voice(rows, 3)


def _contour(piece, lines, tonic, mode) -> np.ndarray:
    rows = []
    for line in lines:
        if len(line) < 3:
            rows.append(np.zeros(2))
            continue
        starts, pitches = np.array([s for s, _, _ in line], float), np.array([p for _, _, p in line], float)
        slope = np.polyfit(starts / piece.steps_per_bar, pitches, 1)[0]
        moves = np.sign(np.diff(pitches))
        moves = moves[moves != 0]
        turns = np.mean(moves[1:] != moves[:-1]) if len(moves) > 1 else 0.0
        rows.append(np.array([slope, turns]))
    return _per_voice(rows, 2)


def _repetition(piece, lines, tonic, mode) -> np.ndarray:
    return np.nan_to_num(np.array([repeated_bars(piece), longest_bar_loop(piece)], dtype=float))


def _final_kind(pitch: int, tonic: int) -> int:
    return {0: 0, 7: 1, 3: 2, 4: 2}.get((pitch - tonic) % 12, 3)


def _ending(piece, lines, tonic, mode) -> np.ndarray:
    out = np.zeros(9)
    sounding = [line for line in lines if line]
    if not sounding:
        return out
    top, bass = sounding[0][-1], sounding[-1][-1]
    out[_final_kind(bass[2], tonic)] = 1
    out[4 + _final_kind(top[2], tonic)] = 1
    out[8] = (max(e for line in sounding for _, e, _ in line) - bass[0]) / piece.steps_per_bar
    return out


FAMILIES = {
    "pitch": _pitch,
    "key": _key,
    "intervals": _intervals,
    "repeats": _repeats,
    "rhythm": _rhythm,
    "onsets": _onsets,
    "rests": _rests,
    "vertical": _vertical,
    "motion": _motion,
    "register": _register,
    "contour": _contour,
    "repetition": _repetition,
    "ending": _ending,
}


def descriptors(piece: Piece) -> dict[str, np.ndarray]:
    """``{family: values}`` of ``piece`` (see the module docstring); the same lengths for every piece."""
    key = estimate_key(piece.replace(key=None)) or "C major"
    tonic, mode = parse_key(key)
    lines = _lines(piece)
    return {name: np.asarray(f(piece, lines, tonic, mode), dtype=float) for name, f in FAMILIES.items()}


def music21_ending(piece: Piece) -> tuple[bool, str | None]:
    """Whether the bass's last note is the tonic of the key music21's ``analyze('key')`` hears, and that key."""
    from ..io import to_stream

    lines = [line for line in _lines(piece) if line]
    if not lines:
        return False, None
    found = to_stream(piece).analyze("key")
    return (lines[-1][-1][2] - found.tonic.pitchClass) % 12 == 0, f"{found.tonic.name} {found.mode}"


def step_shares(piece: Piece) -> list[float]:
    """Per voice, top down, the share of its moves to a new pitch that are steps (one or two semitones); NaN for a
    voice that never changes pitch. Bach's chorale basses move by step in about two moves of three."""
    shares = []
    for line in _lines(piece):
        size = np.abs(np.diff([p for _, _, p in line])) if len(line) > 1 else np.zeros(0)
        moves = size[size > 0]
        shares.append(float(np.mean(moves <= 2)) if len(moves) else math.nan)
    return shares
