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
from .player import TakeView
from .takes import Take, TakeList
from .views import DownloadLinks

__all__ = ["Workbench"]

GAN_CANNOT_CONTINUE = "the GAN draws whole phrases and cannot continue music"
CONTINUE_TIP = "extend the selected take by the bars below"
NO_CONTROLS = "this model was trained without key and ending control"
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
    style : str, default 'chorale'
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

    def __init__(self, model: str = "lstm", style: str = "chorale", *, taste_file=None, session=None):
        from ..analysis.taste import FEATURE_NAMES, TasteModel
        from ..corpus import get_style
        from ..session import Session
        from .controls import MODELS

        get_style(style)  # an unknown style fails here, before anything is built
        self._samplers: dict = {}
        own = model not in MODELS
        if own:
            from ..sampling import load_sampler

            sampler = load_sampler(model)  # a damaged or untrusted checkpoint fails here too
            model = str(sampler.checkpoint.path)
            self._samplers[model] = sampler
        self.taste_file = None if taste_file is None else Path(taste_file)
        self.taste = TasteModel(FEATURE_NAMES)
        if self.taste_file is not None and self.taste_file.exists():
            try:
                self.taste = TasteModel.from_dict(json.loads(self.taste_file.read_text()))
            except ValueError as err:  # a damaged file is reported, never silently replaced
                raise MusewidgetsError(f"{self.taste_file}: not a saved taste ({err})") from err
        self.controls = SamplerControls(model="lstm" if own else model, style=style)
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
        right = w.VBox(
            [self.view, self.analyse_button, self.analysis], layout=w.Layout(flex="1 1 0%", min_width="0", **_VISIBLE)
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
        self.controls.apply(take.settings)
        self._say(f"Controls set to take #{take.id}; seed {take.settings['seed']} locked.")

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
            from ..sampling import load_sampler

            self._samplers[family] = load_sampler(family)
        return self._samplers[family]

    def _is_gan(self, model: str) -> bool:
        """The GAN draws whole phrases: no primer, no continuing, nothing to refuse note by note."""
        return model == "gan" or (model in self._samplers and self._samplers[model].family == "gan")

    def _primer(self, settings: dict):
        kind = settings["primer"]
        if kind == "none":
            return None
        if kind == "corpus":
            from ..corpus import load_style

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
        if not self._running.acquire(blocking=False):
            self._say("Still generating: press Stop first.", error=True)
            if raise_errors:
                raise MusewidgetsError("still generating: press Stop first")
            return None
        self._stop.clear()
        self._busy = self._roll_follows = True
        self._set_buttons()
        try:
            return self._run(continue_take)
        except Exception as err:  # shown to the user; the history and the controls are untouched
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
            self._guard(self._sync_views)()  # e.g. a take selected while a generation failed

    def _run(self, continue_take: bool) -> Take | None:
        settings = self.controls.settings()
        if continue_take:
            settings, primer, bars = self._continue_settings(settings)
        else:
            settings["seed"] = self.controls.next_seed()  # shown once the take is made: a failure changes nothing
            if self._is_gan(settings["model"]) and settings["primer"] != "none":
                raise MusewidgetsError(f"{GAN_CANNOT_CONTINUE}: set the primer to none")
            primer, bars = self._primer(settings), settings["bars"]
            if settings["primer"] == "upload":
                settings["primer_file"] = self._uploaded_name
        sampler = self._sampler(settings["model"])
        t0 = time.perf_counter()
        self._say(f"Generating {bars} bars of {settings['style']} with the {settings['model']}…")
        pieces, made, stopped = self._sample(sampler, settings, primer, bars)
        seconds = time.perf_counter() - t0
        order = self._rank(pieces)
        takes = []
        for i in order:
            piece = pieces[i]
            parts = tuple(replace(p, program=prog) for p, prog in zip(piece.parts, settings["programs"]))
            piece = piece.replace(tempo=float(settings["tempo"]), parts=parts or piece.parts)
            extra = {"candidate": i, "stopped": stopped, "bars_made": made}
            takes.append(Take(piece, {**settings, **extra}, seconds))
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
        if self._is_gan(settings["model"]) or (base is not None and self._is_gan(base.settings["model"])):
            raise MusewidgetsError(f"{GAN_CANNOT_CONTINUE}: pick the lstm, transformer or rnn to continue a take")
        if base is None:
            raise MusewidgetsError("select a take to continue first")
        bars = int(self.controls.continue_bars.value)
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
        """Generate and Continue while idle (Continue not for the GAN), Stop while generating."""
        gan = self._is_gan(self.controls.model.value)
        self.generate_button.disabled = self._busy
        self.continue_button.disabled = self._busy or gan
        self.stop_button.disabled = not self._busy

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
        """The GAN cannot continue music: Continue and the primer are disabled, with a tooltip saying why."""
        gan = self._is_gan(self.controls.model.value)
        self.controls.allow_primer(not gan, why=GAN_CANNOT_CONTINUE)
        self.controls.continue_bars.disabled = gan
        self.controls.continue_bars.tooltip = GAN_CANNOT_CONTINUE if gan else None
        if gan:
            self.controls.voice_leading.value = False
        self.controls.voice_leading.disabled = gan  # the GAN draws whole phrases: nothing to refuse note by note
        self.controls.allow_controls(self._sampler(self.controls.model.value).controls, why=NO_CONTROLS)
        self.continue_button.tooltip = GAN_CANNOT_CONTINUE if gan else CONTINUE_TIP
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
        from ..corpus import load_style

        self.controls.primer_piece.options = tuple(load_style(style, progress=False).ids[:500])

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
