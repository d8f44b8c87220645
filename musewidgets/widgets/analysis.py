"""The analysis panel: what the project hears in a take.

For the take on show: the style classifier's probabilities (and "unsure" above them where the take is far from all
four styles or from the music the classifier learned: :mod:`musewidgets.analysis.unsure`), the mood (a rule-based
estimate, and it says so), every metric beside the range of real music of the style (10th to 90th percentile of real
excerpts as long as the take, up to 8 bars), the voice-leading faults (ringed on the Workbench's piano roll), the
longest passage it shares note for note with a training piece (:mod:`musewidgets.analysis.originality`), the Roman
numeral of every beat's chord (:mod:`musewidgets.analysis.harmony`), and the corpus pieces that sound most like it,
each playable in a small view. Everything shown is a plain value computed by :mod:`musewidgets.analysis`.
"""

from __future__ import annotations

import html
from functools import cache

import ipywidgets as w
import numpy as np

from ..piece import Piece

__all__ = ["AnalysisPanel", "fault_marks"]

# metrics shown, with a word for people; the rest of METRIC_NAMES stay in the scorecard
_SHOWN = {
    "pitch_range": "pitch range (semitones)",
    "n_pitch_classes_used": "pitch classes used",
    "pitch_class_entropy": "pitch-class entropy (bits)",
    "scale_consistency": "scale consistency",
    "polyphony": "polyphony",
    "notes_per_bar": "notes per bar",
    "empty_beat_rate": "empty beats",
    "groove_consistency": "groove consistency",
    "repeated_bars": "repeated bars",
    "tonic_ending": "ends on the tonic",
    "parallels_per_8_bars": "parallel 5ths/8ves per 8 bars",
    "crossings_per_8_bars": "voice crossings per 8 bars",
    "spacing_per_8_bars": "wide spacing per 8 bars",
    "out_of_range_per_8_bars": "notes out of range per 8 bars",
}


def fault_marks(piece: Piece, faults) -> list[tuple[int, int]]:
    """(step, pitch) of the notes each fault concerns: the sounding notes of its voices at its step."""
    marks = set()
    for f in faults:
        for v in set(f.voices):
            for n in piece.parts[v].notes:
                if n.start <= f.step < n.end:
                    marks.add((n.start, n.pitch))
    return sorted(marks)


def _close(widget) -> None:
    """Close a widget that is thrown away, with its layout and style (widgets of their own): an unclosed widget stays
    in ipywidgets' registry (``Widget.widgets``) for the rest of the kernel."""
    for part in (widget, getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, w.Widget):
            part.close()


@cache
def _real_ranges(style: str, bars: int) -> dict[str, tuple[float, float]]:
    from ..analysis.metrics import metrics
    from ..evaluation.scorecard import real_excerpts

    rows = [metrics(p) for p in real_excerpts(style, 64, bars, split="valid")]
    out = {}
    for k in _SHOWN:
        values = np.array([r[k] for r in rows], dtype=float)
        values = values[np.isfinite(values)]
        out[k] = (float(np.percentile(values, 10)), float(np.percentile(values, 90))) if len(values) else None
    return out


def _originality(piece: Piece, style: str | None) -> str:
    """The line on the longest passage the take shares note for note with a training piece of its style."""
    from ..analysis.originality import copied
    from ..datasets.corpus import STYLES

    if style not in STYLES:
        return ""
    found = copied(piece, style)
    return f"<div><b>Originality</b> (the longest passage found in a training piece): {html.escape(str(found))}</div>"


def _harmony(piece: Piece) -> str:
    """The Roman numerals of a take of several voices, bar by bar (a melody alone has no chords to name)."""
    from ..analysis.harmony import by_bar, roman_numerals

    if len(piece.parts) < 2:
        return ""
    labels = roman_numerals(piece)
    text = by_bar(labels) if labels else "no chords"
    return f"<div><b>Harmony</b> (Roman numerals in {html.escape(piece.key or 'its key')}): {html.escape(text)}</div>"


