"""Numbers that describe a piece, for comparing generated takes with the corpus: pure functions Piece -> float.

Each function takes a :class:`~musewidgets.piece.Piece` and returns a float; NaN only where the value is undefined
(said below, mostly: no notes). All parts count alike (there are no drum parts). Time is in steps; a *beat* is a
quarter note (``steps_per_quarter`` steps, MusPy's ``resolution``) and a *bar* is ``steps_per_bar`` steps, with bar
lines at ``pickup + k * steps_per_bar``. Where MusPy (Dong et al. 2020) has the metric, ours equals MusPy's on any
piece without a pickup -- a test converts corpus pieces to ``muspy.Music`` and compares -- and MusPy's quirks are
kept and named here. Yang & Lerch (2018) describe the intended use: compute a metric over many generated and many
corpus pieces and compare the two distributions, not single values.

Pitch
-----
``pitch_range``
    Highest minus lowest MIDI pitch over all notes, in semitones (MusPy ``pitch_range``; Yang & Lerch's PR).
    NaN without notes (MusPy returns 0 there).
``n_pitch_classes_used``
    Number of distinct pitch classes (pitch mod 12) among all notes, 0..12 (MusPy ``n_pitch_classes_used``;
    the pitch-class counterpart of Yang & Lerch's pitch count PC). 0.0 without notes.
``pitch_class_entropy``
    Shannon entropy, in bits (0..log2 12 = 3.585), of the pitch-class histogram, each *note* counted once whatever
    its duration (MusPy ``pitch_class_entropy``, from Wu & Yang 2020; the entropy of Yang & Lerch's PCH). NaN
    without notes.
``scale_consistency``
    The largest share of notes (counted once each) whose pitch class lies in one major or natural-minor scale,
    over all 24 such scales, 0..1 (MusPy ``scale_consistency``, from Mogren 2016). NaN without notes.
``mean_pitch``
    Mean MIDI pitch over all notes (each note once). NaN without notes.

Texture and rhythm
------------------
``polyphony``
    Mean number of distinct pitches sounding, over the steps at which at least one pitch sounds (MusPy
    ``polyphony``). As in MusPy's binary piano roll, two parts on the same pitch at once count as one pitch, so a
    unison lowers it. NaN without notes.
``empty_beat_rate``
    Share of beats in which no note sounds (MusPy ``empty_beat_rate``, from Pypianoroll and MuseGAN, Dong et al.
    2018). MusPy's definition, kept: with ``L`` the end of the last note, there are ``L // spq + 1`` beats, and a note
    fills beats ``start // spq`` to ``end // spq`` *inclusive*. So a note that ends on a beat line also fills the
    beat after it: a one-beat rest that follows a note is never empty, only the second and later beats of a longer
    rest are, and a piece ending on a beat line gets one extra, filled beat. Beats are counted from the bar lines:
    when the pickup is not a whole number of beats, times are shifted by ``(-pickup) % spq`` steps first (no
    shift, so MusPy's value, otherwise). NaN without notes.
``groove_consistency``
    One minus the mean Hamming distance between the onset patterns of neighbouring bars, divided by the number of
    positions in a bar (MusPy ``groove_consistency`` with ``measure_resolution = steps_per_bar``, from Wu & Yang
    2020). A bar's onset pattern has ``steps_per_bar`` booleans, True where any part has an onset. Bars are counted
    from the bar lines: bar ``k`` starts at ``pickup + k * steps_per_bar`` and the pickup's onsets are left out
    (MusPy counts bars from step 0, which shifts every bar of a piece with a pickup). MusPy's count of bars is kept:
    with ``L`` the end of the last note, ``(L - pickup) // steps_per_bar + 1`` bars, so a piece that ends on a bar
    line gets one extra, empty bar, and its last bar's onsets count as differences. Values are high (about 0.8 to 0.9
    in the corpus) because most positions have no onset in either bar. NaN with fewer than two such bars.
``notes_per_bar``
    Number of notes divided by the length of the piece in bars, ``piece.end / steps_per_bar`` (a pickup counts as
    the fraction of a bar it is, rests at the end of a take count); the per-bar note count NC of Yang & Lerch. NaN
    for a piece of length 0.

Form and cadence
----------------
``repeated_bars``
    Share of the bars 1 .. ``n_bars - 1`` (the full bars after the pickup, the final incomplete one included; bar 0
    cannot repeat anything) whose content equals that of some earlier bar. A bar's content is, for every part, the
    set of (pitch, onset, duration) of the notes sounding in it, clipped to the bar, onsets relative to the bar line;
    so a note tied into a bar looks like a note struck on its downbeat. Bars without notes never count as repeats.
    NaN for a piece with fewer than two bars.
``longest_bar_loop``
    The longest run of consecutive bars with equal, non-empty content: 1 where no bar equals the bar before it, 5 for
    a bar played five times in a row; 0 if no bar has notes (a piece without notes, or notes only in the pickup).
``tonic_ending``
    1.0 if the last sounding chord -- the notes sounding at the last onset in the piece, over all parts, notes held
    from before included -- has both its lowest and its highest pitch on the tonic of the key, else 0.0. The key is
    the ``key`` argument, else ``piece.key``, else :func:`~musewidgets.keys.estimate_key`. NaN without
    notes.

Voice leading
-------------
:func:`metrics` returns all of the above, in the order of :data:`METRIC_NAMES`, and then the rates per 8 bars of
:func:`musewidgets.analysis.voice_leading.voice_leading` (parallel fifths, octaves, crossings, spacing, out-of-range
notes), defined there.

References
----------
Hao-Wen Dong, Ke Chen, Julian McAuley and Taylor Berg-Kirkpatrick, "MusPy: A Toolkit for Symbolic Music
Generation", ISMIR 2020 (metrics in ``muspy.metrics``, version 0.5).
Li-Chia Yang and Alexander Lerch, "On the evaluation of generative models in music", Neural Computing and
Applications 32, 2020 (online 2018).
Shih-Lun Wu and Yi-Hsuan Yang, "The Jazz Transformer on the Front Line", ISMIR 2020.
Olof Mogren, "C-RNN-GAN: Continuous recurrent neural networks with adversarial training", NeurIPS Workshop on
Constructive Machine Learning, 2016.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..keys import estimate_key
from ..piece import Piece, parse_key
from .voice_leading import RATE_NAMES, voice_leading

__all__ = [
    "METRIC_NAMES",
    "empty_beat_rate",
    "ending_profile",
    "groove_consistency",
    "last_bars",
    "longest_bar_loop",
    "mean_pitch",
    "metric_matrix",
    "metrics",
    "n_pitch_classes_used",
    "notes_per_bar",
    "pitch_class_entropy",
    "pitch_range",
    "polyphony",
    "repeated_bars",
    "repetition_profile",
    "scale_consistency",
    "tonic_ending",
]

# The order of metrics(): the MusPy metrics, then form and cadence, then ours, then the voice-leading rates.
METRIC_NAMES = (
    "pitch_range",
    "n_pitch_classes_used",
    "polyphony",
    "pitch_class_entropy",
    "scale_consistency",
    "empty_beat_rate",
    "groove_consistency",
    "repeated_bars",
    "longest_bar_loop",
    "tonic_ending",
    "mean_pitch",
    "notes_per_bar",
    *RATE_NAMES,
)

_NAN = math.nan
_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1])
_MINOR = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0])
# one row per scale (12 major, 12 natural minor), one column per pitch class
_SCALES = np.array([np.roll(s, root) for s in (_MAJOR, _MINOR) for root in range(12)])


def _notes(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitches, onsets and ends (steps) of all notes of all parts, each of shape ``(n_notes,)``."""
    rows = [(n.pitch, n.start, n.start + n.duration) for part in piece.parts for n in part.notes]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    pitch, start, end = np.array(rows, dtype=np.int64).T
    return pitch, start, end


