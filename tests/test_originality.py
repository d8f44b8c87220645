"""Originality (musewidgets.analysis.originality): the longest passage a take shares note for note, in any
transposition, with a training piece of its style, and where."""

from __future__ import annotations

import pytest

from musewidgets.analysis.originality import SEED_NOTES, copied
from musewidgets.datasets import corpus
from musewidgets.piece import Note, Part, Piece


def _train(style: str, i: int = 0) -> tuple[str, Piece]:
    data = corpus.load_style(style, progress=False)
    pid = [p for p in data.ids if corpus.split_of(p) == "train"][i]
    return pid, data.get(pid)


def test_a_training_tune_transposed_and_cut_is_found_with_its_bars_and_shift():
    pid, tune = _train("folk", 3)
    moved = tune.transpose(5).slice_bars(1, 4)  # bars 1-3 after the pickup, a fourth up
    found = copied(moved, "folk")
    assert found.piece == pid and found.shift == 5
    assert found.notes == len(moved.parts[0].notes) and found.bars >= 2
    assert "semitones up" in str(found) and pid in str(found)


def test_the_bars_it_names_hold_the_same_notes_in_both():
    _, tune = _train("irish", 7)
    found = copied(tune.slice_bars(2, 5), "irish")
    source = corpus.load_style("irish", progress=False).get(found.piece)
    first, last = found.piece_bars
    theirs = [
        n.pitch + found.shift
        for n in source.parts[0].notes
        if source.pickup + (first - 1) * source.steps_per_bar <= n.start < source.pickup + last * source.steps_per_bar
    ]
    ours = [n.pitch for n in tune.slice_bars(2, 5).parts[0].notes]
    assert any(theirs[i : i + found.notes] == ours[: found.notes] for i in range(len(theirs)))


def test_a_voice_of_a_four_part_take_is_found_against_any_voice_and_named():
    pid, chorale = _train("chorale", 5)
    bass = chorale.parts[3]
    other = Part("Soprano", tuple(Note(n.pitch + 24, n.start, n.duration) for n in bass.notes))  # the bass, sung high
    take = chorale.replace(parts=(other, *chorale.parts[1:3], Part("Bass", ())))
    found = copied(take, "chorale")
    assert found.piece == pid and found.voice == 0 and found.shift == 24
    assert "of the soprano" in str(found) and "of the bass of" in str(found)


def test_random_notes_copy_nothing():
    notes = tuple(Note(60 + (7 * i * i) % 19, 3 * i, 3) for i in range(40))
    found = copied(Piece(parts=(Part("melody", notes),), style="folk"))
    assert found.piece is None and found.bars == 0 and str(SEED_NOTES) in str(found)


def test_a_style_outside_the_corpus_is_named():
    with pytest.raises(ValueError, match="`style` must be one of"):
        copied(Piece(parts=(Part("melody", (Note(60, 0, 4),)),)), "jazz")


def test_analyse_says_where_a_passage_comes_from():
    from musewidgets.widgets.analysis import AnalysisPanel

    pid, tune = _train("folk", 3)
    panel = AnalysisPanel()
    panel.show(tune.slice_bars(0, 4), "folk")
    assert "Originality" in panel.summary.value and pid in panel.summary.value
