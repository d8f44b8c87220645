"""The descriptors of a piece and the judges that tell takes from real music (issue 31's judge)."""

from __future__ import annotations

import numpy as np
import pytest

from musewidgets.analysis.descriptors import FAMILIES, accidentals, descriptors
from musewidgets.evaluation.judge import JUDGES, giveaways, judge, matrix, remote_share, roll_matrix
from musewidgets.piece import Note, Part, Piece

SCALE = (0, 2, 4, 5, 7, 9, 11)


def melody(rng: np.random.Generator, leap: bool, bars: int = 4) -> Piece:
    """A C major line of quarter notes ending on C: a walk by step, or by leaps of a fourth to a sixth."""
    degree, notes = 7, []
    for i in range(bars * 4 - 1):
        notes.append(Note(60 + 12 * (degree // 7) + SCALE[degree % 7] - 12, i * 4, 4))
        move = int(rng.choice([-4, -3, 3, 4])) if leap else int(rng.choice([-1, 1]))
        degree = int(np.clip(degree + move, 3, 13))
    notes.append(Note(60, (bars * 4 - 1) * 4, 4))
    return Piece((Part("Melody", tuple(notes), 73),), time_signature=(4, 4), key="C major")


def chorale_bar(pitches: list[int]) -> Piece:
    parts = tuple(Part(name, (Note(p, 0, 16),), 52) for name, p in zip(("S", "A", "T", "B"), pitches))
    return Piece(parts, time_signature=(4, 4), key="C major")


def test_every_piece_has_every_family_at_the_same_length():
    rng = np.random.default_rng(0)
    one, four = descriptors(melody(rng, False)), descriptors(chorale_bar([72, 67, 64, 48]))
    assert list(one) == list(four) == list(FAMILIES)
    assert {k: len(v) for k, v in one.items()} == {k: len(v) for k, v in four.items()}
    assert all(np.isfinite(v).all() for v in [*one.values(), *four.values()])


def test_descriptors_say_what_a_musician_hears():
    steps = descriptors(melody(np.random.default_rng(1), leap=False))
    leaps = descriptors(melody(np.random.default_rng(1), leap=True))
    assert steps["intervals"][1] + steps["intervals"][2] > 0.9  # moves of a second (1-2 semitones, 3-4: a third)
    assert leaps["intervals"][3] + leaps["intervals"][4] > 0.5  # fourths to sixths
    assert steps["ending"][0] == 1.0  # the bass (the one voice) ends on the tonic
    assert steps["rhythm"][3] == 1.0  # every note a quarter long
    chord = descriptors(chorale_bar([72, 67, 64, 48]))
    assert chord["vertical"][2] > 0 and chord["vertical"][1] > 0  # C over G: a fourth; G over E, E over C: thirds
    assert chord["key"].tolist() == [0, 0]  # C major: no accidentals


@pytest.mark.parametrize(
    "tonic, mode, count",
    [(0, "major", 0), (7, "major", 1), (6, "major", 6), (1, "major", 5), (9, "minor", 0), (1, "minor", 4)],
)
def test_accidentals_count_the_key_signature(tonic, mode, count):
    assert accidentals(tonic, mode) == count


def test_the_neural_judge_reads_the_roll_above_the_tonic():
    piece = melody(np.random.default_rng(2), False)
    roll = roll_matrix([piece, piece.transpose(5)])
    assert roll.shape[1] % 2 == 0 and np.allclose(roll[0], roll[1])  # the same line in another key reads the same


def test_judges_tell_leaps_from_steps_and_not_steps_from_steps():
    rng = np.random.default_rng(3)
    steps = [melody(rng, False) for _ in range(20)]
    other = [melody(rng, False) for _ in range(20)]
    leaps = [melody(rng, True) for _ in range(20)]
    result = judge(leaps, steps, other, seed=0, repeats=1)
    assert set(result) == set(JUDGES) | {f"{j}_floor" for j in JUDGES}
    for name in JUDGES:
        assert result[name][0] > (0.7 if name == "neural" else 0.85), name  # leaps are told from steps
        assert result[f"{name}_floor"][0] < 0.7, name  # steps are not told from steps
    assert giveaways(leaps, steps, top=1, repeats=1)[0][0] in ("intervals", "contour", "register")
    assert matrix(steps).shape == (20, sum(len(v) for v in descriptors(steps[0]).values()))


def test_remote_keys_are_counted_by_the_estimated_key():
    piece = melody(np.random.default_rng(4), False)
    assert remote_share([piece, piece.transpose(6), piece.transpose(1)]) == pytest.approx(2 / 3)  # F#, Db major
