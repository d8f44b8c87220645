"""Frame models for the polyphonic benchmarks: the keys sounding in each frame, given every frame before it.

A frame is a binary vector over ``n_keys`` keys (88 for JSB Chorales). Both families read the previous frames with
the same time model, an LSTM over frames, and differ in how they spread probability over the ``2 ** n_keys``
possible next frames:

``frame_bernoulli``
    The classic setup (Boulanger-Lewandowski 2012; Chung et al. 2014): one independent sigmoid per key,
    ``p(x) = prod_k p(x_k)``. It cannot say "C or E, not both": keys only meet through the shared history.

``frame_notewise``
    An exact, normalized distribution over whole frames. The frame's notes are generated from the lowest up, each a
    softmax over the keys *above* the previous note plus ``END``; every frame is exactly one such ascending
    sequence, so the probabilities of all frames sum to one (tested with a small keyboard). Each note sees the
    notes already chosen below it, so the model learns chords and voicing, as RNN-NADE does with a NADE.
    Key-relative filters (the same weights at every key) read each key's neighbours in the last frames
    (``local``) and, with ``chord``, the intervals from every note already chosen in the frame; the frame's notes
    are scored together, one batched LSTM over the positions of all frames (no Python loop over frames or notes),
    and only the frames a mask keeps are scored, so a training step costs what its real frames hold.

Training may transpose pieces; the transposition (``-max_shift..max_shift`` keys) is given to the model as an
embedding, and evaluation uses 0, the data as written. :meth:`FrameModel.mixture_log_prob` reads a piece in several
transpositions at once and mixes them (a test-time ensemble of one network; ``musewidgets bench jsb --shifts``).

::

    logp = model.log_prob(frames)            # frames (B, T, K) float {0, 1} -> (B, T) log p(frame_t | frames < t)
    logq = model.mixture_log_prob(frames, shifts=3)  # the same, mixed over the piece read 3 keys down ... 3 keys up
    nll, loss = model(frames, mask)          # nll (B, T) nats; loss = mean over frames where mask is True
    roll = model.sample(32, generator=g)     # (32, K) uint8
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..threads import SAMPLING_THREADS, torch_threads
from .base import register

__all__ = ["BernoulliConfig", "FrameBernoulli", "FrameConfig", "FrameModel", "FrameNotewise", "NotewiseConfig"]


@dataclass
class FrameConfig:
    n_keys: int = 88
    d_input: int = 256  # width of the embedded previous frame
    hidden: int = 256  # LSTM width of the time model
    layers: int = 2
    dropout: float = 0.3
    max_shift: int = 6  # training transpositions the model is told about: -max_shift..max_shift keys


@dataclass
class BernoulliConfig(FrameConfig):
    pass


@dataclass
class NotewiseConfig(FrameConfig):
    d_note: int = 64  # embedding of the previous note within the frame
    note_hidden: int = 128  # LSTM width of the within-frame (note by note) model
    local: int = 18  # each key's logit also reads keys within this many semitones in recent frames (0: off)
    local_frames: int = 8  # how many recent frames it reads
    local_channels: int = 32  # 0: one linear filter; more: a hidden layer of this many filters (ReLU)
    chord: int = 0  # > 0: each key also reads the notes already chosen in this frame up to this many semitones
    # below it (a weight per interval), and the key filters read the time model's state (needs `local`); 0: off


class FrameModel(nn.Module):
    """The shared time model; subclasses add ``frame_log_prob(context, frames)`` and ``sample_frame``."""

    family: ClassVar[str] = "?"

    def __init__(self, config: FrameConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Linear(c.n_keys, c.d_input)
        self.start = nn.Parameter(torch.zeros(c.d_input))  # stands in for the frame before the first
        self.shift = nn.Embedding(2 * c.max_shift + 1, c.d_input)
        self.rnn = nn.LSTM(c.d_input, c.hidden, c.layers, batch_first=True, dropout=c.dropout if c.layers > 1 else 0)
        self.drop = nn.Dropout(c.dropout)

    def _inputs(self, frames: torch.Tensor, shift: torch.Tensor | None) -> torch.Tensor:
        # frames (B, T, K) -> (B, T, d): frame t reads frame t - 1 (the start vector for t = 0)
        B = frames.shape[0]
        x = torch.cat([self.start.expand(B, 1, -1), self.embed(frames[:, :-1])], dim=1)
        if shift is None:
            shift = torch.zeros(B, dtype=torch.long, device=frames.device)
        return self.drop(torch.tanh(x + self.shift(shift + self.config.max_shift)[:, None]))

    def context(self, frames: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """The time model's state before each frame: ``(B, T, K) -> (B, T, hidden)``."""
        h, _ = self.rnn(self._inputs(frames, shift))
        return self.drop(h)

    def log_prob(
        self, frames: torch.Tensor, shift: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log p(frame_t | frames < t)`` in nats, ``(B, T)``, for binary frames ``(B, T, K)``.

        With a ``mask`` ``(B, T)`` only the frames where it is True are scored (the others read 0), so padding
        costs the time model alone.
        """
        return self.frame_log_prob(self.context(frames, shift), frames, mask)

    def mixture_log_prob(self, frames: torch.Tensor, mask: torch.Tensor | None = None, shifts: int = 0) -> torch.Tensor:
        """``log q(frame_t | frames < t)``, ``(B, T)``: the model read in ``2 * shifts + 1`` transpositions, mixed.

        Component ``k`` (``-shifts..shifts`` keys) is the model reading the piece transposed by ``k`` and told so, as
        in training; ``q`` gives each frame the mean of their probabilities, so it is a model of the frames as written
        (each frame's distribution given the past is a mixture of the components', with equal weights). A component
        gives probability 0 to a frame that its transposition pushes off the keyboard, so each ``q(. | past)`` sums
        to at most 1 and its NLL can only be higher than that of the normalized mixture. ``shifts=0`` is
        :meth:`log_prob`.
        """
        if isinstance(shifts, bool) or not isinstance(shifts, int) or not 0 <= shifts <= self.config.max_shift:
            raise ValueError(f"`shifts` must be a whole number in 0..{self.config.max_shift}, got {shifts!r}")
        B, T, K = frames.shape
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=frames.device)
        notes = frames.sum(-1)
        parts = []
        for k in range(-shifts, shifts + 1):
            moved = torch.roll(frames, k, dims=-1)
            if k > 0:
                moved[..., :k] = 0
            elif k < 0:
                moved[..., k:] = 0
            logp = self.log_prob(moved, torch.full((B,), k, device=frames.device), mask)
            parts.append(logp.masked_fill((moved.sum(-1) != notes) & mask, float("-inf")))  # notes off the keyboard
        return torch.logsumexp(torch.stack(parts), 0) - math.log(len(parts))

    def forward(self, frames: torch.Tensor, mask: torch.Tensor, shift: torch.Tensor | None = None):
        """NLL per frame ``(B, T)`` (0 where ``mask`` is False) and the mean NLL over the frames where it is True."""
        nll = -self.log_prob(frames, shift, mask)
        return nll, nll[mask].mean()

    def frame_log_prob(self, context: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor | None = None):
        raise NotImplementedError

    def sample_frame(self, context, history, generator: torch.Generator, temperature: float) -> torch.Tensor:
        """One frame ``(1, K)`` from the time model's state ``(1, H)`` and the frames before, ``(1, t, K)``."""
        raise NotImplementedError

    @torch.inference_mode()
    def sample(
        self, n_frames: int, *, generator: torch.Generator, temperature: float = 1.0, primer: np.ndarray | None = None
    ) -> np.ndarray:
        """``n_frames`` new frames ``(n_frames, K)`` uint8 after an optional ``primer`` ``(T0, K)``; seeded."""
        if n_frames < 1:
            raise ValueError(f"`n_frames` must be at least 1, got {n_frames}")
        if temperature <= 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature}")
        was_training = self.training
        self.eval()
        with torch_threads(SAMPLING_THREADS):  # tiny products: one thread (musewidgets.threads)
            K = self.config.n_keys
            history = torch.zeros(1, 0, K)
            if primer is not None and len(primer):
                primer = np.asarray(primer)
                if primer.ndim != 2 or primer.shape[1] != K:
                    raise ValueError(f"`primer` must have shape (frames, {K}), got {primer.shape}")
                history = torch.as_tensor(primer, dtype=torch.float32)[None]
            h, state = self.rnn(self._inputs(torch.cat([history, torch.zeros(1, 1, K)], dim=1), None))  # (1, t+1, H)
            for _ in range(n_frames):
                frame = self.sample_frame(h[:, -1], history, generator, temperature)  # (1, K)
                history = torch.cat([history, frame[:, None]], dim=1)
                x = torch.tanh(self.embed(frame) + self.shift.weight[self.config.max_shift])[:, None]
                h, state = self.rnn(self.drop(x), state)
            self.train(was_training)
        return history[0, -n_frames:].to(torch.uint8).numpy()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


