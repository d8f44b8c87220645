import io as stdio
import wave

import pretty_midi
import pytest

from musewidgets import MusicFileError, export, io
from musewidgets.cli import main


def test_cli_render_writes_every_format_with_the_right_content(tmp_path, piece, capsys):
    src = io.write(piece, tmp_path / "in.musicxml")
    names = ["out.wav", "out.svg", "out.png", "out.mid", "out.musicxml"]
    args = ["render", str(src)]
    for name in names:
        args += ["-o", str(tmp_path / name)]
    assert main(args) == 0
    assert capsys.readouterr().out.count("wrote") == len(names)

    midi = pretty_midi.PrettyMIDI(str(tmp_path / "out.mid"))
    assert [i.program for i in midi.instruments] == [p.program for p in piece.parts]
    assert [len(i.notes) for i in midi.instruments] == [len(p.notes) for p in piece.parts]
    assert sorted(n.pitch for i in midi.instruments for n in i.notes) == sorted(
        n.pitch for p in piece.parts for n in p.notes
    )
    with wave.open(str(tmp_path / "out.wav")) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds == pytest.approx(piece.end * piece.seconds_per_step + 1.0, abs=0.05)
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out.svg").read_text().startswith("<svg")
    back = io.read(tmp_path / "out.musicxml")
    assert [len(p.notes) for p in back.parts] == [len(p.notes) for p in piece.parts]


def test_to_bytes_matches_save(tmp_path, piece):
    for suffix in (".mid", ".musicxml", ".png"):
        assert export.to_bytes(piece, suffix) == export.save(piece, tmp_path / f"x{suffix}").read_bytes()
    with wave.open(stdio.BytesIO(export.to_bytes(piece, ".wav"))) as w:
        assert w.getnchannels() == 2


def test_unknown_suffix_is_refused(tmp_path, piece):
    with pytest.raises(MusicFileError, match="cannot write .ogg"):
        export.save(piece, tmp_path / "x.ogg")
    assert not (tmp_path / "x.ogg").exists()


def test_the_bytes_of_a_download_need_no_folder_to_write_in(monkeypatch, piece):
    """``to_bytes`` checked that a file ``piece.mid`` could be written in the working folder (a read-only one, as a
    served notebook may have, refused every download)."""
    import os

    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert export.to_bytes(piece, ".mid").startswith(b"MThd")
    with pytest.raises(MusicFileError, match="permission denied"):
        export.check_exportable("out.mid")
