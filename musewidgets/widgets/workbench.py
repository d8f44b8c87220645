"""The Workbench: pick, tweak, generate, see, hear, compare and keep takes, in one widget.

A thin composition of :class:`SamplerControls`, :class:`TakeView` (``Workbench.view``: piano roll, audio player and
engraved score of a take, with a playhead that follows the sound), :class:`TakeList` and :class:`DownloadLinks`.
Generate runs in a background thread so that Stop stays clickable; a progress bar under the buttons counts the bars,
and the piano roll is redrawn as they arrive; then the score and the sound follow. Every callback reports failures in
the status line under the buttons in plain words; a failed generation leaves the history and every control as they
were. "compare with" shows the selected take beside another, each in a small TakeView (roll and sound, no score).

Listening: "Analyse" opens :class:`AnalysisPanel` under the view for the take on show (style, mood, metrics beside
real music, voice-leading faults ringed on the roll, similar corpus pieces); it is computed only while open, so
Generate stays instant. Like / Dislike on a take teach :attr:`Workbench.taste` (a
:class:`~musewidgets.analysis.taste.TasteModel`), which orders the candidates of the next generations best-liked
first; with ``taste_file`` the taste is loaded from and saved to that JSON file after every rating.

One take drives the view: the selected one (``TakeList.selected``). Every view update goes through
:meth:`Workbench._show` (roll, sound, score and caption of a take) or :meth:`Workbench._draw_progress` (the roll of a
piece being sampled). The caption is the take's label; starring the take changes the label, and only the caption is
updated (nothing is drawn again). Selecting a take while a generation runs shows it at once, and the roll stops
following the sampling; a finished generation selects (and shows) its new take.

Composing by filling in (:mod:`musewidgets.sampling.infill`): under the view, :class:`RollEditor` (``Workbench.editor``) shows
the selected take's roll drawn in the browser. In **Select** mode drag over bars (and click voice names) and press
**Regenerate**: the infill model writes those bars of those voices anew (seed and temperature from the controls;
progress and Stop as for Generate) and nothing else changes, bit for bit. In **Edit** mode click to add, delete, move
or lengthen notes, with undo and redo: the first edit of a take makes a new take (its ``parent`` recorded), later
edits change that same take until another take is selected, so the take edited is never lost; the sound and the score
follow a moment after the last edit. **Harmonize** writes alto, tenor and bass under a melody: ABC typed in the box,
or the top voice of the selected take (a file opened with **Open file** becomes a take). A take the infill model
cannot take (a style it does not know, another number of voices) is refused in the status line, naming why.
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import ipywidgets as w

from ..errors import MusewidgetsError
from .analysis import AnalysisPanel, fault_marks
from .controls import SamplerControls
from .editor import RollEditor, bars_words
from .player import TakeView
from .takes import Take, TakeList
from .views import DownloadLinks

__all__ = ["Workbench"]

GAN_NOT_STRICT = "the GAN draws each bar's cells together: it cannot refuse a fault note by note"
CONTINUE_TIP = "extend the selected take by the bars below"
NO_CONTROLS = "this model was trained without key and ending control"
INFILL_MODEL = "infill"  # the shipped infill model: Regenerate and Harmonize
REGENERATE_TIP = "write the bars and voices selected on the roll anew with the infill model; nothing else changes"
HARMONIZE_TIP = "write the lower voices under a melody with the infill model"
ABC_PLACEHOLDER = "a melody in ABC, e.g.\nX:1\nM:4/4\nL:1/4\nK:G\nG A B G | c B A2 | B c d B | A G G2 |]"
_INFILL: dict = {}  # name -> checkpoint, loaded once per process
_PARTIAL = -1  # _shown_take_id while the roll shows a piece being sampled
_VISIBLE = {"overflow": "visible"}  # boxes scroll by default (overflow: auto): only the score may scroll
_COMPARE_ROLL = {"roll_width": 5.5, "roll_height": 2.6}  # inches: two rolls side by side
_CSS = """<style>
.mw-downloads a { color: var(--jp-content-link-color, #1a73e8); text-decoration: underline; cursor: pointer; }
.mw-downloads a:hover { text-decoration: none; }
</style>"""


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

    def __init__(self, model: str = "lstm", style: str | None = None, *, taste_file=None, session=None):
        from ..analysis.taste import FEATURE_NAMES, TasteModel
        from ..datasets.corpus import get_style, styles
        from ..errors import UnknownStyleError
        from ..session import Session
        from .controls import MODELS

        self._samplers: dict = {}
        own = model not in MODELS
        menu = [s.name for s in styles()]  # the corpus styles, and those of a model trained on your own music
        if own:
            from ..sampling.sampler import load_sampler

            sampler = load_sampler(model)  # a damaged or untrusted checkpoint fails here too
            model = str(sampler.checkpoint.path)
            self._samplers[model] = sampler
            menu += [s for s in sampler.styles if s not in menu]
            if style is None and "chorale" not in sampler.styles:
                style = next(iter(sampler.styles))
        style = "chorale" if style is None else style
        if style not in menu:
            get_style(style)  # an unknown style fails here, before anything is built, naming the known ones
        if own and style not in sampler.styles:
            raise UnknownStyleError(
                f"{Path(model).name} does not know the style {style!r}; it knows: {', '.join(sampler.styles)}"
            )
        self.taste_file = None if taste_file is None else Path(taste_file)
        self.taste = TasteModel(FEATURE_NAMES)
        if self.taste_file is not None and self.taste_file.exists():
            try:
                self.taste = TasteModel.from_dict(json.loads(self.taste_file.read_text()))
            except ValueError as err:  # a damaged file is reported, never silently replaced
                raise MusewidgetsError(f"{self.taste_file}: not a saved taste ({err})") from err
        self.controls = SamplerControls(model="lstm" if own else model, style=style, styles=menu)
        if own:
            label = f"{Path(model).name} ({sampler.family})"
            self.controls.model.options = [(m, m) for m in MODELS] + [(label, model)]
            self.controls.model.value = model
        self.view = TakeView(layout=w.Layout(min_width="0", **_VISIBLE))  # the selected take: roll, sound, score
        self.take_list = TakeList(layout=w.Layout(width="100%", **_VISIBLE))
        self.downloads = DownloadLinks()
        self.compare_area = w.HBox(layout=w.Layout(**_VISIBLE))
        self.status = w.HTML(layout=w.Layout(min_height="1.5em", width="100%"))
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="200px"))
        self.progress_label = w.Label()
        self.progress_box = w.HBox(
            [self.progress, self.progress_label], layout=w.Layout(display="none", align_items="center", **_VISIBLE)
        )
        self.generate_button = w.Button(description="Generate", button_style="success", icon="music")
        self.continue_button = w.Button(description="Continue", icon="forward", tooltip=CONTINUE_TIP)
        self.stop_button = w.Button(
            description="Stop", icon="stop", disabled=True, tooltip="end the generation; the bars so far are kept"
        )
        self.download_button = w.Button(description="Download…", icon="download")
        self.copy_button = w.Button(
            description="Copy settings", icon="copy", tooltip="set the controls to the selected take's settings"
        )
        self.analyse_button = w.ToggleButton(
            description="Analyse", icon="stethoscope", tooltip="style, mood, metrics, faults and similar pieces"
        )
        self.analysis = AnalysisPanel(layout=w.Layout(display="none", **_VISIBLE))
        self.reset_taste_button = w.Button(
            description="Reset taste", icon="undo", tooltip="forget every like and dislike"
        )
        self.session = None if session is False else Session.new() if session is None else Session.named(session)
        self.sessions_menu = w.Dropdown(
            description="earlier sessions", style={"description_width": "initial"}, layout=w.Layout(width="auto")
        )
        self.restore_button = w.Button(
            description="Restore", icon="history", tooltip="bring back the takes of the session chosen on the left"
        )
        self.session_label = w.HTML()
        self._thread: threading.Thread | None = None
        self._running = threading.Lock()  # held by the generation that runs
        self._stop = threading.Event()
        self._busy = False  # a generation is running
        self._roll_follows = False  # the roll draws the piece being sampled (until a take is selected)
        self._redraw_every = 0.3  # seconds between redraws of the roll while sampling
        self._views = threading.RLock()  # one view update at a time: the generation thread and the user's clicks
        self._shown_take_id: int | None = None  # the take every view shows (None: none; _PARTIAL: being sampled)
        self._compared: tuple | None = None  # (take id, take id) in the compare area
        self._compare_views: list[tuple[Take, TakeView]] = []  # the compare area's views and the takes they show
        self._uploaded = None  # the piece read from the upload widget
        self._uploaded_name: str | None = None
        self._uploaded_tempo: int | None = None  # the uploaded file's tempo, where it gave one
        self._last_error: str | None = None
        self.editor = RollEditor(layout=w.Layout(width="100%", min_width="0", **_VISIBLE))
        self.mode = w.ToggleButtons(
            options=[("Select", "select"), ("Edit", "edit")],
            value="select",
            tooltips=["drag over bars, click voice names: what Regenerate rewrites", "add, move, lengthen, delete"],
            style={"button_width": "70px"},
        )
        self.regenerate_button = w.Button(description="Regenerate", icon="refresh", tooltip=REGENERATE_TIP)
        self.open_file = w.FileUpload(
            accept=".mid,.midi,.musicxml,.xml,.mxl,.abc", multiple=False, description="Open file", icon="folder-open"
        )
        self.melody_source = w.Dropdown(
            options=[("the ABC below", "abc"), ("the selected take's top voice", "take")],
            value="abc",
            description="melody",
            style={"description_width": "initial"},
            layout=w.Layout(width="auto"),
        )
        self.harmonize_style = w.Dropdown(
            description="in the style of", style={"description_width": "initial"}, layout=w.Layout(width="auto")
        )
        self.harmonize_button = w.Button(description="Harmonize", icon="music", tooltip=HARMONIZE_TIP)
        self.abc_text = w.Textarea(placeholder=ABC_PLACEHOLDER, rows=4, layout=w.Layout(width="100%"))
        self.infill_rounds: int | None = None  # Gibbs rounds of Regenerate and Harmonize (None: the model's default)
        self.render_delay = 0.4  # seconds after the last hand edit before the sound and the score follow
        self._draft_id: int | None = None  # the take that hand edits change (made by the first edit of a take)
        self._render_timer: threading.Timer | None = None
        self._infill_problem: str | None = None  # why Regenerate and Harmonize cannot run (no infill model)
        self._layout()

        self.generate_button.on_click(lambda _: self._start(continue_take=False))
        self.continue_button.on_click(lambda _: self._start(continue_take=True))
        self.stop_button.on_click(lambda _: self._stop.set())
        self.copy_button.on_click(self._guard(lambda _: self.copy_settings()))
        self.analyse_button.observe(self._guard(lambda _: self._on_analyse()), names="value")
        self.take_list.like_button.on_click(self._guard(lambda _: self.rate(1)))
        self.take_list.dislike_button.on_click(self._guard(lambda _: self.rate(-1)))
        self.reset_taste_button.on_click(self._guard(lambda _: self.reset_taste()))
        self.download_button.on_click(self._guard(lambda _: self._show_downloads()))
        self.restore_button.on_click(self._guard(lambda _: self.restore(self.sessions_menu.value)))
        self.take_list.observe(self._guard(lambda _: self._autosave()), names=["takes", "selected"])
        self.take_list.observe(self._guard(self._on_select), names="selected")
        self.take_list.observe(self._guard(lambda _: self._refresh_compare()), names="takes")
        self.take_list.select.observe(self._guard(lambda _: self._refresh_labels()), names="options")  # e.g. a star
        self.take_list.select.observe(self._guard(lambda _: self._autosave()), names="options")
        self.take_list.compare_with.observe(self._guard(self._on_compare), names="value")
        self.controls.style.observe(self._guard(lambda _: self._on_style()), names="value")
        self.controls.model.observe(self._guard(lambda _: self._on_model()), names="value")
        self.controls.model.observe(self._guard(lambda _: self._on_style()), names="value")
        self.controls.primer.observe(self._guard(lambda _: self._on_primer()), names="value")
        self.controls.upload.observe(self._guard(lambda _: self._check_upload()), names="value")
        w.link((self.mode, "value"), (self.editor, "mode"))
        self.regenerate_button.on_click(lambda _: self._start_job(self._regenerate))
        self.harmonize_button.on_click(lambda _: self._start_job(self._harmonize))
        self.open_file.observe(self._guard(lambda _: self._open_file()), names="value")
        self.editor.on_change(self._guard(self._on_edit))
        self._init_infill()
        self._on_model()
        self._on_style()
        self._say("Pick a style and press <b>Generate</b>.")
        if session not in (None, False) and any(self.session.folder.glob("take-*.json")):  # a named session continues
            self.restore(self.session.folder)
        self._list_sessions()

    def _layout(self) -> None:
        """Controls, buttons, progress and status on the left; the take view (roll, player, score) on the right; takes
        below.

        Only the score scrolls: the right column may shrink below the score's width (``min_width: 0``), and the
        view's own CSS makes its score, at most 100 % wide and 440 px high, scroll instead of being clipped.
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
        compose = w.VBox(
            [
                w.HBox(
                    [self.mode, self.regenerate_button, self.open_file],
                    layout=w.Layout(flex_flow="row wrap", align_items="center", **_VISIBLE),
                ),
                self.editor,
                w.HBox(
                    [self.melody_source, self.harmonize_style, self.harmonize_button],
                    layout=w.Layout(flex_flow="row wrap", align_items="center", **_VISIBLE),
                ),
                self.abc_text,
            ],
            layout=w.Layout(min_width="0", **_VISIBLE),
        )
        compose.add_class("mw-compose")
        right = w.VBox(
            [self.view, compose, self.analyse_button, self.analysis],
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
        return self._generate(continue_take=False, raise_errors=True)

    def continue_take(self) -> Take:
        """Extend the selected take by ``controls.continue_bars`` bars (a new take; the old one stays).

        Raises ``MusewidgetsError`` for the GAN, which cannot continue music.
        """
        return self._generate(continue_take=True, raise_errors=True)

    def copy_settings(self, take: Take | None = None) -> None:
        """Set the controls to a take's settings (and lock its seed), so Generate replays it exactly."""
        take = take or self.current
        if take is None:
            raise MusewidgetsError("no take selected")
        settings = take.settings
        if settings.get("kind") or not self.controls.offers_model(settings.get("model")):
            # made by hand, by the infill model or from a file: Generate cannot replay it; seed and temperature
            # replay a Regenerate or Harmonize (with the same selection or melody)
            self.controls.apply_seed(settings.get("seed", 0), settings.get("temperature"))
            self._say(
                f"Seed {settings.get('seed', 0)} and temperature locked from take #{take.id} "
                f"({settings.get('kind') or settings.get('model')}): Regenerate or Harmonize with them replays it."
            )
            return
        self.controls.apply(settings)
        self._say(f"Controls set to take #{take.id}; seed {settings['seed']} locked.")

    def rate(self, rating: int) -> Take:
        """Like (+1) or dislike (-1) the selected take: the taste model learns from it (and is saved, with a
        ``taste_file``). Every press is one more rating."""
        if rating not in (-1, 1):
            raise ValueError(f"`rating` must be 1 (like) or -1 (dislike), got {rating!r}")
        take = self.current
        if take is None:
            raise MusewidgetsError("select a take to rate first")
        from ..analysis.taste import piece_features

        self.taste.rate(piece_features(take.piece), liked=rating > 0)
        self.take_list.rate(rating)
        self._save_taste()
        self._say(f"Take #{take.id} {'liked' if rating > 0 else 'disliked'}; {self._taste_words()}")
        return take

    def reset_taste(self) -> None:
        """Forget every like and dislike (and save the empty taste, with a ``taste_file``)."""
        self.taste.reset()
        self._save_taste()
        self._autosave()
        self._say("Taste reset: candidates come in the order they were sampled.")

    def _save_taste(self) -> None:
        if self.taste_file is not None:
            tmp = self.taste_file.with_name(self.taste_file.name + ".tmp")
            tmp.write_text(json.dumps(self.taste.to_dict()))
            tmp.replace(self.taste_file)

    def _taste_words(self) -> str:
        t = self.taste
        liked = ", ".join(f"{'more' if w > 0 else 'less'} {n.replace('_', ' ')}" for n, w in t.explain(2))
        what = f": you seem to like {liked}" if liked else ""
        return f"{t.n_ratings} rating{'s' * (t.n_ratings != 1)} so far{what}. Candidates are ranked by your taste."

    # ------------------------------------------------------------------ the session on disk
    def restore(self, session=None) -> list[Take]:
        """Bring back the takes of a saved session (the latest earlier one by default; else a name, path or
        :class:`~musewidgets.session.Session`), with their stars, ratings and the selection; returns them.

        The restored takes come before the takes made since, and this Workbench goes on saving into the restored
        session (the takes made since are saved there too, and the new, now needless folder is removed). A damaged
        take file is skipped and named in the status line. Raises ``MusewidgetsError`` when there is nothing to
        restore.
        """
        from ..analysis.taste import TasteModel
        from ..session import Session, list_sessions

        if session is None:
            earlier = [s for s in list_sessions() if self.session is None or s.folder != self.session.folder]
            if not earlier:
                raise MusewidgetsError("no earlier session with takes to restore")
            session = earlier[0].folder
        target = session if isinstance(session, Session) else Session.named(session)
        current = self.takes
        takes, selected, taste, problems = target.load(taken={t.id for t in current})
        if not takes:
            raise MusewidgetsError(f"no takes to restore in {target.folder}" + "".join(f"; {p}" for p in problems))
        if taste and not self.taste.n_ratings and self.taste_file is None:
            try:
                self.taste = TasteModel.from_dict(taste)
            except ValueError as err:
                problems.append(f"the saved taste was skipped ({err})")
        old = self.session
        if old is not None:
            self.session = target  # from now on the history is saved there
        self.take_list.takes = [*takes, *current]
        restored = {t.id for t in takes}
        self.take_list.selected = selected if selected in restored else takes[-1].id
        problems += self._save()
        if old is not None and old.folder != target.folder and not problems:
            old.discard()  # its takes are all in the restored session now
        self._list_sessions()
        words = f"Restored {len(takes)} take{'s' * (len(takes) != 1)} from {html.escape(target.folder.name)}."
        self._say(words + "".join(f" ⚠ {html.escape(p)}." for p in problems), error=bool(problems))
        return takes

    def _save(self) -> list[str]:
        """Save what changed in the history; the problems in plain words (nothing is raised)."""
        if self.session is None:
            return []
        return self.session.sync(self.takes, self.take_list.selected, self.taste.to_dict())

    def _autosave(self) -> None:
        """After a star, a rating, a deletion or a selection (a generation saves once its take is made)."""
        if self._busy:
            return
        problems = self._save()
        if problems:
            self._say(f"⚠ Not saved: {html.escape(problems[0])}; your takes stay here until the kernel stops.", True)

    def _list_sessions(self) -> None:
        """The earlier sessions to restore, latest first, and where this one is saved."""
        from ..session import list_sessions

        here = None if self.session is None else self.session.folder
        earlier = [(s.label, s.folder) for s in list_sessions() if s.folder != here]
        options = earlier or [("none saved yet", None)]
        if list(self.sessions_menu.options) != options:
            self.sessions_menu.options = options
        self.restore_button.disabled = not earlier
        where = f"saved as they are made in <code>{html.escape(str(here))}</code>" if here else "kept in memory only"
        self.session_label.value = f"<small>Takes are {where}.</small>"

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a generation started by a button to finish (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ generation
    def _start(self, continue_take: bool) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._say("Still generating: press Stop first.", error=True)
            return
        self._thread = threading.Thread(target=self._generate, args=(continue_take, False), daemon=True)
        self._thread.start()

    def _sampler(self, family: str):
        if family not in self._samplers:
            from ..sampling.sampler import load_sampler

            self._samplers[family] = load_sampler(family)
        return self._samplers[family]

    def _is_gan(self, model: str) -> bool:
        """The GAN draws a bar's cells together: nothing to refuse note by note (no strict voice leading)."""
        return model == "gan" or (model in self._samplers and self._samplers[model].family == "gan")

    def _primer(self, settings: dict):
        kind = settings["primer"]
        if kind == "none":
            return None
        if kind == "corpus":
            from ..datasets.corpus import STYLES, load_style

            if settings["style"] not in STYLES:
                raise MusewidgetsError(f"{settings['style']!r} is your own style: no corpus piece to start from")
            corpus = load_style(settings["style"], progress=False)
            name = settings["primer_piece"].strip()
            try:
                piece = corpus.get(name)
            except KeyError:
                raise MusewidgetsError(f"no piece {name!r} in the {settings['style']} corpus") from None
        else:
            piece = self._uploaded
            if piece is None:
                raise MusewidgetsError("choose a MIDI, MusicXML or ABC file to upload first")
            self._check_parts(piece, self._uploaded_name, settings)
        return piece.slice_bars(0, min(settings["primer_bars"], piece.n_bars)) if piece.n_bars else piece

    def _check_parts(self, piece, name: str, settings: dict) -> None:
        """Raise when a primer's parts do not match the style's voices, naming the styles that would take it."""
        sampler = self._sampler(settings["model"])
        info = sampler.checkpoint.styles.get(settings["style"])
        if info is None or len(piece.parts) == len(info["parts"]):
            return  # an unknown style is the sampler's to report
        n, voices, fits = len(piece.parts), len(info["parts"]), self._styles_for(len(piece.parts))
        takers = f"styles that take {_count(n, 'part')}: {', '.join(fits)}" if fits else "no style takes that"
        raise MusewidgetsError(
            f"{name} has {_count(n, 'part')} but the {settings['style']} style has {_count(voices, 'voice')}; {takers}"
        )

    def _styles_for(self, parts: int) -> list[str]:
        """The styles of the chosen model with ``parts`` voices."""
        sampler = self._sampler(self.controls.model.value)
        return [name for name, info in sampler.checkpoint.styles.items() if len(info["parts"]) == parts]

    def _generate(self, continue_take: bool, raise_errors: bool) -> Take | None:
        return self._job(lambda: self._run(continue_take), raise_errors)

    def _run(self, continue_take: bool) -> Take | None:
        settings = self.controls.settings()
        if continue_take:
            settings, primer, bars = self._continue_settings(settings)
        else:
            settings["seed"] = self.controls.next_seed()  # shown once the take is made: a failure changes nothing
            primer, bars = self._primer(settings), settings["bars"]
            if settings["primer"] == "upload":
                settings["primer_file"] = self._uploaded_name
        sampler = self._sampler(settings["model"])
        t0 = time.perf_counter()
        self._say(f"Generating {bars} bars of {settings['style']} with the {settings['model']}…")
        pieces, made, stopped = self._sample(sampler, settings, primer, bars)
        seconds = time.perf_counter() - t0
        heard = []  # the candidates as the takes will sound, at the tempo and with the instruments chosen
        for piece in pieces:
            parts = tuple(replace(p, program=prog) for p, prog in zip(piece.parts, settings["programs"]))
            heard.append(piece.replace(tempo=float(settings["tempo"]), parts=parts or piece.parts))
        order = self._rank(heard)  # ranked as they are heard and rated (the taste's features include the tempo)
        takes = []
        for i in order:
            extra = {"candidate": i, "stopped": stopped, "bars_made": made}
            takes.append(Take(heard[i], {**settings, **extra}, seconds))
        self._show(takes[0])  # rendered before it joins the history: a failure here leaves the history as it was
        self.take_list.add(*takes)  # selects takes[0], which the views already show
        if not continue_take:
            self.controls.use_seed(settings["seed"])
        total = time.perf_counter() - t0
        note = f" (stopped early, at bar {made} of {bars})" if stopped else ""
        if len(order) > 1 and self.taste.n_ratings:
            note += f"; {len(order)} candidates ranked by your taste, best first"
        problems = self._save()
        if problems:
            note += f". ⚠ Not saved: {html.escape(problems[0])}; the take stays here until the kernel stops"
        self._say(
            f"Take #{takes[0].id}: {takes[0].piece.n_bars} bars, {takes[0].piece.n_notes} notes, "
            f"sampled in {seconds * 1000:.0f} ms, ready to hear in {total * 1000:.0f} ms{note}.",
            error=bool(problems),
        )
        return takes[0]

    def _rank(self, pieces) -> list[int]:
        """Candidate indices, best-liked first by :attr:`taste` (sampling order without ratings or candidates)."""
        if len(pieces) < 2 or not self.taste.n_ratings or any(p.n_notes == 0 for p in pieces):
            return list(range(len(pieces)))
        from ..analysis.taste import piece_features

        return [int(i) for i in self.taste.rank([piece_features(p) for p in pieces])]

    def _continue_settings(self, settings: dict) -> tuple[dict, object, int]:
        """(settings, primer, bars) to extend the selected take by ``continue_bars`` bars."""
        base = self.current
        if base is None:
            raise MusewidgetsError("select a take to continue first")
        bars = int(self.controls.continue_bars.value)
        if base.settings.get("kind") or not self.controls.offers_model(base.settings.get("model")):
            # a take made by hand, by the infill model or from a file: continued by the model chosen now
            base_settings = {k: v for k, v in settings.items() if k not in ("primer", "primer_piece", "primer_bars")}
            settings = {**base_settings, "continue_of": base.id, "continue_bars": bars, "n": 1}
            return settings, base.piece, bars
        settings = {
            **base.settings,
            "seed": settings["seed"],
            "ending": settings["ending"],  # the continuation ends (or not) as the control says now
            "continue_of": base.id,
            "continue_bars": bars,
            "n": 1,
        }
        return settings, base.piece, bars

    def _sample(self, sampler, settings: dict, primer, bars: int) -> tuple[list, int, bool]:
        """Run the sampler: (pieces, new bars made, stopped).

        The progress bar moves on every yield (every bar; the GAN's every phrase); the roll is redrawn at most
        every ``_redraw_every`` seconds. Stop ends the loop and keeps the bars made so far.
        """
        self._set_progress(0, bars)
        self.progress_box.layout.display = ""
        primer_bars = primer.n_bars if primer is not None else 0
        pieces, yields, shown = None, 0, time.perf_counter()  # the first redraw waits: a quick take is drawn once
        for pieces in sampler.iter_generate(
            style=settings["style"],
            bars=bars,
            temperature=settings["temperature"],
            top_k=settings["top_k"],
            top_p=settings["top_p"],
            seed=settings["seed"],
            primer=primer,
            n=settings["n"],
            strict=settings.get("strict", False),
            key=settings.get("key") if sampler.controls else None,
            metre=settings.get("metre"),
            ending=settings.get("ending", True),
        ):
            yields += 1
            made = min(bars, max(yields, pieces[0].n_bars - primer_bars))
            self._set_progress(made, bars)
            if self._stop.is_set():
                return pieces, made, True
            if time.perf_counter() - shown >= self._redraw_every:
                self._draw_progress(pieces[0])
                shown = time.perf_counter()
        return pieces, bars, False

    def _set_progress(self, made: int, bars: int) -> None:
        self.progress.max = bars
        self.progress.value = made
        self.progress_label.value = f"bar {made} of {bars}"

    def _set_buttons(self) -> None:
        """Generate and Continue while idle, Stop while generating."""
        self.generate_button.disabled = self._busy
        self.continue_button.disabled = self._busy
        self.stop_button.disabled = not self._busy
        self.regenerate_button.disabled = self.harmonize_button.disabled = self._busy or bool(self._infill_problem)

    # ------------------------------------------------------------------ views
    def _show(self, take: Take | None) -> None:
        """Show ``take`` (None: nothing) in the view: roll, sound, score and its label; the download links are cleared.

        The take's piece carries the chosen instruments, so the sound needs no ``programs``.
        """
        with self._views:
            self._shown_take_id = _PARTIAL  # until the view shows it all
            if take is None:
                self.view.show(None)
            else:
                self.view.show(take.piece, label=take.label, programs=None, marks=self._analyse(take))
            self.editor.show(None if take is None else take.piece)
            self.downloads.show(None)
            self._shown_take_id = None if take is None else take.id

    def _analyse(self, take: Take | None) -> list:
        """Fill the analysis panel for ``take`` when it is open; the roll marks of its faults (none when closed).

        A failure of the analysis (a damaged classifier file, say) is shown in the panel: the take is still shown,
        heard and kept.
        """
        if not self.analyse_button.value or take is None:
            return []
        try:
            self.analysis.show(take.piece, take.settings.get("style"))
        except Exception as err:
            self.analysis.show_error(f"The analysis failed: {_plain(err)}")
            return []
        return fault_marks(take.piece, self.analysis.faults)

    def _on_analyse(self) -> None:
        """Open: analyse the take on show and ring its faults; closed: hide the panel and redraw a plain roll."""
        on = self.analyse_button.value
        self.analysis.layout.display = "" if on else "none"
        with self._views:
            take = self.current
            if take is None or self._shown_take_id != take.id:
                return
            marks = self._analyse(take)
            if not on:
                self.analysis.show(None)
            self.view.mark(take.piece, marks)

    def _draw_progress(self, piece) -> None:
        """Draw the piece being sampled in the roll, unless a take was selected since the generation started."""
        with self._views:
            if self._roll_follows:
                self._shown_take_id = _PARTIAL
                self.view.show_roll(piece)

    def _sync_views(self) -> None:
        """Show the selected take in the view, unless it shows it already (then only its caption is updated)."""
        with self._views:
            take = self.current
            if self._shown_take_id != (None if take is None else take.id):
                self._show(take)
            else:
                self._refresh_labels()

    def _refresh_labels(self) -> None:
        """Captions name the takes as they are now (starring changes a label); nothing is drawn again."""
        with self._views:
            take = self.current
            if take is not None and self._shown_take_id == take.id:
                self.view.label = take.label
            for shown, view in self._compare_views:
                view.label = shown.label

    def _on_select(self, change) -> None:
        if change["new"] != self._draft_id:
            self._draft_id = None  # another take: the next hand edit makes a new take
        self._roll_follows = False  # a take chosen while sampling is shown; the generation only moves the progress
        self._sync_views()
        self._refresh_compare()

    def _on_compare(self, change) -> None:
        if not self.take_list.refreshing:  # the menu is rebuilt: the takes observer redraws once it is done
            self._refresh_compare()

    def _refresh_compare(self) -> None:
        """Side by side: the selected take and the one chosen under "compare with" (nothing when either is missing)."""
        other = self.take_list.get(self.take_list.compare_with.value)
        current = self.current
        pair = None if other is None or current is None else (current.id, other.id)
        if pair == self._compared:
            return
        old = [view for _, view in self._compare_views]
        self._compared = None
        self._compare_views = []
        if pair is None:
            self.compare_area.children = ()
        else:
            views = []
            for take in (current, other):
                view = TakeView(**_COMPARE_ROLL, score=False, layout=w.Layout(width="50%", min_width="0", **_VISIBLE))
                view.show(take.piece, label=take.label, programs=None)
                views.append((take, view))
            self.compare_area.children = [view for _, view in views]
            self._compare_views = views
            self._compared = pair
        for view in old:  # off the page now; a view never closed stays open, with its sound, until the kernel stops
            view.close()

    def _show_downloads(self) -> None:
        take = self.current
        if take is None:
            raise MusewidgetsError("no take selected")
        self.downloads.show(take.piece, name=f"take{take.id}")

    # ------------------------------------------------------------------ controls
    def _on_model(self) -> None:
        """Strict voice leading is disabled for the GAN, with a tooltip saying why; every model continues music."""
        gan = self._is_gan(self.controls.model.value)
        if gan:
            self.controls.voice_leading.value = False
        self.controls.voice_leading.disabled = gan
        self.controls.voice_leading.tooltip = GAN_NOT_STRICT if gan else None
        self.controls.allow_controls(self._sampler(self.controls.model.value).controls, why=NO_CONTROLS)
        self._set_buttons()

    def _on_style(self) -> None:
        sampler = self._sampler(self.controls.model.value)
        style = self.controls.style.value
        if style not in sampler.styles:
            raise MusewidgetsError(f"the {sampler.family} model does not know the style {style!r}")
        info = sampler.checkpoint.styles[style]
        self.controls.set_parts([(name, program) for name, program, _ in info["parts"]])
        self.controls.set_metres(sampler.metres(style))
        primed = self.controls.primer.value == "upload" and self._uploaded_tempo
        self._set_tempo(self._uploaded_tempo if primed else info["tempo"])
        from ..datasets.corpus import STYLES, load_style

        ids = load_style(style, progress=False).ids[:500] if style in STYLES else ()  # your own: none
        self.controls.primer_piece.options = tuple(ids)

    def _on_primer(self) -> None:
        if self.controls.primer.value == "upload" and self._uploaded_tempo:
            self._set_tempo(self._uploaded_tempo)

    def _set_tempo(self, qpm: float) -> None:
        tempo = self.controls.tempo
        tempo.value = min(tempo.max, max(tempo.min, int(round(qpm))))

    def _check_upload(self) -> None:
        from ..io import read_with_report

        self._uploaded = self._uploaded_name = self._uploaded_tempo = None
        self.controls.upload_name.value = ""
        files = self.controls.upload.value
        if not files:
            return
        f = files[0]
        piece, report = read_with_report(bytes(f["content"]), name=f["name"])
        self._uploaded, self._uploaded_name = piece, f["name"]
        name = html.escape(f["name"])
        self.controls.upload_name.value = f"<span title='{name}'>{name}</span>"
        if report.tempo_found:
            self._uploaded_tempo = int(round(piece.tempo))
            self._set_tempo(piece.tempo)
        tempo = f"tempo {self._uploaded_tempo}" if report.tempo_found else "no tempo in the file"
        if report.tempo_found and self.controls.tempo.value != self._uploaded_tempo:
            tempo += f", played at {self.controls.tempo.value}, the nearest the tempo control offers"
        changed = f" ({report})" if report.changed or report.remarks else ""
        self._say(
            f"Loaded {name}: {_count(len(piece.parts), 'part')}, {piece.n_bars} bars, {tempo}"
            f"{html.escape(changed)}.{self._fit_note(len(piece.parts))}"
        )

    def _fit_note(self, parts: int) -> str:
        """A word for the status line when the chosen style cannot take a primer of ``parts`` parts."""
        sampler = self._sampler(self.controls.model.value)
        info = sampler.checkpoint.styles.get(self.controls.style.value)
        if info is None or len(info["parts"]) == parts:
            return ""
        fits = self._styles_for(parts)
        return f" As a primer it fits {' or '.join(fits)}, not {self.controls.style.value}." if fits else ""

    # ------------------------------------------------------------------ composing by filling in
    def regenerate(self, bars: tuple[int, int] | None = None, voices=None) -> Take:
        """Do what the Regenerate button does (bars and voices selected on the roll, or these) and return the new take;
        raises on bad settings or a take the infill model cannot take."""
        if bars is not None:
            self.editor.select(bars, voices)
        return self._job(self._regenerate, raise_errors=True)

    def harmonize(self, abc: str | None = None, *, source: str | None = None, style: str | None = None) -> Take:
        """Do what the Harmonize button does and return the new take: ``abc`` (typed into the box), or with
        ``source="take"`` the selected take's top voice; ``style`` one of the infill model's styles."""
        if abc is not None:
            self.abc_text.value = abc
            self.melody_source.value = "abc"
        if source is not None:
            self.melody_source.value = source
        if style is not None:
            self.harmonize_style.value = style
        return self._job(self._harmonize, raise_errors=True)

    def _init_infill(self) -> None:
        """The Harmonize menu: the infill model's styles of several voices, read from its model card (the model
        itself, and torch, load at the first Regenerate or Harmonize); without a card Regenerate and Harmonize say
        why."""
        from ..datasets.corpus import get_style

        card = Path(__file__).parents[1] / "data" / "models" / f"{INFILL_MODEL}.json"  # checkpoints.SHIPPED_DIR
        try:
            known = json.loads(card.read_text())["styles"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._infill_problem = f"the infill model could not be found ({card.name}: {_plain(err).lstrip('⚠ ')})"
            self.regenerate_button.tooltip = self.harmonize_button.tooltip = self._infill_problem
            return
        styles = [name for name in known if get_style(name).voices > 1]
        self.harmonize_style.options = styles
        if self.controls.style.value in styles:
            self.harmonize_style.value = self.controls.style.value

    def _infill(self):
        if INFILL_MODEL not in _INFILL:
            from ..sampling.infill import load_infill

            _INFILL[INFILL_MODEL] = load_infill(INFILL_MODEL)
        return _INFILL[INFILL_MODEL]

    def _infill_style(self, take: Take) -> str:
        """The style in which the infill model reads ``take``; raises, naming why, when it cannot take it."""
        ck = self._infill()
        piece = take.piece
        style = take.settings.get("style") or piece.style
        known = ", ".join(ck.styles)
        if style not in ck.styles:
            raise MusewidgetsError(
                f"take #{take.id} is {style}, and the infill model knows only {known}: it cannot regenerate this take"
            )
        voices = len(ck.styles[style]["parts"])
        if len(piece.parts) != voices:
            raise MusewidgetsError(
                f"take #{take.id} has {_count(len(piece.parts), 'part')}, but the infill model writes {style} in "
                f"{_count(voices, 'voice')}: it cannot regenerate this take"
            )
        if piece.steps_per_quarter != ck.codec.steps_per_quarter:
            raise MusewidgetsError(
                f"take #{take.id} is on a grid of {piece.steps_per_quarter} steps a quarter; the infill model reads "
                f"{ck.codec.steps_per_quarter}"
            )
        polyphonic = [p.name for p in piece.parts if not p.is_monophonic]
        if polyphonic:
            raise MusewidgetsError(
                f"take #{take.id}: {', '.join(polyphonic)} sing{'s' * (len(polyphonic) == 1)} chords; the infill "
                "model needs one note at a time in each voice"
            )
        return style

    def _start_job(self, job) -> None:
        """Run ``job`` (Regenerate, Harmonize) in the background like Generate."""
        if self._thread is not None and self._thread.is_alive():
            self._say("Still generating: press Stop first.", error=True)
            return
        self._thread = threading.Thread(target=self._job, args=(job, False), daemon=True)
        self._thread.start()

    def _job(self, job, raise_errors: bool) -> Take | None:
        """Run ``job`` (Generate, Continue, Regenerate, Harmonize): one at a time, failures in the status line, the
        history and the controls untouched by them."""
        if not self._running.acquire(blocking=False):
            self._say("Still generating: press Stop first.", error=True)
            if raise_errors:
                raise MusewidgetsError("still generating: press Stop first")
            return None
        self._stop.clear()
        self._busy = self._roll_follows = True
        self._set_buttons()
        try:
            return job()
        except Exception as err:
            self._last_error = _plain(err)
            self._say(self._last_error, error=True)
            if raise_errors:
                raise
            return None
        finally:
            self._busy = self._roll_follows = False
            self.progress_box.layout.display = "none"
            self._set_buttons()
            self._running.release()
            self._guard(self._sync_views)()

    def _rounds(self) -> int:
        from ..sampling.infill import DEFAULT_ROUNDS

        return DEFAULT_ROUNDS if self.infill_rounds is None else int(self.infill_rounds)

    def _regenerate(self) -> Take:
        from ..sampling.infill import bar_mask

        if self._infill_problem:
            raise MusewidgetsError(self._infill_problem)
        base = self.current
        if base is None:
            raise MusewidgetsError("select a take first")
        if self.editor.piece is not base.piece:
            self._show(base)
        if self.editor.bars is None:
            raise MusewidgetsError(
                "select what to regenerate first: in Select mode, drag over bars on the roll (click voice names to "
                "choose the voices)"
            )
        style = self._infill_style(base)
        piece, bars, voices = base.piece, self.editor.bars, self.editor.voices
        where = self.editor.describe_selection()
        mask = bar_mask(piece, bars, voices)
        seed = self.controls.next_seed()
        temperature = float(self.controls.temperature.value)
        rounds = self._rounds()
        t0 = time.perf_counter()
        self._say(f"Regenerating {html.escape(where)} of take #{base.id} with the infill model…")
        result, stopped = self._fill(piece, mask, style=style, seed=seed, temperature=temperature, rounds=rounds)
        result = result.replace(tempo=piece.tempo, title=piece.title)
        names = [piece.parts[v].name for v in voices]
        settings = {
            "model": INFILL_MODEL,
            "kind": "regenerate",
            "parent": base.id,
            "style": style,
            "temperature": temperature,
            "seed": seed,
            "n": 1,
            "bars": list(bars),
            "voices": voices,
            "where": f"{bars_words(bars)} {','.join(n.lower() for n in names)}",
            "rounds": rounds,
            "stopped": stopped,
        }
        return self._add_made(result, settings, t0, f"regenerated {html.escape(where)} of take #{base.id}")

    def _fill(self, piece, mask, *, style, seed, temperature, rounds):
        """(the filled piece, whether Stop ended it): Gibbs rounds counted on the progress bar, the roll redrawn as
        they go; Stop keeps the last complete state."""
        from ..sampling.infill import iter_fill

        every = max(1, rounds // 16)
        self._set_rounds(0, rounds)
        self.progress_box.layout.display = ""
        result, stopped, shown = None, False, time.perf_counter()
        steps = iter_fill(
            self._infill(), piece, mask, style=style, seed=seed, temperature=temperature, iterations=rounds, every=every
        )
        for k, result in enumerate(steps):
            self._set_rounds(min(rounds, k * every), rounds)
            if self._stop.is_set():
                stopped = True
                break
            if time.perf_counter() - shown >= self._redraw_every:
                self._draw_progress(result)
                shown = time.perf_counter()
        return result, stopped

    def _harmonize(self) -> Take:
        from ..keys import estimate_key
        from ..sampling.infill import prepare_harmonization

        if self._infill_problem:
            raise MusewidgetsError(self._infill_problem)
        style = self.harmonize_style.value
        if not style:
            raise MusewidgetsError("the infill model knows no style with more than one voice")
        ck = self._infill()
        parent = None
        if self.melody_source.value == "take":
            base = self.current
            if base is None:
                raise MusewidgetsError("select a take whose top voice is the melody first")
            melody, parent, tempo, what = base.piece, base.id, base.piece.tempo, f"the top voice of take #{base.id}"
        else:
            melody, tempo = self._read_abc(self.abc_text.value)
            what = "the ABC melody"
        tempo = tempo or ck.styles[style].get("tempo", 80.0)
        seed = self.controls.next_seed()
        temperature = float(self.controls.temperature.value)
        t0 = time.perf_counter()
        self._say(f"Harmonizing {what} in the {html.escape(style)} style…")
        base, mask, shift = prepare_harmonization(melody, style=style, model=ck)
        result, stopped = self._fill(base, mask, style=style, seed=seed, temperature=temperature, rounds=self._rounds())
        result = result.replace(tempo=float(tempo), key=result.key or estimate_key(result))
        settings = {
            "model": INFILL_MODEL,
            "kind": "harmonize",
            "parent": parent,
            "style": style,
            "temperature": temperature,
            "seed": seed,
            "n": 1,
            "rounds": self._rounds(),
            "stopped": stopped,
        }
        low, high = ck.styles[style]["parts"][0][2]
        moved = f"moved {'up' if shift > 0 else 'down'} {abs(shift)} semitones into the soprano range {low}-{high}"
        note = f" ({moved})" if shift else ""
        return self._add_made(result, settings, t0, f"harmonized {what} in the {html.escape(style)} style{note}")

    def _read_abc(self, text: str):
        """(melody, tempo or None) from the ABC box; a bare tune body gets a default header (4/4, quarters, C)."""
        from ..io import read_with_report

        text = (text or "").strip()
        if not text:
            raise MusewidgetsError("type a melody in ABC into the box first (or choose the selected take's top voice)")
        if not any(line.strip().startswith("K:") for line in text.splitlines()):
            text = "X:1\nM:4/4\nL:1/4\nK:C\n" + text
        elif not text.startswith("X:"):
            text = "X:1\n" + text
        piece, report = read_with_report(text.encode(), name="melody.abc")
        return piece, (piece.tempo if report.tempo_found else None)

    def _add_made(self, piece, settings: dict, t0: float, words: str) -> Take:
        """Add a take made by the infill model, select it, show its seed, save, and say so."""
        seconds = time.perf_counter() - t0
        take = Take(piece, settings, seconds)
        self._show(take)
        self.take_list.add(take)
        self.controls.use_seed(settings["seed"])
        problems = self._save()
        note = f" (stopped early, after round {self.progress.value})" if settings.get("stopped") else ""
        if problems:
            note += f". ⚠ Not saved: {html.escape(problems[0])}; the take stays here until the kernel stops"
        text = f"Take #{take.id}: {words}, seed {settings['seed']}, in {seconds * 1000:.0f} ms{note}."
        self._say(text, error=bool(problems))
        return take

    def _set_rounds(self, done: int, rounds: int) -> None:
        self.progress.max = max(1, rounds)
        self.progress.value = done
        self.progress_label.value = f"round {done} of {rounds}"

    def _open_file(self) -> Take | None:
        """A file chosen under "Open file" becomes a take (to regenerate, edit or harmonize)."""
        from ..io import read_with_report

        files = self.open_file.value
        if not files:
            return None
        f = files[0]
        piece, report = read_with_report(bytes(f["content"]), name=f["name"])
        style = piece.style or self.controls.style.value
        settings = {
            "model": "file",
            "kind": "file",
            "file": f["name"],
            "parent": None,
            "style": style,
            "temperature": float(self.controls.temperature.value),
            "seed": 0,
            "n": 1,
        }
        take = Take(piece, settings)
        self._show(take)
        self.take_list.add(take)
        problems = self._save()
        changed = f" ({report})" if report.changed or report.remarks else ""
        name = html.escape(f["name"])
        self._say(
            f"Take #{take.id}: opened {name}, {_count(len(piece.parts), 'part')}, {piece.n_bars} bars"
            f"{html.escape(changed)}." + (f" ⚠ Not saved: {html.escape(problems[0])}." if problems else ""),
            error=bool(problems),
        )
        return take

    def _on_edit(self, piece) -> None:
        """A hand edit on the roll (or its undo, redo): the first edit of a take makes a new take with its parent
        recorded; later ones change that take until another is selected. Sound and score follow after a pause."""
        take = self.current
        if take is None:
            return
        draft = self.take_list.get(self._draft_id) if self._draft_id is not None else None
        if draft is not None and draft.id == take.id:
            draft.piece = piece
            edits = draft.settings.get("edits", 0) + 1
            draft.settings = {**draft.settings, "edits": edits}
        else:
            settings = {**take.settings, "kind": "edit", "parent": take.id, "edits": 1}
            for key in ("stopped", "candidate", "where"):
                settings.pop(key, None)
            draft = Take(piece, settings)
            self._draft_id = draft.id
            with self._views:
                self._shown_take_id = draft.id  # the roll shows it already; sound and score follow below
                self.take_list.add(draft)
            self._say(f"Take #{draft.id}: your edits of take #{take.id} (take #{take.id} stays as it was).")
        problems = self._save()
        if problems:
            self._say(f"⚠ Not saved: {html.escape(problems[0])}; your takes stay here until the kernel stops.", True)
        self._schedule_render()

    def _schedule_render(self) -> None:
        if self._render_timer is not None:
            self._render_timer.cancel()
        if self.render_delay <= 0:
            self._render_edited()
            return
        self._render_timer = threading.Timer(self.render_delay, self._guard(self._render_edited))
        self._render_timer.daemon = True
        self._render_timer.start()

    def _render_edited(self) -> None:
        """The sound and the score of the take being edited, once the edits pause."""
        with self._views:
            take = self.current
            if take is None or take.id != self._draft_id or self._shown_take_id != take.id:
                return
            self.view.show(take.piece, label=take.label, programs=None, marks=self._analyse(take))

    def flush_edits(self) -> None:
        """Render the sound and the score of the edited take now (tests and scripts; the page does it by itself)."""
        if self._render_timer is not None:
            self._render_timer.cancel()
            self._render_timer = None
        self._render_edited()

    # ------------------------------------------------------------------ status and errors
    def _say(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#333"
        self.status.value = f"<span style='color:{color}'>{text}</span>"

    def _guard(self, fn):
        """Wrap a callback so that any failure is shown in the status line instead of escaping."""

        def wrapped(*args):
            try:
                return fn(*args)
            except Exception as err:
                self._last_error = _plain(err)
                self._say(self._last_error, error=True)

        return wrapped


def _count(n: int, word: str) -> str:
    """'1 part', '4 parts'."""
    return f"{n} {word}{'s' * (n != 1)}"


def _plain(err: Exception) -> str:
    """An exception in plain words for the status line."""
    text = html.escape(str(err)) or type(err).__name__
    if isinstance(err, (MusewidgetsError, ValueError)):
        return f"⚠ {text}"
    return f"⚠ Something went wrong ({type(err).__name__}): {text}. Your takes are safe; try again."
