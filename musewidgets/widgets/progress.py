"""A training monitor for notebooks: a progress bar over the step cap (or the time budget) and a live loss plot."""

from __future__ import annotations

import math

import ipywidgets as w

__all__ = ["TrainingMonitor"]


class TrainingMonitor(w.VBox):
    """Subscribe to a :class:`~musewidgets.training.Trainer`'s events and show them.

    >>> monitor = TrainingMonitor(trainer); display(monitor); trainer.fit()   # doctest: +SKIP
    """

    def __init__(self, trainer, *, redraw_every: int = 10):
        # a run with a step cap is measured in steps (what stops it), else in seconds of the time budget
        self.by_steps = trainer.config.max_steps is not None
        minutes = trainer.config.minutes
        budget = round(minutes * 60) if math.isfinite(minutes) else 1  # no limit at all: the bar only says it runs
        self.bar = w.IntProgress(
            value=0,
            min=0,
            max=max(1, trainer.config.max_steps if self.by_steps else budget),
            description="training",
            layout=w.Layout(width="60%"),
        )
        self.label = w.Label()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.steps, self.losses, self.valid_steps, self.valid = [], [], [], []
        self.redraw_every = redraw_every
        super().__init__([w.HBox([self.bar, self.label]), self.plot])
        trainer.add_callback("batch_end", self._on_batch)
        trainer.add_callback("validation", self._on_validation)
        trainer.add_callback("end", self._on_end)

    def _on_batch(self, e: dict) -> None:
        self.steps.append(e["step"])
        self.losses.append(e["loss"])
        self.bar.value = min(self.bar.max, e["step"] if self.by_steps else round(e["seconds"]))
        self.label.value = f"step {e['step']}  loss {e['loss']:.3f}  {e['tokens_per_s']:,.0f} tokens/s"
        if e["step"] % self.redraw_every == 0:
            self.draw()

    def _on_validation(self, e: dict) -> None:
        self.valid_steps.append(e["step"])
        self.valid.append(e["mean"])
        self.draw()

    def _on_end(self, e: dict) -> None:
        self.bar.value = self.bar.max
        self.label.value = f"done: {e['reason']} after {e['steps']} steps, best validation {e['best']:.3f}"
        self.draw()

    def draw(self) -> None:
        """Redraw the loss curves (training loss per step, validation NLL per token)."""
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 2.6), dpi=90)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(self.steps, self.losses, lw=0.8, color="#0072B2", label="training loss")
        if self.valid:
            ax.plot(self.valid_steps, self.valid, "o-", color="#D55E00", label="validation NLL / token")
        ax.set_xlabel("step")
        ax.set_ylabel("nats per token")
        ax.legend(frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.plot.value = buf.getvalue()
