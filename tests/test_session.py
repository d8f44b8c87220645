"""Takes are never lost: saved as they are made, restored after a restart, problems reported, never fatal."""

from __future__ import annotations

import errno
import html
import json
import os
import subprocess
import sys
import textwrap

import pytest

import musewidgets
from musewidgets.cli import main
from musewidgets.errors import MusewidgetsError
from musewidgets.piece import Note, Part, Piece
from musewidgets.session import Session, Take, clear_sessions, list_sessions, sessions_root

from .conftest import make_piece

RED = "#b00020"


def workbench(**kwargs):
    wb = musewidgets.Workbench(model="lstm", style="chorale", **kwargs)
    wb.controls.bars.value = 1
    return wb


def take_files(folder) -> list[str]:
    return sorted(p.name for p in folder.glob("take-*"))


# ------------------------------------------------------------------ the piece round trip
def test_piece_to_dict_round_trips_every_field():
    piece = make_piece().replace(style="folk", length=40)
    ranged = piece.replace(parts=(Part("S", (Note(60, 0, 4, velocity=3),), program=52, range=(60, 81)),))
    for p in (piece, ranged):
        data = json.loads(json.dumps(p.to_dict()))  # plain JSON values
        assert Piece.from_dict(data) == p


@pytest.mark.parametrize("data", [{}, {"parts": [{"name": "S"}]}, None, {"parts": "x"}])
def test_piece_from_dict_refuses_what_is_not_a_piece(data):
    with pytest.raises((ValueError, TypeError)):
        Piece.from_dict(data)


# ------------------------------------------------------------------ the Workbench saves and restores
def test_every_take_is_saved_as_it_is_made_and_restored_with_stars_ratings_and_selection():
    wb = workbench()
    first, second, third = wb.generate(), wb.generate(), wb.generate()
    folder = wb.session.folder
    assert take_files(folder) == [f"take-{t.id:04d}.{s}" for t in (first, second, third) for s in ("json", "mid")]
    assert musewidgets.read(folder / f"take-{first.id:04d}.mid").n_notes == first.piece.n_notes  # any program opens it

    wb.take_list.selected = second.id
    wb.take_list.toggle_star()
    wb.rate(-1)
    wb.take_list.selected = third.id
    wb.take_list.delete()  # moved aside, not restored
    assert take_files(folder / "deleted") == [f"take-{third.id:04d}.json", f"take-{third.id:04d}.mid"]
    wb.take_list.selected = second.id

    again = workbench()  # as after a kernel restart
    assert again.takes == [] and not again.restore_button.disabled
    again.restore_button.click()
    assert [t.id for t in again.takes] == [first.id, second.id]
    assert again.current.id == second.id and again.current.starred and again.current.rating == -1
    for old, new in zip((first, second), again.takes):
        assert new.piece == old.piece and new.settings == old.settings
    assert again.taste.n_ratings == 1  # the taste learnt in the session comes back with it
    assert "Restored 2 takes" in again.status.value


def test_the_restored_session_goes_on_and_takes_made_before_restoring_join_it():
    wb = workbench()
    old = wb.generate()
    again = workbench()
    made_first = again.generate()
    new_folder = again.session.folder
    again.restore(wb.session.folder)
    assert [t.id for t in again.takes] == [old.id, made_first.id]
    assert again.session.folder == wb.session.folder and not new_folder.exists()  # one folder keeps it all
    later = again.generate()
    assert take_files(wb.session.folder) == sorted(
        f"take-{t.id:04d}.{s}" for t in (old, made_first, later) for s in ("json", "mid")
    )


def test_restored_ids_that_clash_are_renumbered_and_continuations_follow(tmp_path):
    saved = Session(tmp_path / "old")
    base = {"model": "lstm", "style": "chorale", "temperature": 1.0, "seed": 1, "n": 1}
    a = Take(make_piece(), dict(base), id=900)
    b = Take(make_piece(), {**base, "continue_of": 900, "continue_bars": 2}, id=901)
    assert saved.sync([a, b], selected=901) == []
    wb = workbench()
    clash = Take(make_piece(), dict(base), id=900)
    wb.take_list.add(clash)
    wb.restore(saved.folder)
    ids = [t.id for t in wb.takes]
    assert len(set(ids)) == 3 and ids[-1] == 900  # ours kept its id, the restored one moved
    moved, follows = wb.takes[0], wb.takes[1]
    assert moved.id != 900 and follows.settings["continue_of"] == moved.id
    assert wb.current.id == follows.id  # the saved selection, renumbered with it
    on_disk = {json.loads(p.read_text())["id"] for p in saved.folder.glob("take-*.json")}
    assert on_disk == set(ids)


