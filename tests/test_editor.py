"""The roll editor and composing by filling in, in the Workbench: selections, Regenerate (only the selected cells
change; a seed replays bit for bit), Harmonize (the melody kept), hand edits (validated, undone and redone, each
first edit a new take with its parent), takes the infill model cannot take refused in plain words, and all of it
saved and restored. Headless (ipywidgets without a page); the shipped infill model with 4 Gibbs rounds."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

import musewidgets
from musewidgets.codecs import TokenCodec
from musewidgets.datasets import corpus
from musewidgets.errors import MusewidgetsError
from musewidgets.export import to_bytes
from musewidgets.piece import Note, Part, Piece
from musewidgets.sampling.infill import bar_mask
from musewidgets.session import Session, Take
from musewidgets.widgets import RollEditor

from .conftest import make_piece
from .test_widgets import upload_value

CODEC = TokenCodec()
RED = "#b00020"
ROUNDS = 4


# ----- helpers and fixtures
def grid(piece: Piece) -> np.ndarray:
    """(voices, steps) tokens of the token codec."""
    return CODEC.encode(piece).tokens.reshape(-1, len(piece.parts)).T


def notes_of(piece: Piece) -> list[tuple]:
    return [tuple((n.pitch, n.start, n.duration) for n in p.notes) for p in piece.parts]


@pytest.fixture(scope="module")
def chorale() -> Piece:
    """8 bars of a held-out chorale: four voices, a pickup."""
    pieces = corpus.load_style("chorale", progress=False).split("test")
    return next(p for p in pieces if p.pickup and p.n_bars >= 8).slice_bars(-1, 8).replace(style="chorale")


def chorale_take(piece: Piece, **settings) -> Take:
    base = {"model": "lstm", "style": "chorale", "temperature": 1.0, "seed": 0, "n": 1}
    return Take(piece, {**base, **settings})


@pytest.fixture
def wb(chorale):
    bench = musewidgets.Workbench(model="lstm", style="chorale")
    bench.infill_rounds = ROUNDS
    bench.render_delay = 0  # sound and score follow each edit at once
    bench.take_list.add(chorale_take(chorale))
    yield bench
    bench.wait(60)


def edit(editor: RollEditor, old, new, seq: int) -> None:
    """What the page sends for one edit."""
    editor._on_message(editor, {"type": "edit", "old": old, "new": new, "seq": seq}, [])


def first_note(piece: Piece, voice: int) -> list[int]:
    n = piece.parts[voice].notes[0]
    return [voice, n.pitch, n.start, n.duration]


# ----- the editor alone
def test_the_editor_shows_notes_and_grid(chorale):
    ed = RollEditor()
    ed.show(chorale)
    assert len(ed.notes) == chorale.n_notes
    assert sorted(map(tuple, ed.notes)) == sorted(
        (v, n.pitch, n.start, n.duration) for v, p in enumerate(chorale.parts) for n in p.notes
    )
    g = ed.grid
    assert g["steps"] == chorale.bar_start(chorale.n_bars) and g["pickup"] == chorale.pickup
    assert [v["name"] for v in g["voices"]] == [p.name for p in chorale.parts]
    assert g["low"] <= min(r[1] for r in ed.notes) and g["high"] >= max(r[1] for r in ed.notes)
    assert ed.piece is chorale and not ed.can_undo and not ed.can_redo


def test_an_edit_message_moves_adds_lengthens_and_deletes_notes(chorale):
    ed = RollEditor()
    ed.show(chorale)
    seen = []
    ed.on_change(seen.append)
    old = first_note(chorale, 3)
    moved = [3, old[1] - 2, old[2], old[3]]
    edit(ed, old, moved, 1)
    assert ed.message == "" and ed.ack == 1 and ed.can_undo
    bass = ed.piece.parts[3].notes
    assert (bass[0].pitch, bass[0].start, bass[0].duration) == (old[1] - 2, old[2], old[3])
    assert bass[0].velocity == chorale.parts[3].notes[0].velocity
    assert notes_of(ed.piece)[:3] == notes_of(chorale)[:3]  # the other voices as they were
    assert seen == [ed.piece] and moved in ed.notes
    # lengthen the last note of the soprano up to the end, delete it, add one
    last = chorale.parts[0].notes[-1]
    row = [0, last.pitch, last.start, last.duration]
    end = chorale.bar_start(chorale.n_bars)
    edit(ed, row, [0, last.pitch, last.start, end - last.start], 2)
    assert ed.piece.parts[0].notes[-1].end == end
    edit(ed, [0, last.pitch, last.start, end - last.start], None, 3)
    assert len(ed.piece.parts[0].notes) == len(chorale.parts[0].notes) - 1
    edit(ed, None, [0, 70, last.start, 2], 4)
    assert ed.piece.parts[0].notes[-1] == Note(70, last.start, 2)
    assert ed.ack == 4 and len(seen) == 4


def test_undo_and_redo_walk_the_edits(chorale):
    ed = RollEditor()
    ed.show(chorale)
    old = first_note(chorale, 1)
    edit(ed, old, [1, old[1] + 1, old[2], old[3]], 1)
    after = ed.piece
    ed._on_message(ed, {"type": "undo", "seq": 2}, [])
    assert ed.piece == chorale and ed.can_redo and not ed.can_undo and ed.ack == 2
    ed._on_message(ed, {"type": "redo", "seq": 3}, [])
    assert ed.piece == after and ed.can_undo and not ed.can_redo
    assert ed.undo() == chorale and ed.undo() is None and ed.piece == chorale
    edit(ed, old, [1, old[1] - 1, old[2], old[3]], 4)  # a new edit forgets what could be redone
    assert not ed.can_redo and ed.redo() is None


@pytest.mark.parametrize(
    "old, new, words",
    [
        (None, [0, 128, 0, 1], "outside the MIDI range"),
        (None, [7, 60, 0, 1], "no voice 7"),
        (None, [0, 60, -1, 1], "step 0 or later"),
        (None, [0, 60, 0, 0], "1 step or more"),
        (None, [0, 60, 10_000, 1], "run past the end of the piece (bar 8)"),
        ([0, 1, 0, 1], None, "has no such C#-1 in the pickup"),
        (None, "C4", "whole numbers"),
    ],
)
def test_invalid_edits_are_refused_and_explained(chorale, old, new, words):
    ed = RollEditor()
    ed.show(chorale)
    rows = list(ed.notes)
    edit(ed, old, new, 5)
    assert ed.message.startswith("⚠") and words in ed.message
    assert ed.piece is chorale and ed.notes == rows and ed.ack == 5 and not ed.can_undo
    with pytest.raises(MusewidgetsError, match=words.split()[0]):
        ed.edit(old, new)


def test_a_voice_sings_one_note_at_a_time(chorale):
    ed = RollEditor()
    ed.show(chorale)
    a, b = chorale.parts[2].notes[:2]
    edit(ed, None, [2, 60, a.start, 1], 1)  # on top of the tenor's first note
    assert "already sings" in ed.message and ed.piece is chorale
    edit(ed, [2, a.pitch, a.start, a.duration], [2, a.pitch, a.start, a.duration + b.duration], 2)  # into the next
    assert "already sings" in ed.message and ed.piece is chorale
    edit(ed, [2, a.pitch, a.start, a.duration], [1, a.pitch, a.start, a.duration], 3)
    assert "stays in its voice" in ed.message


def test_selection_is_checked_and_described(chorale):
    ed = RollEditor()
    ed.show(chorale)
    ed.select((2, 4), [2, 1])
    assert ed.bars == (2, 4) and ed.voices == [1, 2]
    assert ed.describe_selection() == "bars 3-4 Alto, Tenor"
    ed.select((-1, 0))
    assert ed.describe_selection().startswith("the pickup") and ed.voices == [0, 1, 2, 3]
    with pytest.raises(MusewidgetsError, match="start < stop"):
        ed.select((3, 99))
    with pytest.raises(MusewidgetsError, match="voices"):
        ed.select((0, 1), [4])
    ed.selection = {"bars": [1, 2], "voices": [3]}  # what the page sets
    assert ed.bars == (1, 2) and ed.voices == [3]
    ed.show(chorale.slice_bars(0, 1))  # the selection no longer fits: cleared
    assert ed.bars is None


def test_edit_mode_clears_the_selection_and_undo_clears_the_warning(chorale):
    """Issue 33: the selection stayed highlighted in Edit mode, and a refused edit's warning outlived its Undo."""
    ed = RollEditor()
    ed.show(chorale)
    ed.select((1, 3), [0])
    ed.mode = "edit"
    assert ed.selection == {} and ed.bars is None  # nothing highlighted: edits change the take, not a selection
    old = first_note(chorale, 0)
    edit(ed, old, [0, old[1] + 1, old[2], old[3]], 1)
    edit(ed, None, [0, 60, 10_000, 1], 2)  # refused: the warning shows
    assert ed.message.startswith("⚠")
    ed._on_message(ed, {"type": "undo", "seq": 3}, [])
    assert ed.message == "" and ed.piece == chorale
    edit(ed, None, [0, 60, 10_000, 1], 4)
    assert ed.undo() is None and ed.message.startswith("⚠")  # nothing to undo: the warning stays
    ed._on_message(ed, {"type": "redo", "seq": 5}, [])
    assert ed.message == "" and ed.piece != chorale


