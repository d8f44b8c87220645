import io as stdio

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from musewidgets import plotting  # noqa: E402


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
