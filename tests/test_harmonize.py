"""Harmonize (musewidgets.sampling.harmonization): a sequence model writes the voices under a melody kept note for note,
the infill model their last bar."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from musewidgets.errors import CheckpointError
from musewidgets.io import read_abc_melody
from musewidgets.sampling import harmonize, infill
from musewidgets.sampling.harmonization import iter_harmonize

TUNE = "X:1\nM:4/4\nL:1/4\nK:G\nG A B G | c B A2 | B c d B | A G G2 |]"
JIG = "X:1\nM:6/8\nL:1/8\nK:D\nA|d2e f2d|e2c A2A|d2e f2a|g2e d2|]"  # an eighth's upbeat, a short last bar


def _melody(text: str = TUNE):
    return read_abc_melody(text)[0]


def _notes(part):
    return [(n.pitch, n.start, n.duration) for n in part.notes]


def _harmonize(melody, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a melody moved into the soprano range
        return harmonize(melody, **{"style": "chorale", "seed": 2, "iterations": 8, **settings})


@pytest.fixture(scope="module")
def chorale():
    return _harmonize(_melody())


def test_the_melody_is_kept_note_for_note_and_three_voices_are_written_under_it(chorale):
    melody = _melody()
    assert _notes(chorale.parts[0]) == _notes(melody.parts[0])
    assert len(chorale.parts) == 4 and all(len(p.notes) >= 4 for p in chorale.parts[1:])
    assert all(p.is_monophonic for p in chorale.parts)
    assert chorale.key == "G major"  # the melody's written key, which the model was told


def test_the_voices_end_with_the_melody_after_an_upbeat_in_six_eight():
    melody = _melody(JIG)
    piece = _harmonize(melody)
    assert piece.pickup == melody.pickup == 2 and piece.time_signature == (6, 8)
    assert _notes(piece.parts[0]) == _notes(melody.parts[0])
    assert max(p.end for p in piece.parts[1:]) <= melody.parts[0].end
    assert min(n.start for p in piece.parts[1:] for n in p.notes) == 0  # the upbeat is harmonized too


def test_same_seed_same_notes_and_the_global_random_state_is_left_alone(chorale):
    before = torch.random.get_rng_state()
    again = _harmonize(_melody())
    assert torch.equal(before, torch.random.get_rng_state())
    assert again.parts == chorale.parts
    assert _harmonize(_melody(), seed=3).parts != chorale.parts


@pytest.mark.parametrize("tune", [TUNE, TUNE.replace("A G G2 |]", "A2 B2 | G4 |]")])  # a held final: a bar earlier
def test_the_infill_model_writes_the_cadence_only(tune):
    chorale, own = _harmonize(_melody(tune)), _harmonize(_melody(tune), finish=None)
    last = min(chorale.bar_start(chorale.n_bars - 1), chorale.parts[0].notes[-2].start)  # the last two chords

    def before(piece):  # what sounds before the last bar, and where notes start
        rolls = [piece.to_pianoroll(part=i, onsets=o) for i in range(4) for o in (False, True)]
        return np.stack([r[:last] for r in rolls])  # (steps, pitches) each

    assert np.array_equal(before(own), before(chorale))  # the sequence model's bars, untouched
    assert own.parts != chorale.parts  # and the last bar written again


def test_streams_bar_by_bar_and_ends_with_what_harmonize_returns(chorale):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = list(iter_harmonize(_melody(), style="chorale", seed=2, iterations=8))
    assert len(steps) == 5  # four bars, then the cadence
    assert steps[-1].parts == chorale.parts
    assert [p.parts[1].end for p in steps[:4]] == sorted(p.parts[1].end for p in steps[:4])


def test_a_key_asked_for_is_told_and_a_bad_one_named():
    piece = _harmonize(_melody(), key="E minor")
    assert piece.key == "E minor"
    with pytest.raises(ValueError, match="`key` must look like"):
        _harmonize(_melody(), key="H minor")


def test_the_infill_model_alone_harmonizes_as_before():
    melody = _melody()
    alone = _harmonize(melody, model="infill")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert alone.parts == infill.harmonize(melody, style="chorale", seed=2, iterations=8).parts


@pytest.mark.parametrize("model", ["gan"])
def test_a_model_that_cannot_harmonize_is_named(model):
    with pytest.raises(CheckpointError, match=f"a {model} model cannot harmonize"):
        _harmonize(_melody(), model=model)


def test_a_sequence_model_keeps_given_tokens_only_of_the_right_shape():
    from dataclasses import replace

    from musewidgets.sampling import load_sampler

    sampler = load_sampler("lstm")
    plan = sampler.plan(style="folk", bars=2, seed=1)
    wrong = torch.full((5, 1), -1, dtype=torch.long)
    with pytest.raises(ValueError, match=r"fixed tokens must be \(16, 1\)"):
        list(sampler.write(replace(plan, fixed=wrong)))
    given = torch.full((16, 1), -1, dtype=torch.long)
    given[:5, 0] = torch.tensor([60 + 4, 3, 3, 3, 2])  # C4 held for a quarter (PITCH0 4, HOLD 3), a rest (REST 2)
    *_, [piece] = sampler.write(replace(plan, fixed=given))
    assert _notes(piece.parts[0])[0] == (60, 0, 4)
    assert all(n.start > 4 for n in piece.parts[0].notes[1:])  # the model wrote the rest after the given tokens
