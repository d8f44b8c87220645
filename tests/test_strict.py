"""Strict voice leading: refused tokens, never a fault, never a dead end, same seed same notes."""

from __future__ import annotations

import math

import pytest
import torch

from musewidgets.analysis.voice_leading import faults, voice_leading
from musewidgets.codecs.tokens import HOLD, PITCH0, REST
from musewidgets.datasets import corpus
from musewidgets.sampling import load_sampler
from musewidgets.sampling.strict import StrictVoiceLeading


def tokens(*pitches_or_codes):
    return torch.tensor([[p] for p in pitches_or_codes]).flatten()


def state(previous: list[int], now: dict[int, int], voices: int = 4) -> StrictVoiceLeading:
    """A guard whose last event sounded ``previous`` and whose voices in ``now`` already struck at this step."""
    guard = StrictVoiceLeading(1, voices, 132)
    for v, p in enumerate(previous):
        guard.update(v, tokens(PITCH0 + p if p >= 0 else REST))
    guard.end_step()
    for v, p in now.items():
        guard.update(v, tokens(PITCH0 + p))
    return guard


def allowed(guard, v, pitch) -> bool:
    return bool(guard.mask(v)[0, PITCH0 + pitch] == 0)


def test_a_parallel_fifth_or_octave_is_refused_and_contrary_motion_is_not():
    guard = state([67, 60, 52, 48], {0: 69})  # soprano G4 -> A4 over an alto on C4: D4 would make fifths
    assert not allowed(guard, 1, 62)
    assert allowed(guard, 1, 57) and allowed(guard, 1, 64) and allowed(guard, 1, 60)  # contrary, third, oblique
    octaves = state([72, 60, 55, 48], {0: 74})  # C5/C4 -> D5/D4: octaves
    assert (
        not allowed(octaves, 1, 62) and allowed(octaves, 1, 64) and allowed(octaves, 1, 65)
    )  # octaves; a seventh, a sixth


def test_crossing_spacing_and_range_are_refused_and_a_rest_never_is():
    guard = state([67, 60, 55, 48], {0: 67})
    assert not allowed(guard, 1, 68)  # above the soprano: a crossing
    assert not allowed(guard, 1, 54)  # more than an octave below the soprano (and below the alto range too)
    assert allowed(guard, 1, 60)
    assert guard.mask(1)[0, REST] == 0
    lowest = state([67, 60, 55, 48], {0: 67, 1: 60, 2: 55})
    assert allowed(lowest, 3, 40)  # tenor and bass may lie more than an octave apart
    assert not allowed(lowest, 3, 39)  # below E2: outside the bass range
    held = state([67, 65, 55, 48], {0: 64})  # the alto holds F4 while the soprano falls to E4 below it
    assert held.mask(1)[0, HOLD] == -math.inf


@pytest.mark.parametrize("style", ["chorale", "renaissance"])
def test_strict_takes_have_no_parallels_crossings_or_spacing_faults(style):
    lstm = load_sampler("lstm")
    takes = lstm.generate(style=style, bars=4, n=8, seed=3, strict=True)
    for take in takes:
        rates = voice_leading(take)
        assert rates["parallels_per_8_bars"] == 0 and rates["crossings_per_8_bars"] == 0
        assert rates["spacing_per_8_bars"] == 0 and rates["out_of_range_per_8_bars"] == 0
        # music, not a take that rests to stay clean: the last 4 bars of a real Palestrina piece hold 20-40 notes (5th
        # percentile 20: long finals), a chorale's 33-70
        assert take.n_bars == 4 and take.n_notes > 15
    free = lstm.generate(style=style, bars=4, n=8, seed=3)
    assert sum(len(faults(t)) for t in free) > 0  # the same seed without strict does make faults


