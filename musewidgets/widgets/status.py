"""The Workbench's status line: what it is doing, and every failure in plain words.

Every part of the Workbench reports here (:meth:`StatusLine.say`), and every callback of a button or a menu is wrapped
by :meth:`StatusLine.guard`, so that a failure is shown in the line instead of escaping into the notebook's log.
The line speaks as a musician would (bars, notes, keys, note names such as C4); how long the computer took goes to its
details, a tooltip (``details``).
"""

from __future__ import annotations

import html

import ipywidgets as w

from ..errors import MusewidgetsError

__all__ = ["StatusLine", "count", "interval_words", "plain", "seconds_words"]

RED = "#b00020"  # the colour of a failure


class StatusLine(w.HTML):
    """One line of HTML under the buttons (a dark grey sentence, or a red one for a failure)."""

    def __init__(self, **kwargs):
        super().__init__(layout=w.Layout(min_height="1.5em", width="100%"), **kwargs)
        self.details = ""  # what the line's tooltip says (plain text): timings, for the curious

    def say(self, text: str, error: bool = False, details: str = "") -> None:
        """Show ``text`` (HTML: escape what the user typed or named), red when ``error``; ``details`` (plain text,
        e.g. how long it took) is its tooltip."""
        color = RED if error else "#333"
        self.details = details
        tip = f" title='{html.escape(details, quote=True)}'" if details else ""
        self.value = f"<span style='color:{color}'{tip}>{text}</span>"

    def fail(self, err: Exception) -> None:
        """Show ``err`` in plain words, in red."""
        self.say(plain(err), error=True)

    def guard(self, fn):
        """Wrap a callback so that any failure is shown in the status line instead of escaping."""

        def wrapped(*args):
            try:
                return fn(*args)
            except Exception as err:
                self.fail(err)

        return wrapped


def count(n: int, word: str) -> str:
    """'1 part', '4 parts'."""
    return f"{n} {word}{'s' * (n != 1)}"


def seconds_words(seconds: float) -> str:
    """'0.4 s', '3.1 s', '12 s': a time for the details of a status line."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


_INTERVALS = (
    "a unison",
    "a semitone",
    "a whole tone",
    "a minor third",
    "a major third",
    "a fourth",
    "a tritone",
    "a fifth",
    "a minor sixth",
    "a major sixth",
    "a minor seventh",
    "a major seventh",
    "an octave",
)


def interval_words(semitones: int) -> str:
    """A distance in semitones as a musician names it: 'a minor third', 'an octave', 'two octaves and a fifth'."""
    n = abs(int(semitones))
    octaves, rest = divmod(n, 12)
    if octaves == 0 or (octaves == 1 and rest == 0):
        return _INTERVALS[n]
    times = ("an", "two", "three", "four")[octaves - 1] if octaves <= 4 else str(octaves)
    many = f"{times} octave{'s' * (octaves > 1)}"
    return many if rest == 0 else f"{many} and {_INTERVALS[rest]}"


def plain(err: Exception) -> str:
    """An exception in plain words for the status line."""
    text = html.escape(str(err)) or type(err).__name__
    if isinstance(err, (MusewidgetsError, ValueError)):
        return f"⚠ {text}"
    return f"⚠ Something went wrong ({type(err).__name__}): {text}. Your takes are safe; try again."
