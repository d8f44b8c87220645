"""How the classifier's "unsure" check (:mod:`musewidgets.analysis.unsure`) does: the share of pieces it calls unsure,
on held-out corpus music (which it should almost never be), the default model's takes, music from outside the
training collections, the JSB edition of the Bach chorales and music far from all four styles (which it should be).

The thresholds were chosen on the valid split; every row here is computed once, for the classifier's card
(:func:`musewidgets.evaluation.classifier.write_card`).
"""

from __future__ import annotations

import numpy as np

from ..piece import Note, Part, Piece

__all__ = ["far_pieces", "jsb_one_track", "report"]

PIANO = ("joplin/*", "chopin/*", "schumann_robert/*", "schumann_clara/*", "beach/*")  # music21's piano pieces


def far_pieces(seed: int = 0) -> dict[str, list[Piece]]:
    """Music far from all four styles, made up: random notes, drum patterns and one repeated note (``seed`` fixes
    the random ones)."""
    rng = np.random.default_rng(seed)
    random_notes = []
    for _ in range(20):
        step = int(rng.choice([1, 2, 4]))
        notes = tuple(Note(int(rng.integers(36, 96)), step * i, step) for i in range(64))
        random_notes.append(Piece(parts=(Part("random", notes),), title="random notes"))
    drums = []
    for bars in (2, 4, 8):
        steps = 16 * bars
        kick = tuple(Note(36, t, 2) for t in range(0, steps, 8))
        snare = tuple(Note(38, t, 2) for t in range(4, steps, 8))
        hat = tuple(Note(42, t, 1) for t in range(0, steps, 2))
        drums.append(Piece(parts=(Part("kick", kick), Part("snare", snare), Part("hi-hat", hat)), title="drums"))
        drums.append(Piece(parts=(Part("kit", tuple(sorted(kick + snare + hat, key=lambda n: n.start))),)))
    repeated = [
        Piece(parts=(Part("one note", tuple(Note(pitch, length * i, length) for i in range(32))),))
        for pitch, length in ((60, 4), (67, 2), (55, 8))
    ]
    return {"random notes": random_notes, "drum patterns": drums, "one repeated note": repeated}


def jsb_one_track(roll: np.ndarray, tempo: float = 100.0) -> Piece:
    """A JSB piano roll (frames x 88 keys, a frame a quarter note) as a MIDI file writes it the usual way: one
    track, each key's run of sounding frames one note (repeated notes merged)."""
    notes = []
    frames = roll.shape[0]
    for key in range(roll.shape[1]):
        t = 0
        while t < frames:
            if roll[t, key]:
                start = t
                while t < frames and roll[t, key]:
                    t += 1
                notes.append(Note(21 + key, 4 * start, 4 * (t - start)))
            else:
                t += 1
    return Piece(parts=(Part("piano", tuple(sorted(notes, key=lambda n: (n.start, n.pitch)))),), tempo=tempo)


def _jsb() -> list[Piece]:
    from scipy.io import loadmat

    from .bench import find_jsb

    path = find_jsb()
    if path is None:
        return []
    return [jsb_one_track(roll) for roll in loadmat(path)["testdata"][0]]


def report(classifier, outside: dict[str, list[Piece]], piano: list[Piece], *, limit: int | None = None) -> list[dict]:
    """Rows ``{"music", "expected", "pieces", "unsure"}`` (the share called unsure) for the card; ``outside``: the
    collections from outside the training ones, by name (:data:`.classifier.OUTSIDE_SETS`); ``piano``: the corpus's
    piano pieces (:data:`PIANO`)."""
    from ..analysis.metrics import last_bars
    from ..analysis.unsure import EXCERPT_BARS, load_unsure
    from ..datasets import corpus
    from ..sampling import load_sampler

    check = load_unsure()
    rows = []

    def row(music, expected, pieces):
        if pieces:
            share = float(np.mean(check.scores(pieces, classifier).max(axis=1) > 1))
            rows.append({"music": music, "expected": expected, "pieces": len(pieces), "unsure": share})

    lstm = load_sampler("lstm")
    for style in classifier.styles:
        for split in ("valid", "test"):
            pieces = corpus.load_style(style, progress=False).split(split)[:limit]
            excerpts = [last_bars(p, b) for b in EXCERPT_BARS for p in pieces if p.n_bars > b]
            row(f"{style}, {split} split: pieces and excerpts", "sure", pieces + excerpts)
        row(f"{style}: the LSTM's takes (8 bars)", "sure", lstm.generate(style=style, bars=8, n=16, seed=0))
    for name, pieces in outside.items():
        row(name, "either", pieces[:limit])
    row("JSB chorales, test split, as one MIDI track", "either", _jsb()[:limit])
    row("piano pieces (Joplin, Chopin, Schumann, Beach)", "unsure", piano[:limit])
    for name, pieces in far_pieces().items():
        row(name, "unsure", pieces)
    return rows
