"""A user's mistake on the command line gives one line naming it and a non-zero exit, before any work is done."""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import pytest
import torch

from musewidgets.cli import main


def _fails(capsys, args: list[str], message: str, code: int = 1) -> None:
    if code == 2:  # argparse refuses it
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2
    else:
        assert main(args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and message in err, err  # one line, argparse's mistakes too (not its usage block)
    if code == 2:
        command = err.split(": error:")[0]
        assert command.startswith("musewidgets") and err.rstrip().endswith(f"try '{command} --help'"), err


def test_seed_minus_one_says_zero_is_allowed(capsys, tmp_path):
    _fails(capsys, ["generate", "--style", "folk", "--seed", "-1", "-o", str(tmp_path / "x.mid")], "0 or more", 2)


def test_cards_for_a_missing_or_empty_folder(capsys, tmp_path):
    _fails(capsys, ["cards", str(tmp_path / "nothing")], "no such folder")
    (tmp_path / "a.txt").write_text("a file")
    _fails(capsys, ["cards", str(tmp_path / "a.txt")], "a.txt: is a file, not a folder")
    _fails(capsys, ["cards", str(tmp_path)], "no checkpoints")


def test_a_folder_where_a_music_file_belongs_is_named_as_one(capsys, tmp_path):
    (tmp_path / "songs").mkdir()
    _fails(capsys, ["render", str(tmp_path / "songs"), "-o", str(tmp_path / "a.mid")], "songs: is a folder")


def test_an_output_that_cannot_be_written_is_named_not_its_temporary(monkeypatch, tmp_path):
    import os

    from musewidgets import export

    from .conftest import make_piece

    real, target = os.replace, tmp_path / "a.mid"

    def refuse(src, dst):  # a folder where the file may not be replaced (read-only)
        if Path(dst) == target:
            raise PermissionError(13, "Permission denied", str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as err:
        export.save(make_piece(), tmp_path / "a.mid")
    assert err.value.filename == str(tmp_path / "a.mid") and ".tmp" not in str(err.value)
    assert not list(tmp_path.iterdir())  # nothing left behind


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--device", "quantum"], "unknown device 'quantum'"),
        (["--batch-size", "100000"], "`batch_size` must be from 1 to 1024"),
        (["--seq-len", "99999999999"], "`seq_len` must be from 2 to 16,384 tokens"),  # was 23 TiB asked of numpy
        (["--resume"], "nothing to resume"),
    ],
)
def test_train_refuses_bad_options_before_training(capsys, tmp_path, extra, message):
    _fails(capsys, ["train", "--model", "lstm", "--style", "folk", "--out", str(tmp_path / "run"), *extra], message)
    assert not (tmp_path / "run" / "lstm.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_train_on_cuda_without_a_gpu_says_so(capsys, tmp_path):
    _fails(capsys, ["train", "--model", "lstm", "--out", str(tmp_path), "--device", "cuda"], "sees no CUDA GPU")


def test_train_into_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "taken").write_text("")
    _fails(capsys, ["train", "--model", "lstm", "--out", str(tmp_path / "taken")], "is a file, not a folder")


def test_resume_with_other_sizes_names_the_problem(capsys, tmp_path):
    base = ["train", "--model", "lstm", "--style", "folk", "--out", str(tmp_path), "--limit-pieces", "4"]
    tiny = ["--max-steps", "2", "--eval-every", "2", "--batch-size", "2", "--seq-len", "32", "--no-cards", "-q"]
    assert main([*base, *tiny, "--set", "hidden=16", "--set", "layers=1", "--set", "d_embed=16"]) == 0
    capsys.readouterr()
    _fails(
        capsys,
        [*base, *tiny, "--resume", "--set", "hidden=24", "--set", "layers=1", "--set", "d_embed=16"],
        "other model sizes",
    )


def test_bench_only_an_unknown_model(capsys, tmp_path):
    _fails(capsys, ["bench", "jsb", "--train", "--only", "NOPE", "--data", str(tmp_path / "x.mat")], "NOPE")


def test_output_into_a_missing_folder_names_that_folder(capsys, tmp_path):
    out = tmp_path / "nowhere" / "o.mid"
    _fails(capsys, ["generate", "--style", "folk", "--bars", "1", "-o", str(out)], f"folder {out.parent} does not")
    assert not out.parent.exists()


