"""The stage: every view of the Workbench's selected take, kept in step with the selection.

One take drives the views: the selected one (``TakeList.selected``). Every update goes through :meth:`Stage.show`
(the take's roll in the roll editor, its sound, score and caption in the :class:`TakeView`) or
:meth:`Stage.draw_progress` (the roll of a piece being sampled). The roll editor is the take's only piano roll: the
view draws none, and the two are linked, so that the editor draws the playhead of the view's sound. The caption is the
take's label; starring the take changes the label, and only the caption is updated (nothing is drawn again).
Selecting a take while a job runs shows it at once, and the roll stops following the sampling; a finished job selects
(and shows) its new take.

"Analyse" opens :class:`AnalysisPanel` under the view for the take on show (style, mood, metrics beside real music,
voice-leading faults ringed on the roll editor, similar corpus pieces); it is computed only while open, so Generate
stays instant. "compare with" shows the selected take beside another, each in a small TakeView (roll and sound, no
score).
"""

from __future__ import annotations

import threading

import ipywidgets as w

from .analysis import AnalysisPanel, fault_marks
from .editor import RollEditor
from .player import TakeView
from .status import StatusLine, plain
from .takes import Take, TakeList
from .views import DownloadLinks

__all__ = ["PARTIAL", "Stage"]

PARTIAL = -1  # Stage.shown_id while the roll shows a piece being sampled
_COMPARE_ROLL = {"roll_width": 5.5, "roll_height": 2.6}  # inches: two rolls side by side


