"""Where training data come from, each as :class:`~musewidgets.piece.Piece` s or arrays ready for a model.

=====================  ===============================================================================
``corpus``             the named styles of music21's bundled corpus, cached, with seeded splits (:func:`load_style`)
``store``              a token store of the user's own music on disk (:class:`TokenStore`), read window by window
``preparation``        a folder of MIDI / MusicXML / ABC files into a token store (:func:`prepare`), in parallel
``midi``               bulk MIDI reading through symusic, for ``preparation``
``frames``             the polyphonic-music benchmarks' ``.mat`` files as binary frames (:func:`load_frame_dataset`)
=====================  ===============================================================================

Nothing here imports torch, and the modules load on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {  # name -> module that defines it
    "Corpus": "corpus",
    "Style": "corpus",
    "load_style": "corpus",
    "split_of": "corpus",
    "styles": "corpus",
    "FrameDataset": "frames",
    "load_frame_dataset": "frames",
    "StoreError": "store",
    "StoreReport": "store",
    "TokenStore": "store",
    "prepare": "preparation",
    "read_midi_fast": "midi",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
