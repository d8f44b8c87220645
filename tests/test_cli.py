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
        (["render", "cut.mid", "-o", "x.mid"], "cut.mid: not a readable MIDI file: it ends too early"),  # (EOFError)
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, args, message):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "song.txt").write_text("la la la")
    (tmp_path / "cut.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00")
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


def test_generate_says_seed_key_metre_and_bars_and_how_to_make_the_take_again(tmp_path, capsys):
    """An unseeded take drew a seed it never printed, so it could not be made again (issue 33)."""
    import re
    import shlex

    assert main(["generate", "--style", "folk", "--key", "Dm", "--bars", "2", "-o", str(tmp_path / "a.mid")]) == 0
    said, again, wrote = capsys.readouterr().out.strip().splitlines()
    seed = re.fullmatch(r"seed (\d+), D minor, (\d+)/(\d+), 2 bars(, an upbeat of \d+/\d+)?", said).group(1)
    given = f"--style folk --key Dm --bars 2 -o {tmp_path}/a.mid"
    assert again == f"to make it again: musewidgets generate --seed {seed} {given}"
    assert wrote == f"wrote {tmp_path}/a.mid"
    command = shlex.split(again.removeprefix("to make it again: "))[1:-1] + [str(tmp_path / "b.mid")]
    assert main(command) == 0
    said_again, wrote_again = capsys.readouterr().out.strip().splitlines()  # a given seed needs no line to repeat it
    assert said_again == said and wrote_again == f"wrote {tmp_path}/b.mid"
    first, second = io.read(tmp_path / "a.mid"), io.read(tmp_path / "b.mid")
    assert first.parts == second.parts and first.key == "D minor"


def test_generate_starts_with_the_upbeat_asked_for(tmp_path, capsys):
    out = tmp_path / "jig.musicxml"  # (MusicXML and MIDI both keep an upbeat)
    args = ["generate", "--style", "folk", "--metre", "6/8", "--bars", "2", "--seed", "3", "-o", str(out)]
    assert main([*args, "--upbeat", "1/8"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("2 bars, an upbeat of 1/8")
    assert io.read(out).pickup == 2  # an eighth: two sixteenths
    assert main([*args, "--upbeat", "0"]) == 0
    assert "upbeat" not in capsys.readouterr().out and io.read(out).pickup == 0
    result = run(*args[:-1], str(tmp_path / "x.mid"), "--upbeat", "1/3")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--upbeat: must be a note value of whole sixteenths" in result.stderr


def test_a_melody_in_abc_can_stand_where_a_file_belongs(tmp_path, capsys):
    assert main(["render", "G A B G | c B A2 |]", "-o", str(tmp_path / "m.mid")]) == 0
    assert [n.pitch for n in io.read(tmp_path / "m.mid").parts[0].notes] == [67, 69, 71, 67, 72, 71, 69]
    assert main(["harmonize", "G A B G | c B A2 |]", "--iterations", "2", "-o", str(tmp_path / "h.mid")]) == 0
    harmonized = io.read(tmp_path / "h.mid")
    assert len(harmonized.parts) == 4 and harmonized.parts[0].notes  # the melody on top, three voices below
    assert "wrote" in capsys.readouterr().out
    assert main(["classify", "G A B G | c B A2 |]"]) == 0
    assert capsys.readouterr().out.startswith(("chorale", "folk", "irish", "renaissance"))


def test_usage_mistakes_are_one_line_that_says_where_help_is():
    result = run("generate", "--style", "folk")
    assert result.returncode == 2
    assert result.stderr == (
        "musewidgets generate: error: the following arguments are required: -o/--output; "
        "try 'musewidgets generate --help'\n"
    )
