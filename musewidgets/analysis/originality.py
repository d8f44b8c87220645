"""Does a take copy its training music? The longest passage it shares note for note with a training piece.

::

    >>> copied(take)                                   # doctest: +SKIP
    Copied(bars=2.0, notes=9, voice=0, piece='bach/bwv66.6.mxl', take_bars=(3, 5), piece_bars=(9, 11), shift=-2, ...)
    >>> str(copied(take))                              # doctest: +SKIP
    'bars 3-5 of the soprano are bars 9-11 of the soprano of bach/bwv66.6.mxl, 2 semitones down (9 notes, 2.0 bars)'

**Note for note** means pitch and rhythm, in any transposition: one voice of the take and the same voice of a
training piece of its style play the same run of melodic intervals, each note starting the same time after the one
before and lasting as long (the last note's length aside). Its length is counted in bars of the take, from the first
matched note's start to the last one's end. Every voice of the take is searched against every voice of the pieces
(a tenor may sing what a bass sang); the longest passage wins. Bars are counted from 1, the pickup as bar 0.

The search reads the train split of the style (:mod:`musewidgets.datasets.corpus`): every run of :data:`SEED_NOTES`
notes of every voice is hashed once per style into sorted arrays (1.4 s and about 40 MiB for all four styles, where
a dict of the runs took 190 MiB), then each of the take's runs that is found is checked and extended both ways as far
as it goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ..piece import Piece

__all__ = ["SEED_NOTES", "Copied", "copied"]

SEED_NOTES = 5  # notes in the runs the index holds (4 intervals): shorter matches are too common to count


@dataclass(frozen=True)
class Copied:
    """The longest passage a take shares with a training piece (``bars`` 0 and no piece when none is as long as
    :data:`SEED_NOTES` notes)."""

    bars: float  # its length, in the take's bars
    notes: int = 0
    voice: int = 0  # part index in the take
    piece: str | None = None  # the training piece's corpus id
    take_bars: tuple[int, int] = (0, 0)  # first and last bar it touches, counted from 1 (the pickup is bar 0)
    piece_bars: tuple[int, int] = (0, 0)
    shift: int = 0  # semitones from the piece's notes to the take's
    voice_name: str = ""  # the take's voice (empty for a one-voice take)
    piece_voice: str = ""  # the piece's voice (empty for a one-voice piece)

    def __str__(self) -> str:
        if self.piece is None:
            return f"no passage of {SEED_NOTES} notes or more is in a training piece"
        moved = "" if self.shift == 0 else f", {abs(self.shift)} semitones {'up' if self.shift > 0 else 'down'}"
        voice = f" of the {self.voice_name.lower()}" if self.voice_name else ""
        theirs = f" of the {self.piece_voice.lower()}" if self.piece_voice else ""
        return (
            f"bars {_span(self.take_bars)}{voice} are bars {_span(self.piece_bars)}{theirs} of {self.piece}{moved} "
            f"({self.notes} notes, {self.bars:.1f} bars)"
        )


def _span(bars: tuple[int, int]) -> str:
    return str(bars[0]) if bars[0] == bars[1] else f"{bars[0]}-{bars[1]}"


def _line(part) -> list[tuple[int, int, int]]:
    """(pitch, start, duration) of one voice, the top note of a chord."""
    top: dict[int, tuple[int, int, int]] = {}
    for n in part.notes:
        if n.start not in top or n.pitch > top[n.start][0]:
            top[n.start] = (n.pitch, n.start, n.duration)
    return [top[s] for s in sorted(top)]


def _codes(line) -> np.ndarray:
    """One int64 per pair of notes: the interval, the time between their starts and the first one's length."""
    if len(line) < 2:
        return np.zeros(0, dtype=np.int64)
    a = np.array(line, dtype=np.int64)
    interval, ioi, length = a[1:, 0] - a[:-1, 0], a[1:, 1] - a[:-1, 1], a[:-1, 2]
    return ((interval + 128) << 40) | (np.minimum(ioi, 2**20 - 1) << 20) | np.minimum(length, 2**20 - 1)


