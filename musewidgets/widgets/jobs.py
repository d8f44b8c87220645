"""Background jobs of the Workbench: one at a time, in a worker thread, with a progress bar and Stop.

Generate, Continue, Regenerate and Harmonize each run as a *job*: a function of no arguments that makes a take. A
button starts it in a background thread (:meth:`Jobs.start`), so that Stop stays clickable; the Python API runs it in
the caller's thread (:meth:`Jobs.run`). While it runs, :attr:`Jobs.busy` is true (the parts of the Workbench observe
it to disable the buttons that start jobs), a progress bar under the buttons counts the bars ("bar k of N") or the
rounds of the infill model, and Stop asks the job to end, keeping what it made so far. A failure is reported in the
status line in plain words, and leaves the history and every control as they were.
"""

from __future__ import annotations

import threading

import ipywidgets as w
import traitlets

from ..errors import MusewidgetsError
from ..memory import release_memory
from .status import StatusLine

__all__ = ["Jobs"]

BUSY = "Still generating: press Stop first."


class Jobs(traitlets.HasTraits):
    """The worker thread, the progress bar and the Stop button.

    Parameters
    ----------
    status : StatusLine
        Where a refused start and a failed job are reported.
    after : callable, optional
        Called with no arguments (its failures reported in the status line) after every job, once the next one may
        start.
    """

    busy = traitlets.Bool(False, help="a job is running")

    def __init__(self, status: StatusLine, after=None):
        super().__init__()
        self.status = status
        self.after = after
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="200px"))
        self.progress_label = w.Label()
        self.progress_box = w.HBox(
            [self.progress, self.progress_label],
            layout=w.Layout(display="none", align_items="center", overflow="visible"),
        )
        self.stop_button = w.Button(
            description="Stop", icon="stop", disabled=True, tooltip="end the generation; the bars so far are kept"
        )
        self.redraw_every = 0.3  # seconds between redraws of the roll while a job samples
        self._thread: threading.Thread | None = None
        self._running = threading.Lock()  # held by the job that runs
        self._stop = threading.Event()
        self.stop_button.on_click(lambda _: self.stop())

    @traitlets.observe("busy")
    def _on_busy(self, change) -> None:
        self.stop_button.disabled = not change["new"]

    def start(self, job) -> None:
        """Run ``job`` in the background (what a button does); while another runs, say so and start nothing."""
        if self._thread is not None and self._thread.is_alive():
            self.status.say(BUSY, error=True)
            return
        self._thread = threading.Thread(target=self.run, args=(job, False), daemon=True)
        self._thread.start()

    def run(self, job, raise_errors: bool = False):
        """Run ``job`` now and return what it returns: one job at a time, its failure in the status line (and raised
        with ``raise_errors``, else None is returned)."""
        if not self._running.acquire(blocking=False):
            self.status.say(BUSY, error=True)
            if raise_errors:
                raise MusewidgetsError("still generating: press Stop first")
            return None
        self._stop.clear()
        self.busy = True
        try:
            return job()
        except Exception as err:
            self.status.fail(err)
            if raise_errors:
                raise
            return None
        finally:
            self.busy = False
            self.progress_box.layout.display = "none"
            self._running.release()
            if self.after is not None:
                self.status.guard(self.after)()
            release_memory()  # what the job freed goes back to the system (see musewidgets.memory)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a job started by a button to finish (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """What Stop does: ask the running job to end (it keeps what it made so far)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Whether Stop was pressed since the job started."""
        return self._stop.is_set()

    def show_bars(self, made: int, bars: int) -> None:
        """Show the progress bar at ``made`` of ``bars`` bars ("bar 2 of 8")."""
        self._count(made, bars, "bar")

    def show_rounds(self, done: int, rounds: int) -> None:
        """Show the progress bar at ``done`` of ``rounds`` rounds of the infill model ("round 2 of 16")."""
        self._count(done, rounds, "round")

    def _count(self, done: int, total: int, unit: str) -> None:
        self.progress.max = max(1, total)
        self.progress.value = done
        self.progress_label.value = f"{unit} {done} of {total}"
        self.progress_box.layout.display = ""
