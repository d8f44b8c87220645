"""The taste model: simulated listeners find what they like after a few ratings; saving, resetting, edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musewidgets.analysis.mood import CUE_NAMES
from musewidgets.analysis.taste import FEATURE_NAMES, TasteModel, piece_features
from musewidgets.datasets import corpus
from musewidgets.keys import estimate_key
from musewidgets.piece import Note, Part, Piece

N_TRIALS = 50
BATCH = 8


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Four-bar openings of test-split folk, Irish and chorale pieces, as many minor as major per style, each
    transposed by a seeded random shift so that register varies within a style; with their feature matrix."""
    rng = np.random.default_rng(0)
    excerpts = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        for style in ("folk", "irish", "chorale"):
            by_mode = {"minor": [], "major": []}
            for piece in corpus.load_style(style, progress=False).split("test"):
                if piece.n_bars >= 4 and (excerpt := piece.slice_bars(0, 4)).n_notes >= 8:
                    by_mode[estimate_key(excerpt).split()[1]].append(excerpt)
            k = min(len(by_mode["minor"]), len(by_mode["major"]), 30)
            excerpts += by_mode["minor"][:k] + by_mode["major"][:k]
    excerpts = [p.transpose(int(rng.integers(-6, 7))) for p in excerpts]
    x = np.array([[piece_features(p)[n] for n in FEATURE_NAMES] for p in excerpts])
    return excerpts, x


def _listeners(x: np.ndarray) -> dict[str, np.ndarray]:
    """Which pool items each simulated listener likes, by a threshold on a raw musical quantity."""
    mean_pitch = x[:, FEATURE_NAMES.index("mean_pitch")]
    busy = x[:, FEATURE_NAMES.index("notes_per_bar")]
    return {
        "minor keys": x[:, FEATURE_NAMES.index("minor")] == 1.0,  # estimated key is minor
        "high register": mean_pitch > np.median(mean_pitch),
        "busy rhythms": busy > np.median(busy),
    }


def simulate(x: np.ndarray, likes: np.ndarray, n_ratings: int, trials: int = N_TRIALS) -> tuple[float, float]:
    """Top-1 hit rate of the ranked batch and of its unranked first candidate, over seeded trials."""
    ranked = unranked = 0
    for trial in range(trials):
        order = np.random.default_rng(trial).permutation(len(x))
        rated, batch = order[:n_ratings], order[n_ratings : n_ratings + BATCH]  # the batch is unseen
        model = TasteModel(FEATURE_NAMES)
        for i in rated:
            model.rate(x[i], liked=bool(likes[i]))
        ranked += likes[batch[model.rank(x[batch])[0]]]
        unranked += likes[batch[0]]
    return ranked / trials, unranked / trials


def test_pool_is_varied(pool):
    excerpts, x = pool
    assert len(excerpts) >= 100 and np.isfinite(x).all()
    for name, likes in _listeners(x).items():
        assert 0.3 < likes.mean() < 0.7, name  # every listener likes about half the pool: a fair base rate


@pytest.mark.parametrize("listener", ["minor keys", "high register", "busy rhythms"])
def test_simulated_listener_gets_what_they_like(pool, listener):
    _, x = pool
    likes = _listeners(x)[listener]
    hit, base = simulate(x, likes, n_ratings=10)
    print(f"{listener}: top-1 hit rate {hit:.2f} after 10 ratings, unranked {base:.2f}")
    assert hit >= 0.80
    assert hit > base + 0.2


def test_more_ratings_do_not_hurt(pool):
    _, x = pool
    likes = _listeners(x)["high register"]
    assert simulate(x, likes, n_ratings=10)[0] >= simulate(x, likes, n_ratings=3)[0]


def _trained(x: np.ndarray, likes: np.ndarray, n: int = 12, **kwargs) -> TasteModel:
    model = TasteModel(FEATURE_NAMES, **kwargs)
    for i in np.random.default_rng(1).permutation(len(x))[:n]:  # the pool is grouped by style and mode
        model.rate(dict(zip(FEATURE_NAMES, x[i])), liked=bool(likes[i]))
    return model


def test_round_trip_ranks_identically(pool):
    _, x = pool
    model = _trained(x, _listeners(x)["minor keys"])
    model.observe(x[40:60])
    copy = TasteModel.from_dict(json.loads(json.dumps(model.to_dict(), allow_nan=False)))
    assert copy.n_ratings == model.n_ratings and copy.feature_names == model.feature_names
    batch = x[20:40]
    np.testing.assert_array_equal(copy.score(batch), model.score(batch))
    np.testing.assert_array_equal(copy.rank(batch), model.rank(batch))
    assert copy.explain(5) == model.explain(5)


def test_round_trip_with_reference_and_missing_values(pool):
    _, x = pool
    model = TasteModel(FEATURE_NAMES, l2=0.5, reference=x)
    model.rate({"minor": 1.0, "mean_pitch": 70.0}, liked=True)  # the other features are missing
    model.rate(x[0], liked=False)
    data = model.to_dict()
    assert data["ratings"][0][0] is None
    copy = TasteModel.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    np.testing.assert_array_equal(copy.score(x[:10]), model.score(x[:10]))


