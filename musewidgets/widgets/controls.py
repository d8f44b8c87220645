"""Sampler controls: everything that decides a take, and nothing that samples by itself.

Sliders use ``continuous_update=False`` and never trigger sampling: only the Generate and Continue buttons do, so
dragging a slider costs nothing. Every label shows in full (:data:`LABEL_WIDTH`), and no box scrolls on its own.

No silent clamping: a value set in code outside a control's range (``bars.value = 10000``, ``seed.value = 2**31``)
or not among its choices raises :class:`~musewidgets.errors.SettingError` naming the control and its range, and the
control keeps its value; ipywidgets alone would quietly move it to the nearest end. In the browser the sliders and
menus offer only valid values, and a seed typed past the end is corrected where the user sees it.

Seeds: every press of Generate draws a new seed (:meth:`SamplerControls.next_seed`), unless the seed is locked or
was just chosen (typed, set in code or drawn with "new seed"): a chosen seed is used by the next press.
"""

from __future__ import annotations

import random

import ipywidgets as w
import traitlets

from ..errors import SettingError
from ..piece import key_name

__all__ = ["INSTRUMENTS", "LABEL_WIDTH", "Menu", "SamplerControls"]

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
# ("any", None) then every major and minor key, C major, C minor, Db major, C# minor ...
KEYS = (("any (a key the style uses)", None),) + tuple(
    (name, name) for pc in range(12) for name in (key_name(pc, "major"), key_name(pc, "minor"))
)
ENDING_TIP = "end here: the last bar closes like the end of a piece; keep going: as if the music went on"
START_TIP = (
    "as the style's pieces do: a take starts with an upbeat as often as the style's pieces in its metre do (drawn "
    "from the seed; the GAN's on the downbeat); on the downbeat: always on the first beat of a full bar"
)
PRIMERS = (("none", "none"), ("a corpus piece", "corpus"), ("an uploaded file", "upload"))
# the guidance section: a slider per prior of musewidgets.sampling.guidance (1 as shipped, 0 off; docs/guidance.md)
GUIDE_TIPS = {
    "key": "a key asked for: the take is chosen among candidates heard in it; none asked: a key the style uses",
    "cadence": "the last bar closes on a final the style's pieces end on",
    "held_final": "the final chord is held through the last bar as often as in the style",
    "repeats": "bars return note for note as often as in the style's pieces",
    "style": "Irish takes are steered away from folk songs",
    "pitch": "Palestrina's takes choose among pitches at a lower temperature",
    "parallels": "parallel fifths and octaves cost",
    "grid": "the GAN's notes start where the style's notes start",
}
GUIDE_MAX = 4.0  # the sliders' top (code and the command line take up to 100)
# Room for every description in full: the longest, "tempo (qpm)", measures 85 px in DejaVu Sans at 13 px (92 px at
# 14 px), the widest of the fonts JupyterLab, Notebook 7 and Voila fall back to; 90 px cut it.
LABEL_WIDTH = 110  # px
CONTROL_WIDTH = 340  # px, label included
# The seed's box, its margin included: a seed has up to 10 digits, 95 px wide in DejaVu Sans at 13 px (80 px showed
# 8 of them). With the "new" and "lock" buttons the row takes 367 of the column's 380 px.
SEED_BOX_WIDTH = 118  # px


