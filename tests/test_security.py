"""Nobody can run code through our files, and nothing a user's file or name says is run as HTML.

A checkpoint whose pickle would run a shell command goes through every public door that loads a checkpoint (the
API, every CLI command that takes one, the Workbench): each refuses it by name, and the command never runs.
Uploaded names and titles are shown as text; files are written only where the user asked (and the session folder).
"""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

import musewidgets
from musewidgets.checkpoints import FORMAT, VERSION, load_checkpoint
from musewidgets.cli import main
from musewidgets.errors import CheckpointError
from musewidgets.piece import Note, Part, Piece

from .conftest import make_piece

HOSTILE = "<img src=x onerror=alert(1)><script>window.pwned=1</script>"
PACKAGE = Path(musewidgets.__file__).parent


class _RunsCode:
    """Pickles as a call to ``os.system``: loading it unsafely would run a shell command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.fixture
def evil(tmp_path):
    """(a checkpoint that would run ``touch marker`` when unpickled, the marker path)."""
    marker = tmp_path / "pwned"
    path = tmp_path / "models" / "evil.pt"
    path.parent.mkdir()
    payload = {"format": FORMAT, "version": VERSION, "family": "lstm", "config": _RunsCode(f"touch {marker}")}
    torch.save(payload, path)
    return path, marker


# ------------------------------------------------------------------ checkpoints never run code
def test_the_evil_checkpoint_really_runs_code_when_loaded_unsafely(evil):
    path, marker = evil
    torch.load(path, weights_only=False)  # the control: what an unsafe loader would do
    assert marker.exists()


def test_every_api_door_refuses_it_and_the_command_never_runs(evil):
    from musewidgets.analysis.classifier import load_classifier
    from musewidgets.sampling import load_sampler
    from musewidgets.training import TrainConfig, Trainer

    path, marker = evil
    doors = {
        "load_checkpoint": lambda: load_checkpoint(path),
        "load_sampler": lambda: load_sampler(path),
        "Workbench(model=...)": lambda: musewidgets.Workbench(model=str(path)),
        "load_classifier": lambda: load_classifier(path),
        "Trainer(init=...)": lambda: Trainer(
            TrainConfig(family="lstm", styles=("folk",), max_steps=1, limit_pieces=2, init=str(path)), path.parent
        ).fit(),
    }
    for door, call in doors.items():
        with pytest.raises(CheckpointError, match="evil.pt: refused: it carries Python objects or code"):
            call()
        assert not marker.exists(), door


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--checkpoint", "{evil}", "--style", "folk", "-o", "{tmp}/out.mid"],
        ["train", "--model", "lstm", "--style", "folk", "--max-steps", "1", "--init", "{evil}", "--out", "{tmp}/run"],
        ["train", "--model", "lstm", "--style", "folk", "--max-steps", "1", "--resume", "--out", "{resume}"],
        ["cards", "{models}"],
        ["bench", "jsb", "--data", "{tmp}/none.mat", "--models", "{models}"],
    ],
    ids=["generate", "train-init", "train-resume", "cards", "bench"],
)
def test_every_cli_command_that_takes_a_checkpoint_refuses_it_in_one_line(evil, tmp_path, argv, capsys):
    path, marker = evil
    resume = tmp_path / "resume"
    resume.mkdir()
    (resume / "lstm.last.pt").write_bytes(path.read_bytes())
    fields = {"evil": path, "tmp": tmp_path, "models": path.parent, "resume": resume}
    code = main([a.format(**fields) for a in argv])
    err = capsys.readouterr().err
    assert code != 0 and not marker.exists()
    assert "Traceback" not in err and err.count("\n") == 1, err
    if argv[0] != "bench":  # the benchmark names its missing data file first
        assert "refused: it carries Python objects or code" in err


def test_library_code_loads_pickles_only_through_the_safe_door():
    """``torch.load`` only in checkpoints.py, always with weights_only=True; no pickle.load, no allow_pickle=True."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if name.endswith("torch.load") or name in ("pickle.load", "pickle.loads", "torch.load"):
                    found.append((path.name, name, keywords.get("weights_only")))
                if keywords.get("allow_pickle") == "True":
                    found.append((path.name, name, "allow_pickle=True"))
    assert found == [("checkpoints.py", "torch.load", "True")]


# ------------------------------------------------------------------ names and titles are text, never HTML
def hostile_piece() -> Piece:
    part = Part(HOSTILE, (Note(60, 0, 4), Note(64, 4, 4)), program=0)
    return Piece((part,), title=HOSTILE, key="C major")


def test_the_engraved_score_of_a_hostile_title_holds_no_markup():
    from musewidgets.engraving import to_svg

    for svg in to_svg(hostile_piece()):
        root = ET.fromstring(svg)
        tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
        assert not tags & {"script", "img", "foreignObject", "iframe"}, tags
        attributes = {a.lower() for el in root.iter() for a in el.attrib}
        assert not [a for a in attributes if a.startswith("on")], attributes
        assert "<script" not in svg and "<img" not in svg


def test_show_escapes_the_title():
    from musewidgets.display import to_html

    html = to_html(hostile_piece(), audio=False, score=False)
    assert "<script" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


def test_a_hostile_musicxml_title_stays_text_in_the_workbench(tmp_path):
    from .test_widgets import upload_value

    path = tmp_path / "hostile.musicxml"
    musewidgets.write(make_piece().replace(title=HOSTILE), path)
    wb = musewidgets.Workbench(model="lstm", style="folk")
    wb.controls.upload.value = upload_value(HOSTILE + ".musicxml", path.read_bytes())
    for text in (wb.status.value, wb.controls.upload_name.value):
        assert "<script" not in text and "<img" not in text and "&lt;script&gt;" in text


def test_an_uploaded_name_with_a_path_writes_nothing_anywhere(tmp_path, monkeypatch):
    """A name like ``../../x.mid`` is only ever shown: the take is saved under its id in the session folder."""
    from .test_widgets import upload_value

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "src.mid"
    musewidgets.write(Piece((Part("Melody", (Note(67, 0, 4), Note(69, 4, 4))),), time_signature=(2, 4)), source)
    before = set(tmp_path.rglob("*"))
    wb = musewidgets.Workbench(model="lstm", style="folk")
    wb.controls.upload.value = upload_value("../../escape.mid", source.read_bytes())
    wb.controls.primer.value = "upload"
    wb.controls.bars.value = 1
    take = wb.generate()
    assert take.settings["primer_file"] == "../../escape.mid"  # recorded as given, used as a name only
    assert set(tmp_path.rglob("*")) == before and not (tmp_path.parent.parent / "escape.mid").exists()
    assert sorted(p.name for p in wb.session.folder.iterdir()) == [
        "session.json",
        f"take-{take.id:04d}.json",
        f"take-{take.id:04d}.mid",
    ]


def test_an_upload_over_the_size_limit_is_refused_in_the_status_line():
    from musewidgets.io import MAX_FILE_BYTES

    from .test_widgets import upload_value

    wb = musewidgets.Workbench(model="lstm", style="folk")
    wb.controls.upload.value = upload_value("huge.mid", b"MThd" + b"\0" * MAX_FILE_BYTES)
    assert "huge.mid" in wb.status.value and "MB" in wb.status.value and "#b00020" in wb.status.value
    assert wb.generation.uploaded is None
