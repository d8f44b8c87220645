"""Headless tests of TakeView, the roll + audio + score widget with a playhead (no browser: traits and messages).

The browser side (the playhead moves while playing and stands still when paused) is tested in a real browser
elsewhere; here we check that the state it is driven by is right: the timing map, the measure starts, the roll's
geometry and the sound agree with the piece and with each other.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import tomllib

import musewidgets
from musewidgets.audio import NATIVE_RATE, TAIL_SECONDS
from musewidgets.piece import Note, Part, Piece
from musewidgets.plotting import PART_COLORS, pianoroll_png_with_geometry
from musewidgets.widgets.player import TakeView, measure_times

from .conftest import make_piece

ROOT = Path(__file__).resolve().parents[1]
SVG_G = "{http://www.w3.org/2000/svg}g"
TIMING_KEYS = {"seconds_per_step", "steps", "pickup", "steps_per_bar", "x0", "x1", "y0", "y1"}


# ----- helpers
def wav_frames(data: bytes) -> tuple[int, int, int]:
    """(channels, sample rate, frames) of WAV bytes."""
    with wave.open(io.BytesIO(data)) as f:
        return f.getnchannels(), f.getframerate(), f.getnframes()


def engraved_measures(svg: str) -> list[ET.Element]:
    """Verovio's ``<g class="measure">`` groups, in document order."""
    pages = re.findall(r"<svg.*?</svg>\s*(?=<svg|$)", svg, flags=re.S)
    groups = []
    for page in pages:
        groups += [g for g in ET.fromstring(page).iter(SVG_G) if g.get("class") == "measure"]
    return groups


def coloured_runs(png: bytes, color: str) -> list[tuple[int, int]]:
    """Runs of pixel columns (first, last) that hold a pixel of ``color`` (the notes of one part)."""
    image = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    columns = np.flatnonzero(np.all(np.abs(image - rgb) < 0.08, axis=-1).any(axis=0))
    breaks = np.flatnonzero(np.diff(columns) > 1)
    starts = np.r_[columns[0], columns[breaks + 1]]
    ends = np.r_[columns[breaks], columns[-1]]
    return list(zip(starts.tolist(), ends.tolist()))


def sent(view: TakeView, monkeypatch) -> list[dict]:
    """Record the custom messages ``view`` sends to the page."""
    messages = []
    monkeypatch.setattr(view.comm, "send", lambda data=None, buffers=None, **_: messages.append(data))
    return messages


