"""Phrases that return: the repetition profile of real music, the plan drawn from it, and bars that come back."""

from __future__ import annotations

import pytest
import torch

from musewidgets import guidance
from musewidgets.analysis.metrics import ending_profile, repeated_bars, repetition_profile
from musewidgets.datasets.corpus import load_style
from musewidgets.guidance import ending_profiles, plan_repeats, repetition_profiles
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling import load_sampler


def tune(bars: list[int]) -> Piece:
    """One voice, a 2/4 bar per entry: two eighths of that pitch (so equal entries make equal bars)."""
    notes = [Note(p + k, 8 * i + 4 * k, 4) for i, p in enumerate(bars) for k in (0, 1)]
    return Piece((Part("Melody", tuple(notes)),), time_signature=(2, 4))


def test_the_profile_counts_the_nearest_earlier_equal_bar_in_phrase_windows():
    # bars 4 and 6 return to bars 0 and 2
    profile = repetition_profile([tune([60, 62, 64, 65, 60, 67, 64, 69])])
    assert len(profile) == 7 and all(abs(sum(row) - 1) < 1e-9 for row in profile)
    assert profile[3][4] == 1.0  # bar 4 returns to bar 0
    assert profile[5][4] == 1.0  # bar 6 returns to bar 2
    assert profile[0][0] == profile[1][0] == profile[2][0] == profile[4][0] == profile[6][0] == 1.0
    assert repetition_profile([tune([60] * 3)]) == [[1.0] + [0.0] * 7] * 7  # too short for a window: nothing returns


def test_the_shipped_profiles_are_what_the_command_measures():
    """``python -m musewidgets.guidance`` wrote data/guidance/repetition.json; chorale is quick to check again."""
    train = load_style("chorale", progress=False).split("train")
    assert repetition_profiles()["chorale"] == repetition_profile(train)
    assert ending_profiles()["chorale"] == ending_profile(train)
    irish = repetition_profiles()["irish"]
    assert 1 - irish[3][0] > 0.3  # an Irish phrase's fifth bar often returns (mostly to its first)


def test_the_plan_follows_the_profile_and_its_generator():
    first = plan_repeats("irish", 0, 8, torch.Generator().manual_seed(0))
    assert first.tolist() == [0] * 8  # a phrase's first bar is new
    draws = torch.cat([plan_repeats("irish", 4, 1000, torch.Generator().manual_seed(s)) for s in range(4)])
    expected = repetition_profiles()["irish"][3]  # the fifth bar: new, or back 1, 2, 3 or 4 bars
    for lag, share in enumerate(expected[:5]):
        assert abs((draws == lag).float().mean() - share) < 0.03
    assert set(draws.tolist()) <= set(range(5))
    again = plan_repeats("irish", 4, 1000, torch.Generator().manual_seed(0))
    assert torch.equal(again, draws[:1000])
    assert plan_repeats("irish", 4, 3, torch.Generator(), greedy=True).tolist() == [0] * 3  # likeliest: new
    assert plan_repeats("no-such-style", 4, 2, torch.Generator()).tolist() == [0, 0]


@pytest.fixture(scope="module")
def lstm():
    return load_sampler("lstm")


def test_a_planned_bar_returns_note_for_note(lstm, monkeypatch):
    """With an overwhelming strength, every bar the plan sends back is its source bar again, token for token."""
    monkeypatch.setattr(guidance, "REPEAT_STRENGTH", 1e4)
    seed, bars, n = 5, 8, 8
    takes = lstm.generate(style="irish", bars=bars, seed=seed, n=n, ending=False)
    plan_rng = torch.Generator().manual_seed(seed + 7919)
    lags = torch.stack([plan_repeats("irish", b, n, plan_rng) for b in range(bars)], dim=1)  # (n, bars)
    assert (lags > 0).sum() >= 4, "the seed should plan a few returns"
    for take, row in zip(takes, lags.tolist()):
        tokens = lstm.codec.encode(take).tokens.reshape(-1, len(take.parts))  # (steps, voices)
        spb = take.steps_per_bar
        for b, lag in enumerate(row):
            if lag:
                assert torch.equal(
                    torch.as_tensor(tokens[b * spb : (b + 1) * spb]),
                    torch.as_tensor(tokens[(b - lag) * spb : (b - lag + 1) * spb]),
                ), (b, lag)


def test_guidance_off_plans_nothing_and_guidance_on_brings_irish_bars_back(lstm):
    on = lstm.generate(style="irish", bars=8, seed=2, n=16)
    off = lstm.generate(style="irish", bars=8, seed=2, n=16, guide=False)
    share = lambda takes: sum(repeated_bars(t) for t in takes) / len(takes)  # noqa: E731
    assert share(on) > share(off) + 0.03
