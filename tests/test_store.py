"""Your own music: a folder read into a token store (skip reasons, stable splits, resuming), symusic against our
reader, training from the store and sampling the new style, and the command line's one-line errors."""

from __future__ import annotations

import json
import os
import time
import warnings

import numpy as np
import pytest

from musewidgets import io
from musewidgets.cli import main
from musewidgets.datasets.corpus import load_style, split_of
from musewidgets.datasets.midi import read_midi_fast
from musewidgets.datasets.preparation import prepare
from musewidgets.datasets.store import StoreError, TokenStore, style_name_for
from musewidgets.piece import Note, Part, Piece

ABC = """X:1
T:Test tune
M:3/4
L:1/8
K:D
A2 | d2 f2 a2 | g2 e2 c2 | d4 |]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A mixed folder: 1-voice MIDI (some ending in rests, some transposed, in a sub-folder), 4-voice MIDI,
    MusicXML and ABC, an empty file, random bytes, a part with chords, a 2-voice piece and a file of another type."""
    root = tmp_path_factory.mktemp("music")
    (root / "sub").mkdir()
    folk = load_style("folk", progress=False).pieces
    irish = load_style("irish", progress=False).pieces
    chorale = load_style("chorale", progress=False).pieces
    for i in range(14):
        p = (folk if i % 2 else irish)[i]
        if i % 3 == 0:
            p = p.replace(length=p.end + p.steps_per_bar)  # trailing rests: a text event marks the end
        if i % 4 == 1:
            p = p.transpose(2)
        io.write(p, root / ("sub" if i % 5 == 0 else ".") / f"tune{i:02d}.mid")
    for i in range(3):
        io.write(chorale[i], root / f"chorale{i}.mid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io.write(folk[20], root / "song.musicxml")
    (root / "tune.abc").write_text(ABC)
    (root / "empty.mid").write_bytes(b"")
    (root / "corrupt.mid").write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    chords = Piece((Part("Piano", (Note(60, 0, 4), Note(64, 0, 4), Note(67, 4, 4))),), time_signature=(4, 4))
    io.write(chords, root / "chords.mid")
    duo = Piece((Part("A", (Note(72, 0, 8),)), Part("B", (Note(48, 0, 8),))), time_signature=(4, 4))
    io.write(duo, root / "duo.mid")
    (root / "notes.txt").write_text("not music")
    (root / ".hidden.mid").write_bytes(b"")
    return root


def test_symusic_gives_the_notes_our_reader_gives(folder):
    checked = 0
    for path in sorted(folder.rglob("*.mid")):
        try:
            expected = io.read_with_report(path)[0]
        except Exception:
            continue  # unreadable for our reader: the store falls back to it and skips the file
        fast = read_midi_fast(path)
        assert fast is not None, path.name  # files our writer made: the fast path vouches for them
        assert fast == expected, path.name  # every note, part, metre, key, tempo and length
        checked += 1
    assert checked >= 19


def test_the_fast_path_hands_unusual_files_to_our_reader(tmp_path):
    path = tmp_path / "two_channels.mid"
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track += [mido.Message("note_on", note=60, velocity=80, channel=0, time=0)]
    track += [mido.Message("note_on", note=48, velocity=80, channel=1, time=0)]
    track += [mido.Message("note_off", note=60, channel=0, time=480), mido.Message("note_off", note=48, channel=1)]
    midi.tracks.append(track)
    midi.save(path)
    assert read_midi_fast(path) is None  # pretty_midi makes two instruments of one track: not guessed here


def test_prepare_reports_what_it_used_and_why_it_skipped_the_rest(folder, tmp_path):
    report = prepare(folder, tmp_path / "store", jobs=1, progress=False)
    assert report.style == style_name_for(folder) and report.voices == 1
    assert report.files == 23  # .txt and hidden files are not counted
    assert report.used == 16  # 14 MIDI tunes, the MusicXML song and the ABC tune
    assert report.skipped == {"unreadable": 1, "no notes": 1, "chords in a voice": 1, "wrong voice count": 4}
    assert any("empty.mid" in e for e in report.examples["no notes"])
    assert any("duo.mid" in e for e in report.examples["wrong voice count"])
    # kept by the reading step (the voice count is chosen afterwards): 14 tunes, 3 chorales and the duo by symusic;
    # empty.mid and corrupt.mid were handed to musewidgets.io.read
    assert report.readers == {"symusic": 18, "music21": 2} and report.fallbacks == 2
    assert "skipped 4 wrong voice count" in str(report)
    again = prepare(folder, tmp_path / "store", jobs=1, progress=False)
    assert again.reused and again.used == report.used


def test_a_piece_past_the_reading_limits_is_too_long(tmp_path):
    from musewidgets.io import MAX_BARS

    music = tmp_path / "music"
    music.mkdir()
    io.write(Piece((Part("A", (Note(60, 0, 4),)),)), music / "short.mid")
    io.write(Piece((Part("A", (Note(60, 0, 4), Note(62, 16 * (MAX_BARS + 5), 4))),)), music / "long.mid")
    report = prepare(music, tmp_path / "store", jobs=1, progress=False, style_name="x")
    assert report.used == 1 and report.skipped == {"too long": 1} and report.fallbacks == 1
    assert "long.mid" in report.examples["too long"][0] and f"{MAX_BARS:,} bars" in report.examples["too long"][0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_hostile_folder_is_walked_without_hanging_and_each_skip_has_its_reason(tmp_path, monkeypatch):
    """A named pipe (opening one waits for ever), a link that loops, a name that is no text and a file a parser
    would read for minutes (issue 32: train --data aborted on the name, and hung on the rest)."""
    from musewidgets.datasets import preparation

    music = tmp_path / "music"
    music.mkdir()
    io.write(Piece((Part("A", (Note(60, 0, 4), Note(62, 4, 4))),)), music / "good.mid")
    os.mkfifo(music / "pipe.mid")
    os.symlink(music / "loop.mid", music / "loop.mid")
    with open(os.path.join(os.fsencode(music), b"caf\xe9.mid"), "wb") as f:
        f.write((music / "good.mid").read_bytes())
    (music / "slow.abc").write_text(ABC)
    slow = preparation._encode_slow

    def dawdle(path, *args):
        if path.name == "slow.abc":
            time.sleep(30)
        return slow(path, *args)

    limit = preparation._time_limit  # the short limit for the slow file only: the others keep theirs on a busy CI

    monkeypatch.setattr(preparation, "_encode_slow", dawdle)
    monkeypatch.setattr(preparation, "_time_limit", lambda rel: limit(rel, 0.5 if rel == "slow.abc" else None))
    report = prepare(music, tmp_path / "store", jobs=1, progress=False, style_name="x")
    assert report.used == 1 and report.skipped == {"too slow": 1, "not a music file": 3}
    said = " ".join(report.examples["not a music file"])
    assert "pipe.mid: not a regular file" in said and "loop.mid: cannot be opened" in said and "not valid UTF-8" in said
    assert "slow.abc: still being read after 0.5 s" in report.examples["too slow"][0]


def test_four_voices_when_asked(folder, tmp_path):
    report = prepare(folder, tmp_path / "store4", voices=4, jobs=1, progress=False, style_name="mychorales")
    assert report.used == 3 and report.style == "mychorales"
    store = TokenStore(tmp_path / "store4")
    assert [p[0] for p in store.style_info["parts"]] == ["Soprano", "Alto", "Tenor", "Bass"]


def test_the_store_holds_what_the_codec_makes_split_by_file(folder, tmp_path):
    from musewidgets.keys import estimate_key

    prepare(folder, tmp_path / "store", jobs=1, progress=False, style_name="mine")
    store = TokenStore(tmp_path / "store")
    files = list(store.files)
    assert [split_of(f) for f in files] == [("train", "valid", "test")[c] for c in store.index["split"]]
    codec = store.codec
    seen = 0
    for name in ("train", "valid", "test"):
        split = store.split(name)
        for i, r in enumerate(split.rows):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                piece = io.read(folder / files[r])
            piece = piece.replace(style="mine")
            want = codec.encode(piece.replace(key=estimate_key(piece)))
            got = split.encoded(i)
            for field in ("tokens", "voice", "bar_pos", "to_end"):
                np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=files[r])
            assert (got.metre, got.key, got.style) == (want.metre, want.key, want.style)
            seen += 1
    assert seen == store.report.used


def test_splits_do_not_move_when_files_are_added(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    prepare(copy, tmp_path / "a", jobs=1, progress=False, style_name="x")
    io.write(load_style("folk", progress=False).pieces[30], copy / "zz_new.mid")
    prepare(copy, tmp_path / "b", jobs=1, progress=False, style_name="x")
    a, b = TokenStore(tmp_path / "a"), TokenStore(tmp_path / "b")
    split_a = dict(zip(a.files, a.index["split"]))
    split_b = dict(zip(b.files, b.index["split"]))
    assert len(split_b) == len(split_a) + 1
    assert all(split_b[f] == s for f, s in split_a.items())


def test_an_interrupted_preparation_resumes_to_the_same_store(folder, tmp_path, monkeypatch):
    import musewidgets.datasets.preparation as store_mod

    monkeypatch.setattr(store_mod, "CHUNK_FILES", 4)  # several shards
    whole = tmp_path / "whole"
    prepare(folder, whole, jobs=1, progress=False, style_name="x")
    cut = tmp_path / "cut"
    prepare(folder, cut, jobs=1, progress=False, style_name="x")
    shards = sorted(cut.glob("pieces-*.json"))
    assert len(shards) == 6
    # as if killed while writing the fourth shard: it, the later ones and the index are missing
    for p in shards[3:]:
        p.unlink()
    (cut / "tokens-00005.npy").unlink()
    (cut / "store.json").unlink()
    (cut / "index.npz").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in shards[:3]}
    calls = []
    real = store_mod._encode_chunk
    monkeypatch.setattr(store_mod, "_encode_chunk", lambda task: calls.append(task[3]) or real(task))
    report = prepare(folder, cut, jobs=1, progress=False, style_name="x")
    assert calls == [3, 4, 5]  # only what was not done
    assert {p.name: p.stat().st_mtime_ns for p in shards[:3]} == kept
    assert report.used == TokenStore(whole).report.used
    for name in ("index.npz",):
        with np.load(whole / name) as x, np.load(cut / name) as y:
            assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files)
    for p in sorted(whole.glob("tokens-*.npy")):
        np.testing.assert_array_equal(np.load(p), np.load(cut / p.name))