# ----- fixtures
@pytest.fixture(scope="module")
def chorale(tmp_path_factory) -> Piece:
    """bwv66.6: four parts and a one-beat pickup."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MUSEWIDGETS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        return musewidgets.load_style("chorale", progress=False).get("bach/bwv66.6.mxl")


@pytest.fixture(scope="module")
def shown() -> tuple[TakeView, Piece]:
    view, piece = TakeView(), make_piece()
    view.show(piece, label="take 1", programs=[0, 32])
    return view, piece


# ----- the module
def test_importing_musewidgets_imports_no_widget_library():
    code = (
        "import sys, musewidgets, musewidgets.plotting; "
        "print([m for m in ('anywidget', 'ipywidgets', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_javascript_and_css_are_inline_in_the_widget_state_and_ship_in_the_wheel(shown):
    view, _ = shown
    state = view.get_state()
    assert "mw-playhead" in state["_esm"] and "export default" in state["_esm"]
    assert ".mw-playhead" in state["_css"] and ".mw-current" in state["_css"]
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", state["_esm"] + state["_css"])  # nothing from a CDN
    assert not re.search(r"^\s*import\s", state["_esm"], flags=re.M)  # one self-contained module
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "musewidgets"
    covered = {p for pattern in patterns["musewidgets"] for p in package.glob(pattern)}
    assert {package / "widgets" / "static" / name for name in ("player.js", "player.css")} <= covered


# ----- show
def test_show_fills_every_synced_trait(shown):
    view, piece = shown
    state = view.get_state()
    assert bytes(state["roll_png"])[:4] == b"\x89PNG"
    assert bytes(state["audio_wav"])[:4] == b"RIFF"
    assert state["score_svg"].startswith("<svg") and 'class="measure"' in state["score_svg"]
    assert set(state["timing"]) == TIMING_KEYS
    assert state["timing"]["seconds_per_step"] == piece.seconds_per_step
    assert state["timing"]["steps"] == piece.bar_start(piece.n_bars)
    assert (state["timing"]["pickup"], state["timing"]["steps_per_bar"]) == (4, 12)
    assert state["label"] == "take 1" and state["pending"] is False and state["position"] == 0.0


def test_the_sound_starts_at_step_zero_and_lasts_the_piece_plus_the_tail(shown):
    view, piece = shown
    channels, rate, frames = wav_frames(view.audio_wav)
    assert (channels, rate) == (2, NATIVE_RATE)
    assert frames == round(piece.end * piece.seconds_per_step * NATIVE_RATE) + int(TAIL_SECONDS * NATIVE_RATE)
    with wave.open(io.BytesIO(view.audio_wav)) as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.abs(pcm[:480]).max() > 0  # the first note sounds within 10 ms: no encoder delay, no leading silence


def test_show_roll_draws_the_roll_and_marks_sound_and_score_pending():
    view, piece = TakeView(), make_piece()
    view.show(piece, label="old")
    view.show_roll(piece.slice_bars(-1, 1))
    assert view.roll_png[:4] == b"\x89PNG" and view.timing["steps"] == 16
    assert view.audio_wav == b"" and view.score_svg == "" and view.pending
    assert view.label == "old"
    view.show(piece, label="new")
    assert not view.pending and view.audio_wav and view.score_svg and view.label == "new"


def test_a_view_without_a_score_engraves_nothing(monkeypatch):
    import musewidgets.engraving

    def no_engraving(*args, **kwargs):
        raise AssertionError("engraved a score for a view made with score=False")

    monkeypatch.setattr(musewidgets.engraving, "to_svg", no_engraving)
    view, piece = TakeView(roll_width=5.5, roll_height=2.6, score=False), make_piece()
    view.show(piece, label="compared")
    assert view.score_svg == "" and view.label == "compared" and not view.pending
    assert view.audio_wav[:4] == b"RIFF" and view.roll_png[:4] == b"\x89PNG"
    assert view.measure_times == measure_times(piece)
    _, g = pianoroll_png_with_geometry(piece, width=5.5, height=2.6, title="")
    assert (g.width, g.height) == (550, 260) and view.timing["x1"] == g.x1 and view.timing["steps"] == g.steps
    assert TakeView().score is True  # by default a view engraves


def test_a_view_without_a_roll_maps_seconds_onto_the_steps_of_a_linked_roll(monkeypatch):
    """The Workbench's view draws no roll (the roll editor is the one roll), but still tells that roll where the sound
    is: its timing maps seconds onto the piece's steps, and the page speaks to the roll through window events."""
    import musewidgets.plotting

    def no_roll(*args, **kwargs):
        raise AssertionError("drew a roll for a view made with roll=False")

    monkeypatch.setattr(musewidgets.plotting, "pianoroll_png_with_geometry", no_roll)
    view, piece = TakeView(roll=False, link="take-1"), make_piece()
    view.show(piece, label="linked")
    assert view.roll_png == b"" and view.audio_wav[:4] == b"RIFF" and "<svg" in view.score_svg
    assert set(view.timing) == TIMING_KEYS and view.timing["steps"] == piece.bar_start(piece.n_bars)
    assert view.timing["seconds_per_step"] == piece.seconds_per_step
    view.show_roll(piece.slice_bars(-1, 1))  # while sampling: pending, the sound and the score cleared
    assert view.pending and view.roll_png == b"" and view.audio_wav == b"" and view.timing["steps"] == 16
    esm = view.get_state()["_esm"]
    assert view.get_state()["link"] == "take-1"
    assert '"musewidgets:playhead"' in esm and '"musewidgets:seek"' in esm
    assert TakeView().roll is True  # by default a view draws its roll


def test_the_score_grows_with_its_systems_instead_of_hiding_them(shown):
    """Issue 33: a score box 440 px high cut off the second system; it grows now, and only scrolls sideways where a
    page cannot shrink to the column."""
    css = re.sub(r"/\*.*?\*/", "", shown[0].get_state()["_css"], flags=re.S)
    rules = {sel.strip(): body for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)}
    score = rules[".mw-takeview .mw-score"]
    assert "max-height" not in score and "height" not in score and re.search(r"max-width:\s*100%", score)
    assert re.search(r"overflow-x:\s*auto", score) and not re.search(r"overflow(-y)?:\s*(auto|scroll|hidden)", score)


def test_show_none_clears_everything(shown):
    view = TakeView()
    view.show(shown[1], label="x")
    view.seek(1.0)
    view.show(None)
    assert view.roll_png == b"" and view.audio_wav == b"" and view.score_svg == ""
    assert view.timing == {} and view.measure_times == [] and view.label == "" and not view.pending
    assert view.position == 0.0