class SamplerControls(w.VBox):
    """Model, style, temperature, top-k/top-p, bars, key, metre, ending, start (an upbeat as the style's pieces have
    one, or the downbeat), tempo, instruments, seed, candidates, voice leading and primer.

    The widgets are attributes (``controls.temperature.value = 0.8``); :meth:`settings` reads them all and
    :meth:`apply` sets them from a take's settings.
    """

    def __init__(
        self, *, model: str = "lstm", style: str = "chorale", styles=("chorale", "folk", "irish", "renaissance")
    ):
        self.model = _Dropdown(options=MODELS, value=model, description="model", **_small())
        self.style = _Dropdown(options=list(styles), value=style, description="style", **_small())
        self.temperature = _FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="temperature", **_slider())
        self.top_k = _IntSlider(value=0, min=0, max=40, description="top-k (0 off)", **_slider())
        self.top_p = _FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p (1 off)", **_slider())
        self.bars = _IntSlider(value=8, min=1, max=64, description="bars", **_slider())
        self.tempo = _IntSlider(value=80, min=30, max=240, description="tempo (qpm)", **_slider())
        self._make_seed()
        self.candidates = _IntSlider(value=1, min=1, max=8, description="candidates", **_slider())
        self.voice_leading = _Dropdown(
            options=[("as the model plays", False), ("strict: no parallels", True)],
            value=False,
            description="voice leading",
            tooltip="strict: no parallel fifths or octaves, no crossing voices, no octave gaps between upper voices",
            **_small(),
        )
        self.key = _Dropdown(
            options=KEYS, description="key", tooltip="the key to compose in", **_small()
        )  # "any" first
        self.metre = _Dropdown(options=["4/4"], value="4/4", description="metre", **_small())
        self.ending = _Dropdown(
            options=[("end here", True), ("keep going", False)],
            value=True,
            description="ending",
            tooltip=ENDING_TIP,
            **_small(),
        )
        self.start = _Dropdown(
            options=[("as the style's pieces do", "style"), ("on the downbeat", "downbeat")],
            value="style",
            description="start",
            tooltip=START_TIP,
            **_small(),
        )
        self._make_primer()
        self._make_guidance()
        self.instruments = w.VBox(layout=w.Layout(overflow="visible"))
        self.continue_bars = _IntSlider(value=4, min=1, max=32, description="continue by", **_slider())
        self._seed_chosen = False  # the seed was set since the last press: that press uses it
        self.new_seed.on_click(lambda _: self.roll_seed())
        self.seed.observe(self._on_seed, names="value")
        self.primer.observe(lambda _: self._show_primer_fields(), names="value")
        super().__init__(self._rows(), layout=w.Layout(overflow="visible"))
        self._show_primer_fields()

    def _make_seed(self) -> None:
        """The seed, "new seed" and "lock"."""
        self.seed = _IntText(
            value=0,
            min=0,
            max=2**31 - 1,
            description="seed",
            tooltip="each press draws a new seed; a seed you type is used by the next press; lock it to keep it",
            style={"description_width": f"{LABEL_WIDTH}px"},
            layout=w.Layout(width=f"{LABEL_WIDTH + SEED_BOX_WIDTH}px"),
        )
        self.new_seed = w.Button(
            description="new", icon="random", tooltip="draw a new seed", layout=w.Layout(width="auto")
        )
        self.lock_seed = w.ToggleButton(
            value=False,
            description="lock",
            icon="lock",
            layout=w.Layout(width="65px"),
            tooltip="keep this seed: the same settings replay the same take",
        )

    def _make_primer(self) -> None:
        """The primer menu, and the fields of a corpus piece or an uploaded file to start from."""
        self.primer = _Dropdown(options=PRIMERS, value="none", description="primer", **_small())
        self.primer_piece = w.Combobox(
            placeholder="corpus piece, e.g. bach/bwv66.6.mxl", description="piece", ensure_option=False, **_small()
        )
        self.primer_bars = _IntSlider(value=2, min=1, max=16, description="primer bars", **_slider())
        self.upload = w.FileUpload(accept=".mid,.midi,.musicxml,.xml,.mxl,.abc", multiple=False, description="upload")
        self.upload_name = w.HTML(layout=w.Layout(margin="0 0 0 8px"))  # the uploaded file's name

    def _make_guidance(self) -> None:
        """The guidance section, closed at first: a slider per prior, and buttons for all as shipped or all off."""
        self.guide = {
            name: _FloatSlider(value=1.0, min=0.0, max=GUIDE_MAX, step=0.25, description=name, tooltip=tip, **_slider())
            for name, tip in GUIDE_TIPS.items()
        }
        shipped = w.Button(description="as shipped", tooltip="every prior at 1", layout=w.Layout(width="auto"))
        alone = w.Button(description="model alone", tooltip="every prior off", layout=w.Layout(width="auto"))
        shipped.on_click(lambda _: self.set_guide("on"))
        alone.on_click(lambda _: self.set_guide("off"))
        note = w.HTML("<small>1 as shipped, 0 off (docs/guidance.md)</small>")
        buttons = w.HBox([shipped, alone], layout=w.Layout(overflow="visible"))
        section = w.VBox([note, *self.guide.values(), buttons], layout=w.Layout(overflow="visible"))
        layout = w.Layout(width=f"{CONTROL_WIDTH + 30}px", overflow="visible")
        self.guidance = w.Accordion(children=[section], selected_index=None, layout=layout)
        self.guidance.set_title(0, "guidance")

    def guide_text(self) -> str:
        """The sliders as the text of a :class:`~musewidgets.sampling.guidance.Guidance` (``"on"``, ``"cadence=0"``)."""
        from ..sampling.guidance import Guidance

        return str(Guidance(**{name: float(s.value) for name, s in self.guide.items()}))

    def set_guide(self, text: str) -> None:
        """Set the guidance sliders from a Guidance's text (``"on"``, ``"off"``, ``"cadence=0"``)."""
        from ..sampling.guidance import Guidance

        for name, value in Guidance.parse(text).to_dict().items():
            self.guide[name].value = value

    def _rows(self) -> list:
        """The controls top to bottom (``continue_bars`` is laid out by the Workbench, under Continue)."""
        return [
            self.model,
            self.style,
            self.temperature,
            self.top_k,
            self.top_p,
            self.bars,
            self.key,
            self.metre,
            self.ending,
            self.start,
            self.tempo,
            w.HBox([self.seed, self.new_seed, self.lock_seed], layout=w.Layout(overflow="visible")),
            self.candidates,
            self.voice_leading,
            self.guidance,
            w.HTML("<b>instruments</b>"),
            self.instruments,
            self.primer,
            self.primer_piece,
            self.primer_bars,
            w.HBox([self.upload, self.upload_name], layout=w.Layout(align_items="center", overflow="visible")),
        ]

    def set_parts(self, parts: list[tuple[str, int]]) -> None:
        """One instrument menu per part: ``parts`` is ``[(name, program), ...]``."""
        menus = []
        for name, program in parts:
            options = list(INSTRUMENTS)
            if program not in dict(INSTRUMENTS).values():
                options.append((f"GM program {program}", program))
            menus.append(_Dropdown(options=options, value=program, description=name, **_small()))
        old, self.instruments.children = self.instruments.children, menus
        for menu in old:  # a widget not closed stays in ipywidgets' registry for good (3.6 a take, changing style)
            menu.layout.close()
            menu.style.close()
            menu.close()

    def set_metres(self, metres: list[str]) -> None:
        """The metres to choose from (the style's, its usual one first, and chosen)."""
        self.metre.options = list(metres)
        self.metre.value = metres[0]

    def allow_controls(self, allowed: bool, why: str = "") -> None:
        """Enable the key and ending menus, or set them to "any" and "end here" and disable them, ``why`` as tooltip."""
        if not allowed:
            self.key.value, self.ending.value = None, True
        self.key.disabled = self.ending.disabled = not allowed
        self.key.tooltip = "the key to compose in" if allowed else why
        self.ending.tooltip = ENDING_TIP if allowed else why

    @property
    def programs(self) -> list[int]:
        return [menu.value for menu in self.instruments.children]

    def roll_seed(self) -> int:
        """Draw a fresh seed (from a private generator: the global random state is never touched)."""
        self.seed.value = _SEEDS.randrange(2**31)
        return self.seed.value

    def next_seed(self) -> int:
        """The seed for the next press of Generate; the control is left as it is.

        The shown seed when it is locked or was chosen since the last press, else a fresh one (private generator).
        """
        if self.lock_seed.value or self._seed_chosen:
            return int(self.seed.value)
        return _SEEDS.randrange(2**31)

    def use_seed(self, seed: int) -> None:
        """Show the seed a press used; the next press draws a new one again (unless locked)."""
        self.seed.value = seed
        self._seed_chosen = False

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
            "strict": bool(self.voice_leading.value),
            "key": self.key.value,
            "metre": self.metre.value,
            "ending": bool(self.ending.value),
            "start": self.start.value,
            "guide": self.guide_text(),
            "primer": self.primer.value,
            "primer_piece": self.primer_piece.value,
            "primer_bars": int(self.primer_bars.value),
        }

    def apply(self, settings: dict) -> None:
        """Set the controls from a take's settings (so Generate makes the same take again) and lock the seed.

        All or nothing: a value a control refuses (:class:`~musewidgets.errors.SettingError`) leaves every control
        as it was.
        """
        before, locked, chosen = self.settings(), self.lock_seed.value, self._seed_chosen
        try:
            self._apply(settings)
        except Exception:
            self._apply(before)
            self.lock_seed.value, self._seed_chosen = locked, chosen
            raise
        self.lock_seed.value = True

    def offers_model(self, model) -> bool:
        """Whether ``model`` is in the model menu (a take made by hand or by the infill model names none of them)."""
        return model in self.model._options_values

    def apply_seed(self, seed: int, temperature: float | None = None) -> None:
        """Set and lock the seed (and the temperature, where given): what replays a take of the infill model.

        All or nothing: a value a control refuses (:class:`~musewidgets.errors.SettingError`) changes nothing.
        """
        before = (self.seed.value, self.temperature.value, self.lock_seed.value, self._seed_chosen)
        try:
            self.seed.value = seed
            if temperature is not None:
                self.temperature.value = temperature
        except Exception:
            self.seed.value, self.temperature.value, self.lock_seed.value, self._seed_chosen = before
            raise
        self.lock_seed.value = True

    def _apply(self, settings: dict) -> None:
        for key in (  # the tempo last: choosing a style or an uploaded primer proposes a tempo of its own
            "model",
            "style",
            "temperature",
            "top_k",
            "top_p",
            "bars",
            "seed",
            "primer",
            "primer_piece",
            "primer_bars",
            "key",
            "metre",
            "ending",
            "tempo",
        ):
            if key in settings and not getattr(self, key).disabled:
                getattr(self, key).value = settings[key]
        self.candidates.value = settings.get("n", 1)
        self.start.value = settings.get("start", "style")  # takes from before the menu started as the style does
        self.voice_leading.value = bool(settings.get("strict", False))
        self.set_guide(settings.get("guide", "on"))  # takes from before guidance strengths: as shipped
        for menu, program in zip(self.instruments.children, settings.get("programs", [])):
            menu.value = program

    def _on_seed(self, change) -> None:
        self._seed_chosen = True

    def _show_primer_fields(self) -> None:
        kind = self.primer.value
        self.primer_piece.layout.display = "" if kind == "corpus" else "none"
        self.upload.layout.display = self.upload_name.layout.display = "" if kind == "upload" else "none"
        self.primer_bars.layout.display = "none" if kind == "none" else ""


