"""Sampling from tiny trained checkpoints: seeded, pure, streaming, in the voice ranges, strict about settings."""

from __future__ import annotations

import math

import pytest
import torch

from musewidgets.datasets import corpus
from musewidgets.errors import UnknownStyleError
from musewidgets.sampling import Sampler, check_settings, load_sampler, sample_next_token
from musewidgets.training import TrainConfig, Trainer


def _train(tmp_path_factory, family: str, **config) -> str:
    out = tmp_path_factory.mktemp(family)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(out / "cache"))
        trainer = Trainer(TrainConfig(family=family, styles=("chorale", "folk"), minutes=5, **config), out)
        return trainer.fit()["path"]


@pytest.fixture(scope="module")
def lstm_path(tmp_path_factory) -> str:
    return _train(
        tmp_path_factory,
        "lstm",
        max_steps=30,
        eval_every=30,
        limit_pieces=15,
        batch_size=8,
        seq_len=64,
        model={"hidden": 32, "layers": 1, "d_embed": 32},
    )


@pytest.fixture(scope="module")
def lstm(lstm_path) -> Sampler:
    return load_sampler(lstm_path)


@pytest.fixture(scope="module")
def gan(tmp_path_factory) -> Sampler:
    path = _train(
        tmp_path_factory,
        "gan",
        max_steps=2,
        eval_every=2,
        limit_pieces=10,
        batch_size=8,
        model={"width": 32, "z_dim": 8},
    )
    return load_sampler(path)


def _notes(pieces):
    return [[[(n.pitch, n.start, n.duration) for n in part.notes] for part in p.parts] for p in pieces]


# ----------------------------------------------------------------------------- sample_next_token


def test_temperature_zero_is_argmax():
    logits = torch.randn(64, 40, generator=torch.Generator().manual_seed(0))
    rng = torch.Generator().manual_seed(1)
    assert torch.equal(sample_next_token(logits, rng, temperature=0), logits.argmax(dim=-1))
    assert torch.equal(sample_next_token(logits, rng, temperature=0, top_k=3, top_p=0.2), logits.argmax(dim=-1))


def test_sampling_is_seeded_by_its_generator():
    logits = torch.randn(32, 40, generator=torch.Generator().manual_seed(0))
    a = sample_next_token(logits, torch.Generator().manual_seed(5))
    b = sample_next_token(logits, torch.Generator().manual_seed(5))
    c = sample_next_token(logits, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_top_k_never_leaves_the_k_largest():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 50, generator=g)
    allowed = torch.topk(logits, 5, dim=-1).indices
    rng = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(20):
        tok = sample_next_token(logits, rng, temperature=1.5, top_k=5)
        assert (allowed == tok[:, None]).any(dim=1).all()
        seen.update(tok.tolist())
    assert len(seen) > 5  # it samples, it does not just take the argmax
    # top_k=1 is greedy
    assert torch.equal(sample_next_token(logits, rng, top_k=1), logits.argmax(dim=-1))


@pytest.mark.parametrize(
    ("probs", "top_p", "allowed"),
    [
        ([0.5, 0.3, 0.2], 0.6, {0, 1}),
        ([0.2, 0.5, 0.3], 0.6, {1, 2}),  # not in sorted order
        ([0.5, 0.3, 0.2], 0.4, {0}),
        ([0.5, 0.3, 0.2], 0.85, {0, 1, 2}),
    ],
)
def test_top_p_keeps_the_smallest_prefix_reaching_p(probs, top_p, allowed):
    logits = torch.tensor(probs).log().expand(4000, -1)
    tok = sample_next_token(logits, torch.Generator().manual_seed(0), top_p=top_p)
    assert set(tok.tolist()) == allowed


