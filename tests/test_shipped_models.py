"""The checkpoints that ship in the package: loadable, generate every style, and their cards hold up."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from musewidgets import io
from musewidgets.checkpoints import SHIPPED_DIR, load_checkpoint, shipped
from musewidgets.sampling import load_sampler

VOICES = {"chorale": 4, "renaissance": 4, "folk": 1, "irish": 1}
FAMILIES = ["rnn", "lstm", "transformer", "gan"]  # the generators
SHIPPED = [*FAMILIES, "infill"]  # and the model that fills in (tests/test_infill.py)


def test_every_family_ships_within_the_size_budget():
    assert sorted(shipped()) == sorted(SHIPPED)
    total = sum(p.stat().st_size for p in SHIPPED_DIR.glob("*.pt"))
    assert total <= 30 * 2**20
    for name in SHIPPED:
        assert (SHIPPED_DIR / f"{name}.md").exists() and (SHIPPED_DIR / f"{name}.json").exists()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_generates_every_style_with_the_right_voices(family):
    sampler = load_sampler(family)
    assert sorted(sampler.styles) == sorted(VOICES)
    for style, voices in VOICES.items():
        [piece] = sampler.generate(style=style, bars=2, temperature=0.9, seed=5)
        assert len(piece.parts) == voices
        assert piece.n_bars == 2 and piece.n_notes > 0
        for part, (_, _, (low, high)) in zip(piece.parts, sampler.checkpoint.styles[style]["parts"]):
            assert all(low <= n.pitch <= high for n in part.notes)


def test_cards_show_lstm_and_transformer_beating_rnn_and_ngrams_on_every_test_style():
    card = json.loads((SHIPPED_DIR / "lstm.json").read_text())
    table = card["comparison"]
    for style in VOICES:
        for better in ("lstm", "transformer"):
            for worse in ("rnn", "bigram", "unigram"):
                assert table[better]["test"][style] < table[worse]["test"][style], (better, worse, style)


def test_cards_record_data_command_time_and_machine():
    for family in SHIPPED:
        card = json.loads((SHIPPED_DIR / f"{family}.json").read_text())
        assert card["command"].startswith("musewidgets train --model " + family)
        assert card["train_seconds"] > 0 and card["machine"] and card["parameters"] > 0
        assert load_checkpoint(SHIPPED_DIR / f"{family}.pt").meta["train_config"]["family"] == family


def test_models_command_lists_every_shipped_checkpoint():
    out = subprocess.run([sys.executable, "-m", "musewidgets", "models"], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(SHIPPED)
    assert "chorale=" in next(line for line in lines if line.startswith("lstm"))
    assert "no likelihood" in next(line for line in lines if line.startswith("gan"))
    assert "no likelihood" in next(line for line in lines if line.startswith("infill"))


def test_generate_refuses_the_infill_model_in_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "musewidgets", "generate", "--model", "infill", "--style", "chorale", "-o", "x.mid"],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "harmonize" in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("family", "style", "parts"), [("lstm", "renaissance", 4), ("gan", "folk", 1)])
def test_generate_command_with_shipped_models(tmp_path, family, style, parts):
    import mido

    mid, xml = tmp_path / "take.mid", tmp_path / "take.musicxml"
    cmd = [
        sys.executable,
        "-m",
        "musewidgets",
        "generate",
        "--model",
        family,
        "--style",
        style,
        "--bars",
        "2",
        "--seed",
        "3",
        "-o",
        str(mid),
        "-o",
        str(xml),
    ]
    subprocess.run(cmd, check=True, capture_output=True, cwd=Path(__file__).parents[1])
    assert len(io.read(xml).parts) == parts  # a voice that rests throughout is still a part
    assert len([t for t in mido.MidiFile(mid).tracks if t.name]) == parts


@pytest.mark.parametrize("family", ["rnn", "lstm", "transformer"])
def test_shipped_sequence_models_take_a_key_a_metre_and_an_ending(family):
    from musewidgets.analysis.metrics import tonic_ending
    from musewidgets.keys import estimate_key, fits_key

    sampler = load_sampler(family)
    assert sampler.controls
    assert set(sampler.metres("folk")) >= {"2/4", "3/4", "4/4", "6/8"} and "6/8" in sampler.metres("irish")
    for style, key in (("chorale", "A minor"), ("folk", "G major")):  # the models alone: in the key 3-56 %
        takes = sampler.generate(style=style, bars=8, n=8, seed=1, key=key)  # each the best of KEY_CANDIDATES
        in_key = sum(estimate_key(t.replace(key=None)) == key for t in takes)
        by_both = sum(fits_key(t, key)[0] for t in takes)  # and by music21's key-finder
        on_tonic = sum(tonic_ending(t) for t in takes)
        assert in_key >= 7 and by_both >= 6 and on_tonic >= 4, (style, in_key, by_both, on_tonic)
