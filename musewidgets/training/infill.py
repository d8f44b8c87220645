"""Training the ``infill`` family (:mod:`musewidgets.models.infill`) with Coconet's objective.

A training example is a window of ``context`` steps (the model's; by default ``seq_len // 4``, 128 with the default
``seq_len``: 8 bars of 4/4) of a piece's token grid, transposed at random within the style's voice ranges (the key
along), with some cells hidden. The mask is drawn from a mixture, so that the model learns every way it is asked to
fill:

==========================  =====  ===========================================================================
mask                        share  cells hidden
==========================  =====  ===========================================================================
random cells                0.35   each with one probability drawn from U(0, 1) (Coconet's orderless mask)
voices                      0.30   whole voices: half of the time every voice but the top one (harmonizing a
                                   melody), else a random non-empty subset
time block                  0.15   every voice over a random stretch of steps
voices x time block         0.20   some voices over a random stretch (regenerating a selection)
==========================  =====  ===========================================================================

The loss is the mean NLL of the hidden cells (nats per cell); nothing else is scored. A share of windows
(``end_share``) ends where its piece ends, so that endings (the count-down to the end) are learnt as often as
beginnings, and a share (``key_dropout``) hides the key. Validation is the same NLL on the valid split with a fixed
set of windows and masks (drawn once from a generator seeded with :data:`VALID_SEED`, whatever the run's seed), at
most :data:`VALID_WINDOWS` per style. The learning rate warms up over 100 steps and, with a step cap, falls along a
cosine to a tenth at the cap.

Windows and masks come from one ``numpy.random.Generator`` seeded with ``config.seed``; dropout and the initial
weights from torch's default generator, which :meth:`~musewidgets.training.Trainer.fit` seeds inside a forked random
state. The ``last`` checkpoint keeps both, so ``resume`` goes on exactly as an uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import torch

from ..codecs import TokenCodec
from ..codecs.tokens import PAD, PITCH0, transpose_key_index
from ..models import build
from .pieces import StylePieces, encode_heard
from .step import lr_factor, set_lr, update
from .warm_start import start_from

__all__ = ["InfillData", "InfillTask", "card_nll", "masked_nll", "random_mask"]

DEFAULT_LR, DEFAULT_BATCH = 2e-3, 32
MASK_KINDS = (0.35, 0.30, 0.15, 0.20)  # random cells, voices, time block, voices x time block
VALID_SEED = 20_170_000  # the validation windows and masks are the same for every run
VALID_WINDOWS = 64  # per style


def random_mask(rng: np.random.Generator, steps: int, voices: int) -> np.ndarray:
    """A bool mask ``(steps, voices)`` of cells to hide, drawn from the mixture of the module docstring; at least
    one cell is hidden."""
    mask = np.zeros((steps, voices), dtype=bool)
    kind = rng.choice(len(MASK_KINDS), p=MASK_KINDS)
    if kind == 0:
        mask = rng.random((steps, voices)) < rng.random()
    elif kind == 1:
        if voices > 1 and rng.random() < 0.5:
            mask[:, 1:] = True
        else:
            mask[:, rng.random(voices) < 0.5] = True
    else:
        length = int(rng.integers(1, steps + 1))
        start = int(rng.integers(0, steps - length + 1))
        chosen = np.ones(voices, dtype=bool) if kind == 2 else rng.random(voices) < 0.5
        mask[start : start + length, chosen] = True
    if not mask.any():
        mask[int(rng.integers(steps)), int(rng.integers(voices))] = True
    return mask


class _Grid:
    """One piece as arrays: ``cells`` (T, max_voices) tokens (``PAD`` for voices the style lacks), ``bar_pos`` and
    ``to_end`` (T,), and its metre, style and key indices."""

    def __init__(self, codec: TokenCodec, piece, max_voices: int):
        enc = encode_heard(codec, piece)
        V = enc.n_voices
        tokens = enc.tokens.reshape(-1, V)
        self.cells = np.full((len(tokens), max_voices), PAD, dtype=np.int64)
        self.cells[:, :V] = tokens
        self.voices = V
        self.bar_pos = enc.bar_pos[::V].copy()
        self.to_end = enc.to_end[::V].copy()
        self.metre, self.style, self.key = enc.metre, enc.style, enc.key


class InfillData(StylePieces):
    """The grids of one split, per style (:class:`~musewidgets.training.pieces.StylePieces`), and random training
    windows with their masks drawn from them."""

    def __init__(self, codec: TokenCodec, corpora: dict, split: str, limit: int | None = None, max_voices: int = 4):
        self.codec, self.max_voices = codec, max_voices
        super().__init__(corpora, split, limit)

    def prepare(self, piece) -> _Grid:
        return _Grid(self.codec, piece, self.max_voices)

    def length(self, item: _Grid) -> int:
        return len(item.cells)

    def last_start(self, item: _Grid, size: int) -> int:
        return max(0, len(item.cells) - size)

    def window(self, rng, name: str, i: int, steps: int, start: int, shift: int, key_hidden: bool) -> dict:
        """One example as numpy arrays: window ``start .. start + steps`` of piece ``i`` of style ``name``, moved
        by ``shift`` semitones, with a mask drawn from ``rng`` over its real cells."""
        g = self.by_style[name][i]
        cells = np.full((steps, self.max_voices), PAD, dtype=np.int64)
        bar_pos = np.zeros(steps, dtype=np.int64)
        to_end = np.zeros(steps, dtype=np.int64)
        part = g.cells[start : start + steps]
        n = len(part)
        cells[:n] = part
        cells[:n][cells[:n] >= PITCH0] += shift
        bar_pos[:n], to_end[:n] = g.bar_pos[start : start + n], g.to_end[start : start + n]
        hidden = np.zeros_like(cells, dtype=bool)
        hidden[:n, : g.voices] = random_mask(rng, n, g.voices)
        key = 0 if key_hidden else transpose_key_index(g.key, shift)
        return {
            "cells": cells,
            "hidden": hidden,
            "bar_pos": bar_pos,
            "to_end": to_end,
            "metre": g.metre,
            "style": g.style,
            "key": key,
        }

    def batch(self, rng, batch_size: int, steps: int, augment: bool, *, end_share: float, key_dropout: float, mask):
        """Random windows, an equal share per style, as a model batch (see :meth:`collate`)."""
        rows = []
        for name, i, start, shift, hidden in self.draw(rng, batch_size, steps, augment, end_share, key_dropout):
            rows.append(self.window(rng, name, i, steps, start, shift, hidden))
        return collate(rows, mask)

    def validation_set(self, steps: int, per_style: int = VALID_WINDOWS) -> dict[str, list[dict]]:
        """Fixed windows with fixed masks per style: consecutive windows of each piece, at most ``per_style``,
        masks from a generator seeded with :data:`VALID_SEED`."""
        rng = np.random.default_rng(VALID_SEED)
        out = {}
        for name, grids in self.by_style.items():
            rows = []
            for i, g in enumerate(grids):
                for start in range(0, len(g.cells), steps):
                    if len(rows) < per_style:
                        rows.append(self.window(rng, name, i, steps, start, 0, False))
            out[name] = rows
        return out


def collate(rows: list[dict], mask_token: int) -> dict[str, torch.Tensor]:
    """A model batch from example dicts: ``cells`` with ``mask_token`` where hidden, ``targets`` the hidden cells'
    tokens (``PAD`` elsewhere: not scored), the conditioning."""
    cells = np.stack([r["cells"] for r in rows])
    hidden = np.stack([r["hidden"] for r in rows])
    return {
        "cells": torch.from_numpy(np.where(hidden, mask_token, cells)),
        "targets": torch.from_numpy(np.where(hidden, cells, PAD)),
        "bar_pos": torch.from_numpy(np.stack([r["bar_pos"] for r in rows])),
        "to_end": torch.from_numpy(np.stack([r["to_end"] for r in rows])),
        "metre": torch.tensor([r["metre"] for r in rows]),
        "style": torch.tensor([r["style"] for r in rows]),
        "key": torch.tensor([r["key"] for r in rows]),
    }


@torch.no_grad()
def masked_nll(model, valid: dict[str, list[dict]], device="cpu", batch_size: int = 16) -> dict[str, float]:
    """NLL per hidden cell (nats) per style over a :meth:`InfillData.validation_set`."""
    was_training = model.training
    model.eval()
    result = {}
    for name, rows in valid.items():
        total, count = 0.0, 0
        for i in range(0, len(rows), batch_size):
            batch = {k: v.to(device) for k, v in collate(rows[i : i + batch_size], model.config.mask_token).items()}
            logits, _ = model(batch)
            targets = batch["targets"].reshape(-1)
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets, ignore_index=PAD, reduction="sum"
            ).item()
            count += int((targets != PAD).sum())
        result[name] = total / max(count, 1)
    model.train(was_training)
    return result


def card_nll(checkpoint, corpora: dict, limit: int | None = None) -> dict[str, dict[str, float]]:
    """NLL per hidden cell on the valid and test splits, per style (the validation's fixed windows and masks), for
    the model card."""
    from ..threads import torch_threads, training_threads

    steps = checkpoint.meta.get("train_config", {}).get("seq_len", 512) // checkpoint.model.config.max_voices
    out = {}
    with torch_threads(training_threads()):
        for split in ("valid", "test"):
            data = InfillData(checkpoint.codec, {s: corpora[s] for s in checkpoint.styles}, split, limit)
            out[split] = masked_nll(checkpoint.model, data.validation_set(steps))
    return out


class InfillTask:
    """Masked-cell training of the infill family inside :class:`~musewidgets.training.Trainer`'s loop."""

    def __init__(self, trainer, corpora: dict):
        self.t = trainer
        cfg = trainer.config
        self.codec = TokenCodec()
        # the window: `seq_len` cells (as for the sequence models) of 4 voices, unless the model says otherwise
        self.model_config = {"context": max(1, cfg.seq_len // 4), **cfg.model, "n_styles": len(self.codec.styles)}
        self.train = InfillData(self.codec, corpora, "train", cfg.limit_pieces)
        self.valid = InfillData(self.codec, corpora, "valid", cfg.limit_pieces)

    def run(self) -> dict:
        t, cfg = self.t, self.t.config
        device = t._device()
        lr = cfg.lr or DEFAULT_LR
        batch_size = cfg.batch_size or DEFAULT_BATCH
        model = build("infill", self.model_config)
        # start from another infill checkpoint's weights (a model of other sizes is refused by name)
        lineage, _ = start_from(model, cfg.init, t.resume)
        model = model.to(device)
        steps = model.config.context
        valid = self.valid.validation_set(steps)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        rng = np.random.default_rng(cfg.seed)
        start = t.restore(model, opt, rng)
        model.train()

        def train_step(step):
            batch = self.train.batch(
                rng,
                batch_size,
                steps,
                cfg.augment,
                end_share=cfg.end_share,
                key_dropout=cfg.key_dropout,
                mask=model.config.mask_token,
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            set_lr(opt, lr, lr_factor(step, cfg.max_steps))  # warm-up over 100 steps, then a cosine to a tenth
            _, loss = model(batch)
            update(model, opt, loss, cfg.clip)
            return {"loss": loss.item(), "tokens": int((batch["targets"] != PAD).sum())}

        metric = "NLL per hidden cell (nats), fixed seeded windows and masks of the valid split"
        return t.loop(
            train_step=train_step,
            validate=lambda: masked_nll(model, valid, device),
            save=t.saver(model, self.codec, opt, valid_metric=metric, params=model.n_params(), **lineage),
            rng=rng,
            start=start,
            patience=cfg.patience,
        )