@register("frame_bernoulli", BernoulliConfig)
class FrameBernoulli(FrameModel):
    """An independent sigmoid per key on top of the time model."""

    def __init__(self, config: BernoulliConfig):
        super().__init__(config)
        self.head = nn.Linear(config.hidden, config.n_keys)

    def frame_log_prob(self, context, frames, mask=None):
        logits = self.head(context)  # (B, T, K)
        logp = -F.binary_cross_entropy_with_logits(logits, frames, reduction="none").sum(-1)
        return logp if mask is None else logp * mask

    def sample_frame(self, context, history, generator, temperature):
        p = torch.sigmoid(self.head(context) / temperature)
        return (torch.rand(p.shape, generator=generator) < p).float()


@register("frame_notewise", NotewiseConfig)
class FrameNotewise(FrameModel):
    """Notes of a frame from the lowest up, each a softmax over higher keys and END (see the module docstring)."""

    def __init__(self, config: NotewiseConfig):
        super().__init__(config)
        c = config
        K = c.n_keys
        self.note_embed = nn.Embedding(K + 1, c.d_note)  # index K = "no note yet" (start of the frame)
        self.context_in = nn.Linear(c.hidden, c.d_note)  # the time model's state, fed at every note
        self.context_state = nn.Linear(c.hidden, 2 * c.note_hidden)  # ... and as the initial (h, c)
        self.note_rnn = nn.LSTM(c.d_note, c.note_hidden, batch_first=True)
        self.out = nn.Linear(c.note_hidden, K + 1)  # logits of keys 0..K-1 and END (index K)
        self.context_out = nn.Linear(c.hidden, K + 1)  # the time model's own opinion of each key
        self.interval = nn.Embedding(K, 1)  # a learned bias per interval above the previous note
        nn.init.zeros_(self.interval.weight)
        # the same weights at every key: "the key a third below sounded in the last frame" means the same anywhere
        self.local = None
        if c.local:
            width, F_ = 2 * c.local + 1, c.local_frames
            if c.local_channels:
                self.local = nn.Sequential(
                    nn.Conv1d(F_, c.local_channels, width, padding=c.local),
                    nn.ReLU(),
                    nn.Conv1d(c.local_channels, 1, 1),
                )
            else:
                self.local = nn.Conv1d(F_, 1, width, padding=c.local)
        if c.chord and not c.local:
            raise ValueError("`chord` needs `local` > 0: the chosen notes feed the same key filters")
        if c.chord >= K:
            raise ValueError(f"`chord` must be below n_keys ({K}), got {c.chord}")
        self.chord = self.chord_context = None
        if c.chord:
            # a weight per interval above each note already chosen in this frame (all of them, not just the last),
            # and the time model's state as a bias per key filter
            self.chord = nn.Parameter(torch.zeros(1, c.chord))  # [1, interval - 1]
            self.chord_context = nn.Linear(c.hidden, c.local_channels or 1)

    def _by_key(self, weights: torch.Tensor) -> torch.Tensor:
        # weights (C, D): weight per interval 1..D above a note -> (K + 1, C, K), built by sliding one padded row:
        # row a holds what a note at key a adds at every key; row K ("no note yet") adds nothing
        C, D = weights.shape
        K = self.config.n_keys
        padded = torch.cat([weights.new_zeros(C, K + 1), weights, weights.new_zeros(C, K - 1 - D)], dim=1)  # (C, 2K)
        windows = padded.unfold(1, K, 1)  # (C, K + 1, K): window s holds padded[:, s : s + K]
        table = windows[:, K - torch.arange(K, device=weights.device)].transpose(0, 1)  # row a = window K - a
        return torch.cat([table, table.new_zeros(1, C, K)])

    def _recent(self, frames: torch.Tensor) -> torch.Tensor:
        # frames (B, T, K) -> (B, T, F, K): frames t-1 ... t-F before each frame (zeros before the first)
        B, T, K = frames.shape
        F_ = self.config.local_frames
        before = torch.cat([frames.new_zeros(B, F_, K), frames], dim=1)  # frame t is before[:, t + F_]
        return torch.stack([before[:, F_ - i : F_ - i + T] for i in range(1, F_ + 1)], dim=2)

    def _local_bias(self, context, recent):
        # context (N, H); recent (N, F, K) or None -> (N, 1, K): per key, a function of its neighbours in the recent
        # frames (and, with `chord`, of the time model's state); 0 without `local`
        c = self.config
        if self.local is None:
            return 0.0
        if self.chord is None:
            return self.local(recent)
        hidden = self.local[0] if c.local_channels else self.local
        h = hidden(recent) + self.chord_context(context)[..., None]  # (N, C, K): the filters, told the time state
        return self.local[2](F.relu(h)) if c.local_channels else h

    def _key_bias(self, context, recent, prev):
        # prev (N, J) the note below each position (K = none yet) -> (N, J, K): the interval above the note below,
        # the recent frames, and with `chord` the intervals above every note chosen so far
        K = self.config.n_keys
        bias = F.embedding(prev, self._by_key(self.interval.weight[1:].T).reshape(K + 1, K))  # (N, J, K)
        bias = bias + self._local_bias(context, recent)
        if self.chord is not None:
            bias = bias + F.embedding(prev, self._by_key(self.chord).reshape(K + 1, K)).cumsum(1)
        return bias

    def _note_logits(self, context, key_bias, prev, state=None):
        # context (N, H); key_bias (N, J, K); prev (N, J) previous note per position (K = start) -> (N, J, K+1)
        K = self.config.n_keys
        x = torch.tanh(self.note_embed(prev) + self.context_in(context)[:, None])
        if state is None:
            h0, c0 = torch.tanh(self.context_state(context)).chunk(2, dim=-1)
            state = (h0[None].contiguous(), c0[None].contiguous())
        h, state = self.note_rnn(self.drop(x), state)
        logits = self.out(self.drop(h)) + self.context_out(context)[:, None]
        keys = torch.arange(K, device=prev.device)
        below = torch.where(prev == K, -1, prev)  # the start allows every key
        key_logits = (logits[..., :K] + key_bias).masked_fill(keys <= below[..., None], float("-inf"))
        return torch.cat([key_logits, logits[..., K:]], dim=-1), state

    def frame_log_prob(self, context, frames, mask=None):
        B, T, K = frames.shape
        flat, context = frames.reshape(B * T, K), context.reshape(B * T, -1)
        recent = self._recent(frames).reshape(B * T, -1, K) if self.local is not None else None
        if mask is not None:  # score the real frames only: the note stage costs what the frames hold
            keep = mask.reshape(-1).nonzero().squeeze(1)
            flat, context = flat[keep], context[keep]
            recent = recent[keep] if recent is not None else None
        N = len(flat)
        n_notes = flat.sum(-1).long()  # (N,)
        J = int(n_notes.max()) + 1 if N else 1  # notes + END
        keys = torch.arange(K, device=frames.device)
        ordered = torch.where(flat > 0, keys, K).sort(dim=-1).values  # ascending keys, then K (= END) fill
        ordered = torch.cat([ordered, torch.full((N, 1), K, device=frames.device)], dim=-1)[:, :J]
        prev = torch.cat([torch.full((N, 1), K, device=frames.device), ordered[:, :-1]], dim=-1)
        logits, _ = self._note_logits(context, self._key_bias(context, recent, prev), prev)
        logp = logits.log_softmax(-1).gather(-1, ordered[..., None]).squeeze(-1)  # (N, J)
        used = torch.arange(J, device=frames.device) <= n_notes[:, None]  # the notes and their END
        logp = (logp * used).sum(-1)
        if mask is None:
            return logp.reshape(B, T)
        return logp.new_zeros(B * T).index_put((keep,), logp).reshape(B, T)

    def sample_frame(self, context, history, generator, temperature):
        K = self.config.n_keys
        recent = None
        if self.local is not None:
            recent = self._recent(torch.cat([history[:, -self.config.local_frames :], torch.zeros(1, 1, K)], 1))[:, -1]
        # what does not change within the frame, once; then per note the rows of the note just chosen
        interval = self._by_key(self.interval.weight[1:].T).reshape(K + 1, K)
        chord = self._by_key(self.chord).reshape(K + 1, K) if self.chord is not None else None
        fixed = self._local_bias(context, recent)  # (1, 1, K) or 0
        frame = torch.zeros(1, K)
        prev = torch.full((1, 1), K)
        chosen = torch.zeros(1, 1, K)  # the chord rows of the notes so far
        state = None
        for _ in range(K + 1):
            key_bias = interval[prev] + fixed + chosen  # (1, 1, K)
            logits, state = self._note_logits(context, key_bias, prev, state)
            probs = torch.softmax(logits[:, -1] / temperature, dim=-1)
            key = int(torch.multinomial(probs, 1, generator=generator))
            if key == K:
                break
            frame[0, key] = 1
            prev = torch.tensor([[key]])
            if chord is not None:
                chosen = chosen + chord[key]
        return frame
