"""How a piece may sound to a listener: a rule-based valence/arousal estimate from documented musical cues.

No labelled mood data ships with musewidgets, so this is not a trained model. It measures seven cues that the
music-psychology literature links to perceived emotion, maps each onto about ``[-1, 1]``, and adds them with fixed
weights into *valence* (pleasant vs unpleasant) and *arousal* (energetic vs calm). It describes what the notes
*suggest*; it knows nothing of timbre, lyrics, performance or the listener, and the UI must say so
(:data:`DISCLAIMER`).

Sources (each cue below names the ones it rests on):

- [GL] Gabrielsson, A. & Lindström, E. (2010). The role of structure in the musical expression of emotions. In
  P. N. Juslin & J. A. Sloboda (Eds.), *Handbook of Music and Emotion*, pp. 367-400. Oxford University Press.
  A review of a century of studies, cue by cue.
- [EFB] Eerola, T., Friberg, A. & Bresin, R. (2013). Emotional expression in music: contribution, linearity, and
  additivity of primary musical cues. *Frontiers in Psychology* 4, 487. A factorial design over mode, tempo, dynamics,
  articulation, timbre and register: cue importance ranked mode > tempo > register > dynamics > articulation >
  timbre; cue effects mostly linear and additive (which is why a weighted sum is a fair first model).
- [EV] Eerola, T. & Vuoskoski, J. K. (2011). A comparison of the discrete and dimensional models of emotion in music.
  *Psychology of Music* 39(1), 18-49. Discrete emotions sit in the valence/arousal plane: happy (+, +), tender or
  peaceful (+, -), fearful or angry (-, +), sad (-, -); the source of the quadrant words.
- [JL] Juslin, P. N. & Laukka, P. (2003). Communication of emotions in vocal expression and music performance:
  different channels, same code? *Psychological Bulletin* 129(5), 770-814. Performance cues: fast tempo, high sound
  level and staccato for happiness and anger (high arousal); slow, soft and legato for sadness and tenderness.

Cues (:func:`mood_cues`, in the order of :data:`CUE_NAMES`). Each is ``tanh((x - centre) / scale)`` of a raw
quantity ``x``: 0 at the centre, about +-0.76 one scale away, never beyond +-1.

============  =====================================================  ====================  ===========================
cue           raw quantity ``x``                                     centre, scale         direction and source
============  =====================================================  ====================  ===========================
mode          best major minus best minor Krumhansl-Schmuckler       0, 0.1                major +valence, minor
              correlation (:func:`~.keys.key_scores`), graded                              -valence [GL, EFB]
tempo         log2(tempo / 100 quarter notes per minute)             0, log2(5/3) (60 and  fast +arousal, slight
                                                                     ~167 qpm -> -+1       +valence [GL, EFB, JL]
                                                                     before tanh)
register      mean MIDI pitch of all notes                           64 (E4), 12           high +valence, slight
                                                                                           +arousal; low -valence [GL,
                                                                                           EFB]
loudness      mean MIDI velocity                                     80 (musewidgets'      loud +arousal [GL, EFB, JL]
                                                                     default), 30
density       log2(distinct onsets per second / 3)                   0, 1 (1.5 and 6 per   dense +arousal [GL, JL]
                                                                     second -> -+0.76)
articulation  0.9 (ordinary non-legato) minus the mean ratio of      0, 0.2 (ratio 1 ->    staccato +arousal, legato
              sounding duration to inter-onset interval within a     -0.46, 0.7 -> +0.76)  -arousal [GL, EFB, JL]
              voice; + is detached
dissonance    share of simultaneously sounding pitch pairs a         0.15, 0.15            dissonant -valence,
              second, seventh or tritone apart (any octave)                                +arousal [GL]
============  =====================================================  ====================  ===========================

Weights (valence and arousal are ``sum(weight * cue)``; each column's absolute weights add up to 1, so both stay in
``[-1, 1]``):

============  =======  =======  ==================================================================================
cue           valence  arousal  why
============  =======  =======  ==================================================================================
mode          +0.40     0.00    the strongest valence cue [EFB: first for happy and sad; GL]
tempo         +0.20    +0.30    second in [EFB]; the strongest activity cue in [GL] and [JL]
register      +0.15    +0.05    third in [EFB]; high pitch: happiness and serenity, low: sadness [GL]
loudness       0.00    +0.25    dynamics: activity and power [EFB, JL]; valence ambiguous (joy and anger) [GL]
density       +0.05    +0.20    many notes per second: activity, slight happiness [GL, JL]
articulation  +0.05    +0.10    staccato: gaiety and energy, legato: sadness and tenderness [GL, JL]; small [EFB]
dissonance    -0.15    +0.10    dissonance: tension, unpleasantness; consonance: relaxation, happiness [GL]
============  =======  =======  ==================================================================================

Where a cue has nothing to measure it is 0 (neutral): dissonance for a piece that never sounds two pitches at once,
articulation for a piece whose voices never move to a next note, mode for a piece of one pitch class (or of all
twelve, equally long) without a written key (with one, the written mode counts as a clear major or minor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..keys import key_scores, pitch_class_durations
from ..piece import Piece

__all__ = ["CUE_NAMES", "DISCLAIMER", "WEIGHTS", "Mood", "estimate_mood", "mood_cues"]

CUE_NAMES: tuple[str, ...] = ("mode", "tempo", "register", "loudness", "density", "articulation", "dissonance")

#: (valence weight, arousal weight) per cue; see the module docstring for the reasons.
WEIGHTS: dict[str, tuple[float, float]] = {
    "mode": (0.40, 0.00),
    "tempo": (0.20, 0.30),
    "register": (0.15, 0.05),
    "loudness": (0.00, 0.25),
    "density": (0.05, 0.20),
    "articulation": (0.05, 0.10),
    "dissonance": (-0.15, 0.10),
}

DISCLAIMER = (
    "Mood is a rule-based estimate from musical cues (mode, tempo, register, loudness, note density, articulation, "
    "dissonance) weighted after published music-psychology studies, not a measurement of how anyone feels."
)

# (centre, scale) of each cue's raw quantity, as in the docstring's table
_MODE_SCALE = 0.1
_TEMPO_SCALE = math.log2(5 / 3)
_REGISTER = (64.0, 12.0)
_LOUDNESS = (80.0, 30.0)
_DENSITY_CENTRE = 3.0  # onsets per second
_ARTICULATION = (0.9, 0.2)
_DISSONANCE = (0.15, 0.15)
_DISSONANT_CLASSES = (1, 2, 6, 10, 11)  # seconds, tritone, sevenths (semitones mod 12)


@dataclass(frozen=True)
class Mood:
    """A rule-based valence/arousal estimate of a piece.

    Attributes
    ----------
    valence : float
        Pleasant (+1) to unpleasant (-1).
    arousal : float
        Energetic (+1) to calm (-1).
    cues : dict of str to float
        The normalised cues it was computed from, keyed as :data:`CUE_NAMES`.
    """

    valence: float
    arousal: float
    cues: dict[str, float] = field(default_factory=dict)

    @property
    def word(self) -> str:
        """The quadrant: ``'happy'`` (v >= 0, a >= 0), ``'calm'`` (v >= 0, a < 0), ``'tense'``, ``'sad'``."""
        if self.valence >= 0:
            return "happy" if self.arousal >= 0 else "calm"
        return "tense" if self.arousal >= 0 else "sad"

    def __str__(self) -> str:
        return f"{self.word} (valence {self.valence:+.2f}, arousal {self.arousal:+.2f}; rule-based estimate)"


def _mode_cue(piece: Piece) -> float:
    durations = pitch_class_durations(piece)
    if np.ptp(durations) == 0:  # every pitch class sounds equally long (or one alone): the notes name no mode
        scores = {}
    else:
        scores = key_scores(piece)
    if scores:
        major = max(r for k, r in scores.items() if k.endswith("major"))
        minor = max(r for k, r in scores.items() if k.endswith("minor"))
        return math.tanh((major - minor) / _MODE_SCALE)
    if piece.key is not None:  # a single pitch class: trust the written key, as strongly as a clear major/minor
        return math.tanh(1.0) * (1 if piece.key.endswith("major") else -1)
    return 0.0


def _onset_density(piece: Piece) -> float:
    """Distinct onset steps per second over the whole piece (its length included)."""
    onsets = {n.start for p in piece.parts for n in p.notes}
    seconds = max(piece.end, 1) * piece.seconds_per_step
    return len(onsets) / seconds


def _articulation_ratio(piece: Piece) -> float | None:
    """Mean of min(duration / inter-onset interval, 1) over notes followed by a next onset in their voice.

    A silence longer than a quarter note before the next onset is a phrase break (a rest), not articulation, and
    the note is skipped. ``None`` when no note qualifies.
    """
    ratios = []
    for part in piece.parts:
        starts = sorted({n.start for n in part.notes})
        following = dict(zip(starts, starts[1:]))
        for note in part.notes:
            nxt = following.get(note.start)
            if nxt is None or nxt - note.end > piece.steps_per_quarter:
                continue
            ratios.append(min(note.duration / (nxt - note.start), 1.0))
    return float(np.mean(ratios)) if ratios else None


def _dissonant_share(piece: Piece) -> float | None:
    """Share of simultaneously sounding distinct-pitch pairs that are dissonant, summed over steps; ``None`` if none."""
    roll = piece.to_pianoroll().any(axis=0)  # (n_steps, 128): which pitches sound at each step, any part
    total = dissonant = 0
    for interval in range(1, 128):
        pairs = int(np.count_nonzero(roll[:, :-interval] & roll[:, interval:]))
        total += pairs
        if interval % 12 in _DISSONANT_CLASSES:
            dissonant += pairs
    return dissonant / total if total else None


def mood_cues(piece: Piece) -> dict[str, float]:
    """The seven mood cues of ``piece``, each normalised to about ``[-1, 1]`` (see the module docstring).

    Returns
    -------
    dict of str to float
        Keys in the order of :data:`CUE_NAMES`; positive means major, fast, high, loud, dense, detached
        (staccato), dissonant.

    Raises
    ------
    ValueError
        If ``piece`` has no notes.
    """
    notes = [n for p in piece.parts for n in p.notes]
    if not notes:
        raise ValueError("`piece` has no notes: a mood needs something to hear")
    articulation = _articulation_ratio(piece)
    dissonance = _dissonant_share(piece)
    return {
        "mode": _mode_cue(piece),
        "tempo": math.tanh(math.log2(piece.tempo / 100.0) / _TEMPO_SCALE),
        "register": math.tanh((np.mean([n.pitch for n in notes]) - _REGISTER[0]) / _REGISTER[1]),
        "loudness": math.tanh((np.mean([n.velocity for n in notes]) - _LOUDNESS[0]) / _LOUDNESS[1]),
        "density": math.tanh(math.log2(_onset_density(piece) / _DENSITY_CENTRE)),
        "articulation": (
            0.0 if articulation is None else math.tanh((_ARTICULATION[0] - articulation) / _ARTICULATION[1])
        ),
        "dissonance": 0.0 if dissonance is None else math.tanh((dissonance - _DISSONANCE[0]) / _DISSONANCE[1]),
    }


def estimate_mood(piece: Piece) -> Mood:
    """Rule-based valence and arousal of ``piece``: the weighted sum of its :func:`mood_cues`.

    Returns
    -------
    Mood
        ``valence`` and ``arousal`` in ``[-1, 1]``, the quadrant ``word`` and the ``cues``; ``str(mood)`` reads like
        ``'happy (valence +0.42, arousal +0.31; rule-based estimate)'``.

    Raises
    ------
    ValueError
        If ``piece`` has no notes.
    """
    cues = mood_cues(piece)
    valence = sum(WEIGHTS[name][0] * value for name, value in cues.items())
    arousal = sum(WEIGHTS[name][1] * value for name, value in cues.items())
    return Mood(float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1)), cues)
