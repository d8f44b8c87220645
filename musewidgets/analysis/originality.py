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
notes of every voice is indexed once per style (a second or two for the 6,300 folk songs), then each of the take's
runs that is found is extended both ways as far as it goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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


def _symbols(line) -> list[tuple[int, int, int]]:
    """One symbol per pair of notes: the interval, the time between their starts and the first one's length."""
    return [(b[0] - a[0], b[1] - a[1], a[2]) for a, b in zip(line, line[1:])]


@cache
def _index(style: str) -> tuple[dict, list]:
    """Every run of SEED_NOTES - 1 symbols of every voice of the style's training pieces: {run: [(piece, voice,
    position)]}, and per piece (id, voice lines, its header) for reading matches back."""
    from ..datasets import corpus

    data = corpus.load_style(style, progress=False)
    train = [(pid, data.get(pid)) for pid in data.ids if corpus.split_of(pid) == "train"]
    index: dict[tuple, list] = {}
    pieces = []
    k = SEED_NOTES - 1
    for p, (pid, piece) in enumerate(train):
        lines = [_line(part) for part in piece.parts]
        pieces.append((pid, lines, piece))
        for v, line in enumerate(lines):
            sym = _symbols(line)
            for i in range(len(sym) - k + 1):
                index.setdefault(tuple(sym[i : i + k]), []).append((p, v, i))
    return index, pieces


def _bar(piece: Piece, step: int) -> int:
    """The bar a step lies in, counted from 1 (0: the pickup)."""
    return 0 if step < piece.pickup else (step - piece.pickup) // piece.steps_per_bar + 1


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
    index, pieces = _index(style)
    k, best = SEED_NOTES - 1, Copied(0.0)
    for v, part in enumerate(take.parts):
        line = _line(part)
        sym = _symbols(line)
        for i in range(len(sym) - k + 1):
            for p, w, j in index.get(tuple(sym[i : i + k]), ()):
                other = _symbols(pieces[p][1][w])
                a, b = i, j
                while a > 0 and b > 0 and sym[a - 1] == other[b - 1]:
                    a, b = a - 1, b - 1
                n = k
                while a + n < len(sym) and b + n < len(other) and sym[a + n] == other[b + n]:
                    n += 1
                first, last = line[a], line[a + n]
                bars = (last[1] + last[2] - first[1]) / take.steps_per_bar
                if bars > best.bars:
                    pid, lines, source = pieces[p]
                    theirs = lines[w][b : b + n + 1]
                    best = Copied(
                        bars=bars,
                        notes=n + 1,
                        voice=v,
                        piece=pid,
                        take_bars=(_bar(take, first[1]), _bar(take, last[1])),
                        piece_bars=(_bar(source, theirs[0][1]), _bar(source, theirs[-1][1])),
                        shift=first[0] - theirs[0][0],
                        voice_name=part.name if len(take.parts) > 1 else "",
                        piece_voice=source.parts[w].name if len(source.parts) > 1 else "",
                    )
    return best
