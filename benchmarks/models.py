"""Models: sampling speed of every shipped checkpoint, against the obvious ``nn.LSTM`` loop, and training throughput.

Run: ``python -m benchmarks.models`` (two to three minutes on the 2-core reference machine). Target from the issue:
8 bars of 4-voice chorale (512 tokens) from the shipped LSTM at batch 1 in < 100 ms (median), and >= 10x faster
than the obvious loop of one ``nn.LSTM`` call per token with the same weights.

Sampling runs single-threaded (``torch.set_num_threads(1)``): one-token steps are small matrix products, for which
a second thread costs more in hand-offs than it saves. Training runs with torch's default thread count.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from benchmarks.common import machine, measure, summary, table, write_section
from musewidgets.codecs import TokenCodec
from musewidgets.codecs.tokens import BOS, PAD
from musewidgets.datasets import corpus
from musewidgets.models import build
from musewidgets.sampling import load_sampler
from musewidgets.training import DEFAULTS, SequenceData

STYLE, BARS = "chorale", 8


def _seeds():
    return itertools.count()


def _time_generate(sampler, *, n: int, repeat: int, warmup: int = 1) -> list[float]:
    """Seconds per ``generate`` call, a new seed each call (warm-up calls included in the seed sequence)."""
    seeds = _seeds()
    return measure(
        lambda: sampler.generate(style=STYLE, bars=BARS, temperature=1.0, seed=next(seeds), n=n),
        repeat=repeat,
        warmup=warmup,
    )


def _obvious_lstm(sampler, n_tokens: int, seed: int, temperature: float = 1.0, batch: int = 1) -> torch.Tensor:
    """The loop one would write first: per token, the conditioning embedding, one ``nn.LSTM`` call, the head,
    softmax and ``torch.multinomial`` for ``batch`` pieces at once (no voice-range masks and no decoding to a
    Piece, so it does less work than :meth:`Sampler.generate`). Returns the tokens ``(batch, n_tokens)``."""
    model, codec = sampler.model, sampler.codec
    info = sampler.checkpoint.styles[STYLE]
    V = len(info["parts"])
    ts = tuple(info["time_signature"])
    spb = codec.steps_per_quarter * 4 * ts[0] // ts[1]
    metre = torch.full((batch,), codec.metre_index(ts))
    style = torch.full((batch,), codec.style_index(STYLE))
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    h = torch.zeros(cfg.layers, batch, cfg.hidden)
    c = torch.zeros(cfg.layers, batch, cfg.hidden)
    prev = torch.full((batch, 1), BOS)
    out_tokens = []
    with torch.inference_mode():
        for i in range(n_tokens):
            step, v = divmod(i, V)
            voice, pos = torch.full((batch, 1), v), torch.full((batch, 1), step % spb)
            x = model.cond(prev, voice, pos, metre, style)  # (B, 1, d_embed)
            y, (h, c) = model.rnn(x, (h, c))
            logits = model.out(y[:, -1])
            probs = torch.softmax(logits / temperature, dim=-1)
            prev = torch.multinomial(probs, 1, generator=g)  # (B, 1)
            out_tokens.append(prev)
    return torch.cat(out_tokens, dim=1)


def _train_throughput(family: str, batches: list[dict], warmup: int) -> tuple[float, float]:
    """(tokens/s, seconds per step) over ``batches[warmup:]``; non-PAD target tokens only."""
    torch.manual_seed(0)
    model = build(family)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=DEFAULTS[family]["lr"], weight_decay=0.01)

    def step(batch):
        _, loss = model(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for batch in batches[:warmup]:
        step(batch)
    timed = batches[warmup:]
    t0 = time.perf_counter()
    for batch in timed:
        step(batch)
    seconds = time.perf_counter() - t0
    tokens = sum(int((b["targets"] != PAD).sum()) for b in timed)
    return tokens / seconds, seconds / len(timed)


def main(repeat: int = 15, train_steps: int = 10, train_warmup: int = 2) -> str:
    default_threads = torch.get_num_threads()
    samplers = {f: load_sampler(f) for f in ("lstm", "rnn", "transformer", "gan")}
    info = samplers["lstm"].checkpoint.styles[STYLE]
    V = len(info["parts"])
    ts = tuple(info["time_signature"])
    spb = samplers["lstm"].codec.steps_per_quarter * 4 * ts[0] // ts[1]
    n_tokens = BARS * spb * V  # 8 bars x 16 steps x 4 voices = 512

    # ------------------------------------------------------------------ sampling, single-threaded
    torch.set_num_threads(1)
    rows = []

    def row(model, batch, times, note=""):
        s = summary(times)
        tok_s = batch * n_tokens / (s["median"] / 1000)
        rows.append([model, batch, f"{s['median']:.1f}", f"{s['p90']:.1f}", f"{tok_s:,.0f}", note])
        return s

    ours = row(
        "lstm (`Sampler.generate`)",
        1,
        _time_generate(samplers["lstm"], n=1, repeat=repeat, warmup=2),
        f"{repeat} seeds; target < 100 ms",
    )
    seeds = _seeds()
    obvious = row(
        "lstm, obvious loop (`nn.LSTM` call per token)",
        1,
        measure(lambda: _obvious_lstm(samplers["lstm"], n_tokens, next(seeds)), repeat=5, warmup=1),
        "same weights; 5 seeds; no masks, no decoding",
    )
    ours32 = row("lstm (`Sampler.generate`)", 32, _time_generate(samplers["lstm"], n=32, repeat=5), "5 seeds")
    obvious32 = row(
        "lstm, obvious loop (`nn.LSTM` call per token)",
        32,
        measure(lambda: _obvious_lstm(samplers["lstm"], n_tokens, next(seeds), batch=32), repeat=3, warmup=1),
        "same weights; 3 seeds; no masks, no decoding",
    )
    row("rnn (`Sampler.generate`)", 1, _time_generate(samplers["rnn"], n=1, repeat=repeat), f"{repeat} seeds")
    row(
        "transformer (`Sampler.generate`, KV cache)",
        1,
        _time_generate(samplers["transformer"], n=1, repeat=5),
        "5 seeds",
    )
    row(
        "transformer (`Sampler.generate`, KV cache)",
        32,
        _time_generate(samplers["transformer"], n=32, repeat=3),
        "3 seeds",
    )
    gan = summary(_time_generate(samplers["gan"], n=1, repeat=repeat))
    rows.append(
        [
            "gan (`Sampler.generate`)",
            1,
            f"{gan['median']:.1f}",
            f"{gan['p90']:.1f}",
            f"{n_tokens / (gan['median'] / 1000):,.0f}",
            f"{repeat} seeds; whole 64-step phrases, not token by token",
        ]
    )
    speedup = obvious["median"] / ours["median"]

    # ------------------------------------------------------------------ training, default threads
    torch.set_num_threads(default_threads)
    data = SequenceData(TokenCodec(), {STYLE: corpus.load_style(STYLE, progress=False)}, "train")
    rng = np.random.default_rng(0)
    batch_size, seq_len = 32, 512
    batches = [data.batch(rng, batch_size, seq_len, True) for _ in range(train_warmup + train_steps)]
    train_rows = []
    for family in ("rnn", "lstm", "transformer"):
        tok_s, per_step = _train_throughput(family, batches, train_warmup)
        params = build(family).n_params()
        train_rows.append([family, f"{params:,}", f"{per_step * 1000:,.0f}", f"{tok_s:,.0f}"])

    verdict = "meets" if speedup >= 10 and ours["median"] < 100 else "misses"
    md = "\n\n".join(
        [
            "## Models",
            f"`python -m benchmarks.models` on {machine()}, torch {torch.__version__}. "
            f"Sampling runs with `torch.set_num_threads(1)`; "
            f"training with torch's default ({default_threads} threads).",
            f"### Sampling: {BARS} bars of 4-voice {STYLE} ({ts[0]}/{ts[1]}, {spb} steps a bar, "
            f"{n_tokens} tokens a piece)",
            "Shipped checkpoints, `temperature=1.0`, a different seed each run; times include decoding to `Piece`s. "
            "Tokens/s counts every candidate's tokens (batch x 512 / median).",
            table(["model", "batch", f"median ms for {BARS} bars", "p90 ms", "tokens/s", "note"], rows),
            f"Speed-up of the hand-written LSTM step over the obvious `nn.LSTM` loop: **{speedup:.1f}x** "
            f"({obvious['median']:.0f} ms / {ours['median']:.1f} ms); the issue's target (>= 10x and < 100 ms) "
            f"{verdict}.",
            f"### Training throughput (CPU, batch {batch_size} x {seq_len} tokens)",
            f"A fresh model per family at the shipped sizes, AdamW at the family's default learning rate, gradient "
            f"clipping as in `Trainer`; {train_steps} timed steps after {train_warmup} warm-up steps, on chorale "
            "windows from `SequenceData.batch` built beforehand (not timed). Tokens/s counts non-PAD targets.",
            table(["family", "parameters", "ms per step", "tokens/s"], train_rows),
        ]
    )
    write_section("models", md)

    def tok_s(s, batch):
        return f"{batch * n_tokens / (s['median'] / 1000):,.0f} tokens/s"

    lstm_train = next(r for r in train_rows if r[0] == "lstm")
    rnn_train = next(r for r in train_rows if r[0] == "rnn")
    summary_rows = [
        ["sampling, LSTM, batch 1 (8 bars, 512 tokens)", tok_s(ours, 1), tok_s(obvious, 1), "obvious `nn.LSTM` loop"],
        ["sampling, LSTM, batch 32", tok_s(ours32, 32), tok_s(obvious32, 32), "obvious `nn.LSTM` loop, batched"],
        [
            f"training throughput, LSTM (batch {batch_size} x {seq_len})",
            f"{lstm_train[3]} tokens/s",
            f"{rnn_train[3]} tokens/s",
            "the plain RNN, same data",
        ],
    ]
    return {"markdown": md, "summary": summary_rows}


if __name__ == "__main__":
    print(main()["markdown"])
