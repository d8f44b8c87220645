"""The exceptions musewidgets raises on bad input, all under one base class.

Catch :class:`MusewidgetsError` to handle every problem this package reports about its input; each subclass also
derives from the built-in exception that fits it (``ValueError``, ``KeyError``), so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "AudioBackendError",
    "CheckpointError",
    "MusewidgetsError",
    "MusicFileError",
    "QuantizationWarning",
    "SettingError",
    "UnknownStyleError",
]


class MusewidgetsError(Exception):
    """Base class of every error musewidgets raises about its input."""


class MusicFileError(MusewidgetsError, ValueError):
    """A music file could not be read or written: empty, truncated, not music, no notes, unsupported type.

    The message names the file and the reason; the parser's own exception, if any, is chained as ``__cause__``.
    """


class UnknownStyleError(MusewidgetsError, ValueError):
    """A style name that the corpus does not know; the message lists the known ones."""


class SettingError(MusewidgetsError, ValueError):
    """A Workbench control set (in code) outside its range or to a value it does not offer.

    The message names the control, the value and what it takes; the control keeps its value. (ipywidgets alone
    would move the value to the nearest end of the range without a word.)
    """


class AudioBackendError(MusewidgetsError, RuntimeError):
    """A sound backend is missing or failed; the message says what to install or which SoundFont is at fault."""


class CheckpointError(MusewidgetsError, ValueError):
    """A model checkpoint is missing, damaged, from another program, or carries code (which is never run)."""


class QuantizationWarning(UserWarning):
    """Reading a file moved notes onto the step grid (or dropped what the grid cannot hold)."""
