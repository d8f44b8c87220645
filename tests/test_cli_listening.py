"""`musewidgets classify`: style probabilities and mood for a file, and clear errors."""

from __future__ import annotations

import pytest

from musewidgets import io
from musewidgets.cli import main
from musewidgets.datasets import corpus
from musewidgets.piece import Part, Piece


def test_classify_prints_every_style_most_likely_first_then_the_mood(tmp_path, capsys):
    path = io.write(corpus.load_style("chorale", progress=False).get("bach/bwv66.6.mxl"), tmp_path / "bwv66.6.mid")
    assert main(["classify", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    styles = [line.split() for line in lines[:4]]
    assert [s for s, _ in styles][0] == "chorale"
    assert sorted(s for s, _ in styles) == ["chorale", "folk", "irish", "renaissance"]
    probs = [float(p) for _, p in styles]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=0.01)
    word, valence, arousal, quadrant = lines[4].split()
    assert word == "mood" and -1 <= float(valence) <= 1 and -1 <= float(arousal) <= 1
    assert quadrant in {"happy", "calm", "tense", "sad"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.pdf.mid", b"%PDF-1.4 not music", "notes.pdf.mid"),
        ("empty.mid", b"", "the file is empty"),
        ("missing.mid", None, "cannot open the file"),
    ],
)
def test_classify_and_similar_refuse_what_is_not_music(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    for command in ("classify", "similar"):
        assert main([command, str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("musewidgets: error:") and message in err and "Traceback" not in err


def test_a_file_without_notes_is_refused(tmp_path, capsys):
    path = io.write(Piece((Part("silence"),), length=16), tmp_path / "silence.mid")
    assert main(["classify", str(path)]) == 1
    assert "no notes" in capsys.readouterr().err