def test_a_named_session_continues_at_once():
    wb = workbench(session="lesson-3")
    take = wb.generate()
    assert wb.session.folder == sessions_root() / "lesson-3"
    again = workbench(session="lesson-3")
    assert [t.id for t in again.takes] == [take.id] and again.current.id == take.id


def test_memory_only_session_writes_nothing():
    wb = workbench(session=False)
    wb.generate()
    assert not sessions_root().exists() or list_sessions() == []
    assert "memory only" in wb.session_label.value


def test_nothing_to_restore_is_said_plainly():
    wb = workbench()
    assert wb.restore_button.disabled
    with pytest.raises(MusewidgetsError, match="no earlier session"):
        wb.restore()
    with pytest.raises(MusewidgetsError, match="no saved session"):
        wb.restore("never-made")


# ------------------------------------------------------------------ problems are reported, never fatal
def test_an_unwritable_session_folder_is_reported_and_the_takes_stay(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the session folder should be")
    wb = workbench(session=blocker / "session")
    take = wb.generate()
    assert RED in wb.status.value and "Not saved" in wb.status.value and str(blocker) in wb.status.value
    assert wb.takes == [take]
    assert wb.generate() is not None and len(wb.takes) == 2  # the next take is made (and tried again)


def _full_disk(monkeypatch, folder):
    """Every write into ``folder`` fails as on a full disk (a temporary file cannot be written)."""
    real = type(folder).write_bytes

    def write_bytes(self, data):
        if folder in self.parents:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data)

    monkeypatch.setattr(type(folder), "write_bytes", write_bytes)
    return real


def test_a_full_disk_is_reported_and_saving_resumes_when_there_is_room(monkeypatch):
    wb = workbench()
    real = _full_disk(monkeypatch, wb.session.folder)
    first, second = wb.generate(), wb.generate()
    assert "No space left on device" in wb.status.value
    assert f"takes #{first.id}, #{second.id} could not be saved" in wb.status.value  # both named, not the first only
    assert take_files(wb.session.folder) == []  # no MIDI left without its take (issue 32)
    monkeypatch.setattr(type(wb.session.folder), "write_bytes", real)
    third = wb.generate()
    assert RED not in wb.status.value
    assert take_files(wb.session.folder) == sorted(
        f"take-{t.id:04d}.{s}" for t in (first, second, third) for s in ("json", "mid")
    )


