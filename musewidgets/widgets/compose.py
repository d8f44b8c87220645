"""The Workbench's compose panel: composing by filling in (:mod:`musewidgets.sampling.infill`) and by hand.

Under the view, :class:`RollEditor` (``Workbench.editor``) shows the selected take's roll drawn in the browser. In
**Select** mode drag over bars (and click voice names) and press **Regenerate**: the infill model writes those bars of
those voices anew (seed and temperature from the controls; progress and Stop as for Generate) and nothing else
changes, bit for bit. In **Edit** mode click to add, delete, move or lengthen notes, with undo and redo: the first edit
of a take makes a new take (its ``parent`` recorded), later edits change that same take until another take is
selected, so the take edited is never lost; the sound and the score follow a moment after the last edit.
**Harmonize** writes alto, tenor and bass under a melody: ABC typed in the box, or the top voice of the selected take
(a file opened with **Open file** becomes a take). A take the infill model cannot take (a style it does not know,
another number of voices) is refused in the status line, naming why.
"""

from __future__ import annotations

import html
import json
import threading
import time
import warnings
from pathlib import Path

import ipywidgets as w

from ..errors import MusewidgetsError
from ..piece import pitch_name
from .controls import SamplerControls
from .editor import bars_words
from .history import History
from .jobs import Jobs
from .stage import Stage
from .status import StatusLine, count, interval_words, plain, seconds_words
from .takes import Take, TakeList

__all__ = ["INFILL_MODEL", "ComposePanel"]

INFILL_MODEL = "infill"  # the shipped infill model: Regenerate and Harmonize
REGENERATE_TIP = "write the bars and voices selected on the roll anew with the infill model; nothing else changes"
HARMONIZE_TIP = "write the lower voices under a melody with the infill model"
ABC_PLACEHOLDER = "a melody in ABC, e.g.\nX:1\nM:4/4\nL:1/4\nK:G\nG A B G | c B A2 | B c d B | A G G2 |]"
_MODELS: dict = {}  # name -> checkpoint, loaded once per process