def test_the_roll_shows_a_piece_in_the_making_without_taking_edits(chorale):
    ed = RollEditor()
    ed.show_progress(chorale.slice_bars(0, 2))
    assert ed.pending and ed.notes and ed.grid["steps"] == chorale.slice_bars(0, 2).bar_start(2)
    with pytest.raises(MusewidgetsError, match="still being made"):
        ed.edit(None, [0, 60, 0, 1])
    ed.show(chorale, marks=[(0, 60)])
    assert not ed.pending and ed.marks == [[0, 60]] and len(ed.notes) == chorale.n_notes
    ed.show(chorale)  # the same piece: only the marks change
    assert ed.marks == [] and ed.piece is chorale
    ed.show(chorale, marks=[(4, 62)])
    edit(ed, first_note(chorale, 0), None, 1)
    assert ed.marks == []  # the faults were those of the piece before the edit


def test_the_workbench_shows_one_roll_the_editor_linked_to_the_sound(wb):
    """Issue 33: the take was drawn twice (a picture above, the editor below); now the editor is the only roll, and it
    shares a link with the player, whose playhead it draws."""
    take = wb.current
    wb.stage.show(take)
    assert wb.view.roll_png == b"" and wb.view.audio_wav and wb.view.score_svg  # no picture of the roll
    assert wb.editor.piece is take.piece and len(wb.editor.notes) == take.piece.n_notes
    assert wb.view.link and wb.view.link == wb.editor.link
    assert wb.view.timing["seconds_per_step"] == take.piece.seconds_per_step
    assert wb.view.timing["steps"] == wb.editor.grid["steps"]  # the playhead's steps are the roll's
    wb.analyse_button.value = True  # faults are ringed on the editor
    from musewidgets.widgets.analysis import fault_marks

    assert wb.editor.marks == [list(m) for m in fault_marks(take.piece, wb.analysis.faults)]
    wb.analyse_button.value = False
    assert wb.editor.marks == [] and wb.view.roll_png == b""


