"""``musewidgets generate`` end to end with a tiny checkpoint trained here, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from musewidgets import io
from musewidgets.datasets import corpus
from musewidgets.training import Trainer

from .conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "musewidgets", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(out / "cache"))
        return Path(Trainer(tiny_config(), out).fit()["path"])


@pytest.fixture(scope="module")
def chorale_run(ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    args = ["generate", "--checkpoint", ckpt, "--style", "chorale", "--bars", 2, "--seed", 1]
    result = run(*args, "-o", out / "x.mid", "-o", out / "x.musicxml")
    return args, out, result


def test_generate_writes_every_output_with_four_parts(chorale_run):
    _, out, result = chorale_run
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("wrote") == 2 and "Traceback" not in result.stderr
    for name in ("x.mid", "x.musicxml"):
        piece = io.read(out / name)
        assert len(piece.parts) == 4, name
        assert all(part.notes for part in piece.parts)
        assert piece.n_bars == 2


def test_same_command_gives_the_same_midi(chorale_run):
    args, out, first = chorale_run
    assert first.returncode == 0
    again = run(*args, "-o", out / "again.mid")
    assert again.returncode == 0, again.stderr
    assert (out / "again.mid").read_bytes() == (out / "x.mid").read_bytes()


def test_generate_folk_gives_one_part(ckpt, tmp_path):
    result = run(
        "generate",
        "--checkpoint",
        ckpt,
        "--style",
        "folk",
        "--bars",
        3,
        "--seed",
        2,
        "--temperature",
        0.8,
        "--top-k",
        10,
        "--top-p",
        0.9,
        "-o",
        tmp_path / "folk.mid",
    )
    assert result.returncode == 0, result.stderr
    piece = io.read(tmp_path / "folk.mid")
    assert len(piece.parts) == 1 and piece.parts[0].notes


def test_generate_continues_a_primer(ckpt, tmp_path):
    source = corpus.load_style("chorale", progress=False).split("valid")[0]
    primer = source.slice_bars(0, 2)
    io.write(primer, tmp_path / "primer.mid")
    result = run(
        "generate",
        "--checkpoint",
        ckpt,
        "--style",
        "chorale",
        "--bars",
        1,
        "--seed",
        3,
        "--primer",
        tmp_path / "primer.mid",
        "-o",
        tmp_path / "more.mid",
    )
    assert result.returncode == 0, result.stderr
    more = io.read(tmp_path / "more.mid")
    assert len(more.parts) == 4 and more.n_bars == 3
    head = more.slice_bars(0, 2)
    for got, want in zip(head.parts, primer.parts):
        assert [(n.pitch, n.start, n.duration) for n in got.notes] == [
            (n.pitch, n.start, n.duration) for n in want.notes
        ]


def _damaged(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.pt"
    path.write_bytes(b"\x80\x02garbage, not a checkpoint" * 10)
    return path


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (["--style", "jazz"], 1, "unknown style 'jazz'"),
        (["--style", "irish"], 1, "unknown style 'irish'"),  # not one the checkpoint knows
        (["--temperature", "-1"], 2, "argument --temperature"),
        (["--bars", "0"], 2, "argument --bars"),
        (["--top-p", "0"], 2, "argument --top-p"),
        (["--checkpoint", "{tmp}/missing.pt"], 1, "missing.pt: no such checkpoint file"),
        (["--checkpoint", "DAMAGED"], 1, "damaged.pt"),
        (["--primer", "{tmp}/nothing.mid"], 1, "nothing.mid"),
    ],
)
def test_bad_arguments_give_one_error_line(ckpt, tmp_path, extra, status, message):
    extra = [str(_damaged(tmp_path)) if e == "DAMAGED" else e.format(tmp=tmp_path) for e in extra]
    args = ["generate", "--checkpoint", str(ckpt), "--style", "chorale", "--bars", "1", "--seed", "1"]
    # later options win: the bad value replaces the good one
    result = run(*args, *extra, "-o", tmp_path / "x.mid")
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.splitlines()  # argparse's mistakes too: one line, not its usage block (issue 33)
    prefix = "musewidgets: error: " if status == 1 else "musewidgets generate: error: "
    assert line.startswith(prefix) and message in line
    assert not (tmp_path / "x.mid").exists()


def test_primer_with_the_wrong_number_of_parts(ckpt, tmp_path):
    chorale = corpus.load_style("chorale", progress=False).pieces[0].slice_bars(0, 1)
    io.write(chorale, tmp_path / "four.mid")
    result = run(
        "generate",
        "--checkpoint",
        ckpt,
        "--style",
        "folk",
        "--primer",
        tmp_path / "four.mid",
        "-o",
        tmp_path / "x.mid",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "primer" in result.stderr
    assert not (tmp_path / "x.mid").exists()


def test_train_command_writes_a_usable_checkpoint(tmp_path):
    result = run(
        "train",
        "--model",
        "lstm",
        "--style",
        "folk",
        "--max-steps",
        4,
        "--eval-every",
        2,
        "--limit-pieces",
        4,
        "--seq-len",
        32,
        "--batch-size",
        4,
        "--set",
        "hidden=16",
        "--set",
        "layers=1",
        "--set",
        "d_embed=16",
        "--out",
        tmp_path / "run",
        "--no-cards",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "lstm: step cap after 4 steps" in result.stdout and "Traceback" not in result.stderr
    from musewidgets.checkpoints import load_checkpoint

    ck = load_checkpoint(tmp_path / "run" / "lstm.pt")
    assert ck.model.config.hidden == 16 and list(ck.styles) == ["folk"]
    assert ck.meta["train_config"]["max_steps"] == 4 and ck.meta["command"].startswith("musewidgets train")
    assert load_checkpoint(tmp_path / "run" / "lstm.last.pt").meta["steps"] == 4


def test_train_command_rejects_unknown_config_field(tmp_path):
    result = run(
        "train",
        "--model",
        "lstm",
        "--style",
        "folk",
        "--max-steps",
        1,
        "--limit-pieces",
        2,
        "--seq-len",
        16,
        "--set",
        "hiden=16",
        "--out",
        tmp_path / "run",
        "--no-cards",
        "--quiet",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "hiden" in result.stderr


def test_generate_needs_no_style_from_a_checkpoint_of_one(tmp_path, capsys):
    """``--style`` was required even where the checkpoint knows one style (issue 33); with several it is asked for."""
    from musewidgets.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path / "cache"))
        folk = Trainer(tiny_config(styles=("folk",), max_steps=2, eval_every=2), tmp_path / "run").fit()["path"]
    out = str(tmp_path / "x.mid")
    assert main(["generate", "--checkpoint", str(folk), "--bars", "1", "--seed", "3", "-o", out]) == 0
    assert io.read(tmp_path / "x.mid").parts[0].name == "Melody"  # a folk tune: one voice
    assert "seed 3," in capsys.readouterr().out
    assert main(["generate", "-o", str(tmp_path / "y.mid")]) == 1  # the shipped lstm knows four
    assert "--style is needed: the lstm model knows 4 styles (chorale, folk" in capsys.readouterr().err
