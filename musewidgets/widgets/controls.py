"""Sampler controls: everything that decides a take, and nothing that samples by itself.

Sliders use ``continuous_update=False`` and never trigger sampling: only the Generate and Continue buttons do, so
dragging a slider costs nothing.
"""

from __future__ import annotations

import random

import ipywidgets as w

__all__ = ["INSTRUMENTS", "SamplerControls"]

# General MIDI programs offered per part (name, program).
INSTRUMENTS = (
    ("Choir Aahs", 52),
    ("Voice Oohs", 53),
    ("Acoustic Grand Piano", 0),
    ("Harpsichord", 6),
    ("Church Organ", 19),
    ("Reed Organ", 20),
    ("Acoustic Guitar (nylon)", 24),
    ("Violin", 40),
    ("Viola", 41),
    ("Cello", 42),
    ("Contrabass", 43),
    ("String Ensemble", 48),
    ("Trumpet", 56),
    ("Trombone", 57),
    ("French Horn", 60),
    ("Oboe", 68),
    ("English Horn", 69),
    ("Bassoon", 70),
    ("Clarinet", 71),
    ("Flute", 73),
    ("Recorder", 74),
    ("Pan Flute", 75),
    ("Bagpipe", 109),
    ("Fiddle", 110),
)
MODELS = ("lstm", "transformer", "rnn", "gan")
PRIMERS = (("none", "none"), ("a corpus piece", "corpus"), ("an uploaded file", "upload"))


class SamplerControls(w.VBox):
    """Model, style, temperature, top-k/top-p, bars, tempo, instruments, seed, candidates and primer.

    The widgets are attributes (``controls.temperature.value = 0.8``); :meth:`settings` reads them all and
    :meth:`apply` sets them from a take's settings.
    """

    def __init__(
        self, *, model: str = "lstm", style: str = "chorale", styles=("chorale", "folk", "irish", "renaissance")
    ):
        self.model = w.Dropdown(options=MODELS, value=model, description="model", **_small())
        self.style = w.Dropdown(options=list(styles), value=style, description="style", **_small())
        self.temperature = w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="temperature", **_slider())
        self.top_k = w.IntSlider(value=0, min=0, max=40, description="top-k (0 off)", **_slider())
        self.top_p = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p (1 off)", **_slider())
        self.bars = w.IntSlider(value=8, min=1, max=64, description="bars", **_slider())
        self.tempo = w.IntSlider(value=80, min=30, max=240, description="tempo (qpm)", **_slider())
        self.seed = w.BoundedIntText(
            value=0,
            min=0,
            max=2**31 - 1,
            description="seed",
            style={"description_width": "90px"},
            layout=w.Layout(width="190px"),
        )
        self.new_seed = w.Button(description="new seed", icon="random", layout=w.Layout(width="110px"))
        self.lock_seed = w.ToggleButton(
            value=False,
            description="lock",
            icon="lock",
            layout=w.Layout(width="80px"),
            tooltip="keep this seed: the same settings replay the same take",
        )
        self.candidates = w.IntSlider(value=1, min=1, max=8, description="candidates", **_slider())
        self.primer = w.Dropdown(options=PRIMERS, value="none", description="primer", **_small())
        self.primer_piece = w.Combobox(
            placeholder="corpus piece, e.g. bach/bwv66.6.mxl", description="piece", ensure_option=False, **_small()
        )
        self.primer_bars = w.IntSlider(value=2, min=1, max=16, description="primer bars", **_slider())
        self.upload = w.FileUpload(accept=".mid,.midi,.musicxml,.xml,.mxl,.abc", multiple=False, description="upload")
        self.instruments = w.VBox()
        self.continue_bars = w.IntSlider(value=4, min=1, max=32, description="continue by", **_slider())
        self.new_seed.on_click(lambda _: self.roll_seed())
        self.primer.observe(lambda _: self._show_primer_fields(), names="value")
        super().__init__(
            [
                self.model,
                self.style,
                self.temperature,
                self.top_k,
                self.top_p,
                self.bars,
                self.tempo,
                w.HBox([self.seed, self.new_seed, self.lock_seed]),
                self.candidates,
                w.HTML("<b>instruments</b>"),
                self.instruments,
                self.primer,
                self.primer_piece,
                self.primer_bars,
                self.upload,
            ]
        )
        self._show_primer_fields()

    def set_parts(self, parts: list[tuple[str, int]]) -> None:
        """One instrument menu per part: ``parts`` is ``[(name, program), ...]``."""
        menus = []
        for name, program in parts:
            options = list(INSTRUMENTS)
            if program not in dict(INSTRUMENTS).values():
                options.append((f"GM program {program}", program))
            menus.append(w.Dropdown(options=options, value=program, description=name, **_small()))
        self.instruments.children = menus

    @property
    def programs(self) -> list[int]:
        return [menu.value for menu in self.instruments.children]

    def roll_seed(self) -> int:
        """Draw a fresh seed (from a private generator: the global random state is never touched)."""
        self.seed.value = _SEEDS.randrange(2**31)
        return self.seed.value

    def settings(self) -> dict:
        """Every control's value as a plain dict."""
        return {
            "model": self.model.value,
            "style": self.style.value,
            "temperature": float(self.temperature.value),
            "top_k": int(self.top_k.value),
            "top_p": float(self.top_p.value),
            "bars": int(self.bars.value),
            "tempo": int(self.tempo.value),
            "programs": self.programs,
            "seed": int(self.seed.value),
            "n": int(self.candidates.value),
            "primer": self.primer.value,
            "primer_piece": self.primer_piece.value,
            "primer_bars": int(self.primer_bars.value),
        }

    def apply(self, settings: dict) -> None:
        """Set the controls from a take's settings (so Generate makes the same take again)."""
        for key in (
            "model",
            "style",
            "temperature",
            "top_k",
            "top_p",
            "bars",
            "tempo",
            "seed",
            "primer",
            "primer_piece",
            "primer_bars",
        ):
            if key in settings:
                getattr(self, key).value = settings[key]
        self.candidates.value = settings.get("n", 1)
        for menu, program in zip(self.instruments.children, settings.get("programs", [])):
            menu.value = program
        self.lock_seed.value = True

    def _show_primer_fields(self) -> None:
        kind = self.primer.value
        self.primer_piece.layout.display = "" if kind == "corpus" else "none"
        self.upload.layout.display = "" if kind == "upload" else "none"
        self.primer_bars.layout.display = "none" if kind == "none" else ""


_SEEDS = random.Random()


def _small() -> dict:
    # a new Layout for every widget: a shared one would let one widget's display="none" hide them all
    return {"style": {"description_width": "90px"}, "layout": w.Layout(width="320px")}


def _slider() -> dict:
    return {"continuous_update": False, **_small()}
