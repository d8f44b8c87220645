"""A long session in small: many takes leave no open figure, no temporary file and no widget behind.

The full measurement (300 takes, resident memory) is ``python -m benchmarks.soak``. Here everything is counted,
never timed or weighed: open pyplot figures, live matplotlib figures, files, and ipywidgets' registry of open widgets
(``Widget.widgets``), where a widget stays, with every byte it shows, until it is closed.
"""

from __future__ import annotations

import collections
import gc
import tempfile
import warnings
import weakref

import ipywidgets
import pytest

import musewidgets
from musewidgets.analysis.similarity import Neighbour
from musewidgets.widgets import TakeView
from musewidgets.widgets.analysis import AnalysisPanel

from .conftest import make_piece

TAKES = 15


def open_widgets() -> dict:
    """ipywidgets' registry of open widgets (model id -> widget)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Widget.widgets is deprecated, and still the registry
        return dict(ipywidgets.Widget.widgets)


def kinds() -> collections.Counter:
    return collections.Counter(type(w).__name__ for w in open_widgets().values())


def live_figures() -> int:
    from matplotlib.figure import Figure

    gc.collect()
    return sum(issubclass(type(o), Figure) for o in gc.get_objects())


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """An empty working folder, temp folder and session folder for the session, as ``benchmarks.soak`` runs it."""
    paths = {name: tmp_path / name for name in ("work", "tmp", "sessions")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.chdir(paths["work"])
    monkeypatch.setenv("TMPDIR", str(paths["tmp"]))
    monkeypatch.setattr(tempfile, "tempdir", str(paths["tmp"]))
    monkeypatch.setenv("MUSEWIDGETS_SESSION_DIR", str(paths["sessions"]))
    return paths


@pytest.mark.slow
def test_a_long_session_leaves_no_figure_file_or_widget_behind(folders):
    import matplotlib.pyplot as plt

    views_before, figures_before = kinds()["TakeView"], live_figures()  # what earlier tests left open is theirs
    pyplot_before = set(plt.get_fignums())
    wb = musewidgets.Workbench(model="lstm", style="chorale")
    wb.controls.bars.value = 2
    counts = []  # (compare on, analysis open, open widgets) after each take
    for i in range(1, TAKES + 1):
        wb.generate()
        if i % 3 == 0:  # back to an older take
            wb.take_list.selected = wb.takes[0].id
        if i % 4 == 0:
            wb.take_list.toggle_star()
        wb.analyse_button.value = i % 5 in (1, 2)
        if i % 2 == 0:
            wb._show_downloads()
        compare = i % 3 != 1  # the pair changes with nearly every take: new side-by-side views each time
        wb.take_list.compare_with.value = wb.takes[0].id if compare and len(wb.takes) > 1 else None
        if i % 5 == 0:
            wb.take_list.delete()
        counts.append((wb.take_list.compare_with.value is not None, wb.analyse_button.value, len(open_widgets())))
        # the take's view, the similar piece's, and two side by side: a view replaced and never closed stays open
        opened = kinds()["TakeView"] - views_before
        assert opened <= 4, f"take {i}: {opened} TakeViews open"
    wb.wait(30)

    # the same things on show take the same widgets, whatever the number of takes made
    by_state = collections.defaultdict(set)
    for compare, analysis, n in counts[3:]:
        by_state[compare, analysis].add(n)
    assert all(len(ns) == 1 for ns in by_state.values()), dict(by_state)
    assert len(wb.takes) == TAKES - TAKES // 5
    assert set(plt.get_fignums()) <= pyplot_before
    assert live_figures() <= figures_before
    assert list(folders["work"].iterdir()) == []
    assert list(folders["tmp"].iterdir()) == []
    saved = [p for p in folders["sessions"].rglob("*") if p.is_file()]
    assert saved and not [p.name for p in saved if p.suffix == ".tmp"]  # the takes are saved, atomically


def test_a_closed_take_view_lets_go_of_its_picture_and_sound():
    before = len(open_widgets())
    view = TakeView(layout=ipywidgets.Layout(width="50%"))
    view.show(make_piece(), label="x")
    assert len(view.audio_wav) > 0 and len(open_widgets()) == before + 2  # the view and its layout
    ref = weakref.ref(view)
    view.close()
    del view
    gc.collect()
    assert ref() is None  # nothing holds a closed view (anywidget's file watcher held every one)
    assert len(open_widgets()) == before


def test_each_search_for_similar_pieces_closes_the_buttons_it_replaces(monkeypatch):
    found = [Neighbour("chorale", f"bwv{k}", 0.9 - k / 10) for k in range(5)]
    monkeypatch.setattr("musewidgets.analysis.similarity.similar", lambda piece, k, progress=False: found[:k])
    panel = AnalysisPanel()
    panel.piece = make_piece()
    panel.find_similar()
    first = list(panel.similar_box.children)
    before = len(open_widgets())
    for _ in range(3):
        panel.find_similar()
    assert len(panel.similar_box.children) == 5
    assert len(open_widgets()) == before
    assert all(b.comm is None and b.layout.comm is None and b.style.comm is None for b in first)
    panel.show(None)
    assert panel.similar_box.children == ()
    assert len(open_widgets()) == before - 15  # five buttons, each with its layout and style


def test_changing_style_and_model_leaves_no_widget_behind():
    """Each style's instrument menus replace the last ones and are closed (issue 32's varied soak: 3.6 menus a take
    stayed in ipywidgets' registry when the class moved from style to style)."""
    wb = musewidgets.Workbench(model="lstm", style="chorale")
    styles = ["folk", "chorale", "irish", "renaissance"]
    for style in styles:  # every style once: what each one builds
        wb.controls.style.value = style
    gc.collect()
    before = kinds()
    for _ in range(3):
        for model in ("gan", "transformer", "lstm"):
            wb.controls.model.value = model
            for style in [s for s in styles if s in wb.controls.style.options]:
                wb.controls.style.value = style
    wb.controls.style.value = "renaissance"
    gc.collect()
    grown = {k: n - before.get(k, 0) for k, n in kinds().items() if n > before.get(k, 0)}
    assert grown == {}
