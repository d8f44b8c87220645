"""Next-token training of the rnn, lstm and transformer families: the corpus's windows, the NLL they are judged by,
and the step (one process, or DistributedDataParallel under torchrun).

Windows of ``seq_len`` tokens are drawn with equal weight per style, transposed at random within the style's voice
ranges (:func:`~musewidgets.datasets.corpus.transpositions`), with the key conditioning transposed along; a share of
windows (``end_share``) ends where its piece ends, so that endings are learnt from as many examples as beginnings,
and a share (``key_dropout``) hides the key, so that the model also composes without one. Validation is the NLL per
token on the valid split. With ``data`` (your own music) the windows come from the token store
(:class:`~musewidgets.datasets.store.StoreSplit`), which draws them the same way. ``init`` starts from another
checkpoint's weights; the tables it lacks start at random and learn ``NEW_LR_SCALE`` times faster. The learning rate
warms up over 100 steps and then stays at its peak, or with ``anneal`` falls along a cosine to a tenth at
``max_steps`` (:func:`~musewidgets.training.step.lr_factor`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..codecs import TokenCodec
from ..codecs.tokens import BOS, PAD, PITCH0, Encoded, transpose_key_index
from ..models import build
from ..threads import torch_threads, training_threads
from . import distributed
from .pieces import StylePieces, encode_heard
from .step import lr_factor, mixed_precision, set_lr, update
from .trainer import DEFAULTS, Trainer
from .warm_start import start_from

__all__ = ["NEW_LR_SCALE", "SequenceData", "SequenceTask", "evaluate_nll"]

NEW_LR_SCALE = 10.0  # with ``init``: learning-rate factor for the tables the old checkpoint lacks


class SequenceData(StylePieces):
    """Encoded pieces of one split, per style (:class:`~musewidgets.training.pieces.StylePieces`), and random
    training windows drawn from them."""

    def __init__(self, codec: TokenCodec, corpora: dict, split: str, limit: int | None = None):
        self.codec = codec
        super().__init__(corpora, split, limit)

    def prepare(self, piece) -> Encoded:
        return encode_heard(self.codec, piece)

    def length(self, item: Encoded) -> int:
        return len(item.tokens)

    def last_start(self, item: Encoded, size: int) -> int:
        return max(0, (len(item.tokens) - size) // item.n_voices)

    @property
    def n_tokens(self) -> int:
        return sum(len(e.tokens) for es in self.by_style.values() for e in es)

    def batch(
        self,
        rng: np.random.Generator,
        batch_size: int,
        seq_len: int,
        augment: bool,
        *,
        end_share: float = 0.0,
        key_dropout: float = 0.0,
    ) -> dict:
        """Random windows, an equal share per style: inputs/targets/voice/bar_pos/to_end (B, T), metre/style/key (B,).

        A share ``end_share`` of the windows ends at its piece's end; a share ``key_dropout`` has key 0 (unknown).
        """
        rows = {
            k: np.full((batch_size, seq_len), PAD if k in ("inputs", "targets") else 0, dtype=np.int64)
            for k in ("inputs", "targets", "voice", "bar_pos", "to_end")
        }
        metre, style, key = (np.zeros(batch_size, dtype=np.int64) for _ in range(3))
        draws = self.draw(rng, batch_size, seq_len, augment, end_share, key_dropout)
        for b, (name, i, step, shift, hidden) in enumerate(draws):
            e = self.by_style[name][i]
            start = step * e.n_voices
            tokens = e.tokens[start : start + seq_len].copy()
            prev = np.concatenate([[BOS] if start == 0 else e.tokens[start - 1 : start], tokens[:-1]])
            tokens[tokens >= PITCH0] += shift
            prev[prev >= PITCH0] += shift
            n = len(tokens)
            rows["inputs"][b, :n], rows["targets"][b, :n] = prev, tokens
            rows["voice"][b, :n] = e.voice[start : start + n]
            rows["bar_pos"][b, :n] = e.bar_pos[start : start + n]
            rows["to_end"][b, :n] = e.to_end[start : start + n]
            metre[b], style[b] = e.metre, e.style
            key[b] = 0 if hidden else transpose_key_index(e.key, shift)
        out = {k: torch.from_numpy(v) for k, v in rows.items()}
        out["metre"], out["style"], out["key"] = (torch.from_numpy(a) for a in (metre, style, key))
        return out


def _chunks(e: Encoded, seq_len: int):
    """Consecutive windows of a piece for evaluation (each starts from the previous token)."""
    for start in range(0, len(e.tokens), seq_len):
        tokens = e.tokens[start : start + seq_len]
        prev = np.concatenate([[BOS] if start == 0 else e.tokens[start - 1 : start], tokens[:-1]])
        yield {
            "inputs": torch.from_numpy(prev)[None],
            "targets": torch.from_numpy(tokens.copy())[None],
            "voice": torch.from_numpy(e.voice[start : start + seq_len])[None],
            "bar_pos": torch.from_numpy(e.bar_pos[start : start + seq_len])[None],
            "metre": torch.tensor([e.metre]),
            "style": torch.tensor([e.style]),
            "key": torch.tensor([e.key]),
            "to_end": torch.from_numpy(e.to_end[start : start + seq_len])[None],
        }


def evaluate_nll(model, data: SequenceData, seq_len: int, device="cpu", max_tokens: int | None = None) -> dict:
    """NLL per token (nats) per style over whole pieces, in windows of ``seq_len``; at most ``max_tokens`` each.

    On the CPU it runs on :func:`~musewidgets.threads.training_threads` torch threads (one window at a time is a
    small product, and a thread team stalls when another program is busy); the caller's count is restored.
    """
    threads = training_threads() if torch.device(device).type == "cpu" else torch.get_num_threads()
    with torch_threads(threads), torch.no_grad():
        return _evaluate_nll(model, data, seq_len, device, max_tokens)


def _evaluate_nll(model, data: SequenceData, seq_len: int, device, max_tokens: int | None) -> dict:
    model.eval()
    result = {}
    for name, pieces in data.by_style.items():
        total, count = 0.0, 0
        for e in pieces:
            for chunk in _chunks(e, seq_len):
                chunk = {k: v.to(device) for k, v in chunk.items()}
                logits, _ = model(chunk)
                total += torch.nn.functional.cross_entropy(
                    logits[0], chunk["targets"][0], ignore_index=PAD, reduction="sum"
                ).item()
                count += chunk["targets"].numel()
            if max_tokens and count >= max_tokens:
                break
        result[name] = total / max(count, 1)
    model.train()
    return result


class SequenceTask:
    """Next-token training of the rnn / lstm / transformer families."""

    def __init__(self, trainer: Trainer, corpora: dict, *, store=None):
        self.t = trainer
        cfg = trainer.config
        if store is not None:  # the user's own music: one style, windows read from the token store
            self.codec = replace(store.codec, ending_bars=cfg.ending_bars)
            self.train, self.valid = store.split("train"), store.split("valid")
            self.train.codec = self.valid.codec = self.codec
            if not len(self.train):
                from ..datasets.store import StoreError

                raise StoreError(
                    f"{store.path}: none of the {store.report.used} usable files fell in the train split (80 % of "
                    "files by a hash of their names); add more files"
                )
            if not len(self.valid):  # a small folder: validate on the training pieces rather than on nothing
                self.valid = self.train
            return
        self.codec = TokenCodec(ending_bars=cfg.ending_bars)
        self.train = SequenceData(self.codec, corpora, "train", cfg.limit_pieces)
        self.valid = SequenceData(self.codec, corpora, "valid", cfg.limit_pieces)

    def run(self) -> dict:
        t, cfg = self.t, self.t.config
        self.device = device = t._device()
        self.lr = cfg.lr or DEFAULTS[cfg.family]["lr"]
        self.batch_size = cfg.batch_size or DEFAULTS[cfg.family]["batch_size"]
        controls = {"n_keys": self.codec.n_keys, "ending_bars": self.codec.ending_bars}
        model = build(cfg.family, {**controls, **cfg.model, "n_styles": len(self.codec.styles)})
        lineage, fresh = start_from(model, cfg.init, t.resume)  # what the init checkpoint lacks learns faster
        self.model = model = model.to(device)
        self.opt = torch.optim.AdamW(_param_groups(model, fresh), lr=self.lr, weight_decay=cfg.weight_decay)
        self.rng = np.random.default_rng(cfg.seed)
        start = t.restore(model, self.opt, self.rng)
        model.train()
        self.ctx = t._dist()
        if self.ctx is not None:
            self._join(start.step)
        return t.loop(
            train_step=self._step if self.ctx is None else self._distributed_step,
            validate=lambda: evaluate_nll(model, self.valid, cfg.seq_len, device, max_tokens=100_000),
            save=t.saver(model, self.codec, self.opt, params=model.n_params(), **lineage),
            rng=self.rng,
            start=start,
            patience=cfg.patience,
            epoch_steps=max(1, self.train.n_tokens // (self.batch_size * cfg.seq_len)),
        )

    def _join(self, step: int) -> None:
        """Under torchrun: the model in DistributedDataParallel (:attr:`net`); a process other than 0 draws dropout
        masks of its own (inside ``seeded_torch``: the caller's state is not touched)."""
        self.net = distributed.wrap(self.model, self.device)
        if self.ctx.rank:
            seed = self.t.config.seed + 1_000_003 * self.ctx.rank + step
            torch.default_generator.manual_seed(seed)
            if self.device.type == "cuda":
                torch.cuda.manual_seed(seed)

    def _set_lr(self, step: int) -> None:
        cfg = self.t.config  # warm-up, then (``anneal``) a cosine to a tenth at the step cap
        set_lr(self.opt, self.lr, lr_factor(step, cfg.max_steps if cfg.anneal else None))

    def _step(self, step: int) -> dict:
        """One update on a batch of windows."""
        cfg, device = self.t.config, self.device
        batch = self.train.batch(
            self.rng, self.batch_size, cfg.seq_len, cfg.augment, end_share=cfg.end_share, key_dropout=cfg.key_dropout
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        self._set_lr(step)
        with mixed_precision(device, cfg.precision):
            _, loss = self.model(batch)
        update(self.model, self.opt, loss, cfg.clip)
        return {"loss": loss.item(), "tokens": int((batch["targets"] != PAD).sum())}

    def _distributed_step(self, step: int) -> dict:
        """One update under torchrun. Every process draws the same global batch and learns from its rows
        rank::world (the token store reads only those). Its loss is the sum of its tokens' NLL over the global token
        count, times world (DDP averages the gradients): the gradient of the global batch's mean NLL, as with one
        process."""
        cfg, device, ctx = self.t.config, self.device, self.ctx
        args = (self.rng, self.batch_size, cfg.seq_len, cfg.augment)
        kwargs = {"end_share": cfg.end_share, "key_dropout": cfg.key_dropout}
        if isinstance(self.train, SequenceData):  # the corpus, in memory
            batch = {k: v[ctx.rank :: ctx.world].contiguous() for k, v in self.train.batch(*args, **kwargs).items()}
        else:
            batch = self.train.batch(*args, **kwargs, part=(ctx.rank, ctx.world))
        batch = {k: v.to(device) for k, v in batch.items()}
        mine = int((batch["targets"] != PAD).sum())
        [total] = ctx.all_sum([mine])
        total = round(total)
        self._set_lr(step)
        with mixed_precision(device, cfg.precision):
            logits, loss = self.net(batch)
        if mine == 0:  # rows of padding only: no loss, but a graph through every weight (DDP needs one)
            loss = logits.sum() * 0.0
        update(self.model, self.opt, loss * (mine * ctx.world / max(total, 1)), cfg.clip)
        [nll] = ctx.all_sum([loss.item() * mine])
        return {"loss": nll / max(total, 1), "tokens": total}


def _param_groups(model, fresh: set[str]) -> list[dict]:
    """AdamW's parameter groups: the parameters an ``init`` checkpoint lacks (``fresh``) learn ``NEW_LR_SCALE``
    times faster."""
    params = dict(model.named_parameters())
    groups = [{"params": [p for n, p in params.items() if n not in fresh], "lr_scale": 1.0}]
    if fresh:
        groups.append({"params": [params[n] for n in sorted(fresh)], "lr_scale": NEW_LR_SCALE})
    return groups
