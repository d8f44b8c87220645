"""The Workbench's status line: what it is doing, and every failure in plain words.

Every part of the Workbench reports here (:meth:`StatusLine.say`), and every callback of a button or a menu is wrapped
by :meth:`StatusLine.guard`, so that a failure is shown in the line instead of escaping into the notebook's log.
"""

from __future__ import annotations

import html

import ipywidgets as w

from ..errors import MusewidgetsError

__all__ = ["StatusLine", "count", "plain"]

RED = "#b00020"  # the colour of a failure


class StatusLine(w.HTML):
    """One line of HTML under the buttons (a dark grey sentence, or a red one for a failure)."""

    def __init__(self, **kwargs):
        super().__init__(layout=w.Layout(min_height="1.5em", width="100%"), **kwargs)

    def say(self, text: str, error: bool = False) -> None:
        """Show ``text`` (HTML: escape what the user typed or named), red when ``error``."""
        color = RED if error else "#333"
        self.value = f"<span style='color:{color}'>{text}</span>"

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


def plain(err: Exception) -> str:
    """An exception in plain words for the status line."""
    text = html.escape(str(err)) or type(err).__name__
    if isinstance(err, (MusewidgetsError, ValueError)):
        return f"⚠ {text}"
    return f"⚠ Something went wrong ({type(err).__name__}): {text}. Your takes are safe; try again."