class ComposePanel:
    """Select / Edit mode, Regenerate, Open file and Harmonize, and the hand edits made on the stage's roll editor.

    Parameters
    ----------
    controls : SamplerControls
        Seed and temperature of Regenerate and Harmonize, and the style they start from.
    take_list, status, jobs, stage, history
        The Workbench's other parts: the takes made join ``take_list`` and are shown on ``stage`` (whose editor is
        edited here), saved by ``history``; ``jobs`` runs Regenerate and Harmonize.
    """

    def __init__(
        self,
        controls: SamplerControls,
        *,
        take_list: TakeList,
        status: StatusLine,
        jobs: Jobs,
        stage: Stage,
        history: History,
    ):
        self.controls, self.take_list, self.status = controls, take_list, status
        self.jobs, self.stage, self.history, self.editor = jobs, stage, history, stage.editor
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
        w.link((self.mode, "value"), (self.editor, "mode"))
        self.regenerate_button.on_click(lambda _: jobs.start(self._regenerate))
        self.harmonize_button.on_click(lambda _: jobs.start(self._harmonize))
        self.open_file.observe(status.guard(lambda _: self._open_file()), names="value")
        self.editor.on_change(status.guard(self._on_edit))
        jobs.observe(lambda _: self._set_buttons(), names="busy")
        self._init_infill()
        self._set_buttons()

    def regenerate(self, bars: tuple[int, int] | None = None, voices=None) -> Take:
        """Do what the Regenerate button does (bars and voices selected on the roll, or these) and return the new take;
        raises on bad settings or a take the infill model cannot take."""
        if bars is not None:
            self.editor.select(bars, voices)
        return self.jobs.run(self._regenerate, raise_errors=True)

    def harmonize(self, abc: str | None = None, *, source: str | None = None, style: str | None = None) -> Take:
        """Do what the Harmonize button does and return the new take: ``abc`` (typed into the box), or with
        ``source="take"`` the selected take's top voice; ``style`` one of the infill model's styles."""
        if abc is not None:
            self.abc_text.value = abc
            self.melody_source.value = "abc"
        if source is not None:
            self.melody_source.value = source
        if style is not None:
            if style not in self.harmonize_style.options:  # the CLI's words, not a TraitError (issue 33)
                raise MusewidgetsError(_not_harmonizable(style, list(self.harmonize_style.options)))
            self.harmonize_style.value = style
        return self.jobs.run(self._harmonize, raise_errors=True)

    def on_select(self, change) -> None:
        """Another take is selected: the next hand edit makes a new take."""
        if change["new"] != self._draft_id:
            self._draft_id = None

    def _set_buttons(self) -> None:
        """Regenerate and Harmonize while idle, when the infill model is there."""
        self.regenerate_button.disabled = self.harmonize_button.disabled = self.jobs.busy or bool(self._infill_problem)

    # ------------------------------------------------------------------ the infill model
    def _init_infill(self) -> None:
        """The Harmonize menu: the infill model's styles of several voices, read from its model card (the model
        itself, and torch, load at the first Regenerate or Harmonize); without a card Regenerate and Harmonize say
        why."""
        from ..datasets.corpus import get_style

        card = Path(__file__).parents[1] / "data" / "models" / f"{INFILL_MODEL}.json"  # checkpoints.SHIPPED_DIR
        try:
            known = json.loads(card.read_text())["styles"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._infill_problem = f"the infill model could not be found ({card.name}: {plain(err).lstrip('⚠ ')})"
            self.regenerate_button.tooltip = self.harmonize_button.tooltip = self._infill_problem
            return
        styles = [name for name in known if get_style(name).voices > 1]
        self.harmonize_style.options = styles
        if self.controls.style.value in styles:
            self.harmonize_style.value = self.controls.style.value

    def _infill(self):
        if INFILL_MODEL not in _MODELS:
            from ..sampling.infill import load_infill

            _MODELS[INFILL_MODEL] = load_infill(INFILL_MODEL)
        return _MODELS[INFILL_MODEL]

    def _writer(self, name: str):
        """Harmonize's sequence model, by its shipped name, loaded once per process."""
        if name not in _MODELS:
            from ..sampling.harmonization import load_writer

            _MODELS[name] = load_writer(name)
        return _MODELS[name]

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
                f"take #{take.id} has {count(len(piece.parts), 'part')}, but the infill model writes {style} in "
                f"{count(voices, 'voice')}: it cannot regenerate this take"
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

    def _rounds(self) -> int:
        from ..sampling.infill import DEFAULT_ROUNDS

        return DEFAULT_ROUNDS if self.infill_rounds is None else int(self.infill_rounds)

    def _fill(self, piece, mask, *, style, seed, temperature, rounds, guide="on"):
        """(the filled piece, whether Stop ended it): Gibbs rounds counted on the progress bar, the roll redrawn as
        they go; Stop keeps the last complete state."""
        from ..sampling.infill import iter_fill

        every = max(1, rounds // 16)
        self.jobs.show_rounds(0, rounds)
        settings = dict(style=style, seed=seed, temperature=temperature, iterations=rounds, every=every, guide=guide)
        steps = iter_fill(self._infill(), piece, mask, **settings)
        return self._follow(steps, lambda k: self.jobs.show_rounds(min(rounds, k * every), rounds))

    def _follow(self, steps, count) -> tuple:
        """(the last piece of ``steps``, whether Stop ended it): ``count(k)`` after the k-th (from 0), the roll
        redrawn at most every ``jobs.redraw_every`` seconds; Stop keeps the last complete state."""
        result, shown = None, time.perf_counter()
        for k, result in enumerate(steps):
            count(k)
            if self.jobs.stopped:
                return result, True
            if time.perf_counter() - shown >= self.jobs.redraw_every:
                self.stage.draw_progress(result)
                shown = time.perf_counter()
        return result, False

    # ------------------------------------------------------------------ Regenerate and Harmonize (jobs)
    def _regenerate(self) -> Take:
        from ..sampling.infill import bar_mask

        if self._infill_problem:
            raise MusewidgetsError(self._infill_problem)
        base = self.take_list.current
        if base is None:
            raise MusewidgetsError("select a take first")
        if self.editor.piece is not base.piece:
            self.stage.show(base)
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
        self.status.say(f"Regenerating {html.escape(where)} of take #{base.id} with the infill model…")
        guide = self.controls.guide_text()
        result, stopped = self._fill(
            piece, mask, style=style, seed=seed, temperature=temperature, rounds=rounds, guide=guide
        )
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
            "guide": guide,
            "stopped": stopped,
        }
        return self._add_made(result, settings, t0, f"regenerated {html.escape(where)} of take #{base.id}")

    def _harmonize(self) -> Take:
        from ..sampling.harmonization import DEFAULT_WRITER, iter_harmonize
        from ..sampling.infill import TranspositionWarning, prepare_harmonization

        if self._infill_problem:
            raise MusewidgetsError(self._infill_problem)
        style = self.harmonize_style.value
        if not style:
            raise MusewidgetsError("the infill model knows no style with more than one voice")
        ck = self._infill()
        parent = None
        if self.melody_source.value == "take":
            base = self.take_list.current
            if base is None:
                raise MusewidgetsError("select a take whose top voice is the melody first")
            melody, parent, tempo, what = base.piece, base.id, base.piece.tempo, f"the top voice of take #{base.id}"
        else:
            melody, tempo = _read_abc(self.abc_text.value)
            what = "the ABC melody"
        tempo = tempo or ck.styles[style].get("tempo", 80.0)
        seed = self.controls.next_seed()
        temperature = float(self.controls.temperature.value)
        t0 = time.perf_counter()
        self.status.say(f"Harmonizing {what} in the {html.escape(style)} style…")
        shift = prepare_harmonization(melody, style=style, model=ck)[2]  # raises, in words, what cannot be sung
        rounds, guide = self._rounds(), self.controls.guide_text()
        writer = self._writer(DEFAULT_WRITER)
        bars = max(1, melody.n_bars) + 1  # the voices bar by bar, then the cadence
        self.jobs.show_bars(0, bars)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TranspositionWarning)  # said in the status line below
            settings = dict(style=style, seed=seed, temperature=temperature, guide=guide, iterations=rounds)
            steps = iter_harmonize(melody, model=writer, finish=ck, **settings)
            result, stopped = self._follow(steps, lambda k: self.jobs.show_bars(min(k + 1, bars), bars))
        result = result.replace(tempo=float(tempo))
        settings = {
            "model": DEFAULT_WRITER,
            "finish": INFILL_MODEL,
            "kind": "harmonize",
            "parent": parent,
            "style": style,
            "temperature": temperature,
            "seed": seed,
            "n": 1,
            "rounds": rounds,
            "guide": guide,
            "stopped": stopped,
        }
        top, (low, high) = ck.styles[style]["parts"][0][0], ck.styles[style]["parts"][0][2]
        moved = (
            f"moved {'up' if shift > 0 else 'down'} {interval_words(shift)} into the {top.lower()}'s range, "
            f"{pitch_name(low)} to {pitch_name(high)}"
        )
        note = f" ({html.escape(moved)})" if shift else ""
        return self._add_made(result, settings, t0, f"harmonized {what} in the {html.escape(style)} style{note}")

    def _add_made(self, piece, settings: dict, t0: float, words: str) -> Take:
        """Add a take made by the infill model, select it, show its seed, save, and say so."""
        seconds = time.perf_counter() - t0
        take = Take(piece, settings, seconds)
        self.stage.show(take)
        self.take_list.add(take)
        self.controls.use_seed(settings["seed"])
        problems = self.history.save()
        note = f" (stopped early, after round {self.jobs.progress.value})" if settings.get("stopped") else ""
        if problems:
            note += f". ⚠ Not saved: {html.escape(problems[0])}; the take stays here until the kernel stops"
        text = f"Take #{take.id}: {words}{note}."
        details = f"seed {settings['seed']}, made in {seconds_words(seconds)}"
        self.status.say(text, error=bool(problems), details=details)
        return take

    # ------------------------------------------------------------------ by hand: Open file and edits on the roll
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
        self.stage.show(take)
        self.take_list.add(take)
        problems = self.history.save()
        changed = f" ({report})" if report.changed or report.remarks else ""
        name = html.escape(f["name"])
        self.status.say(
            f"Take #{take.id}: opened {name}, {count(len(piece.parts), 'part')}, {piece.n_bars} bars"
            f"{html.escape(changed)}." + (f" ⚠ Not saved: {html.escape(problems[0])}." if problems else ""),
            error=bool(problems),
        )
        return take

    def _on_edit(self, piece) -> None:
        """A hand edit on the roll (or its undo, redo): the first edit of a take makes a new take with its parent
        recorded; later ones change that take until another is selected. Sound and score follow after a pause."""
        take = self.take_list.current
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
            self.stage.add_edited(draft)  # the roll shows it already; sound and score follow below
            self.status.say(f"Take #{draft.id}: your edits of take #{take.id} (take #{take.id} stays as it was).")
        self.history.report(self.history.save())
        self._schedule_render()

    def _schedule_render(self) -> None:
        if self._render_timer is not None:
            self._render_timer.cancel()
        if self.render_delay <= 0:
            self._render_edited()
            return
        self._render_timer = threading.Timer(self.render_delay, self.status.guard(self._render_edited))
        self._render_timer.daemon = True
        self._render_timer.start()

    def _render_edited(self) -> None:
        """The sound and the score of the take being edited, once the edits pause."""
        self.stage.redraw(self._draft_id)


def _read_abc(text: str):
    """(melody, tempo or None) from the ABC box; a bare tune body gets a default header (4/4, quarters, C)."""
    from ..io import read_abc_melody

    if not (text or "").strip():
        raise MusewidgetsError("type a melody in ABC into the box first (or choose the selected take's top voice)")
    piece, report = read_abc_melody(text, what="the box")
    return piece, (piece.tempo if report.tempo_found else None)


def _not_harmonizable(style: str, harmonized: list[str]) -> str:
    """Why ``style`` is not one to harmonize in, in the command line's words."""
    from ..datasets.corpus import STYLES, get_style

    if style in STYLES and get_style(style).voices == 1:
        return f"style {style!r} has one voice: there is nothing to harmonize a melody with"
    return f"unknown style {style!r} to harmonize in; the infill model harmonizes: {', '.join(harmonized)}"
