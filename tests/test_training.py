"""The training loop: it learns, emits its events, stops when asked or interrupted, resumes, and saves safely."""

from __future__ import annotations

import math
import os
import types

import numpy as np
import pytest

from musewidgets.checkpoints import load_checkpoint
from musewidgets.datasets import corpus
from musewidgets.training import TrainConfig, Trainer, subscribe_progress

from .conftest import tiny_config


def _config(**changes) -> TrainConfig:
    return tiny_config(**({"styles": ("folk",), "max_steps": 10, "eval_every": 100} | changes))


def _no_temporary_files(folder) -> bool:
    return not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_training_loss_falls(tmp_path):
    trainer = Trainer(_config(max_steps=60), tmp_path)
    losses = []
    trainer.add_callback("batch_end", lambda e: losses.append(e["loss"]))
    result = trainer.fit()
    assert len(losses) == 60 and all(math.isfinite(x) for x in losses)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert first > math.log(132) - 0.5  # starts near a uniform guess
    assert last < first - 1.0, (first, last)
    assert result["reason"] == "step cap" and result["steps"] == 60
    assert result["best"] < first  # validation NLL of the final model beats the first batches
    assert _no_temporary_files(tmp_path)


def test_events_fire_with_their_documented_keys(tmp_path):
    trainer = Trainer(_config(styles=("chorale", "folk"), max_steps=6, eval_every=3), tmp_path)
    events = []
    for name in ("batch_end", "validation", "epoch_end", "checkpoint", "end"):
        trainer.add_callback(name, lambda e, name=name: events.append((name, e)))
    result = trainer.fit()

    batch_ends = [e for n, e in events if n == "batch_end"]
    assert [e["step"] for e in batch_ends] == [1, 2, 3, 4, 5, 6]
    for e in batch_ends:
        assert set(e) == {"step", "loss", "tokens_per_s", "seconds"}
        assert e["tokens_per_s"] > 0 and e["seconds"] >= 0 and math.isfinite(e["loss"])
    assert [e["seconds"] for e in batch_ends] == sorted(e["seconds"] for e in batch_ends)

    validations = [e for n, e in events if n == "validation"]
    assert [e["step"] for e in validations] == [3, 6]
    for e in validations:
        assert set(e) == {"step", "nll", "mean", "best", "improved"}
        assert set(e["nll"]) == {"chorale", "folk"}
        assert e["mean"] == pytest.approx(np.mean(list(e["nll"].values())))
    assert validations[0]["improved"] is True and validations[0]["best"] == validations[0]["mean"]
    assert validations[1]["best"] == min(v["mean"] for v in validations)
    assert validations[1]["improved"] == (validations[1]["mean"] < validations[0]["mean"])

    checkpoints = [e for n, e in events if n == "checkpoint"]
    paths = {os.path.basename(e["path"]) for e in checkpoints}
    assert paths == {"lstm.pt", "lstm.last.pt"}
    assert all("path" in e for e in checkpoints)

    assert all(set(e) == {"epoch", "step"} for n, e in events if n == "epoch_end")

    name, end = events[-1]
    assert name == "end" and [n for n, _ in events].count("end") == 1
    assert set(end) == {"reason", "best", "steps", "seconds", "path"}
    assert end == result and end["steps"] == 6 and end["reason"] == "step cap"
    assert end["best"] == validations[-1]["best"]
    assert load_checkpoint(end["path"]).meta["steps"] in (3, 6)
    assert load_checkpoint(tmp_path / "lstm.last.pt").meta["steps"] == 6
    assert _no_temporary_files(tmp_path)


def test_unknown_event_is_refused(tmp_path):
    with pytest.raises(ValueError, match="event"):
        Trainer(_config(), tmp_path).add_callback("batch_start", print)


def test_stop_from_a_callback(tmp_path):
    trainer = Trainer(_config(max_steps=50), tmp_path)
    steps = []

    def on_batch(e):
        steps.append(e["step"])
        if e["step"] == 4:
            trainer.stop()

    trainer.add_callback("batch_end", on_batch)
    result = trainer.fit()
    assert result["reason"] == "stopped" and result["steps"] == 4 and steps == [1, 2, 3, 4]
    assert load_checkpoint(result["path"]).meta["steps"] == 4


def test_keyboard_interrupt_stops_cleanly_with_a_loadable_checkpoint(tmp_path):
    trainer = Trainer(_config(max_steps=50), tmp_path)
    ends = []

    def on_batch(e):
        if e["step"] == 3:
            raise KeyboardInterrupt

    trainer.add_callback("batch_end", on_batch)
    trainer.add_callback("end", ends.append)
    result = trainer.fit()
    assert result["reason"] == "interrupted" and result["steps"] == 3
    assert ends == [result]
    ck = load_checkpoint(tmp_path / "lstm.pt")
    assert ck.family == "lstm" and ck.meta["steps"] == 3
    assert math.isfinite(result["best"]) and ck.meta["best_valid_nll"] == pytest.approx(result["best"])
    assert _no_temporary_files(tmp_path)


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    first = Trainer(_config(max_steps=60, eval_every=30), tmp_path)
    first_losses = []
    first.add_callback("batch_end", lambda e: first_losses.append(e["loss"]))
    r1 = first.fit()
    assert r1["steps"] == 60
    saved = load_checkpoint(tmp_path / "lstm.last.pt")
    assert saved.meta["steps"] == 60 and saved.optimizer is not None

    again = Trainer(_config(max_steps=65, eval_every=30), tmp_path, resume=True)
    events = []
    again.add_callback("batch_end", events.append)
    r2 = again.fit()
    assert [e["step"] for e in events] == [61, 62, 63, 64, 65]
    assert r2["steps"] == 65 and r2["reason"] == "step cap"
    # the weights came back too: the loss carries on where it was, far below a fresh model's
    start, end = np.mean(first_losses[:5]), np.mean(first_losses[-5:])
    assert events[0]["loss"] < start - 1.0
    assert abs(events[0]["loss"] - end) < abs(events[0]["loss"] - start) / 2  # much nearer where it ended
    assert events[0]["seconds"] >= saved.meta["train_seconds"]
    # without resume the count starts again at 1
    fresh = Trainer(_config(max_steps=2), tmp_path / "fresh")
    steps = []
    fresh.add_callback("batch_end", lambda e: steps.append(e["step"]))
    fresh.fit()
    assert steps == [1, 2]
    assert _no_temporary_files(tmp_path)