# ----- Regenerate
def test_regenerate_changes_only_the_selected_cells_and_a_seed_replays(wb):
    parent = wb.current
    wb.controls.seed.value = 11
    wb.controls.lock_seed.value = True
    take = wb.regenerate(bars=(2, 4), voices=[1, 2])
    mask = bar_mask(parent.piece, (2, 4), [1, 2])
    before, after = grid(parent.piece), grid(take.piece)
    assert before.shape == after.shape
    assert np.array_equal(before[~mask], after[~mask])  # the rest, bit for bit
    assert (before[mask] != after[mask]).any()
    s = take.settings
    assert s["kind"] == "regenerate" and s["parent"] == parent.id and s["seed"] == 11 and s["model"] == "infill"
    assert s["bars"] == [2, 4] and s["voices"] == [1, 2] and s["rounds"] == ROUNDS
    assert take.label == f"#{take.id} regenerate bars 3-4 alto,tenor of #{parent.id} T=1 seed=11"
    assert f"Take #{take.id}" in wb.status.value and RED not in wb.status.value
    assert wb.current is take and wb.editor.piece is take.piece
    assert wb.editor.bars == (2, 4)  # kept: Regenerate again tries another seed on the same bars
    wb.take_list.selected = parent.id
    again = wb.regenerate()
    assert np.array_equal(grid(again.piece), after)  # the same seed, bit for bit
    assert parent.piece == wb.take_list.get(parent.id).piece  # the parent untouched


