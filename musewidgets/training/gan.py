"""WGAN-GP training of the ``gan`` family, bar by bar (see :mod:`musewidgets.models.gan` for the design).

Each style trains on its pieces in its most common metre. A training window is ``context_bars`` bars of a piece
(the bars before its start, where it has none, are rests and flagged so) followed by ``phrase_bars`` bars; the
generator reads the real context and writes the phrase bar after bar, each bar reading the bars before it (its
own, once written), and the critic judges the whole window, context and join included. A share of the windows ends
where its piece ends (the count-down to the end teaches cadences) and a share starts where its piece starts
with nothing before it, a pickup left out (what a take without a primer does). Every window is paired with the
key of its piece (the project's own estimate, :func:`~musewidgets.keys.estimate_key`), transposed with it.

Validation writes 64 seeded takes of 8 bars per style as the sampler does for the scorecard (ending like a piece,
guided), and sets them beside the last 8 bars of as many held-out (valid split) pieces, as the scorecard does with
the test split: the score is how well the scorecard's classifier tells them apart by their metrics, read from its
log-loss so that it is smooth (:func:`separability`; 0 = indistinguishable, lower is better); the best checkpoint is
the one with the lowest mean over the styles. A GAN has no likelihood, so its cards carry these
figures instead of an NLL.

The windows and their transpositions come from a numpy Generator seeded with ``config.seed``; the latents and the
gradient penalty's mixing weights from torch's default generator, which :meth:`~musewidgets.training.Trainer.fit`
seeds inside a forked random state. The ``last`` checkpoint keeps both optimizers and both random states, so a
resumed run goes on exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from torch.nn import functional as F

from ..codecs import RollCodec
from ..codecs.tokens import transpose_key_index
from ..datasets import corpus as corpus_mod
from ..keys import estimate_key
from ..models import build
from ..models.gan import voice_mask
from .step import update
from .trainer import DEFAULTS

__all__ = ["GANTask", "StyleBars", "separability"]

END_SHARE = 0.25  # windows that end where their piece ends
START_SHARE = 0.15  # windows that start where their piece starts
VALID_TAKES, VALID_BARS = 64, 8


class StyleBars:
    """The bars of a style's pieces in one metre, as roll channels, and random training windows drawn from them.

    ``bars`` (n, voices, bar_steps) holds every piece's bars one after the other, a pickup first as a bar of its
    own (rests before it); ``first[i]``, ``count[i]``, ``full[i]``: where piece ``i``'s bars start, how many it has,
    and the index of its first full bar (1 after a pickup, else 0).
    """

    def __init__(self, codec: RollCodec, pieces, ranges, voices: int, time_signature, *, keys: bool = True):
        self.codec = codec
        self.time_signature = tuple(time_signature)
        self.bar_steps = codec.steps_per_quarter * 4 * self.time_signature[0] // self.time_signature[1]
        self.n_voices = len(ranges)
        L = self.bar_steps
        rows, first, count, full, key, shifts, bar_key = [], [], [], [], [], [], []
        start = 0
        for p in pieces:
            if tuple(p.time_signature) != self.time_signature or not p.n_bars:
                continue
            enc = codec.tokens.encode(p)
            grid = np.zeros((len(enc.tokens) // enc.n_voices, voices), dtype=np.int64)  # rest
            grid[:, : enc.n_voices] = codec.channels(enc.tokens.reshape(-1, enc.n_voices))
            if p.pickup:
                grid = np.concatenate([np.zeros((L - p.pickup, voices), dtype=np.int64), grid])
            bars = grid.reshape(-1, L, voices).transpose(0, 2, 1)
            rows.append(bars)
            first.append(start)
            count.append(len(bars))
            full.append(1 if p.pickup else 0)
            start += len(bars)
            key.append(codec.tokens.key_index(estimate_key(p)) if keys else 0)
            bar_key.append(np.full(len(bars), key[-1]))
            shifts.append(corpus_mod.transpositions(p, ranges) or [0])
        self.bars = np.concatenate(rows) if rows else np.zeros((0, voices, L), dtype=np.int64)
        self.first, self.count, self.full = np.array(first), np.array(count), np.array(full)
        self.key, self.shifts = np.array(key, dtype=np.int64), shifts
        self.bar_key = np.concatenate(bar_key) if bar_key else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.count)

    def windows(self, rng: np.random.Generator, n: int, context: int, phrase: int, augment: bool) -> dict:
        """``n`` random windows: ``roll`` (n, voices, (context + phrase) * bar_steps) channels, ``before``
        (n, context) 1 for bars before the piece's start, ``to_end`` (n, phrase) bars left (1 = the last bar; 0 =
        further than ``ending``, cut by the caller), ``key`` (n,) and ``shift`` (n,) the transposition applied."""
        L = self.bar_steps
        spans = np.maximum(self.count - self.full - phrase + 1, 1)  # windows per piece
        pieces = rng.choice(len(spans), size=n, p=spans / spans.sum())
        roll = np.zeros((n, self.bars.shape[1], (context + phrase) * L), dtype=np.int64)
        before = np.zeros((n, context), dtype=np.float32)
        to_end = np.zeros((n, phrase), dtype=np.int64)
        key = np.zeros(n, dtype=np.int64)
        shift = np.zeros(n, dtype=np.int64)
        for b, i in enumerate(pieces):
            lo, hi = self.full[i], max(self.full[i], self.count[i] - phrase)  # first bar of the phrase
            u = rng.random()
            fresh = END_SHARE <= u < END_SHARE + START_SHARE  # a take without a primer: nothing before, a pickup too
            j = hi if u < END_SHARE else lo if fresh else int(rng.integers(lo, hi + 1))
            for k in range(context + phrase):
                bar = j - context + k
                if bar < 0 or (fresh and bar < j):
                    before[b, k] = 1.0
                elif bar < self.count[i]:
                    roll[b, :, k * L : (k + 1) * L] = self.bars[self.first[i] + bar]
            to_end[b] = self.count[i] - (j + np.arange(phrase))
            s = int(rng.choice(self.shifts[i])) if augment else 0
            shift[b] = s
            key[b] = transpose_key_index(self.key[i], s)
        roll = np.where(roll >= 2, roll + shift[:, None, None], roll)
        return {"roll": roll, "before": before, "to_end": to_end, "key": key, "shift": shift}


def separability(x_takes: np.ndarray, x_real: np.ndarray, *, seed: int = 0) -> float:
    """How well a logistic regression (the 14-metric two-sample test the scorecard used before its judges: on
    the standardized metrics, 5 folds repeated 4 times) tells takes from real music, smoothly: one minus its
    cross-validated log-loss over that of a coin (``ln 2``), at least 0. 0: no better than a coin; towards 1: always
    sure. Unlike the accuracy it keeps falling while the two sets are still told apart without a mistake."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([x_takes, x_real]).astype(float)
    y = np.r_[np.ones(len(x_takes)), np.zeros(len(x_real))]
    means = np.nan_to_num(np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0))
    x = np.where(np.isfinite(x), x, means)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=4, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    loss = -cross_val_score(model, x, y, cv=cv, scoring="neg_log_loss").mean()
    return float(max(0.0, 1.0 - loss / np.log(2)))


