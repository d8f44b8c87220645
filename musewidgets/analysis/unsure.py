"""Whether the style classifier should answer at all: music far from all four styles, or far from what it knows.

The classifier always names one of its four styles, even for random notes or a drum pattern. Two distances say when
it should say "unsure" instead, each measured against the train split of every style and scaled by how far that
style's own held-out music lies (its **valid** split: whole pieces and excerpts of 4, 8 and 16 bars, as takes are):

- **the music**: the Mahalanobis distance of the piece's descriptors (:mod:`.descriptors`: key-relative pitch,
  intervals, rhythm, register, voices ...) from the style's train pieces (a Gaussian with Ledoit-Wolf shrinkage).
  Random notes, one repeated note, a drum pattern or a piano piece lie far from every style.
- **what the classifier hears**: one minus the cosine similarity of the classifier's embedding to the nearest train
  piece of the style. Music the classifier was not trained on, in an encoding it has not met, lies far from all
  of them, even where it is a chorale (the JSB edition as one MIDI track).

Each distance is divided by its style's threshold, the :data:`QUANTILE` of the same distance over the style's valid
pieces and excerpts; a piece's distance is the smallest over the styles (the nearest style), and its **unsure score**
the larger of the two. Above 1 it is unsure: farther from every style than all but 1 % of the style's own held-out
music. The thresholds are chosen on valid data only; how the check does on the test split and on music from outside
the corpus is in the classifier's card.

``python -m musewidgets.analysis.unsure`` measures it all again into :data:`UNSURE_PATH` (about two minutes).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np

from ..piece import Piece

__all__ = ["QUANTILE", "UNSURE_PATH", "Unsure", "build", "load_unsure", "unsure_score"]

UNSURE_PATH = Path(__file__).resolve().parents[1] / "data" / "classifier" / "unsure.npz"
QUANTILE = 0.99  # of each style's valid pieces and excerpts: farther than this share is unsure
TRAIN_PIECES = 1500  # at most this many train pieces per style (a fixed draw) fit the Gaussian
EXCERPT_BARS = (4, 8, 16)  # the valid excerpts' lengths, beside whole pieces
SEED = 0


def _vector(piece: Piece) -> np.ndarray:
    from .descriptors import descriptors

    d = descriptors(piece)
    return np.concatenate([d[k] for k in sorted(d)])


class Unsure:
    """The fitted check: per style a Gaussian of the descriptors and two thresholds; the train pieces' embeddings
    come from the similarity index (:mod:`.similarity`), which holds every corpus piece's."""

    def __init__(self, data: dict, index):
        from ..datasets.corpus import split_of

        self.styles = [str(s) for s in data["styles"]]
        self.classifier = str(data["classifier"])  # digest of the classifier it was measured for
        self.means, self.precisions = data["means"].astype(np.float64), data["precisions"].astype(np.float64)
        self.thresholds = data["thresholds"]  # (styles, 2): music, hearing
        train = np.array([split_of(str(i)) == "train" for i in index.ids])
        self.embeddings = {s: index.vectors[train & (index.styles == s)] for s in self.styles}

    def distances(self, pieces: list[Piece], classifier) -> np.ndarray:
        """(pieces, styles, 2) unscaled distances: descriptors (Mahalanobis) and embedding (1 - cosine)."""
        x = np.array([_vector(p) for p in pieces])
        e = classifier.embed(pieces)
        out = np.zeros((len(pieces), len(self.styles), 2))
        for s, style in enumerate(self.styles):
            d = x - self.means[s]
            out[:, s, 0] = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precisions[s], d), 0.0))
            out[:, s, 1] = 1.0 - (e @ self.embeddings[style].T).max(axis=1)
        return out

    def scores(self, pieces: list[Piece], classifier) -> np.ndarray:
        """(pieces, 2): each distance over its threshold, at the nearest style (music, hearing)."""
        return (self.distances(pieces, classifier) / self.thresholds[None]).min(axis=1)

    def score(self, piece: Piece, classifier) -> float:
        """The unsure score of one piece: above 1, far from all four styles or from what the classifier knows."""
        return float(self.scores([piece], classifier)[0].max())


def _pieces(style: str, split: str) -> list[Piece]:
    from ..datasets import corpus

    return corpus.load_style(style, progress=False).split(split)


def _excerpts(pieces: list[Piece]) -> list[Piece]:
    from .metrics import last_bars

    return [last_bars(p, bars) for bars in EXCERPT_BARS for p in pieces if p.n_bars > bars]


def build(classifier, *, progress: bool = True) -> dict:
    """Measure the check for ``classifier`` from the corpus: the arrays :data:`UNSURE_PATH` holds."""
    from sklearn.covariance import LedoitWolf
    from tqdm.auto import tqdm

    from .similarity import classifier_digest, load_index

    styles = list(classifier.styles)
    rng = np.random.default_rng(SEED)
    means, precisions = [], []
    for style in tqdm(styles, desc="train pieces", disable=not progress):
        train = _pieces(style, "train")
        chosen = [train[i] for i in sorted(rng.permutation(len(train))[:TRAIN_PIECES])]
        fit = LedoitWolf().fit(np.array([_vector(p) for p in chosen]))
        means.append(fit.location_)
        precisions.append(fit.precision_)
    data = {
        "styles": np.array(styles),
        "classifier": np.array(classifier_digest(classifier)),
        "means": np.array(means, dtype=np.float32),
        "precisions": np.array(precisions, dtype=np.float32),
        "thresholds": np.ones((len(styles), 2)),
    }
    check = Unsure(data, load_index(classifier, progress=progress))
    for s, style in enumerate(tqdm(styles, desc="valid thresholds", disable=not progress)):
        valid = _pieces(style, "valid")
        own = check.distances(valid + _excerpts(valid), classifier)[:, s]  # each style's own distances
        data["thresholds"][s] = np.quantile(own, QUANTILE, axis=0)
    return data


def save(data: dict, path: str | os.PathLike = UNSURE_PATH) -> Path:
    path = Path(path)
    np.savez_compressed(path, **data)
    return path


def unsure_score(piece: Piece, classifier=None) -> float:
    """The unsure score of ``piece`` (above 1: unsure) by the shipped check, for the shipped classifier.

    Raises
    ------
    ValueError
        If the piece has no notes, or ``classifier`` is not the one the check was measured for.
    """
    from .classifier import load_classifier
    from .similarity import classifier_digest

    classifier = classifier or load_classifier()
    check = load_unsure()
    if classifier_digest(classifier) != check.classifier:
        raise ValueError(
            "the unsure check was measured for another classifier: run `python -m musewidgets.analysis.unsure` for "
            "this one"
        )
    if piece.n_notes == 0:
        raise ValueError(f"{piece.title or 'the piece'} has no notes, so it has no style")
    return check.score(piece, classifier)


def load_unsure(path: str | os.PathLike | None = None) -> Unsure:
    """The shipped check (or the one at ``path``), loaded once per path, with the shipped classifier's index."""
    return _load(Path(path) if path is not None else UNSURE_PATH)


@cache
def _load(path: Path) -> Unsure:
    from .similarity import load_index

    with np.load(path, allow_pickle=False) as z:
        return Unsure({k: z[k] for k in z.files}, load_index(progress=False))


if __name__ == "__main__":
    from .classifier import load_classifier

    print(f"wrote {save(build(load_classifier()))}")
