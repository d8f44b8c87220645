import io as stdio

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from musewidgets import plotting  # noqa: E402
from musewidgets.piece import Note, Part, Piece  # noqa: E402


def test_plot_on_given_axes_returns_one_rectangle_per_note(piece):
    fig, ax = plt.subplots()
    try:
        artist = plotting.plot_pianoroll(piece, ax, highlight=(0, 1))
        assert isinstance(artist, PolyCollection)
        assert len(artist.get_paths()) == piece.n_notes
        colors = {tuple(c) for c in artist.get_facecolors()}
        assert len(colors) == len(piece.parts)  # one colour per part
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Melody", "Bass"]
        low, high = ax.get_ylim()
        assert low == 43 - 1.5 and high == 74 + 1.5  # fitted to the notes
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert "C4" in labels and "C3" in labels
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
        assert len(ax.patches) == 1  # the highlighted bar range
    finally:
        plt.close(fig)


def test_png_helper_leaves_no_open_figures(piece):
    before = plt.get_fignums()
    data = plotting.pianoroll_png(piece, width=8, height=3, dpi=100)
    assert plt.get_fignums() == before
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(stdio.BytesIO(data), format="png")
    assert image.shape[:2] == (300, 800)
    assert np.ptp(image[..., :3]) > 0.5  # not a blank picture


def bars_piece(n_bars: int) -> Piece:
    """``n_bars`` bars of 4/4, one note in each."""
    notes = tuple(Note(60 + bar % 12, bar * 16, 16) for bar in range(n_bars))
    return Piece((Part("solo", notes),), time_signature=(4, 4))


def tick_label_boxes(fig, ax) -> list:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
    return [t.get_window_extent(renderer) for t in labels]


@pytest.mark.parametrize("width", [4.0, 6.0, 9.0])
@pytest.mark.parametrize("n_bars", [2, 8, 16, 32, 64, 200])
def test_bar_numbers_never_overlap(n_bars, width):
    fig = Figure(figsize=(width, 3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    plotting.plot_pianoroll(bars_piece(n_bars), ax)
    boxes = tick_label_boxes(fig, ax)
    assert boxes and all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    labels = [int(t.get_text()) for t in ax.get_xticklabels()]
    assert labels[0] == 1 and len(set(np.diff(labels))) <= 1  # bar 1, then every k-th bar
    fig.clear()


def test_a_64_bar_roll_in_the_widget_labels_every_4th_bar_without_overlap():
    fig, ax = plotting._roll_figure(bars_piece(64), width=9.0, height=3.2, dpi=100, title="")
    boxes = tick_label_boxes(fig, ax)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(b) for b in range(1, 65, 4)]
    fig.clear()
