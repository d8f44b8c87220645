"""The scorecard: its statistics, its rows, the real rows, the CLI and its files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musewidgets.analysis.metrics import tonic_ending
from musewidgets.cli import main
from musewidgets.errors import UnknownStyleError
from musewidgets.evaluation.judge import JUDGES
from musewidgets.evaluation.scorecard import COLUMNS, real_excerpts, scorecard, to_markdown

REQUIRED = {
    "model",
    "style",
    "takes",
    *JUDGES,
    "strongest",
    "gives_away",
    "fidelity",
    "tonic_ending",
    "tonic_ending_music21",
    "remote_keys",
    "steps",
    "parallels_per_8_bars",
    "crossings_per_8_bars",
}


def test_real_excerpts_are_the_last_bars_of_held_out_pieces():
    excerpts = real_excerpts("folk", 8, 4, seed=3)
    assert len(excerpts) == 8
    assert all(p.n_bars == 4 and p.pickup == 0 and p.end == 4 * p.steps_per_bar for p in excerpts)
    endings = real_excerpts("chorale", 32, 8)
    assert np.mean([tonic_ending(p) for p in endings]) > 0.5  # real endings: mostly on the tonic
    assert [p.title for p in excerpts] == [p.title for p in real_excerpts("folk", 8, 4, seed=3)]


def test_takes_and_excerpts_are_measured_in_the_key_heard_in_their_notes():
    from musewidgets.analysis.metrics import METRIC_NAMES, metric_matrix
    from musewidgets.keys import estimate_key
    from musewidgets.piece import Note, Part, Piece

    # D minor heard (D-F-A, ending on D), C major written: what a key signature without a mode says of it
    notes = [Note(p, 4 * i, 4) for i, p in enumerate([62, 65, 69, 65, 64, 62, 61, 62])]
    piece = Piece(parts=(Part("Melody", notes),), key="C major")
    assert estimate_key(piece) == "D minor" and tonic_ending(piece) == 0.0
    [row] = metric_matrix([piece])
    assert row[METRIC_NAMES.index("tonic_ending")] == 1.0


def test_takes_are_asked_for_the_metres_of_the_real_excerpts():
    from musewidgets.evaluation.scorecard import metre_plan

    def excerpts(*metres):
        return [_Obedient(True).tune.replace(time_signature=m) for m in metres]

    real = excerpts((3, 4), (2, 4), (3, 4), (5, 4))  # 5/4: a metre the model does not write
    assert metre_plan(["2/4", "3/4", "6/8"], real, 4) == [("2/4", 2), ("3/4", 2)]  # 5/4 counts for the usual 2/4
    assert metre_plan(["2/4", "3/4", "6/8"], real, 6) == [("2/4", 3), ("3/4", 3)]  # more takes than excerpts
    assert metre_plan(["6/8"], real, 5) == [("6/8", 5)]  # a model with one metre writes every take in it
    assert metre_plan(["6/8", "2/4"], [], 3) == [("6/8", 3)]
    irish = real_excerpts("irish", 16, 8)
    plan = dict(metre_plan(["6/8", "2/4", "2/2", "4/4", "3/4", "9/8"], irish, 16))
    assert sum(plan.values()) == 16 and len(plan) > 1  # Irish endings come in several metres
    for metre, count in plan.items():
        assert count == sum(f"{a}/{b}" == metre for a, b in (p.time_signature for p in irish))


def test_scorecard_rows_are_made_of_takes_in_those_metres(monkeypatch):
    import musewidgets.evaluation.scorecard as sc

    asked, real_metres = [], []
    score = sc.score

    def spy(takes, real, **kwargs):
        asked.extend(f"{a}/{b}" for a, b in (t.time_signature for t in takes))
        real_metres.extend(f"{a}/{b}" for a, b in (p.time_signature for p in real.pieces))
        return score(takes, real, **kwargs)

    monkeypatch.setattr(sc, "score", spy)
    monkeypatch.setattr(sc, "control", lambda *a, **k: {})
    scorecard(["lstm"], ["irish"], takes=12, bars=2, repeats=1, progress=False)
    takes, real = asked[:12], real_metres[:12]
    assert len(set(takes)) > 1 and sorted(takes) == sorted(real)


@pytest.fixture(scope="module")
def rows():
    return scorecard(["lstm", "gan"], ["chorale"], takes=6, bars=2, repeats=1, progress=False)


def test_rows_hold_every_column_and_a_real_row_per_style(rows):
    assert [(r["model"], r["style"]) for r in rows] == [("lstm", "chorale"), ("gan", "chorale"), ("real", "chorale")]
    for r in rows:
        assert REQUIRED <= set(r) and set(COLUMNS) <= set(r)
        assert r["takes"] == 6
        assert all(0 <= r[j][0] <= 1 and r[j][1] >= 0 for j in JUDGES) and 0 <= r["fidelity"] <= 1
        assert r["strongest"] == max(r[j][0] for j in JUDGES)
        assert len(r["gives_away"]) == 3 and len(r["steps"]) == 4  # four voices, each its share of steps
        assert 0 <= r["tonic_ending"] <= 1 and 0 <= r["tonic_ending_music21"] <= 1 and 0 <= r["remote_keys"] <= 1
    table = to_markdown(rows)
    assert table.splitlines()[2].startswith("| **real** | chorale | 6 |")


def test_the_same_settings_give_the_same_rows(rows):
    again = scorecard(["lstm", "gan"], ["chorale"], takes=6, bars=2, repeats=1, progress=False)
    assert json.dumps(again, default=str) == json.dumps(rows, default=str)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="`takes`"):
        scorecard(["lstm"], ["folk"], takes=1)
    with pytest.raises(ValueError, match="`bars`"):
        scorecard(["lstm"], ["folk"], bars=0)
    with pytest.raises(ValueError, match="`split`"):
        scorecard(["lstm"], ["folk"], split="holdout")
    with pytest.raises(ValueError, match="`repeats`"):
        scorecard(["lstm"], ["folk"], repeats=0)
    with pytest.raises(UnknownStyleError, match="jazz"):
        scorecard(["lstm"], ["jazz"])


def test_cli_prints_the_table_and_writes_json_and_the_page(tmp_path, capsys):
    out, page = tmp_path / "sc.json", tmp_path / "scorecard.md"
    args = ["scorecard", "--takes", "4", "--bars", "2", "--model", "rnn", "--style", "folk", "-q"]
    assert main([*args, "--json", str(out), "--markdown", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "| rnn | folk | 4 |" in printed and "| **real** | folk |" in printed
    data = json.loads(out.read_text())
    assert [r["model"] for r in data] == ["rnn", "real"] and REQUIRED <= set(data[0])
    assert "Made by `musewidgets" in page.read_text() and "Mean of every metric" in page.read_text()
    assert "c2st" not in page.read_text()
    assert main(["scorecard", "--takes", "100", "--model", "rnn", "--style", "folk", "-q"]) == 1
    assert "`takes` must be a whole number from 2 to 64" in capsys.readouterr().err


def test_shipped_scorecard_page_has_every_family_and_style():
    from pathlib import Path

    rows = json.loads((Path(__file__).parents[1] / "docs" / "scorecard.json").read_text())
    cells = {(r["model"], r["style"]) for r in rows}
    for style in ("chorale", "folk", "irish", "renaissance"):
        assert {(m, style) for m in ("rnn", "lstm", "transformer", "gan", "real")} <= cells
    assert all(r["takes"] == 64 for r in rows if r["model"] != "real")
    for r in rows:  # every judge, and for the real rows the floors, which are near chance
        assert all(0.5 - 0.15 < r[j][0] < 0.5 + 0.15 for j in JUDGES) if r["model"] == "real" else r["strongest"]


def test_strict_rows_stand_beside_each_sequence_model_in_styles_with_voices():
    rows = scorecard(["lstm", "gan"], ["chorale", "folk"], takes=4, bars=2, strict=True, repeats=1, progress=False)
    assert [(r["model"], r["style"]) for r in rows] == [
        ("lstm", "chorale"),
        ("lstm strict", "chorale"),
        ("lstm", "folk"),
        ("gan", "chorale"),
        ("gan", "folk"),
        ("real", "chorale"),
        ("real", "folk"),
    ]
    strict = rows[1]
    spacing = strict["means"]["spacing_per_8_bars"]
    assert strict["parallels_per_8_bars"] == strict["crossings_per_8_bars"] == spacing == 0


class _Obedient:
    """A stand-in sampler that returns a real tune moved to the key asked for (or left where it is)."""

    controls = True
    family = "stub"

    def __init__(self, obey: bool):
        from musewidgets.keys import estimate_key
        from musewidgets.piece import Note, Part, Piece, parse_key

        self.obey = obey
        line = [60, 64, 67, 72, 71, 67, 65, 62, 60, 64, 62, 59, 60, 67, 64, 60]  # plainly C major
        notes = tuple(Note(p, 4 * i, 4) for i, p in enumerate(line))
        self.tune = Piece((Part("Melody", notes, program=73),), key="C major", style="folk")
        self.pc = parse_key(estimate_key(self.tune))[0]

    def metres(self, style):
        return [f"{a}/{b}" for a, b in [self.tune.time_signature]]

    def generate(self, *, style, bars, n, seed, temperature, key, metre):
        from musewidgets.keys import estimate_key
        from musewidgets.piece import parse_key

        shift = (parse_key(key)[0] - self.pc + 6) % 12 - 6 if self.obey else 0
        moved = self.tune.transpose(shift)
        return [moved.replace(key=key if estimate_key(moved) == key else estimate_key(moved))] * n


def test_control_counts_takes_in_the_key_and_metre_asked_for():
    from musewidgets.evaluation.scorecard import control

    obedient = control(_Obedient(True), "folk", takes=8, bars=4)
    assert obedient["metre_asked"] == 1.0
    # the tune stays in major, so it is in the key asked for whenever a major key is asked for
    assert 0 < obedient["key_asked"] < 1 and obedient["key_asked"] == obedient["key_asked_music21"]
    deaf = control(_Obedient(False), "folk", takes=8, bars=4)
    assert deaf["key_asked"] < obedient["key_asked"]
