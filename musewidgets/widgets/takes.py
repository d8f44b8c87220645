"""Takes: every generation, with the exact settings and seed that made it, kept in a history."""

from __future__ import annotations

import re
from pathlib import PurePath

import ipywidgets as w
import traitlets

from ..session import Take
from .controls import Menu

__all__ = ["Take", "TakeList", "download_name"]


def download_name(take: Take) -> str:
    """The file name (without suffix) of a take's downloads: what it is, not only its number.

    ``chorale-lstm-seed1416484900-take12`` (style, model, seed, take), ``chorale-infill-harmonize-seed7-take9`` (a
    take of the infill model says what it did), ``chorale-lstm-edit-take15`` (hand edits: no seed made them),
    ``tune-take4`` (a file opened as a take). Only letters, digits and ``_ . + -``: a safe name on every system.
    """
    s = take.settings
    kind = s.get("kind")
    if kind == "file":
        parts = [PurePath(str(s.get("file") or "file")).stem]
    else:
        parts = [s.get("style") or take.piece.style or "", PurePath(str(s.get("model") or "")).stem]
        if kind in ("regenerate", "harmonize", "edit"):
            parts.append(kind)
        if kind != "edit" and s.get("seed") is not None:
            parts.append(f"seed{s['seed']}")
    parts.append(f"take{take.id}")
    words = (re.sub(r"[^A-Za-z0-9_.+]+", "-", str(p)).strip("-.") for p in parts)
    return "-".join(word for word in words if word)


class TakeList(w.VBox):
    """The history: select a take, star it, delete it, or pick two to compare.

    Traits: ``takes`` (list of :class:`Take`, oldest first) and ``selected`` (the selected take's id, or None).
    """

    takes = traitlets.List()
    selected = traitlets.Int(None, allow_none=True)

    def __init__(self, **kwargs):
        self.select = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.star_button = w.Button(description="Star", icon="star", tooltip="star or unstar the selected take")
        self.delete_button = w.Button(description="Delete", icon="trash", tooltip="delete the selected take")
        self.like_button = w.Button(
            description="Like", icon="thumbs-up", tooltip="I like this take (teaches the ranking)"
        )
        self.dislike_button = w.Button(
            description="Dislike", icon="thumbs-down", tooltip="I do not like this take (teaches the ranking)"
        )
        self.compare_with = Menu(  # "—" (None) shown as chosen, not a blank menu
            options=[],
            description="compare with",
            style={"description_width": "initial"},
            layout=w.Layout(width="auto"),
        )
        buttons = w.HBox(
            [self.star_button, self.delete_button, self.like_button, self.dislike_button],
            layout=w.Layout(overflow="visible", flex_flow="row wrap"),
        )
        super().__init__([w.HTML("<b>Takes</b>"), self.select, buttons, self.compare_with], **kwargs)
        self.add_class("mw-takes")
        self.select.observe(self._on_select, names="value")
        self.star_button.on_click(lambda _: self.toggle_star())
        self.delete_button.on_click(lambda _: self.delete())

    def add(self, *takes: Take) -> None:
        """Append takes (oldest first) and select the first of them: one change of ``selected``."""
        if takes:
            self.takes = [*self.takes, *takes]
            self.selected = takes[0].id

    def get(self, take_id: int | None) -> Take | None:
        return next((t for t in self.takes if t.id == take_id), None)

    @property
    def current(self) -> Take | None:
        return self.get(self.selected)

    def toggle_star(self) -> None:
        take = self.current
        if take is not None:
            take.starred = not take.starred
            self._refresh()

    def rate(self, rating: int) -> Take | None:
        """Set the selected take's rating (+1 like, -1 dislike, 0 none) and return it (None: nothing selected)."""
        if rating not in (-1, 0, 1):
            raise ValueError(f"`rating` must be -1, 0 or 1, got {rating!r}")
        take = self.current
        if take is not None:
            take.rating = rating
            self._refresh()
        return take

    def delete(self) -> None:
        take = self.current
        if take is None:
            return
        index = self.takes.index(take)
        rest = [t for t in self.takes if t.id != take.id]
        self.selected = rest[min(index, len(rest) - 1)].id if rest else None  # the neighbour, before it moves
        self.takes = rest

    @traitlets.observe("takes", "selected")
    def _on_change(self, change) -> None:
        self._refresh()

    def refresh(self) -> None:
        """Show every take's label again (after a take's id changed: another kernel saved into the session)."""
        self._refresh()

    def _refresh(self) -> None:
        options = [(t.label, t.id) for t in reversed(self.takes)]  # newest first
        self._refreshing = True  # changing the options moves the Select's value: that is not the user's choice
        try:
            with self.select.hold_sync():  # options and value reach the browser together, never a stale index
                self.select.options = options
                self.select.value = self.selected if self.get(self.selected) else None
            compared = self.compare_with.value
            with self.compare_with.hold_sync():
                self.compare_with.options = [("—", None)] + options
                self.compare_with.value = compared if self.get(compared) else None
        finally:
            self._refreshing = False

    _refreshing = False

    @property
    def refreshing(self) -> bool:
        """True while the menus are rebuilt: their value changes then are not the user's choice."""
        return self._refreshing

    def _on_select(self, change) -> None:
        if not self._refreshing and change["new"] is not None and change["new"] != self.selected:
            self.selected = change["new"]