def test_gan_augmentation_keeps_voices_in_their_ranges():
    from musewidgets.training.gan import GANTask

    corpora = {"chorale": corpus.load_style("chorale", progress=False)}
    trainer = types.SimpleNamespace(config=types.SimpleNamespace(limit_pieces=40))
    task = GANTask(trainer, corpora)
    ranges = task.ranges["chorale"]
    rng = np.random.default_rng(0)
    outside = shifted = 0
    for _ in range(20):
        windows = task.train["chorale"].windows(rng, 16, 2, 2, augment=True)
        shifted += int((windows["shift"] != 0).sum())
        for roll in windows["roll"]:
            for v, (low, high) in enumerate(ranges):
                pitches = roll[v][roll[v] >= 2] - 2
                outside += int(((pitches < low) | (pitches > high)).any())
    assert outside == 0 and shifted > 0


def test_training_monitor_counts_steps_when_the_run_stops_by_steps(tmp_path):
    from musewidgets.widgets import TrainingMonitor

    from .conftest import tiny_config

    trainer = Trainer(tiny_config(max_steps=3, eval_every=3, minutes=30), tmp_path)
    monitor = TrainingMonitor(trainer)
    assert monitor.bar.max == 3  # not 30 minutes of seconds
    trainer.fit()
    assert monitor.bar.value == 3 and monitor.losses


@pytest.mark.parametrize(
    ("minutes", "max_steps", "shows"),
    [
        (math.inf, 3, "3/3"),  # no time budget: the bar counts the steps to the cap
        (math.inf, None, "3step"),  # neither: it counts steps without an end (this run is stopped by a callback)
        (30, 3, "3/3"),
        (30, None, "/1800"),  # a time budget only: seconds of it
    ],
)
def test_progress_bar_with_or_without_a_time_budget(tmp_path, capsys, minutes, max_steps, shows):
    trainer = Trainer(_config(minutes=minutes, max_steps=max_steps, eval_every=3), tmp_path)
    subscribe_progress(trainer, desc="tiny")
    trainer.add_callback("batch_end", lambda e: trainer.stop() if e["step"] == 3 else None)
    assert trainer.fit()["steps"] == 3
    out, err = capsys.readouterr()
    assert "tiny step 3: valid folk=" in out + err
    assert shows in err


def test_precision_is_checked_and_mixed_only_on_a_gpu(tmp_path):
    import contextlib

    from musewidgets.training import mixed_precision

    assert isinstance(mixed_precision("cpu", "auto"), contextlib.nullcontext)  # the CPU computes in float32
    with pytest.raises(ValueError, match="precision"):
        Trainer(tiny_config(precision="half"), tmp_path).check()
    with pytest.raises(ValueError, match="bf16 needs a GPU"):
        Trainer(tiny_config(precision="bf16", device="cpu"), tmp_path).check()


@pytest.mark.parametrize("anneal", [False, True])
def test_the_learning_rate_anneals_to_a_tenth_at_the_step_cap_only_when_asked(tmp_path, anneal):
    from musewidgets.training.trainer import lr_factor

    assert lr_factor(0) == pytest.approx(0.01) and lr_factor(99) == lr_factor(5000) == 1.0  # warm-up, then the peak
    assert lr_factor(1000, 2000) == pytest.approx(0.55) and lr_factor(2000, 2000) == pytest.approx(0.1)
    assert lr_factor(150, 200) < lr_factor(120, 200) < lr_factor(100, 200) < 1.0  # falls all the way to the cap
    trainer = Trainer(_config(max_steps=150, eval_every=75, lr=1e-3, anneal=anneal), tmp_path)
    trainer.fit()
    [group] = load_checkpoint(tmp_path / "lstm.last.pt").optimizer["param_groups"]
    # the last step (149) ran at this rate
    assert group["lr"] == pytest.approx(1e-3 * (lr_factor(149, 150) if anneal else 1.0))
    assert (group["lr"] < 2e-4) == anneal


def test_anneal_needs_a_step_cap_and_a_sequence_family(tmp_path):
    with pytest.raises(ValueError, match="give `max_steps`"):
        Trainer(tiny_config(max_steps=None, anneal=True), tmp_path).check()
    with pytest.raises(ValueError, match="not the gan"):
        Trainer(tiny_config(family="gan", anneal=True), tmp_path).check()