# ----- timing map
def test_measure_times_follow_the_bar_lines_with_and_without_a_pickup():
    piece = make_piece()  # 3/4 with a one-beat pickup, 2 bars, tempo 90
    spb = piece.seconds_per_step
    assert measure_times(piece) == pytest.approx([0, 4 * spb, 16 * spb])
    assert measure_times(piece.slice_bars(0)) == pytest.approx([0, 12 * spb])
    assert measure_times(piece.replace(pickup=0)) == pytest.approx([0, 12 * spb, 24 * spb])
    assert measure_times(Piece((Part("empty", ()),))) == [0.0]


def test_measure_times_of_a_chorale_with_a_pickup(chorale):
    assert (chorale.pickup, chorale.steps_per_bar) == (4, 16)
    steps = [0, 4, 20, 36, 52, 68, 84, 100, 116, 132]
    assert measure_times(chorale) == pytest.approx([s * chorale.seconds_per_step for s in steps])


@pytest.mark.parametrize("which", ["pickup", "no pickup", "chorale"])
def test_the_engraving_has_one_measure_group_per_measure_time_holding_every_part(which, chorale):
    piece = {"pickup": make_piece(), "no pickup": make_piece().replace(pickup=0), "chorale": chorale}[which]
    view = TakeView()
    view.show(piece)
    measures = engraved_measures(view.score_svg)
    assert len(measures) == len(view.measure_times) == len(measure_times(piece))
    for g in measures:  # one group per measure and system row, with a staff for every part
        assert sum(1 for s in g if s.tag == SVG_G and s.get("class") == "staff") == len(piece.parts)


# ----- roll geometry
def test_roll_geometry_is_measured_inside_the_picture():
    png, g = pianoroll_png_with_geometry(make_piece(), width=9.0, height=3.2, title="")
    assert 0 < g.x0 < g.x1 < 1 and 0 < g.y0 < g.y1 < 1
    assert (g.width, g.height) == (900, 320)
    assert mpimg.imread(io.BytesIO(png), format="png").shape[:2] == (320, 900)
    assert g.x0 * 900 == pytest.approx(50) and g.x1 * 900 == pytest.approx(900 - 110)  # the fixed margins
    assert g.x_of_step(0) == g.x0 and g.x_of_step(g.steps) == pytest.approx(g.x1)


def test_a_note_at_step_s_is_drawn_at_the_pixel_column_the_timing_map_gives():
    notes = (Note(60, 20, 4), Note(62, 50, 6))
    piece = Piece((Part("solo", notes),), time_signature=(4, 4))
    png, g = pianoroll_png_with_geometry(piece, width=9.0, height=3.2, title="")
    assert g.steps == 64
    runs = coloured_runs(png, PART_COLORS[0])
    assert len(runs) == 2
    for (first, last), note in zip(runs, notes):
        assert first == pytest.approx(g.x_of_step(note.start) * g.width, abs=2)
        assert last + 1 == pytest.approx(g.x_of_step(note.end) * g.width, abs=2)


def test_timing_map_matches_the_roll_geometry(shown):
    view, piece = shown
    _, g = pianoroll_png_with_geometry(piece, width=9.0, height=3.2, title="")
    assert {k: view.timing[k] for k in ("x0", "x1", "y0", "y1", "steps")} == {
        "x0": g.x0,
        "x1": g.x1,
        "y0": g.y0,
        "y1": g.y1,
        "steps": g.steps,
    }


# ----- position and seeking
def test_seek_sends_the_page_a_seek_message_and_sets_the_position(monkeypatch):
    view = TakeView()
    view.show(make_piece())
    messages = sent(view, monkeypatch)
    view.seek(1.25)
    assert view.position == 1.25
    custom = [m["content"] for m in messages if m.get("method") == "custom"]
    assert custom == [{"type": "seek", "seconds": 1.25}]
    view.seek(np.float32(0.5))
    assert view.position == 0.5


@pytest.mark.parametrize(("seconds", "error"), [(-1, ValueError), (float("nan"), ValueError), ("1", TypeError)])
def test_seek_refuses_what_is_not_a_time(seconds, error):
    with pytest.raises(error, match="seconds"):
        TakeView().seek(seconds)


def test_the_page_reports_the_position_through_the_trait():
    view = TakeView()
    view.set_state({"position": 2.5})  # what a pause or seek in the browser sends
    assert view.position == 2.5
