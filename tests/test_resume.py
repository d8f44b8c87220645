"""Training survives interruption: a run killed at any moment leaves its last good checkpoint loadable, and resuming
from it ends, bit for bit, where a run that was never stopped ends (same seed, stopped by steps)."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import io as sio

from musewidgets import checkpoints, cli
from musewidgets.checkpoints import load_checkpoint, partial_path
from musewidgets.datasets.frames import load_frame_dataset
from musewidgets.training import TrainConfig, Trainer
from musewidgets.training.frames import FrameTrainer

from .conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
STEPS, EVERY = 10, 5  # a run of STEPS steps with a `last` checkpoint every EVERY; the interrupted one stops at EVERY
MODELS = {
    "rnn": ({"hidden": 32, "layers": 2, "d_embed": 32}, 8),  # two layers: dropout between them too
    "lstm": ({"hidden": 32, "layers": 2, "d_embed": 32}, 8),
    "transformer": ({"d_model": 32, "layers": 1, "heads": 2, "d_embed": 32, "context": 64}, 8),
    "gan": ({"width": 16, "z_dim": 8}, 4),
    "classifier": ({"width": 16, "n_layers": 2, "embed": 16}, 8),
}


def _config(family: str, **changes) -> TrainConfig:
    model, batch_size = MODELS[family]
    base = dict(
        family=family,
        styles=("chorale",),
        minutes=math.inf,  # stopped by steps only
        max_steps=STEPS,
        eval_every=EVERY,
        limit_pieces=6,
        batch_size=batch_size,
        model=model,
    )
    return tiny_config(**(base | changes))


def _same(a, b, where="") -> None:
    """Assert ``a`` and ``b`` (nested dicts, lists, tensors, numbers, strings) are equal, tensors bit for bit."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}/{i}")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    else:
        assert a == b or (a != a and b != b), where  # NaN == NaN here