def test_batches_are_seeded_and_shaped_as_the_corpus_ones(folder, tmp_path):
    prepare(folder, tmp_path / "store", jobs=1, progress=False, style_name="x")
    split = TokenStore(tmp_path / "store").split("train")
    one = split.batch(np.random.default_rng(3), 4, 64, True, end_share=0.5, key_dropout=0.5)
    two = split.batch(np.random.default_rng(3), 4, 64, True, end_share=0.5, key_dropout=0.5)
    assert set(one) == {"inputs", "targets", "voice", "bar_pos", "to_end", "metre", "style", "key"}
    assert all(np.array_equal(one[k], two[k]) for k in one)
    assert one["inputs"].shape == (4, 64) and one["key"].shape == (4,)
    assert (one["inputs"][:, 1:] == one["targets"][:, :-1]).all()  # inputs are the targets one token late


def test_train_from_the_store_and_sample_the_new_style(folder, tmp_path):
    from musewidgets.sampling import load_sampler
    from musewidgets.training import TrainConfig, Trainer

    cfg = TrainConfig(
        family="lstm",
        data=str(folder),
        style_name="mytunes",
        max_steps=3,
        eval_every=2,
        batch_size=4,
        seq_len=64,
        model={"hidden": 32, "layers": 1, "d_embed": 32},
    )
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.show_progress = False
    steps = []
    trainer.add_callback("batch_end", lambda e: steps.append(e["step"]))
    result = trainer.fit()
    assert result["reason"] == "step cap" and steps == [1, 2, 3]
    assert (tmp_path / "run" / "store" / "store.json").exists()
    sampler = load_sampler(tmp_path / "run" / "lstm.pt")
    assert sampler.styles == ["mytunes"]
    info = sampler.checkpoint.styles["mytunes"]
    assert len(info["parts"]) == 1 and info["tempo"] > 0
    assert sampler.checkpoint.meta["store"]["used"] == 16
    [piece] = sampler.generate(style="mytunes", bars=2, seed=0)
    assert len(piece.parts) == 1 and piece.n_bars == 2

    import musewidgets

    wb = musewidgets.Workbench(model=str(tmp_path / "run" / "lstm.pt"), session=False)  # its own style, chosen
    assert wb.controls.style.value == "mytunes" and "mytunes" in wb.controls.style.options
    assert "chorale" in wb.controls.style.options and wb.controls.primer_piece.options == ()
    wb.controls.bars.value = 2
    take = wb.generate()
    assert take.settings["style"] == "mytunes" and len(take.piece.parts) == 1
    with pytest.raises(musewidgets.errors.UnknownStyleError, match="mytunes"):
        musewidgets.Workbench(model=str(tmp_path / "run" / "lstm.pt"), style="chorale", session=False)


