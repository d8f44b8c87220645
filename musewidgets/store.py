"""Deprecated: the token store moved to :mod:`musewidgets.datasets.store`, its preparation to
:mod:`musewidgets.datasets.preparation` and the fast MIDI reader to :mod:`musewidgets.datasets.midi`; importing this
name warns and gives their public names."""

from ._moved import warn

warn(__name__)

from .datasets.midi import read_midi_fast  # noqa: E402
from .datasets.preparation import open_or_prepare, prepare  # noqa: E402
from .datasets.store import *  # noqa: E402, F403
from .datasets.store import __all__ as _store_all  # noqa: E402

__all__ = [*_store_all, "open_or_prepare", "prepare", "read_midi_fast"]
