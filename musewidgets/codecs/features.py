"""Style features: what the style classifier reads, built so that the encoding of a piece does not matter.

A piece becomes a float array of shape ``(T, C)``: one row per sixteenth note (``T`` steps at 4 steps per quarter,
whatever the piece's own grid), :data:`N_CHANNELS` columns:

=========  =====  ============================================================================================
columns    count  meaning at step ``t``
=========  =====  ============================================================================================
0-11       12     pitch classes sounding, counted **relative to the estimated tonic** (0 = tonic)
12-23      12     pitch classes struck at ``t``, relative to the tonic
24-31      8      sounding notes per octave band (MIDI 24-35, 36-47, ... 108-119; lower and higher are clipped
                  into the end bands), divided by 4
32         1      notes sounding, divided by 4
33         1      notes struck, divided by 4
34-37      4      position within the quarter note (one-hot, sixteenths 0-3)
38         1      1 on a bar line
39         1      1 on a beat (the denominator's note value; a dotted quarter in 6/8, 9/8, 12/8)
40         1      1 when the estimated key is minor
41-49      9      metre, one-hot: 2/4, 3/4, 4/4, 6/8, 2/2, 3/2, 4/2, 3/8, any other
50         1      the top line: highest sounding pitch minus 60, divided by 24 (0 in a rest)
51         1      the top line's melodic interval where it moves: semitones from its previous pitch divided
                  by 12, clipped to +-2
=========  =====  ============================================================================================

Why these: every part is merged into one roll, so a score in four staves, the same notes in one MIDI track, or a
melody over chords read from a lead sheet all give the same kind of input; pitch classes count from the
Krumhansl-Schmuckler tonic (:func:`~musewidgets.keys.key_of_durations`), so a transposed piece gives the
same pitch-class columns (only the octave bands move); rhythm enters on the notated grid (position in the beat and
bar), which tells a chorale's quarter-note motion from a reel's running eighths. Tempo is left out: files from
the web rarely carry a meaningful one.

The features are not meant to be decoded, so this codec has ``encode`` only; ``to_dict``/``from_dict`` let the
classifier's checkpoint record exactly which features it was trained on.
"""

from __future__ import annotations

import numpy as np

from ..keys import key_of_durations
from ..piece import Piece

__all__ = ["METRES", "N_CHANNELS", "STEPS_PER_QUARTER", "StyleFeatures", "note_array"]

STEPS_PER_QUARTER = 4
METRES = ((2, 4), (3, 4), (4, 4), (6, 8), (2, 2), (3, 2), (4, 2), (3, 8))
N_CHANNELS = 12 + 12 + 8 + 2 + 4 + 2 + 1 + len(METRES) + 1 + 2
_BAND, _COUNT, _POS, _BAR, _BEAT, _MINOR, _METRE, _TOP = 24, 32, 34, 38, 39, 40, 41, 50


def note_array(piece: Piece) -> np.ndarray:
    """All notes of all parts as an int array of shape ``(n, 4)``: pitch, start, end (steps at 4 per quarter), part.

    Pieces on another grid are rescaled to sixteenths (onsets rounded, every note at least one step long).
    """
    rows = [(n.pitch, n.start, n.end, i) for i, part in enumerate(piece.parts) for n in part.notes]
    notes = np.array(rows, dtype=np.int64).reshape(-1, 4)
    if piece.steps_per_quarter != STEPS_PER_QUARTER and len(notes):
        scale = STEPS_PER_QUARTER / piece.steps_per_quarter
        notes[:, 1] = np.round(notes[:, 1] * scale)
        notes[:, 2] = np.maximum(notes[:, 1] + 1, np.round(notes[:, 2] * scale))
    return notes


def _scaled(steps: int, piece: Piece) -> int:
    return round(steps * STEPS_PER_QUARTER / piece.steps_per_quarter)


