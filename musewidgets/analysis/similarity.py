"""More like this: the corpus pieces that sound most like a given piece.

Every corpus piece (all four styles, all splits) is embedded once by the style classifier
(:meth:`~musewidgets.analysis.classifier.Classifier.embed`: unit vectors, so similarity is the cosine, a dot
product) and the index is cached under the corpus cache folder, keyed by the classifier's file and the corpus
version. Building it reads about 11,000 pieces and takes about a minute on two cores, with a progress bar; later
loads take milliseconds.

A neighbour is never the query itself: corpus pieces with exactly the query's notes are left out, so asking about
a corpus piece returns other pieces.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..piece import Piece

__all__ = ["Index", "Neighbour", "build_index", "load_index", "note_hash", "precision_at", "similar"]


@dataclass(frozen=True)
class Neighbour:
    """One similar corpus piece: its style, its corpus id (``Corpus.get(id)`` gives it back) and the cosine."""

    style: str
    id: str
    score: float

    def __str__(self) -> str:
        return f"{self.style} {self.id} {self.score:.3f}"


@dataclass
class Index:
    """Unit embeddings of corpus pieces, shape ``(n, E)``, with each piece's style, id and note hash."""

    vectors: np.ndarray
    styles: np.ndarray  # (n,) str
    ids: np.ndarray  # (n,) str
    hashes: np.ndarray  # (n,) str

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int = 5, exclude: set[str] = frozenset()) -> list[Neighbour]:
        """The ``k`` nearest entries to a unit ``vector`` of shape ``(E,)``, best first, leaving out note hashes in
        ``exclude``."""
        scores = self.vectors @ vector
        out = []
        for i in np.argsort(-scores, kind="stable"):
            if self.hashes[i] in exclude:
                continue
            out.append(Neighbour(str(self.styles[i]), str(self.ids[i]), float(scores[i])))
            if len(out) == k:
                break
        return out


def note_hash(piece: Piece) -> str:
    """A short hash of a piece's notes (pitch, start, duration of every part), equal for the same music."""
    h = hashlib.sha1()
    for part in piece.parts:
        h.update(np.array([(n.pitch, n.start, n.duration) for n in part.notes], dtype=np.int32).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def _cache_path(classifier) -> Path:
    from ..datasets.corpus import cache_dir

    path = classifier.checkpoint.path
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path else "unsaved"
    return cache_dir() / f"similarity-{digest}.npz"


def build_index(classifier=None, *, styles=None, limit: int | None = None, progress: bool = True) -> Index:
    """Embed every piece of ``styles`` (default all) with ``classifier`` (default the shipped one).

    ``limit`` keeps only the first ``limit`` pieces of each style (a quick index for lessons and tests).
    """
    from tqdm.auto import tqdm

    from ..datasets import corpus
    from .classifier import load_classifier

    classifier = classifier or load_classifier()
    names = list(styles or corpus.STYLES)
    todo = []
    for style in names:
        c = corpus.load_style(style, progress=progress)
        todo += [(style, pid, p) for pid, p in zip(c.ids[:limit], c.pieces[:limit])]
    vectors = []
    with tqdm(total=len(todo), desc="indexing the corpus", unit="piece", disable=not progress) as bar:
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            vectors.append(classifier.embed([p for _, _, p in chunk]))
            bar.update(len(chunk))
    return Index(
        np.concatenate(vectors) if vectors else np.zeros((0, classifier.model.config.embed), np.float32),
        np.array([s for s, _, _ in todo]),
        np.array([pid for _, pid, _ in todo]),
        np.array([note_hash(p) for _, _, p in todo]),
    )


_LOADED: dict[Path, Index] = {}


def load_index(classifier=None, *, progress: bool = True) -> Index:
    """The index of the whole corpus for ``classifier`` (default the shipped one): from memory, from the cache
    file, or built (with a progress bar) and cached."""
    from .classifier import load_classifier

    classifier = classifier or load_classifier()
    path = _cache_path(classifier)
    if path in _LOADED:
        return _LOADED[path]
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            index = Index(data["vectors"], data["styles"], data["ids"], data["hashes"])
    else:
        index = build_index(classifier, progress=progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, vectors=index.vectors, styles=index.styles, ids=index.ids, hashes=index.hashes)
        os.replace(tmp, path)
    _LOADED[path] = index
    return index


def similar(
    piece: Piece, k: int = 5, *, index: Index | None = None, classifier=None, progress: bool = True
) -> list[Neighbour]:
    """The ``k`` corpus pieces nearest to ``piece``, best first (never ``piece`` itself).

    The first call builds the index if no cached one exists (``progress`` shows a bar meanwhile).

    Raises
    ------
    ValueError
        If ``k`` is not a whole number from 1 to 100, or the piece has no notes.
    """
    from .classifier import load_classifier

    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise ValueError(f"`k` must be a whole number from 1 to 100, got {k!r}")
    classifier = classifier or load_classifier()
    index = index if index is not None else load_index(classifier, progress=progress)
    [vector] = classifier.embed([piece])
    return index.search(vector, k, exclude={note_hash(piece)})


def precision_at(k: int = 5, *, index: Index | None = None, classifier=None, limit: int | None = None) -> dict:
    """Share of the ``k`` nearest neighbours of held-out (test-split) pieces that share the query's style.

    Every test piece of every style asks the index (default: the whole corpus) for ``k`` neighbours, itself left
    out. Returns ``{'per_style': {style: share}, 'macro': mean over styles, 'queries': {style: count}}``.
    """
    from ..datasets import corpus
    from .classifier import load_classifier

    classifier = classifier or load_classifier()
    index = index if index is not None else load_index(classifier)
    per_style, queries = {}, {}
    for style in classifier.styles:
        test = corpus.load_style(style, progress=False).split("test")[:limit]
        vectors = classifier.embed(test)
        hits = [n.style == style for p, v in zip(test, vectors) for n in index.search(v, k, exclude={note_hash(p)})]
        per_style[style], queries[style] = float(np.mean(hits)), len(test)
    return {"k": k, "per_style": per_style, "macro": float(np.mean(list(per_style.values()))), "queries": queries}
