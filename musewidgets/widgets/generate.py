"""The Workbench's Generate side: the sampler controls, Generate, Continue and Copy settings.

Generate samples a take (or several candidates, best-liked first) with the model, style and settings of
:class:`SamplerControls`, starting from a primer where one is chosen (a corpus piece, or a file uploaded under
"primer"); Continue extends the selected take by ``continue_bars`` bars. Both run as jobs (:mod:`.jobs`): the progress
bar counts the bars, and the roll is redrawn as they arrive; then the score and the sound follow. The controls follow
the model and the style chosen (instruments, metres, tempo, corpus pieces; no strict voice leading for the GAN, no key
or ending for a model trained without them).
"""

from __future__ import annotations

import html
import time
from dataclasses import replace
from pathlib import Path

import ipywidgets as w

from ..errors import MusewidgetsError
from .controls import MODELS, SamplerControls
from .history import History
from .jobs import Jobs
from .stage import Stage
from .status import StatusLine, count, seconds_words
from .takes import Take, TakeList

__all__ = ["GeneratePanel", "choose_model"]

GAN_NOT_STRICT = "the GAN draws each bar's cells together: it cannot refuse a fault note by note"
CONTINUE_TIP = "extend the selected take by the bars below"
NO_CONTROLS = "this model was trained without key and ending control"


def choose_model(model: str, style: str | None):
    """``(model, style, styles, own)`` for a Workbench: the model's key in the model menu, the style to start with, the
    style menu, and the sampler of a checkpoint of your own (None for a shipped model).

    Raises before anything is built: a damaged or untrusted checkpoint, or a style the model does not know.
    """
    from ..datasets.corpus import get_style, styles
    from ..errors import UnknownStyleError

    own = None
    menu = [s.name for s in styles()]  # the corpus styles, and those of a model trained on your own music
    if model not in MODELS:
        from ..sampling.sampler import load_sampler

        own = load_sampler(model)  # a damaged or untrusted checkpoint fails here too
        model = str(own.checkpoint.path)
        menu += [s for s in own.styles if s not in menu]
        if style is None and "chorale" not in own.styles:
            style = next(iter(own.styles))
    style = "chorale" if style is None else style
    if style not in menu:
        get_style(style)  # an unknown style fails here, before anything is built, naming the known ones
    if own is not None and style not in own.styles:
        raise UnknownStyleError(
            f"{Path(model).name} does not know the style {style!r}; it knows: {', '.join(own.styles)}"
        )
    return model, style, menu, own


