"""The classifier's "unsure" check (musewidgets.analysis.unsure): music far from all four styles is named so, the
styles' own held-out music and the models' takes are not."""

from __future__ import annotations

import pytest

from musewidgets.analysis.classifier import load_classifier
from musewidgets.analysis.unsure import load_unsure, unsure_score
from musewidgets.evaluation.unsure import far_pieces, jsb_one_track


@pytest.mark.parametrize("kind", ["random notes", "drum patterns", "one repeated note"])
def test_music_far_from_every_style_is_unsure(kind):
    for piece in far_pieces()[kind][:4]:
        assert unsure_score(piece) > 1, kind


def test_a_piano_piece_from_outside_the_four_styles_is_unsure():
    from musewidgets.evaluation.classifier import _outside

    [rag] = _outside("joplin/*")
    assert unsure_score(rag) > 1


def test_held_out_pieces_of_every_style_are_heard_with_confidence():
    from musewidgets.datasets import corpus

    for style in ("chorale", "folk", "irish", "renaissance"):
        pieces = corpus.load_style(style, progress=False).split("test")[:12]
        scores = [unsure_score(p) for p in pieces]
        assert sum(s > 1 for s in scores) <= 1, (style, scores)


def test_a_take_of_the_default_model_is_not_unsure():
    from musewidgets.sampling import load_sampler

    lstm = load_sampler("lstm")
    for style in ("chorale", "irish"):
        for take in lstm.generate(style=style, bars=8, n=3, seed=4):
            assert unsure_score(take) < 1


def test_the_shipped_check_was_measured_for_the_shipped_classifier():
    from musewidgets.analysis.similarity import classifier_digest

    # stale after retraining the classifier: python -m musewidgets.analysis.unsure
    assert load_unsure().classifier == classifier_digest(load_classifier())


def test_another_classifier_and_an_empty_piece_are_refused_in_words(tmp_path):
    import shutil

    from musewidgets.analysis.classifier import CLASSIFIER_PATH
    from musewidgets.piece import Part, Piece

    with pytest.raises(ValueError, match="has no notes"):
        unsure_score(Piece(parts=(Part("empty", ()),)))
    other = tmp_path / "other.pt"
    shutil.copy(CLASSIFIER_PATH, other)
    with open(other, "ab") as f:
        f.write(b"\0")  # another file: another digest
    with pytest.raises(ValueError, match="measured for another classifier"):
        unsure_score(far_pieces()["drum patterns"][0], load_classifier(other))


def test_the_jsb_edition_is_read_as_one_track_with_repeated_notes_merged():
    import numpy as np

    roll = np.zeros((4, 88), dtype=np.uint8)
    roll[0:3, 60 - 21] = 1  # C4 for three quarters, then G4 for one
    roll[3, 67 - 21] = 1
    piece = jsb_one_track(roll)
    assert [(n.pitch, n.start, n.duration) for n in piece.parts[0].notes] == [(60, 0, 12), (67, 12, 4)]


def test_classify_prints_unsure_first_only_where_it_is(tmp_path, capsys):
    from musewidgets import io
    from musewidgets.cli import main

    drums = tmp_path / "drums.mid"
    io.write(far_pieces()["drum patterns"][0], drums)
    assert main(["classify", str(drums)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("unsure ") and float(first.split()[1]) > 1
    assert main(["classify", "examples/song.abc"]) == 0
    assert not capsys.readouterr().out.startswith("unsure")
