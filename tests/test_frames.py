"""Frame datasets, frame models (normalization, sampling), their training, and the JSB benchmark command."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from scipy import io as sio

from musewidgets import cli, models
from musewidgets.codecs import FrameCodec, codec_from_dict
from musewidgets.datasets.frames import load_frame_dataset, pad_frames, shift_range, window_batches
from musewidgets.errors import MusicFileError
from musewidgets.evaluation import bench
from musewidgets.training import TrainConfig
from musewidgets.training.frames import FrameTrainer, evaluate_frames

SMALL = {"n_keys": 4, "d_input": 8, "hidden": 8, "layers": 1, "max_shift": 1}
SMALL_NOTEWISE = {**SMALL, "d_note": 4, "note_hidden": 8, "local": 2, "local_frames": 3, "local_channels": 4}
ALL_FRAMES = torch.tensor(list(itertools.product([0, 1], repeat=4)), dtype=torch.float32)  # the 16 frames of 4 keys


def _cells(pieces):
    cells = np.empty((1, len(pieces)), dtype=object)
    for i, p in enumerate(pieces):
        cells[0, i] = p
    return cells


def _pieces(rng, n, keys=88, lo=40, hi=70):
    """Random 'chorales': 4 notes per frame between keys lo and hi, held for 1-3 frames."""
    out = []
    for _ in range(n):
        T = int(rng.integers(8, 20))
        frames = np.zeros((T, keys), dtype=np.uint8)
        for t in range(0, T):
            if t % 2 == 0:
                chord = rng.choice(np.arange(lo, hi), 4, replace=False)
            frames[t, chord] = 1
        out.append(frames)
    return out


@pytest.fixture
def mat_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "Tiny.mat"
    sio.savemat(
        path,
        {
            "traindata": _cells(_pieces(rng, 12)),
            "validdata": _cells(_pieces(rng, 4)),
            "testdata": _cells(_pieces(rng, 4)),
        },
    )
    return path


TINY = {
    "hidden": 16,
    "d_input": 16,
    "d_note": 8,
    "note_hidden": 16,
    "layers": 1,
    "local": 4,
    "local_frames": 2,
    "local_channels": 4,
}


def _long_piece(rng, T, keys=88):
    """A 'chorale' of T frames: a new 4-note chord every 1-3 frames between keys 30 and 70."""
    frames = np.zeros((T, keys), dtype=np.uint8)
    chord = rng.choice(np.arange(30, 70), 4, replace=False)
    for t in range(T):
        if rng.random() < 0.5:
            chord = rng.choice(np.arange(30, 70), 4, replace=False)
        frames[t, chord] = 1
    return frames


def _small(family):
    torch.manual_seed(0)  # test-local: weights only
    m = models.build(family, SMALL_NOTEWISE if family == "frame_notewise" else SMALL)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 1)
    return m.eval()


# ----------------------------------------------------------------------------- data


def test_load_frame_dataset_reads_the_three_splits(mat_file):
    data = load_frame_dataset(mat_file)
    assert data.name == "Tiny" and data.n_keys == 88 and data.low_pitch == 21
    assert [len(data.splits[s]) for s in ("train", "valid", "test")] == [12, 4, 4]
    assert all(p.dtype == np.uint8 and p.shape[1] == 88 for p in data.splits["train"])
    assert data.n_frames("test") == sum(len(p) for p in data.splits["test"])
    assert "train 12 pieces" in data.summary()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such dataset file"),
        (b"not a matlab file at all", "not a readable MATLAB"),
        ({"traindata": "x"}, "no 'validdata' array"),
        ("values", "values other than 0 and 1"),
        ("keys", "has 80 keys, the others 88"),
        ("empty", "has shape"),
    ],
)
def test_load_frame_dataset_names_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.mat"
    good = [np.zeros((3, 88), dtype=np.uint8)]
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        sio.savemat(path, content)
    elif content is not None:
        bad = {
            "values": [np.full((3, 88), 2, dtype=np.uint8)],
            "keys": [np.zeros((3, 88), dtype=np.uint8), np.zeros((3, 80), dtype=np.uint8)],
            "empty": [np.zeros((0, 88), dtype=np.uint8)],
        }[content]
        sio.savemat(path, {"traindata": _cells(good), "validdata": _cells(good), "testdata": _cells(bad)})
    with pytest.raises(MusicFileError, match=message):
        load_frame_dataset(path)


def test_shift_range_keeps_notes_on_the_keyboard_and_pad_frames_transposes():
    frames = np.zeros((2, 8), dtype=np.uint8)
    frames[0, 1] = frames[1, 6] = 1
    assert shift_range(frames, 5) == (-1, 1)
    assert shift_range(np.zeros((2, 8), dtype=np.uint8), 5) == (0, 0)
    x, mask = pad_frames([frames, frames[:1]], [1, -1])
    assert x.shape == (2, 2, 8) and mask.tolist() == [[True, True], [True, False]]
    assert np.flatnonzero(x[0, 0]).tolist() == [2] and np.flatnonzero(x[0, 1]).tolist() == [7]
    assert np.flatnonzero(x[1, 0]).tolist() == [0] and not x[1, 1].any()


def test_window_batches_cover_every_frame_once_in_batches_of_bounded_size():
    lengths = [int(n) for n in np.random.default_rng(0).integers(5, 700, 300)]
    rng = np.random.default_rng(1)
    batches = window_batches(lengths, rng, batch_frames=1024, window=256, max_windows=20)
    seen = [np.zeros(n, dtype=int) for n in lengths]
    for batch in batches:
        longest = max(b - a for _, a, b in batch)
        assert len(batch) * longest <= 1024 and len(batch) <= 20 and longest <= 256
        for i, a, b in batch:
            seen[i][a:b] += 1
    assert all((s == 1).all() for s in seen)
    padded = [len(b) * max(e - a for _, a, e in b) for b in batches]
    assert sum(lengths) / sum(padded) > 0.85  # similar lengths share a batch: little padding
    again = window_batches(lengths, np.random.default_rng(1), batch_frames=1024, window=256, max_windows=20)
    assert again == batches  # seeded
    assert window_batches(lengths, rng, batch_frames=1024, window=256, max_windows=20) != batches  # a new epoch


def test_frame_codec_round_trips_frames_and_reads_pieces(piece):
    codec = FrameCodec()
    rng = np.random.default_rng(1)
    frames = (rng.random((12, 88)) < 0.05).astype(np.uint8)
    assert np.array_equal(codec.encode(codec.decode(frames, tempo=90.0)), frames)
    encoded = codec.encode(piece)
    assert encoded.shape == (piece.bar_start(piece.n_bars) // 4, 88)
    first = {n.pitch - 21 for part in piece.parts for n in part.notes if n.start <= 0 < n.end}
    assert set(np.flatnonzero(encoded[0])) == first
    assert codec_from_dict(json.loads(json.dumps(codec.to_dict()))) == codec


# ----------------------------------------------------------------------------- models


@pytest.mark.parametrize("family", ["frame_bernoulli", "frame_notewise"])
def test_frame_models_are_normalized_over_every_possible_frame(family):
    model = _small(family)
    history = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 1.0]])
    with torch.no_grad():
        first = model.log_prob(ALL_FRAMES[:, None])[:, 0]  # (16,): the first frame, from nothing
        later = model.log_prob(torch.cat([history.expand(16, 2, 4), ALL_FRAMES[:, None]], dim=1))[:, 2]
    assert first.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    assert later.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (later.exp() > 0).all()


@pytest.mark.parametrize("family", ["frame_bernoulli", "frame_notewise"])
def test_transposition_mixture_means_the_readings_and_never_sums_above_one(family):
    model = _small(family)  # max_shift 1: readings one key down, as written, one key up
    history = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0.0]])
    pieces = torch.cat([history.expand(16, 2, 4), ALL_FRAMES[:, None]], dim=1)  # (16, 3, 4): every third frame
    with torch.no_grad():
        mixed = model.mixture_log_prob(pieces, shifts=1)[:, 2].exp()
        readings = []
        for k in (-1, 0, 1):
            moved = torch.zeros_like(pieces)  # every note k keys up; those that leave the keyboard are dropped
            moved[..., max(k, 0) : 4 + min(k, 0)] = pieces[..., max(-k, 0) : 4 - max(k, 0)]
            p = model.log_prob(moved, torch.full((16,), k))[:, 2].exp()
            fits = (moved.sum(-1) == pieces.sum(-1))[:, 2]  # the third frame keeps its notes on the keyboard
            readings.append(torch.where(fits, p, 0.0))
        assert torch.allclose(mixed, torch.stack(readings).mean(0), atol=1e-6)
        assert 1 / 3 < mixed.sum().item() <= 1.0 + 1e-6  # the reading as written alone gives a third
        assert torch.equal(model.mixture_log_prob(pieces, shifts=0), model.log_prob(pieces))
        for bad in (2, -1, True, 1.0):
            with pytest.raises(ValueError, match="shifts"):
                model.mixture_log_prob(pieces, shifts=bad)


def test_notewise_model_links_keys_that_the_bernoulli_model_cannot():
    """p(frame) of the notewise model does not factorise over keys: its joint differs from the product of marginals."""
    model = _small("frame_notewise")
    with torch.no_grad():
        p = model.log_prob(ALL_FRAMES[:, None])[:, 0].exp()
    marginals = (p[:, None] * ALL_FRAMES).sum(0)  # (4,) p(key k sounds)
    independent = torch.where(ALL_FRAMES > 0, marginals, 1 - marginals).prod(dim=1)
    assert (p - independent).abs().max() > 0.01


def test_sampling_follows_the_model_and_is_seeded():
    model = _small("frame_notewise")
    history = np.array([[1, 0, 1, 0], [0, 1, 1, 1]], dtype=np.uint8)
    with torch.no_grad():
        probs = (
            model.log_prob(
                torch.cat([torch.tensor(history, dtype=torch.float32).expand(16, 2, 4), ALL_FRAMES[:, None]], dim=1)
            )[:, 2]
            .exp()
            .numpy()
        )
    state = torch.get_rng_state()
    g = torch.Generator().manual_seed(3)
    draws = [tuple(model.sample(1, generator=g, primer=history)[0]) for _ in range(1500)]
    counts = np.array([draws.count(tuple(int(v) for v in f)) for f in ALL_FRAMES.tolist()]) / len(draws)
    assert np.abs(counts - probs).max() < 0.04
    a = model.sample(6, generator=torch.Generator().manual_seed(5))
    b = model.sample(6, generator=torch.Generator().manual_seed(5))
    assert a.shape == (6, 4) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, generator=g, temperature=0)
    with pytest.raises(ValueError, match="primer"):
        model.sample(2, generator=g, primer=np.zeros((3, 88), dtype=np.uint8))


def test_evaluate_frames_is_the_mean_over_every_frame(mat_file):
    data = load_frame_dataset(mat_file)
    model = models.build("frame_notewise", {"hidden": 16, "d_input": 16, "d_note": 8, "note_hidden": 16}).eval()
    pieces = data.splits["valid"]
    with torch.no_grad():
        per_piece = [-model.log_prob(torch.tensor(p, dtype=torch.float32)[None])[0] for p in pieces]
    expected = float(torch.cat(per_piece).double().mean())
    assert evaluate_frames(model, pieces, batch_size=3) == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------------- training and the command


def test_frame_trainer_learns_and_leaves_the_global_random_state(mat_file, tmp_path):
    data = load_frame_dataset(mat_file)
    config = TrainConfig(
        family="frame_notewise",
        styles=(),
        minutes=5,
        max_steps=60,
        eval_every=30,
        batch_size=4,
        model={"hidden": 32, "d_input": 32, "d_note": 16, "note_hidden": 32, "layers": 1},
    )
    trainer = FrameTrainer(config, data, tmp_path, name="tiny")
    seen = []
    trainer.add_callback("validation", lambda e: seen.append(e["mean"]))
    state = torch.get_rng_state()
    result = trainer.fit()
    assert torch.equal(torch.get_rng_state(), state)
    assert result["steps"] == 60 and (tmp_path / "tiny.pt").exists()
    assert len(seen) == 2 and seen[1] < seen[0]
    untrained = models.build("frame_notewise", config.model)
    from musewidgets.checkpoints import load_checkpoint

    ck = load_checkpoint(tmp_path / "tiny.pt")
    assert ck.meta["dataset"]["train"] == [12, data.n_frames("train")]
    assert evaluate_frames(ck.model, data.splits["valid"]) < evaluate_frames(untrained, data.splits["valid"])


def test_bench_command_trains_evaluates_and_writes_cards(mat_file, tmp_path, capsys):
    out = tmp_path / "models"
    args = ["bench", "jsb", "--data", str(mat_file), "--train", "--minutes", "0.03", "--threads", "1", "-q"]
    assert cli.main([*args, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(bench.MODELS)
    for line in lines:
        name, t, test_nll, v, valid_nll = line.split()
        assert (t, v) == ("test_nll", "valid_nll") and 0 < float(test_nll) < 100 and 0 < float(valid_nll) < 100
    assert "bernoulli" in lines[0]
    card = json.loads((out / "lstm_notewise.json").read_text())
    assert card["test_nll"] == pytest.approx(float(lines[1].split()[2]), abs=1e-3)
    assert card["threads"] == 1
    assert card["weights"] == "float16"  # the finished checkpoints are stored at half the bytes
    stored = torch.load(out / "lstm_notewise.pt", weights_only=True)["state_dict"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert "RNN-NADE" not in (out / "lstm_notewise.md").read_text()  # published figures are for JSB only
    assert not list(out.glob("*.last.pt"))
    assert cli.main(["bench", "jsb", "--data", str(mat_file), "--models", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines() == lines


def test_bench_training_refuses_a_bad_thread_count(mat_file, tmp_path):
    data = load_frame_dataset(mat_file)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            bench.train(data, tmp_path / "out", threads=bad)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_frame_models_train_on_long_dense_pieces_in_windows(tmp_path):
    """Piano-midi.de-like data: pieces longer than the training window, a dozen notes in a frame, 60 keys."""
    rng = np.random.default_rng(2)
    pieces = [(rng.random((int(rng.integers(50, 90)), 60)) < 0.2).astype(np.uint8) for _ in range(6)]
    sio.savemat(tmp_path / "Dense.mat", {k: _cells(pieces) for k in ("traindata", "validdata", "testdata")})
    data = load_frame_dataset(tmp_path / "Dense.mat")
    assert max(int(p.sum(1).max()) for p in pieces) >= 12
    for family in ("frame_bernoulli", "frame_notewise"):
        config = TrainConfig(family=family, styles=(), max_steps=3, eval_every=3, seq_len=32, batch_size=2)
        result = FrameTrainer(config, data, tmp_path, name=family).fit()
        assert result["steps"] == 3 and 0 < result["best"] < 60 * np.log(2) * 2


def test_training_runs_fixed_steps_whose_cost_does_not_grow_with_the_dataset(tmp_path):
    """A dataset in the JSB format five times its size, with long pieces: the same steps, the same frames per step."""
    rng = np.random.default_rng(3)
    small = [_long_piece(rng, int(n)) for n in rng.integers(25, 130, 60)]  # JSB-like lengths
    big = [_long_piece(rng, int(n)) for n in rng.integers(100, 500, 230)]  # 230 pieces, about 5 x JSB's frames
    held_out = {k: _cells(small[:3]) for k in ("validdata", "testdata")}
    sio.savemat(tmp_path / "Small.mat", {"traindata": _cells(small), **held_out})
    sio.savemat(tmp_path / "Big.mat", {"traindata": _cells(big), **held_out})
    per_step = {}
    for name in ("Small", "Big"):
        data = load_frame_dataset(tmp_path / f"{name}.mat")
        config = TrainConfig(
            family="frame_notewise", styles=(), minutes=math.inf, max_steps=8, eval_every=100, model=TINY
        )
        trainer = FrameTrainer(config, data, tmp_path, name=name, batch_frames=512)
        steps = []
        trainer.add_callback("batch_end", lambda e, steps=steps: steps.append((e["step"], e["frames"], e["padded"])))
        result = trainer.fit()
        assert result["steps"] == 8 and [s for s, _, _ in steps] == list(range(1, 9))
        assert trainer.frames_seen == sum(f for _, f, _ in steps) > 0
        assert all(p <= 512 for _, _, p in steps)  # padding included: a batch never exceeds its frames
        per_step[name] = np.mean([f for _, f, _ in steps])
    assert data.n_frames("train") > 4 * 13807  # JSB Chorales' training frames
    assert 0.75 < per_step["Big"] / per_step["Small"] < 1.35  # a step sees (and costs) about the same on both


def test_the_same_seed_and_steps_give_the_same_checkpoint(mat_file, tmp_path):
    data = load_frame_dataset(mat_file)
    weights = []
    for run in ("a", "b"):
        config = TrainConfig(
            family="frame_notewise", styles=(), minutes=math.inf, max_steps=5, eval_every=5, model={**TINY, "chord": 6}
        )
        FrameTrainer(config, data, tmp_path / run, name="tiny").fit()
        weights.append(torch.load(tmp_path / run / "tiny.pt", weights_only=False)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_bench_train_counts_steps_and_frames(mat_file, tmp_path):
    data = load_frame_dataset(mat_file)
    [summary] = bench.train(data, tmp_path, names=["lstm_bernoulli"], steps=3, progress=False)
    assert summary["steps"] == 3 and summary["reason"] == "step cap" and summary["frames"] > 0
    assert summary["threads"] >= 1 and summary["frames_per_s"] > 0
    card = json.loads((tmp_path / "lstm_bernoulli.json").read_text())
    assert card["steps"] == 3 and card["frames"] == summary["frames"] and card["threads"] == summary["threads"]
    assert "frames/s" in (tmp_path / "lstm_bernoulli.md").read_text()
    with pytest.raises(ValueError, match="not both"):
        bench.train(data, tmp_path, steps=3, minutes=1.0)


def test_bench_command_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["bench", "jsb", "--data", str(tmp_path / "missing.mat")]) == 1
    assert "no such dataset file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    sio.savemat(
        tmp_path / "d.mat", {k: _cells([np.zeros((3, 88), np.uint8)]) for k in ("traindata", "validdata", "testdata")}
    )
    assert cli.main(["bench", "jsb", "--data", str(tmp_path / "d.mat"), "--models", str(tmp_path / "empty")]) == 1
    assert "no benchmark checkpoints" in capsys.readouterr().err
    for shifts in ("9", "-1"):  # the shipped models were told shifts of -6..6
        assert cli.main(["bench", "jsb", "--data", str(tmp_path / "d.mat"), "--shifts", shifts]) == 1
        assert "`shifts` must be a whole number in 0..6" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the shipped benchmark models

JSB = bench.find_jsb()


@pytest.mark.skipif(JSB is None, reason="JSB_Chorales.mat is not beside the project")
def test_shipped_benchmark_models_meet_the_goals_and_match_their_cards():
    data = load_frame_dataset(JSB)
    rows = {r["name"]: r for r in bench.evaluate(data)}
    mixed = {r["name"]: r for r in bench.evaluate(data, shifts=bench.MIXTURE_SHIFTS)}
    assert set(rows) == set(bench.MODELS)
    assert rows["lstm_bernoulli"]["test_nll"] <= 8.5
    assert rows["lstm_notewise"]["test_nll"] <= 4.8  # one reading; RNN-NADE 5.56
    assert mixed["lstm_notewise"]["test_nll"] <= 4.7  # mixed over 7 transpositions
    for name, row in rows.items():
        card = json.loads((bench.BENCH_DIR / f"{name}.json").read_text())
        assert card["test_nll"] == pytest.approx(row["test_nll"], abs=1e-3)
        assert card["valid_nll"] == pytest.approx(row["valid_nll"], abs=1e-3)
        assert card["test_nll_mixture"] == pytest.approx(mixed[name]["test_nll"], abs=1e-3)
        assert card["valid_nll_mixture"] == pytest.approx(mixed[name]["valid_nll"], abs=1e-3)
        assert mixed[name]["valid_nll"] < row["valid_nll"]
        assert card["train_seconds"] <= 30 * 60


def test_the_sweep_scores_each_run_and_every_pair_mixed_half_and_half(mat_file, tmp_path):
    from benchmarks.jsb_sweep import score

    data = load_frame_dataset(mat_file)
    model = {"hidden": 16, "d_input": 16, "d_note": 8, "note_hidden": 16, "layers": 1, "local": 2, "local_frames": 2}
    for seed in (0, 1):
        config = TrainConfig(family="frame_notewise", styles=(), max_steps=3, eval_every=3, seed=seed, model=model)
        FrameTrainer(config, data, tmp_path / "runs", name=f"run{seed}").fit()
    result = score(tmp_path / "runs", data)
    runs = {r["name"]: r for r in result["runs"]}
    assert set(runs) == {"run0", "run1"}
    from musewidgets.checkpoints import load_checkpoint

    for name, row in runs.items():
        expected = evaluate_frames(load_checkpoint(tmp_path / "runs" / f"{name}.pt").model, data.splits["valid"])
        assert row["valid"] == pytest.approx(expected, abs=1e-3)
    [(pair, mixed)] = result["pairs"]
    assert pair == "run0 + run1"
    mean = (runs["run0"]["valid"] + runs["run1"]["valid"]) / 2
    assert mixed <= mean + 1e-3  # never worse than the two runs' mean: log is concave