def test_the_cli_trains_on_a_folder_and_writes_the_card(folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "lstm", "--data", str(folder), "--style-name", "mytunes", "--out", str(out)]
    args += ["--max-steps", "2", "--eval-every", "2", "--batch-size", "2", "--seq-len", "32", "-q"]
    args += ["--set", "hidden=16", "--set", "layers=1", "--set", "d_embed=16"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "16 of 23 files used as style 'mytunes'" in err and "skipped 1 chords in a voice" in err
    card = json.loads((out / "lstm.json").read_text())
    assert card["styles"] == ["mytunes"] and "your own music: 16 of 23 files" in card["data"]
    assert set(card["nll_per_token"]) == {"valid", "test"}
    assert main(["models", "--dir", str(out)]) == 0  # your own checkpoints listed as the shipped ones are
    [line] = capsys.readouterr().out.strip().splitlines()
    assert line.split()[:2] == ["lstm", "lstm"] and "styles: mytunes" in line and "mytunes=" in line
    _fails(capsys, ["models", "--dir", str(tmp_path / "nowhere")], "no such folder")
    _fails(capsys, ["models", "--dir", str(out / "lstm.pt")], "lstm.pt: is a file, not a folder")


def _fails(capsys, args: list[str], message: str) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and message in err, err


def test_cli_errors_are_one_line(capsys, tmp_path):
    base = ["train", "--model", "lstm", "--out", str(tmp_path / "run"), "--max-steps", "1", "-q"]
    _fails(capsys, base + ["--data", str(tmp_path / "nowhere")], "nowhere: no such folder")
    (tmp_path / "nothing").mkdir()
    _fails(capsys, base + ["--data", str(tmp_path / "nothing")], "holds no music files (MIDI, MusicXML, ABC or Humdrum")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mid").write_bytes(b"")
    (bad / "junk.mid").write_bytes(b"MThd junk")
    _fails(capsys, base + ["--data", str(bad)], "no usable music among 2 files (1 no notes, 1 unreadable)")
    _fails(capsys, base + ["--style-name", "x"], "give --data FOLDER too")
    _fails(capsys, base + ["--data", str(bad), "--style-name", "chorale"], "is a corpus style's")
    _fails(capsys, base + ["--data", str(bad), "--style-name", "a b"], "style name 'a b'")
    gan = ["train", "--model", "gan", "--out", str(tmp_path / "g"), "--data", str(bad), "-q"]
    _fails(capsys, gan, "trains rnn, lstm or transformer models, not gan")


def test_style_names():
    assert style_name_for("/x/My Songs (2024)") == "My-Songs-2024"
    with pytest.raises(StoreError, match="corpus style"):
        style_name_for("/x/folk")
