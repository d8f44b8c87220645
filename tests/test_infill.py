"""The infill family and Gibbs sampling: training (and resuming exactly), masks kept, seeds replayed, harmonize,
regenerate, the command line and the shipped checkpoint."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from musewidgets import io
from musewidgets.checkpoints import SHIPPED_DIR, load_checkpoint
from musewidgets.codecs import TokenCodec
from musewidgets.codecs.tokens import HOLD, PITCH0, REST
from musewidgets.datasets import corpus
from musewidgets.errors import CheckpointError, UnknownStyleError
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling.guidance.cadence import infill_cadence
from musewidgets.sampling.guidance.parallels import hold_cost, parallel_cost
from musewidgets.sampling.infill import (
    TranspositionWarning,
    _sounding,
    bar_mask,
    fill,
    grid_steps,
    harmonize,
    iter_fill,
    regenerate,
)
from musewidgets.training import Trainer
from musewidgets.training.infill import InfillData, random_mask

from .conftest import tiny_config
from .test_resume import _assert_same_checkpoints, _copy_folder_at, _record

TINY = {"d_model": 32, "layers": 1, "heads": 2, "d_cell": 16, "context": 32}  # 32 steps: 8 bars need windows
CODEC = TokenCodec()


def _config(**changes):
    base = dict(
        family="infill",
        styles=("chorale", "renaissance"),
        minutes=math.inf,  # stopped by steps only
        max_steps=10,
        eval_every=5,
        limit_pieces=6,
        batch_size=4,
        model=TINY,
    )
    return tiny_config(**(base | changes))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("infill")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(out / "cache"))
        return Path(Trainer(_config(), out).fit()["path"])


@pytest.fixture(scope="module")
def chorale() -> Piece:
    """The first 8 bars of a held-out chorale (a pickup, notes held across bar lines)."""
    pieces = corpus.load_style("chorale", progress=False).split("test")
    return next(p for p in pieces if p.pickup and p.n_bars >= 8).slice_bars(-1, 8)


def _grid(piece: Piece) -> np.ndarray:
    """(voices, steps) tokens."""
    return CODEC.encode(piece).tokens.reshape(-1, len(piece.parts)).T


def _sound(piece: Piece) -> np.ndarray:
    """(voices, steps) the pitch each voice sounds, -1 when silent."""
    return np.stack([_sounding(row) for row in _grid(piece)])


# ----------------------------------------------------------------------------- training


def test_masks_hide_at_least_one_cell_and_often_whole_lower_voices():
    rng = np.random.default_rng(0)
    masks = [random_mask(rng, 32, 4) for _ in range(400)]
    assert all(m.shape == (32, 4) and m.any() for m in masks)
    harmonizing = sum(bool((m[:, 1:].all()) and not m[:, 0].any()) for m in masks)
    assert 0.1 < harmonizing / len(masks) < 0.3  # 0.30 x 0.5 of the masks: every voice but the top one


def test_infill_trains_and_resumes_exactly(tmp_path):
    through = Trainer(_config(), tmp_path / "through")
    events = []
    _record(through, events)
    _copy_folder_at(through, 5, tmp_path / "resumed")
    result = through.fit()
    assert result["steps"] == 10 and result["reason"] == "step cap"
    resumed = Trainer(_config(), tmp_path / "resumed", resume=True)
    again = []
    _record(resumed, again)
    resumed.fit()
    assert again == [e for e in events if e["step"] > 5]  # the same losses and validations, step for step
    _assert_same_checkpoints(tmp_path / "through", tmp_path / "resumed", ["infill.pt", "infill.last.pt"])
    ck = load_checkpoint(tmp_path / "through" / "infill.pt")
    assert ck.family == "infill" and ck.model.config.context == 32 and set(ck.meta["valid_nll"]) == set(ck.styles)
    first = [e["loss"] for e in events if "loss" in e]
    assert all(math.isfinite(x) for x in first)


def test_init_starts_from_the_checkpoints_weights(tiny, tmp_path):
    result = Trainer(_config(init=str(tiny), max_steps=1, eval_every=1, lr=1e-12), tmp_path).fit()
    before, after = load_checkpoint(tiny), load_checkpoint(result["path"])
    assert after.meta["init_from"]["steps"] == 10  # the lineage names the run it started from
    for name, weight in before.model.state_dict().items():  # one step at a learning rate of nothing: the same weights
        assert torch.allclose(weight, after.model.state_dict()[name], atol=1e-6), name


def test_validation_windows_and_masks_are_fixed():
    corpora = {"chorale": corpus.load_style("chorale", progress=False)}
    data = InfillData(CODEC, corpora, "valid", limit=3)
    a, b = data.validation_set(32), InfillData(CODEC, corpora, "valid", limit=3).validation_set(32)
    assert len(a["chorale"]) > 3  # several windows per piece
    for x, y in zip(a["chorale"], b["chorale"]):
        assert np.array_equal(x["cells"], y["cells"]) and np.array_equal(x["hidden"], y["hidden"])


# ----------------------------------------------------------------------------- fill


def test_cells_outside_the_mask_never_change_and_keep_their_sound(tiny, chorale):
    rng = np.random.default_rng(3)
    mask = rng.random((4, grid_steps(chorale))) < 0.4  # random cells: notes cut across the mask everywhere
    result = fill(tiny, chorale, mask, style="chorale", seed=1, iterations=6)
    before, after = _grid(chorale), _grid(result)
    assert before.shape == after.shape
    assert np.array_equal(before[~mask], after[~mask])
    assert np.array_equal(_sound(chorale)[~mask], _sound(result)[~mask])
    assert not np.array_equal(before, after)


def test_the_result_is_a_valid_piece_with_pitches_in_range(tiny, chorale):
    mask = bar_mask(chorale, voices=(1, 2, 3))
    result = fill(tiny, chorale, mask, style="chorale", seed=4, iterations=4)
    assert CODEC.decode(CODEC.encode(result).tokens, CODEC.encode(result).header) == result.replace(style="chorale")
    ranges = load_checkpoint(tiny).styles["chorale"]["parts"]
    for part, (_, _, (low, high)) in zip(result.parts[1:], ranges[1:]):
        assert all(low <= n.pitch <= high for n in part.notes)
    grid = _grid(result)
    silent = np.concatenate([np.ones((4, 1), bool), grid[:, :-1] == REST], axis=1)
    assert not (silent & (grid == HOLD)).any()  # no HOLD after a rest or at the start


def test_same_seed_same_notes_other_seed_other_notes(tiny, chorale):
    mask = bar_mask(chorale, (1, 5), (1, 2, 3))
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = fill(tiny, chorale, mask, style="chorale", seed=7, iterations=5)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left alone
    b = fill(tiny, chorale, mask, style="chorale", seed=7, iterations=5)
    c = fill(tiny, chorale, mask, style="chorale", seed=8, iterations=5)
    assert a == b and a != c
    greedy = [fill(tiny, chorale, mask, style="chorale", temperature=0, iterations=0, seed=s) for s in (0, 99)]
    assert greedy[0] == greedy[1]  # the first draw at temperature 0 is the likeliest: no seed in it


def test_iter_fill_streams_and_ends_with_what_fill_returns(tiny, chorale):
    mask = bar_mask(chorale, (0, 2))
    takes = list(iter_fill(tiny, chorale, mask, style="chorale", seed=2, iterations=8, every=2))
    assert len(takes) == 5  # after the first draw and every 2 rounds
    assert takes[-1] == fill(tiny, chorale, mask, style="chorale", seed=2, iterations=8)


def test_parallel_fifths_cost_both_ways():
    # soprano G4 -> A4 while the bass moves C3 -> D3: a fifth (mod 12) into a fifth, from the event before
    state = np.array([[PITCH0 + 67, PITCH0 + 48], [PITCH0 + 69, PITCH0 + 50]])
    sounding = np.stack([_sounding(state[:, v]) for v in range(2)], axis=1)
    cost = parallel_cost(sounding, state >= PITCH0, 1, 0, 6.0)
    assert cost[69] == 6.0 and cost[81] == 6.0  # A4, A5: parallel fifths (a twelfth counts as a fifth)
    assert cost[62] == 0.0 and cost[71] == 0.0 and cost[67] == 0.0  # D4: contrary motion; B4: a sixth; G4: oblique
    # towards the event after: an octave C4/C3 at step 0 moving in parallel to D4/D3 at step 1
    state = np.array([[PITCH0 + 60, PITCH0 + 48], [PITCH0 + 62, PITCH0 + 50]])
    sounding = np.stack([_sounding(state[:, v]) for v in range(2)], axis=1)
    cost = parallel_cost(sounding, state >= PITCH0, 0, 0, 6.0)
    assert cost[60] == 6.0 and cost[64] == 0.0
    # out of a held note: F5/F3 held while the alto moves, then C5/C3: the bass's F3 makes the octaves
    grid = np.full((4, 3), HOLD)
    grid[0], grid[2] = [PITCH0 + 77, PITCH0 + 65, PITCH0 + 53], [PITCH0 + 72, PITCH0 + 67, PITCH0 + 48]
    grid[1, 1] = PITCH0 + 67  # the alto's passing note makes an event in between
    sounding = np.stack([_sounding(grid[:, v]) for v in range(3)], axis=1)
    cost = parallel_cost(sounding, grid >= PITCH0, 0, 2, 6.0)
    assert cost[53] == 6.0 and cost[57] == 0.0  # F3 (then C3 under C5) is an octave moving with the soprano


def test_holding_a_note_into_a_parallel_costs_too():
    # soprano F5 .. C5, bass F3 .. C3: holding the bass's F3 at step 1 makes octaves at step 3; a new note would not
    grid = np.array([[PITCH0 + 77, PITCH0 + 53], [HOLD, PITCH0 + 57], [HOLD, HOLD], [PITCH0 + 72, PITCH0 + 48]])
    sounding = np.stack([_sounding(grid[:, v]) for v in range(2)], axis=1)
    events = [0, 1, 3]
    assert hold_cost(sounding, grid >= PITCH0, 1, 1, 6.0, events) == 6.0
    assert hold_cost(sounding, grid >= PITCH0, 2, 1, 6.0, events) == 0.0  # A3 held on moves to C3 by a third


def test_the_cadence_prior_applies_under_a_final_note_of_the_tonic_chord():
    def prior(final: int, key=None, piece_key="C major"):
        notes = tuple(Note(p, 4 * i, 4) for i, p in enumerate([67, 65, 64, 62, final]))
        piece = Piece((Part("S", notes), Part("A", ()), Part("T", ()), Part("B", ())), key=piece_key, length=32)
        grid = _grid(piece).T
        free = np.zeros_like(grid, dtype=bool)
        free[:, 1:] = True
        return infill_cadence(piece, grid, free, key, "chorale")

    windows = prior(60)  # ends on the tonic
    bass = {(lo, hi): (pitch, hold) for lo, hi, v, pitch, hold in windows if v == 3 and lo <= 16}
    pitch, hold = bass[(16, 19)]  # under the final note: the tonic
    assert pitch[48] == pitch[36] > 0 == pitch[43]
    assert hold[0] > 0 > hold[7]  # holding the tonic is favoured, holding G is not
    approach, _ = bass[(12, 15)]  # the quarter before: Bach's basses come from the fifth
    assert approach[43] == approach[55] > 0 == approach[48]
    inner = [w for w in windows if w[2] in (1, 2) and w[0] == w[1] == 16]
    assert len(inner) == 2 and all(w[3][64] > 0 == w[3][62] for w in inner)  # E in the C major chord, D is not
    held = [w for w in windows if (w[0], w[1]) == (17, 19) and w[2] in (1, 2, 3)]  # no voice moves on under it
    assert len(held) == 3 and all((w[4] > 0).all() and not w[3].any() for w in held)
    assert prior(64) is not None  # the third: a tonic chord
    assert prior(62, key="C major") is None  # the second in C major, asked for: a half cadence, left alone
    assert prior(62) is not None  # a signature that does not fit: the key the notes fit best, with D in its chord


def test_a_long_piece_is_read_window_by_window(tiny):
    long = corpus.load_style("chorale", progress=False).split("test")[1]
    assert grid_steps(long) > 4 * 32
    mask = bar_mask(long, (1, long.n_bars - 1), (2,))
    result = fill(tiny, long, mask, style="chorale", seed=0, iterations=2)
    assert np.array_equal(_grid(long)[~mask], _grid(result)[~mask])


def test_bad_arguments_are_refused_by_name(tiny, chorale, tmp_path):
    with pytest.raises(ValueError, match="`mask`"):
        fill(tiny, chorale, np.ones((4, 3), bool), style="chorale")
    with pytest.raises(ValueError, match="`bars`"):
        regenerate(chorale, bars=(3, 2), model=tiny, style="chorale")
    with pytest.raises(ValueError, match="`voices`"):
        regenerate(chorale, bars=(0, 2), voices=(4,), model=tiny, style="chorale")
    with pytest.raises(ValueError, match="`temperature`"):
        fill(tiny, chorale, bar_mask(chorale), style="chorale", temperature=-1)
    with pytest.raises(UnknownStyleError, match="folk"):
        fill(tiny, chorale, bar_mask(chorale), style="folk")
    with pytest.raises(CheckpointError, match="infill"):
        fill(SHIPPED_DIR / "rnn.pt", chorale, bar_mask(chorale), style="chorale")


# ----------------------------------------------------------------------------- harmonize, regenerate


def test_harmonize_keeps_the_melody_note_for_note_and_writes_four_parts(tiny, chorale):
    melody = chorale.replace(parts=chorale.parts[:1])
    result = harmonize(melody, style="chorale", seed=3, model=tiny, iterations=4)
    assert len(result.parts) == 4 and all(p.notes for p in result.parts)
    assert result.parts[0].notes == melody.parts[0].notes
    assert (result.time_signature, result.pickup, result.tempo) == (melody.time_signature, melody.pickup, melody.tempo)
    assert result.n_bars == melody.n_bars and result.key is not None
    again = harmonize(chorale, style="chorale", seed=3, model=tiny, iterations=4)  # the top part of a piece
    assert again.parts[0].notes == melody.parts[0].notes


def test_a_melody_out_of_range_is_moved_by_octaves_and_said_so(tiny):
    notes = tuple(Note(p + 24, 4 * i, 4) for i, p in enumerate([67, 69, 71, 72, 74, 72, 71, 67]))
    melody = Piece((Part("Flute", notes),), key="G major")
    with pytest.warns(TranspositionWarning, match="down 24 semitones"):
        result = harmonize(melody, model=tiny, iterations=1)
    assert [n.pitch for n in result.parts[0].notes] == [n.pitch - 24 for n in notes]
    assert result.key == "G major"
    with pytest.raises(ValueError, match="no notes"):
        harmonize(Piece((Part("Flute", ()),), length=16), model=tiny)
    chord = Piece((Part("Piano", (Note(60, 0, 4), Note(64, 0, 4))),))
    with pytest.raises(ValueError, match="chords"):
        harmonize(chord, model=tiny)


def test_regenerate_changes_only_the_selection(tiny, chorale):
    mask = bar_mask(chorale, (2, 5), (1, 3))
    result = regenerate(chorale, bars=(2, 5), voices=(1, 3), model=tiny, seed=5, iterations=4, style="chorale")
    before, after = _grid(chorale), _grid(result)
    assert np.array_equal(before[~mask], after[~mask])
    assert not np.array_equal(before[mask], after[mask])
    assert result.parts[0] == chorale.parts[0] and result.parts[2] == chorale.parts[2]


# ----------------------------------------------------------------------------- command line


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "musewidgets", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_cli_harmonizes_a_melody_file(tiny, tmp_path):
    (tmp_path / "tune.abc").write_text("X:1\nT:t\nM:3/4\nL:1/4\nK:D\nA | d2 e | f2 e | d3 |]\n")
    out = tmp_path / "out.musicxml"
    result = _run(
        "harmonize",
        "tune.abc",
        "--checkpoint",
        tiny,
        "--seed",
        3,
        "--iterations",
        4,
        "-o",
        out,
        "-o",
        tmp_path / "out.mid",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("wrote") == 2
    piece = io.read(out)
    assert len(piece.parts) == 4 and piece.time_signature == (3, 4)
    assert [n.pitch for n in piece.parts[0].notes] == [69, 74, 76, 78, 76, 74]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.abc"], "missing.abc: cannot open the file"),
        (["tune.abc", "--style", "folk"], "unknown style 'folk'"),
        (["tune.abc", "--temperature", "11"], "`temperature` must be 0 (the likeliest token) or from 0.01 to 10"),
        (["tune.abc", "--temperature", "1e-320"], "`temperature` must be 0 (the likeliest token) or from 0.01 to 10"),
        (["empty.abc"], "empty.abc"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(tiny, tmp_path, args, message):
    (tmp_path / "tune.abc").write_text("X:1\nT:t\nM:4/4\nL:1/4\nK:C\nc d e f | g4 |]\n")
    (tmp_path / "empty.abc").write_text("")
    result = _run("harmonize", *args, "--checkpoint", tiny, "-o", "x.mid", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.mid").exists()


def test_cli_trains_the_family_and_its_card(tmp_path):
    result = _run(
        "train", "--model", "infill", "--style", "chorale", "--max-steps", 2, "--eval-every", 2, "--limit-pieces", 3,
        "--batch-size", 2, "--seed", 1, "--out", tmp_path / "run", "--set", "d_model=16", "--set", "d_cell=8",
        "--set", "layers=1", "--set", "heads=2", "--no-cards", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(tmp_path / "run" / "infill.pt").meta["train_config"]["family"] == "infill"
    from musewidgets.evaluation.cards import write_cards

    card = write_cards(tmp_path / "run", limit_pieces=2)["infill"]
    assert set(card["validation"]["nll"]) == {"valid", "test"} and card["nll_per_token"] is None
    assert "NLL per hidden cell" in (tmp_path / "run" / "infill.md").read_text()


# ----------------------------------------------------------------------------- the shipped model

SHIPPED = SHIPPED_DIR / "infill.pt"
needs_shipped = pytest.mark.skipif(not SHIPPED.exists(), reason="the infill checkpoint is not shipped yet")


@needs_shipped
def test_the_shipped_checkpoint_loads_safely_and_fits_the_budget():
    data = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    assert data["family"] == "infill" and "optimizer" not in data
    assert SHIPPED.stat().st_size <= 5 * 2**20
    ck = load_checkpoint(SHIPPED)
    assert {"chorale", "renaissance", "folk", "irish"} <= set(ck.styles)
    assert ck.meta["command"].startswith("musewidgets train --model infill")
    assert SHIPPED.with_suffix(".md").exists() and SHIPPED.with_suffix(".json").exists()


@needs_shipped
def test_the_shipped_model_harmonizes_a_held_out_soprano(chorale, tmp_path):
    from musewidgets.analysis.voice_leading import voice_leading

    melody = chorale.replace(parts=chorale.parts[:1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = harmonize(melody, seed=0)
    assert not [w for w in caught if w.category is TranspositionWarning]  # in range: nothing to say
    assert result.parts[0].notes == melody.parts[0].notes
    assert voice_leading(result)["parallels_per_8_bars"] <= 2.0
    copy = tmp_path / "infill.pt"
    shutil.copy(SHIPPED, copy)
    assert harmonize(melody, seed=0, model=copy) == result  # a path replays the same notes


@needs_shipped
def test_the_shipped_model_regenerates_bars_of_a_folk_tune():
    tune = next(p for p in corpus.load_style("folk", progress=False).split("test") if p.n_bars >= 8).slice_bars(0, 8)
    again = regenerate(tune, bars=(2, 4), seed=1, iterations=8)
    mask = bar_mask(tune, (2, 4))
    assert np.array_equal(_grid(tune)[~mask], _grid(again)[~mask])  # only bars 2-3 may change
    assert again.n_bars == tune.n_bars and again.parts[0].is_monophonic
    assert again.parts[0].notes != tune.parts[0].notes  # and they do (a seed other than the tune's own)