def test_the_regenerate_button_runs_in_the_background_and_stop_keeps_the_first_draw(wb, monkeypatch):
    parent = wb.current
    wb.infill_rounds = 64
    wb.editor.select((0, 2), [3])
    calls = []
    original = wb.jobs.show_rounds

    def stop_after_the_first_draw(done, rounds):
        calls.append(done)
        original(done, rounds)
        if len(calls) == 2:  # the first yield: the first draw is done
            wb.jobs.stop()

    monkeypatch.setattr(wb.jobs, "show_rounds", stop_after_the_first_draw)
    wb.regenerate_button.click()
    wb.wait(120)
    take = wb.current
    assert take.id != parent.id and take.settings["stopped"] is True and "(stopped)" in take.label
    mask = bar_mask(parent.piece, (0, 2), [3])
    assert np.array_equal(grid(parent.piece)[~mask], grid(take.piece)[~mask])
    assert not wb.regenerate_button.disabled and wb.stop_button.disabled


def test_regenerate_without_a_selection_says_what_to_do(wb):
    n = len(wb.takes)
    wb.regenerate_button.click()
    wb.wait(60)
    assert RED in wb.status.value and "drag over bars" in wb.status.value and len(wb.takes) == n


def test_a_take_the_infill_model_cannot_take_is_refused_by_name(wb):
    n = len(wb.takes)
    other = chorale_take(make_piece(), style="gregorian")  # a style of someone's own model, unknown to the infill one
    wb.take_list.add(other)
    wb.editor.select((0, 1))
    with pytest.raises(MusewidgetsError, match="knows only chorale"):
        wb.regenerate()
    assert "gregorian" in wb.status.value and RED in wb.status.value
    two = chorale_take(make_piece())  # two parts, the bass with a chord
    wb.take_list.add(two)
    wb.editor.select((0, 1))
    wb.regenerate_button.click()
    wb.wait(60)
    assert "2 parts" in wb.status.value and "4 voices" in wb.status.value
    assert "Traceback" not in wb.status.value and len(wb.takes) == n + 2


def test_an_opened_file_becomes_a_take_to_regenerate(wb, chorale):
    data = to_bytes(chorale, ".mid")
    wb.open_file.value = upload_value("bach.mid", data)
    opened = wb.current
    assert opened.settings["kind"] == "file" and opened.label == f"#{opened.id} file bach.mid"
    wb.editor.select((1, 3), [0])
    take = wb.regenerate()
    mask = bar_mask(opened.piece, (1, 3), [0])
    assert np.array_equal(grid(opened.piece)[~mask], grid(take.piece)[~mask])
    assert take.settings["parent"] == opened.id