class GeneratePanel:
    """The sampler controls and the Generate, Continue and Copy settings buttons, and what they do.

    Parameters
    ----------
    model, style, styles, own
        From :func:`choose_model`.
    take_list, status, jobs, stage, history
        The Workbench's other parts: the takes made join ``take_list`` and are shown on ``stage``, ranked and saved by
        ``history``; ``jobs`` runs them.
    """

    def __init__(
        self,
        model: str,
        style: str,
        styles: list[str],
        own,
        *,
        take_list: TakeList,
        status: StatusLine,
        jobs: Jobs,
        stage: Stage,
        history: History,
    ):
        self.take_list, self.status, self.jobs, self.stage, self.history = take_list, status, jobs, stage, history
        self._samplers: dict = {} if own is None else {model: own}
        self.controls = SamplerControls(model="lstm" if own else model, style=style, styles=styles)
        if own is not None:
            label = f"{Path(model).name} ({own.family})"
            self.controls.model.options = [(m, m) for m in MODELS] + [(label, model)]
            self.controls.model.value = model
        self.generate_button = w.Button(description="Generate", button_style="success", icon="music")
        self.continue_button = w.Button(description="Continue", icon="forward", tooltip=CONTINUE_TIP)
        self.copy_button = w.Button(
            description="Copy settings", icon="copy", tooltip="set the controls to the selected take's settings"
        )
        self.uploaded = None  # the piece read from the file uploaded as a primer (None: none)
        self._uploaded_name: str | None = None
        self._uploaded_tempo: int | None = None  # the uploaded file's tempo, where it gave one
        guard, c = status.guard, self.controls
        self.generate_button.on_click(lambda _: self.jobs.start(lambda: self._run(continue_take=False)))
        self.continue_button.on_click(lambda _: self.jobs.start(lambda: self._run(continue_take=True)))
        self.copy_button.on_click(guard(lambda _: self.copy_settings()))
        self.jobs.observe(self._on_busy, names="busy")
        c.style.observe(guard(lambda _: self.on_style()), names="value")
        c.model.observe(guard(lambda _: self.on_model()), names="value")
        c.model.observe(guard(lambda _: self.on_style()), names="value")
        c.primer.observe(guard(lambda _: self._on_primer()), names="value")
        c.upload.observe(guard(lambda _: self._check_upload()), names="value")

    def generate(self, continue_take: bool = False) -> Take:
        """What Generate (Continue with ``continue_take``) does, in this thread: the new (first) take; raises on bad
        settings."""
        return self.jobs.run(lambda: self._run(continue_take), raise_errors=True)

    def copy_settings(self, take: Take | None = None) -> None:
        """Set the controls to a take's settings (and lock its seed), so Generate replays it exactly."""
        take = take or self.take_list.current
        if take is None:
            raise MusewidgetsError("no take selected")
        settings = take.settings
        if settings.get("kind") or not self.controls.offers_model(settings.get("model")):
            # made by hand, by the infill model or from a file: Generate cannot replay it; seed and temperature
            # replay a Regenerate or Harmonize (with the same selection or melody)
            self.controls.apply_seed(settings.get("seed", 0), settings.get("temperature"))
            self.controls.set_guide(settings.get("guide", "on"))
            self.status.say(
                f"Seed {settings.get('seed', 0)} and temperature locked from take #{take.id} "
                f"({settings.get('kind') or settings.get('model')}): Regenerate or Harmonize with them replays it."
            )
            return
        self.controls.apply(settings)
        self.status.say(f"Controls set to take #{take.id}; seed {settings['seed']} locked.")

    def sampler(self, family: str):
        """The sampler of a model of the menu (loaded once)."""
        if family not in self._samplers:
            from ..sampling.sampler import load_sampler

            self._samplers[family] = load_sampler(family)
        return self._samplers[family]

    def _on_busy(self, change) -> None:
        """Generate and Continue while idle."""
        self.generate_button.disabled = self.continue_button.disabled = change["new"]

    # ------------------------------------------------------------------ the job
    def _run(self, continue_take: bool) -> Take | None:
        settings = self.controls.settings()
        if continue_take:
            settings, primer, bars = self._continue_settings(settings)
        else:
            settings["seed"] = self.controls.next_seed()  # shown once the take is made: a failure changes nothing
            primer, bars = self._primer(settings), settings["bars"]
            if settings["primer"] == "upload":
                settings["primer_file"] = self._uploaded_name
        sampler = self.sampler(settings["model"])
        t0 = time.perf_counter()
        self.status.say(f"Generating {bars} bars of {settings['style']} with the {settings['model']}…")
        pieces, made, stopped = self._sample(sampler, settings, primer, bars)
        seconds = time.perf_counter() - t0
        heard = []  # the candidates as the takes will sound, at the tempo and with the instruments chosen
        for piece in pieces:
            parts = tuple(replace(p, program=prog) for p, prog in zip(piece.parts, settings["programs"]))
            heard.append(piece.replace(tempo=float(settings["tempo"]), parts=parts or piece.parts))
        order = self.history.rank(heard)  # ranked as they are heard and rated (the taste's features include the tempo)
        takes = []
        for i in order:
            extra = {"candidate": i, "stopped": stopped, "bars_made": made}
            takes.append(Take(heard[i], {**settings, **extra}, seconds))
        self.stage.show(takes[0])  # rendered before it joins the history: a failure here leaves the history as it was
        self.take_list.add(*takes)  # selects takes[0], which the views already show
        if not continue_take:
            self.controls.use_seed(settings["seed"])
        total = time.perf_counter() - t0
        note = f" (stopped early, at bar {made} of {bars})" if stopped else ""
        if len(order) > 1 and self.history.taste.n_ratings:
            note += f"; {len(order)} candidates ranked by your taste, best first"
        problems = self.history.save()
        if problems:
            note += f". ⚠ Not saved: {html.escape(problems[0])}; the take stays here until the kernel stops"
        piece = takes[0].piece
        key = f" in {piece.key}" if piece.key else ""
        metre = f"{piece.time_signature[0]}/{piece.time_signature[1]}"
        self.status.say(
            f"Take #{takes[0].id}: {piece.n_bars} bars of {html.escape(settings['style'])}{key}, {metre}, "
            f"{count(piece.n_notes, 'note')}{note}.",
            error=bool(problems),
            details=f"sampled in {seconds_words(seconds)}, ready to hear in {seconds_words(total)}",
        )
        return takes[0]

    def _continue_settings(self, settings: dict) -> tuple[dict, object, int]:
        """(settings, primer, bars) to extend the selected take by ``continue_bars`` bars."""
        base = self.take_list.current
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
        every ``jobs.redraw_every`` seconds. Stop ends the loop and keeps the bars made so far.
        """
        self.jobs.show_bars(0, bars)
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
            guide=settings.get("guide", "on"),
            pickup=0 if settings.get("start") == "downbeat" else None,  # takes from before the menu: the style's
        ):
            yields += 1
            made = min(bars, max(yields, pieces[0].n_bars - primer_bars))
            self.jobs.show_bars(made, bars)
            if self.jobs.stopped:
                return pieces, made, True
            if time.perf_counter() - shown >= self.jobs.redraw_every:
                self.stage.draw_progress(pieces[0])
                shown = time.perf_counter()
        return pieces, bars, False

    # ------------------------------------------------------------------ the primer
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
            piece = self.uploaded
            if piece is None:
                raise MusewidgetsError("choose a MIDI, MusicXML or ABC file to upload first")
            self._check_parts(piece, self._uploaded_name, settings)
        return piece.slice_bars(0, min(settings["primer_bars"], piece.n_bars)) if piece.n_bars else piece

    def _check_parts(self, piece, name: str, settings: dict) -> None:
        """Raise when a primer's parts do not match the style's voices, naming the styles that would take it."""
        sampler = self.sampler(settings["model"])
        info = sampler.checkpoint.styles.get(settings["style"])
        if info is None or len(piece.parts) == len(info["parts"]):
            return  # an unknown style is the sampler's to report
        n, voices, fits = len(piece.parts), len(info["parts"]), self._styles_for(len(piece.parts))
        takers = f"styles that take {count(n, 'part')}: {', '.join(fits)}" if fits else "no style takes that"
        raise MusewidgetsError(
            f"{name} has {count(n, 'part')} but the {settings['style']} style has {count(voices, 'voice')}; {takers}"
        )

    def _styles_for(self, parts: int) -> list[str]:
        """The styles of the chosen model with ``parts`` voices."""
        sampler = self.sampler(self.controls.model.value)
        return [name for name, info in sampler.checkpoint.styles.items() if len(info["parts"]) == parts]

    def _check_upload(self) -> None:
        from ..io import read_with_report

        self.uploaded = self._uploaded_name = self._uploaded_tempo = None
        self.controls.upload_name.value = ""
        files = self.controls.upload.value
        if not files:
            return
        f = files[0]
        piece, report = read_with_report(bytes(f["content"]), name=f["name"])
        self.uploaded, self._uploaded_name = piece, f["name"]
        name = html.escape(f["name"])
        self.controls.upload_name.value = f"<span title='{name}'>{name}</span>"
        if report.tempo_found:
            self._uploaded_tempo = int(round(piece.tempo))
            self._set_tempo(piece.tempo)
        tempo = f"tempo {self._uploaded_tempo}" if report.tempo_found else "no tempo in the file"
        if report.tempo_found and self.controls.tempo.value != self._uploaded_tempo:
            tempo += f", played at {self.controls.tempo.value}, the nearest the tempo control offers"
        changed = f" ({report})" if report.changed or report.remarks else ""
        self.status.say(
            f"Loaded {name}: {count(len(piece.parts), 'part')}, {piece.n_bars} bars, {tempo}"
            f"{html.escape(changed)}.{self._fit_note(len(piece.parts))}"
        )

    def _fit_note(self, parts: int) -> str:
        """A word for the status line when the chosen style cannot take a primer of ``parts`` parts."""
        sampler = self.sampler(self.controls.model.value)
        info = sampler.checkpoint.styles.get(self.controls.style.value)
        if info is None or len(info["parts"]) == parts:
            return ""
        fits = self._styles_for(parts)
        return f" As a primer it fits {' or '.join(fits)}, not {self.controls.style.value}." if fits else ""

    # ------------------------------------------------------------------ the controls follow the model and style
    def on_model(self) -> None:
        """Strict voice leading is disabled for the GAN, with a tooltip saying why; every model continues music."""
        gan = self._is_gan(self.controls.model.value)
        if gan:
            self.controls.voice_leading.value = False
        self.controls.voice_leading.disabled = gan
        self.controls.voice_leading.tooltip = GAN_NOT_STRICT if gan else None
        self.controls.allow_controls(self.sampler(self.controls.model.value).controls, why=NO_CONTROLS)

    def on_style(self) -> None:
        """Instruments, metres, tempo and corpus pieces of the style chosen."""
        sampler = self.sampler(self.controls.model.value)
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

    def _is_gan(self, model: str) -> bool:
        """The GAN draws a bar's cells together: nothing to refuse note by note (no strict voice leading)."""
        return model == "gan" or (model in self._samplers and self._samplers[model].family == "gan")

    def _on_primer(self) -> None:
        if self.controls.primer.value == "upload" and self._uploaded_tempo:
            self._set_tempo(self._uploaded_tempo)

    def _set_tempo(self, qpm: float) -> None:
        tempo = self.controls.tempo
        tempo.value = min(tempo.max, max(tempo.min, int(round(qpm))))