def test_strict_replays_and_free_sampling_is_unchanged():
    lstm = load_sampler("lstm")
    a = lstm.generate(style="chorale", bars=2, n=2, seed=9, strict=True)
    b = lstm.generate(style="chorale", bars=2, n=2, seed=9, strict=True)
    assert [p.parts for p in a] == [p.parts for p in b]
    assert [p.parts for p in lstm.generate(style="chorale", bars=2, seed=9)] == [
        p.parts for p in lstm.generate(style="chorale", bars=2, seed=9, strict=False)
    ]


def test_strict_never_dead_ends_even_at_temperature_zero():
    for model in ("rnn", "transformer"):
        [take] = load_sampler(model).generate(style="chorale", bars=2, seed=1, temperature=0, strict=True)
        assert take.n_bars == 2 and voice_leading(take)["parallels_per_8_bars"] == 0


def test_strict_continuation_adds_no_fault_after_the_primer():
    primer = corpus.load_style("chorale", progress=False).get("bach/bwv66.6.mxl").slice_bars(0, 2)
    [take] = load_sampler("lstm").generate(style="chorale", bars=2, seed=4, primer=primer, strict=True)
    assert [f for f in faults(take) if f.step > primer.end] == []


def test_the_gan_has_no_strict_mode():
    with pytest.raises(ValueError, match="strict voice leading"):
        load_sampler("gan").generate(style="chorale", bars=2, strict=True)


def test_cli_generate_strict(tmp_path):
    from musewidgets import io
    from musewidgets.cli import main

    out = tmp_path / "strict.mid"
    assert main(["generate", "--style", "renaissance", "--seed", "2", "--bars", "4", "--strict", "-o", str(out)]) == 0
    assert voice_leading(io.read(out))["parallels_per_8_bars"] == 0


def test_workbench_voice_leading_control_makes_strict_takes_and_replays_them():
    import musewidgets

    wb = musewidgets.Workbench(style="renaissance")
    wb.controls.bars.value = 2
    wb.controls.voice_leading.value = True
    take = wb.generate()
    assert take.settings["strict"] is True and " strict " in take.label
    assert voice_leading(take.piece)["parallels_per_8_bars"] == 0
    wb.controls.voice_leading.value = False
    wb.copy_settings(take)
    assert wb.controls.voice_leading.value is True
    assert wb.generate().piece.parts == take.piece.parts
    wb.controls.model.value = "gan"
    assert wb.controls.voice_leading.disabled and wb.controls.voice_leading.value is False


# ------------------------------------------------------------------ the soft form: guidance against parallels
def soft(previous: list[int], now: dict[int, int]) -> StrictVoiceLeading:
    guard = StrictVoiceLeading(1, 4, 132, parallels_only=True, penalty=6.0)
    for v, p in enumerate(previous):
        guard.update(v, tokens(PITCH0 + p))
    guard.end_step()
    for v, p in now.items():
        guard.update(v, tokens(PITCH0 + p))
    return guard


def test_the_soft_form_costs_parallels_only_and_refuses_nothing():
    guard = soft([67, 60, 52, 48], {0: 69})
    mask = guard.mask(1)[0]
    assert mask[PITCH0 + 62] == -6.0  # the parallel fifth costs
    assert torch.isfinite(mask).all()
    costly = set((mask[PITCH0:] != 0).nonzero().flatten().tolist())
    assert costly == {p for p in range(61, 128) if abs(69 - p) % 12 == 7}  # rising into a fifth with A4, any octave
    crossing = soft([67, 60, 55, 48], {0: 67})
    assert crossing.mask(1)[0, PITCH0 + 68] == 0 and crossing.mask(1)[0, PITCH0 + 30] == 0  # left to the model


def test_guided_takes_have_far_fewer_parallels_than_the_model_alone():
    lstm = load_sampler("lstm")
    count = lambda takes: sum(voice_leading(t)["parallels_per_8_bars"] for t in takes)  # noqa: E731
    guided = lstm.generate(style="chorale", bars=4, seed=11, n=8)
    alone = lstm.generate(style="chorale", bars=4, seed=11, n=8, guide=False)
    assert count(guided) * 4 < count(alone)