# ----- Harmonize
def test_harmonize_abc_keeps_the_melody_and_writes_three_voices(wb):
    wb.controls.seed.value = 3
    take = wb.harmonize("G A B G | c B A2 | B c d B | A G G2 |]", style="chorale")
    soprano = [(n.pitch, n.start, n.duration) for n in take.piece.parts[0].notes]
    assert soprano[:4] == [(67, 0, 4), (69, 4, 4), (71, 8, 4), (67, 12, 4)] and len(soprano) == 14
    assert len(take.piece.parts) == 4 and all(p.notes for p in take.piece.parts[1:])
    assert take.settings["kind"] == "harmonize" and take.settings["parent"] is None
    assert take.label == f"#{take.id} harmonize chorale T=1 seed=3"
    wb.controls.lock_seed.value = True  # the seed shown (3) replays
    assert wb.harmonize(style="chorale").piece == take.piece


def test_harmonize_says_where_the_melody_moved_in_note_names(wb):
    """Issue 33: the status said "moved up 12 semitones into the soprano range 57-81"; a musician reads note names."""
    from musewidgets.widgets.status import interval_words

    take = wb.harmonize("G, A, B, G, | C B, A,2 |]", style="chorale")  # G3 to C4: under the soprano's A3
    text = html.unescape(wb.status.value)
    assert f"Take #{take.id}: harmonized the ABC melody in the chorale style" in text
    assert "(moved up an octave into the soprano's range, A3 to A5)." in text
    assert not re.search(r"\b(57|81)\b|semitones| ms\b", re.sub(r"<[^>]*>", "", text))
    assert re.fullmatch(r"seed \d+, made in [\d.]+ s", wb.status.details)  # the rest is in the details
    assert [interval_words(n) for n in (1, 3, 7, 12, -12, 15, 24)] == [
        "a semitone",
        "a minor third",
        "a fifth",
        "an octave",
        "an octave",
        "an octave and a minor third",
        "two octaves",
    ]


def test_harmonize_the_top_voice_of_a_take(wb):
    parent = wb.current
    take = wb.harmonize(source="take", style="chorale")
    assert notes_of(take.piece)[0] == notes_of(parent.piece)[0]
    assert take.settings["parent"] == parent.id and f"of #{parent.id}'s melody" in take.label


def test_harmonize_with_nothing_typed_says_so(wb):
    wb.abc_text.value = ""
    wb.melody_source.value = "abc"
    wb.harmonize_button.click()
    wb.wait(60)
    assert RED in wb.status.value and "ABC" in wb.status.value


def test_harmonize_refuses_words_and_a_one_voice_style_in_plain_words(wb):
    """Issue 33: "hello world" made a take of two notes, and style="folk" raised a TraitError."""
    before = list(wb.takes)
    for text in ("hello world", "this is my melody"):
        with pytest.raises(MusewidgetsError, match="words, not a melody in ABC"):
            wb.harmonize(text, style="chorale")
    with pytest.raises(MusewidgetsError, match="style 'folk' has one voice: there is nothing to harmonize"):
        wb.harmonize("G A B G | c B A2 |]", style="folk")
    with pytest.raises(MusewidgetsError, match="unknown style 'jazz' to harmonize in"):
        wb.harmonize("G A B G | c B A2 |]", style="jazz")
    assert wb.takes == before  # nothing made


def test_harmonize_offers_the_styles_the_checkpoint_knows(wb):
    from musewidgets.sampling.infill import load_infill

    known = [s for s, info in load_infill("infill").styles.items() if len(info["parts"]) > 1]
    assert list(wb.harmonize_style.options) == known


