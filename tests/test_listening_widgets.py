"""The Workbench listens: the analysis panel, faults ringed on the roll, similar pieces, like / dislike and taste."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import musewidgets
from musewidgets.analysis.mood import DISCLAIMER
from musewidgets.analysis.taste import piece_features
from musewidgets.analysis.voice_leading import faults
from musewidgets.errors import MusewidgetsError
from musewidgets.piece import Note, Part, Piece
from musewidgets.widgets.analysis import AnalysisPanel, fault_marks


@pytest.fixture
def bench(tmp_path):
    wb = musewidgets.Workbench(model="lstm", style="chorale", taste_file=tmp_path / "taste.json")
    wb.controls.bars.value = 4
    wb.controls.seed.value = 5
    wb.controls.lock_seed.value = True
    yield wb
    wb.wait(30)


def fifths() -> Piece:
    """Two voices in parallel fifths (C/G, D/A, E/B in half notes), then contrary motion."""
    upper = Part("Upper", (Note(67, 0, 8), Note(69, 8, 8), Note(71, 16, 8), Note(72, 24, 8)))
    lower = Part("Lower", (Note(60, 0, 8), Note(62, 8, 8), Note(64, 16, 8), Note(57, 24, 8)))
    return Piece((upper, lower), key="C major")


def test_fault_marks_ring_the_notes_of_each_fault():
    piece = fifths()
    found = faults(piece)
    assert [f.kind for f in found] == ["parallel fifth", "parallel fifth"]
    assert fault_marks(piece, found) == [(8, 62), (8, 69), (16, 64), (16, 71)]


def test_analysis_is_computed_only_when_asked_and_rings_faults_on_the_roll(bench):
    take = bench.generate()
    assert bench.analysis.layout.display == "none" and bench.analysis.summary.value == ""
    plain = bench.view.roll_png
    bench.analyse_button.value = True
    text = bench.analysis.summary.value
    assert bench.analysis.layout.display == ""
    for word in ("Style", "chorale", "Mood", "rule-based estimate", "Voice-leading faults", "real chorale"):
        assert word in text
    assert DISCLAIMER.split(",")[0] in text
    if bench.analysis.faults:
        assert bench.view.roll_png != plain  # rings drawn
    bench.analyse_button.value = False
    assert bench.view.roll_png == plain and bench.analysis.summary.value == ""
    assert bench.current is take and bench.view.audio_wav  # the sound and the take are untouched


def test_analysis_follows_the_selected_take(bench):
    bench.analyse_button.value = True
    first = bench.generate()
    bench.controls.style.value = "folk"
    bench.generate()
    assert "real folk" in bench.analysis.summary.value
    bench.take_list.selected = first.id
    assert "real chorale" in bench.analysis.summary.value


def test_similar_pieces_are_listed_and_playable(bench, monkeypatch):
    from musewidgets.analysis import similarity

    small = similarity.build_index(limit=40, progress=False)
    monkeypatch.setattr(similarity, "load_index", lambda *a, **k: small)
    bench.analyse_button.value = True
    bench.generate()
    bench.analysis.similar_button.click()
    assert len(bench.analysis.neighbours) == 5 and len(bench.analysis.similar_box.children) == 5
    bench.analysis.similar_box.children[0].click()
    assert bench.analysis.similar_view.layout.display == "" and bench.analysis.similar_view.audio_wav
    assert bench.analysis.neighbours[0].id in bench.analysis.similar_view.label


def test_an_empty_piece_is_not_analysed():
    panel = AnalysisPanel()
    panel.show(Piece((Part("empty"),), length=16), "folk")
    assert "No notes" in panel.summary.value and panel.faults == []
    assert panel.find_similar() == []


def test_like_and_dislike_teach_the_taste_and_are_saved(bench, tmp_path):
    with pytest.raises(MusewidgetsError, match="select a take"):
        bench.rate(1)
    bench.generate()
    bench.rate(1)
    assert bench.current.rating == 1 and bench.current.label.startswith("♥ ")
    assert "1 rating so far" in bench.status.value
    bench.take_list.dislike_button.click()
    assert bench.taste.n_ratings == 2 and bench.current.rating == -1 and bench.current.label.startswith("× ")
    # issue 33: an emoji (👍) was a missing-glyph box in a browser without an emoji font; ♥ and × are in every font
    assert all(ord(ch) < 0x2600 or ch in "★♥" for t in bench.takes for ch in t.label)
    saved = json.loads((tmp_path / "taste.json").read_text())
    assert saved["liked"] == [True, False]
    again = musewidgets.Workbench(model="lstm", style="chorale", taste_file=tmp_path / "taste.json")
    assert again.taste.n_ratings == 2  # the taste outlives the session
    bench.reset_taste_button.click()
    assert bench.taste.n_ratings == 0 and json.loads((tmp_path / "taste.json").read_text())["liked"] == []
    with pytest.raises(ValueError, match="`rating`"):
        bench.rate(0)


def test_a_damaged_taste_file_is_reported_not_replaced(tmp_path):
    path = tmp_path / "taste.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(MusewidgetsError, match="not a saved taste"):
        musewidgets.Workbench(taste_file=path)
    assert path.read_text() == '{"format": "something else"}'


def test_candidates_are_ranked_as_they_will_be_heard(bench, monkeypatch):
    """The taste learnt from takes at the tempo and with the instruments chosen; it ranks candidates the same way."""
    bench.controls.style.value = "folk"
    bench.controls.candidates.value = 3
    bench.controls.tempo.value = 61
    ranked = []
    monkeypatch.setattr(bench.history, "rank", lambda pieces: ranked.extend(pieces) or list(range(len(pieces))))
    bench.generate()
    assert len(ranked) == 3 and {p.tempo for p in ranked} == {61.0}
    assert [p.parts[0].program for p in ranked] == [bench.takes[-1].piece.parts[0].program] * 3


def test_candidates_come_ranked_by_taste(bench):
    bench.controls.style.value = "folk"
    bench.controls.candidates.value = 6
    bench.generate()
    unranked = [t.piece for t in sorted(bench.takes, key=lambda t: t.settings["candidate"])]
    assert [t.settings["candidate"] for t in bench.takes] == list(range(6))  # no ratings: sampling order
    low = min(bench.takes, key=lambda t: piece_features(t.piece)["mean_pitch"])
    high = max(bench.takes, key=lambda t: piece_features(t.piece)["mean_pitch"])
    bench.take_list.selected = high.id
    bench.rate(1)
    bench.take_list.selected = low.id
    bench.rate(-1)
    # scoring adds the candidates to the taste's running statistics: rank on a copy in the state the Workbench
    # ranks in, so that two nearly tied candidates compare the same way here
    before = copy.deepcopy(bench.taste)
    taken = bench.generate()  # same locked seed: the same six candidates, now best-liked first
    batch = bench.takes[-6:]
    assert taken is batch[0]
    order = [t.settings["candidate"] for t in batch]
    assert sorted(order) == list(range(6))
    expected = before.rank([piece_features(p) for p in unranked])
    assert order == [int(i) for i in expected]
    assert "ranked by your taste" in bench.status.value
    names = bench.taste.feature_names
    scores = bench.taste.score(np.array([[piece_features(t.piece)[k] for k in names] for t in batch]))
    assert scores[0] == scores.max()


def test_a_failing_analysis_is_shown_and_the_take_is_kept(bench, monkeypatch):
    from musewidgets.analysis import classifier

    def broken(*args, **kwargs):
        raise musewidgets.errors.CheckpointError("classifier.pt: refused: the file is damaged")

    monkeypatch.setattr(classifier, "load_classifier", broken)
    bench.analyse_button.value = True
    take = bench.generate()
    assert bench.takes == [take] and bench.view.audio_wav  # shown, heard and kept
    assert "The analysis failed" in bench.analysis.summary.value and "damaged" in bench.analysis.summary.value


def test_analysis_says_unsure_above_the_styles_for_music_far_from_all_of_them():
    from musewidgets.evaluation.unsure import far_pieces
    from musewidgets.sampling import load_sampler

    panel = AnalysisPanel()
    panel.show(far_pieces()["drum patterns"][0])
    assert "Unsure (" in panel.summary.value and "not to be trusted" in panel.summary.value
    assert panel.summary.value.index("Unsure") < panel.summary.value.index("chorale")  # above the style bars
    [take] = load_sampler("lstm").generate(style="chorale", bars=4, seed=5)
    panel.show(take, "chorale")
    assert "Unsure" not in panel.summary.value