_SEEDS = random.Random()


class _InRange:
    """Refuse a value outside [min, max] with a SettingError (ipywidgets would clamp it silently)."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if not self.min <= value <= self.max:  # NaN fails too
            low, high = (f"{x:g}" if isinstance(x, float) else str(x) for x in (self.min, self.max))
            raise SettingError(f"{self.description} must be between {low} and {high}, got {value!r}")
        return value


class _FloatSlider(_InRange, w.FloatSlider):
    pass


class _IntSlider(_InRange, w.IntSlider):
    pass


class _IntText(_InRange, w.BoundedIntText):
    pass


class Menu(w.Dropdown):
    """A dropdown that always shows a choice: its option of value ``None`` ("any", "—") is a choice like the others,
    and new options, none of them chosen, choose the first.

    ipywidgets takes a value of None for "nothing chosen" and sends the page no index, so the browser showed a blank
    menu (``selectedIndex`` -1) where "any" was meant (issue 33), and a menu whose options came later stayed blank.
    """

    @traitlets.observe("value")
    def _propagate_value(self, change):
        if change["new"] is None and None in self._options_values:
            index = self._options_values.index(None)
            if self.index != index:
                self.index = index
            return
        super()._propagate_value(change)

    @traitlets.observe("options")
    def _propagate_options(self, change):
        super()._propagate_options(change)
        if self.value is None and self.index is None and self._options_values:  # nothing chosen: "any", else the first
            self.index = self._options_values.index(None) if None in self._options_values else 0


class _Dropdown(Menu):
    """Refuse a value that is not among the options with a SettingError listing them."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        try:
            return super()._validate_value(proposal)
        except traitlets.TraitError:
            offered = ", ".join(repr(v) for v in self._options_values[:12])
            more = ", ..." if len(self._options_values) > 12 else ""
            value = proposal["value"]
            raise SettingError(f"{self.description} cannot be {value!r}: choose one of {offered}{more}") from None


def _small() -> dict:
    # a new Layout for every widget: a shared one would let one widget's display="none" hide them all
    return {"style": {"description_width": f"{LABEL_WIDTH}px"}, "layout": w.Layout(width=f"{CONTROL_WIDTH}px")}


def _slider() -> dict:
    return {"continuous_update": False, **_small()}
