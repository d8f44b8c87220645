import json
import time
from collections import Counter

import numpy as np
import pytest

from musewidgets import UnknownStyleError
from musewidgets.datasets import corpus


@pytest.fixture(scope="module")
def tiny_chorales():
    # three chorale files parsed in this process: fast, and enough to check the whole path
    return corpus.build_style(
        "chorale", files=["bach/bwv10.7.mxl", "bach/bwv66.6.mxl", "bach/bwv1.6.mxl"], workers=1, progress=False
    )


def test_build_small_subset(tiny_chorales):
    c = tiny_chorales
    assert c.ids == ["bach/bwv10.7.mxl", "bach/bwv66.6.mxl"]
    assert c.skipped == {"not 4 voices": 1}  # bwv1.6 has horns and strings besides the choir
    for piece in c.pieces:
        assert [p.name for p in piece.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert all(p.is_monophonic and p.program == 52 for p in piece.parts)
        assert piece.style == "chorale" and piece.steps_per_quarter == 4
        means = [np.mean([n.pitch for n in p.notes]) for p in piece.parts]
        assert means == sorted(means, reverse=True)
    assert c.info["source_files"] == 3


@pytest.mark.parametrize(
    ("style", "files", "voices"),
    [
        ("folk", ["essenFolksong/test0.abc"], 1),
        ("irish", ["ryansMammoth/AcaciaReel.abc", "ryansMammoth/AdmiralsHornpipe.abc"], 1),
        ("renaissance", ["palestrina/Agnus_01.krn"], 4),
    ],
)
def test_each_style_builds_from_its_sources(style, files, voices):
    c = corpus.build_style(style, files=files, workers=1, progress=False)
    assert len(c) >= 1
    assert all(len(p.parts) == voices and p.style == style for p in c.pieces)
    assert sum(c.skipped.values()) + len(c) >= len(files)


def test_five_voice_palestrina_is_reduced_to_outer_and_extreme_inner_voices():
    c = corpus.build_style("renaissance", files=["palestrina/Agnus_01.krn"], workers=1, progress=False)
    piece = c.pieces[0]
    assert len(piece.parts) == 4
    means = [np.mean([n.pitch for n in p.notes]) for p in piece.parts]
    assert means == sorted(means, reverse=True)


def test_irregular_strain_bars_are_padded_onto_the_grid():
    # O'Neill's no. 22 (The Woods of Kilmurry) ends its first strain on an incomplete bar
    c = corpus.build_style("irish", files=["oneills1850/0001-0050.abc"], workers=1, progress=False)
    piece = c.get("oneills1850/0001-0050.abc#22")
    assert piece.title == "The Woods of Kilmurry" and piece.time_signature == (6, 8)
    downbeats = {n.start for n in piece.parts[0].notes if (n.start - piece.pickup) % piece.steps_per_bar == 0}
    assert len(downbeats) >= piece.n_bars - 2  # nearly every bar has a note on its downbeat
    assert "rhythm off the sixteenth grid (tuplets)" in c.skipped


def test_save_load_round_trip(tmp_path, tiny_chorales):
    path = corpus.save_corpus(tiny_chorales, tmp_path / "c.npz")
    back = corpus.load_corpus(path)
    assert back.ids == tiny_chorales.ids
    assert back.pieces == tiny_chorales.pieces
    assert back.skipped == tiny_chorales.skipped


def test_splits_are_deterministic_and_roughly_80_10_10():
    ids = [f"piece-{i}" for i in range(5000)]
    counts = Counter(corpus.split_of(i) for i in ids)
    assert counts["train"] / 5000 == pytest.approx(0.8, abs=0.03)
    assert counts["valid"] / 5000 == pytest.approx(0.1, abs=0.02)
    assert [corpus.split_of(i) for i in ids[:50]] == [corpus.split_of(i) for i in ids[:50]]
    assert corpus.split_of("bach/bwv66.6.mxl") == corpus.split_of("bach/bwv66.6.mxl")


@pytest.mark.parametrize("style", list(corpus.STYLES))
def test_packaged_styles_load_fast_and_split_cleanly(style):
    t0 = time.perf_counter()
    c = corpus.load_style(style, progress=False)
    seconds = time.perf_counter() - t0
    assert seconds < 30  # generous bound for slow CI; the benchmark reports the real figure
    assert len(c) > 100
    assert len(set(c.ids)) == len(c.ids)
    splits = {name: len(c.split(name)) for name in corpus.SPLITS}
    assert sum(splits.values()) == len(c) and min(splits.values()) > 0
    assert all(len(p.parts) == c.style.voices for p in c.pieces)
    ranges = c.voice_ranges()
    assert all(lo < hi for lo, hi in ranges)


def test_unknown_style_is_a_clear_error():
    with pytest.raises(UnknownStyleError, match="unknown style 'jazz'; known styles: chorale, folk"):
        corpus.load_style("jazz")


def test_transpositions_stay_inside_the_ranges(tiny_chorales):
    piece = tiny_chorales.pieces[0]
    ranges = tiny_chorales.voice_ranges()
    shifts = corpus.transpositions(piece, ranges, max_shift=6)
    assert 0 in shifts
    for shift in shifts:
        moved = piece.transpose(shift)
        for part, (lo, hi) in zip(moved.parts, ranges):
            span = part.pitch_span()
            assert lo <= span[0] and span[1] <= hi


def test_cache_is_keyed_by_versions_and_used(monkeypatch, tmp_path, tiny_chorales):
    monkeypatch.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path))
    folder = corpus.cache_dir()
    assert folder.parent == tmp_path
    assert f"v{corpus.PREPROCESSING_VERSION}" in folder.name and "music21-" in folder.name
    corpus.save_corpus(tiny_chorales, folder / "chorale.npz")
    assert corpus.load_style("chorale").ids == tiny_chorales.ids  # the cache wins over the packaged copy


def test_stale_preprocessing_version_is_not_used(monkeypatch, tmp_path, tiny_chorales):
    monkeypatch.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path))
    old = corpus.Corpus(
        tiny_chorales.style,
        tiny_chorales.pieces,
        tiny_chorales.ids,
        info={"preprocessing": corpus.PREPROCESSING_VERSION - 1},
    )
    corpus.save_corpus(old, corpus.cache_dir() / "chorale.npz")
    assert len(corpus.load_style("chorale")) > 100  # fell through to the packaged copy
    with np.load(corpus.PACKAGED_DIR / "chorale.npz") as data:
        header = json.loads(data["header"].tobytes())
    assert header["info"]["preprocessing"] == corpus.PREPROCESSING_VERSION
