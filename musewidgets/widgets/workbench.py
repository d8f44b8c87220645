"""The Workbench: pick, tweak, generate, see, hear, compare and keep takes, in one widget.

A thin composition of small parts, each holding its widgets; this module lays them out and wires them together:

- :class:`~.generate.GeneratePanel` (``Workbench.generation``): the :class:`SamplerControls`, Generate, Continue and
  Copy settings;
- :class:`~.compose.ComposePanel` (``Workbench.compose``): Select / Edit on the roll editor, Regenerate, Open file and
  Harmonize with the infill model, and the hand edits;
- :class:`~.stage.Stage` (``Workbench.stage``): every view of the selected take: the roll editor (its one piano roll,
  fitted to the width, with a playhead that follows the sound), :class:`TakeView` (audio player and engraved score),
  the download links, the analysis panel and the compare area;
- :class:`~.jobs.Jobs` (``Workbench.jobs``): the background thread that runs Generate, Continue, Regenerate and
  Harmonize, so that Stop stays clickable, with the progress bar under the buttons;
- :class:`~.history.History` (``Workbench.history``): the session every take is saved into (and the earlier ones to
  restore), and the listener's taste, which Like / Dislike teach;
- :class:`TakeList` and the :class:`~.status.StatusLine`, where every callback reports failures in plain words; a
  failed generation leaves the history and every control as they were.

Every widget and setting of a part is also an attribute of the Workbench under its own name (``wb.controls``,
``wb.view``, ``wb.stop_button``, ``wb.taste``, ``wb.render_delay`` ...), read and set on the part.
"""

from __future__ import annotations

import ipywidgets as w

from ..errors import MusewidgetsError
from .compose import ComposePanel
from .generate import GeneratePanel, choose_model
from .history import History
from .jobs import Jobs
from .stage import Stage
from .status import StatusLine
from .takes import Take, TakeList, download_name

__all__ = ["Workbench"]

_VISIBLE = {"overflow": "visible"}  # boxes scroll by default (overflow: auto): only the score may scroll
_CSS = """<style>
.mw-downloads a { color: var(--jp-content-link-color, #1a73e8); text-decoration: underline; cursor: pointer; }
.mw-downloads a:hover { text-decoration: none; }
</style>"""


