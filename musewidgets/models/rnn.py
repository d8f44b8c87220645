"""Recurrent families: ``rnn`` (Elman, tanh) and ``lstm`` (Hochreiter & Schmidhuber 1997).

Training runs PyTorch's fused ``nn.RNN`` / ``nn.LSTM`` over whole windows. Sampling runs the same weights one
position at a time by hand: the first layer's input projection is a sum of embeddings, so it is precomputed as one
table per embedding (``W_ih @ E``) and each step costs a few lookups and one small matrix product per layer,
instead of a full ``nn.LSTM`` call (see benchmarks/models.py for the difference).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Batch, SequenceConfig, SequenceModel, register

__all__ = ["LSTM", "RNN", "LSTMConfig", "RNNConfig"]


@dataclass
class RNNConfig(SequenceConfig):
    hidden: int = 256  # units per layer
    layers: int = 2
    dropout: float = 0.1  # between layers, training only


@dataclass
class LSTMConfig(RNNConfig):
    hidden: int = 256


class _Recurrent(SequenceModel):
    cell = "rnn"
    gates = 1  # blocks of `hidden` rows in each weight matrix

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        rnn_cls = nn.LSTM if self.cell == "lstm" else nn.RNN
        self.rnn = rnn_cls(
            config.d_embed,
            config.hidden,
            config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def hidden(self, x):
        h, _ = self.rnn(x)  # (B, T, H)
        return self.drop(h)

    def head(self, h):
        return self.out(h)

    # ------------------------------------------------------------------ sampling, one position at a time
    @torch.no_grad()
    def init_state(self, batch_size: int) -> dict:
        c, rnn, L = self.cond, self.rnn, self.config.layers
        w = rnn.weight_ih_l0  # (G*H, d_embed)
        zeros = torch.zeros(batch_size, self.config.hidden)
        return {
            # first-layer input projections of every embedding row: (rows, G*H)
            "token": c.token.weight @ w.T,
            "voice": c.voice.weight @ w.T,
            "bar_pos": c.bar_pos.weight @ w.T,
            "metre": c.metre.weight @ w.T + rnn.bias_ih_l0 + rnn.bias_hh_l0,
            "style": c.style.weight @ w.T,
            "key": None if c.key is None else c.key.weight @ w.T,
            "to_end": None if c.to_end is None else c.to_end.weight @ w.T,
            "w_hh": [rnn.weight_hh_l0.T],
            # deeper layers: one product of [input, h] with the stacked weights [W_ih; W_hh]
            "w_cat": [None]
            + [
                torch.cat([getattr(rnn, f"weight_ih_l{i}"), getattr(rnn, f"weight_hh_l{i}")], dim=1).T
                for i in range(1, L)
            ],
            "b": [None] + [getattr(rnn, f"bias_ih_l{i}") + getattr(rnn, f"bias_hh_l{i}") for i in range(1, L)],
            "h": [zeros] * L,
            "c": [zeros] * L,
        }

    def step(self, inputs: Batch, state: dict) -> tuple[torch.Tensor, dict]:
        x = (
            state["token"][inputs["inputs"]]
            + state["voice"][inputs["voice"]]
            + state["bar_pos"][inputs["bar_pos"]]
            + state["metre"][inputs["metre"]]
            + state["style"][inputs["style"]]
        )  # (B, G*H): layer 0's input projection, bias included
        if state["key"] is not None:  # not given: index 0, "any key" and "keep going"
            x = x + (state["key"][inputs["key"]] if "key" in inputs else state["key"][0])
            x = x + (state["to_end"][inputs["to_end"]] if "to_end" in inputs else state["to_end"][0])
        hs, cs = [], []
        for layer in range(self.config.layers):
            h = state["h"][layer]
            if layer == 0:
                g = torch.addmm(x, h, state["w_hh"][0])
            else:
                g = torch.addmm(state["b"][layer], torch.cat([x, h], dim=1), state["w_cat"][layer])
            if self.cell == "lstm":
                H = h.shape[1]
                gates = g.sigmoid()
                c = gates[:, H : 2 * H] * state["c"][layer] + gates[:, :H] * g[:, 2 * H : 3 * H].tanh()
                h = gates[:, 3 * H :] * c.tanh()
                cs.append(c)
            else:
                h = g.tanh()
            hs.append(h)
            x = h
        state = {**state, "h": hs, "c": cs or state["c"]}
        return self.out(x), state


@register("rnn", RNNConfig)
class RNN(_Recurrent):
    """Elman network: ``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)``, stacked ``layers`` deep."""

    cell = "rnn"


@register("lstm", LSTMConfig)
class LSTM(_Recurrent):
    """Long short-term memory network, stacked ``layers`` deep."""

    cell = "lstm"