def _pitch_class_counts(piece: Piece) -> np.ndarray:
    """Number of notes of each pitch class, shape ``(12,)``, C first."""
    return np.bincount(_notes(piece)[0] % 12, minlength=12)


# ---------------------------------------------------------------------------------------------------------- pitch
def pitch_range(piece: Piece) -> float:
    """Highest minus lowest pitch, in semitones; NaN without notes."""
    pitch = _notes(piece)[0]
    return float(pitch.max() - pitch.min()) if len(pitch) else _NAN


def n_pitch_classes_used(piece: Piece) -> float:
    """Number of distinct pitch classes used, 0..12."""
    return float(np.count_nonzero(_pitch_class_counts(piece)))


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy of the pitch-class histogram of notes, in bits (0..3.585); NaN without notes."""
    counts = _pitch_class_counts(piece)
    total = counts.sum()
    if total == 0:
        return _NAN
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def scale_consistency(piece: Piece) -> float:
    """Largest share of notes inside one major or natural-minor scale, 0..1; NaN without notes."""
    counts = _pitch_class_counts(piece)
    total = counts.sum()
    return float((_SCALES @ counts).max() / total) if total else _NAN


def mean_pitch(piece: Piece) -> float:
    """Mean MIDI pitch over notes; NaN without notes."""
    pitch = _notes(piece)[0]
    return float(pitch.mean()) if len(pitch) else _NAN


# ---------------------------------------------------------------------------------------------- texture, rhythm
def polyphony(piece: Piece) -> float:
    """Mean number of distinct pitches sounding, over the steps where any sounds; NaN without notes."""
    pitch, start, end = _notes(piece)
    if not len(pitch):
        return _NAN
    roll = np.zeros((int(end.max()), 128), dtype=bool)
    for p, s, e in zip(pitch.tolist(), start.tolist(), end.tolist()):
        roll[s:e, p] = True
    per_step = roll.sum(axis=1)
    return float(per_step.sum() / np.count_nonzero(per_step))


def empty_beat_rate(piece: Piece) -> float:
    """Share of quarter-note beats without a sounding note, as MusPy counts them; NaN without notes."""
    _, start, end = _notes(piece)
    if not len(start):
        return _NAN
    spq = piece.steps_per_quarter
    shift = -piece.pickup % spq  # beat lines at the bar lines
    n_beats = (int(end.max()) + shift) // spq + 1
    first, last = (start + shift) // spq, (end + shift) // spq  # inclusive, as in MusPy
    filled = np.zeros(n_beats + 1, dtype=np.int64)
    np.add.at(filled, first, 1)
    np.add.at(filled, last + 1, -1)
    return float(1 - np.count_nonzero(np.cumsum(filled)[:n_beats]) / n_beats)


def groove_consistency(piece: Piece) -> float:
    """One minus the mean Hamming distance of neighbouring bars' onset patterns per position; NaN under 2 bars."""
    _, start, end = _notes(piece)
    if not len(start):
        return _NAN
    spb = piece.steps_per_bar
    n_bars = (int(end.max()) - piece.pickup) // spb + 1
    if n_bars < 2:
        return _NAN
    onsets = start[start >= piece.pickup] - piece.pickup
    grooves = np.zeros(n_bars * spb, dtype=bool)
    grooves[onsets] = True
    grooves = grooves.reshape(n_bars, spb)
    distance = np.count_nonzero(grooves[:-1] != grooves[1:])
    return float(1 - distance / (spb * (n_bars - 1)))


