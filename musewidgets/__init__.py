"""musewidgets: a Jupyter workbench for composing with neural networks.

The light parts (the :class:`Piece` model, errors) load at once; file I/O, the corpus and everything that needs
music21, torch, matplotlib, verovio or ipywidgets load when first used, so ``import musewidgets`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import AudioBackendError, MusewidgetsError, MusicFileError, QuantizationWarning, UnknownStyleError
from .piece import Note, Part, Piece, concatenate

__version__ = "0.1.0"

# name -> module that defines it; imported on first access (PEP 562)
_LAZY = {
    "read": "io",
    "read_all": "io",
    "read_with_report": "io",
    "write": "io",
    "to_stream": "io",
    "from_stream": "io",
    "QuantizeReport": "io",
    "load_style": "datasets.corpus",
    "styles": "datasets.corpus",
    "Corpus": "datasets.corpus",
    "Style": "datasets.corpus",
    "show": "display",
    "render_audio": "audio",
    "to_wav": "audio",
    "to_svg": "engraving",
    "plot_pianoroll": "plotting",
    "pianoroll_png": "plotting",
    "save": "export",
    "Workbench": "widgets",
    "load_sampler": "sampling",
    "Guidance": "sampling",
}

__all__ = [
    "AudioBackendError",
    "MusewidgetsError",
    "MusicFileError",
    "Note",
    "Part",
    "Piece",
    "QuantizationWarning",
    "UnknownStyleError",
    "concatenate",
    *_LAZY,
]

if TYPE_CHECKING:  # pragma: no cover
    from .audio import render as render_audio  # noqa: F401
    from .audio import to_wav  # noqa: F401
    from .datasets.corpus import Corpus, Style, load_style, styles  # noqa: F401
    from .display import show  # noqa: F401
    from .engraving import to_svg  # noqa: F401
    from .export import save  # noqa: F401
    from .io import QuantizeReport, from_stream, read, read_all, read_with_report, to_stream, write  # noqa: F401
    from .plotting import pianoroll_png, plot_pianoroll  # noqa: F401
    from .sampling.sampler import load_sampler  # noqa: F401
    from .widgets import Workbench  # noqa: F401


_RENAMED = {"render_audio": "render"}  # public name -> name in its module


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'musewidgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
