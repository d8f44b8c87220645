"""Model families: step-by-step sampling matches the parallel forward pass, the loss, the GAN, the registry and the
n-gram baselines."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from musewidgets import models
from musewidgets.codecs import PAD, TokenCodec
from musewidgets.datasets import corpus
from musewidgets.models.ngram import NGram

TINY = {
    "rnn": {"hidden": 32, "layers": 1, "d_embed": 32},
    "lstm": {"hidden": 32, "layers": 1, "d_embed": 32},
    "transformer": {"d_model": 32, "layers": 1, "heads": 2, "d_embed": 32, "context": 64},
}
GAN_TINY = {"width": 32, "z_dim": 8}


CONTROLS = {"n_keys": 25, "ending_bars": 4}


def _random_batch(B: int, T: int, seed: int = 0, with_targets: bool = False) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch = {
        "inputs": torch.randint(0, 132, (B, T), generator=g),
        "voice": torch.randint(0, 4, (B, T), generator=g),
        "bar_pos": torch.randint(0, 48, (B, T), generator=g),
        "metre": torch.randint(0, 14, (B,), generator=g),
        "style": torch.randint(0, 4, (B,), generator=g),
        "key": torch.randint(0, 25, (B,), generator=g),
        "to_end": torch.randint(0, 5, (B, T), generator=g),
    }
    if with_targets:
        batch["targets"] = torch.randint(1, 132, (B, T), generator=g)
    return batch


def _build(family: str, **extra):
    torch.manual_seed(0)
    return models.build(family, {**TINY[family], **extra}).eval()


@pytest.mark.parametrize(
    ("family", "extra"),
    [
        ("rnn", {}),
        ("lstm", {}),
        ("transformer", {}),
        ("rnn", {"layers": 2}),
        ("lstm", {"layers": 2}),
        ("transformer", {"layers": 2}),
        ("rnn", CONTROLS),
        ("lstm", {"layers": 2, **CONTROLS}),
        ("transformer", CONTROLS),
    ],
)
def test_step_by_step_logits_equal_forward_logits(family, extra):
    model = _build(family, **extra)
    batch = _random_batch(B=3, T=24)
    with torch.no_grad():
        full, loss = model(batch)
    assert loss is None
    assert full.shape == (3, 24, 132)
    steps = []
    with torch.inference_mode():
        state = model.init_state(3)
        for t in range(24):
            inputs = {k: (v[:, t] if v.dim() == 2 else v) for k, v in batch.items()}
            logits, state = model.step(inputs, state)
            assert logits.shape == (3, 132)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["rnn", "lstm", "transformer"])
def test_key_and_ending_change_the_prediction_only_in_models_with_controls(family):
    batch = _random_batch(B=2, T=16)
    other = {**batch, "key": (batch["key"] + 5) % 25, "to_end": (batch["to_end"] + 1) % 5}
    with torch.no_grad():
        plain = _build(family)
        assert torch.equal(plain(batch)[0], plain(other)[0])  # an older model ignores them
        controlled = _build(family, **CONTROLS)
        assert not torch.allclose(controlled(batch)[0], controlled(other)[0])


@pytest.mark.parametrize("family", ["rnn", "transformer"])
def test_key_and_ending_left_out_mean_any_key_and_keep_going(family):
    model = _build(family, **CONTROLS)
    batch = _random_batch(B=2, T=8)
    zeros = {**batch, "key": torch.zeros_like(batch["key"]), "to_end": torch.zeros_like(batch["to_end"])}
    bare = {k: v for k, v in batch.items() if k not in ("key", "to_end")}
    with torch.no_grad():
        torch.testing.assert_close(model(bare)[0], model(zeros)[0])
    with torch.inference_mode():
        a, b = model.init_state(2), model.init_state(2)
        for t in range(3):
            step = {k: (v[:, t] if v.dim() == 2 else v) for k, v in bare.items()}
            la, a = model.step(step, a)
            lb, b = model.step({**step, "key": zeros["key"], "to_end": zeros["to_end"][:, t]}, b)
            torch.testing.assert_close(la, lb)


def test_transformer_sliding_cache_attends_to_the_last_context_positions():
    context = 8
    model = _build("transformer", context=context)
    batch = _random_batch(B=2, T=20, seed=3)
    with torch.inference_mode():
        state = model.init_state(2)
        for t in range(20):
            logits, state = model.step({k: (v[:, t] if v.dim() == 2 else v) for k, v in batch.items()}, state)
            assert state["cache"][0][0].shape[2] == min(t + 1, context - 1)
            lo = max(0, t - context + 1)
            window, _ = model({k: (v[:, lo : t + 1] if v.dim() == 2 else v) for k, v in batch.items()})
            torch.testing.assert_close(logits, window[:, -1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["rnn", "lstm", "transformer"])
def test_loss_is_mean_nll_over_non_pad_targets(family):
    model = _build(family)
    batch = _random_batch(B=2, T=16, seed=1, with_targets=True)
    batch["targets"][0, 10:] = PAD  # a short last window
    batch["targets"][1, :3] = PAD
    logits, loss = model(batch)
    keep = batch["targets"] != PAD
    expected = F.cross_entropy(logits[keep], batch["targets"][keep])
    torch.testing.assert_close(loss, expected)
    # the PAD positions' logits play no part in the loss
    unpadded = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten())
    assert not torch.allclose(loss, unpadded)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_random_model_loss_is_near_log_vocab():
    model = _build("lstm")
    _, loss = model(_random_batch(B=2, T=16, with_targets=True))
    assert abs(loss.item() - torch.log(torch.tensor(132.0)).item()) < 0.5


# ----------------------------------------------------------------------------- GAN


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    return models.build("gan", GAN_TINY)


def _gan_inputs(gan, B: int = 3, L: int = 16, seed: int = 0):
    """Context rolls (one-hot, inner channels), conditioning and latents for ``B`` windows of ``L``-step bars."""
    c = gan.config
    g = torch.Generator().manual_seed(seed)
    context = F.one_hot(torch.randint(0, c.inner, (B, c.voices, c.context_bars * L), generator=g), c.inner).float()
    cond = {
        "style": torch.arange(B) % 4,
        "metre": torch.ones(B, dtype=torch.long),
        "key": torch.arange(B) * 5 % 25,
        "mask": torch.zeros(B, c.voices, c.inner),
    }
    before = torch.zeros(B, c.context_bars)
    return context, before, cond, torch.randn(B, c.z_dim, generator=g), g


def test_gan_writes_one_hot_bars_with_straight_through_gradients(gan):
    c = gan.config
    context, before, cond, z, g = _gan_inputs(gan)
    noise = torch.randn(3, 2, c.bar_z_dim, generator=g)
    to_end = torch.tensor([[0, 0], [2, 1], [0, 0]])
    logits = gan.logits(context, before, cond, z, noise[:, 0], to_end[:, 0], 16)
    assert logits.shape == (3, 4, 16, 130)
    outside = torch.ones(130, dtype=torch.bool)
    outside[:2] = outside[2 + c.pitch_low : 3 + c.pitch_high] = False
    assert torch.isinf(logits[..., outside]).all() and torch.isfinite(logits[..., ~outside]).all()
    bars = gan.generator.rollout(context, before, cond, z, noise, to_end, 16)
    assert bars.shape == (3, 4, 32, c.inner)
    hard = bars.detach()  # one-hot forward (hard + soft - soft, so up to rounding)
    assert torch.allclose(hard.sum(-1), torch.ones(3, 4, 32)) and (hard - hard.round()).abs().max() < 1e-6
    assert bars.requires_grad  # straight-through gradients reach the generator
    seen = c.critic_context * 16  # the critic sees the last context bar and the written ones
    gan.critic(torch.cat([context[:, :, -seen:], bars], dim=2), cond, to_end).sum().backward()
    assert all(p.grad is not None for p in gan.generator.latent.parameters())
    gan.zero_grad()


def test_gan_voice_mask_forces_rests(gan):
    from musewidgets.models.gan import voice_mask

    c = gan.config
    context, before, cond, z, g = _gan_inputs(gan, B=2)
    mask = voice_mask([(60, 72)], 1)  # one voice, an octave; the others rest
    cond["mask"] = gan.to_inner(mask).expand(2, -1, -1)
    bars = gan.generator.rollout(
        context, before, cond, z, torch.randn(2, 1, c.bar_z_dim), torch.zeros(2, 1, dtype=torch.long), 16
    )
    channels = gan.roll_channels(bars.argmax(-1))
    assert (channels[:, 1:] == 0).all()
    played = channels[:, 0][channels[:, 0] >= 2] - 2
    assert ((played >= 60) & (played <= 72)).all()


def test_gan_gradient_penalty_is_finite_and_trains_the_critic(gan):
    c = gan.config
    context, before, cond, z, g = _gan_inputs(gan)
    seen = (c.critic_context + 2) * 16  # the join and two written bars
    real = F.one_hot(torch.randint(0, c.inner, (3, 4, seen), generator=g), c.inner).float()
    to_end = torch.zeros(3, 2, dtype=torch.long)
    bars = gan.generator.rollout(context, before, cond, z, torch.randn(3, 2, c.bar_z_dim, generator=g), to_end, 16)
    fake = torch.cat([context[:, :, -c.critic_context * 16 :], bars], 2)
    gp = gan.gradient_penalty(real, fake.detach(), cond, to_end)
    assert gp.dim() == 0 and torch.isfinite(gp) and gp.item() >= 0
    gan.zero_grad()
    gp.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.critic.parameters())
    assert all(p.grad is None for p in gan.generator.parameters())
    assert gan.critic(real, cond, to_end).shape == (3,)
    gan.zero_grad()


# ----------------------------------------------------------------------------- registry


def test_registry_knows_the_families():
    assert set(models.FAMILIES) == {
        "rnn",
        "lstm",
        "transformer",
        "gan",
        "frame_bernoulli",
        "frame_notewise",
        "classifier",
        "infill",
    }
    lstm = models.build("lstm", TINY["lstm"])
    assert lstm.family == "lstm" and lstm.config.hidden == 32
    assert models.config_to_dict(lstm)["d_embed"] == 32
    assert models.build("gan", GAN_TINY).n_params() < models.build("gan", {"width": 64, "z_dim": 8}).n_params()


def test_unknown_family_raises():
    with pytest.raises(ValueError, match="unknown model family 'gru'"):
        models.build("gru")


def test_unknown_config_field_raises_naming_it():
    with pytest.raises(ValueError, match="hiden"):
        models.build("lstm", {"hiden": 32})
    with pytest.raises(ValueError, match="d_model"):
        models.build("rnn", {"d_model": 32})


# ----------------------------------------------------------------------------- n-gram baselines


def test_bigram_beats_unigram_on_chorale_valid():
    chorales = corpus.load_style("chorale", progress=False)
    codec = TokenCodec()
    train = [codec.encode(p) for p in chorales.split("train")]
    valid = [codec.encode(p) for p in chorales.split("valid")]
    uni = NGram(1).fit(train).perplexity(valid)
    bi = NGram(2).fit(train).perplexity(valid)
    assert 1 < bi < uni < 132
    assert bi < 0.9 * uni  # knowing what the voice just did helps clearly
    total, count = NGram(2).fit(train).nll(valid)
    assert count == sum(len(e.tokens) for e in valid) and total > 0


def test_ngram_order_must_be_1_or_2():
    with pytest.raises(ValueError, match="order"):
        NGram(3)
