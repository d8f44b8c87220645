"""TakeView: one take's piano roll, audio player and engraved score, with a playhead that follows the sound.

The sound plays in the browser's own ``<audio controls>`` element (its keyboard and screen-reader support keep
working); a little JavaScript reads the element's ``currentTime`` on every animation frame and moves a line over the
piano roll and a highlight over the current measure of the score. Clicking the roll or a measure seeks there.

The Workbench shows its take's roll once, in the roll editor (:class:`~musewidgets.widgets.editor.RollEditor`), and
its TakeView without a roll (``roll=False``): the two share a ``link``, and the page's playhead and "play from this
bar" travel between them as window events (``musewidgets:playhead`` from the player, ``musewidgets:seek`` to it).

Why anywidget: the playhead needs a few lines of JavaScript in the page, and anywidget ships them inside the widget's
own state (``_esm``, an ES module read from ``static/player.js``), so there is no build step, no second package and no
script from a CDN: it works offline. The one front-end extension it needs comes in the ``anywidget`` wheel and serves
JupyterLab 4, Notebook 7 and Voila alike; VS Code's Jupyter extension renders anywidget widgets too. All state lives
in traits (standard ipywidgets sync), so the Python side is testable without a browser.
"""

from __future__ import annotations

import math
import numbers
import pathlib
from collections.abc import Sequence

import anywidget
import traitlets as t
from ipywidgets.widgets.trait_types import bytes_serialization

from ..piece import Piece

__all__ = ["TakeView", "measure_times"]

_STATIC = pathlib.Path(__file__).parent / "static"


def measure_times(piece: Piece) -> list[float]:
    """Start of every engraved measure in seconds, in score order.

    The pickup measure (at 0 s) comes first where the piece has one; then one entry per bar, a final incomplete bar
    included, so the list has as many entries as verovio draws measures (a piece without notes: one, at 0 s).
    """
    starts = ([0] if piece.pickup else []) + [piece.bar_start(k) for k in range(piece.n_bars)]
    return [s * piece.seconds_per_step for s in starts or [0]]


