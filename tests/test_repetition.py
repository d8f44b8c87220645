"""Phrases that return: the repetition profile of real music, the plan drawn from it, and bars that come back."""

from __future__ import annotations

import pytest
import torch

from musewidgets.analysis.metrics import ending_profile, repeated_bars, repetition_profile
from musewidgets.codecs.tokens import PITCH0
from musewidgets.datasets.corpus import load_style
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling import load_sampler
from musewidgets.sampling.guidance import ending_profiles, pickup_shares, plan_repeats, profiles, repetition_profiles
from musewidgets.sampling.guidance.repeats import REPEATS_SEED_OFFSET


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
    """``python -m musewidgets.sampling.guidance.profiles`` wrote data/guidance/profiles.json; chorale is quick to check
    again."""
    train = load_style("chorale", progress=False).split("train")
    assert repetition_profiles()["chorale"] == repetition_profile(train)
    assert ending_profiles()["chorale"] == ending_profile(train)
    assert pickup_shares()["chorale"] == profiles._pickups(train)
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


def test_a_planned_bar_returns_note_for_note(lstm):
    """With an overwhelming strength, every bar the plan sends back is its source bar again, token for token."""
    seed, bars, n = 5, 8, 8
    takes = lstm.generate(style="irish", bars=bars, seed=seed, n=n, ending=False, guide="repeats=100", pickup=0)
    plan_rng = torch.Generator().manual_seed(seed + REPEATS_SEED_OFFSET)
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


def test_a_bar_the_plan_keeps_new_never_copies_an_earlier_one():
    """Bars come back where the plan sends them, and only there: a bar kept new that copies an earlier bar for its
    first half is turned away from it in its second half (the shipped transformer repeated 0.38 of its Irish bars,
    real tunes 0.12-0.18)."""
    transformer = load_sampler("transformer")  # the model that repeats most on its own
    seed, bars, n = 11, 8, 16
    takes = transformer.generate(style="irish", bars=bars, seed=seed, n=n, ending=False, guide="repeats=100", pickup=0)
    plan_rng = torch.Generator().manual_seed(seed + REPEATS_SEED_OFFSET)
    lags = torch.stack([plan_repeats("irish", b, n, plan_rng) for b in range(bars)], dim=1).tolist()
    repeats = 0
    for take, row in zip(takes, lags):
        tokens = transformer.codec.encode(take).tokens.reshape(-1, len(take.parts)).tolist()
        spb = take.steps_per_bar
        bar_tokens = [tokens[b * spb : (b + 1) * spb] for b in range(bars)]
        for b in range(1, bars):
            sounding = [j for j in range(b) if any(t[0] >= PITCH0 for t in bar_tokens[j])]  # bars with notes
            copies = [j for j in sounding if bar_tokens[j] == bar_tokens[b]]
            repeats += bool(copies)
            assert not copies or row[b] > 0, f"bar {b} copies bar {copies[0]} though the plan kept it new"
    assert repeats >= 4  # the planned ones came back


def test_endings_are_drawn_as_the_style_ends_and_the_top_voice_keeps_its_place_in_the_chord():
    from musewidgets.sampling.guidance import TONIC_ONLY, ending_weights, plan_ending

    folk = plan_ending("folk", 1, 4000, 0)[0]  # (n, 12), one final per take
    assert torch.equal(folk.sum(1), torch.ones(4000))
    shares = torch.tensor(ending_profiles()["folk"]["top"])
    assert (folk.mean(0) - shares).abs().max() < 0.03  # tonic about 2 in 3, then the fourth and the fifth
    chorale = plan_ending("chorale", 4, 500, 1)
    finals = chorale[3].argmax(1)  # the bass's drawn interval above the tonic
    top = ending_weights("chorale", 4)[0]
    for r, row in zip(finals.tolist(), chorale[0]):
        assert torch.equal(row, top.roll(r)) and row[r] == 1  # the top is likeliest on the bass's note
    assert 0.6 < (finals == 0).float().mean() < 0.85 and (finals == 5).any()  # sometimes on the fourth (IV)
    again = plan_ending("chorale", 4, 500, 1)
    assert torch.equal(again[3], chorale[3])
    greedy = plan_ending("chorale", 4, 3, 0, greedy=True)
    assert (greedy[3].argmax(1) == 0).all()  # at temperature 0: the likeliest final, the tonic
    assert torch.equal(plan_ending("my-own", 1, 2, 0)[0], TONIC_ONLY.expand(2, 12))


def test_takes_end_on_the_finals_the_plan_drew_for_them_and_an_asked_key_on_its_tonic(lstm):
    from musewidgets.keys import estimate_key
    from musewidgets.piece import parse_key
    from musewidgets.sampling.guidance import plan_ending

    seed, n, bars = 4, 12, 4
    takes = lstm.generate(style="folk", bars=bars, seed=seed, n=n, metre="4/4", guide="cadence=10", pickup=0)
    drawn = plan_ending("folk", 1, n, seed)[0].argmax(1).tolist()
    assert 0 in drawn and set(drawn) != {0}
    for take, r in zip(takes, drawn):
        tonic = parse_key(estimate_key(take.slice_bars(0, bars - 1)))[0]  # the key of the take when its last bar began
        assert (max(take.parts[0].notes, key=lambda x: x.start).pitch - tonic) % 12 == r
    asked = lstm.generate(style="folk", bars=bars, seed=seed, n=n, key="G major", guide="cadence=10")
    assert {max(t.parts[0].notes, key=lambda x: x.start).pitch % 12 for t in asked} == {7}  # all on G
