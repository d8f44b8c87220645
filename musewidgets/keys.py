"""Which key a piece is in, from its notes: the Krumhansl-Schmuckler key-finding algorithm.

Krumhansl & Schmuckler (described in Krumhansl 1990, *Cognitive Foundations of Musical Pitch*, ch. 4): add up how
long each of the 12 pitch classes sounds, and correlate that profile (Pearson's r) with the Krumhansl-Kessler (1982)
probe-tone profile of each of the 24 major and minor keys; the key with the highest correlation wins. This is what
music21's ``Stream.analyze('key.krumhansl')`` computes; a test checks that the two agree on corpus pieces. It runs in
microseconds on numpy, so every generated take can be given a key without loading music21. :func:`fits_key` also
asks Aarden's profiles, music21's default (``Stream.analyze('key')``), which the sampler uses to choose, among
candidates drawn together, a take in the key the user asked for.
"""

from __future__ import annotations

import re

import numpy as np

from .piece import Piece, key_name, parse_key

__all__ = [
    "AARDEN_ESSEN",
    "KRUMHANSL_KESSLER",
    "estimate_key",
    "fits_key",
    "key_of_durations",
    "key_from_text",
    "key_scores",
    "pitch_class_durations",
]

# Probe-tone ratings, tonic first (Krumhansl & Kessler 1982, Table 2).
KRUMHANSL_KESSLER = {
    "major": np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    "minor": np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}

# Aarden's (2003) profiles from the Essen folk songs, tonic first: music21's default key-finder (``analyze('key')``).
# They weigh the tonic triad and the fifth far above the other scale degrees, and chromatic notes near zero.
AARDEN_ESSEN = {
    "major": np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494,
                       0.232998, 4.95122]),
    "minor": np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186,
                       7.37619, 1.75623]),
}  # fmt: skip


def _standardized(profiles: dict) -> np.ndarray:
    """Every key's profile, standardized (mean 0, standard deviation 1), one row per key: Pearson's r is a dot
    product with standardized durations."""
    rows = np.array([np.roll(p, tonic) for tonic in range(12) for p in profiles.values()])
    return (rows - rows.mean(axis=1, keepdims=True)) / rows.std(axis=1, keepdims=True)


_KEY_NAMES = [key_name(tonic, mode) for tonic in range(12) for mode in KRUMHANSL_KESSLER]
_PROFILES = _standardized(KRUMHANSL_KESSLER)
_AARDEN = _standardized(AARDEN_ESSEN)


_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_TEXT = re.compile(
    r"\s*(?P<letter>[A-Ga-g])\s*(?P<accidental>[#♯b♭]|-?\s*(?i:sharp|flat))?[\s-]*(?P<mode>[^\s-].*?)?\s*", re.S
)
_CHURCH_MODES = ("ionian", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "locrian")
_MODES = {"": None, "m": "minor", "M": "major", "min": "minor", "maj": "major", "minor": "minor", "major": "major"}


def key_from_text(text: str) -> str:
    """The key a musician means by ``text``, named as :func:`~musewidgets.piece.key_name` names it.

    ``'D minor'``, ``'Dm'``, ``'d'`` (a lower-case letter alone: minor), ``'D'`` (major), ``'F#'``, ``'Bb'``,
    ``'Bbm'``, ``'B flat major'``, ``'f♯ min'``, ``'C MAJOR'`` ...; a tonic of other spelling takes the usual one
    (``'A# minor'`` is ``'Bb minor'``).

    Raises
    ------
    ValueError
        If ``text`` names no major or minor key.
    """
    found = _KEY_TEXT.fullmatch(text) if isinstance(text, str) else None
    mode_text = (found.group("mode") or "") if found else ""
    mode = _MODES.get(mode_text if len(mode_text) < 2 else mode_text.lower())  # 'm' minor, 'M' major
    if found is None or (mode is None and mode_text):
        if mode_text.lower() in _CHURCH_MODES:  # 'D dorian'
            raise ValueError(f"`key` must be a major or minor key, got {text!r}")
        raise ValueError(f"`key` must look like 'D minor', 'Dm', 'F#' or 'Bb major', got {text!r}")
    letter, accidental = found.group("letter"), (found.group("accidental") or "").lower()
    shift = 1 if accidental[-1:] in ("#", "♯", "p") else -1 if accidental else 0  # sharp ends in p
    mode = mode or ("minor" if letter.islower() else "major")
    return key_name(_NATURALS[letter.upper()] + shift, mode)