def _checkpoint(path: Path) -> dict:
    """What must match between two runs: everything in the file but the clock and the command line."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("train_seconds", "command", "machine"):
        data["meta"].pop(key, None)
    return data


def _assert_same_checkpoints(a: Path, b: Path, names) -> None:
    for name in names:
        _same(_checkpoint(a / name), _checkpoint(b / name), name)


def _record(trainer, events: list) -> None:
    """Append every batch_end and validation event, without their clock readings, to ``events``."""
    clock = {"seconds", "tokens_per_s"}
    trainer.add_callback("batch_end", lambda e: events.append({k: v for k, v in e.items() if k not in clock}))
    trainer.add_callback("validation", lambda e: events.append(dict(e)))


def _copy_folder_at(trainer, step: int, target: Path, best: bool = False) -> None:
    """When ``trainer`` has written its ``last`` (or ``best``) checkpoint of ``step``, copy its folder to ``target``:
    what a run killed right then leaves behind."""

    def on_checkpoint(e):
        if e["step"] == step and Path(e["path"]) == (trainer.best_path if best else trainer.last_path):
            shutil.copytree(trainer.out_dir, target)

    trainer.add_callback("checkpoint", on_checkpoint)


@pytest.mark.parametrize("family", list(MODELS))
def test_a_resumed_run_ends_where_an_uninterrupted_one_ends(tmp_path, family):
    torch.manual_seed(123)  # the caller's global random state plays no part ...
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    through = Trainer(_config(family), tmp_path / "through")
    events = []
    _record(through, events)
    _copy_folder_at(through, EVERY, tmp_path / "resumed")
    result = through.fit()
    assert result["steps"] == STEPS and result["reason"] == "step cap"
    assert torch.equal(torch.get_rng_state(), before[0])  # ... and is left as it was
    assert np.array_equal(np.random.get_state()[1], before[1])

    torch.manual_seed(456)
    resumed = Trainer(_config(family), tmp_path / "resumed", resume=True)
    again = []
    _record(resumed, again)
    assert resumed.fit()["steps"] == STEPS
    assert [e["step"] for e in again if "loss" in e] == list(range(EVERY + 1, STEPS + 1))
    assert again == [e for e in events if e["step"] > EVERY]  # the same losses and validations, step for step
    _assert_same_checkpoints(tmp_path / "through", tmp_path / "resumed", [f"{family}.pt", f"{family}.last.pt"])
    state = load_checkpoint(tmp_path / "through" / f"{family}.last.pt").train_state
    assert {"best", "bad", "numpy_rng", "torch_rng", "metrics"} <= set(state)


def test_a_run_killed_between_its_best_and_last_checkpoints_resumes_the_same(tmp_path):
    through = Trainer(_config("lstm", max_steps=3 * EVERY), tmp_path / "through")
    events = []
    _record(through, events)
    _copy_folder_at(through, 2 * EVERY, tmp_path / "killed", best=True)
    through.fit()
    killed = tmp_path / "killed"
    assert load_checkpoint(killed / "lstm.pt").meta["steps"] == 2 * EVERY  # the new best was written ...
    assert load_checkpoint(killed / "lstm.last.pt").meta["steps"] == EVERY  # ... the new last not yet
    resumed = Trainer(_config("lstm", max_steps=3 * EVERY), killed, resume=True)
    again = []
    _record(resumed, again)
    resumed.fit()
    assert again == [e for e in events if e["step"] > EVERY]  # step 2 * EVERY improves again, as it did
    _assert_same_checkpoints(tmp_path / "through", killed, ["lstm.pt", "lstm.last.pt"])


def _frame_data(tmp_path):
    rng = np.random.default_rng(0)
    splits = {}
    for name, n in (("traindata", 12), ("validdata", 3), ("testdata", 3)):
        cells = np.empty((1, n), dtype=object)
        for i in range(n):
            cells[0, i] = (rng.random((int(rng.integers(8, 20)), 88)) < 0.05).astype(np.uint8)
        splits[name] = cells
    sio.savemat(tmp_path / "Tiny.mat", splits)
    return load_frame_dataset(tmp_path / "Tiny.mat")


def test_a_resumed_frame_model_run_ends_where_an_uninterrupted_one_ends(tmp_path):
    data = _frame_data(tmp_path)
    model = {"hidden": 16, "d_input": 16, "d_note": 8, "note_hidden": 16, "layers": 1}
    config = TrainConfig(
        family="frame_notewise", styles=(), minutes=math.inf, max_steps=STEPS, eval_every=EVERY, seq_len=12, model=model
    )
    through = FrameTrainer(config, data, tmp_path / "through", name="tiny", batch_frames=48)
    events = []
    _record(through, events)
    _copy_folder_at(through, EVERY, tmp_path / "resumed")
    through.fit()
    assert through.frames_seen > data.n_frames("train")  # more than an epoch: the resumed part starts a new one
    resumed = FrameTrainer(config, data, tmp_path / "resumed", name="tiny", batch_frames=48, resume=True)
    again = []
    _record(resumed, again)
    resumed.fit()
    assert again == [e for e in events if e["step"] > EVERY]
    assert resumed.frames_seen == through.frames_seen
    _assert_same_checkpoints(tmp_path / "through", tmp_path / "resumed", ["tiny.pt", "tiny.last.pt"])


# ----------------------------------------------------------------------------- a save that never finishes


def test_a_failed_or_killed_save_leaves_the_previous_checkpoint_and_the_run_resumes(tmp_path, monkeypatch):
    through = Trainer(_config("lstm"), tmp_path / "through")
    through.fit()

    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst).name == "lstm.last.pt" and load_checkpoint(src).meta["steps"] == STEPS:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoints.os, "replace", failing_replace)
    broken = Trainer(_config("lstm"), tmp_path / "broken")
    with pytest.raises(OSError, match="No space"):
        broken.fit()
    monkeypatch.undo()
    last = broken.last_path
    assert load_checkpoint(last).meta["steps"] == EVERY  # the previous one, whole
    assert not partial_path(last).exists()

    # a process killed while writing leaves half a temporary file, which nothing reads and a resume clears away
    partial_path(last).write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    assert load_checkpoint(last).meta["steps"] == EVERY
    assert Trainer(_config("lstm"), tmp_path / "broken", resume=True).fit()["steps"] == STEPS
    assert not [p for p in (tmp_path / "broken").iterdir() if p.name.endswith(".tmp")]
    _assert_same_checkpoints(tmp_path / "through", tmp_path / "broken", ["lstm.pt", "lstm.last.pt"])


# ----------------------------------------------------------------------------- the command, killed with SIGKILL

TRAIN = [
    "train",
    "--model",
    "lstm",
    "--style",
    "chorale",
    "--max-steps",
    str(4 * EVERY),
    "--eval-every",
    str(EVERY),
    "--limit-pieces",
    "4",
    "--seq-len",
    "32",
    "--batch-size",
    "4",
    "--set",
    "hidden=16",
    "--set",
    "layers=2",
    "--set",
    "d_embed=16",
    "--no-cards",
    "--quiet",
]

# The command as `python -m musewidgets` runs it, after a change of one library function.
WRAPPED = textwrap.dedent(
    """
    import os, signal, sys, time
    import torch
    from musewidgets import cli, training
    {patch}
    sys.exit(cli.main(sys.argv[1:]))
    """
)
SLOW_STEPS = """
fit = training.Trainer.fit
def slow_fit(self):  # a step every 0.1 s or so, so that the kill lands inside the run
    self.add_callback("batch_end", lambda e: time.sleep(0.1))
    return fit(self)
