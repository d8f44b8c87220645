"""A user's mistake on the command line gives one line naming it and a non-zero exit, before any work is done."""

from __future__ import annotations

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
    last = err.strip().splitlines()[-1]  # argparse prints its usage first; ours is one line
    assert message in last and (code == 2 or err.strip() == last), err


def test_seed_minus_one_says_zero_is_allowed(capsys, tmp_path):
    _fails(capsys, ["generate", "--style", "folk", "--seed", "-1", "-o", str(tmp_path / "x.mid")], "0 or more", 2)


def test_cards_for_a_missing_or_empty_folder(capsys, tmp_path):
    _fails(capsys, ["cards", str(tmp_path / "nothing")], "no such folder")
    _fails(capsys, ["cards", str(tmp_path)], "no checkpoints")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--device", "quantum"], "unknown device 'quantum'"),
        (["--batch-size", "100000"], "`batch_size` must be from 1 to 1024"),
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


# ----- files that used to read for minutes (issue 15's probe) are refused at once, naming the limit
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("long.abc", b"X:1\nT:t\nM:4/4\nL:1/8\nK:C\nC99999999|\n", "99,999,999 times the default length"),
        ("wide.abc", b"X:1\nT:t\nM:1000/1\nL:1/8\nK:C\nCDEF|\n", "a bar of 1000 beats"),
        ("many.abc", b"X:1\nT:t\nM:4/4\nL:1/8\nK:C\n" + b"CDEF|" * 20000 + b"\n", "more than 5,000 bars"),
        (
            "wide.musicxml",
            b'<?xml version="1.0"?><score-partwise><part-list/><part id="P1"><measure number="1"><attributes>'
            b"<time><beats>1000000</beats><beat-type>4</beat-type></time></attributes></measure></part>"
            b"</score-partwise>",
            "a bar of 1000000 beats",
        ),
        ("huge.mid", b"MThd" + b"\x00" * (9 * 2**20), "musewidgets reads files of up to 8 MB"),
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

    from musewidgets import io

    root = Path(music21.__file__).parent / "corpus"
    formats = {".abc": "abc", ".xml": "musicxml", ".musicxml": "musicxml", ".mxl": "mxl", ".mid": "midi"}
    checked = 0
    for path in root.rglob("*"):
        if path.suffix in formats:
            io._check_limits(path.read_bytes(), path.name, formats[path.suffix])
            checked += 1
    assert checked > 1000
