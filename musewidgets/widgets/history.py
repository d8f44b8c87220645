"""The Workbench's memory: the session on disk (autosave, restore, earlier sessions) and the listener's taste.

Every take is saved as it is made (MIDI, settings and notes; stars, ratings and the selection follow) into a
:class:`~musewidgets.session.Session`, whose takes :meth:`History.restore` brings back after a kernel restart. Like /
Dislike on a take teach :attr:`History.taste` (a :class:`~musewidgets.analysis.taste.TasteModel`), which orders the
candidates of the next generations best-liked first; with ``taste_file`` the taste is loaded from and saved to that
JSON file after every rating.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import ipywidgets as w

from ..errors import MusewidgetsError
from .controls import Menu
from .jobs import Jobs
from .status import StatusLine
from .takes import Take, TakeList

__all__ = ["History"]


class History:
    """The session the takes are saved into, the earlier sessions to restore, and the taste.

    Parameters
    ----------
    take_list : TakeList
        The takes to save and rate.
    status : StatusLine
        Where problems are reported.
    jobs : Jobs
        While a job runs, nothing is autosaved (the job saves once its take is made).
    taste_file, session
        As for :class:`~musewidgets.widgets.Workbench`. A damaged taste file raises
        :class:`~musewidgets.errors.MusewidgetsError` (before the session's folder is made).
    """

    def __init__(self, take_list: TakeList, status: StatusLine, jobs: Jobs, *, taste_file=None, session=None):
        from ..analysis.taste import FEATURE_NAMES, TasteModel
        from ..session import Session

        self.take_list = take_list
        self.status = status
        self.jobs = jobs
        self.taste_file = None if taste_file is None else Path(taste_file)
        self.taste = TasteModel(FEATURE_NAMES)
        if self.taste_file is not None and self.taste_file.exists():
            try:
                self.taste = TasteModel.from_dict(json.loads(self.taste_file.read_text()))
            except ValueError as err:  # a damaged file is reported, never silently replaced
                raise MusewidgetsError(f"{self.taste_file}: not a saved taste ({err})") from err
        self.reset_taste_button = w.Button(
            description="Reset taste", icon="undo", tooltip="forget every like and dislike"
        )
        self.session = None if session is False else Session.new() if session is None else Session.named(session)
        self.sessions_menu = Menu(  # "none saved yet" (None) shown as chosen
            description="earlier sessions", style={"description_width": "initial"}, layout=w.Layout(width="auto")
        )
        self.restore_button = w.Button(
            description="Restore", icon="history", tooltip="bring back the takes of the session chosen on the left"
        )
        self.session_label = w.HTML()
        self.reset_taste_button.on_click(status.guard(lambda _: self.reset_taste()))
        self.restore_button.on_click(status.guard(lambda _: self.restore(self.sessions_menu.value)))

    # ------------------------------------------------------------------ the taste
    def rate(self, rating: int) -> Take:
        """Like (+1) or dislike (-1) the selected take: the taste model learns from it (and is saved, with a
        ``taste_file``). Every press is one more rating."""
        if rating not in (-1, 1):
            raise ValueError(f"`rating` must be 1 (like) or -1 (dislike), got {rating!r}")
        take = self.take_list.current
        if take is None:
            raise MusewidgetsError("select a take to rate first")
        from ..analysis.taste import piece_features

        self.taste.rate(piece_features(take.piece), liked=rating > 0)
        self.take_list.rate(rating)
        self._save_taste()
        self.status.say(f"Take #{take.id} {'liked' if rating > 0 else 'disliked'}; {self._taste_words()}")
        return take

    def reset_taste(self) -> None:
        """Forget every like and dislike (and save the empty taste, with a ``taste_file``)."""
        self.taste.reset()
        self._save_taste()
        self.autosave()
        self.status.say("Taste reset: candidates come in the order they were sampled.")

    def rank(self, pieces) -> list[int]:
        """Candidate indices, best-liked first by :attr:`taste` (sampling order without ratings or candidates)."""
        if len(pieces) < 2 or not self.taste.n_ratings or any(p.n_notes == 0 for p in pieces):
            return list(range(len(pieces)))
        from ..analysis.taste import piece_features

        return [int(i) for i in self.taste.rank([piece_features(p) for p in pieces])]

    def _save_taste(self) -> None:
        if self.taste_file is not None:
            tmp = self.taste_file.with_name(self.taste_file.name + ".tmp")
            tmp.write_text(json.dumps(self.taste.to_dict()))
            tmp.replace(self.taste_file)

    def _taste_words(self) -> str:
        t = self.taste
        liked = ", ".join(f"{'more' if w > 0 else 'less'} {n.replace('_', ' ')}" for n, w in t.explain(2))
        what = f": you seem to like {liked}" if liked else ""
        return f"{t.n_ratings} rating{'s' * (t.n_ratings != 1)} so far{what}. Candidates are ranked by your taste."

    # ------------------------------------------------------------------ the session on disk
    def restore(self, session=None) -> list[Take]:
        """Bring back the takes of a saved session before the takes made since, and save into it from now on; see
        :meth:`Workbench.restore <musewidgets.widgets.Workbench.restore>`."""
        from ..analysis.taste import TasteModel
        from ..session import Session, list_sessions

        if session is None:
            earlier = [s for s in list_sessions() if self.session is None or s.folder != self.session.folder]
            if not earlier:
                raise MusewidgetsError("no earlier session with takes to restore")
            session = earlier[0].folder
        target = session if isinstance(session, Session) else Session.named(session)
        current = list(self.take_list.takes)
        takes, selected, taste, problems = target.load(taken={t.id for t in current})
        if not takes:
            raise MusewidgetsError(f"no takes to restore in {target.folder}" + "".join(f"; {p}" for p in problems))
        if taste and not self.taste.n_ratings and self.taste_file is None:
            try:
                self.taste = TasteModel.from_dict(taste)
            except ValueError as err:
                problems.append(f"the saved taste was skipped ({err})")
        old = self.session
        if old is not None:
            self.session = target  # from now on the history is saved there
        self.take_list.takes = [*takes, *current]
        restored = {t.id for t in takes}
        self.take_list.selected = selected if selected in restored else takes[-1].id
        problems += self.save()
        if old is not None and old.folder != target.folder and not problems:
            old.discard()  # its takes are all in the restored session now
        self.list_sessions()
        words = f"Restored {len(takes)} take{'s' * (len(takes) != 1)} from {html.escape(target.folder.name)}."
        self.status.say(words + "".join(f" ⚠ {html.escape(p)}." for p in problems), error=bool(problems))
        return takes

    def save(self) -> list[str]:
        """Save what changed in the history; the problems in plain words (nothing is raised)."""
        if self.session is None:
            return []
        takes, selected = list(self.take_list.takes), self.take_list.selected
        problems = self.session.sync(takes, selected, self.taste.to_dict())
        if self.session.renumbered:  # another kernel saves into this session too: its takes kept their numbers
            moved = self.session.renumbered
            self.take_list.refresh()
            self.take_list.selected = moved.get(selected, selected)
            problems += self.session.sync(takes, self.take_list.selected, self.taste.to_dict())  # the selection
        return problems

    def autosave(self) -> None:
        """After a star, a rating, a deletion or a selection (a job saves once its take is made)."""
        if self.jobs.busy:
            return
        self.report(self.save())

    def report(self, problems: list[str]) -> None:
        """Say what could not be saved, if anything."""
        if problems:
            self.status.say(
                f"⚠ Not saved: {html.escape(problems[0])}; your takes stay here until the kernel stops.", True
            )

    def list_sessions(self) -> None:
        """The earlier sessions to restore, latest first, and where this one is saved."""
        from ..session import list_sessions

        here = None if self.session is None else self.session.folder
        earlier = [(s.label, s.folder) for s in list_sessions() if s.folder != here]
        options = earlier or [("none saved yet", None)]
        if list(self.sessions_menu.options) != options:
            self.sessions_menu.options = options
        self.restore_button.disabled = not earlier
        where = f"saved as they are made in <code>{html.escape(str(here))}</code>" if here else "kept in memory only"
        self.session_label.value = f"<small>Takes are {where}.</small>"