class GANTask:
    def __init__(self, trainer, corpora: dict):
        self.t = trainer
        cfg = trainer.config
        self.codec = RollCodec()
        self.voices = {name: len(c.pieces[0].parts) for name, c in corpora.items()}
        self.ranges = {s: c.voice_ranges() for s, c in corpora.items()}
        self.metre = {s: Counter(p.time_signature for p in c.pieces).most_common(1)[0][0] for s, c in corpora.items()}
        limit = cfg.limit_pieces
        self.train = {
            s: StyleBars(self.codec, self._pieces(c, "train", s, limit), self.ranges[s], 4, self.metre[s])
            for s, c in corpora.items()
        }
        empty = [s for s, d in self.train.items() if not len(d)]
        if empty:
            raise ValueError(f"no pieces in the common metre of style(s) {', '.join(empty)}")
        bad = [s for s, d in self.train.items() if d.bar_steps % 4]
        if bad:
            raise ValueError(f"the gan needs bars of whole quarters; not so in style(s) {', '.join(bad)}")
        self.masks = {s: voice_mask(self.ranges[s], self.voices[s]) for s in corpora}
        self._valid_corpora = corpora
        self._real_metrics: dict | None = None

    def _pieces(self, corpus, split: str, style: str, limit: int | None) -> list:
        """The pieces of ``split`` in the style's common metre (the first ``limit`` of them)."""
        return [p for p in corpus.split(split) if tuple(p.time_signature) == tuple(self.metre[style])][:limit]

    # ------------------------------------------------------------------ batches
    def _batch(self, rng, style: str, n: int, model_config, augment: bool) -> dict:
        """Tensors of ``n`` windows of ``style``: one-hot ``real`` (n, V, T, inner) and the conditioning."""
        c = model_config
        data = self.train[style]
        w = data.windows(rng, n, c.context_bars, c.phrase_bars, augment)
        to_end = np.where((w["to_end"] >= 1) & (w["to_end"] <= c.ending_bars), w["to_end"], 0)
        channels = torch.from_numpy(w["roll"])
        pitch = channels - 2
        inner = torch.where(channels >= 2, (pitch - c.pitch_low).clamp(0, c.pitch_high - c.pitch_low) + 2, channels)
        mask = self.masks[style]
        inner_mask = torch.cat([mask[:, :2], mask[:, 2 + c.pitch_low : 3 + c.pitch_high]], dim=-1)
        return {
            "real": F.one_hot(inner, c.inner).float(),
            "channels": channels,
            "before": torch.from_numpy(w["before"]),
            "to_end": torch.from_numpy(to_end),
            "cond": {
                "style": torch.full((n,), self.codec.tokens.style_index(style)),
                "metre": torch.full((n,), self.codec.tokens.metre_index(self.metre[style])),
                "key": torch.from_numpy(w["key"]),
                "mask": inner_mask.expand(n, -1, -1),
            },
            "bar_steps": data.bar_steps,
        }

    def key_prior(self, n_keys: int) -> torch.Tensor:
        """(styles, n_keys): how often each key opens a training piece of each style (add-one smoothed within the
        modes the style uses)."""
        prior = torch.zeros(len(self.codec.styles), n_keys)
        for s, data in self.train.items():
            counts = np.bincount(data.key, minlength=n_keys)[:n_keys].astype(np.float32)
            modes = [counts[1:13].sum() > 0, counts[13:25].sum() > 0]
            counts[1:13] += modes[0]
            counts[13:25] += modes[1]
            counts[0] = 0
            prior[self.codec.tokens.style_index(s)] = torch.from_numpy(counts / max(counts.sum(), 1))
        return prior

    def output_bias(self, c) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-frequencies in the training bars, per style and voice: of every inner channel ``(styles, voices,
        inner)`` and of every scale degree of the notes ``(styles, voices, 12)`` (centred); the generator's output
        biases start there."""
        bias = torch.zeros(len(self.codec.styles), c.voices, c.inner)
        degree = torch.zeros(len(self.codec.styles), 3, c.voices, 12)  # modes: unknown, major, minor
        for s, data in self.train.items():
            i = self.codec.tokens.style_index(s)
            channels = data.bars  # (n, V, L)
            pitch = channels - 2
            inner = np.where(channels >= 2, np.clip(pitch - c.pitch_low, 0, c.pitch_high - c.pitch_low) + 2, channels)
            tonic = np.where(data.bar_key >= 13, data.bar_key - 13, np.maximum(data.bar_key - 1, 0))
            mode = np.where(data.bar_key >= 13, 2, np.where(data.bar_key >= 1, 1, 0))
            for v in range(c.voices):
                counts = np.bincount(inner[:, v].ravel(), minlength=c.inner).astype(np.float64)
                bias[i, v] = torch.from_numpy(np.log(counts / counts.sum() + 1e-4))
                degrees = (pitch[:, v] - tonic[:, None]) % 12
                for m in (1, 2):
                    notes = (channels[:, v] >= 2) & (mode == m)[:, None]
                    counts = np.bincount(degrees[notes], minlength=12).astype(np.float64) + 1.0
                    logs = np.log(counts / counts.sum())
                    degree[i, m, v] = torch.from_numpy(logs - logs.mean())
        return bias, degree

    def chain_init(self, c) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-frequencies of note-to-note moves in the training bars, per style and voice: of every interval from
        the sounding pitch to the next note ``(styles, voices, 2 * MAX_INTERVAL + 1)`` (centred), of rest and
        hold after silence and after a note ``(styles, voices, 2, 2)``, relative to their overall frequency, and of
        every interval from the voice above at the step before down to a new note (centred, like the first); the
        generator's chain starts there."""
        from ..models.gan_config import MAX_INTERVAL

        intervals = torch.zeros(len(self.codec.styles), c.voices, 2 * MAX_INTERVAL + 1)
        vertical = torch.zeros(len(self.codec.styles), c.voices, 2 * MAX_INTERVAL + 1)
        rest_hold = torch.zeros(len(self.codec.styles), c.voices, 2, 2)
        for s, data in self.train.items():
            i = self.codec.tokens.style_index(s)
            above_now = None  # what sounds in the voice above at each step
            for v in range(self.voices[s]):
                x = data.bars[:, v].reshape(-1)  # every bar one after the other
                event = np.where(x != 1, np.arange(len(x)), 0)
                last = np.maximum.accumulate(event)  # the step of the latest onset or rest
                now = x[last]  # what sounds at each step: 0 silence, 2+ a pitch
                before = np.concatenate([[0], now[:-1]])  # ... and at the step before
                sounding = before >= 2
                moves = np.clip(x - before, -MAX_INTERVAL, MAX_INTERVAL)[sounding & (x >= 2)] + MAX_INTERVAL
                counts = np.bincount(moves, minlength=2 * MAX_INTERVAL + 1) + 1.0
                logs = np.log(counts / counts.sum())
                intervals[i, v] = torch.from_numpy(logs - logs.mean())
                if above_now is not None:  # the interval below the voice above at the step before, at every note
                    above = np.concatenate([[0], above_now[:-1]])
                    gap = np.clip(above - x, -MAX_INTERVAL, MAX_INTERVAL)[(above >= 2) & (x >= 2)]
                    counts = np.bincount(gap + MAX_INTERVAL, minlength=2 * MAX_INTERVAL + 1) + 1.0
                    logs = np.log(counts / counts.sum())
                    vertical[i, v] = torch.from_numpy(logs - logs.mean())
                above_now = now
                for state, where in enumerate((~sounding, sounding)):
                    for k in (0, 1):  # rest, hold
                        given = (x[where] == k).mean() if where.any() else 0.0
                        overall = (x == k).mean()
                        rest_hold[i, v, state, k] = float(np.log((given + 1e-3) / (overall + 1e-3)))
        return intervals, rest_hold, vertical

    def rhythm_init(self, c, prior: float = 4.0) -> torch.Tensor:
        """Log-odds of holding a sounding note in the training bars, per style, voice, step of the bar and steps the
        note has sounded, relative to holding any sounding note (``(styles, voices, max_bar_steps, max_duration +
        1)``; pulled towards 0 where the data are few, ``prior`` pseudo-counts): the generator's rhythm table starts
        there, so that notes start with the durations and on the steps of their style."""
        table = torch.zeros(len(self.codec.styles), c.voices, c.max_bar_steps, c.max_duration + 1)
        for s, data in self.train.items():
            i, L = self.codec.tokens.style_index(s), data.bar_steps
            for v in range(self.voices[s]):
                x = data.bars[:, v].reshape(-1)  # every bar one after the other
                steps = np.arange(len(x))
                last = np.maximum.accumulate(np.where(x != 1, steps, 0))  # the latest onset or rest
                sounding = x[last] >= 2
                duration = np.minimum(np.where(sounding, steps - last + 1, 0), c.max_duration)
                held, before = x[1:] == 1, sounding[:-1]  # the step after each sounding one: held on?
                cell = (steps[1:] % L) * (c.max_duration + 1) + duration[:-1]
                total = np.bincount(cell[before], minlength=L * (c.max_duration + 1))
                holds = np.bincount(cell[before & held], minlength=L * (c.max_duration + 1))
                base = holds.sum() / max(total.sum(), 1)
                p = (holds + prior * base) / (total + prior)
                odds = np.log(p / (1 - p + 1e-6) + 1e-6) - np.log(base / (1 - base + 1e-6) + 1e-6)
                table[i, v, :L] = torch.from_numpy(odds.reshape(L, c.max_duration + 1)).float()
        return table

    # ------------------------------------------------------------------ validation
    def _real(self) -> dict:
        """Metrics of the last 8 bars of held-out pieces (the valid split), per style."""
        if self._real_metrics is None:
            from ..analysis.metrics import last_bars, metric_matrix

            out = {}
            limit = self.t.config.limit_pieces
            for s, c in self._valid_corpora.items():
                pieces = [p for p in c.split("valid")[:limit] if p.n_bars >= VALID_BARS]
                rng = np.random.default_rng(0)
                chosen = rng.choice(len(pieces), size=min(VALID_TAKES, len(pieces)), replace=False)
                endings = [last_bars(pieces[i], VALID_BARS) for i in sorted(chosen)]
                out[s] = metric_matrix(endings) if len(chosen) else None
            self._real_metrics = out
        return self._real_metrics

    def takes(self, model, style: str, n: int, bars: int, seed: int) -> list:
        """``n`` seeded takes of ``bars`` bars of ``style``, as the sampler writes them for the scorecard (ending
        like a piece, the guidance on, temperature 1)."""
        from ..checkpoints import Checkpoint
        from ..sampling.sampler import Sampler

        sampler = Sampler(Checkpoint("gan", model, self.codec, self.t.styles_info))
        return sampler.generate(style=style, bars=bars, n=n, seed=seed)

    def validate(self, model, device) -> dict:
        from ..analysis.metrics import metric_matrix

        model.eval()
        scores = {}
        cpu = next(model.parameters()).device.type == "cpu"
        if not cpu:
            model.cpu()
        for s, real in self._real().items():
            if real is None:
                continue
            fake = metric_matrix(self.takes(model, s, VALID_TAKES, VALID_BARS, seed=1234))
            scores[s] = separability(fake, real)
        if not cpu:
            model.to(device)
        model.train()
        return scores

    # ------------------------------------------------------------------ the loop
    def build_model(self, overrides: dict):
        """A fresh GAN (the family's config with ``overrides``) whose key prior, output biases and note-to-note and
        rhythm tables start at the training data's frequencies."""
        model = build("gan", {**overrides, "n_styles": len(self.codec.styles)})
        c = model.config
        model.key_prior.copy_(self.key_prior(c.n_keys))
        with torch.no_grad():
            bias, degree = self.output_bias(c)
            model.generator.bias.copy_(bias)
            model.generator.degree_bias.copy_(degree)
            intervals, rest_hold, vertical = self.chain_init(c)
            model.generator.interval.copy_(intervals)
            model.generator.rest_hold.copy_(rest_hold)
            model.generator.vertical.copy_(vertical)
            model.generator.rhythm.copy_(self.rhythm_init(c))
        return model

    def run(self) -> dict:
        t, cfg = self.t, self.t.config
        self.device = device = t._device()
        lr = cfg.lr or DEFAULTS["gan"]["lr"]
        batch_size = cfg.batch_size or DEFAULTS["gan"]["batch_size"]
        self.model = model = self.build_model(cfg.model).to(device)
        self.optimizers = {
            "generator": torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.9)),
            "critic": torch.optim.Adam(model.critic.parameters(), lr=lr, betas=(0.5, 0.9)),
        }
        self.rng = np.random.default_rng(cfg.seed)
        start = t.restore(model, self.optimizers, self.rng)
        model.train()
        self.per_style = max(1, batch_size // len(self.train))
        metric = "separability of 64 takes from held-out endings (1 - classifier log-loss / ln 2)"
        fields = {"params": model.n_params(), "valid_metric": metric}
        return t.loop(
            train_step=self._step,
            validate=lambda: self.validate(model, device),
            save=t.saver(model, self.codec, self.optimizers, scores=("valid_stats", "best_valid"), **fields),
            rng=self.rng,
            start=start,
        )

    def _step(self, step: int) -> dict:
        """One training step: ``n_critic`` updates of the critic, then one of the generator."""
        cells = 0
        for _ in range(self.model.config.n_critic):
            loss_c, distance, n = self._critic_loss()
            cells += n
            update(self.model.critic, self.optimizers["critic"], loss_c)
        loss_g, recon = self._generator_loss()
        update(self.model.generator, self.optimizers["generator"], loss_g)
        return {
            "loss": float(loss_c.item()),
            "generator_loss": float(loss_g.item()),
            "distance": float(distance),
            "recon": recon,
            "tokens": cells,
        }

    def _critic_loss(self) -> tuple:
        """The critic's loss over a batch of every style, the Wasserstein estimate, and the cells it judged."""
        loss_c, distance, cells, n = 0.0, 0.0, 0, len(self.train)
        for s in self.train:
            real, before, to_end, cond, L = self._windows(s)
            with torch.no_grad():
                real, fake = self._write(real, before, to_end, cond, L)
            loss, d = self.model.critic_loss(real, fake, cond, to_end)
            loss_c, distance = loss_c + loss / n, distance + d / n
            cells += real.shape[0] * real.shape[1] * real.shape[2]
        return loss_c, distance, cells

    def _generator_loss(self) -> tuple:
        """The generator's loss over a batch of every style (the critic's score and the VAE term), and the VAE term."""
        c, model, n = self.model.config, self.model, len(self.train)
        loss_g, recon = 0.0, 0.0
        for s in self.train:
            real, before, to_end, cond, L = self._windows(s)
            _, fake = self._write(real, before, to_end, cond, L)
            loss_g = loss_g - c.adversarial * model.critic(fake, cond, to_end).mean() / n
            if c.recon > 0:
                elbo = model.generator.elbo(real, before, cond, to_end, L)
                loss_g = loss_g + c.recon * elbo / n
                recon = recon + elbo.item() / n
        return loss_g, recon

    def _windows(self, style: str) -> tuple:
        """A batch of training windows of ``style`` on the device: ``real``, ``before``, ``to_end``, ``cond`` and the
        bar's steps (:meth:`_batch`)."""
        batch = self._batch(self.rng, style, self.per_style, self.model.config, self.t.config.augment)
        cond = {k: v.to(self.device) for k, v in batch["cond"].items()}
        real, before, to_end = (batch[k].to(self.device) for k in ("real", "before", "to_end"))
        return real, before, to_end, cond, batch["bar_steps"]

    def _write(self, real, before, to_end, cond, L: int) -> tuple:
        """The real window cut to what the critic sees, and the same with the generator's bars after the context."""
        c, device = self.model.config, self.device
        K, k = c.context_bars * L, c.critic_context * L
        n = len(real)
        z = torch.randn(n, c.z_dim, device=device)
        noise = torch.randn(n, c.phrase_bars, c.bar_z_dim, device=device)
        bars = self.model.generator.rollout(real[:, :, :K], before, cond, z, noise, to_end, L)
        return real[:, :, K - k :], torch.cat([real[:, :, K - k : K], bars], dim=2)