def pitch_class_durations(piece: Piece) -> np.ndarray:
    """How long each pitch class sounds, in steps, summed over all parts: shape ``(12,)``, C first."""
    profile = np.zeros(12)
    for part in piece.parts:
        for note in part.notes:
            profile[note.pitch % 12] += note.duration
    return profile


def _standard(durations: np.ndarray) -> np.ndarray | None:
    """Pitch-class durations standardized (mean 0, standard deviation 1); ``None`` where no correlation is defined
    (a single pitch class, or all twelve equally long)."""
    if np.count_nonzero(durations) < 2 or durations.std() == 0:
        return None
    return (durations - durations.mean()) / durations.std()


def key_scores(piece: Piece) -> dict[str, float]:
    """Pearson correlation of the piece's pitch-class durations with each of the 24 key profiles.

    Returns
    -------
    dict
        ``{'C major': r, 'C minor': r, ...}`` (key names as :func:`~musewidgets.piece.key_name` spells them), or an
        empty dict for a piece without notes, with a single pitch class only, or with all twelve sounding equally long
        (no correlation is defined).
    """
    z = _standard(pitch_class_durations(piece))
    if z is None:  # all twelve equally long: no key is closer
        return {}
    return dict(zip(_KEY_NAMES, (_PROFILES @ z / 12).tolist()))


def key_of_durations(durations: np.ndarray) -> tuple[int, str] | None:
    """Tonic pitch class and mode of the best-fitting key for a pitch-class duration profile of shape ``(12,)``.

    The same rule as :func:`estimate_key`, for callers that already hold the profile (the style features build it
    from a piano roll); ``None`` when nothing sounds.
    """
    durations = np.asarray(durations, dtype=float)
    if not durations.any():
        return None
    z = _standard(durations)
    if z is None:
        return int(durations.argmax()), "major"
    best = int(np.argmax(_PROFILES @ z))
    return best // 2, ("major", "minor")[best % 2]


def estimate_key(piece: Piece) -> str | None:
    """The most likely key of ``piece`` (``'G major'``, ``'E minor'`` ...) by Krumhansl-Schmuckler.

    A piece with a single pitch class is in the major key of that pitch; a piece without notes has no key (``None``).
    Ties go to the first key in the order C major, C minor, Db major ... (major before minor).
    """
    scores = key_scores(piece)
    if not scores:
        durations = pitch_class_durations(piece)
        return key_name(int(durations.argmax()), "major") if durations.any() else None
    return max(scores, key=scores.get)


def fits_key(piece: Piece, key: str) -> tuple[bool, float]:
    """How well ``piece`` is in ``key`` (``'D minor'``, ``'C# major'`` ...), by two key-finders.

    Returns whether both the Krumhansl-Kessler profiles (:func:`estimate_key`) and Aarden's Essen profiles (music21's
    ``analyze('key')``) find ``key`` the best fit, and the sum of the two correlations with ``key`` (for ranking
    pieces that are not); ``(False, -inf)`` for a piece whose durations have no correlation. ``ValueError`` for a
    name that is not a major or minor key.
    """
    tonic, mode = parse_key(key)
    if mode not in KRUMHANSL_KESSLER:
        raise ValueError(f"`key` must be a major or minor key, got {key!r}")
    z = _standard(pitch_class_durations(piece))
    if z is None:
        return False, -np.inf
    ours, aarden = _PROFILES @ z / 12, _AARDEN @ z / 12
    i = 2 * (tonic % 12) + list(KRUMHANSL_KESSLER).index(mode)  # the rows' order: _KEY_NAMES
    return bool(ours.argmax() == i and aarden.argmax() == i), float(ours[i] + aarden[i])
