"""More like this: the index, the neighbours, never the query itself, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from musewidgets.analysis.similarity import build_index, load_index, note_hash, similar
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