def test_two_kernels_saving_into_one_session_lose_nothing(tmp_path):
    """Two processes on one named session, each making takes at once (issue 32: half of them were overwritten)."""
    code = textwrap.dedent(
        f"""
        import musewidgets
        wb = musewidgets.Workbench(model="lstm", style="folk", session={str(tmp_path / "shared")!r})
        wb.controls.bars.value = 1
        made = [wb.generate() for _ in range(6)]
        assert "Not saved" not in wb.status.value, wb.status.value
        print(",".join(str(t.id) for t in made))
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    kernels = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)]
    kernels.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env))
    said = [k.communicate(timeout=300)[0] for k in kernels]
    assert [k.returncode for k in kernels] == [0, 0]
    ids = [int(i) for out in said for i in out.strip().split(",")]
    assert len(set(ids)) == 12  # each kernel's takes under numbers of their own
    wb = workbench()
    restored = wb.restore(tmp_path / "shared")
    assert sorted(t.id for t in restored) == sorted(ids)


def test_a_midi_file_without_a_program_change_is_saved_as_a_take(tmp_path):
    """numpy's integers from the MIDI reader once made the take's JSON fail (issue 32)."""
    import mido

    from .test_widgets import upload_value

    song = mido.MidiFile()
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=n, velocity=80, time=0 if i == 0 else 240)
            for i, n in enumerate([60, 62, 64, 65])
        ]
    )
    track += [mido.Message("note_off", note=65, velocity=0, time=480)]
    song.tracks.append(track)
    path = tmp_path / "plain.mid"
    song.save(path)
    wb = workbench()
    wb.open_file.value = upload_value("plain.mid", path.read_bytes())
    take = wb.takes[-1]
    assert RED not in wb.status.value, wb.status.value
    assert (wb.session.folder / f"take-{take.id:04d}.json").exists()


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda d: d["settings"].update(model=123), "setting 'model' is damaged"),
        (lambda d: d["settings"].update(seed="x"), "setting 'seed' is damaged"),
        (lambda d: d["piece"].update(length=10**12), "longer than a take can be"),
    ],
)
def test_a_damaged_take_is_skipped_by_name_and_the_session_restores(damage, why):
    wb = workbench()
    good, bad = wb.generate(), wb.generate()
    path = wb.session.folder / f"take-{bad.id:04d}.json"
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    again = workbench(session=wb.session.folder)  # a named session goes on at once (a TypeError, before)
    said = html.unescape(again.status.value)
    assert [t.id for t in again.takes] == [good.id]
    assert f"take-{bad.id:04d}.json was skipped" in said and why in said


def test_a_deeply_nested_take_file_and_a_duplicate_id_are_skipped_by_name():
    wb = workbench()
    good = wb.generate()
    folder = wb.session.folder
    (folder / "take-0998.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "take-0999.json").write_text((folder / f"take-{good.id:04d}.json").read_text())  # the same take
    again = workbench()
    assert [t.id for t in again.restore(folder)] == [good.id]
    assert "take-0998.json was skipped: it is nested too deeply" in again.status.value
    assert f"take-0999.json was skipped: it is take #{good.id}" in again.status.value


def test_a_write_that_dies_midway_leaves_the_saved_take_whole(monkeypatch):
    wb = workbench()
    take = wb.generate()
    path = wb.session.folder / f"take-{take.id:04d}.json"
    before = path.read_bytes()
    monkeypatch.setattr(type(path), "replace", lambda self, target: (_ for _ in ()).throw(OSError("killed")))
    wb.take_list.toggle_star()  # the star is not saved ...
    assert "Not saved" in wb.status.value
    assert path.read_bytes() == before and not list(wb.session.folder.glob("*.tmp"))  # ... the take is whole


def test_damaged_take_files_are_skipped_and_named(tmp_path):
    wb = workbench()
    good = wb.generate()
    folder = wb.session.folder
    (folder / "take-0999.json").write_text("{not json")
    (folder / "take-0998.json").write_text(json.dumps({"format": "musewidgets.take", "version": 99}))
    again = workbench()
    again.restore(folder)
    assert [t.id for t in again.takes] == [good.id]
    assert "take-0999.json was skipped" in again.status.value and "take-0998.json" in again.status.value


def test_takes_survive_a_killed_kernel(tmp_path):
    """A child process makes two takes and dies without any cleanup; a new Workbench restores both."""
    code = textwrap.dedent(
        """
        import os, musewidgets
        wb = musewidgets.Workbench(model="lstm", style="chorale")
        wb.controls.bars.value = 1
        takes = [wb.generate(), wb.generate()]
        print(",".join(str(t.id) for t in takes), flush=True)
        os._exit(9)  # no atexit, no flush of anything the session did not write already
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 9, done.stderr
    ids = [int(i) for i in done.stdout.strip().split(",")]
    wb = workbench()
    wb.restore()
    assert [t.id for t in wb.takes] == ids and wb.current.id == ids[-1]  # the last take made was selected


# ------------------------------------------------------------------ listing and clearing
def test_sessions_are_listed_latest_first_and_cleared_without_touching_other_folders(capsys):
    a, b = workbench(), workbench()
    a.generate()
    b.generate()
    os.utime(next(a.session.folder.glob("take-*.json")), (1, 1))  # a was written long ago
    assert [s.folder for s in list_sessions()] == [b.session.folder, a.session.folder]
    other = sessions_root() / "my-notes"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["sessions"]) == 0
    assert "2 saved sessions" in capsys.readouterr().out
    assert main(["sessions", "--clear"]) == 1  # not a terminal: nothing is deleted without --yes
    assert "add --yes" in capsys.readouterr().err and len(list_sessions()) == 2
    assert main(["sessions", "--clear", "--yes"]) == 0
    assert "deleted 2 saved sessions" in capsys.readouterr().out
    assert list_sessions() == [] and (other / "notes.txt").exists()
    assert clear_sessions() == 0


def test_clearing_never_deletes_a_users_folder_that_looks_like_a_session(capsys):
    """A folder of the user's own beside the sessions (issue 32: `take-home-exam/` and an empty folder were
    deleted) is kept; an empty folder named as a session is, and so is a session with a deleted take."""
    wb = workbench()
    wb.generate()
    wb.generate()
    wb.take_list.delete()
    root = sessions_root()
    exam = root / "take-home-exam"
    exam.mkdir()
    (exam / "take-1-answers.txt").write_text("my answers")
    (root / "empty").mkdir()
    (root / "2026-01-01_10-00-00").mkdir()  # a Workbench opened and closed without a take
    (root / "notes.txt").write_text("a file beside the sessions")
    assert main(["sessions", "--clear", "--yes"]) == 0
    assert "deleted 2 saved sessions" in capsys.readouterr().out
    assert (exam / "take-1-answers.txt").read_text() == "my answers" and (root / "empty").is_dir()
    assert (root / "notes.txt").exists() and not wb.session.folder.exists()


def test_the_sessions_folder_set_to_a_file_is_an_error(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("MUSEWIDGETS_SESSION_DIR", str(tmp_path / "file"))
    assert main(["sessions"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
