"""Views: each shows a Piece as a plain value (PNG, SVG, WAV) in a standard ipywidget.

Simple building blocks, each usable alone. The Workbench shows a take with :class:`~musewidgets.widgets.TakeView`
instead (roll, sound and score in one widget, with a playhead); it uses :class:`DownloadLinks` from here.
"""

from __future__ import annotations

import base64

import ipywidgets as w

from ..piece import Piece

__all__ = ["DownloadLinks", "PianoRollView", "Player", "ScoreView"]


class PianoRollView(w.Image):
    """The piano roll as a PNG in an ``ipywidgets.Image``."""

    def __init__(self, **kwargs):
        super().__init__(format="png", layout=w.Layout(max_width="100%"), **kwargs)

    def show(self, piece: Piece | None, *, width: float = 9.0, height: float = 3.2) -> None:
        from ..plotting import pianoroll_png

        self.value = b"" if piece is None else pianoroll_png(piece, width=width, height=height, title="")


class ScoreView(w.HTML):
    """The engraved score (verovio SVG), scrollable."""

    def __init__(self, **kwargs):
        super().__init__(layout=w.Layout(max_height="440px", overflow="auto", width="100%"), **kwargs)

    def show(self, piece: Piece | None, *, width: int = 760) -> None:
        from ..engraving import to_svg

        self.value = (
            "" if piece is None else "<div class='musewidgets-score'>" + "".join(to_svg(piece, width=width)) + "</div>"
        )


class Player(w.Audio):
    """An audio player (WAV); never autoplays or loops."""

    def __init__(self, **kwargs):
        super().__init__(format="wav", autoplay=False, loop=False, controls=True, **kwargs)

    def show(self, piece: Piece | None, programs=None) -> None:
        from ..audio import to_wav

        self.value = b"" if piece is None else to_wav(piece, programs=programs)


class DownloadLinks(w.HTML):
    """Links that download a piece as MIDI, MusicXML or WAV (made when shown, kept in the page)."""

    def show(self, piece: Piece | None, name: str = "take", formats=(".mid", ".musicxml", ".wav")) -> None:
        if piece is None:
            self.value = ""
            return
        from ..export import to_bytes

        mimes = {".mid": "audio/midi", ".musicxml": "application/vnd.recordare.musicxml+xml", ".wav": "audio/wav"}
        links = []
        for suffix in formats:
            data = base64.b64encode(to_bytes(piece, suffix)).decode("ascii")
            links.append(f"<a download='{name}{suffix}' href='data:{mimes[suffix]};base64,{data}'>{suffix[1:]}</a>")
        self.value = "download: " + " · ".join(links)
