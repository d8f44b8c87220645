"""Training the ``classifier`` family: which corpus style a stretch of music comes from.

Training examples are random stretches (3 to 16 quarter-note bars' worth: 48 to 256 sixteenths) of the train-split
pieces, one style drawn with equal weight and then one of its pieces, and they are re-encoded at random so that the
classifier hears the music rather than how it was written down:

=========================  ===========  =================================================================
augmentation               probability  what changes
=========================  ===========  =================================================================
transposition              always       -6..+5 semitones (where the notes stay in MIDI 21..108)
melody only                0.3          only the top part is kept (a chorale's soprano, a motet's cantus)
melody over chords         0.2          the top part plus block chords, one per bar: the lower parts' pitch
                                        classes at the bar line, or for a melody the diatonic triad that
                                        fits the bar's notes best, voiced in C2-B3
quantized to quarters      0.15         onsets floored and durations rounded to quarter notes
no metre                   0.1          written as 4/4 without a pickup, like a MIDI file with no time
                                        signature
=========================  ===========  =================================================================

All parts are merged into one roll by the features, so "all voices in one MIDI track" needs no augmentation of its
own. Validation is the error rate per style (1 - recall) on whole valid-split pieces; the checkpoint with the lowest
mean is kept. The learning rate warms up over 100 steps and, with a step cap, falls along a cosine to 0 at the cap.
The examples come from one ``numpy.random.Generator`` seeded with ``config.seed``; dropout and the initial weights
from torch's default generator, which :meth:`~musewidgets.training.Trainer.fit` seeds inside a forked random state
(the caller's is restored). The ``last`` checkpoint keeps both random states, so ``resume`` goes on exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from ..codecs.features import STEPS_PER_QUARTER, StyleFeatures, chords_for, note_array
from ..models import build
from ..models.classifier import batch_of, predict
from .step import lr_factor, set_lr, update

__all__ = ["ClassifierTask", "augment", "batch_of", "chords_for"]

DEFAULT_LR, DEFAULT_BATCH = 2e-3, 64
MIN_WINDOW, MAX_WINDOW = 48, 256
VALID_MAX_STEPS = 512  # validation reads at most the first 32 quarter notes of each piece


class _Item:
    """One piece prepared for cropping: its notes on the sixteenth grid, length, metre, pickup and bar length."""

    def __init__(self, piece):
        self.notes = note_array(piece)
        scale = STEPS_PER_QUARTER / piece.steps_per_quarter
        self.length = max(1, round(piece.end * scale))
        self.metre = piece.time_signature
        self.pickup = round(piece.pickup * scale)
        self.bar = round(piece.steps_per_bar * scale)
        self.n_parts = len(piece.parts)


def augment(item: _Item, rng: np.random.Generator, window: tuple[int, int] | None = None):
    """A random re-encoding of a random stretch of ``item``: (notes, length, metre, pickup)."""
    notes, length, metre, pickup = item.notes, item.length, item.metre, item.pickup
    if window is not None:
        size = int(rng.integers(window[0], window[1] + 1))
        if length > size:
            s = int(rng.integers(0, length - size + 1))
            notes = notes[(notes[:, 2] > s) & (notes[:, 1] < s + size)].copy()
            notes[:, 1:3] = np.clip(notes[:, 1:3] - s, 0, size)
            length, pickup = size, (pickup - s) % item.bar
    u = rng.random(5)
    if u[0] < 0.5:  # melody only (0.3, where there is more than a melody) or melody over chords (0.2)
        top = notes[notes[:, 3] == 0]
        if u[0] < 0.3 and item.n_parts > 1:
            notes = top
        elif u[0] >= 0.3:
            notes = np.concatenate([top, chords_for(notes, length, item.bar, pickup, item.n_parts)])
    if len(notes):
        lo, hi = int(notes[:, 0].min()), int(notes[:, 0].max())
        shifts = [k for k in range(-6, 6) if lo + k >= 21 and hi + k <= 108] or [0]
        notes = notes.copy()
        notes[:, 0] += shifts[int(rng.integers(len(shifts)))]
    if u[1] < 0.15:  # quantized to quarter notes
        q = STEPS_PER_QUARTER
        start = notes[:, 1] // q * q
        end = np.maximum(start + q, np.round(notes[:, 2] / q).astype(np.int64) * q)
        notes = np.unique(np.stack([notes[:, 0], start, end, notes[:, 3]], axis=1), axis=0)
    if u[2] < 0.1:  # no metre
        metre, pickup = (4, 4), 0
    return notes, length, metre, pickup


class ClassifierTask:
    """Supervised training of the style classifier inside :class:`~musewidgets.training.Trainer`'s loop."""

    def __init__(self, trainer, corpora: dict):
        self.t = trainer
        cfg = trainer.config
        self.styles = list(corpora)
        self.features = StyleFeatures()
        limit = cfg.limit_pieces
        self.train = {s: [_Item(p) for p in c.split("train")[:limit]] for s, c in corpora.items()}
        valid = [(i, p) for i, c in enumerate(corpora.values()) for p in c.split("valid")[:limit]]
        self.valid_x = [self.features.encode(p)[:VALID_MAX_STEPS] for _, p in valid]
        self.valid_y = np.array([i for i, _ in valid])

    def run(self) -> dict:
        t, cfg = self.t, self.t.config
        device = t._device()
        lr = cfg.lr or DEFAULT_LR
        batch_size = cfg.batch_size or DEFAULT_BATCH
        model = build("classifier", {**cfg.model, "n_styles": len(self.styles)}).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        rng = np.random.default_rng(cfg.seed)
        start = t.restore(model, opt, rng)

        def train_step(step):
            model.train()
            ys = rng.integers(len(self.styles), size=batch_size)
            xs = []
            for y in ys:
                items = self.train[self.styles[y]]
                notes, length, metre, pickup = augment(
                    items[int(rng.integers(len(items)))], rng, (MIN_WINDOW, MAX_WINDOW)
                )
                xs.append(self.features.encode_notes(notes, length, metre, pickup))
            batch = {k: v.to(device) for k, v in batch_of(xs, ys.tolist()).items()}
            set_lr(opt, lr, lr_factor(step, cfg.max_steps, floor=0.0))  # warm-up, then a cosine to 0 at the step cap
            _, loss = model(batch)
            update(model, opt, loss, cfg.clip)
            return {"loss": loss.item(), "tokens": int(batch["mask"].sum())}

        def validate() -> dict:
            pred = predict(model, self.valid_x, device).argmax(1)
            return {s: float(np.mean(pred[self.valid_y == i] != i)) for i, s in enumerate(self.styles)}

        scores = ("valid_error", "best_valid_error")
        return t.loop(
            train_step=train_step,
            validate=validate,
            save=t.saver(model, self.features, opt, scores=scores, params=model.n_params()),
            rng=rng,
            start=start,
            patience=cfg.patience,
        )
