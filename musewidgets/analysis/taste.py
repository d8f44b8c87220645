"""Learning what one listener likes from their like / dislike presses, to put the best-liked candidate first.

The listener rates takes; each take is a vector of named features (:func:`piece_features`, or anything else: the
model is generic over feature names). :class:`TasteModel` fits an L2-regularised logistic regression of
``P(like | features)`` on all ratings so far, by Newton's method in numpy (a few ratings, a few iterations, well
under a millisecond), and ranks a batch of new candidates by that probability.

Standardisation: features are compared as z-scores, ``(x - mean) / std`` per feature, so that the penalty treats a
pitch in semitones and a cue in ``[-1, 1]`` alike. The mean and standard deviation are either

- *seen*: running statistics of every feature vector the model has been shown (rated, scored or ranked), kept in
  its state and saved with it, so the scale adapts to the pool the listener actually hears; or
- *reference*: fixed statistics of a reference matrix given at construction (e.g. features of a corpus), which
  nothing the model is shown changes.

A feature whose standard deviation is 0 (or unknown) is divided by 1. Missing values (NaN) count as the mean, i.e.
0 after standardisation, both when fitting and when scoring. The weights are refitted whenever the ratings or the
statistics change, always from zero, so the model is a pure function of what it was shown: no random state at all.

Few ratings:

- no ratings: every candidate scores 0.5 and :meth:`TasteModel.rank` keeps the original order;
- likes only (or dislikes only): no boundary can be learned, so candidates are ranked by closeness to the mean of
  the liked vectors (or by distance from the mean of the disliked ones), in standardised units; the score is then
  a similarity in ``(0, 1]`` (``exp(-d2 / 2)`` with ``d2`` the mean squared z-difference), or one minus it, not a
  calibrated probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..keys import estimate_key
from ..piece import Piece
from .metrics import METRIC_NAMES
from .mood import CUE_NAMES, mood_cues
from .voice_leading import RATE_NAMES

__all__ = ["EMBEDDING_SIZE", "FEATURE_NAMES", "TasteModel", "piece_features"]

# From metrics(), in its order, beside the cues: mean_pitch, notes_per_bar and pitch_range come first already,
# longest_bar_loop is left out, and of the voice-leading rates only parallels and crossings count.
_LEFT_OUT = {"mean_pitch", "notes_per_bar", "pitch_range", "longest_bar_loop"}
_RATES = ("parallels_per_8_bars", "crossings_per_8_bars")
_METRICS = tuple(n for n in METRIC_NAMES if n not in _LEFT_OUT and (n not in RATE_NAMES or n in _RATES))
EMBEDDING_SIZE = 8  # coordinates of the style classifier's piece embedding kept (of 64)
FEATURE_NAMES: tuple[str, ...] = (
    *CUE_NAMES,
    "mean_pitch",
    "notes_per_bar",
    "minor",
    "pitch_range",
    *_METRICS,
    *(f"embedding_{i}" for i in range(EMBEDDING_SIZE)),
)

_FORMAT_VERSION = 1
_MAX_NEWTON_STEPS = 50


def piece_features(piece: Piece) -> dict[str, float]:
    """Features of a piece for :class:`TasteModel`, keyed in the order of :data:`FEATURE_NAMES`.

    Returns
    -------
    dict of str to float
        The seven :func:`~musewidgets.analysis.mood.mood_cues` (about ``[-1, 1]``), then ``mean_pitch`` (MIDI
        pitch, mean over all notes), ``notes_per_bar`` (all parts' notes divided by :attr:`Piece.n_bars`),
        ``minor`` (1.0 when :func:`~musewidgets.keys.estimate_key` finds a minor key, else 0.0) and
        ``pitch_range`` (highest minus lowest pitch, semitones); then ten :func:`~musewidgets.analysis.metrics.metrics`
        (texture, tonality, form, cadence and voice leading) and the first :data:`EMBEDDING_SIZE` coordinates of the
        style classifier's piece embedding (:meth:`~musewidgets.analysis.classifier.Classifier.embed`: what the
        piece sounds like as a whole).

    Raises
    ------
    ValueError
        If ``piece`` has no notes.
    """
    features = mood_cues(piece)  # raises on a piece without notes
    pitches = [n.pitch for p in piece.parts for n in p.notes]
    key = estimate_key(piece) or ""
    from .classifier import load_classifier
    from .metrics import metrics

    measured = metrics(piece)
    [embedding] = load_classifier().embed([piece])
    return (
        features
        | {
            "mean_pitch": float(np.mean(pitches)),
            "notes_per_bar": len(pitches) / max(piece.n_bars, 1),
            "minor": float(key.endswith("minor")),
            "pitch_range": float(max(pitches) - min(pitches)),
        }
        | {k: float(measured[k]) for k in _METRICS}
        | {f"embedding_{i}": float(v) for i, v in enumerate(embedding[:EMBEDDING_SIZE])}
    )


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow for large |a|


def _batch_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature count, mean and sum of squared deviations of ``x`` (n, d), ignoring NaN."""
    finite = ~np.isnan(x)
    count = finite.sum(axis=0).astype(float)
    total = np.where(finite, x, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    m2 = np.where(finite, (x - mean) ** 2, 0.0).sum(axis=0)
    return count, mean, m2


class TasteModel:
    """A listener's taste: logistic regression of like / dislike on standardised feature vectors.

    Parameters
    ----------
    feature_names : sequence of str
        The features, in the order of the columns of every matrix given to :meth:`score` and :meth:`rank`.
    l2 : float, default 1.0
        Strength of the L2 penalty on the weights (not the intercept), in units of one rating's log-likelihood per
        squared standardised weight. Larger trusts few ratings less.
    reference : np.ndarray, shape=(m, d), optional
        Feature vectors whose per-feature mean and standard deviation fix the standardisation. Without it the model
        standardises with the running statistics of every vector it has been shown (see the module docstring).

    Examples
    --------
    >>> model = TasteModel(["tempo", "minor"])
    >>> model.rate({"tempo": 0.5, "minor": 1.0}, liked=True)
    >>> model.rate({"tempo": 0.4, "minor": 0.0}, liked=False)
    >>> model.rank(np.array([[0.5, 0.0], [0.5, 1.0]])).tolist()
    [1, 0]
    """

    def __init__(self, feature_names: Sequence[str], *, l2: float = 1.0, reference: np.ndarray | None = None) -> None:
        names = tuple(feature_names)
        if not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"`feature_names` must be a non-empty sequence of strings, got {feature_names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"`feature_names` must not repeat a name, got {names!r}")
        if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 > 0):
            raise ValueError(f"`l2` must be a positive number, got {l2!r}")
        self._names = names
        self._index = {n: i for i, n in enumerate(names)}
        self.l2 = float(l2)
        self._reference: tuple[np.ndarray, np.ndarray] | None = None
        if reference is not None:
            ref = self._matrix(reference, "reference")
            count, mean, m2 = _batch_moments(ref)
            std = np.sqrt(np.divide(m2, count, out=np.zeros_like(m2), where=count > 0))
            self._reference = (mean, std)
        self.reset()

    # ----------------------------------------------------------------- state
    @property
    def feature_names(self) -> tuple[str, ...]:
        """The feature names, in column order."""
        return self._names

    @property
    def n_ratings(self) -> int:
        """How many ratings the model has been given since it was made or reset."""
        return len(self._liked)

    @property
    def n_liked(self) -> int:
        """How many of those ratings were likes."""
        return sum(self._liked)

    def reset(self) -> None:
        """Forget every rating and the running statistics (a ``reference`` given at construction stays)."""
        d = len(self._names)
        self._rated: list[np.ndarray] = []
        self._liked: list[bool] = []
        self._count = np.zeros(d)
        self._mean = np.zeros(d)
        self._m2 = np.zeros(d)
        self._fit: tuple[np.ndarray, float] | None = None

    def observe(self, features_batch: np.ndarray | Sequence[Mapping[str, float]]) -> None:
        """Add feature vectors, shape ``(n, d)``, to the running statistics (no effect with a ``reference``).

        :meth:`rate`, :meth:`score` and :meth:`rank` call this themselves; call it to standardise by a pool before
        any rating.
        """
        x = self._matrix(features_batch)
        if self._reference is not None or not len(x):
            return
        count, mean, m2 = _batch_moments(x)  # Chan et al.'s parallel update of mean and squared deviations
        total = self._count + count
        delta = mean - self._mean
        share = np.divide(count, total, out=np.zeros_like(count), where=total > 0)
        self._mean = self._mean + delta * share
        self._m2 = self._m2 + m2 + delta**2 * self._count * share
        self._count = total
        self._fit = None

    def rate(self, features: Mapping[str, float] | np.ndarray, liked: bool) -> None:
        """Record one rating and refit.

        Parameters
        ----------
        features : mapping of str to float, or np.ndarray, shape=(d,)
            The rated take's features; a mapping may leave features out (they count as missing, NaN) but may not
            name unknown ones.
        liked : bool
            True for a like, False for a dislike.
        """
        x = self._vector(features)
        self._rated.append(x)
        self._liked.append(bool(liked))
        self._fit = None
        self.observe(x[None])

    # ----------------------------------------------------------------- predictions
    def score(self, features_batch: np.ndarray | Sequence[Mapping[str, float]]) -> np.ndarray:
        """How likely each candidate is to be liked.

        Parameters
        ----------
        features_batch : np.ndarray, shape=(n, d), or sequence of n mappings
            Candidates' features, columns in the order of :attr:`feature_names`. They are added to the running
            statistics first (see :meth:`observe`).

        Returns
        -------
        np.ndarray, shape=(n,)
            Probability of a like in ``(0, 1)``; 0.5 for all without ratings; with one class of ratings only, the
            similarity described in the module docstring.
        """
        x = self._matrix(features_batch)
        self.observe(x)
        if not self._liked or not len(x):
            return np.full(len(x), 0.5)
        z = self._standardise(x)
        if self.n_liked in (0, self.n_ratings):
            rated = self._standardise(np.stack(self._rated))
            similarity = np.exp(-0.5 * np.mean((z - rated.mean(axis=0)) ** 2, axis=1))
            return similarity if self.n_liked else 1.0 - similarity
        weights, intercept = self._fitted()
        return _sigmoid(z @ weights + intercept)

    def rank(self, features_batch: np.ndarray | Sequence[Mapping[str, float]]) -> np.ndarray:
        """Indices of the candidates, best-liked first.

        Returns
        -------
        np.ndarray of int, shape=(n,)
            ``features_batch[rank(features_batch)]`` is sorted by :meth:`score`, highest first; ties (all of them
            without ratings) keep the original order.
        """
        return np.argsort(-self.score(features_batch), kind="stable")

    def explain(self, top: int = 3) -> list[tuple[str, float]]:
        """The most influential features: ``(name, weight)`` by decreasing absolute weight.

        A weight is the change in the log-odds of a like per standard deviation of that feature: positive means
        the listener likes more of it. Empty until there is at least one like and one dislike.
        """
        if self.n_liked in (0, self.n_ratings):
            return []
        weights, _ = self._fitted()
        order = np.argsort(-np.abs(weights), kind="stable")[: max(int(top), 0)]
        return [(self._names[i], float(weights[i])) for i in order]

    # ----------------------------------------------------------------- saving
    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-serialisable values (missing feature values as ``None``)."""

        def floats(a: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in np.asarray(a, dtype=float).tolist()]

        return {
            "format": "musewidgets.TasteModel",
            "version": _FORMAT_VERSION,
            "feature_names": list(self._names),
            "l2": self.l2,
            "reference": None if self._reference is None else dict(zip(("mean", "std"), map(floats, self._reference))),
            "ratings": [floats(x) for x in self._rated],
            "liked": list(self._liked),
            "seen": {"count": floats(self._count), "mean": floats(self._mean), "m2": floats(self._m2)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TasteModel:
        """Rebuild a model saved by :meth:`to_dict`; it scores and ranks exactly as the original did.

        Raises
        ------
        ValueError
            If ``data`` is not a saved TasteModel of this version or its arrays have the wrong lengths.
        """
        if not isinstance(data, Mapping) or data.get("format") != "musewidgets.TasteModel":
            raise ValueError("`data` is not a saved TasteModel (no 'format': 'musewidgets.TasteModel')")
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"`data` is a TasteModel of version {data.get('version')!r}; this is {_FORMAT_VERSION}")

        try:
            model = cls(data["feature_names"], l2=data["l2"])

            def array(values: Sequence[float | None]) -> np.ndarray:
                out = np.array([np.nan if v is None else v for v in values], dtype=float)
                if out.shape != (len(model._names),):
                    raise ValueError(f"`data` holds {len(out)} values where {len(model._names)} features were named")
                return out

            if data["reference"] is not None:
                model._reference = (array(data["reference"]["mean"]), array(data["reference"]["std"]))
            if len(data["ratings"]) != len(data["liked"]):
                raise ValueError("`data` holds a different number of ratings and like flags")
            model._rated = [array(x) for x in data["ratings"]]
            model._liked = [bool(v) for v in data["liked"]]
            model._count, model._mean, model._m2 = (array(data["seen"][k]) for k in ("count", "mean", "m2"))
        except (KeyError, TypeError) as err:
            raise ValueError(f"`data` is a damaged TasteModel: {err!r}") from err
        return model

    def __repr__(self) -> str:
        return (
            f"TasteModel({len(self._names)} features, {self.n_ratings} ratings, {self.n_liked} liked, l2={self.l2:g})"
        )

    # ----------------------------------------------------------------- internals
    def _vector(self, features: Mapping[str, float] | np.ndarray) -> np.ndarray:
        if isinstance(features, Mapping):
            unknown = sorted(set(features) - set(self._index))
            if unknown:
                raise ValueError(f"`features` names unknown features {unknown}; the model knows {list(self._names)}")
            return np.array([float(features.get(n, np.nan)) for n in self._names])
        x = np.asarray(features, dtype=float)
        if x.shape != (len(self._names),):
            raise ValueError(f"`features` must have shape ({len(self._names)},), got {x.shape}")
        return x

    def _matrix(self, batch: np.ndarray | Sequence[Mapping[str, float]], name: str = "features_batch") -> np.ndarray:
        if isinstance(batch, Sequence) and batch and isinstance(batch[0], Mapping):
            return np.stack([self._vector(f) for f in batch])
        x = np.asarray(batch, dtype=float)
        if x.size == 0:
            return np.zeros((0, len(self._names)))
        if x.ndim != 2 or x.shape[1] != len(self._names):
            raise ValueError(f"`{name}` must have shape (n, {len(self._names)}), got {x.shape}")
        return x

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        if self._reference is not None:
            mean, std = self._reference
        else:
            mean = self._mean
            std = np.sqrt(np.divide(self._m2, self._count, out=np.zeros_like(self._m2), where=self._count > 0))
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        z = (x - mean) / std
        return np.where(np.isnan(z), 0.0, z)

    def _fitted(self) -> tuple[np.ndarray, float]:
        """Weights (per standardised feature) and intercept of the penalised logistic regression, by Newton."""
        if self._fit is None:
            z = self._standardise(np.stack(self._rated))
            y = np.array(self._liked, dtype=float)
            a = np.hstack([z, np.ones((len(z), 1))])  # (n, d + 1): the last column carries the intercept
            penalty = np.full(a.shape[1], self.l2)
            penalty[-1] = 1e-6  # the intercept is all but free; the tiny penalty keeps the Hessian invertible

            def loss(theta: np.ndarray) -> float:
                logits = a @ theta
                return float(np.sum(np.logaddexp(0.0, logits) - y * logits) + 0.5 * penalty @ theta**2)

            theta = np.zeros(a.shape[1])
            for _ in range(_MAX_NEWTON_STEPS):
                p = _sigmoid(a @ theta)
                gradient = a.T @ (p - y) + penalty * theta
                hessian = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
                step = np.linalg.solve(hessian, gradient)
                size, current = 1.0, loss(theta)
                while loss(theta - size * step) > current and size > 1e-6:  # backtrack on the rare overshoot
                    size /= 2
                theta = theta - size * step
                if np.max(np.abs(size * step)) < 1e-10:
                    break
            self._fit = (theta[:-1], float(theta[-1]))
        return self._fit
