"""The GAN: what its critic reads off a roll, its key-relative pitches, its training windows, and sampling from a tiny
trained checkpoint: bar by bar, any number of bars, seeded, continuing a primer, in the key asked for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from musewidgets import models
from musewidgets.checkpoints import load_checkpoint
from musewidgets.datasets import corpus
from musewidgets.models.gan import GANConfig, key_parts, roll_features, straight_through, voice_mask
from musewidgets.models.gan_networks import KeyEmbedding, n_features
from musewidgets.sampling import load_sampler
from musewidgets.training import TrainConfig, Trainer


def _sounding(channels: torch.Tensor, c: GANConfig) -> list:
    """The inner channel sounding in each voice at each step, by a plain loop: ``[b][v][t]`` (None: silence)."""
    out = []
    for rows in channels.tolist():
        voices = []
        for row in rows:
            now, line = None, []
            for ch in row:
                now = ch if ch >= 2 else (None if ch == 0 else now)
                line.append(now)
            voices.append(line)
        out.append(voices)
    return out


def test_roll_features_carry_the_sounding_pitch_through_holds():
    c = GANConfig()
    g = torch.Generator().manual_seed(0)
    channels = torch.randint(0, c.inner, (2, 4, 70), generator=g)
    channels[:, :, 10:50] = 1  # a long hold (40 steps) after ...
    channels[:, :, 9] = 20  # ... a note
    channels[0, 2, 30] = 0  # a rest inside it: the hold after it is silence
    tonic = torch.tensor([0, 7])
    f = roll_features(F.one_hot(channels, c.inner).float(), tonic, c)
    assert f.shape == (2, 70, n_features(4)) and n_features(4) == 4 * 17 + 3 + 3 * 6
    expected = _sounding(channels, c)
    for b in range(2):
        for v in range(4):
            for t in range(70):
                sounds = expected[b][v][t]
                height, degree, flag = f[b, t, v * 17], f[b, t, v * 17 + 1 : v * 17 + 13], f[b, t, v * 17 + 13]
                if sounds is None:
                    assert flag.abs() < 1e-5 and height.abs() < 1e-5 and degree.abs().sum() < 1e-5
                else:
                    pitch = sounds - 2 + c.pitch_low
                    assert abs(flag - 1) < 1e-5 and abs(height - (pitch - 60) / 12) < 1e-5
                    assert degree.argmax() == (pitch - tonic[b]) % 12
    # the gap between voices 0 and 1 where both sound
    both = f[:, :, 13] * f[:, :, 17 + 13]
    assert torch.allclose(f[:, :, 4 * 17], (f[:, :, 0] - f[:, :, 17]) * both, atol=1e-5)


def test_roll_features_take_mixtures_and_pass_second_order_gradients():
    c = GANConfig()
    a = F.one_hot(torch.randint(0, c.inner, (2, 4, 32)), c.inner).float()
    b = F.one_hot(torch.randint(0, c.inner, (2, 4, 32)), c.inner).float()
    mix = (0.3 * a + 0.7 * b).requires_grad_(True)
    out = roll_features(mix, torch.tensor([0, 5]), c).pow(2).sum()
    (grad,) = torch.autograd.grad(out, mix, create_graph=True)
    grad.norm().backward()
    assert torch.isfinite(grad).all() and torch.isfinite(mix.grad).all()


def test_pitches_are_embedded_relative_to_the_key():
    c = GANConfig()
    emb = KeyEmbedding(c, 8)
    with torch.no_grad():
        emb.pitch.zero_()  # the scale degrees alone
    table = emb.table(torch.tensor([0, 2]))  # C and D
    c_major_tonic = table[0, 2 + 60 - c.pitch_low]  # middle C in C
    d_major_tonic = table[1, 2 + 62 - c.pitch_low]  # D in D
    assert torch.equal(c_major_tonic, d_major_tonic)
    assert torch.equal(table[0, :2], table[1, :2])  # rest and hold do not depend on the key
    tonic, mode = key_parts(torch.tensor([0, 1, 12, 13, 24]))
    assert tonic.tolist() == [0, 0, 11, 0, 11] and mode.tolist() == [0, 1, 1, 2, 2]


def test_voice_mask_and_inner_channels():
    mask = voice_mask([(40, 50)], 1)
    assert mask.shape == (4, 130)
    assert (mask[0, :2] == 0).all() and (mask[0, 42:53] == 0).all() and torch.isinf(mask[0, 53:]).all()
    assert (mask[1:, 0] == 0).all() and torch.isinf(mask[1:, 1:]).all()
    gan = models.build("gan", {"width": 16, "z_dim": 8})
    c = gan.config
    channels = torch.tensor([0, 1, 2 + c.pitch_low, 2 + c.pitch_high, 2 + c.pitch_low - 1, 2 + c.pitch_high + 5])
    inner = gan.inner_channels(channels)
    assert inner.tolist()[:4] == [0, 1, 2, c.inner - 1]
    assert ((inner[4:] >= 2) & (inner[4:] < c.inner)).all()  # outside: moved by octaves inside
    assert torch.equal(gan.roll_channels(inner[:4]), channels[:4])


def test_training_windows_start_end_and_flag_the_bars_before_a_piece():
    import types

    from musewidgets.training.gan import GANTask

    corpora = {"chorale": corpus.load_style("chorale", progress=False)}
    task = GANTask(types.SimpleNamespace(config=types.SimpleNamespace(limit_pieces=20)), corpora)
    data = task.train["chorale"]
    assert data.bar_steps == 16 and data.time_signature == (4, 4)
    w = data.windows(np.random.default_rng(0), 200, 2, 2, augment=False)
    assert w["roll"].shape == (200, 4, 64)
    assert (w["to_end"][:, 1] == w["to_end"][:, 0] - 1).all()
    assert (w["to_end"][:, 1] == 1).mean() > 0.2  # a quarter of the windows end where their piece ends
    starts = w["before"].sum(1) == 2  # both context bars before the piece: rests
    assert starts.mean() > 0.1 and (w["roll"][starts][:, :, :32] == 0).all()
    assert ((w["key"] >= 1) & (w["key"] <= 24)).all()
    prior = task.key_prior(25)
    assert prior.shape == (4, 25) and torch.isclose(prior[0].sum(), torch.tensor(1.0)) and prior[0, 0] == 0


# ----------------------------------------------------------------------------- sampling from a tiny checkpoint


@pytest.fixture(scope="module")
def gan_path(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("gan")
    config = TrainConfig(
        family="gan",
        styles=("chorale", "folk"),
        minutes=5,
        max_steps=2,
        eval_every=2,
        limit_pieces=10,
        batch_size=8,
        model={"width": 16, "z_dim": 8, "n_critic": 1},
    )
    return Trainer(config, out).fit()["path"]


@pytest.fixture(scope="module")
def gan(gan_path):
    return load_sampler(gan_path)


def _notes(pieces):
    return [[[(n.pitch, n.start, n.duration) for n in part.notes] for part in p.parts] for p in pieces]


def test_checkpoint_loads_safely_with_its_key_prior(gan_path):
    ck = load_checkpoint(gan_path)  # weights_only=True inside
    prior = ck.model.key_prior
    assert prior.shape == (4, 25) and torch.isclose(prior[0].sum(), torch.tensor(1.0))
    assert ck.meta["valid_metric"].startswith("separability")
    assert set(ck.meta["valid_stats"]) == {"chorale", "folk"}


def test_takes_are_seeded_and_yield_bar_by_bar(gan):
    a = gan.generate(style="chorale", bars=3, seed=1, n=2)
    assert a == gan.generate(style="chorale", bars=3, seed=1, n=2)
    assert _notes(a) != _notes(gan.generate(style="chorale", bars=3, seed=2, n=2))
    for bars in (1, 5, 11):
        yields = list(gan.iter_generate(style="folk", bars=bars, seed=3))
        assert len(yields) == bars
        assert [p.n_bars for [p] in yields] == list(range(1, bars + 1))
        [last] = yields[-1]
        assert len(last.parts) == 1 and last.end == bars * last.steps_per_bar
        low, high = gan.checkpoint.styles["folk"]["parts"][0][2]
        assert all(low <= n.pitch <= high for n in last.parts[0].notes)


def test_temperature_draws_the_cells_or_scales_the_latents(gan_path):
    sampler = load_sampler(gan_path)
    assert sampler.model.config.stochastic  # cells are drawn like tokens
    cold = sampler.generate(style="chorale", bars=2, seed=4, n=3, temperature=0)
    assert cold == sampler.generate(style="chorale", bars=2, seed=4, n=3, temperature=0)
    assert _notes(cold) != _notes(sampler.generate(style="chorale", bars=2, seed=4, n=3, temperature=1.0))
    sampler.model.config.stochastic = False  # a GAN of the argmax: the temperature scales its latents
    # (the model alone: this GAN of two steps is nearly flat, and the guide's priors would pick every argmax)
    same = sampler.generate(style="chorale", bars=2, seed=4, n=3, temperature=0, key="D minor", guide=False)
    assert _notes(same[:1]) * 3 == _notes(same)  # no noise: one take per key
    warm = sampler.generate(style="chorale", bars=2, seed=4, n=3, key="D minor", guide=False)
    assert _notes(warm) != _notes(same)


def test_the_key_asked_for_is_the_takes_key(gan):
    assert gan.controls
    [take] = gan.generate(style="chorale", bars=2, seed=1, key="Eb major")
    assert take.key == "Eb major"


def test_gan_continues_a_primer_and_keeps_it(gan):
    source = corpus.load_style("chorale", progress=False).pieces[1]
    primer = source.slice_bars(0, 3)
    [take] = gan.generate(style="chorale", bars=2, primer=primer, seed=5)
    assert take.n_bars == primer.n_bars + 2
    for ours, theirs in zip(take.parts, primer.parts):  # the primer's notes, unchanged (the last may be tied on)
        kept = [(n.pitch, n.start, n.duration) for n in ours.notes if n.start < primer.end]
        given = [(n.pitch, n.start, n.duration) for n in theirs.notes]
        assert [k[:2] for k in kept] == [g[:2] for g in given]
        assert all(k[2] == g[2] or g[1] + g[2] == primer.end for k, g in zip(kept, given))
    with_pickup = source.slice_bars(-1, 2) if source.pickup else primer
    [take] = gan.generate(style="chorale", bars=1, primer=with_pickup, seed=5)
    assert take.n_bars == with_pickup.n_bars + 1
    three_four = primer.replace(time_signature=(3, 4), length=None)
    with pytest.raises(ValueError, match="4/4"):
        gan.generate(style="chorale", bars=1, primer=three_four)


def test_guidance_is_the_sequence_models_and_can_be_switched_off(gan):
    guided = gan.generate(style="chorale", bars=3, seed=6, n=2)
    alone = gan.generate(style="chorale", bars=3, seed=6, n=2, guide=False)
    assert _notes(guided) != _notes(alone)
    assert gan.generate(style="chorale", bars=3, seed=6, n=2, guide=False) == alone


def test_a_key_asked_for_favours_its_pitches_as_for_the_sequence_models(gan):
    strong = "key=25"  # the GAN's key prior at 50: only E, G and B are within 29 logits of the tonic
    takes = gan.generate(style="chorale", bars=2, seed=6, n=3, key="E minor", guide=strong)
    alone = gan.generate(style="chorale", bars=2, seed=6, n=3, key="E minor", guide=False)

    def classes(pieces):
        return {n.pitch % 12 for p in pieces for part in p.parts for n in part.notes}

    assert classes(takes) <= {4, 7, 11}
    assert not classes(alone) <= {4, 7, 11}  # the model alone writes other notes: the prior did it


def test_new_notes_keep_to_the_styles_grid_with_guidance(gan):
    from musewidgets.sampling import guidance

    grid = guidance.onset_grid("chorale", (4, 4), 16)
    off = {t for t in range(16) if grid[t] < 0}
    assert off == set(range(1, 16, 2))  # a chorale's notes start on eighths, hardly ever on sixteenths

    def onsets(pieces):
        return {(n.start - p.pickup) % 16 for p in pieces for part in p.parts for n in part.notes}

    takes = gan.generate(style="chorale", bars=2, seed=6, n=4, guide={"grid": 50 / guidance.GRID_STRENGTH})
    alone = gan.generate(style="chorale", bars=2, seed=6, n=4, guide=False)
    assert not onsets(takes) & off
    assert onsets(alone) & off  # the model alone starts notes there: the prior kept them off


def test_the_grid_is_measured_per_style_and_metre():
    from musewidgets.sampling import guidance

    grid = guidance.onset_grid("renaissance", (4, 2), 32)
    assert {t for t in range(32) if grid[t] == 0} == set(range(0, 32, 4))  # Palestrina moves in quarters
    assert guidance.onset_grid("folk", (2, 4), 8).eq(0).all()  # a folk tune's sixteenths are common enough
    assert guidance.onset_grid("renaissance", (5, 4), 20) is None  # no profile: no prior
    assert guidance.onset_grid(None, (4, 4), 16) is None


def test_separability_is_zero_for_one_distribution_and_near_one_for_two():
    from musewidgets.training.gan import separability

    rng = np.random.default_rng(0)
    same = separability(rng.normal(size=(64, 5)), rng.normal(size=(64, 5)))
    apart = separability(rng.normal(size=(64, 5)), rng.normal(size=(64, 5)) + 4)
    assert same < 0.1 and apart > 0.8


# ----------------------------------------------------------------------------- rhythm and the note-to-note chain


def test_sounding_durations_count_the_steps_a_note_has_sounded():
    gan = models.build("gan", {"width": 16, "z_dim": 8})
    c = gan.config
    g = torch.Generator().manual_seed(1)
    channels = torch.randint(0, 4, (2, 4, 60), generator=g)  # rests, holds and two pitches, often
    channels[:, :, 20:59] = 1  # a note held for 39 steps: longer than max_duration
    _, flag, duration = gan.generator.sounding(F.one_hot(channels, c.inner).float())
    for b in range(2):
        for v in range(4):
            now = 0
            for t, ch in enumerate(channels[b, v].tolist()):
                now = 1 if ch >= 2 else 0 if ch == 0 else (now + 1 if now else 0)
                assert duration[b, v, t] == min(now, c.max_duration) and flag[b, v, t] == (now > 0)


def test_decoding_for_sampling_writes_what_training_decodes():
    """The fast sampling path (table look-ups, channel indices) and the training path (one-hot, straight-through)
    are the same chain: with the argmax they write the same bar from the same logits and state."""
    gan = models.build("gan", {"width": 16, "z_dim": 8, "stochastic": False})
    c, gen = gan.config, gan.generator
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in (gen.interval, gen.rest_hold, gen.vertical, gen.rhythm):
            p.copy_(torch.randn(p.shape, generator=g) * 2)
    context = F.one_hot(torch.randint(0, c.inner, (3, 4, 32), generator=g), c.inner).float()
    logits = torch.randn(3, 4, 16, c.inner, generator=g)
    style = torch.tensor([0, 1, 3])
    tables = gen.chain(style)
    with torch.no_grad():
        sounding, flag, duration = gen.sounding(context)
        s, f, d = sounding[:, :, -1], flag[:, :, -1], duration[:, :, -1]
        bar, _, _, d_after = gen.decode(logits, s, f, d, tables, lambda x: straight_through(x))
        P = s.shape[-1]
        state = torch.where(f > 0.5, s.argmax(-1), P)
        inner, _, d_sampled = gen.decode_sampled(logits, state, d, gen.lookup(tables), lambda x: x.argmax(-1))
    assert torch.equal(bar.argmax(-1), inner) and torch.equal(d_after, d_sampled)


def test_the_rhythm_table_starts_at_the_styles_durations():
    import types

    from musewidgets.training.gan import GANTask

    corpora = {s: corpus.load_style(s, progress=False) for s in ("chorale", "renaissance")}
    task = GANTask(types.SimpleNamespace(config=types.SimpleNamespace(limit_pieces=20)), corpora)
    c = GANConfig()
    table = task.rhythm_init(c)
    assert table.shape == (4, 4, c.max_bar_steps, c.max_duration + 1) and torch.isfinite(table).all()
    chorale, renaissance = (task.codec.tokens.style_index(s) for s in ("chorale", "renaissance"))
    # after a quarter note (4 steps) on the beat, a chorale's soprano moves on more often than Palestrina's does
    assert table[chorale, 0, 4, 4] < table[renaissance, 0, 4, 4]
    assert (table[1] == 0).all() and (table[2] == 0).all()  # styles not trained on: no bias


# ----------------------------------------------------------------------------- continuing a primer


def _in_metre(style: str, time_signature, n: int = 1) -> list:
    return [
        p for p in corpus.load_style(style, progress=False).pieces if list(p.time_signature) == list(time_signature)
    ][:n]


def _kept(take, primer) -> bool:
    """The primer's notes are the take's first notes, bit for bit (its last ones may be held on into the new bars)."""
    for ours, theirs in zip(take.parts, primer.parts):
        kept = [(n.pitch, n.start, n.duration) for n in ours.notes if n.start < primer.end]
        given = [(n.pitch, n.start, n.duration) for n in theirs.notes]
        if [k[:2] for k in kept] != [g[:2] for g in given]:
            return False
        if not all(k[2] == g[2] or (g[1] + g[2] == primer.end and k[2] > g[2]) for k, g in zip(kept, given)):
            return False
    return True


def test_a_primer_continued_with_one_seed_gives_the_same_notes(gan):
    [source] = _in_metre("chorale", gan.checkpoint.styles["chorale"]["time_signature"])
    primer = source.slice_bars(0, 2)
    a = gan.generate(style="chorale", bars=3, primer=primer, seed=7, n=3)
    assert a == gan.generate(style="chorale", bars=3, primer=primer, seed=7, n=3)
    b = gan.generate(style="chorale", bars=3, primer=primer, seed=8, n=3)
    assert _notes(a) != _notes(b)
    assert all(_kept(take, primer) and take.n_bars == 5 and take.key == primer.key for take in a + b)
    yields = list(gan.iter_generate(style="chorale", bars=3, primer=primer, seed=7, n=3))
    assert len(yields) == 3 and yields[-1] == a  # one yield per new bar, the primer in every one


def test_generate_command_continues_a_primer_with_the_gan(gan_path, tmp_path):
    import subprocess
    import sys

    from musewidgets import export, io

    sampler = load_sampler(gan_path)
    [source] = _in_metre("folk", sampler.checkpoint.styles["folk"]["time_signature"])
    primer = source.slice_bars(0, 2)
    path, out = tmp_path / "primer.musicxml", tmp_path / "take.musicxml"
    export.save(primer, path)
    cmd = [sys.executable, "-m", "musewidgets", "generate", "--checkpoint", gan_path, "--style", "folk"]
    cmd += ["--primer", str(path), "--bars", "2", "--seed", "1", "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    take, read = io.read(out), io.read(path)
    assert take.n_bars == read.n_bars + 2 and _kept(take, read)
    [expected] = sampler.generate(style="folk", bars=2, primer=read, seed=1)
    assert _notes([take]) == _notes([expected])


def test_takes_have_exactly_the_bars_asked_for_and_continue_like_the_sequence_models(gan):
    ts = gan.checkpoint.styles["chorale"]["time_signature"]
    source = next(p for p in _in_metre("chorale", ts, 40) if p.pickup)
    for bars, primer_bars in ((1, 0), (3, 1), (2, 2)):
        primer = source.slice_bars(-1, primer_bars) if primer_bars else None  # with its pickup
        [take] = gan.generate(style="chorale", bars=bars, seed=bars, primer=primer)
        expected = bars + (primer.n_bars if primer is not None else 0)
        assert take.n_bars == expected and take.end == take.bar_start(expected)
        assert take.pickup == (primer.pickup if primer is not None else 0)
        # what the Workbench's Continue does: the take is the primer
        [longer] = gan.generate(style="chorale", bars=2, seed=9, primer=take)
        assert longer.n_bars == expected + 2
        head = longer.slice_bars(-1 if take.pickup else 0, expected)
        assert _kept(head, take.slice_bars(-1 if take.pickup else 0, expected))