def notes_per_bar(piece: Piece) -> float:
    """Notes per bar of length ``piece.end / steps_per_bar``; NaN for a piece of length 0."""
    return piece.n_notes * piece.steps_per_bar / piece.end if piece.end else _NAN


# ------------------------------------------------------------------------------------------------ form, cadence
def _bar_contents(piece: Piece) -> list[tuple]:
    """Content of each of the ``n_bars`` bars: per part, the sorted (pitch, onset, duration) clipped to the bar."""
    spb, pickup, n_bars = piece.steps_per_bar, piece.pickup, piece.n_bars
    bars = [[[] for _ in piece.parts] for _ in range(n_bars)]
    for i, part in enumerate(piece.parts):
        for note in part.notes:
            s, e = note.start, note.start + note.duration
            for b in range(max(0, (s - pickup) // spb), min(n_bars, (e - 1 - pickup) // spb + 1)):
                lo = pickup + b * spb
                cs, ce = max(s, lo), min(e, lo + spb)
                bars[b][i].append((note.pitch, cs - lo, ce - cs))
    return [tuple(tuple(sorted(notes)) for notes in bar) for bar in bars]


def _has_notes(content: tuple) -> bool:
    return any(content)


def repeated_bars(piece: Piece) -> float:
    """Share of bars after bar 0 whose non-empty content equals an earlier bar's; NaN under 2 bars."""
    contents = _bar_contents(piece)
    if len(contents) < 2:
        return _NAN
    seen = {contents[0]}
    repeats = 0
    for content in contents[1:]:
        if _has_notes(content) and content in seen:
            repeats += 1
        seen.add(content)
    return repeats / (len(contents) - 1)


def repetition_profile(pieces, window: int = 8) -> list[list[float]]:
    """How bars return in real music: for windows of ``window`` bars starting on every fourth bar line (phrases
    start there), ``profile[b - 1][lag]`` is the share of windows whose bar ``b`` (1 .. window - 1) repeats, note
    for note and not silent, the bar ``lag`` bars earlier (the nearest such; ``lag`` 1 .. b), and
    ``profile[b - 1][0]`` the share where it repeats none. Each row sums to 1.
    """
    counts = np.zeros((window - 1, window))
    for piece in pieces:
        contents = _bar_contents(piece)
        for start in range(0, len(contents) - window + 1, 4):
            bars = contents[start : start + window]
            for b in range(1, window):
                lags = [b - j for j in range(b) if bars[j] == bars[b]] if _has_notes(bars[b]) else []
                counts[b - 1, min(lags) if lags else 0] += 1
    counts[counts.sum(axis=1) == 0, 0] = 1  # no window that long: no bar returns
    return (counts / counts.sum(axis=1, keepdims=True)).round(4).tolist()


def ending_profile(pieces) -> dict[str, list[float]]:
    """How real pieces end: the pitch class of the highest (``"top"``) and of the lowest (``"bass"``) note of each
    piece's final sonority, counted from the tonic of the piece's estimated key (0 = the tonic, 7 = its fifth), and
    (``"approach"``, pieces of several parts) of the lowest part's note before its last one, counted from that last
    note; each a distribution over the 12 intervals. Bach's chorale basses come to their last note from the fifth
    above it in 87 %.
    """
    counts = {"top": np.zeros(12), "bass": np.zeros(12), "approach": np.zeros(12)}
    for piece in pieces:
        pitch, start, end = _notes(piece)
        if not len(pitch):
            continue
        tonic = parse_key(estimate_key(piece))[0]
        last = start.max()
        chord = pitch[(start <= last) & (end > last)]
        counts["top"][(chord.max() - tonic) % 12] += 1
        counts["bass"][(chord.min() - tonic) % 12] += 1
        bass = piece.parts[-1].notes if len(piece.parts) > 1 else ()
        before = [n for n in bass[:-1] if n.start + n.duration <= bass[-1].start]
        if before:
            counts["approach"][(before[-1].pitch - bass[-1].pitch) % 12] += 1
    return {k: (c / max(c.sum(), 1)).round(4).tolist() for k, c in counts.items()}


def longest_bar_loop(piece: Piece) -> float:
    """Longest run of consecutive equal non-empty bars (1 with no bar equal to its predecessor; 0 without any)."""
    longest = run = 0
    previous = None
    for content in _bar_contents(piece):
        if not _has_notes(content):
            run = 0
        elif content == previous:
            run += 1
        else:
            run = 1
        longest = max(longest, run)
        previous = content
    return float(longest)


def tonic_ending(piece: Piece, key: str | None = None) -> float:
    """1.0 if the last chord's lowest and highest pitches are on the tonic, else 0.0; NaN without notes.

    Parameters
    ----------
    piece : Piece
    key : str, optional
        ``'G major'`` ...; defaults to ``piece.key``, else the key :func:`estimate_key` finds.
    """
    pitch, start, end = _notes(piece)
    if not len(pitch):
        return _NAN
    key = key or piece.key or estimate_key(piece)
    tonic = parse_key(key)[0]
    last = start.max()
    chord = pitch[(start <= last) & (end > last)]
    return float(chord.min() % 12 == tonic and chord.max() % 12 == tonic)


# ---------------------------------------------------------------------------------------------------------- all
def metrics(piece: Piece) -> dict[str, float]:
    """Every metric of this module and the voice-leading rates, keyed and ordered as :data:`METRIC_NAMES`."""
    values = {
        "pitch_range": pitch_range(piece),
        "n_pitch_classes_used": n_pitch_classes_used(piece),
        "polyphony": polyphony(piece),
        "pitch_class_entropy": pitch_class_entropy(piece),
        "scale_consistency": scale_consistency(piece),
        "empty_beat_rate": empty_beat_rate(piece),
        "groove_consistency": groove_consistency(piece),
        "repeated_bars": repeated_bars(piece),
        "longest_bar_loop": longest_bar_loop(piece),
        "tonic_ending": tonic_ending(piece),
        "mean_pitch": mean_pitch(piece),
        "notes_per_bar": notes_per_bar(piece),
        **voice_leading(piece),
    }
    return {name: values[name] for name in METRIC_NAMES}


def last_bars(piece: Piece, bars: int) -> Piece:
    """The last ``bars`` bars, the final bar included even when it is short (it holds the last chord)."""
    return piece.slice_bars(piece.n_bars - bars, piece.n_bars)


def metric_matrix(pieces: list[Piece]) -> np.ndarray:
    """``(len(pieces), len(METRIC_NAMES))``: the :func:`metrics` of each piece with its voice ranges and key cleared,
    so each is measured in the key heard in its notes and out-of-range counts use the SATB ranges (the scorecard's
    and the GAN's validation features)."""
    plain = [p.replace(key=None, parts=tuple(replace(part, range=None) for part in p.parts)) for p in pieces]
    return np.array([[m[k] for k in METRIC_NAMES] for m in map(metrics, plain)], dtype=float)
