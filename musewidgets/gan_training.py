"""WGAN-GP training of the ``gan`` family on 64-step phrases (see :mod:`musewidgets.models.gan` for the design).

Phrases start on bar lines of pieces whose bar divides 64 steps (4/4, 2/4, 2/2, 4/2 ...); one-voice styles fill
voice 0 and rest in the others. Validation compares generated phrases with held-out ones: the L1 distance of their
pitch-class histograms and of their note densities (notes per voice per bar), averaged over styles; lower is
better. A GAN has no likelihood, so its cards carry these figures instead of an NLL.

The phrases and their transpositions come from a numpy Generator seeded with ``config.seed``; the noise ``z``, the
Gumbel-softmax draws and the gradient penalty's mixing weights from torch's default generator, which
:meth:`~musewidgets.training.Trainer.fit` seeds inside a forked random state. The ``last`` checkpoint keeps both
optimizers and both random states, so a resumed run goes on exactly as an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .checkpoints import save_checkpoint
from .codecs import RollCodec
from .codecs.roll import CHANNELS
from .codecs.tokens import HOLD, PITCH0, REST
from .models import build

__all__ = ["GANTask", "phrase_stats"]


def _grids(codec: RollCodec, pieces, voices: int) -> np.ndarray:
    """Token grids (n, voices, steps) of every bar-aligned phrase of ``pieces`` that fit the phrase length."""
    out = []
    for p in pieces:
        if codec.steps % p.steps_per_bar:
            continue
        enc = codec.tokens.encode(p)
        grid = np.full((len(enc.tokens) // enc.n_voices, voices), REST, dtype=np.int64)
        grid[:, : enc.n_voices] = enc.tokens.reshape(-1, enc.n_voices)
        for s in range(p.pickup, len(grid) - codec.steps + 1, p.steps_per_bar):
            out.append(grid[s : s + codec.steps].T)
    return np.stack(out) if out else np.zeros((0, voices, codec.steps), dtype=np.int64)


def _one_hot(grids: torch.Tensor) -> torch.Tensor:
    channel = torch.where(grids >= PITCH0, grids - PITCH0 + 2, torch.where(grids == HOLD, 1, 0))
    return torch.nn.functional.one_hot(channel, CHANNELS).float()


def phrase_stats(grids: np.ndarray, n_voices: int) -> dict:
    """Pitch-class histogram (12,) and notes per voice per 16 steps of token grids (n, voices, steps)."""
    g = grids[:, :n_voices]
    onsets = g[g >= PITCH0] - PITCH0
    hist = np.bincount(onsets % 12, minlength=12).astype(float)
    hist /= max(hist.sum(), 1)
    density = (g >= PITCH0).sum() / max(g.shape[0] * n_voices * g.shape[2] / 16, 1)
    return {"pitch_classes": hist, "notes_per_bar": float(density)}


class GANTask:
    def __init__(self, trainer, corpora: dict):
        self.t = trainer
        cfg = trainer.config
        self.codec = RollCodec()
        self.voices = {name: len(c.pieces[0].parts) for name, c in corpora.items()}
        self.train = {s: _grids(self.codec, c.split("train")[: cfg.limit_pieces], 4) for s, c in corpora.items()}
        self.valid = {s: _grids(self.codec, c.split("valid")[: cfg.limit_pieces], 4) for s, c in corpora.items()}
        self.ranges = {s: c.voice_ranges() for s, c in corpora.items()}
        empty = [s for s, g in self.train.items() if len(g) == 0]
        if empty:
            raise ValueError(f"no phrases of {self.codec.steps} steps in style(s) {', '.join(empty)}")

    def _mask(self, styles: list[str]) -> torch.Tensor:
        mask = torch.full((len(styles), 4, CHANNELS), -math.inf)
        for b, s in enumerate(styles):
            for v in range(4):
                if v < self.voices[s]:
                    low, high = self.ranges[s][v]
                    mask[b, v, :2] = 0.0
                    mask[b, v, 2 + low : 2 + high + 1] = 0.0
                else:
                    mask[b, v, 0] = 0.0
        return mask

    def _batch(self, rng, batch_size, augment):
        names = list(self.train)
        styles = [names[b % len(names)] for b in range(batch_size)]
        rows = []
        for s in styles:
            g = self.train[s][rng.integers(len(self.train[s]))].copy()
            if augment:
                low = max(  # the largest downward shift every voice can take
                    self.ranges[s][v][0] - g[v][g[v] >= PITCH0].min(initial=10**6) + PITCH0
                    for v in range(self.voices[s])
                )
                high = min(  # the smallest upward shift every voice can take
                    self.ranges[s][v][1] - g[v][g[v] >= PITCH0].max(initial=-(10**6)) + PITCH0
                    for v in range(self.voices[s])
                )
                shift = int(rng.integers(max(low, -6), min(high, 6) + 1)) if max(low, -6) <= min(high, 6) else 0
                g[g >= PITCH0] += shift
            rows.append(g)
        style_idx = torch.tensor([self.codec.tokens.style_index(s) for s in styles])
        return torch.from_numpy(np.stack(rows)), style_idx, styles

    @torch.no_grad()
    def validate(self, model, device, n: int = 256) -> dict:
        model.eval()
        gen = torch.Generator().manual_seed(1234)
        scores = {}
        for s, real in self.valid.items():
            if not len(real):
                continue
            z = torch.randn(n, model.config.z_dim, generator=gen).to(device)
            style = torch.full((n,), self.codec.tokens.style_index(s), device=device)
            logits = model.logits(z, style, self._mask([s] * n).to(device))
            channel = logits.argmax(-1).cpu().numpy()
            fake = np.where(channel >= 2, channel - 2 + PITCH0, np.where(channel == 1, HOLD, REST))
            a, b = phrase_stats(fake, self.voices[s]), phrase_stats(real, self.voices[s])
            scores[s] = float(
                np.abs(a["pitch_classes"] - b["pitch_classes"]).sum()
                + abs(a["notes_per_bar"] - b["notes_per_bar"]) / max(b["notes_per_bar"], 1e-6)
            )
        model.train()
        return scores

    def run(self) -> dict:
        t, cfg = self.t, self.t.config
        device = t._device()
        lr = cfg.lr or 1e-4
        batch_size = cfg.batch_size or 64
        model = build("gan", {**cfg.model, "n_styles": len(self.codec.styles)}).to(device)
        opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(model.critic.parameters(), lr=lr, betas=(0.5, 0.9))
        optimizers = {"generator": opt_g, "critic": opt_c}
        rng = np.random.default_rng(cfg.seed)
        start = t.restore(model, optimizers, rng)
        model.train()

        def train_step(step):
            for _ in range(5):  # critic steps per generator step
                grids, style, names = self._batch(rng, batch_size, cfg.augment)
                real = _one_hot(grids).to(device)
                style = style.to(device)
                mask = self._mask(names).to(device)
                z = torch.randn(batch_size, model.config.z_dim, device=device)
                fake = model.fake(z, style, mask).detach()
                loss_c = (
                    model.critic(fake, style).mean()
                    - model.critic(real, style).mean()
                    + model.config.gp_weight * model.gradient_penalty(real, fake, style)
                )
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                opt_c.step()
            z = torch.randn(batch_size, model.config.z_dim, device=device)
            loss_g = -model.critic(model.fake(z, style, mask), style).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            cells = batch_size * model.config.voices * model.config.steps * 6  # 5 critic + 1 generator batches
            return {"loss": float(loss_c.item()), "generator_loss": float(loss_g.item()), "tokens": cells}

        def save(path, *, step, seconds, valid, best, train_state):
            meta = t._meta(
                steps=step,
                train_seconds=seconds,
                valid_stats=valid,
                best_valid=best,
                params=model.n_params(),
                valid_metric="pitch-class L1 + relative note-density error",
            )
            optimizer = None if train_state is None else {k: o.state_dict() for k, o in optimizers.items()}
            save_checkpoint(path, model, self.codec, t.styles_info, meta, optimizer=optimizer, train_state=train_state)

        return t.loop(
            train_step=train_step,
            validate=lambda: self.validate(model, device),
            save=save,
            rng=rng,
            start=start,
        )