class TakeView(anywidget.AnyWidget):
    """Piano roll, audio player and engraved score of one take, top to bottom, with a moving playhead.

    Parameters
    ----------
    roll_width, roll_height : float, default 9.0, 3.2
        Size of the piano-roll picture in inches (100 pixels an inch).
    score_width : int, default 760
        Width of the engraved score in pixels.
    score : bool, default True
        Engrave the score; False shows only the roll and the sound (``score_svg`` stays empty), which saves the
        engraving where several small views sit side by side.
    roll : bool, default True
        Draw the piano roll; False shows only the sound and the score (``roll_png`` stays empty; ``timing`` still
        maps seconds onto steps), where a roll editor linked to the view (``link``) shows the roll and its playhead.

    Attributes
    ----------
    roll_png : bytes
        The piano roll (PNG); empty when nothing is shown.
    audio_wav : bytes
        The sound (48 kHz 16-bit stereo WAV); time 0 of the audio is step 0 of the piece.
    score_svg : str
        The engraved score: verovio's SVG pages, one after another.
    timing : dict
        How seconds map onto the roll: ``seconds_per_step``, ``steps`` (the step at the roll's right edge),
        ``pickup`` and ``steps_per_bar`` (steps), and ``x0``, ``x1``, ``y0``, ``y1``, the roll's data area as
        fractions of the picture (x from the left, y from the top; see :class:`musewidgets.plotting.RollGeometry`;
        0 and 1 without a roll).
    measure_times : list of float
        Start of each engraved measure in seconds (see :func:`measure_times`).
    label : str
        Caption under the score.
    pending : bool
        True while only the roll is drawn (:meth:`show_roll`): sound and score follow.
    position : float
        Seconds from the start where the player stands; the page reports it when playback pauses, ends or seeks
        (not while playing, to keep the kernel quiet). :meth:`seek` moves it.
    link : str
        A name shared with a roll editor (``RollEditor.link``): the page tells that roll where the sound is, and
        the roll asks the player to move (empty: none).
    """

    # The text, not the path: anywidget turns a path into a FileContents whose ``changed`` signal holds every view
    # ever made, closed or not, for hot reloading (anywidget issue #929), so each view thrown away (a compare view, a
    # similar piece) would keep its picture and sound until the kernel stops. The page gets the same module.
    _esm = (_STATIC / "player.js").read_text(encoding="utf-8")
    _css = (_STATIC / "player.css").read_text(encoding="utf-8")

    roll_png = t.Bytes(b"").tag(sync=True, **bytes_serialization)
    audio_wav = t.Bytes(b"").tag(sync=True, **bytes_serialization)
    score_svg = t.Unicode("").tag(sync=True)
    timing = t.Dict().tag(sync=True)
    measure_times = t.List(t.Float()).tag(sync=True)
    label = t.Unicode("").tag(sync=True)
    pending = t.Bool(False).tag(sync=True)
    position = t.Float(0.0, min=0.0).tag(sync=True)
    link = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        *,
        roll_width: float = 9.0,
        roll_height: float = 3.2,
        score_width: int = 760,
        score: bool = True,
        roll: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.roll_width = roll_width
        self.roll_height = roll_height
        self.score_width = score_width
        self.score = score
        self.roll = roll

    def show(
        self,
        piece: Piece | None,
        *,
        label: str = "",
        programs: Sequence[int] | None = None,
        marks: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Draw the roll, load the sound and engrave the score of ``piece`` (``None`` clears everything).

        The roll and the sound go to the page first, in one message, so the take can be heard at once; the score
        follows in a second one (engraving takes longer than the roll and the sound together). ``programs`` (one
        General MIDI program per part) replaces the parts' own instruments in the sound. A view made with
        ``score=False`` engraves nothing. ``marks`` ((step, pitch) pairs) ring notes in red on the roll.
        """
        if piece is None:
            self.clear()
            return
        from ..audio import to_wav

        roll = self._roll_state(piece, marks)
        wav = to_wav(piece, programs=programs)
        self._set(roll, audio_wav=wav, score_svg="", label=label, pending=False)
        if self.score:
            from ..engraving import to_svg

            self.score_svg = "".join(to_svg(piece, width=self.score_width))

    def mark(self, piece: Piece, marks: Sequence[tuple[int, int]]) -> None:
        """Redraw the roll of the piece on show with ``marks`` ringed (none: plain); the sound and score stay."""
        with self.hold_sync():
            for name, value in self._roll_state(piece, marks).items():
                setattr(self, name, value)

    def show_roll(self, piece: Piece | None) -> None:
        """Redraw only the roll (while bars are being sampled); the sound and the score are cleared as pending."""
        if piece is None:
            self.clear()
            return
        roll = self._roll_state(piece)
        self._set(roll, audio_wav=b"", score_svg="", pending=True)

    def clear(self) -> None:
        """Show nothing."""
        self._set(dict(roll_png=b"", timing={}, measure_times=[]), audio_wav=b"", score_svg="", label="", pending=False)

    def close(self) -> None:
        """Close the view and its layout (the page removes them); the view can then be dropped for good.

        A widget dropped without ``close()`` stays in ipywidgets' registry of open widgets (``Widget.widgets``) for
        the rest of the kernel, with the picture and sound it shows (megabytes); ``Widget.close()`` alone leaves the
        view's ``Layout`` widget there. Give a view that will be closed a layout of its own: it is closed too.
        """
        layout = self.layout
        super().close()
        if layout is not None:
            layout.close()

    def seek(self, seconds: float) -> None:
        """Move the player of every open view to ``seconds`` from the start (playing on if it plays)."""
        if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
            raise TypeError(f"`seconds` must be a number, got {seconds!r}")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"`seconds` must be a finite number of seconds >= 0, got {seconds!r}")
        self.position = float(seconds)
        self.send({"type": "seek", "seconds": float(seconds)})

    def _set(self, values: dict, **more) -> None:
        """Set traits in one message to the page, the position back to the start."""
        with self.hold_sync():
            for name, value in {"position": 0.0, **values, **more}.items():
                setattr(self, name, value)

    def _roll_state(self, piece: Piece, marks: Sequence[tuple[int, int]] = ()) -> dict:
        """The traits that depend on the roll: its PNG (none without a roll), the timing map and the measure starts."""
        timing = {
            "seconds_per_step": piece.seconds_per_step,
            "steps": piece.bar_start(piece.n_bars) if piece.n_bars else max(piece.end, piece.steps_per_bar),
            "pickup": piece.pickup,
            "steps_per_bar": piece.steps_per_bar,
            **{"x0": 0.0, "x1": 1.0, "y0": 0.0, "y1": 1.0},
        }
        if not self.roll:
            return {"roll_png": b"", "timing": timing, "measure_times": measure_times(piece)}
        from ..plotting import pianoroll_png_with_geometry

        png, geometry = pianoroll_png_with_geometry(
            piece, width=self.roll_width, height=self.roll_height, title="", marks=marks
        )
        timing |= {"steps": geometry.steps, "x0": geometry.x0, "x1": geometry.x1, "y0": geometry.y0, "y1": geometry.y1}
        return {"roll_png": png, "timing": timing, "measure_times": measure_times(piece)}