def test_reset_forgets(pool):
    _, x = pool
    model = _trained(x, _listeners(x)["busy rhythms"])
    assert model.n_ratings == 12 and model.explain()
    model.reset()
    assert model.n_ratings == 0 and model.explain() == []
    assert model.to_dict() == TasteModel(FEATURE_NAMES).to_dict()  # the running statistics are gone too
    np.testing.assert_array_equal(model.rank(x[:8]), np.arange(8))


def test_deterministic(pool):
    _, x = pool
    likes = _listeners(x)["high register"]
    assert simulate(x, likes, 5, trials=10) == simulate(x, likes, 5, trials=10)
    a, b = _trained(x, likes), _trained(x, likes)
    np.testing.assert_array_equal(a.score(x[50:70]), b.score(x[50:70]))


def test_no_ratings_keeps_order():
    model = TasteModel(["a", "b"])
    batch = np.array([[0.0, 1.0], [5.0, 2.0], [1.0, 1.0]])
    np.testing.assert_array_equal(model.rank(batch), [0, 1, 2])
    np.testing.assert_array_equal(model.score(batch), [0.5, 0.5, 0.5])


def test_likes_only_ranks_by_closeness_to_liked():
    model = TasteModel(["a", "b"], reference=np.array([[0.0, 0.0], [2.0, 2.0]]))
    model.rate({"a": 2.0, "b": 2.0}, liked=True)
    model.rate({"a": 1.8, "b": 2.0}, liked=True)
    batch = np.array([[0.0, 0.0], [1.9, 2.1], [1.0, 1.0]])
    np.testing.assert_array_equal(model.rank(batch), [1, 2, 0])
    assert model.explain() == []


def test_dislikes_only_ranks_away_from_disliked():
    model = TasteModel(["a", "b"], reference=np.array([[0.0, 0.0], [2.0, 2.0]]))
    model.rate(np.array([0.0, 0.0]), liked=False)
    batch = np.array([[0.1, 0.0], [2.0, 2.0], [1.0, 1.0]])
    np.testing.assert_array_equal(model.rank(batch), [1, 2, 0])
    assert ((model.score(batch) >= 0) & (model.score(batch) <= 1)).all()


def test_explain_names_the_deciding_feature():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 3))
    model = TasteModel(["noise", "signal", "more noise"])
    for row in x:
        model.rate(row, liked=bool(row[1] > 0))
    (name, weight), *_ = model.explain(top=2)
    assert name == "signal" and weight > 0
    assert len(model.explain(top=2)) == 2
    assert model.score(np.array([[0.0, 2.0, 0.0]]))[0] > 0.8 > model.score(np.array([[0.0, -2.0, 0.0]]))[0]


def test_nan_counts_as_the_mean():
    model = TasteModel(["a", "b"], reference=np.array([[0.0, 0.0], [2.0, 2.0]]))
    model.rate(np.array([2.0, 1.0]), liked=True)
    model.rate(np.array([0.0, 1.0]), liked=False)
    scores = model.score(np.array([[np.nan, 1.0], [1.0, 1.0]]))
    assert np.isfinite(scores).all() and scores[0] == pytest.approx(scores[1])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="feature_names"):
        TasteModel([])
    with pytest.raises(ValueError, match="l2"):
        TasteModel(["a"], l2=0)
    model = TasteModel(["a", "b"])
    with pytest.raises(ValueError, match="unknown"):
        model.rate({"c": 1.0}, liked=True)
    with pytest.raises(ValueError, match="shape"):
        model.score(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="TasteModel"):
        TasteModel.from_dict({"format": "something else"})


def test_piece_features():
    piece = Piece((Part("M", tuple(Note(p, 4 * i, 4) for i, p in enumerate([57, 60, 64, 69, 64, 60, 57, 57]))),))
    features = piece_features(piece)
    assert tuple(features) == FEATURE_NAMES
    assert tuple(features)[: len(CUE_NAMES)] == CUE_NAMES
    assert features["minor"] == 1.0  # A minor arpeggio
    assert features["mean_pitch"] == pytest.approx(np.mean([57, 60, 64, 69, 64, 60, 57, 57]))
    assert features["notes_per_bar"] == 4.0
    assert features["pitch_range"] == 12.0
    with pytest.raises(ValueError, match="no notes"):
        piece_features(Piece((Part("Empty"),)))


def test_feature_names_are_pinned():
    """Saved taste models name their features: a change here (a metric added to ``METRIC_NAMES``, say) would leave
    them unable to score what the Workbench measures now."""
    metrics = FEATURE_NAMES[len(CUE_NAMES) + 4 : -8]
    assert FEATURE_NAMES[len(CUE_NAMES) : len(CUE_NAMES) + 4] == ("mean_pitch", "notes_per_bar", "minor", "pitch_range")
    assert metrics == (
        "n_pitch_classes_used",
        "polyphony",
        "pitch_class_entropy",
        "scale_consistency",
        "empty_beat_rate",
        "groove_consistency",
        "repeated_bars",
        "tonic_ending",
        "parallels_per_8_bars",
        "crossings_per_8_bars",
    )
    assert FEATURE_NAMES[-8:] == tuple(f"embedding_{i}" for i in range(8))
