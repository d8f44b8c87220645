import subprocess
import sys

import pytest

from musewidgets import io
from musewidgets.cli import main


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "musewidgets", *args], capture_output=True, text=True, cwd=cwd)


def test_styles_prints_one_line_per_style(capsys):
    assert main(["styles", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["chorale", "folk", "irish", "renaissance"]
    chorale = lines[0].split()
    assert int(chorale[1]) > 300 and chorale[2] == "pieces" and chorale[3] == "4"
    assert "Bach" in lines[0] and "Essen" in lines[1] and "O'Neill" in lines[2] and "Palestrina" in lines[3]


def test_render_writes_every_output(tmp_path, piece, capsys):
    src = io.write(piece, tmp_path / "in.musicxml")
    outs = [tmp_path / "out.mid", tmp_path / "out.musicxml"]
    assert main(["render", str(src), *sum((["-o", str(o)] for o in outs), [])]) == 0
    for out in outs:
        assert [len(p.notes) for p in io.read(out).parts] == [len(p.notes) for p in piece.parts]
    assert capsys.readouterr().out.count("wrote") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "missing.mid", "-o", "x.mid"], "missing.mid: cannot open the file"),
        (["render", "empty.mid", "-o", "x.mid"], "empty.mid: the file is empty"),
        (["render", "empty.mid", "-o", "x.ogg"], "x.ogg: cannot write .ogg"),
        (["render", "song.txt", "-o", "x.mid"], "unsupported file type '.txt'"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, args, message):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "song.txt").write_text("la la la")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.mid").exists()


def test_usage_errors_exit_2_without_traceback():
    result = run("corpus", "build", "--limit", "0")
    assert result.returncode == 2 and "must be at least 1" in result.stderr and "Traceback" not in result.stderr
    result = run("corpus", "build", "--style", "jazz", "--limit", "1")
    assert result.returncode == 1 and "unknown style 'jazz'" in result.stderr


def test_module_and_help():
    result = run("--help")
    assert result.returncode == 0 and "render" in result.stdout and "styles" in result.stdout