class AnalysisPanel(w.VBox):
    """Style, mood, metrics, faults and similar pieces of one piece; :meth:`show` fills it."""

    def __init__(self, **kwargs):
        from .player import TakeView

        self.summary = w.HTML()
        self.similar_button = w.Button(
            description="Find similar pieces",
            icon="search",
            tooltip="the corpus pieces that sound most like this",
            layout=w.Layout(width="auto"),  # the default 148 px cut the words ("Find similar pi...")
        )
        self.similar_box = w.HBox(layout=w.Layout(flex_flow="row wrap", overflow="visible"))
        self.similar_view = TakeView(
            roll_width=7.0, roll_height=2.4, score=False, layout=w.Layout(display="none", overflow="visible")
        )
        self.similar_button.on_click(lambda _: self._guarded(self.find_similar))
        super().__init__([self.summary, self.similar_button, self.similar_box, self.similar_view], **kwargs)
        self.add_class("mw-analysis")
        self.piece: Piece | None = None
        self.style: str | None = None
        self.faults: list = []
        self.neighbours: list = []

    def show(self, piece: Piece | None, style: str | None = None) -> None:
        """Analyse ``piece`` (requested ``style``: the metrics are set beside its real range); None clears."""
        self.piece, self.style, self.neighbours = piece, style, []
        self._set_similar(())
        self.similar_view.layout.display = "none"
        if piece is None or piece.n_notes == 0:
            self.faults = []
            self.summary.value = "" if piece is None else "<i>No notes to analyse.</i>"
            return
        from ..analysis.classifier import load_classifier
        from ..analysis.metrics import metrics
        from ..analysis.mood import DISCLAIMER, estimate_mood
        from ..analysis.unsure import unsure_score
        from ..analysis.voice_leading import faults

        classifier = load_classifier()
        probs, unsure = classifier.classify(piece), unsure_score(piece, classifier)
        origin = _originality(piece, style or piece.style)
        chords = _harmony(piece)
        mood = estimate_mood(piece)
        values = metrics(piece)
        self.faults = faults(piece)
        ranges = _real_ranges(style, max(1, min(8, piece.n_bars))) if style else {}
        bars = "".join(
            f"<div>{html.escape(s)} <span style='display:inline-block;height:0.7em;width:{p * 120:.0f}px;"
            f"background:#0072B2'></span> {p:.0%}</div>"
            for s, p in probs.items()
        )
        rows = []
        for k, label in _SHOWN.items():
            v, r = values[k], ranges.get(k)
            odd = r is not None and np.isfinite(v) and not (r[0] - 1e-9 <= v <= r[1] + 1e-9)
            real = f"{r[0]:.2f} – {r[1]:.2f}" if r else "–"
            cell = "–" if not np.isfinite(v) else f"{v:.2f}"
            style_attr = " style='color:#b00020'" if odd else ""
            rows.append(f"<tr><td>{label}</td><td{style_attr}>{cell}</td><td>{real}</td></tr>")
        kinds: dict[str, int] = {}
        for f in self.faults:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        fault_text = ", ".join(f"{n} {k}{'s' * (n > 1)}" for k, n in kinds.items()) or "none"
        doubt = (
            f"<div style='color:#b00020'>Unsure ({unsure:.2f}): far from all four styles, or from the music the "
            "classifier learned; its guesses below are not to be trusted</div>"
            if unsure > 1
            else ""
        )
        self.summary.value = (
            f"<b>Style</b> (classifier){doubt}{bars}"
            f"<b>Mood</b>: {html.escape(mood.word)} (valence {mood.valence:+.2f}, arousal {mood.arousal:+.2f})"
            f"<div style='font-size:small;color:#555'>{html.escape(DISCLAIMER)}</div>"
            f"<b>Voice-leading faults</b> (ringed on the roll): {fault_text}"
            f"{origin}{chords}"
            f"<table class='mw-metrics'><tr><th>metric</th><th>this take</th>"
            f"<th>real {html.escape(style or '')}</th></tr>{''.join(rows)}</table>"
        )

    def show_error(self, text: str) -> None:
        """Show ``text`` (HTML-escaped already) instead of an analysis."""
        self.piece, self.faults, self.neighbours = None, [], []
        self._set_similar(())
        self.similar_view.layout.display = "none"
        self.summary.value = f"<span style='color:#b00020'>{text}</span>"

    def find_similar(self, k: int = 5) -> list:
        """Look up the ``k`` corpus pieces nearest the piece on show and list them as buttons that play them."""
        from ..analysis.similarity import similar

        if self.piece is None or self.piece.n_notes == 0:
            return []
        self.neighbours = similar(self.piece, k, progress=False)
        buttons = []
        for nb in self.neighbours:
            b = w.Button(
                description=f"{nb.style}: {nb.id}"[:40],
                tooltip=f"{nb} — play it",
                icon="play",
                layout=w.Layout(width="auto"),
            )
            b.on_click(lambda _, nb=nb: self._guarded(lambda: self.play(nb)))
            buttons.append(b)
        self._set_similar(buttons)
        return self.neighbours

    def play(self, neighbour) -> None:
        """Show and load a similar corpus piece (its first 8 bars) in the panel's small view."""
        from ..datasets.corpus import load_style

        piece = load_style(neighbour.style, progress=False).get(neighbour.id)
        piece = piece.slice_bars(0, min(8, piece.n_bars)) if piece.n_bars > 8 else piece
        self.similar_view.show(piece, label=f"{neighbour.style}: {neighbour.id} (similarity {neighbour.score:.2f})")
        self.similar_view.layout.display = ""

    def _guarded(self, fn) -> None:
        try:
            fn()
        except Exception as err:  # shown in the panel; the Workbench and its takes carry on
            self._set_similar([w.HTML(f"<span style='color:#b00020'>⚠ {html.escape(str(err))}</span>")])

    def _set_similar(self, children) -> None:
        """Put ``children`` in the similar-pieces row and close the widgets they replace (every search makes new
        buttons: unclosed, they would stay open for the rest of the kernel)."""
        old = self.similar_box.children
        self.similar_box.children = tuple(children)
        for child in old:
            if child not in self.similar_box.children:
                _close(child)
