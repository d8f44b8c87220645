"""The rule-based mood estimate: cue directions, the four quadrants, ranges and the corpus."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from musewidgets.analysis.mood import CUE_NAMES, DISCLAIMER, WEIGHTS, Mood, estimate_mood, mood_cues
from musewidgets.datasets import corpus
from musewidgets.keys import estimate_key
from musewidgets.piece import Note, Part, Piece, key_name

_TONICS = {key_name(pc, mode).split()[0]: pc for pc in range(12) for mode in ("major", "minor")}

# "Ode to Joy" in C major, then a cadence that visits degrees 6 and 7 (quarter notes, a half note to close each line)
_ODE = [64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64, 64, 62, 62, 64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64,
        62, 60, 60, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60]  # fmt: skip


def melody(pitches=_ODE, *, duration: int = 4, key: str = "C major", tempo: float = 100.0, velocity: int = 80) -> Piece:
    notes = tuple(Note(p, i * duration, duration, velocity) for i, p in enumerate(pitches))
    return Piece((Part("Melody", notes),), key=key, tempo=tempo)


def to_minor(piece: Piece) -> Piece:
    """The parallel minor: scale degrees 3, 6 and 7 of the major key lowered by a semitone."""
    tonic, mode = piece.key.split()
    assert mode == "major"
    pc = _TONICS[tonic]
    lowered = {(pc + 4) % 12, (pc + 9) % 12, (pc + 11) % 12}
    parts = tuple(
        replace(p, notes=tuple(replace(n, pitch=n.pitch - (n.pitch % 12 in lowered)) for n in p.notes))
        for p in piece.parts
    )
    return piece.replace(parts=parts, key=key_name(pc, "minor"))


@pytest.fixture(scope="module")
def folk_tune(tmp_path_factory) -> Piece:
    """A real major-key folk tune from the test split whose notes agree with its written key."""
    with pytest.MonkeyPatch.context() as mp:  # the packaged corpus, as in conftest, not the user's cache
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        pieces = corpus.load_style("folk", progress=False).split("test")
    for piece in pieces:
        if piece.key and piece.key.endswith("major") and piece.n_notes >= 30 and estimate_key(piece) == piece.key:
            return piece
    raise AssertionError("no suitable folk tune")


@pytest.mark.parametrize("which", ["hand-built", "folk"])
def test_major_fast_high_is_happier_and_livelier_than_minor_slow_low(which, folk_tune):
    tune = melody() if which == "hand-built" else folk_tune
    minor = to_minor(tune)
    assert estimate_key(minor) == minor.key  # the transformation really makes it minor
    bright = estimate_mood(tune.replace(tempo=160).transpose(12))
    dark = estimate_mood(minor.replace(tempo=60).transpose(-12))
    assert bright.valence > dark.valence
    assert bright.arousal > dark.arousal
    assert bright.word == "happy"
    assert dark.word == "sad"


def _only(cue: str, low: Piece, high: Piece, *, also: tuple[str, ...] = ()) -> tuple[float, float]:
    """Check that ``cue`` rises from ``low`` to ``high`` and no other cue (but ``also``) moves; return (dV, dA)."""
    a, b = estimate_mood(low), estimate_mood(high)
    assert b.cues[cue] > a.cues[cue] + 0.05
    for other in CUE_NAMES:
        if other != cue and other not in also:
            assert b.cues[other] == pytest.approx(a.cues[other], abs=1e-9), other
    return b.valence - a.valence, b.arousal - a.arousal


def test_mode_alone_raises_valence():
    minor, major = to_minor(melody()), melody()
    dv, da = _only("mode", minor, major, also=("register",))  # lowering three degrees lowers the mean pitch a little
    assert dv > 0.1
    assert abs(da) < 0.01  # mode carries no arousal weight; only the small register change shows


def test_tempo_alone_raises_arousal_and_slightly_valence():
    dv, da = _only("tempo", melody(tempo=60), melody(tempo=160), also=("density",))  # onsets per second follow tempo
    assert da > 0.2
    assert 0 < dv < da


def test_register_alone_raises_valence_and_slightly_arousal():
    dv, da = _only("register", melody().transpose(-12), melody().transpose(12))
    assert dv > 0 and da > 0
    assert da < dv


def test_loudness_alone_raises_arousal_only():
    dv, da = _only("loudness", melody(velocity=50), melody(velocity=110))
    assert da > 0.1
    assert dv == pytest.approx(0.0)


def test_density_alone_raises_arousal():
    sparse = melody(duration=4)
    dense = melody([p for p in _ODE for _ in (0, 1)], duration=2)  # each note struck twice, same pitches and time
    dv, da = _only("density", sparse, dense)
    assert da > 0.1
    assert dv > 0


def test_staccato_raises_arousal():
    legato = melody(duration=4)
    short = tuple(replace(n, duration=2) for n in legato.parts[0].notes)  # same onsets, half as long
    staccato = legato.replace(parts=(replace(legato.parts[0], notes=short),), length=legato.end)
    dv, da = _only("articulation", legato, staccato)
    assert da > 0.05


def test_dissonance_lowers_valence_and_raises_arousal():
    # the same notes in the same register, paired in thirds or in seconds: only the simultaneous intervals differ
    lows, highs = [60, 62, 65, 67, 60, 62], [64, 65, 69, 71, 64, 65]  # thirds
    seconds_low, seconds_high = [60, 64, 65, 69, 60, 64], [62, 65, 67, 71, 62, 65]  # the same pitches, as seconds

    def duet(a, b):
        return Piece((Part("Upper", tuple(Note(p, 4 * i, 4) for i, p in enumerate(b))),
                      Part("Lower", tuple(Note(p, 4 * i, 4) for i, p in enumerate(a)))), key="C major")  # fmt: skip

    dv, da = _only("dissonance", duet(lows, highs), duet(seconds_low, seconds_high))
    assert dv < 0
    assert da > 0


def test_monophony_has_neutral_dissonance():
    assert mood_cues(melody())["dissonance"] == 0.0


@pytest.mark.parametrize(
    ("valence", "arousal", "word"),
    [(0.3, 0.2, "happy"), (0.3, -0.2, "calm"), (-0.3, 0.2, "tense"), (-0.3, -0.2, "sad"), (0.0, 0.0, "happy")],
)
def test_quadrant_words(valence, arousal, word):
    assert Mood(valence, arousal).word == word


def test_str_says_rule_based():
    text = str(Mood(0.42, 0.31))
    assert text == "happy (valence +0.42, arousal +0.31; rule-based estimate)"
    assert "rule-based" in DISCLAIMER


def test_cues_in_order_and_in_range(folk_tune):
    cues = mood_cues(folk_tune)
    assert tuple(cues) == CUE_NAMES
    assert tuple(WEIGHTS) == CUE_NAMES
    assert all(-1 <= v <= 1 and isinstance(v, float) for v in cues.values())


def test_weights_keep_valence_and_arousal_in_range():
    for column in (0, 1):
        assert sum(abs(w[column]) for w in WEIGHTS.values()) == pytest.approx(1.0)


def test_extremes_stay_in_range():
    cluster = Piece((Part("Cluster", tuple(Note(p, 0, 1, 127) for p in range(100, 112))),), tempo=1000)
    tiny = Piece((Part("Low", (Note(0, 0, 64, 1),)),), tempo=1, length=640)
    for piece in (cluster, tiny):
        mood = estimate_mood(piece)
        assert -1 <= mood.valence <= 1 and -1 <= mood.arousal <= 1
    assert estimate_mood(tiny).word == "sad"


def test_no_notes_raises():
    with pytest.raises(ValueError, match="no notes"):
        estimate_mood(Piece((Part("Empty"),)))


def test_deterministic(folk_tune):
    assert estimate_mood(folk_tune) == estimate_mood(folk_tune)


def test_corpus_styles_differ_in_arousal():
    means = {}
    for style in ("chorale", "irish"):
        moods = [estimate_mood(p) for p in corpus.load_style(style).split("test")]
        assert all(-1 <= m.valence <= 1 and -1 <= m.arousal <= 1 for m in moods)
        means[style] = float(np.mean([m.arousal for m in moods]))
    assert means["irish"] > means["chorale"] + 0.2
    assert not math.isnan(means["irish"])
