"""Key, metre and ending control: the conditioning a take is sampled with, from the codec to the CLI.

The mechanisms are checked here on tiny models; whether the shipped models honour them is measured in
``tests/test_shipped_models.py`` and by ``python -m benchmarks.listening``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from musewidgets.checkpoints import save_checkpoint
from musewidgets.cli import main
from musewidgets.codecs import PAD, TokenCodec
from musewidgets.datasets import corpus
from musewidgets.errors import CheckpointError
from musewidgets.models import build
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling import Sampler, load_sampler
from musewidgets.training import SequenceData, Trainer, initialize, transpose_key_index

from .conftest import tiny_config

TINY = {"hidden": 32, "layers": 1, "d_embed": 32}


# ------------------------------------------------------------------ codec
def test_key_index_covers_unknown_major_and_minor():
    codec = TokenCodec()
    assert codec.key_index(None) == 0
    assert codec.key_index("C major") == 1 and codec.key_index("B major") == 12
    assert codec.key_index("C minor") == 13 and codec.key_index("Bb minor") == 23
    assert codec.key_index("D mixolydian") == 0
    assert len({codec.key_index(f"{t} {m}") for t in ("C", "Db", "D") for m in ("major", "minor")}) == 6


def test_transposing_a_key_index_keeps_its_mode():
    assert transpose_key_index(0, 5) == 0
    assert transpose_key_index(TokenCodec.key_index("G major"), 2) == TokenCodec.key_index("A major")
    assert transpose_key_index(TokenCodec.key_index("A minor"), 3) == TokenCodec.key_index("C minor")
    assert transpose_key_index(TokenCodec.key_index("C minor"), -1) == TokenCodec.key_index("B minor")


def test_to_end_counts_down_the_last_bars_and_is_zero_when_keeping_going():
    codec = TokenCodec(ending_bars=2)
    left = codec.to_end(16, 1, 4, total=16)  # four bars of four steps
    assert left.tolist() == [0] * 8 + [2] * 4 + [1] * 4
    assert codec.to_end(16, 1, 4, total=None).tolist() == [0] * 16
    # with a pickup of one step the bars start at 1, 5, 9, 13: the piece ends at 17
    assert codec.to_end(17, 2, 4, total=17)[::2].tolist() == [0] * 9 + [2] * 4 + [1] * 4


def test_encoded_piece_carries_its_key_and_ending(piece):
    enc = TokenCodec().encode(piece.replace(parts=piece.parts[:1]))  # two bars of 3/4 after a pickup, G major
    assert enc.key == TokenCodec.key_index("G major")
    V = enc.n_voices
    assert enc.to_end.shape == enc.tokens.shape
    per_step = enc.to_end[::V].tolist()
    assert per_step[-12:] == [1] * 12 and per_step[4:16] == [2] * 12 and per_step[:4] == [3] * 4


def test_codec_saved_before_endings_reads_back_with_none():
    data = TokenCodec().to_dict()
    del data["ending_bars"]
    assert TokenCodec.from_dict(data).ending_bars == 0


# ------------------------------------------------------------------ training data
@pytest.fixture(scope="module")
def data():
    corpora = {s: corpus.load_style(s, progress=False) for s in ("chorale", "folk")}
    return SequenceData(TokenCodec(), corpora, "train", limit=6)


def test_windows_at_the_end_of_a_piece_see_the_countdown(data):
    rng = np.random.default_rng(0)
    batch = data.batch(rng, 8, 256, augment=False, end_share=1.0)
    for b in range(8):
        real = batch["targets"][b] != PAD
        last = int(real.nonzero().max())
        assert batch["to_end"][b, last] == 1  # the window's last token is in its piece's last bar
    middle = data.batch(np.random.default_rng(1), 8, 64, augment=False, end_share=0.0)
    assert (middle["to_end"] == 0).float().mean() > 0.5  # most 64-token windows are far from the end


def test_key_follows_the_transposition_and_can_be_hidden(data, monkeypatch):
    def batch(shift, **kw):
        monkeypatch.setattr(data, "shifts", {n: [[shift]] * len(p) for n, p in data.shifts.items()})
        return data.batch(np.random.default_rng(3), 8, 64, augment=True, **kw)

    plain, moved = batch(0), batch(3)
    assert (plain["key"] > 0).all()  # every corpus piece has an estimated key
    notes = plain["targets"] >= 4
    assert torch.equal(moved["targets"][notes], plain["targets"][notes] + 3)
    assert moved["key"].tolist() == [transpose_key_index(int(k), 3) for k in plain["key"]]
    assert (batch(3, key_dropout=1.0)["key"] == 0).all()


# ------------------------------------------------------------------ starting from an older checkpoint
def test_a_model_extended_with_controls_keeps_every_old_weight(tmp_path):
    torch.manual_seed(0)
    old = build("lstm", TINY)
    path = tmp_path / "old.pt"
    save_checkpoint(path, old, TokenCodec(), {}, {})
    new = build("lstm", {**TINY, "n_keys": 25, "ending_bars": 4})
    fresh = initialize(new, path)
    assert sorted(fresh) == ["cond.key.weight", "cond.to_end.weight"]
    for name, value in old.state_dict().items():
        assert torch.equal(new.state_dict()[name], value), name
    # the new tables start at the scale of the old ones, so the network hears them from the first step
    assert 0.5 < new.cond.key.weight.std() / new.cond.style.weight.std() < 2


def test_init_refuses_another_family_or_size(tmp_path):
    from musewidgets.errors import CheckpointError

    path = tmp_path / "rnn.pt"
    save_checkpoint(path, build("rnn", TINY), TokenCodec(), {}, {})
    with pytest.raises(CheckpointError, match="rnn"):
        initialize(build("lstm", TINY), path)
    with pytest.raises(CheckpointError, match="does not fit"):
        initialize(build("rnn", {**TINY, "hidden": 48}), path)


def test_training_from_an_older_checkpoint_teaches_the_new_tables(tmp_path):
    from musewidgets.checkpoints import load_checkpoint

    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old = Trainer(tiny_config(max_steps=2, eval_every=2, model={**TINY, "n_keys": 0, "ending_bars": 0}), old_dir)
    old_path = old.fit()["path"]
    assert not load_checkpoint(old_path).model.config.controls
    new = load_checkpoint(Trainer(tiny_config(max_steps=3, eval_every=3, init=old_path), new_dir).fit()["path"])
    assert new.model.config.controls and new.meta["train_config"]["init"] == old_path
    assert new.model.cond.key.weight.abs().sum() > 0 and new.model.cond.to_end.weight.abs().sum() > 0
    assert new.meta["init_from"]["checkpoint"] == old_path and new.meta["init_from"]["steps"] == 2
    from musewidgets.evaluation.cards import _lineage

    [line] = _lineage(new.meta["init_from"])
    assert line.startswith(f"- **Started from:** `{old_path}`") and "2 steps" in line


def test_a_longer_count_down_starts_where_the_checkpoint_was(tmp_path):
    from musewidgets.training.warm_start import fresh_names

    path = tmp_path / "four.pt"
    old = build("lstm", {**TINY, "n_keys": 25, "ending_bars": 4})
    save_checkpoint(path, old, TokenCodec(), {}, {})
    new = build("lstm", {**TINY, "n_keys": 25, "ending_bars": 8})
    grown = initialize(new, path)
    assert "cond.to_end.weight" in grown and set(grown) == set(fresh_names(new, path))
    table, theirs = new.cond.to_end.weight.detach(), old.cond.to_end.weight.detach()
    assert torch.equal(table[:5], theirs)  # the checkpoint's rows are kept
    assert torch.equal(table[5:], theirs[:1].expand(4, -1))  # 8..5 bars left: what "further" was to it
    assert torch.equal(new.cond.key.weight, old.cond.key.weight)
    with pytest.raises(CheckpointError, match="to_end"):  # a shorter count-down would lose rows: refused
        initialize(build("lstm", {**TINY, "n_keys": 25, "ending_bars": 2}), path)


def test_a_run_counts_down_over_the_bars_it_was_trained_with(tmp_path):
    s = load_sampler(Trainer(tiny_config(max_steps=1, eval_every=1, ending_bars=8), tmp_path).fit()["path"])
    assert s.codec.ending_bars == 8 and s.model.cond.to_end.num_embeddings == 9
    spied, spy = _spy(s)
    spied.generate(style="folk", bars=10, seed=0, metre="2/4", pickup=0)
    steps = [to_end for _, to_end, voice in spy.seen if voice == 0]
    assert steps == [0] * 16 + [b for b in range(8, 0, -1) for _ in range(8)]


@pytest.mark.parametrize("changes", [{"ending_bars": 0}, {"ending_bars": 17}, {"ending_bars": 8, "family": "gan"}])
def test_ending_bars_is_checked(tmp_path, changes):
    with pytest.raises(ValueError, match="ending_bars"):
        Trainer(tiny_config(**changes), tmp_path).check()


# ------------------------------------------------------------------ sampling
@pytest.fixture(scope="module")
def sampler(tmp_path_factory) -> Sampler:
    out = tmp_path_factory.mktemp("controls")
    s = load_sampler(Trainer(tiny_config(max_steps=4, eval_every=4), out).fit()["path"])
    return s


class _Spy:
    """Wraps a model and records what every step is conditioned on."""

    def __init__(self, model):
        self.model, self.seen = model, []
        self.config = model.config

    def init_state(self, n):
        return self.model.init_state(n)

    def step(self, inputs, state):
        self.seen.append((int(inputs["key"][0]), int(inputs["to_end"][0]), int(inputs["voice"][0])))
        return self.model.step(inputs, state)


def _spy(sampler) -> tuple[Sampler, _Spy]:
    spied = Sampler(sampler.checkpoint)
    spied.model = _Spy(sampler.model)
    return spied, spied.model


def test_a_new_model_has_controls_and_offers_the_styles_metres(sampler):
    assert sampler.controls
    folk = sampler.metres("folk")
    assert folk[0] == "2/4" and {"3/4", "4/4", "6/8"} <= set(folk)
    assert sampler.metres("chorale")[0] == "4/4"


def test_the_take_is_conditioned_on_the_key_and_counts_down_to_its_end(sampler):
    spied, spy = _spy(sampler)
    [piece] = spied.generate(style="folk", bars=6, seed=0, key="D minor", metre="3/4", pickup=0)
    assert piece.key == "D minor" and piece.time_signature == (3, 4) and piece.n_bars == 6
    steps = [to_end for _, to_end, voice in spy.seen if voice == 0]
    assert len(steps) == 6 * 12
    assert steps == [0] * 24 + [4] * 12 + [3] * 12 + [2] * 12 + [1] * 12
    assert {key for key, _, _ in spy.seen} == {TokenCodec.key_index("D minor")}


def test_keep_going_never_counts_down_and_no_key_asked_is_a_key_the_style_uses(sampler):
    from musewidgets.codecs.tokens import TokenCodec
    from musewidgets.sampling.guidance import key_shares

    spied, spy = _spy(sampler)
    [piece] = spied.generate(style="chorale", bars=2, seed=0, ending=False)
    told = {key for key, _, _ in spy.seen}
    assert len(told) == 1 and told <= {TokenCodec.key_index(k) for k in key_shares()["chorale"]}
    assert {to_end for _, to_end, _ in spy.seen} == {0}
    assert piece.key is not None  # estimated from the notes, as before
    spy.seen.clear()
    spied.generate(style="chorale", bars=2, seed=0, ending=False, guide="key=0")  # the model's own choice
    assert {(key, to_end) for key, to_end, _ in spy.seen} == {(0, 0)}  # key 0: unknown


def test_metre_choice_gives_whole_bars_of_that_metre(sampler):
    [piece] = sampler.generate(style="folk", bars=3, seed=2, metre=(6, 8))
    assert piece.time_signature == (6, 8) and piece.n_bars == 3 and piece.length == piece.pickup + 3 * 12


def test_same_seed_and_plan_give_the_same_notes(sampler):
    a = sampler.generate(style="folk", bars=3, seed=5, key="A major")
    b = sampler.generate(style="folk", bars=3, seed=5, key="A major")
    c = sampler.generate(style="folk", bars=3, seed=5, key="A minor")
    assert a[0].parts == b[0].parts and a[0].parts != c[0].parts


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"key": "H major"}, "look like"),
        ({"key": "D dorian"}, "major or minor"),
        ({"key": 7}, "look like"),
        ({"metre": "5/4"}, "choose from 2/4"),
        ({"metre": "six-eight"}, "choose from"),
    ],
)
def test_bad_key_or_metre_is_a_value_error_naming_it(sampler, settings, match):
    with pytest.raises(ValueError, match=match):
        sampler.generate(style="folk", bars=1, **settings)


def test_key_names_are_read_forgivingly(sampler):
    [piece] = sampler.generate(style="folk", bars=1, key="bb MINOR")
    assert piece.key == "Bb minor"


def test_a_model_without_controls_refuses_a_key_but_plays_as_before(tmp_path):
    old = build("lstm", TINY)
    path = tmp_path / "old.pt"
    info = {"folk": {"parts": [["Melody", 73, [60, 80]]], "time_signature": [2, 4], "tempo": 100.0}}
    save_checkpoint(path, old, TokenCodec(ending_bars=0), info, {})
    s = load_sampler(path)
    assert not s.controls and s.metres("folk") == ["2/4"]
    with pytest.raises(ValueError, match="without key control"):
        s.generate(style="folk", bars=1, key="G major")
    [piece] = s.generate(style="folk", bars=2, seed=1)
    assert piece.n_bars == 2


def test_a_primer_brings_its_own_key(sampler):
    primer = Piece(
        (Part("Melody", (Note(62, 0, 4), Note(65, 4, 4), Note(69, 8, 8)), program=73),),
        time_signature=(2, 4),
        key="D minor",
        style="folk",
    )
    spied, spy = _spy(sampler)
    [piece] = spied.generate(style="folk", bars=2, seed=0, primer=primer, key="E major")
    assert piece.key == "D minor"
    assert {key for key, _, _ in spy.seen} == {TokenCodec.key_index("D minor")}


# ------------------------------------------------------------------ CLI
def test_cli_generate_writes_the_key_and_metre_asked_for(sampler, tmp_path, capsys):
    import music21

    out = tmp_path / "take.musicxml"
    code = main(
        [
            "generate",
            "--checkpoint",
            str(sampler.checkpoint.path),
            "--style",
            "folk",
            "--bars",
            "4",
            "--key",
            "E minor",
            "--metre",
            "6/8",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    score = music21.converter.parse(out)
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == "6/8"
    assert score.recurse().getElementsByClass("KeySignature")[0].sharps == 1
    code = main(
        ["generate", "--checkpoint", str(sampler.checkpoint.path), "--style", "folk", "--metre", "7/8", "-o", str(out)]
    )
    assert code == 1
    assert "choose from" in capsys.readouterr().err


# ------------------------------------------------------------------ Workbench
def test_workbench_key_metre_and_ending_make_the_take_and_replay_it():
    import musewidgets

    wb = musewidgets.Workbench(style="folk")
    c = wb.controls
    assert list(c.metre.options) == wb.generation.sampler("lstm").metres("folk") and c.metre.value == "2/4"
    assert len(c.key.options) == 25 and c.key.value is None and c.ending.value is True
    c.bars.value, c.key.value, c.metre.value, c.ending.value = 2, "D minor", "6/8", False
    take = wb.generate()
    assert take.piece.key == "D minor" and take.piece.time_signature == (6, 8) and take.piece.n_bars == 2
    assert take.settings["ending"] is False and " D minor 6/8 → " in take.label
    c.key.value, c.metre.value, c.ending.value = None, "2/4", True
    wb.copy_settings(take)
    assert (c.key.value, c.metre.value, c.ending.value) == ("D minor", "6/8", False)
    assert wb.generate().piece.parts == take.piece.parts
    c.style.value = "chorale"
    assert list(c.metre.options) == ["4/4", "3/4"] and c.metre.value == "4/4"
    c.model.value = "gan"  # the GAN takes a key and an ending too, and writes each style in one metre
    assert not c.key.disabled and not c.ending.disabled and c.key.value == "D minor"
    assert list(c.metre.options) == wb.generation.sampler("gan").metres("chorale") == ["4/4"]
    gan_take = wb.generate()
    assert gan_take.settings["key"] == "D minor" and gan_take.piece.key == "D minor"
    c.model.value = "lstm"
    assert not c.key.disabled


# ------------------------------------------------------------------ guidance
def test_key_bias_favours_the_tonic_and_leaves_rests_and_holds_alone():
    from musewidgets.codecs.tokens import HOLD, PITCH0, REST
    from musewidgets.sampling.guidance import key_bias

    bias = key_bias(2, "minor", 132, strength=1.0)  # D minor
    assert bias[REST] == bias[HOLD] == 0
    assert bias[PITCH0 + 62] == 0 and bias[PITCH0 + 50] == 0  # every D
    assert bias[PITCH0 + 65] > bias[PITCH0 + 66]  # F (the minor third) above F#
    assert bias[PITCH0 + 63] == pytest.approx(np.log(2.68 / 6.33))  # Eb: the probe-tone rating of the minor second


def test_a_take_asked_for_a_key_is_the_first_candidate_both_key_finders_hear_in_it():
    from musewidgets.sampling.guidance import choose_in_key

    def tune(pitches):
        return Piece((Part("m", tuple(Note(p, 4 * i, 4) for i, p in enumerate(pitches))),), time_signature=(4, 4))

    c_major = tune([60, 64, 67, 72, 67, 65, 62, 59, 60])
    a_minor = tune([57, 60, 64, 69, 68, 64, 59, 56, 57])
    g_major = tune([67, 71, 74, 79, 74, 72, 69, 66, 67])
    also = tune([60, 64, 67, 72, 67, 65, 62, 59, 60, 65, 65, 65, 66, 66])  # C major too, by both
    assert choose_in_key([g_major, a_minor, c_major, also], "C major", 1) == [c_major]  # the first in the key
    assert choose_in_key([g_major, a_minor, also, c_major], "C major", 2) == [g_major, also]  # none: the closest


def test_a_take_asked_for_a_key_is_chosen_among_candidates_drawn_together(sampler, monkeypatch):
    from musewidgets.sampling import guidance

    spied, spy = _spy(sampler)
    from musewidgets.sampling import sampler as sampler_module

    seen = []
    real = guidance.choose_in_key
    spy = lambda c, key, n: seen.append((len(c), key, n)) or real(c, key, n)  # noqa: E731
    monkeypatch.setattr(sampler_module, "choose_in_key", spy)
    takes = spied.generate(style="folk", bars=1, n=2, seed=0, key="G major")
    assert len(takes) == 2 and seen and set(seen) == {(2 * guidance.KEY_CANDIDATES, "G major", 2)}
    assert takes == spied.generate(style="folk", bars=1, n=2, seed=0, key="G major")  # the same seed, the same takes
    seen.clear()
    spied.generate(style="folk", bars=1, n=2, seed=0)  # no key asked: the model's own choice
    spied.generate(style="folk", bars=1, n=2, seed=0, key="G major", guide=False)  # the model alone
    spied.generate(style="folk", bars=1, n=2, seed=0, key="G major", guide="key=0")  # the key prior alone off
    assert not seen


class _ByStyle:
    """A model whose next-token logits depend on the style alone: one row of ``table`` per style index."""

    def __init__(self, table):
        self.table, self.config, self.batches = table, None, []

    def init_state(self, n):
        return n

    def step(self, inputs, state):
        self.batches.append(inputs["style"].tolist())
        return self.table[inputs["style"]], state


def test_style_guidance_multiplies_the_model_by_its_own_evidence_for_the_style():
    from musewidgets.sampling.guidance import StyleContrast

    table = torch.randn(3, 132, generator=torch.Generator().manual_seed(1))
    model = _ByStyle(table)
    guided = StyleContrast(model, [1], strength=1.0)
    assert guided.init_state(2) == 4  # the take's style and the other, in one batch
    inputs = {"inputs": torch.tensor([5, 6]), "style": torch.tensor([2, 2])}
    out, _ = guided.step(inputs, 4)
    assert model.batches == [[2, 2, 1, 1]]
    p_irish, p_folk = table[2].softmax(-1), table[1].softmax(-1)
    expected = (p_irish * p_irish / ((p_irish + p_folk) / 2)).log()  # p(x | s) * p(s | x) / p(s)
    assert torch.allclose(out[0], expected, atol=1e-5) and torch.equal(out[0], out[1])
    same, _ = StyleContrast(model, [1], strength=0.0).step(inputs, 4)
    assert torch.allclose(same.softmax(-1), p_irish.expand(2, -1), atol=1e-6)  # strength 0: the model alone


def test_irish_takes_steer_away_from_folk_in_the_metres_both_share():
    from musewidgets.sampling import guidance

    lstm = load_sampler("lstm")
    assert lstm.confusable("irish", (6, 8)) == ["folk"] and lstm.confusable("folk", (2, 4)) == ["irish"]
    assert lstm.confusable("irish", (9, 8)) == [] and lstm.confusable("chorale", (4, 4)) == []
    assert set(guidance.STYLE_STRENGTH) == {"irish"}  # folk takes are heard as folk without it
    irish, folk = lstm.codec.style_index("irish"), lstm.codec.style_index("folk")
    spied = Sampler(lstm.checkpoint)
    spied.model = model = _ByStyle(None)

    def step(inputs, state):
        model.batches.append(sorted(set(inputs["style"].tolist())))
        return lstm.model.step(inputs, state)

    model.step, model.init_state, model.config = step, lstm.model.init_state, lstm.model.config
    spied.generate(style="irish", bars=1, n=2, seed=0, metre="6/8")
    assert model.batches and all(b == sorted([irish, folk]) for b in model.batches)
    for settings in ({"style": "irish", "metre": "6/8", "guide": False}, {"style": "folk", "metre": "6/8"}):
        model.batches.clear()
        spied.generate(bars=1, n=2, seed=0, **settings)  # the model alone; folk has no style guidance
        assert model.batches and all(len(b) == 1 for b in model.batches)


def test_the_pitch_temperature_sharpens_the_choice_of_note_and_leaves_its_rhythm(sampler, monkeypatch):
    from musewidgets.codecs.tokens import HOLD, PITCH0, REST
    from musewidgets.sampling import guidance

    logits = torch.randn(2, 132, generator=torch.Generator().manual_seed(3))
    p, q = logits.softmax(-1), guidance.among_pitches(logits, 0.8).softmax(-1)
    assert torch.allclose(q[:, [REST, HOLD]], p[:, [REST, HOLD]], atol=1e-6)
    a, b = PITCH0 + 60, PITCH0 + 61
    assert (q[0, a] / q[0, b]).item() == pytest.approx((p[0, a] / p[0, b]).item() ** 1.25, rel=1e-4)
    from musewidgets.sampling.guidance import pitches

    assert set(guidance.PITCH_TEMPERATURE) == {"renaissance"}  # chorales were closer to Bach without it
    monkeypatch.setitem(guidance.PITCH_TEMPERATURE, "chorale", 0.8)  # the mechanism, in a style the tiny model knows
    seen = []
    real = guidance.among_pitches
    monkeypatch.setattr(pitches, "among_pitches", lambda logits, t, b: seen.append(t) or real(logits, t, b))
    sampler.generate(style="chorale", bars=1, seed=0)
    assert seen and set(seen) == {guidance.PITCH_TEMPERATURE["chorale"]} and seen[0] < 1
    seen.clear()
    sampler.generate(style="chorale", bars=1, seed=0, guide="pitch=2")  # twice as strong: 0.8 ** 2
    assert seen and set(seen) == {guidance.PITCH_TEMPERATURE["chorale"] ** 2}
    seen.clear()
    sampler.generate(style="folk", bars=1, seed=0)  # a folk tune's notes are as the model draws them
    sampler.generate(style="chorale", bars=1, seed=0, guide=False)
    sampler.generate(style="chorale", bars=1, seed=0, guide="pitch=0")
    assert not seen


def test_cadence_and_hold_bias_only_touch_the_outer_voices_of_known_tonics():
    from musewidgets.codecs.tokens import PITCH0
    from musewidgets.sampling.guidance import cadence_bias, hold_bias

    bias = cadence_bias([7, None], 4, 132, strength=3.0)
    assert bias[0, 0, PITCH0 + 67] == bias[0, 3, PITCH0 + 43] == 3.0
    assert bias[0, 1].abs().sum() == bias[0, 2].abs().sum() == bias[1].abs().sum() == 0
    assert bias[0, 0, PITCH0 + 69] == 0
    holds = hold_bias(torch.tensor([67, 69, -1, 60]), torch.tensor([7, 7, 7, -1]), strength=3.0)
    assert holds.tolist() == [1.5, -1.5, 0.0, 0.0]  # a silent voice cannot hold (masked apart): no bias


def test_ending_weights_follow_the_style_s_real_endings():
    from musewidgets.codecs.tokens import PITCH0
    from musewidgets.sampling.guidance import TONIC_ONLY, cadence_bias, ending_weights, hold_bias

    chorale = ending_weights("chorale", 4)
    assert torch.equal(chorale[0], TONIC_ONLY) and torch.equal(chorale[3], TONIC_ONLY)  # Bach: the tonic stands alone
    top = ending_weights("renaissance", 4)[0]  # Palestrina's top voice ends on the fifth and third too
    assert top[0] == 1 and 0.5 < top[7] < 1 and 0.4 < top[4] < 1 and top[2] == 0
    assert ending_weights("my-own-style", 1) == {0: TONIC_ONLY}
    bias = cadence_bias([0], 4, 132, strength=5.0, weights=ending_weights("renaissance", 4))
    assert bias[0, 0, PITCH0 + 72] == 5.0 and 2.5 < bias[0, 0, PITCH0 + 79] < 5.0  # C, and G above a C tonic
    assert bias[0, 3, PITCH0 + 36] == 5.0
    held = hold_bias(torch.tensor([79, 74]), torch.tensor([0, 0]), strength=4.0, weights=top)
    assert 0 < held[0] < 2 and held[1] == -2.0  # holding the fifth is fine, the second is not


def test_strong_guidance_puts_every_take_in_the_key_and_ends_it_on_the_tonic(sampler):
    from musewidgets.analysis.metrics import tonic_ending
    from musewidgets.keys import estimate_key
    from musewidgets.sampling.guidance import Guidance, plan_ending

    strong = Guidance(cadence=10, pitch=0)  # the key and cadence priors alone, the cadence ten times as strong
    # strict: an untrained model crosses its voices, and then the top note of the last chord is not the soprano's
    takes = sampler.generate(style="chorale", bars=2, n=4, seed=3, key="E minor", strict=True, guide=strong)
    assert [estimate_key(t.replace(key=None)) for t in takes] == ["E minor"] * 4
    assert [tonic_ending(t) for t in takes] == [1.0] * 4  # a key asked for closes on its tonic
    # without one, each take ends on a final drawn from Bach's endings (for this seed: the tonic, four times)
    drawn = plan_ending("chorale", 4, 4, 3)[3].argmax(1)
    assert drawn.tolist() == [0] * 4
    free = sampler.generate(style="chorale", bars=2, n=4, seed=3, strict=True, guide=strong)  # the take's tonic
    assert [tonic_ending(t, estimate_key(t.slice_bars(0, 1))) for t in free] == [1.0] * 4
    alone = sampler.generate(style="chorale", bars=2, n=4, seed=3, key="E minor", strict=True, guide=False)
    assert [t.parts for t in alone] != [t.parts for t in takes]


def test_guidance_changes_nothing_without_a_key_or_an_ending(sampler):
    a = sampler.generate(style="folk", bars=2, n=2, seed=1, ending=False, guide="key=0")  # no key told either
    b = sampler.generate(style="folk", bars=2, n=2, seed=1, ending=False, guide=False)
    assert [t.parts for t in a] == [t.parts for t in b]


def test_a_held_final_is_planned_as_often_as_the_style_s_pieces_end_so():
    from musewidgets.sampling import guidance

    shares = guidance.held_final_shares()
    assert shares["renaissance"] > 0.3 and max(shares["chorale"], shares["irish"]) < 0.02  # Palestrina's longas
    planned = guidance.plan_held_final("renaissance", 4000, seed=0)
    assert abs(planned.float().mean().item() - shares["renaissance"]) < 0.03
    assert torch.equal(planned, guidance.plan_held_final("renaissance", 4000, seed=0))  # seeded
    assert not guidance.plan_held_final("renaissance", 8, seed=0, greedy=True).any()  # most of his pieces do not
    assert not guidance.plan_held_final("my-own-style", 8, seed=0).any()


def test_held_final_logits_attack_a_note_then_only_hold_it():
    from musewidgets.codecs.tokens import HOLD, PITCH0, REST
    from musewidgets.sampling.guidance import held_final

    logits = torch.zeros(3, 10)
    logits[2, HOLD] = -math.inf  # this voice cannot hold: no choice is left to force
    held = torch.tensor([True, False, True])
    bias = torch.zeros(3, 10)
    bias[:, PITCH0 + 1] = 5.0
    attack = held_final(logits, held, torch.tensor([-1, -1, -1]), attack=True, bias=bias)
    assert attack[0, HOLD] == attack[0, REST] == -math.inf and attack[0, PITCH0 + 1] == 5.0
    assert torch.equal(attack[1], logits[1])  # a candidate without the plan is left alone
    after = held_final(logits, held, torch.tensor([60, 60, 60]), attack=False)
    assert torch.isfinite(after[0]).nonzero().flatten().tolist() == [HOLD]
    assert torch.equal(after[1], logits[1]) and torch.equal(after[2], logits[2])  # nothing possible: unchanged
    silent = held_final(logits, held, torch.tensor([-1, -1, -1]), attack=False)
    assert torch.isfinite(silent[0]).nonzero().flatten().tolist() == [REST]


def test_held_finals_attack_on_the_second_to_last_bar_line_and_leave_the_other_takes_alone(sampler):
    from musewidgets.sampling import guidance

    often = 100.0  # a third of chorale takes hold their final (0.35 % of Bach's chorales do)
    held = guidance.plan_held_final("chorale", 6, seed=3, strength=often)
    assert 0 < held.sum() < 6
    takes = sampler.generate(style="chorale", bars=4, n=6, seed=3, guide=guidance.Guidance(held_final=often))
    plain = sampler.generate(style="chorale", bars=4, n=6, seed=3, guide="held_final=0")
    for take, other, is_held in zip(takes, plain, held.tolist()):
        spb = take.steps_per_bar
        starts = [[n.start for n in part.notes] for part in take.parts]
        if is_held:
            assert all(2 * spb in s and max(s) == 2 * spb for s in starts)  # every voice attacks, then holds
            assert all(part.notes[-1].end == 4 * spb for part in take.parts)
        else:
            assert take.parts == other.parts  # the plan's draws do not touch the others
    short = sampler.generate(style="chorale", bars=3, n=6, seed=4)  # under 4 bars: no held final
    again = sampler.generate(style="chorale", bars=3, n=6, seed=4, guide=guidance.Guidance(held_final=often))
    assert [t.parts for t in again] == [t.parts for t in short]
