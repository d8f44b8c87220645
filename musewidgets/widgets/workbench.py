"""The Workbench: pick, tweak, generate, see, hear, compare and keep takes, in one widget.

A thin composition of :class:`SamplerControls`, :class:`PianoRollView`, :class:`ScoreView`, :class:`Player` and
:class:`TakeList`. Generate runs in a background thread so that Stop stays clickable; the piano roll is redrawn as
bars arrive, then the score and the sound follow. Every callback reports failures in the status line in plain
words; a failed generation leaves the history untouched.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import replace

import ipywidgets as w

from ..errors import MusewidgetsError
from .controls import SamplerControls
from .takes import Take, TakeList
from .views import DownloadLinks, PianoRollView, Player, ScoreView

__all__ = ["Workbench"]


class Workbench(w.VBox):
    """Compose with the shipped models in a notebook.

    Parameters
    ----------
    model : {'lstm', 'transformer', 'rnn', 'gan'}, default 'lstm'
    style : str, default 'chorale'

    Examples
    --------
    >>> wb = Workbench(style="folk")        # doctest: +SKIP
    >>> wb                                  # doctest: +SKIP  (shows it)
    >>> take = wb.generate()                # doctest: +SKIP  (what the Generate button does)
    """

    def __init__(self, model: str = "lstm", style: str = "chorale"):
        from ..corpus import get_style

        get_style(style)  # an unknown style fails here, before anything is built
        self.controls = SamplerControls(model=model, style=style)
        self.piano_roll = PianoRollView()
        self.score = ScoreView()
        self.player = Player()
        self.take_list = TakeList(layout=w.Layout(width="100%"))
        self.downloads = DownloadLinks()
        self.compare_area = w.HBox()
        self.status = w.HTML(layout=w.Layout(min_height="1.5em"))
        self.generate_button = w.Button(description="Generate", button_style="success", icon="music")
        self.continue_button = w.Button(
            description="Continue", icon="forward", tooltip="extend the selected take by the bars below"
        )
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.download_button = w.Button(description="Download…", icon="download")
        self.copy_button = w.Button(
            description="Copy settings", icon="copy", tooltip="set the controls to the selected take's settings"
        )
        self._samplers: dict = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._busy = False  # a generation is running: selection changes do not redraw
        self._uploaded = None  # the piece read from the upload widget
        self._last_error: str | None = None

        buttons = w.VBox(
            [
                w.HBox([self.generate_button, self.stop_button]),
                w.HBox([self.continue_button]),
                self.controls.continue_bars,
            ]
        )
        left = w.VBox([self.controls, buttons], layout=w.Layout(width="350px", min_width="350px"))
        right = w.VBox([self.status, self.piano_roll, self.player, self.score], layout=w.Layout(flex="1"))
        history = w.VBox([self.take_list, w.HBox([self.copy_button, self.download_button]), self.downloads])
        super().__init__([w.HBox([left, right]), history, self.compare_area])

        self.generate_button.on_click(lambda _: self._start(continue_take=False))
        self.continue_button.on_click(lambda _: self._start(continue_take=True))
        self.stop_button.on_click(lambda _: self._stop.set())
        self.copy_button.on_click(self._guard(lambda _: self.copy_settings()))
        self.download_button.on_click(self._guard(lambda _: self._show_downloads()))
        self.take_list.observe(self._guard(self._on_select), names="selected")
        self.take_list.compare_with.observe(self._guard(self._on_compare), names="value")
        self.controls.style.observe(self._guard(lambda _: self._on_style()), names="value")
        self.controls.model.observe(self._guard(lambda _: self._on_style()), names="value")
        self.controls.upload.observe(self._guard(lambda _: self._check_upload()), names="value")
        self._on_style()
        self._say("Pick a style and press <b>Generate</b>.")

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
        """Extend the selected take by ``controls.continue_bars`` bars (a new take; the old one stays)."""
        return self._generate(continue_take=True, raise_errors=True)

    def copy_settings(self, take: Take | None = None) -> None:
        """Set the controls to a take's settings (and lock its seed), so Generate replays it exactly."""
        take = take or self.current
        if take is None:
            raise MusewidgetsError("no take selected")
        self.controls.apply(take.settings)
        self._say(f"Controls set to take #{take.id}; seed {take.settings['seed']} locked.")

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
        return piece.slice_bars(0, min(settings["primer_bars"], piece.n_bars)) if piece.n_bars else piece

    def _generate(self, continue_take: bool, raise_errors: bool) -> Take | None:
        self._stop.clear()
        self._busy = True
        self.generate_button.disabled = self.continue_button.disabled = True
        self.stop_button.disabled = False
        try:
            return self._run(continue_take)
        except Exception as err:  # shown to the user; the history is untouched
            self._last_error = _plain(err)
            self._say(self._last_error, error=True)
            if raise_errors:
                raise
            return None
        finally:
            self._busy = False
            self.generate_button.disabled = self.continue_button.disabled = False
            self.stop_button.disabled = True

    def _run(self, continue_take: bool) -> Take | None:
        c = self.controls
        if not c.lock_seed.value and not continue_take and self.takes:
            c.roll_seed()  # a new take each press, unless the seed is locked
        settings = c.settings()
        t0 = time.perf_counter()
        if continue_take:
            base = self.current
            if base is None:
                raise MusewidgetsError("select a take to continue first")
            settings = {
                **base.settings,
                "seed": settings["seed"],
                "continue_of": base.id,
                "continue_bars": int(c.continue_bars.value),
                "n": 1,
            }
            primer, bars = base.piece, settings["continue_bars"]
        else:
            primer, bars = self._primer(settings), settings["bars"]
        sampler = self._sampler(settings["model"])
        self._say(f"Generating {bars} bars of {settings['style']} with the {settings['model']}…")
        pieces = None
        shown = t0  # the first redraw waits: a quick take is drawn once, at the end
        for pieces in sampler.iter_generate(
            style=settings["style"],
            bars=bars,
            temperature=settings["temperature"],
            top_k=settings["top_k"],
            top_p=settings["top_p"],
            seed=settings["seed"],
            primer=primer,
            n=settings["n"],
        ):
            if self._stop.is_set():
                break
            if time.perf_counter() - shown > 0.3:  # redraw the roll while bars arrive, a few times a second
                self.piano_roll.show(pieces[0])
                shown = time.perf_counter()
        stopped = self._stop.is_set()
        seconds = time.perf_counter() - t0
        takes = []
        for i, piece in enumerate(pieces):
            parts = tuple(replace(p, program=prog) for p, prog in zip(piece.parts, settings["programs"]))
            piece = piece.replace(tempo=float(settings["tempo"]), parts=parts or piece.parts)
            takes.append(Take(piece, {**settings, "candidate": i, "stopped": stopped}, seconds))
        for take in takes:
            self.take_list.add(take)
        self.take_list.selected = takes[0].id
        self._show(takes[0])
        total = time.perf_counter() - t0
        note = " (stopped early)" if stopped else ""
        self._say(
            f"Take #{takes[0].id}: {takes[0].piece.n_bars} bars, {takes[0].piece.n_notes} notes, "
            f"sampled in {seconds * 1000:.0f} ms, ready to hear in {total * 1000:.0f} ms{note}."
        )
        return takes[0]

    # ------------------------------------------------------------------ views
    def _show(self, take: Take | None) -> None:
        piece = None if take is None else take.piece
        self.piano_roll.show(piece)
        self.player.show(piece)
        self.score.show(piece)
        self.downloads.show(None)

    def _on_select(self, change) -> None:
        if not self._busy:
            self._show(self.take_list.get(change["new"]))

    def _on_compare(self, change) -> None:
        other = self.take_list.get(change["new"])
        current = self.current
        if other is None or current is None:
            self.compare_area.children = ()
            return
        boxes = []
        for take in (current, other):
            roll, player = PianoRollView(), Player()
            roll.show(take.piece, width=5.5, height=2.6)
            player.show(take.piece)
            boxes.append(
                w.VBox([w.HTML(f"<b>{html.escape(take.label)}</b>"), roll, player], layout=w.Layout(width="50%"))
            )
        self.compare_area.children = boxes

    def _show_downloads(self) -> None:
        take = self.current
        if take is None:
            raise MusewidgetsError("no take selected")
        self.downloads.show(take.piece, name=f"take{take.id}")

    def _on_style(self) -> None:
        sampler = self._sampler(self.controls.model.value)
        style = self.controls.style.value
        if style not in sampler.styles:
            raise MusewidgetsError(f"the {sampler.family} model does not know the style {style!r}")
        info = sampler.checkpoint.styles[style]
        self.controls.set_parts([(name, program) for name, program, _ in info["parts"]])
        self.controls.tempo.value = int(round(info["tempo"]))
        from ..corpus import load_style

        self.controls.primer_piece.options = tuple(load_style(style, progress=False).ids[:500])

    def _check_upload(self) -> None:
        from ..io import read_with_report

        self._uploaded = None
        files = self.controls.upload.value
        if not files:
            return
        f = files[0]
        piece, report = read_with_report(bytes(f["content"]), name=f["name"])
        self._uploaded = piece
        changed = f" ({report})" if report.changed or report.remarks else ""
        self._say(
            f"Loaded {html.escape(f['name'])}: {len(piece.parts)} parts, {piece.n_bars} bars{html.escape(changed)}."
        )

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


def _plain(err: Exception) -> str:
    """An exception in plain words for the status line."""
    text = html.escape(str(err)) or type(err).__name__
    if isinstance(err, (MusewidgetsError, ValueError)):
        return f"⚠ {text}"
    return f"⚠ Something went wrong ({type(err).__name__}): {text}. Your takes are safe; try again."
