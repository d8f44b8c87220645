"""More like this: the corpus pieces that sound most like a given piece.

Every corpus piece (all four styles, all splits, about 11,400 pieces) is embedded by the style classifier
(:meth:`~musewidgets.analysis.classifier.Classifier.embed`: unit vectors, so similarity is the cosine, a dot
product). The index of the shipped classifier over the packaged corpus ships in the package
(``musewidgets/data/classifier/similarity.npz``, 2.5 MB), so the first query only reads it (0.06 s; the classifier
itself loads in about 2 s). ``python -m musewidgets.analysis.similarity`` builds it again, the same bytes each time
(45 s on two shared cores, with a progress bar; minutes on a busy machine): run it after retraining the classifier
or rebuilding the packaged corpus; a test fails while the shipped index is stale.

Another classifier gets its own index, built at its first query with a progress bar (as long again) and cached
under the corpus cache folder, keyed by the classifier's file; later loads take milliseconds.

A neighbour is never the query itself: corpus pieces with exactly the query's notes are left out, so asking about
a corpus piece returns other pieces.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..piece import Piece

__all__ = [
    "CHUNK",
    "SHIPPED_INDEX",
    "Index",
    "Neighbour",
    "build_index",
    "file_digest",
    "load_index",
    "note_hash",
    "precision_at",
    "read_index",
    "save_index",
    "similar",
]

SHIPPED_INDEX = Path(__file__).resolve().parents[1] / "data" / "classifier" / "similarity.npz"
CHUNK = 256  # pieces embedded at a time (an embedding depends a little on the padding of its batch)


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
    # what it was built from: {"classifier": digest of its file, "corpus/<style>": digest of the packaged corpus file}
    sources: dict[str, str] = field(default_factory=dict)

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


def file_digest(path: str | os.PathLike) -> str:
    """The first 12 hex digits of the SHA-1 of a file's bytes."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def classifier_digest(classifier) -> str:
    path = classifier.checkpoint.path
    return file_digest(path) if path else "unsaved"


def _corpora(names: list[str], packaged: bool, progress: bool) -> tuple[list, dict[str, str]]:
    """The corpus of each style, and the digests of the packaged files read (``packaged``: those files, never the
    user's cache, so that the shipped index is built from what ships)."""
    from ..datasets import corpus

    if not packaged:
        return [corpus.load_style(name, progress=progress) for name in names], {}
    paths = [corpus.PACKAGED_DIR / f"{name}.npz" for name in names]
    return [corpus.load_corpus(path) for path in paths], {f"corpus/{n}": file_digest(p) for n, p in zip(names, paths)}


def build_index(
    classifier=None, *, styles=None, limit: int | None = None, progress: bool = True, packaged: bool = False
) -> Index:
    """Embed every piece of ``styles`` (default all) with ``classifier`` (default the shipped one).

    ``limit`` keeps only the first ``limit`` pieces of each style (a quick index for lessons and tests);
    ``packaged`` reads the corpus shipped in the package rather than the user's cache (the shipped index).
    The whole corpus (about 11,400 pieces) takes 45 s on two shared cores, minutes on a busy machine.
    """
    from tqdm.auto import tqdm

    from ..datasets import corpus
    from .classifier import load_classifier

    classifier = classifier or load_classifier()
    names = list(styles or corpus.STYLES)
    corpora, sources = _corpora(names, packaged, progress)
    todo = [(s, pid, p) for s, c in zip(names, corpora) for pid, p in zip(c.ids[:limit], c.pieces[:limit])]
    vectors = []
    with tqdm(total=len(todo), desc="indexing the corpus", unit="piece", disable=not progress) as bar:
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i : i + CHUNK]
            vectors.append(classifier.embed([p for _, _, p in chunk]))
            bar.update(len(chunk))
    return Index(
        np.concatenate(vectors) if vectors else np.zeros((0, classifier.model.config.embed), np.float32),
        np.array([s for s, _, _ in todo]),
        np.array([pid for _, pid, _ in todo]),
        np.array([note_hash(p) for _, _, p in todo]),
        {"classifier": classifier_digest(classifier)} | sources,
    )


def save_index(index: Index, path: str | os.PathLike) -> Path:
    """Write ``index`` as a compressed ``.npz``, atomically, the same bytes for the same index (no timestamps)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "vectors": index.vectors.astype(np.float32),
        "styles": index.styles,
        "ids": index.ids,
        "hashes": index.hashes,
        "source_names": np.array(list(index.sources), dtype=str),
        "source_digests": np.array(list(index.sources.values()), dtype=str),
    }
    tmp = path.with_name(path.name + ".tmp.npz")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with z.open(info, "w") as f:
                    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_index(path: str | os.PathLike) -> Index:
    """An index written by :func:`save_index`."""
    with np.load(path, allow_pickle=False) as data:
        names = data["source_names"].tolist() if "source_names" in data else []
        digests = data["source_digests"].tolist() if "source_digests" in data else []
        return Index(data["vectors"], data["styles"], data["ids"], data["hashes"], dict(zip(names, digests)))


_LOADED: dict[str, Index] = {}


def load_index(classifier=None, *, progress: bool = True) -> Index:
    """The index of the whole corpus for ``classifier`` (default the shipped one): from memory, the one shipped
    (for the classifier it was built by), the cache file, or built (with a progress bar: a minute or more) and cached.
    """
    from ..datasets.corpus import cache_dir
    from .classifier import load_classifier

    classifier = classifier or load_classifier()
    digest = classifier_digest(classifier)
    if digest in _LOADED:
        return _LOADED[digest]
    shipped = read_index(SHIPPED_INDEX) if SHIPPED_INDEX.exists() else None
    cached = cache_dir() / f"similarity-{digest}.npz"
    if shipped is not None and shipped.sources.get("classifier") == digest:
        index = shipped
    elif cached.exists():
        index = read_index(cached)
    else:
        index = build_index(classifier, progress=progress)
        save_index(index, cached)
    _LOADED[digest] = index
    return index


def similar(
    piece: Piece, k: int = 5, *, index: Index | None = None, classifier=None, progress: bool = True
) -> list[Neighbour]:
    """The ``k`` corpus pieces nearest to ``piece``, best first (never ``piece`` itself).

    The first call loads the index (:func:`load_index`): the shipped one for the shipped classifier, in well
    under a second; for another classifier one is built at the first call (a minute or more; ``progress`` shows a
    bar).

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


if __name__ == "__main__":  # python -m musewidgets.analysis.similarity: build the shipped index again
    import time

    t0 = time.perf_counter()
    built = save_index(build_index(packaged=True), SHIPPED_INDEX)
    size = SHIPPED_INDEX.stat().st_size / 2**20
    print(f"wrote {built}: {len(read_index(built))} pieces, {size:.1f} MB, in {time.perf_counter() - t0:.0f} s")