# ----- hand edits in the Workbench
def test_the_first_edit_makes_a_take_with_its_parent_and_later_edits_change_it(wb):
    parent = wb.current
    ed = wb.editor
    wav = wb.view.audio_wav
    old = first_note(parent.piece, 0)
    edit(ed, old, [0, old[1] + 2, old[2], old[3]], 1)
    draft = wb.current
    assert draft.id != parent.id and draft.settings["kind"] == "edit" and draft.settings["parent"] == parent.id
    assert draft.label == f"#{draft.id} edit of #{parent.id}"
    assert draft.piece.parts[0].notes[0].pitch == old[1] + 2 and wb.view.audio_wav != wav  # the sound follows
    assert parent.piece.parts[0].notes[0].pitch == old[1]  # nothing lost
    n = len(wb.takes)
    edit(ed, first_note(draft.piece, 3), None, 2)
    assert ed.message == "" and len(wb.takes) == n and wb.current is draft and draft.settings["edits"] == 2
    assert "Take #" in wb.status.value and RED not in wb.status.value
    ed._on_message(ed, {"type": "undo", "seq": 3}, [])
    ed._on_message(ed, {"type": "undo", "seq": 4}, [])
    assert draft.piece == parent.piece and len(wb.takes) == n  # undone in the same take
    wb.take_list.selected = parent.id  # another take: the next edit makes a new one
    wb.take_list.selected = draft.id
    edit(ed, first_note(draft.piece, 1), None, 5)
    assert len(wb.takes) == n + 1 and wb.current.settings["parent"] == draft.id


def test_an_edit_then_regenerate_and_copy_settings(wb):
    parent = wb.current
    edit(wb.editor, first_note(parent.piece, 2), None, 1)
    draft = wb.current
    wb.editor.select((0, 1), [2])
    take = wb.regenerate()
    assert take.settings["parent"] == draft.id
    for t in (draft, take):
        wb.copy_settings(t)
        assert RED not in wb.status.value and wb.controls.lock_seed.value
    assert wb.controls.seed.value == take.settings["seed"]


def test_edited_and_regenerated_takes_are_saved_and_restored_with_their_parents(wb):
    parent = wb.current
    edit(wb.editor, first_note(parent.piece, 0), None, 1)
    draft = wb.current
    edit(wb.editor, first_note(draft.piece, 1), None, 2)  # a later edit of the same take is saved too
    wb.editor.select((3, 4))
    made = wb.regenerate()
    folder = wb.session.folder
    again = musewidgets.Workbench(model="lstm", style="chorale", session=False)
    again.restore(folder)
    back = {t.id: t for t in again.takes}
    assert back[draft.id].settings["parent"] == parent.id and back[made.id].settings["parent"] == draft.id
    assert back[draft.id].piece == draft.piece and back[made.id].piece == made.piece
    assert back[draft.id].label == draft.label and back[made.id].label == made.label
    saved = json.loads((folder / f"take-{draft.id:04d}.json").read_text())
    assert saved["settings"]["edits"] == 2


def test_restored_parents_follow_renumbered_takes(tmp_path, chorale):
    saved = Session(tmp_path / "old")
    a = chorale_take(chorale)
    a.id = 950
    b = Take(chorale, {**a.settings, "kind": "edit", "parent": 950}, id=951)
    assert saved.sync([a, b], selected=951) == []
    wb = musewidgets.Workbench(model="lstm", style="chorale", session=False)
    wb.take_list.add(Take(chorale, dict(a.settings), id=950))
    wb.restore(saved.folder)
    moved, follows = wb.takes[0], wb.takes[1]
    assert moved.id != 950 and follows.settings["parent"] == moved.id


def test_old_takes_without_a_kind_keep_their_labels():
    take = chorale_take(make_piece(), seed=4)
    assert take.label == f"#{take.id} lstm chorale T=1 seed=4"
    assert Take.from_dict(json.loads(json.dumps(take.to_dict()))).label == take.label


def test_a_take_with_a_monophonic_check_is_needed_before_regenerating(wb):
    chords = Part("Bass", (Note(43, 0, 8), Note(50, 0, 8)))
    piece = Piece((*wb.current.piece.parts[:3], chords), time_signature=(4, 4))
    wb.take_list.add(chorale_take(piece))
    wb.editor.select((0, 1))
    with pytest.raises(MusewidgetsError, match="chords"):
        wb.regenerate()
