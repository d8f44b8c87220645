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

Training may transpose pieces; the transposition (``-max_shift..max_shift`` keys) is given to the model as an
embedding, and evaluation uses 0, the data as written.

::

    logp = model.log_prob(frames)            # frames (B, T, K) float {0, 1} -> (B, T) log p(frame_t | frames < t)
    nll, loss = model(frames, mask)          # nll (B, T) nats; loss = mean over frames where mask is True
    roll = model.sample(32, generator=g)     # (32, K) uint8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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

    def log_prob(self, frames: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(frame_t | frames < t)`` in nats, ``(B, T)``, for binary frames ``(B, T, K)``."""
        return self.frame_log_prob(self.context(frames, shift), frames)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor, shift: torch.Tensor | None = None):
        """NLL per frame ``(B, T)`` and the mean NLL over the frames where ``mask`` is True."""
        nll = -self.log_prob(frames, shift)
        return nll, nll[mask].mean()

    def frame_log_prob(self, context: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
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

    def frame_log_prob(self, context, frames):
        logits = self.head(context)  # (B, T, K)
        return -F.binary_cross_entropy_with_logits(logits, frames, reduction="none").sum(-1)

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

    def _key_bias(self, frames: torch.Tensor) -> torch.Tensor:
        # frames (B, T, K) -> (B, T, K): per key, a function of the neighbouring keys in frames t-1 ... t-F
        B, T, K = frames.shape
        if self.local is None:
            return frames.new_zeros(B, T, K)
        F_ = self.config.local_frames
        before = torch.cat([frames.new_zeros(B, F_, K), frames], dim=1)  # frame t is before[:, t + F_]
        recent = torch.stack([before[:, F_ - i : F_ - i + T] for i in range(1, F_ + 1)], dim=2)  # (B, T, F, K)
        return self.local(recent.reshape(B * T, F_, K)).reshape(B, T, K)

    def _note_logits(self, context, key_bias, prev, state=None):
        # context (N, H); key_bias (N, K); prev (N, J) previous note per position (K = start) -> (N, J, K+1), masked
        c = self.config
        K = c.n_keys
        x = torch.tanh(self.note_embed(prev) + self.context_in(context)[:, None])
        if state is None:
            h0, c0 = torch.tanh(self.context_state(context)).chunk(2, dim=-1)
            state = (h0[None].contiguous(), c0[None].contiguous())
        h, state = self.note_rnn(self.drop(x), state)
        logits = self.out(self.drop(h)) + self.context_out(context)[:, None]
        keys = torch.arange(K, device=prev.device)
        below = torch.where(prev == K, -1, prev)  # the start allows every key
        interval = (keys - below[..., None]).clamp(0, K - 1)  # (N, J, K)
        bias = torch.where(below[..., None] >= 0, self.interval(interval).squeeze(-1), 0.0)
        key_logits = (logits[..., :K] + bias + key_bias[:, None]).masked_fill(keys <= below[..., None], float("-inf"))
        return torch.cat([key_logits, logits[..., K:]], dim=-1), state

    def frame_log_prob(self, context, frames):
        B, T, K = frames.shape
        N = B * T
        flat = frames.reshape(N, K)
        n_notes = flat.sum(-1).long()  # (N,)
        J = int(n_notes.max()) + 1 if N else 1  # notes + END
        keys = torch.arange(K, device=frames.device)
        ordered = torch.where(flat > 0, keys, K).sort(dim=-1).values  # ascending keys, then K (= END) fill
        ordered = torch.cat([ordered, torch.full((N, 1), K, device=frames.device)], dim=-1)[:, :J]
        prev = torch.cat([torch.full((N, 1), K, device=frames.device), ordered[:, :-1]], dim=-1)
        logits, _ = self._note_logits(context.reshape(N, -1), self._key_bias(frames).reshape(N, K), prev)
        logp = logits.log_softmax(-1).gather(-1, ordered[..., None]).squeeze(-1)  # (N, J)
        used = torch.arange(J, device=frames.device) <= n_notes[:, None]  # the notes and their END
        return (logp * used).sum(-1).reshape(B, T)

    def sample_frame(self, context, history, generator, temperature):
        K = self.config.n_keys
        recent = history[:, -self.config.local_frames :]
        key_bias = self._key_bias(torch.cat([recent, torch.zeros(1, 1, K)], dim=1))[:, -1]  # (1, K)
        frame = torch.zeros(1, K)
        prev = torch.full((1, 1), K)
        state = None
        for _ in range(K + 1):
            logits, state = self._note_logits(context, key_bias, prev, state)
            probs = torch.softmax(logits[:, -1] / temperature, dim=-1)
            key = int(torch.multinomial(probs, 1, generator=generator))
            if key == K:
                break
            frame[0, key] = 1
            prev = torch.tensor([[key]])
        return frame
