"""More like this: the index, the neighbours, never the query itself, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from musewidgets.analysis.classifier import CLASSIFIER_PATH, load_classifier
from musewidgets.analysis.similarity import (
    CHUNK,
    SHIPPED_INDEX,
    build_index,
    file_digest,
    load_index,
    note_hash,
    read_index,
    save_index,
    similar,
)
from musewidgets.cli import main
from musewidgets.datasets import corpus

STYLES = ("chorale", "folk", "irish", "renaissance")


@pytest.fixture(scope="module")
def index():
    return build_index(limit=120, progress=False)


def test_index_holds_unit_vectors_with_styles_and_ids(index):
    assert len(index) == 4 * 120
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    assert list(np.unique(index.styles)) == list(STYLES)
    chorales = corpus.load_style("chorale", progress=False)
    assert chorales.get(str(index.ids[0])) is chorales.pieces[0]


def test_a_corpus_piece_never_finds_itself(index):
    piece = corpus.load_style("irish", progress=False).pieces[5]
    found = similar(piece, 5, index=index)
    assert len(found) == 5
    assert all(note_hash(corpus.load_style(n.style, progress=False).get(n.id)) != note_hash(piece) for n in found)
    assert [n.score for n in found] == sorted((n.score for n in found), reverse=True)


def test_neighbours_of_held_out_pieces_share_their_style(index):
    """Precision at 5, macro over styles, for held-out pieces outside this small index: at least 0.9."""
    per_style = []
    for style in STYLES:
        test = corpus.load_style(style, progress=False).split("test")[:15]
        hits = [n.style == style for piece in test for n in similar(piece, 5, index=index)]
        per_style.append(np.mean(hits))
    assert np.mean(per_style) >= 0.9, dict(zip(STYLES, per_style))


def test_bad_k_is_refused(index):
    piece = corpus.load_style("folk", progress=False).pieces[0]
    for k in (0, 101, 2.5, True):
        with pytest.raises(ValueError, match="`k`"):
            similar(piece, k, index=index)


def test_cli_prints_style_id_and_score_per_neighbour(tmp_path, index, capsys, monkeypatch):
    from musewidgets import io
    from musewidgets.analysis import similarity

    monkeypatch.setattr(similarity, "build_index", lambda *a, **k: index)  # the small index stands for the corpus
    monkeypatch.setattr(similarity, "SHIPPED_INDEX", tmp_path / "none.npz")  # as if none shipped
    similarity._LOADED.clear()
    path = io.write(corpus.load_style("folk", progress=False).pieces[3], tmp_path / "tune.mid")
    assert main(["similar", str(path), "-k", "3", "-q"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    style, pid, score = lines[0].split(" ")
    assert style in STYLES and float(score) <= 1.0 and pid
    assert load_index(progress=False) is index  # cached in memory ...
    similarity._LOADED.clear()
    assert len(load_index(progress=False)) == len(index)  # ... and on disk


def test_the_shipped_index_is_what_the_command_builds():
    """``python -m musewidgets.analysis.similarity`` wrote ``data/classifier/similarity.npz`` from the shipped
    classifier and the packaged corpus: run it again after retraining the one, rebuilding the other, or changing how
    pieces are embedded."""
    shipped = read_index(SHIPPED_INDEX)
    assert shipped.sources == {"classifier": file_digest(CLASSIFIER_PATH)} | {
        f"corpus/{style}": file_digest(corpus.PACKAGED_DIR / f"{style}.npz") for style in STYLES
    }
    # its first chunk, embedded again as the build embeds it (an embedding depends a little on its batch's padding)
    first = corpus.load_corpus(corpus.PACKAGED_DIR / f"{STYLES[0]}.npz").pieces[:CHUNK]
    assert shipped.hashes[:CHUNK].tolist() == [note_hash(p) for p in first]
    np.testing.assert_allclose(shipped.vectors[:CHUNK], load_classifier().embed(first), atol=1e-5)
    assert SHIPPED_INDEX.stat().st_size < 4 * 2**20


def test_the_first_query_reads_the_shipped_index_and_builds_nothing(monkeypatch):
    from musewidgets.analysis import similarity

    def build(*args, **kwargs):
        raise AssertionError("the shipped index was built again")

    monkeypatch.setattr(similarity, "build_index", build)
    similarity._LOADED.clear()
    index = load_index(progress=False)
    assert len(index) > 11_000 and index.sources["classifier"] == file_digest(CLASSIFIER_PATH)
    assert similar(corpus.load_style("irish", progress=False).pieces[0], 3)[0].style == "irish"


def test_a_saved_index_is_the_same_bytes_each_time(index, tmp_path):
    a, b = save_index(index, tmp_path / "a.npz"), save_index(index, tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()
    again = read_index(a)
    assert np.array_equal(again.vectors, index.vectors) and again.ids.tolist() == index.ids.tolist()
    assert again.sources == index.sources
