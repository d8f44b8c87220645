"""Piano-roll pictures of a Piece with matplotlib.

:func:`plot_pianoroll` draws into an ``Axes`` you give it (or a new figure) and returns the artist; it never calls
``plt.show()``. :func:`pianoroll_png` makes PNG bytes for widgets and files without touching pyplot's global state;
:func:`pianoroll_png_with_geometry` also says where the notes' axes lie in the picture, so that a player can map
time to a pixel column (the playhead of :class:`musewidgets.widgets.player.TakeView`).
"""

from __future__ import annotations

import io as _io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .piece import Piece, pitch_name

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

__all__ = ["PART_COLORS", "RollGeometry", "pianoroll_png", "pianoroll_png_with_geometry", "plot_pianoroll"]

# Colour-blind-safe (Okabe-Ito), one per part in order.
PART_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def plot_pianoroll(
    piece: Piece,
    ax: Axes | None = None,
    *,
    highlight: tuple[int, int] | None = None,
    legend: bool = True,
    title: str | None = None,
    marks: Sequence[tuple[int, int]] = (),
) -> PolyCollection:
    """Draw the notes of every part as coloured bars over bar and beat lines.

    Parameters
    ----------
    piece : Piece
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure (created through pyplot, so the caller closes it).
    highlight : (int, int), optional
        Shade bars ``start`` up to (not including) ``stop``; bar 0 is the first full bar.
    legend : bool, default True
        Name the parts in a legend (when there is more than one).
    title : str, optional
        Axes title; default the piece's title.
    marks : sequence of (step, pitch)
        Ring these notes in red (voice-leading faults: see :func:`~musewidgets.analysis.voice_leading.faults`).

    Returns
    -------
    matplotlib.collections.PolyCollection
        One rectangle per note, coloured by part.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 3))
    notes = _note_bars(piece)
    ax.add_collection(notes)
    _grid(ax, piece)
    if highlight is not None:
        start, stop = highlight
        ax.axvspan(piece.bar_start(start), piece.bar_start(stop), color="#FFE08A", alpha=0.45, zorder=1)
    handles = _legend_handles(piece) + _ring_marks(ax, marks)
    if legend and handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    label = piece.title if title is None else title
    if label:
        ax.set_title(label, loc="left", fontsize="medium")
    return notes


def _note_bars(piece: Piece) -> PolyCollection:
    """One rectangle per note, 0.8 semitones high, coloured by part (:data:`PART_COLORS`)."""
    from matplotlib.collections import PolyCollection

    verts, colors = [], []
    for i, part in enumerate(piece.parts):
        color = PART_COLORS[i % len(PART_COLORS)]
        for n in part.notes:
            x0, x1, y0, y1 = n.start, n.end, n.pitch - 0.4, n.pitch + 0.4
            verts.append(((x0, y0), (x0, y1), (x1, y1), (x1, y0)))
            colors.append(color)
    return PolyCollection(verts, facecolors=colors, edgecolors="white", linewidths=0.5, zorder=3)


def _grid(ax: Axes, piece: Piece) -> None:
    """Limits, beat and bar lines, bar numbers along x and pitch names along y; no ticks or spines."""
    spb = piece.steps_per_bar
    end = max(piece.bar_start(piece.n_bars), 1)
    pitches = [n.pitch for p in piece.parts for n in p.notes] or [60]
    low, high = min(pitches), max(pitches)
    ax.set_xlim(0, end)
    ax.set_ylim(low - 1.5, high + 1.5)
    beat = piece.steps_per_quarter * 4 // piece.time_signature[1]
    ax.vlines(np.arange(piece.pickup % beat, end, beat), low - 1.5, high + 1.5, colors="#dddddd", linewidths=0.5)
    bar_lines = np.arange(piece.pickup, end + 1, spb)
    ax.vlines(bar_lines, low - 1.5, high + 1.5, colors="#888888", linewidths=0.9)
    bars = bar_lines[:-1] if len(bar_lines) > 1 else bar_lines
    every = _label_every(ax, len(bars), spb / end)
    ax.set_xticks(bars[::every])
    ax.set_xticklabels([str(i + 1) for i in range(0, len(bars), every)])
    ax.set_xlabel("bar")
    step = 1 if high - low <= 16 else 12
    ticks = [p for p in range(low, high + 1) if step == 1 or p % 12 == 0] or [low]
    ax.set_yticks(ticks)
    ax.set_yticklabels([pitch_name(p) for p in ticks])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _legend_handles(piece: Piece) -> list:
    """A legend patch per part, in its colour; none for a single part."""
    from matplotlib.patches import Patch

    if len(piece.parts) <= 1:
        return []
    return [Patch(color=PART_COLORS[i % len(PART_COLORS)], label=p.name) for i, p in enumerate(piece.parts)]


def _ring_marks(ax: Axes, marks: Sequence[tuple[int, int]]) -> list:
    """Ring the notes at ``marks`` (step, pitch) in red; returns their legend handle (none without marks)."""
    from matplotlib.lines import Line2D

    if not len(marks):
        return []
    xs, ys = zip(*marks)
    ax.scatter(np.asarray(xs) + 0.5, ys, s=60, facecolors="none", edgecolors="#E00000", linewidths=1.4, zorder=4)
    return [Line2D([], [], ls="", marker="o", mfc="none", mec="#E00000", label="fault")]


def _label_every(ax: Axes, n_bars: int, bar_fraction: float) -> int:
    """Label every 1st, 2nd, 4th, 8th ... bar: the fewest skipped that keep the bar numbers from touching.

    ``bar_fraction`` is the width of one bar as a fraction of the axes' width. Digits of the default font are about
    0.65 em wide; labels stay at least one em apart.
    """
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=rcParams["xtick.labelsize"]).get_size_in_points()
    needed = (0.65 * len(str(max(n_bars, 1))) + 1.0) * size  # points from one label's centre to the next
    bar = ax.bbox.width * 72 / ax.figure.dpi * bar_fraction  # points per bar
    every = 1
    while every * bar < needed and every < n_bars:
        every *= 2
    return every


@dataclass(frozen=True)
class RollGeometry:
    """Where the notes' axes lie in a piano-roll picture, so that a step (or a second) maps to a pixel.

    Attributes
    ----------
    x0, x1 : float
        Left and right edges of the axes' data area as fractions of the image width, from its left edge: step 0
        lies at ``x0`` and step :attr:`steps` at ``x1``.
    y0, y1 : float
        Top and bottom edges of the data area as fractions of the image height, from its top edge.
    steps : int
        The step at the right edge (the end of the last bar; at least 1).
    width, height : int
        Size of the image in pixels.
    """

    x0: float
    x1: float
    y0: float
    y1: float
    steps: int
    width: int
    height: int

    def x_of_step(self, step: float) -> float:
        """Fraction of the image width (from its left edge) at which ``step`` lies."""
        return self.x0 + (self.x1 - self.x0) * step / self.steps


def pianoroll_png(piece: Piece, *, width: float = 8.0, height: float = 3.0, dpi: int = 100, **kwargs) -> bytes:
    """PNG bytes of :func:`plot_pianoroll` at ``width`` x ``height`` inches; the figure is never shown or kept."""
    return pianoroll_png_with_geometry(piece, width=width, height=height, dpi=dpi, **kwargs)[0]


def pianoroll_png_with_geometry(
    piece: Piece, *, width: float = 8.0, height: float = 3.0, dpi: int = 100, **kwargs
) -> tuple[bytes, RollGeometry]:
    """:func:`pianoroll_png` and the :class:`RollGeometry` of the picture (measured from the figure, not guessed).

    Keyword arguments as for :func:`plot_pianoroll`.
    """
    fig, ax = _roll_figure(piece, width=width, height=height, dpi=dpi, **kwargs)
    box = ax.get_position()  # figure fractions, y from the bottom; savefig keeps the whole figure, so image fractions
    pixels = fig.canvas.get_width_height()
    geometry = RollGeometry(
        x0=float(box.x0),
        x1=float(box.x1),
        y0=float(1 - box.y1),
        y1=float(1 - box.y0),
        steps=int(round(ax.get_xlim()[1])),
        width=int(pixels[0]),
        height=int(pixels[1]),
    )
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    fig.clear()
    return buf.getvalue(), geometry


def _roll_figure(piece: Piece, *, width: float, height: float, dpi: int, **kwargs) -> tuple[Figure, Axes]:
    """A pyplot-free figure with the piano roll drawn in fixed margins."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    # fixed margins (inches) instead of a layout engine: a third faster, and the same for every take
    fig.subplots_adjust(left=0.5 / width, right=1 - 1.1 / width, bottom=0.5 / height, top=1 - 0.3 / height)
    ax = fig.add_subplot()
    plot_pianoroll(piece, ax, **kwargs)
    return fig, ax
