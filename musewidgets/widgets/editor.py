"""RollEditor: a piano roll drawn in the browser, to select bars and voices or to edit notes by hand.

The roll is an SVG that ``static/editor.js`` draws from a compact trait, ``notes`` (one ``[voice, pitch, start,
duration]`` row per note, steps on the piece's grid), and ``grid`` (steps, steps per bar, pickup, the pitches shown,
the voices' names and colours). An edit is drawn in the page at once and sent to Python as one message; Python is the
source of truth: it checks the edit (pitch 0-127, inside the piece, one note at a time in each voice, as the token
codec and the infill model need), keeps it with undo and redo, and sets ``notes`` back. An edit it refuses is undone
in the page, and ``message`` says why.

Two modes (``mode``):

- ``"select"``: drag a rectangle over the roll to select whole bars and the voices whose notes it covers; click a
  voice's name in the legend to add or remove it. ``selection`` holds ``{"bars": [start, stop], "voices": [...]}``
  (bars as :func:`musewidgets.sampling.infill.bar_mask` counts them: 0 is the first full bar, -1 the pickup; stop
  excluded).
- ``"edit"``: click an empty place to add a note (the default length, in the voice chosen in the legend); click a
  note to select it; Delete or Backspace (or the toolbar's delete) removes it; drag a note to move it, drag its right
  edge to lengthen or shorten it, all snapped to the grid. Undo and redo: the toolbar or Ctrl+Z / Ctrl+Shift+Z.

In the Workbench the editor is the take's only piano roll: it fits the width of its box (bars narrow as a take grows),
shows the piece being sampled (``pending``: no edits until the take is made), rings the voice-leading faults that
Analyse finds (``marks``), and, linked to the take's player (``link``, shared with a
:class:`~musewidgets.widgets.player.TakeView`), draws the playhead; a click on a bar number moves the sound there.

Python side: :meth:`RollEditor.show` a piece, :meth:`RollEditor.edit` (what a message from the page does),
:meth:`RollEditor.undo`, :meth:`RollEditor.redo`, :attr:`RollEditor.piece` (the piece as edited),
:meth:`RollEditor.select` and :attr:`RollEditor.bars` / :attr:`RollEditor.voices`. ``on_change(callback)`` calls
``callback(piece)`` after every accepted edit, undo and redo.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import anywidget
import traitlets as t

from ..errors import MusewidgetsError
from ..piece import Note, Piece, pitch_name

__all__ = ["RollEditor"]

_STATIC = pathlib.Path(__file__).parent / "static"
MODES = ("select", "edit")
MAX_UNDO = 200  # edits kept for undo


def _colours() -> tuple[str, ...]:
    from ..plotting import PART_COLORS  # the PNG roll's colours, so that a voice looks the same in both

    return PART_COLORS


class RollEditor(anywidget.AnyWidget):
    """A piano roll to select bars and voices (``mode="select"``) or to add, delete, move and lengthen notes
    (``mode="edit"``), with undo and redo. See the module docstring.

    Attributes
    ----------
    notes : list of [voice, pitch, start, duration]
        The notes on show (Python's truth; the page draws them).
    grid : dict
        ``steps``, ``steps_per_bar``, ``beat``, ``pickup``, ``low``, ``high`` (pitches shown), ``length`` (default
        length of a new note, in steps), ``voices`` (``[{"name", "color"}, ...]``).
    mode : {'select', 'edit'}
    selection : dict
        ``{"bars": [start, stop], "voices": [v, ...]}``, or ``{}`` for none.
    voice : int
        The voice new notes go into (chosen in the legend in edit mode).
    message : str
        A word for the user (a refused edit says why); the page shows it under the roll.
    ack : int
        The number of the last edit from the page that Python has answered (the page draws ``notes`` again once
        every edit it sent has an answer).
    can_undo, can_redo : bool
    marks : list of [step, pitch]
        Notes to ring in red (voice-leading faults; empty: none).
    pending : bool
        The roll shows a piece still being made (:meth:`show_progress`): it cannot be edited yet.
    link : str
        A name shared with the TakeView that plays the piece: the page draws its playhead here (empty: none).
    """

    _esm = (_STATIC / "editor.js").read_text(encoding="utf-8")
    _css = (_STATIC / "editor.css").read_text(encoding="utf-8")

    notes = t.List().tag(sync=True)
    grid = t.Dict().tag(sync=True)
    mode = t.Unicode("select").tag(sync=True)
    selection = t.Dict().tag(sync=True)
    voice = t.Int(0).tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    ack = t.Int(0).tag(sync=True)
    can_undo = t.Bool(False).tag(sync=True)
    can_redo = t.Bool(False).tag(sync=True)
    marks = t.List().tag(sync=True)
    pending = t.Bool(False).tag(sync=True)
    link = t.Unicode("").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._piece: Piece | None = None
        self._undo: list[Piece] = []
        self._redo: list[Piece] = []
        self._callbacks: list[Callable[[Piece], None]] = []
        self.on_msg(self._on_message)
        self.add_class("mw-editor-widget")

    @t.validate("mode")
    def _check_mode(self, proposal):
        if proposal["value"] not in MODES:
            raise MusewidgetsError(f"`mode` must be 'select' or 'edit', got {proposal['value']!r}")
        return proposal["value"]

    @t.observe("mode")
    def _on_mode(self, change) -> None:
        """Edit mode clears the selection: what is highlighted is what Regenerate would rewrite, and edits change it."""
        if change["new"] == "edit":
            self.selection = {}

    # ------------------------------------------------------------------ showing
    @property
    def piece(self) -> Piece | None:
        """The piece as edited (None: nothing shown)."""
        return self._piece

    def show(self, piece: Piece | None, *, marks=()) -> None:
        """Show ``piece`` (None: nothing) with ``marks`` ((step, pitch) pairs) ringed; the undo history starts afresh.
        The selection stays where it fits the new piece (Regenerate again with another seed), else it is cleared.
        Showing the piece already shown (the same object) changes only the marks, so that the take an edit made keeps
        its undo history."""
        self._show(piece, marks, pending=False)

    def show_progress(self, piece: Piece | None) -> None:
        """Show a piece still being made (the bars sampled so far): ``pending``, so no edit is taken until
        :meth:`show` shows the take."""
        self._show(piece, (), pending=True)

    def _show(self, piece: Piece | None, marks, pending: bool) -> None:
        marks = [[int(s), int(p)] for s, p in marks]
        if piece is self._piece and piece is not None and pending == self.pending:
            self.marks = marks
            return
        kept = self.selection
        self._piece = piece
        self._undo, self._redo = [], []
        with self.hold_sync():
            self.grid = {} if piece is None else _grid(piece)
            self.notes = [] if piece is None else _rows(piece)
            self.marks = marks
            self.pending = pending
            try:
                self.selection = kept if piece is not None else {}
            except MusewidgetsError:
                self.selection = {}
            self.voice = min(self.voice, max(0, len(piece.parts) - 1)) if piece is not None else 0
            self.message = ""
            self._set_undo_flags()

    def on_change(self, callback: Callable[[Piece], None]) -> None:
        """Call ``callback(piece)`` after every accepted edit, undo and redo."""
        self._callbacks.append(callback)

    # ------------------------------------------------------------------ selection
    def select(self, bars: tuple[int, int] | None, voices: Sequence[int] | None = None) -> None:
        """Select bars ``start .. stop - 1`` of ``voices`` (default all); ``bars=None`` clears the selection.

        Raises :class:`~musewidgets.errors.MusewidgetsError` when they do not fit the piece.
        """
        if bars is None:
            self.selection = {}
            return
        self.selection = self._checked_selection({"bars": list(bars), "voices": voices})

    @property
    def bars(self) -> tuple[int, int] | None:
        """The selected bars (start, stop), or None."""
        bars = self.selection.get("bars")
        return None if not bars else (int(bars[0]), int(bars[1]))

    @property
    def voices(self) -> list[int]:
        """The selected voices (all of them when the selection names none)."""
        if self._piece is None:
            return []
        chosen = self.selection.get("voices") or range(len(self._piece.parts))
        return sorted({int(v) for v in chosen})

    @t.validate("selection")
    def _validate_selection(self, proposal):
        value = proposal["value"]
        return {} if not value or not value.get("bars") else self._checked_selection(value)

    def _checked_selection(self, value: dict) -> dict:
        piece = self._piece
        if piece is None:
            raise MusewidgetsError("nothing on the roll to select")
        bars, voices = value.get("bars"), value.get("voices")
        first = -1 if piece.pickup else 0
        ok = isinstance(bars, (list, tuple)) and len(bars) == 2 and all(isinstance(b, int) for b in bars)
        if not ok or not first <= bars[0] < bars[1] <= piece.n_bars:
            raise MusewidgetsError(
                f"the selected bars must be [start, stop] with {first} <= start < stop <= {piece.n_bars}, got {bars!r}"
            )
        V = len(piece.parts)
        voices = list(range(V)) if voices is None else sorted({int(v) for v in voices})
        if any(not 0 <= v < V for v in voices):
            raise MusewidgetsError(f"the selected voices must be from 0 to {V - 1}, got {voices!r}")
        return {"bars": [int(bars[0]), int(bars[1])], "voices": voices}

    def describe_selection(self) -> str:
        """'bars 3-4 Alto, Tenor' (bars counted from 1, as printed; the pickup is 'pickup'), or ''."""
        if self.bars is None or self._piece is None:
            return ""
        names = [self._piece.parts[v].name for v in self.voices]
        return f"{bars_words(self.bars)} {', '.join(names)}"

    # ------------------------------------------------------------------ editing
    def edit(self, old: Sequence[int] | None = None, new: Sequence[int] | None = None) -> Piece:
        """Replace the note ``old`` by ``new`` (each ``[voice, pitch, start, duration]``): ``old=None`` adds ``new``,
        ``new=None`` deletes ``old``, both move or lengthen it (in the same voice). Returns the new piece.

        Raises
        ------
        MusewidgetsError
            Naming the problem: no piece shown, no such note, a pitch outside 0-127, a note outside the piece, or
            one that overlaps another note of its voice (each voice sings one note at a time). Nothing changes.
        """
        piece = self._piece
        if piece is None:
            raise MusewidgetsError("nothing on the roll to edit")
        if self.pending:
            raise MusewidgetsError("the take is still being made: edit it once it is done")
        if old is None and new is None:
            raise MusewidgetsError("an edit needs a note to add, delete or change")
        parts = list(piece.parts)
        o = self._row(old, "old") if old is not None else None
        n = self._row(new, "new") if new is not None else None
        if o is not None and n is not None and o[0] != n[0]:
            raise MusewidgetsError("a note stays in its voice: delete it and add it to the other voice")
        voice = (o or n)[0]
        notes = list(parts[voice].notes)
        velocity = 80
        if o is not None:
            found = next((x for x in notes if (x.pitch, x.start, x.duration) == tuple(o[1:])), None)
            if found is None:
                raise MusewidgetsError(
                    f"the {parts[voice].name} has no such {pitch_name(o[1])} in {_bar_words(piece, o[2])} "
                    "(the roll was out of date; it is drawn again)"
                )
            notes.remove(found)
            velocity = found.velocity
        if n is not None:
            _, pitch, start, duration = n
            end = piece.bar_start(piece.n_bars) if piece.n_bars else piece.end
            if start + duration > max(end, 1):
                raise MusewidgetsError(
                    f"the note would run past the end of the piece ({_bar_words(piece, max(end, 1) - 1)}): "
                    "shorten it or move it earlier"
                )
            clash = next((x for x in notes if x.start < start + duration and start < x.end), None)
            if clash is not None:
                raise MusewidgetsError(
                    f"the {parts[voice].name} already sings {pitch_name(clash.pitch)} there "
                    f"({_bar_words(piece, clash.start)}); a voice sings one note at a time: move or shorten that note "
                    "first"
                )
            notes.append(Note(pitch, start, duration, velocity))
        parts[voice] = parts[voice].__class__(
            parts[voice].name, tuple(notes), program=parts[voice].program, range=parts[voice].range
        )
        edited = piece.replace(parts=tuple(parts))
        self._undo = [*self._undo[-(MAX_UNDO - 1) :], piece]
        self._redo = []
        self._set_piece(edited)
        return edited

    def undo(self) -> Piece | None:
        """Take back the last edit; the piece (None when there is nothing to undo)."""
        return self._step(self._undo, self._redo)

    def redo(self) -> Piece | None:
        """Make the last undone edit again; the piece (None when there is nothing to redo)."""
        return self._step(self._redo, self._undo)

    def _step(self, back: list[Piece], forth: list[Piece]) -> Piece | None:
        """Show the last piece of ``back`` (taken off it), keeping the piece shown till now on ``forth``."""
        if not back:
            return None
        forth.append(self._piece)
        self.message = ""  # a warning about the edit taken back goes with it
        self._set_piece(back.pop())
        return self._piece

    def _row(self, row, name: str) -> tuple[int, int, int, int]:
        ok = isinstance(row, (list, tuple)) and len(row) == 4
        ok = ok and all(isinstance(x, int) and not isinstance(x, bool) for x in row)
        if not ok:
            raise MusewidgetsError(f"`{name}` must be [voice, pitch, start, duration] of whole numbers, got {row!r}")
        voice, pitch, start, duration = row
        V = len(self._piece.parts)
        if not 0 <= voice < V:
            raise MusewidgetsError(f"there is no voice {voice}: the piece has {V} (0 to {V - 1})")
        if not 0 <= pitch <= 127:
            raise MusewidgetsError(f"pitch {pitch} is outside the MIDI range 0-127")
        if start < 0 or duration < 1:
            raise MusewidgetsError(f"a note starts at step 0 or later and lasts 1 step or more, got {row!r}")
        return voice, pitch, start, duration

    def _set_piece(self, piece: Piece) -> None:
        self._piece = piece
        with self.hold_sync():
            self.notes = _rows(piece)
            self.marks = []  # the faults found were those of the piece before the edit
            self._set_undo_flags()
        for callback in self._callbacks:
            callback(piece)

    def _set_undo_flags(self) -> None:
        self.can_undo, self.can_redo = bool(self._undo), bool(self._redo)

    # ------------------------------------------------------------------ messages from the page
    def _on_message(self, widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        kind, seq = content.get("type"), content.get("seq")
        try:
            if kind == "edit":
                self.edit(content.get("old"), content.get("new"))
                self.message = ""
            elif kind == "undo":
                self.message = "" if self.undo() is not None else "nothing to undo"
            elif kind == "redo":
                self.message = "" if self.redo() is not None else "nothing to redo"
        except Exception as err:  # refused: the page draws the notes as they are
            self.message = f"⚠ {err}" if isinstance(err, MusewidgetsError) else f"⚠ the edit failed: {err}"
        finally:
            if isinstance(seq, int):
                with self.hold_sync():
                    self.notes = [] if self._piece is None else _rows(self._piece)
                    self.ack = seq


def _rows(piece: Piece) -> list[list[int]]:
    return [[v, n.pitch, n.start, n.duration] for v, part in enumerate(piece.parts) for n in part.notes]


def _grid(piece: Piece) -> dict:
    """What the page needs to draw ``piece``'s roll (see :attr:`RollEditor.grid`)."""
    colours = _colours()
    spans = [p.pitch_span() for p in piece.parts if p.notes] + [p.range for p in piece.parts if p.range]
    low = min((s[0] for s in spans), default=55)
    high = max((s[1] for s in spans), default=79)
    low, high = max(0, low - 2), min(127, high + 2)
    if high - low < 24:  # at least two octaves
        pad = (24 - (high - low)) // 2 + 1
        low, high = max(0, low - pad), min(127, high + pad)
    num, den = piece.time_signature
    beat = piece.steps_per_bar // num
    steps = piece.bar_start(piece.n_bars) if piece.n_bars else max(piece.end, piece.steps_per_bar)
    return {
        "steps": int(steps),
        "steps_per_bar": piece.steps_per_bar,
        "beat": int(beat),
        "pickup": piece.pickup,
        "low": int(low),
        "high": int(high),
        "length": int(beat),
        "voices": [{"name": p.name, "color": colours[i % len(colours)]} for i, p in enumerate(piece.parts)],
    }


def bar_number(piece: Piece, step: int) -> str:
    """The printed number of the bar that holds ``step`` ('pickup' before the first bar line)."""
    return "pickup" if step < piece.pickup else str((step - piece.pickup) // piece.steps_per_bar + 1)


def _bar_words(piece: Piece, step: int) -> str:
    """'bar 3', or 'the pickup', for the bar that holds ``step``."""
    number = bar_number(piece, step)
    return "the pickup" if number == "pickup" else f"bar {number}"


def bars_words(bars: tuple[int, int] | list[int]) -> str:
    """'bars 3-4', 'bar 3' or 'pickup-bar 2' for bars (start, stop) counted as
    :func:`musewidgets.sampling.infill.bar_mask` counts them (0 is printed bar 1; -1 the pickup)."""
    start, stop = int(bars[0]), int(bars[1])
    first = "pickup" if start == -1 else str(start + 1)
    last = "pickup" if stop - 1 == -1 else str(stop)
    if first == last:
        return "the pickup" if first == "pickup" else f"bar {first}"
    return f"bars {first}-{last}"