def _runs(codes: np.ndarray) -> np.ndarray:
    """A hash of every run of SEED_NOTES - 1 codes (uint64, wrapping): equal runs hash equal."""
    k = SEED_NOTES - 1
    if len(codes) < k:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(len(codes) - k + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(k):
            h = h * np.uint64(1_000_003) + codes[i : len(codes) - k + 1 + i].astype(np.uint64)
    return h


@cache
def _index(style: str):
    """The style's training pieces as compact arrays: sorted run hashes with the (line, position) each comes from,
    and per line of each piece its piece id, voice name, notes, codes and header."""
    from ..datasets import corpus

    data = corpus.load_style(style, progress=False)
    lines, hashes, owners = [], [], []  # lines: (piece id, voice name or "", notes (n, 3), codes, pickup, bar steps)
    for pid in data.ids:
        if corpus.split_of(pid) != "train":
            continue
        piece = data.get(pid)
        for part in piece.parts:
            notes = _line(part)
            codes = _codes(notes)
            runs = _runs(codes)
            name = part.name if len(piece.parts) > 1 else ""
            lines.append((pid, name, np.array(notes, dtype=np.int32), codes, piece.pickup, piece.steps_per_bar))
            hashes.append(runs)
            owners.append(np.stack([np.full(len(runs), len(lines) - 1), np.arange(len(runs))], axis=1))
    hashes, owners = np.concatenate(hashes), np.concatenate(owners).astype(np.int32)
    order = np.argsort(hashes, kind="stable")
    return hashes[order], owners[order], lines


def _bar(pickup: int, bar_steps: int, step: int) -> int:
    """The bar a step lies in, counted from 1 (0: the pickup)."""
    return 0 if step < pickup else (step - pickup) // bar_steps + 1


def copied(take: Piece, style: str | None = None) -> Copied:
    """The longest passage ``take`` shares note for note with a training piece of ``style`` (default its own).

    Raises
    ------
    ValueError
        If no style is given and the take names none, or the style is not one of the corpus styles.
    """
    from ..datasets.corpus import STYLES

    style = style or take.style
    if style not in STYLES:
        raise ValueError(f"`style` must be one of {', '.join(STYLES)} to search its training pieces, got {style!r}")
    hashes, owners, lines = _index(style)
    k, best = SEED_NOTES - 1, Copied(0.0)
    for v, part in enumerate(take.parts):
        line = _line(part)
        sym, runs = _codes(line), _runs(_codes(line))
        lo, hi = np.searchsorted(hashes, runs, "left"), np.searchsorted(hashes, runs, "right")
        for i in np.flatnonzero(hi > lo):
            for w, j in owners[lo[i] : hi[i]]:
                pid, name, theirs, other, pickup, bar_steps = lines[w]
                if not np.array_equal(sym[i : i + k], other[j : j + k]):
                    continue  # another run with the same hash
                a, b = i, j
                while a > 0 and b > 0 and sym[a - 1] == other[b - 1]:
                    a, b = a - 1, b - 1
                n = k
                while a + n < len(sym) and b + n < len(other) and sym[a + n] == other[b + n]:
                    n += 1
                first, last = line[a], line[a + n]
                bars = (last[1] + last[2] - first[1]) / take.steps_per_bar
                if bars > best.bars:
                    there = theirs[b : b + n + 1]
                    best = Copied(
                        bars=bars,
                        notes=n + 1,
                        voice=v,
                        piece=pid,
                        take_bars=(
                            _bar(take.pickup, take.steps_per_bar, first[1]),
                            _bar(take.pickup, take.steps_per_bar, last[1]),
                        ),
                        piece_bars=(
                            _bar(pickup, bar_steps, int(there[0][1])),
                            _bar(pickup, bar_steps, int(there[-1][1])),
                        ),
                        shift=int(first[0] - there[0][0]),
                        voice_name=part.name if len(take.parts) > 1 else "",
                        piece_voice=name,
                    )
    return best