class _Part:
    """An attribute of the Workbench that lives on one of its parts: read and set there."""

    def __init__(self, part: str, name: str | None = None):
        self.part, self.name = part, name

    def __set_name__(self, owner, name: str) -> None:
        self.name = self.name or name

    def __get__(self, obj, owner=None):
        return self if obj is None else getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj, value) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class Workbench(w.VBox):
    """Compose with the shipped models in a notebook.

    Parameters
    ----------
    model : {'lstm', 'transformer', 'rnn', 'gan'} or path, default 'lstm'
        A shipped model, or a checkpoint file of your own (``musewidgets train``), which joins the model menu. It
        is loaded safely (weights only: a checkpoint can never run code); a damaged or foreign file raises
        :class:`~musewidgets.errors.CheckpointError` before anything is built.
    style : str, optional
        Default ``'chorale'``, or the first style of a model of your own that does not know it. A model trained on
        your own music (``musewidgets train --data FOLDER``) adds its style to the style menu.
    taste_file : str or Path, optional
        JSON file that keeps the listener's taste (likes and dislikes) across sessions: read if it exists, written
        after every rating and reset.
    session : str, Path, None or False, default None
        Where every take is saved as it is made (MIDI, settings and notes; stars, ratings and the selection follow):
        ``None`` starts a new dated folder under :func:`~musewidgets.session.sessions_root`, whose takes
        :meth:`restore` (or the Restore button) brings back after a kernel restart; a name (``"lesson-3"``, kept
        under the same root) or a path continues that session, its takes shown at once; ``False`` keeps takes in
        memory only.

    Examples
    --------
    >>> wb = Workbench(style="folk")        # doctest: +SKIP
    >>> wb                                  # doctest: +SKIP  (shows it)
    >>> take = wb.generate()                # doctest: +SKIP  (what the Generate button does)
    """

    # the sampler controls and the buttons that use them
    controls = _Part("generation")
    generate_button = _Part("generation")
    continue_button = _Part("generation")
    copy_button = _Part("generation")
    # the background jobs
    progress = _Part("jobs")
    progress_label = _Part("jobs")
    progress_box = _Part("jobs")
    stop_button = _Part("jobs")
    # the views of the selected take
    view = _Part("stage")
    editor = _Part("stage")
    downloads = _Part("stage")
    compare_area = _Part("stage")
    analyse_button = _Part("stage")
    analysis = _Part("stage")
    # the session and the taste
    session = _Part("history")
    taste = _Part("history")
    taste_file = _Part("history")
    reset_taste_button = _Part("history")
    sessions_menu = _Part("history")
    restore_button = _Part("history")
    session_label = _Part("history")
    # composing by filling in and by hand
    mode = _Part("compose")
    regenerate_button = _Part("compose")
    open_file = _Part("compose")
    melody_source = _Part("compose")
    harmonize_style = _Part("compose")
    harmonize_button = _Part("compose")
    abc_text = _Part("compose")
    infill_rounds = _Part("compose")  # Gibbs rounds of Regenerate and Harmonize (None: the model's default)
    render_delay = _Part("compose")  # seconds after the last hand edit before the sound and the score follow

    def __init__(self, model: str = "lstm", style: str | None = None, *, taste_file=None, session=None):
        model, style, styles, own = choose_model(model, style)  # an unknown model or style fails here
        self.status = StatusLine()
        self.take_list = TakeList(layout=w.Layout(width="100%", **_VISIBLE))
        self.stage = Stage(self.take_list, self.status)
        self.jobs = Jobs(self.status, after=self.stage.sync)  # after a job, the views show the selected take
        self.history = History(self.take_list, self.status, self.jobs, taste_file=taste_file, session=session)
        parts = {"take_list": self.take_list, "status": self.status, "jobs": self.jobs, "stage": self.stage}
        self.generation = GeneratePanel(model, style, styles, own, history=self.history, **parts)
        self.compose = ComposePanel(self.controls, history=self.history, **parts)
        self.download_button = w.Button(description="Download…", icon="download")
        self._layout()
        self._wire()
        self.generation.on_model()
        self.generation.on_style()
        self.status.say("Pick a style and press <b>Generate</b>.")
        if session not in (None, False) and any(self.session.folder.glob("take-*.json")):  # a named session continues
            self.restore(self.session.folder)
        self.history.list_sessions()

    def _layout(self) -> None:
        """Controls, buttons, progress and status on the left; the take on the right (the roll editor with Select /
        Edit and Regenerate above it, then the player and the score, then Harmonize and Analyse); takes below.

        Nothing scrolls sideways: the right column may shrink below the score's width (``min_width: 0``); the roll
        fits the column's width, and the score, at most 100 % wide, shrinks to it and grows downwards with its
        systems.
        """
        self.status.add_class("mw-status")  # class names for browser tests and the page's CSS
        self.progress_box.add_class("mw-progress")
        self.downloads.add_class("mw-downloads")
        buttons = w.VBox(
            [
                w.HBox([self.generate_button, self.stop_button], layout=w.Layout(**_VISIBLE)),
                w.HBox([self.continue_button], layout=w.Layout(**_VISIBLE)),
                self.controls.continue_bars,
                self.progress_box,
                self.status,
            ],
            layout=w.Layout(**_VISIBLE),
        )
        left = w.VBox([self.controls, buttons], layout=w.Layout(width="380px", min_width="380px", **_VISIBLE))
        row = {"flex_flow": "row wrap", "align_items": "center", **_VISIBLE}
        roll = w.VBox(
            [w.HBox([self.mode, self.regenerate_button, self.open_file], layout=w.Layout(**row)), self.editor],
            layout=w.Layout(min_width="0", **_VISIBLE),
        )
        roll.add_class("mw-compose")
        harmonize = w.VBox(
            [
                w.HBox([self.melody_source, self.harmonize_style, self.harmonize_button], layout=w.Layout(**row)),
                self.abc_text,
            ],
            layout=w.Layout(min_width="0", **_VISIBLE),
        )
        right = w.VBox(
            [roll, self.view, harmonize, self.analyse_button, self.analysis],
            layout=w.Layout(flex="1 1 0%", min_width="0", **_VISIBLE),
        )
        history = w.VBox(
            [
                self.take_list,
                w.HBox([self.copy_button, self.download_button, self.reset_taste_button], layout=w.Layout(**_VISIBLE)),
                self.downloads,
                w.HBox([self.sessions_menu, self.restore_button], layout=w.Layout(**_VISIBLE)),
                self.session_label,
            ],
            layout=w.Layout(**_VISIBLE),
        )
        css = w.HTML(_CSS, layout=w.Layout(display="none"))
        main = w.HBox([left, right], layout=w.Layout(width="100%", **_VISIBLE))
        super().__init__([css, main, history, self.compare_area], layout=w.Layout(**_VISIBLE))
        self.add_class("mw-workbench")

    def _wire(self) -> None:
        """The parts wire their own widgets; here the takes and the jobs drive them all."""
        guard, takes = self.status.guard, self.take_list
        self.download_button.on_click(guard(lambda _: self._show_downloads()))
        takes.like_button.on_click(guard(lambda _: self.rate(1)))
        takes.dislike_button.on_click(guard(lambda _: self.rate(-1)))
        takes.observe(guard(lambda _: self.history.autosave()), names=["takes", "selected"])
        takes.observe(guard(self._on_select), names="selected")
        takes.observe(guard(lambda _: self.stage.refresh_compare()), names="takes")
        takes.select.observe(guard(lambda _: self.stage.refresh_labels()), names="options")  # e.g. a star
        takes.select.observe(guard(lambda _: self.history.autosave()), names="options")
        takes.compare_with.observe(guard(self.stage.on_compare), names="value")
        self.jobs.observe(self._on_busy, names="busy")

    def _on_select(self, change) -> None:
        self.compose.on_select(change)
        self.stage.on_select()

    def _on_busy(self, change) -> None:
        """While a job runs, the roll follows it (until a take is selected)."""
        self.stage.follows = change["new"]

    def _show_downloads(self) -> None:
        take = self.current
        if take is None:
            raise MusewidgetsError("no take selected")
        self.downloads.show(take.piece, name=download_name(take))  # chorale-lstm-seed1416484900-take12.mid

    # ------------------------------------------------------------------ Python API
    @property
    def takes(self) -> list[Take]:
        """The history, oldest first."""
        return list(self.take_list.takes)

    @property
    def current(self) -> Take | None:
        """The selected take."""
        return self.take_list.current

    def generate(self) -> Take:
        """Do what the Generate button does and return the new (first) take; raises on bad settings."""
        return self.generation.generate()

    def continue_take(self) -> Take:
        """Extend the selected take by ``controls.continue_bars`` bars (a new take; the old one stays).

        Raises ``MusewidgetsError`` for the GAN, which cannot continue music.
        """
        return self.generation.generate(continue_take=True)

    def copy_settings(self, take: Take | None = None) -> None:
        """Set the controls to a take's settings (and lock its seed), so Generate replays it exactly."""
        self.generation.copy_settings(take)

    def rate(self, rating: int) -> Take:
        """Like (+1) or dislike (-1) the selected take: the taste model learns from it (and is saved, with a
        ``taste_file``). Every press is one more rating."""
        return self.history.rate(rating)

    def reset_taste(self) -> None:
        """Forget every like and dislike (and save the empty taste, with a ``taste_file``)."""
        self.history.reset_taste()

    def restore(self, session=None) -> list[Take]:
        """Bring back the takes of a saved session (the latest earlier one by default; else a name, path or
        :class:`~musewidgets.session.Session`), with their stars, ratings and the selection; returns them.

        The restored takes come before the takes made since, and this Workbench goes on saving into the restored
        session (the takes made since are saved there too, and the new, now needless folder is removed). A damaged
        take file is skipped and named in the status line. Raises ``MusewidgetsError`` when there is nothing to
        restore.
        """
        return self.history.restore(session)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a generation started by a button to finish (for scripts and tests)."""
        self.jobs.wait(timeout)

    def regenerate(self, bars: tuple[int, int] | None = None, voices=None) -> Take:
        """Do what the Regenerate button does (bars and voices selected on the roll, or these) and return the new take;
        raises on bad settings or a take the infill model cannot take."""
        return self.compose.regenerate(bars, voices)

    def harmonize(self, abc: str | None = None, *, source: str | None = None, style: str | None = None) -> Take:
        """Do what the Harmonize button does and return the new take: ``abc`` (typed into the box), or with
        ``source="take"`` the selected take's top voice; ``style`` one of the infill model's styles."""
        return self.compose.harmonize(abc, source=source, style=style)
