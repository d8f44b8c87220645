"""Engraved scores: Piece -> MusicXML (music21) -> SVG (verovio), with no MuseScore or network.

Parts, clefs, key and time signatures come from the MusicXML that :func:`musewidgets.io.to_musicxml` writes;
verovio lays it out in systems of the width you ask for.
"""

from __future__ import annotations

import threading
from functools import cache

from .piece import Piece

__all__ = ["join_pages", "to_svg"]

_LOCK = threading.Lock()  # one verovio toolkit, used by one thread at a time


@cache
def _toolkit():
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    return verovio.toolkit()


def to_svg(piece: Piece, *, width: int = 800, scale: int = 40, title: bool = True) -> list[str]:
    """Engrave a piece.

    Parameters
    ----------
    piece : Piece
    width : int, default 800
        Width of each page in pixels; systems break to fit it.
    scale : int, default 40
        Size of the notation in percent of verovio's default (40 suits a notebook).
    title : bool, default True
        Print the piece's title above the first system.

    Returns
    -------
    list of str
        One SVG document per page; a page is as tall as its systems need, so short pieces take one page. Element
        ids are seeded, so the same piece gives the same SVG text.
    """
    if not (isinstance(width, int) and 100 <= width <= 20_000):
        raise ValueError(f"`width` must be an integer number of pixels from 100 to 20000, got {width!r}")
    if not (isinstance(scale, int) and 5 <= scale <= 200):
        raise ValueError(f"`scale` must be an integer percentage from 5 to 200, got {scale!r}")
    from .io import to_musicxml

    xml = to_musicxml(piece if title else piece.replace(title=" "))
    options = {
        "pageWidth": width * 100 // scale,
        "pageHeight": 60_000,  # verovio's maximum: most pieces fit one page
        "adjustPageHeight": True,
        "scale": scale,
        "breaks": "auto",
        "footer": "none",
        "header": "auto" if title else "none",
        "xmlIdSeed": 1,
    }
    with _LOCK:
        tk = _toolkit()
        tk.resetOptions()
        tk.setOptions(options)
        if not tk.loadData(xml):
            raise RuntimeError("verovio could not load the MusicXML that music21 wrote")
        return [tk.renderToSVG(page) for page in range(1, tk.getPageCount() + 1)]


def join_pages(pages: list[str]) -> str:
    """Stack SVG pages vertically into one SVG document (for saving a multi-page score to one file)."""
    if len(pages) == 1:
        return pages[0]
    import re

    sizes = [tuple(float(v) for v in re.search(r'width="([\d.]+)px" height="([\d.]+)px"', p).groups()) for p in pages]
    width = max(w for w, _ in sizes)
    height = sum(h for _, h in sizes)
    body, y = [], 0.0
    for page, (_, h) in zip(pages, sizes):
        inner = page.split("?>", 1)[-1] if page.startswith("<?xml") else page
        body.append(f'<g transform="translate(0,{y:g})">{inner}</g>')
        y += h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width:g}px" height="{height:g}px">' + "".join(body) + "</svg>"
    )
