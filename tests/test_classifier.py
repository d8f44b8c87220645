"""The style classifier: its features, the shipped checkpoint's accuracy, robustness, training and errors."""

from __future__ import annotations

import numpy as np
import pytest

from musewidgets.analysis.classifier import Classifier, classify, load_classifier
from musewidgets.codecs.features import N_CHANNELS, StyleFeatures
from musewidgets.datasets import corpus
from musewidgets.errors import CheckpointError
from musewidgets.evaluation.classifier import variants
from musewidgets.piece import Note, Part, Piece

STYLES = ["chorale", "folk", "irish", "renaissance"]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return load_classifier()


@pytest.fixture(scope="module")
def held_out() -> dict[str, list[Piece]]:
    return {s: corpus.load_style(s, progress=False).split("test") for s in STYLES}


def test_features_ignore_transposition_and_how_the_parts_are_split():
    chorale = corpus.load_style("chorale", progress=False).get("bach/bwv66.6.mxl")
    f = StyleFeatures()
    x = f.encode(chorale)
    assert x.shape == (chorale.end, N_CHANNELS)
    up = f.encode(chorale.transpose(5))
    assert np.array_equal(x[:, :24], up[:, :24])  # pitch classes count from the tonic
    assert not np.array_equal(x[:, 24:32], up[:, 24:32])  # the register moves
    merged = chorale.replace(parts=(Part("Piano", tuple(n for p in chorale.parts for n in p.notes)),))
    assert np.array_equal(x, f.encode(merged))  # four staves or one MIDI track: the same input


def test_features_of_another_grid_are_rescaled_to_sixteenths():
    melody = Part("m", (Note(60, 0, 8), Note(62, 8, 8), Note(64, 16, 16)))
    fine = Piece((melody,), steps_per_quarter=8)
    coarse = Piece((Part("m", (Note(60, 0, 4), Note(62, 4, 4), Note(64, 8, 8))),), steps_per_quarter=4)
    assert np.array_equal(StyleFeatures().encode(fine), StyleFeatures().encode(coarse))


def test_classify_returns_every_style_most_likely_first(clf):
    chorale = corpus.load_style("chorale", progress=False).get("bach/bwv66.6.mxl")
    probs = classify(chorale)
    assert set(probs) == set(STYLES)
    assert list(probs.values()) == sorted(probs.values(), reverse=True)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert next(iter(probs)) == "chorale"


def test_held_out_macro_accuracy_is_at_least_95_percent(clf, held_out):
    recall = {}
    for i, style in enumerate(clf.styles):
        pred = clf.probabilities(held_out[style]).argmax(1)
        recall[style] = float(np.mean(pred == i))
    assert np.mean(list(recall.values())) >= 0.95, recall


def test_re_encoded_pieces_keep_their_style(clf, held_out):
    """Transposed, quantized to quarters, one MIDI track, melody only, melody over chords: 25 pieces drawn from each
    style's test split (the first pieces of a split come from one source file each, so they are not a fair sample)."""
    rng = np.random.default_rng(0)
    pieces = [held_out[s][i] for s in clf.styles for i in sorted(rng.choice(len(held_out[s]), 25, replace=False))]
    truth = np.repeat(np.arange(len(clf.styles)), 25)
    for name, group in variants(pieces).items():
        pred = clf.probabilities(group).argmax(1)
        macro = float(np.mean([np.mean(pred[truth == i] == i) for i in range(len(clf.styles))]))
        assert macro >= 0.9, (name, macro)


def test_embeddings_are_unit_vectors_and_deterministic(clf, held_out):
    pieces = held_out["folk"][:5]
    a, b = clf.embed(pieces), clf.embed(pieces)
    assert a.shape == (5, clf.model.config.embed)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert np.array_equal(a, b)


def test_a_piece_without_notes_has_no_style(clf):
    with pytest.raises(ValueError, match="no notes"):
        clf.classify(Piece((Part("empty"),), length=16))
    with pytest.raises(TypeError, match="expected a Piece"):
        clf.classify("bwv66.6")


def test_a_generator_is_not_a_classifier_and_the_classifier_cannot_generate(tmp_path):
    from musewidgets.checkpoints import load_checkpoint, resolve
    from musewidgets.sampling import load_sampler

    with pytest.raises(ValueError, match="not a style classifier"):
        Classifier(load_checkpoint(resolve("lstm")))
    with pytest.raises(CheckpointError, match="cannot generate"):
        load_sampler(str(load_classifier().checkpoint.path))
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_classifier(tmp_path / "missing.pt")


def test_training_command_writes_a_classifier_with_a_card(tmp_path):
    from musewidgets.evaluation.classifier import write_card
    from musewidgets.training import Trainer

    from .conftest import tiny_config

    config = tiny_config(family="classifier", styles=tuple(STYLES), max_steps=4, eval_every=2, batch_size=8, model={})
    result = Trainer(config, tmp_path).fit()
    assert result["steps"] == 4
    trained = load_classifier(tmp_path / "classifier.pt")
    assert trained.styles == STYLES
    card = write_card(tmp_path / "classifier.pt", limit=3, outside=False)
    assert np.sum(card["confusion"]) == 12 and "as written" in card["variants"]
    assert "Confusion on the test split" in (tmp_path / "classifier.md").read_text()


def test_shipped_card_reports_the_confusion_matrix_and_the_command():
    import json

    from musewidgets.analysis.classifier import CLASSIFIER_PATH

    card = json.loads(CLASSIFIER_PATH.with_suffix(".json").read_text())
    assert card["command"].startswith("musewidgets train --model classifier")
    assert card["macro_accuracy"] >= 0.95
    confusion = np.array(card["confusion"])
    assert confusion.shape == (4, 4) and confusion.sum() == sum(card["test_pieces"].values())
    assert set(card["variants"]) >= {"transposed", "one MIDI track", "melody only", "melody over chords"}
