"""Sampling and training choose their torch thread count on purpose and give the caller's back."""

from __future__ import annotations

import threading

import pytest
import torch

import musewidgets as mw
from musewidgets.threads import SAMPLING_THREADS, available_cores, torch_threads, training_threads


@pytest.fixture
def user_threads():
    """The user (or another library) has set 2 threads: restore whatever was there after the test."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_torch_threads_sets_and_restores_even_on_error(user_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == user_threads
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == user_threads
    with pytest.raises(ValueError, match="threads"):
        with torch_threads(0):
            pass


def test_training_threads_is_half_the_cores():
    assert training_threads() == max(1, available_cores() // 2)


def _spy_threads(sampler, monkeypatch) -> list[int]:
    seen = []
    model = sampler.model
    name = "logits" if sampler.family == "gan" else "step"
    original = getattr(model, name)

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(model, name, spy)
    return seen


@pytest.mark.parametrize("family", ["lstm", "gan"])
def test_sampling_runs_on_one_thread_and_restores_the_users_setting(family, user_threads, monkeypatch):
    sampler = mw.load_sampler(family)
    seen = _spy_threads(sampler, monkeypatch)
    between = []
    for _ in sampler.iter_generate(style="chorale", bars=2, seed=1):
        between.append(torch.get_num_threads())  # the caller's code between bars runs with its own setting
    assert seen and set(seen) == {SAMPLING_THREADS}
    assert set(between) == {user_threads}
    assert torch.get_num_threads() == user_threads


def test_sampling_in_a_worker_thread_restores_there(user_threads, monkeypatch):
    sampler = mw.load_sampler("lstm")
    seen = _spy_threads(sampler, monkeypatch)
    after = []

    def work():
        torch.set_num_threads(user_threads)  # as the user's setting reaches a new thread
        sampler.generate(style="folk", bars=1, seed=1)
        after.append(torch.get_num_threads())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert set(seen) == {SAMPLING_THREADS} and after == [user_threads]


def test_an_abandoned_generation_leaves_the_thread_count_alone(user_threads):
    steps = mw.load_sampler("lstm").iter_generate(style="folk", bars=4, seed=1)
    next(steps)
    assert torch.get_num_threads() == user_threads  # stopped between bars (what Stop does)
    steps.close()
    assert torch.get_num_threads() == user_threads


def test_training_uses_its_threads_and_restores(tmp_path, user_threads):
    from musewidgets.training import Trainer

    from .conftest import tiny_config

    trainer = Trainer(tiny_config(max_steps=2, eval_every=2), tmp_path)
    seen = []
    trainer.add_callback("batch_end", lambda e: seen.append(torch.get_num_threads()))
    trainer.fit()
    assert set(seen) == {training_threads()}
    assert torch.get_num_threads() == user_threads
    trainer = Trainer(tiny_config(max_steps=1, eval_every=1), tmp_path / "b")
    trainer.n_threads = 1
    trainer.add_callback("batch_end", lambda e: seen.append(("set", torch.get_num_threads())))
    trainer.fit()
    assert ("set", 1) in seen
