"""Which style a piece sounds like: the shipped style classifier and its embeddings.

::

    >>> from musewidgets.analysis.classifier import classify
    >>> classify(piece)                                   # doctest: +SKIP
    {'chorale': 0.97, 'renaissance': 0.02, 'folk': 0.01, 'irish': 0.0}

The model (:mod:`musewidgets.models.classifier`) is trained by ``musewidgets train --model classifier`` on the
train split of the four corpus styles (:mod:`musewidgets.training.classifier`) and ships in
``musewidgets/data/classifier/`` with its model card (:func:`musewidgets.evaluation.classifier.write_card`).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np

from ..piece import Piece

__all__ = ["CLASSIFIER_PATH", "Classifier", "classify", "load_classifier"]

CLASSIFIER_PATH = Path(__file__).resolve().parents[1] / "data" / "classifier" / "classifier.pt"


class Classifier:
    """A loaded style classifier: style probabilities and piece embeddings for lists of pieces.

    Inference runs on :data:`~musewidgets.threads.SAMPLING_THREADS` torch thread(s), like sampling.
    """

    def __init__(self, checkpoint):
        if checkpoint.family != "classifier":
            raise ValueError(f"{checkpoint.path}: a {checkpoint.family!r} checkpoint is not a style classifier")
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.features = checkpoint.codec
        self.styles: list[str] = list(checkpoint.styles)

    def _encode(self, pieces) -> list[np.ndarray]:
        encoded = []
        for piece in pieces:
            if not isinstance(piece, Piece):
                raise TypeError(f"expected a Piece, got {type(piece).__name__}")
            if piece.n_notes == 0:
                raise ValueError(f"{piece.title or 'the piece'} has no notes, so it has no style")
            encoded.append(self.features.encode(piece))
        return encoded

    def probabilities(self, pieces) -> np.ndarray:
        """Style probabilities, shape ``(len(pieces), len(styles))``, columns in :attr:`styles` order."""
        from ..models.classifier import predict
        from ..threads import SAMPLING_THREADS, torch_threads

        encoded = self._encode(pieces)
        if not encoded:
            return np.zeros((0, len(self.styles)))
        with torch_threads(SAMPLING_THREADS):
            return predict(self.model, encoded)

    def classify(self, piece: Piece) -> dict[str, float]:
        """``{style: probability}`` for one piece, most likely first.

        Raises
        ------
        ValueError
            If the piece has no notes.
        """
        probs = self.probabilities([piece])[0]
        return {self.styles[i]: float(probs[i]) for i in np.argsort(-probs, kind="stable")}

    def embed(self, pieces) -> np.ndarray:
        """Piece embeddings, shape ``(len(pieces), E)``: the classifier's last hidden layer, unit length.

        Pieces that sound alike lie close together (cosine similarity is a dot product); :mod:`.similarity` builds
        its index from them.
        """
        import torch

        from ..models.classifier import batch_of
        from ..threads import SAMPLING_THREADS, torch_threads

        encoded = self._encode(pieces)
        out = np.zeros((len(encoded), self.model.config.embed), dtype=np.float32)
        order = np.argsort([len(e) for e in encoded])
        with torch_threads(SAMPLING_THREADS), torch.no_grad():
            for i in range(0, len(order), 64):
                idx = order[i : i + 64]
                batch = batch_of([encoded[j] for j in idx])
                out[idx] = self.model.embed(batch["x"], batch["mask"]).numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def load_classifier(path: str | os.PathLike | None = None) -> Classifier:
    """The style classifier at ``path`` (default: the shipped one), loaded once per path.

    Raises
    ------
    CheckpointError
        If the file is missing, damaged or not a checkpoint; ``ValueError`` if it holds another kind of model.
    """
    return _load(Path(path) if path is not None else CLASSIFIER_PATH)


@cache
def _load(path: Path) -> Classifier:
    from ..checkpoints import load_checkpoint

    return Classifier(load_checkpoint(path))


def classify(piece: Piece) -> dict[str, float]:
    """``{style: probability}`` of ``piece`` by the shipped classifier, most likely first."""
    return load_classifier().classify(piece)