def test_check_settings_names_the_setting():
    check_settings(temperature=0, top_k=0, top_p=1, bars=1)
    for bad, name in [
        (dict(temperature=-1), "temperature"),
        (dict(temperature=math.nan), "temperature"),
        (dict(top_k=-1), "top_k"),
        (dict(top_p=0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(bars=0), "bars"),
        (dict(n=0), "n"),
        (dict(seed=-1), "seed"),
    ]:
        settings = dict(temperature=1.0, top_k=0, top_p=1.0, bars=4) | bad
        with pytest.raises(ValueError, match=f"`{name}`"):
            check_settings(**settings)


# ----------------------------------------------------------------------------- token models


def test_same_seed_same_pieces_other_seed_other_pieces(lstm):
    settings = dict(style="chorale", bars=2, temperature=1.0, top_k=20, top_p=0.95)
    a = lstm.generate(seed=3, **settings)
    b = lstm.generate(seed=3, **settings)
    c = lstm.generate(seed=4, **settings)
    assert a == b
    assert _notes(a) != _notes(c)


def test_sampling_leaves_the_global_rng_alone(lstm, gan):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    lstm.generate(style="folk", bars=2, seed=1)
    gan.generate(style="chorale", bars=2, seed=1)
    assert torch.equal(torch.get_rng_state(), before)


def test_greedy_generation_ignores_the_seed(lstm):
    a = lstm.generate(style="folk", bars=2, temperature=0, seed=1)
    b = lstm.generate(style="folk", bars=2, temperature=0, seed=99)
    assert a == b


def test_parts_and_voice_ranges_follow_the_style(lstm):
    for style, voices in [("chorale", 4), ("folk", 1)]:
        pieces = lstm.generate(style=style, bars=4, temperature=2.0, seed=2, n=2)
        ranges = [tuple(p[2]) for p in lstm.checkpoint.styles[style]["parts"]]
        assert len(ranges) == voices
        for piece in pieces:
            assert len(piece.parts) == voices and piece.style == style
            assert piece.n_notes > 0
            for part, (low, high) in zip(piece.parts, ranges):
                assert part.notes
                assert all(low <= n.pitch <= high for n in part.notes), (part.name, part.pitch_span(), (low, high))
                assert part.range == (low, high)


def test_n_candidates(lstm):
    pieces = lstm.generate(style="chorale", bars=2, seed=5, n=3)
    assert len(pieces) == 3
    assert len({str(_notes([p])) for p in pieces}) == 3  # three different candidates
    # the first candidate of a batch does not depend on n in shape
    assert all(p.time_signature == tuple(lstm.checkpoint.styles["chorale"]["time_signature"]) for p in pieces)


def test_iter_generate_yields_once_per_bar(lstm):
    yields = list(lstm.iter_generate(style="chorale", bars=3, seed=7, n=2, pickup=0))
    assert len(yields) == 3
    assert all(len(y) == 2 for y in yields)
    assert [y[0].n_bars for y in yields] == [1, 2, 3]
    ends = [y[0].end for y in yields]
    assert ends == sorted(ends) and ends[0] < ends[-1]
    # what was yielded early is the beginning of what comes later
    first_bar = [[n for n in part.notes if n.end < 16] for part in yields[0][0].parts]
    later = [[n for n in part.notes if n.end < 16] for part in yields[-1][0].parts]
    assert first_bar == later
    assert yields[-1] == lstm.generate(style="chorale", bars=3, seed=7, n=2, pickup=0)
    upbeat = list(lstm.iter_generate(style="chorale", bars=3, seed=7, pickup=4))
    assert [y[0].end for y in upbeat] == [4, 20, 36, 52]  # the upbeat, then each bar to the last bar line


@pytest.mark.parametrize("index", [0, 1])  # valid piece 0 starts on a bar line, piece 1 has a pickup
def test_primer_is_kept_at_the_start(lstm, index):
    source = corpus.load_style("chorale", progress=False).split("valid")[index]
    assert bool(source.pickup) == bool(index)
    primer = source.slice_bars(-1 if source.pickup else 0, 2)
    [result] = lstm.generate(style="chorale", bars=2, seed=1, primer=primer)
    assert len(result.parts) == 4 and result.pickup == primer.pickup
    assert result.end > primer.end and result.n_bars == primer.n_bars + 2
    head = result.slice_bars(-1 if primer.pickup else 0, primer.n_bars)
    for got, want in zip(head.parts, primer.parts):
        assert got.notes == want.notes
    # the new bars follow the primer's metre and header
    assert result.time_signature == primer.time_signature and result.key == primer.key
    assert [p.name for p in result.parts] == [p.name for p in primer.parts]


def test_primer_needs_the_style_s_voices(lstm):
    source = corpus.load_style("chorale", progress=False).split("valid")[0]
    with pytest.raises(ValueError, match="parts"):
        lstm.generate(style="folk", bars=1, primer=source.slice_bars(0, 1))


def test_unknown_style(lstm):
    with pytest.raises(UnknownStyleError, match="jazz"):
        lstm.generate(style="jazz", bars=1)
    with pytest.raises(UnknownStyleError, match="irish"):  # a corpus style this model was not trained on
        lstm.generate(style="irish", bars=1)
    assert lstm.styles == ["chorale", "folk"]


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ({"temperature": -1}, "temperature"),
        ({"bars": 0}, "bars"),
        ({"top_p": 0}, "top_p"),
        ({"top_k": -2}, "top_k"),
        ({"n": 0}, "n"),
    ],
)
def test_bad_settings_name_the_setting(lstm, setting, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        lstm.generate(style="folk", **({"bars": 1} | setting))


# ----------------------------------------------------------------------------- GAN


def test_gan_sampling_is_reproducible(gan):
    a = gan.generate(style="chorale", bars=2, seed=1, n=2)
    b = gan.generate(style="chorale", bars=2, seed=1, n=2)
    c = gan.generate(style="chorale", bars=2, seed=2, n=2)
    assert a == b and _notes(a) != _notes(c)
    assert all(len(p.parts) == 4 and p.n_bars <= 2 and p.n_notes > 0 for p in a)


def test_gan_parts_ranges_and_phrases(gan):
    [folk] = gan.generate(style="folk", bars=9, seed=3, temperature=1.5)
    assert len(folk.parts) == 1
    low, high = gan.checkpoint.styles["folk"]["parts"][0][2]
    assert all(low <= n.pitch <= high for n in folk.parts[0].notes)
    spb = folk.steps_per_bar
    assert folk.end <= 9 * spb
    # one yield per bar: the GAN writes bar after bar
    assert len(list(gan.iter_generate(style="folk", bars=9, seed=3))) == 9


def test_gan_continues_a_primer_in_its_metre(gan):
    chorales = corpus.load_style("chorale", progress=False).pieces
    primer = next(p for p in chorales if p.time_signature == (4, 4) and not p.pickup).slice_bars(0, 1)
    [take] = gan.generate(style="chorale", bars=2, primer=primer, seed=1)
    assert take.n_bars == 3
    for kept, given in zip(take.parts, primer.parts):  # the primer's notes, bit for bit (the last may be held on)
        inside = [n for n in kept.notes if n.start < primer.end]
        assert inside[:-1] == list(given.notes[:-1])
        assert (inside[-1].pitch, inside[-1].start) == (given.notes[-1].pitch, given.notes[-1].start)
        assert inside[-1].duration >= given.notes[-1].duration
    other = next(p for p in chorales if p.time_signature == (3, 4)).slice_bars(0, 1)
    with pytest.raises(ValueError, match="4/4"):
        gan.generate(style="chorale", bars=2, primer=other)