training.Trainer.fit = slow_fit
"""
DIES_WHILE_SAVING = f"""
save = torch.save
def dying_save(obj, f, *args, **kwargs):  # the second `last` checkpoint: half written, then SIGKILL
    save(obj, f, *args, **kwargs)
    if str(f).endswith(".lstm.last.pt.tmp") and obj["meta"]["steps"] == {2 * EVERY}:
        os.truncate(f, os.path.getsize(f) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
torch.save = dying_save
"""


def _start(out: Path, patch: str) -> subprocess.Popen:
    """``musewidgets train`` in a new process (as ``python -m musewidgets`` runs it, after ``patch``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", WRAPPED.format(patch=patch), *TRAIN, "--out", str(out)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _train(capsys, out: Path, *extra: str) -> str:
    """``musewidgets train`` in this process; its output."""
    assert cli.main([*TRAIN, "--out", str(out), *extra]) == 0, capsys.readouterr().err
    return re.search(r"best validation (\S+);", capsys.readouterr().out).group(1)


def _kill_after_first_checkpoint(process: subprocess.Popen, last: Path) -> threading.Thread:
    """A thread that sends ``process`` SIGKILL at some moment after it has written ``last``."""

    def watch():
        while not last.exists() and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_sigkilled_training_command_resumes_to_the_same_weights(tmp_path, capsys):
    slow = _start(tmp_path / "slow", SLOW_STEPS)
    dying = _start(tmp_path / "dying", DIES_WHILE_SAVING)
    last = tmp_path / "slow" / "lstm.last.pt"
    killer = _kill_after_first_checkpoint(slow, last)
    best = _train(capsys, tmp_path / "through")  # meanwhile, the run that is never stopped
    killer.join(timeout=300)
    output = slow.communicate(timeout=300)[0]
    assert slow.returncode in (-signal.SIGKILL, 0), output  # 0: the whole run ended before the signal came
    output = dying.communicate(timeout=300)[0]
    assert dying.returncode == -signal.SIGKILL, output

    # whatever the moment, the last good checkpoint loads; the run killed mid-save kept the one before
    assert load_checkpoint(last).meta["steps"] % EVERY == 0
    assert load_checkpoint(tmp_path / "dying" / "lstm.last.pt").meta["steps"] == EVERY
    assert partial_path(tmp_path / "dying" / "lstm.last.pt").exists()

    for name in ("slow", "dying"):
        assert _train(capsys, tmp_path / name, "--resume") == best
        _assert_same_checkpoints(tmp_path / "through", tmp_path / name, ["lstm.pt", "lstm.last.pt"])
        assert not [p for p in (tmp_path / name).iterdir() if p.name.endswith(".tmp")]