class Stage:
    """The views of the selected take: the roll editor (its piano roll), :class:`TakeView` (sound, score), the download
    links, the analysis panel and the compare area.

    Parameters
    ----------
    take_list : TakeList
        The history whose selected take the views show.
    status : StatusLine
        Where failures of the Analyse button are reported.
    """

    def __init__(self, take_list: TakeList, status: StatusLine):
        self.take_list = take_list
        self.view = TakeView(roll=False, layout=w.Layout(min_width="0", overflow="visible"))  # sound, score
        self.editor = RollEditor(layout=w.Layout(width="100%", min_width="0", overflow="visible"))  # the roll
        self.view.link = self.editor.link = f"take-{self.view.model_id}"  # the editor draws the view's playhead
        self.downloads = DownloadLinks()
        self.compare_area = w.HBox(layout=w.Layout(overflow="visible"))
        self.analyse_button = w.ToggleButton(
            description="Analyse", icon="stethoscope", tooltip="style, mood, metrics, faults and similar pieces"
        )
        self.analysis = AnalysisPanel(layout=w.Layout(display="none", overflow="visible"))
        self.follows = False  # the roll draws the piece being sampled (until a take is selected)
        self._lock = threading.RLock()  # one view update at a time: the job's thread and the user's clicks
        self._shown_id: int | None = None  # the take every view shows (None: none; PARTIAL: being sampled)
        self._compared: tuple | None = None  # (take id, take id) in the compare area
        self._compare_views: list[tuple[Take, TakeView]] = []  # the compare area's views and the takes they show
        self.analyse_button.observe(status.guard(lambda _: self._on_analyse()), names="value")

    @property
    def shown_id(self) -> int | None:
        """The id of the take every view shows (None: none; :data:`PARTIAL`: a piece being sampled)."""
        return self._shown_id

    def show(self, take: Take | None) -> None:
        """Show ``take`` (None: nothing): its roll in the editor, its sound, score and label in the view; the download
        links are cleared.

        The take's piece carries the chosen instruments, so the sound needs no ``programs``.
        """
        with self._lock:
            self._shown_id = PARTIAL  # until the view shows it all
            marks = self._analyse(take)
            self.editor.show(None if take is None else take.piece, marks=marks)
            if take is None:
                self.view.show(None)
            else:
                self.view.show(take.piece, label=take.label, programs=None)
            self.downloads.show(None)
            self._shown_id = None if take is None else take.id

    def draw_progress(self, piece) -> None:
        """Draw the piece being sampled in the roll, unless a take was selected since the job started."""
        with self._lock:
            if self.follows:
                self._shown_id = PARTIAL
                self.editor.show_progress(piece)
                self.view.show_roll(piece)  # (no roll: the sound and the score are cleared, as pending)

    def add_edited(self, take: Take) -> None:
        """Add ``take``, whose roll the editor shows already (a hand edit), to the history and select it; its sound and
        score follow with :meth:`redraw`."""
        with self._lock:
            self._shown_id = take.id
            self.take_list.add(take)

    def redraw(self, take_id: int | None) -> None:
        """Draw the sound and the score of take ``take_id`` again, if it is the selected take on show."""
        with self._lock:
            take = self.take_list.current
            if take is None or take.id != take_id or self._shown_id != take.id:
                return
            self.editor.marks = [list(m) for m in self._analyse(take)]
            self.view.show(take.piece, label=take.label, programs=None)

    def sync(self) -> None:
        """Show the selected take in the view, unless it shows it already (then only its caption is updated)."""
        with self._lock:
            take = self.take_list.current
            if self._shown_id != (None if take is None else take.id):
                self.show(take)
            else:
                self.refresh_labels()

    def on_select(self) -> None:
        """Another take is selected: show it (the roll stops following a job) and compare it."""
        self.follows = False  # a take chosen while sampling is shown; the job only moves the progress bar
        self.sync()
        self.refresh_compare()

    def refresh_labels(self) -> None:
        """Captions name the takes as they are now (starring changes a label); nothing is drawn again."""
        with self._lock:
            take = self.take_list.current
            if take is not None and self._shown_id == take.id:
                self.view.label = take.label
            for shown, view in self._compare_views:
                view.label = shown.label

    def on_compare(self, change) -> None:
        if not self.take_list.refreshing:  # the menu is rebuilt: the takes observer redraws once it is done
            self.refresh_compare()

    def refresh_compare(self) -> None:
        """Side by side: the selected take and the one chosen under "compare with" (nothing when either is missing)."""
        other = self.take_list.get(self.take_list.compare_with.value)
        current = self.take_list.current
        pair = None if other is None or current is None else (current.id, other.id)
        if pair == self._compared:
            return
        old = [view for _, view in self._compare_views]
        self._compared = None
        self._compare_views = []
        if pair is None:
            self.compare_area.children = ()
        else:
            views = []
            for take in (current, other):
                view = TakeView(
                    **_COMPARE_ROLL, score=False, layout=w.Layout(width="50%", min_width="0", overflow="visible")
                )
                view.show(take.piece, label=take.label, programs=None)
                views.append((take, view))
            self.compare_area.children = [view for _, view in views]
            self._compare_views = views
            self._compared = pair
        for view in old:  # off the page now; a view never closed stays open, with its sound, until the kernel stops
            view.close()

    def _analyse(self, take: Take | None) -> list:
        """Fill the analysis panel for ``take`` when it is open; the roll marks of its faults (none when closed).

        A failure of the analysis (a damaged classifier file, say) is shown in the panel: the take is still shown,
        heard and kept.
        """
        if not self.analyse_button.value or take is None:
            return []
        try:
            self.analysis.show(take.piece, take.settings.get("style"))
        except Exception as err:
            self.analysis.show_error(f"The analysis failed: {plain(err)}")
            return []
        return fault_marks(take.piece, self.analysis.faults)

    def _on_analyse(self) -> None:
        """Open: analyse the take on show and ring its faults; closed: hide the panel and redraw a plain roll."""
        on = self.analyse_button.value
        self.analysis.layout.display = "" if on else "none"
        with self._lock:
            take = self.take_list.current
            if take is None or self._shown_id != take.id:
                return
            marks = self._analyse(take)
            if not on:
                self.analysis.show(None)
            self.editor.marks = [list(m) for m in marks]