class StyleFeatures:
    """Piece -> ``(T, N_CHANNELS)`` float32 features (see the module docstring)."""

    kind = "style_features"
    version = 2

    def encode(self, piece: Piece) -> np.ndarray:
        """Features of a whole piece, shape ``(T, N_CHANNELS)`` with ``T`` = its length in sixteenths (at least 1)."""
        return self.encode_notes(
            note_array(piece), max(1, _scaled(piece.end, piece)), piece.time_signature, _scaled(piece.pickup, piece)
        )

    def encode_notes(
        self, notes: np.ndarray, length: int, time_signature: tuple[int, int], pickup: int = 0
    ) -> np.ndarray:
        """Features from a :func:`note_array` (sixteenth grid) of ``length`` steps; notes past the end are cut."""
        T = int(length)
        x = np.zeros((T, N_CHANNELS), dtype=np.float32)
        sounding = np.zeros((T, 128), dtype=np.float32)
        struck = np.zeros((T, 128), dtype=np.float32)
        for pitch, start, end, _ in notes.tolist():
            if start < T:
                sounding[start : min(end, T), pitch] += 1
                struck[start, pitch] += 1
        pcs = sounding.reshape(T, -1)[:, :120].reshape(T, 10, 12).sum(1) + np.pad(sounding[:, 120:], ((0, 0), (0, 4)))
        key = key_of_durations(pcs.sum(0))
        tonic, minor = (0, False) if key is None else (key[0], key[1] == "minor")
        on_pcs = struck[:, :120].reshape(T, 10, 12).sum(1) + np.pad(struck[:, 120:], ((0, 0), (0, 4)))
        x[:, 0:12] = np.minimum(np.roll(pcs, -tonic, axis=1), 2) / 2
        x[:, 12:24] = np.minimum(np.roll(on_pcs, -tonic, axis=1), 2) / 2
        octave = np.clip(np.arange(128) // 12 - 2, 0, 7)
        bands = np.zeros((T, 8), dtype=np.float32)
        np.add.at(bands.T, octave, sounding.T)
        x[:, _BAND : _BAND + 8] = np.minimum(bands, 4) / 4
        x[:, _COUNT] = np.minimum(sounding.sum(1), 8) / 4
        x[:, _COUNT + 1] = np.minimum(struck.sum(1), 8) / 4
        steps = np.arange(T)
        x[steps, _POS + steps % STEPS_PER_QUARTER] = 1
        num, den = time_signature
        bar = STEPS_PER_QUARTER * 4 * num // den
        beat = STEPS_PER_QUARTER * 4 // den * (3 if den == 8 and num % 3 == 0 else 1)
        x[:, _BAR] = (steps - pickup) % max(bar, 1) == 0
        x[:, _BEAT] = (steps - pickup) % max(beat, 1) == 0
        x[:, _MINOR] = minor
        metre = METRES.index((num, den)) if (num, den) in METRES else len(METRES)
        x[:, _METRE + metre] = 1
        on = sounding > 0
        top = np.where(on.any(1), 127 - np.argmax(on[:, ::-1], axis=1), -1)  # (T,) highest pitch, -1 in rests
        x[:, _TOP] = np.where(top >= 0, (top - 60) / 24, 0)
        moves = np.flatnonzero((top >= 0) & (np.r_[-1, top[:-1]] != top))
        if len(moves) > 1:
            x[moves[1:], _TOP + 1] = np.clip((top[moves[1:]] - top[moves[:-1]]) / 12, -2, 2)
        return x

    def to_dict(self) -> dict:
        return {"kind": self.kind, "version": self.version, "channels": N_CHANNELS}

    @classmethod
    def from_dict(cls, data: dict) -> StyleFeatures:
        if data.get("version") != cls.version or data.get("channels") != N_CHANNELS:
            raise ValueError(f"style features version {data.get('version')} is not supported (want {cls.version})")
        return cls()


_TRIADS = {
    "major": ((0, 4, 7), (7, 11, 2), (5, 9, 0), (9, 0, 4), (2, 5, 9)),  # I V IV vi ii
    "minor": ((0, 3, 7), (7, 11, 2), (5, 8, 0), (8, 0, 3), (3, 7, 10)),  # i V iv VI III
}


def chords_for(notes: np.ndarray, length: int, bar: int, pickup: int, n_parts: int) -> np.ndarray:
    """Block chords, one per bar, as a note array (part index ``n_parts``) in C2-B3: see the module docstring."""
    from ..keys import key_of_durations

    chords = []
    lower = notes[notes[:, 3] > 0] if n_parts > 1 else notes[:0]
    profile = np.zeros(12)
    np.add.at(profile, notes[:, 0] % 12, notes[:, 2] - notes[:, 1])
    key = key_of_durations(profile) or (0, "major")
    starts = list(range(pickup % bar - bar if pickup % bar else 0, length, bar))
    for s in starts:
        lo, hi = max(0, s), min(length, s + bar)
        if hi <= lo:
            continue
        if n_parts > 1:
            at = lower[(lower[:, 1] <= lo) & (lower[:, 2] > lo)]
            pcs = sorted({int(p) % 12 for p in at[:, 0]})
            root = int(at[:, 0].min()) % 12 if len(at) else None
        else:
            inside = notes[(notes[:, 1] < hi) & (notes[:, 2] > lo)]
            weight = np.zeros(12)
            np.add.at(weight, inside[:, 0] % 12, np.minimum(inside[:, 2], hi) - np.maximum(inside[:, 1], lo))
            triads = [tuple((key[0] + i) % 12 for i in t) for t in _TRIADS[key[1]]]
            best = max(triads, key=lambda t: weight[list(t)].sum()) if inside.size else triads[0]
            pcs, root = sorted(best), best[0]
        if not pcs:
            continue
        chords.append((36 + root, lo, hi, n_parts))
        chords.extend((48 + pc, lo, hi, n_parts) for pc in pcs)
    return np.array(chords, dtype=np.int64).reshape(-1, 4)
