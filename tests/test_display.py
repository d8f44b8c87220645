import base64
import io as stdio
import re

import numpy as np
import pytest
import soundfile

import musewidgets
from musewidgets import display


def test_html_holds_roll_score_and_a_quiet_player(piece):
    html = display.to_html(piece)
    assert html.count("<img") == 1 and "data:image/png;base64," in html
    assert html.count('class="note"') >= piece.n_notes  # tied notes across bar lines add noteheads
    player = re.search(r"<audio[^>]*>", html).group(0)
    assert "controls" in player and "autoplay" not in player and "loop" not in player
    assert display.to_html(piece) == html  # same piece, same output: safe for nbval


def test_embedded_audio_is_small_and_as_long_as_the_piece(piece):
    html = display.audio_html(piece)
    mime, data = re.search(r'src="data:(audio/[a-z]+);base64,([^"]+)"', html).groups()
    raw = base64.b64decode(data)
    samples, rate = soundfile.read(stdio.BytesIO(raw))
    seconds = piece.end * piece.seconds_per_step + musewidgets.audio.TAIL_SECONDS
    assert len(samples) / rate == pytest.approx(seconds, abs=0.1)
    assert np.abs(samples).max() > 0.3
    assert len(raw) < 20_000 * seconds  # about 20 KB per second or less, even as WAV fallback at 22 kHz mono
    if mime == "audio/mpeg":
        assert len(raw) < 6_000 * seconds


def test_show_displays_one_html_output(piece, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    musewidgets.show(piece, score=False)
    assert len(shown) == 1 and "<audio" in shown[0].data and "<svg" not in shown[0].data
