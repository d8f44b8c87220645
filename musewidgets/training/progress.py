"""What the CLI shows while a run trains: a tqdm bar and one log line per validation (:func:`subscribe_progress`)."""

from __future__ import annotations

import math

__all__ = ["subscribe_progress"]


def subscribe_progress(trainer, *, desc: str, quiet: bool = False) -> None:
    """A tqdm bar and one log line per validation (what the CLI shows), on the events of ``trainer`` (a
    :class:`~musewidgets.training.Trainer`).

    The bar counts steps up to the step cap when there is one (as the notebook's monitor does), else seconds of the
    time budget; with neither (``minutes=inf``, no cap) it counts steps without an end.
    """
    from tqdm.auto import tqdm

    cfg = trainer.config
    by_seconds = cfg.max_steps is None and math.isfinite(cfg.minutes)
    total = round(cfg.minutes * 60) if by_seconds else cfg.max_steps
    bar = tqdm(total=total, unit="s" if by_seconds else "step", desc=desc, disable=quiet)

    def on_batch(e):
        value = round(e["seconds"]) if by_seconds else e["step"]
        bar.n = value if bar.total is None else min(bar.total, value)
        bar.set_postfix(step=e["step"], loss=f"{e['loss']:.3f}", refresh=False)
        bar.refresh()

    def on_validation(e):
        per_style = " ".join(f"{s}={v:.3f}" for s, v in e["nll"].items())
        bar.write(
            f"{desc} step {e['step']}: valid {per_style} (mean {e['mean']:.3f}{', best' if e['improved'] else ''})"
        )

    trainer.add_callback("batch_end", on_batch)
    trainer.add_callback("validation", on_validation)
    trainer.add_callback("end", lambda e: bar.close())