_XML_HEAD = b'<?xml version="1.0"?><score-partwise><part-list/><part id="P1">'
_XML_TAIL = b"</part></score-partwise>"


def _parts(parts: int, measures: int) -> bytes:
    """A score of ``parts`` parts of ``measures`` empty measures each."""
    body = b"".join(b'<part id="P%d">' % i + b"<measure></measure>" * measures + b"</part>" for i in range(parts))
    return b'<?xml version="1.0"?><score-partwise><part-list/>' + body + b"</score-partwise>"


def _packed(method: int) -> bytes:
    """An .mxl whose MusicXML is packed by ``method``: 40 MB of spaces in a few kilobytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        z.writestr("score.musicxml", b"<score-partwise>" + b" " * (40 * 2**20))
    return buf.getvalue()


# ----- files that used to read for minutes (issue 15's probe) are refused at once, naming the limit
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("long.abc", b"X:1\nT:t\nM:4/4\nL:1/8\nK:C\nC99999999|\n", "99,999,999 times the default length"),
        ("wide.abc", b"X:1\nT:t\nM:1000/1\nL:1/8\nK:C\nCDEF|\n", "a bar of 1000 beats"),
        ("many.abc", b"X:1\nT:t\nM:4/4\nL:1/8\nK:C\n" + b"CDEF|" * 20000 + b"\n", "more than 300 bars"),
        (
            "wide.musicxml",
            b'<?xml version="1.0"?><score-partwise><part-list/><part id="P1"><measure number="1"><attributes>'
            b"<time><beats>1000000</beats><beat-type>4</beat-type></time></attributes></measure></part>"
            b"</score-partwise>",
            "a bar of 1000000 beats",
        ),
        ("huge.mid", b"MThd" + b"\x00" * (9 * 2**20), "musewidgets reads files of up to 8 MB"),
        ("wide.krn", b"**kern\n*M99999/1\n4c\n*-\n", "a bar of 99999 beats"),  # read for minutes (issue 32)
        ("empty.musicxml", _XML_HEAD + b"<measure/>" * 20000 + _XML_TAIL, "a part of 20,000 measures"),
        ("parts.musicxml", _parts(8, 1400), "11,200 measures in all its parts"),
        ("entity.musicxml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY m "<measure/>">]>' + _XML_TAIL, "<!ENTITY>"),
        ("beats.musicxml", _XML_HEAD + b"<measure><attributes><time><beats>-1e308</beats>" + _XML_TAIL, r"-1e\+308"),
        ("grace.abc", b"X:1\nM:4/4\nL:1/8\nK:C\n" + (b"{" + b"g" * 100 + b"}C") * 100 + b"|\n", "10,000 grace"),
        ("bars.krn", b"**kern\n*M4/4\n" + b"=\n4c\n" * 1501 + b"*-\n", "1,501 bar lines"),
        ("bomb.mxl", _packed(zipfile.ZIP_BZIP2), "packed with bzip2 or LZMA"),  # 2 KB that unpacked to 1 GB
        ("lzma.mxl", _packed(zipfile.ZIP_LZMA), "packed with bzip2 or LZMA"),
    ],
)
def test_absurd_files_are_refused_before_parsing(tmp_path, name, content, message):
    from musewidgets import io
    from musewidgets.errors import MusicFileError

    (tmp_path / name).write_bytes(content)
    with pytest.raises(MusicFileError, match=message):
        io.read(tmp_path / name)


def test_every_file_of_music21s_corpus_is_inside_the_limits():
    from pathlib import Path

    import music21

    from musewidgets.io import limits

    root = Path(music21.__file__).parent / "corpus"
    formats = {
        ".abc": "abc",
        ".xml": "musicxml",
        ".musicxml": "musicxml",
        ".mxl": "mxl",
        ".mid": "midi",
        ".krn": "humdrum",
    }
    checked = 0
    for path in root.rglob("*"):
        if path.suffix in formats:
            limits.check_limits(path.read_bytes(), path.name, formats[path.suffix])
            checked += 1
    assert checked > 1000


# ------------------------------------------------------------------ a sweep of mistakes over every command
MID = "{tmp}/ok.mid"
SWEEP = [
    # (arguments, words the last line holds, exit code)
    (["generate", "--style", "jazz", "-o", "{tmp}/o.mid"], "unknown style 'jazz'", 1),
    (["generate", "--model", "nope", "--style", "folk", "-o", "{tmp}/o.mid"], "nope", 1),
    (["generate", "--style", "folk", "--temperature", "-1", "-o", "{tmp}/o.mid"], "--temperature", 2),
    (["generate", "--style", "folk", "--temperature", "hot", "-o", "{tmp}/o.mid"], "--temperature", 2),
    (["generate", "--style", "folk", "--top-p", "0", "-o", "{tmp}/o.mid"], "--top-p", 2),
    (["generate", "--style", "folk", "--top-k", "-3", "-o", "{tmp}/o.mid"], "--top-k", 2),
    (["generate", "--style", "folk", "--bars", "0", "-o", "{tmp}/o.mid"], "--bars", 2),
    (["generate", "--style", "folk", "--bars", "100000", "-o", "{tmp}/o.mid"], "bars", 1),
    (["generate", "--style", "folk", "--key", "H major", "-o", "{tmp}/o.mid"], "key", 1),
    (["generate", "--style", "folk", "--metre", "7/8", "-o", "{tmp}/o.mid"], "choose from", 1),
    (["generate", "--style", "folk", "--primer", "{tmp}/missing.mid", "-o", "{tmp}/o.mid"], "missing.mid", 1),
    (["generate", "--style", "folk", "--primer", "{tmp}/empty.mid", "-o", "{tmp}/o.mid"], "empty.mid", 1),
    (["generate", "--style", "folk", "-o", "{tmp}/o.xyz"], ".xyz", 1),
    (["generate", "--style", "folk", "--tempertaure", "1", "-o", "{tmp}/o.mid"], "unrecognized arguments", 2),
    (["generate", "--checkpoint", "{tmp}/none.pt", "--style", "folk", "-o", "{tmp}/o.mid"], "none.pt", 1),
    (["generate", "--model", "gan", "--style", "chorale", "--strict", "-o", "{tmp}/o.mid"], "strict", 1),
    (["render", "{tmp}/missing.mid", "-o", "{tmp}/o.wav"], "missing.mid", 1),
    (["render", "{tmp}/noise.mid", "-o", "{tmp}/o.wav"], "noise.mid", 1),
    (["render", MID, "-o", "{tmp}/o.doc"], ".doc", 1),
    (["train", "--model", "nope", "--out", "{tmp}/run"], "--model", 2),
    (["train", "--model", "lstm", "--minutes", "-1", "--out", "{tmp}/run"], "--minutes", 2),
    (["train", "--model", "lstm", "--batch-size", "0", "--out", "{tmp}/run"], "--batch-size", 2),
    (["train", "--model", "lstm", "--lr", "0", "--out", "{tmp}/run"], "--lr", 2),
    (["train", "--model", "lstm", "--style", "jazz", "--max-steps", "1", "--out", "{tmp}/run"], "jazz", 1),
    (["train", "--model", "lstm", "--set", "hiden=32", "--max-steps", "1", "--out", "{tmp}/run"], "hiden", 1),
    (["train", "--model", "lstm", "--set", "hidden=-4", "--max-steps", "1", "--out", "{tmp}/run"], "hidden", 1),
    (["scorecard", "--takes", "1"], "`takes` must be a whole number from 2 to 64, got 1", 1),
    (["scorecard", "--model", "nope", "--takes", "2"], "nope", 1),
    (["scorecard", "--style", "jazz", "--takes", "2"], "jazz", 1),
    (["classify", "{tmp}/missing.mid"], "missing.mid", 1),
    (["classify", "{tmp}/silent.mid"], "silent.mid", 1),
    (["similar", MID, "-k", "0"], "-k", 2),
    (["similar", MID, "-k", "1000"], "100", 1),
    (["corpus", "build", "--style", "jazz"], "jazz", 1),
    (["bench", "jsb", "--data", "{tmp}/missing.mat"], "missing.mat", 1),
    (["bench", "jsb", "--data", "{tmp}"], "is a folder; give the .mat file itself, e.g.", 1),
    (["bench"], "the following arguments are required: BENCHMARK", 2),
    (["generate", "--style", "folk"], "the following arguments are required: -o/--output", 2),
    (["harmonize", "hello world", "-o", "{tmp}/o.mid"], "hello world: no such file", 1),
    (["render", "my song", "-o", "{tmp}/o.mid"], "my song: no such file (expected a music file: .mid", 1),
    (["render", "{tmp}/cut.mid", "-o", "{tmp}/o.mid"], "cut.mid: not a readable MIDI file: it ends too early", 1),
    (["sessions", "--wipe"], "unrecognized arguments", 2),
    (["styles", "extra"], "unrecognized arguments", 2),
    (["nonsense"], "invalid choice", 2),
]


@pytest.fixture
def files(tmp_path):
    import musewidgets
    from musewidgets.piece import Part, Piece

    from .conftest import make_piece

    musewidgets.write(make_piece(), tmp_path / "ok.mid")
    musewidgets.write(Piece((Part("Melody", ()),)), tmp_path / "silent.mid")
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "noise.mid").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "cut.mid").write_bytes((tmp_path / "ok.mid").read_bytes()[:20])  # a download cut short
    return tmp_path


@pytest.mark.parametrize(
    "args, message, code", SWEEP, ids=[" ".join(a[:3]) + f" [{i}]" for i, (a, _, _) in enumerate(SWEEP)]
)
def test_every_mistake_is_one_line_and_a_non_zero_exit(capsys, files, args, message, code):
    _fails(capsys, [a.format(tmp=files) for a in args], message, code)


# ------------------------------------------------------------------ every path a command writes, before any work
def _no_work(*args, **kwargs):
    raise AssertionError("the work began before the outputs were checked")


OUTPUTS = [
    # (arguments, what would do the work, words of the one line)
    (["scorecard", "--takes", "2", "--json", "{tmp}/nowhere/x.json"], "evaluation.scorecard.scorecard", "nowhere does"),
    (["scorecard", "--markdown", "{tmp}/nowhere/x.md"], "evaluation.scorecard.scorecard", "nowhere does not exist"),
    (["scorecard", "--cards", "{tmp}/nowhere"], "evaluation.scorecard.scorecard", "nowhere: no such folder"),
    (["scorecard", "--json", "{tmp}"], "evaluation.scorecard.scorecard", "cannot write there: it is a folder"),
    (["train", "--model", "lstm", "--out", "{tmp}/ok.mid/run"], "training.Trainer", "ok.mid: is a file, not a folder"),
    (["generate", "--style", "folk", "-o", "{tmp}/nowhere/o.mid"], "sampling.sampler.load_sampler", "nowhere does"),
    (["harmonize", "{tmp}/ok.mid", "-o", "{tmp}/o.ogg"], "sampling.harmonization.harmonize", "cannot write .ogg"),
    (["render", "{tmp}/ok.mid", "-o", "{tmp}/nowhere/o.wav"], "cli.read_music_arg", "nowhere does not exist"),
    (["cards", "{tmp}/nowhere"], "evaluation.cards.write_cards", "nowhere: no such folder"),
]


@pytest.mark.parametrize("args, work, message", OUTPUTS, ids=[" ".join(a[:2]) for a, _, _ in OUTPUTS])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(capsys, monkeypatch, files, args, work, message):
    """``scorecard --json /nonexistent/x.json`` computed the whole table before failing on the path (issue 33)."""
    monkeypatch.setattr(f"musewidgets.{work}", _no_work)
    _fails(capsys, [a.format(tmp=files) for a in args], message)


def test_corpus_build_checks_its_folder_before_building(capsys, monkeypatch, files):
    monkeypatch.setenv("MUSEWIDGETS_CACHE_DIR", str(files / "ok.mid"))  # the cache folder would be inside a file
    monkeypatch.setattr("musewidgets.datasets.corpus.build_style", _no_work)
    _fails(capsys, ["corpus", "build", "--style", "folk"], "ok.mid: is a file, not a folder")


def test_every_option_that_names_an_output_is_checked():
    from musewidgets.cli import build_parser

    def parsers(parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    yield sub
                    yield from parsers(sub)

    outputs = {"output", "out", "json", "markdown", "cards", "folder"}  # what the commands write into
    for parser in parsers(build_parser()):
        named = {a.dest for a in parser._actions} & outputs
        assert named <= set(parser.get_default("writes") or {}), parser.prog
