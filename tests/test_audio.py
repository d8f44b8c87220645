import io as stdio
import wave

import numpy as np
import pytest

from musewidgets import AudioBackendError, audio
from musewidgets.piece import Note, Part, Piece

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
RATE = audio.NATIVE_RATE


def scale_piece(program: int = 0) -> Piece:
    """C major scale in quarter notes at 120 qpm (0.5 s each), a 4 s rest, then one more C5."""
    notes = [Note(p, 4 * i, 4) for i, p in enumerate(SCALE)] + [Note(72, 4 * 8 + 32, 4)]
    return Piece((Part("Line", tuple(notes), program=program),), tempo=120)


def fundamental(segment: np.ndarray, rate: int) -> float:
    """Fundamental frequency by the harmonic product spectrum (robust to a strong second harmonic)."""
    n = 1 << 16
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    product = spectrum.copy()
    for h in (2, 3):
        down = spectrum[::h]
        product[: len(down)] *= down
        product[len(down) :] = 0
    band = (freqs > 50) & (freqs < 2000)
    return float(freqs[band][np.argmax(product[band])])


@pytest.mark.parametrize("program", [0, 73])  # piano, flute
@pytest.mark.parametrize("exact", [False, True])
def test_each_note_sounds_at_its_pitch(program, exact):
    samples = audio.render(scale_piece(program), exact=exact).mean(axis=1)
    for i, pitch in enumerate(SCALE):
        segment = samples[int((0.5 * i + 0.1) * RATE) : int((0.5 * i + 0.45) * RATE)]
        expected = 440.0 * 2 ** ((pitch - 69) / 12)
        assert fundamental(segment, RATE) == pytest.approx(expected, rel=0.01), f"note {i} ({pitch})"


@pytest.mark.parametrize("exact", [False, True])
def test_rests_are_silent_and_peak_is_normalized(exact):
    samples = audio.render(scale_piece(), exact=exact)
    assert samples.dtype == np.float32 and samples.shape[1] == 2
    assert np.abs(samples).max() == pytest.approx(audio.PEAK, abs=1e-6)
    rest = samples[int(5.2 * RATE) : int(7.9 * RATE)]  # the scale ends at 4 s; release and reverb fade by 5 s
    assert np.abs(rest).max() < 1e-3  # below -60 dBFS
    assert np.abs(samples[int(8.05 * RATE) : int(8.4 * RATE)]).max() > 0.05  # the last note sounds again
    expected_length = (8.5 + audio.TAIL_SECONDS) * RATE
    assert len(samples) == pytest.approx(expected_length, abs=RATE * 0.01)


def test_silence_stays_silence():
    empty = Piece((Part("Nobody"),), tempo=100)
    samples = audio.render(empty)
    assert not np.any(samples) and np.isfinite(samples).all()


def test_wav_bytes_are_valid_and_never_clip():
    data = audio.to_wav(scale_piece())
    with wave.open(stdio.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, RATE)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert pcm.max() < 32767 and pcm.min() > -32768
    assert np.abs(pcm).max() == pytest.approx(audio.PEAK * 32767, abs=2)


def test_sample_rate_is_configurable():
    piece = Piece((Part("A", (Note(69, 0, 8),), program=73),), tempo=120)
    samples = audio.render(piece, sample_rate=22_050)
    assert len(samples) == pytest.approx((1.0 + audio.TAIL_SECONDS) * 22_050, abs=50)
    assert fundamental(samples[2_000:20_000].mean(axis=1), 22_050) == pytest.approx(440, rel=0.01)


def test_programs_change_the_instrument_and_rendering_is_deterministic():
    piece = scale_piece(program=0)
    piano = audio.render(piece)
    assert np.array_equal(piano, audio.render(piece))
    flute = audio.render(piece, programs=[73])
    assert not np.allclose(piano[: len(flute)], flute[: len(piano)], atol=0.05)


def test_kept_notes_sound_like_a_one_pass_render():
    piece = scale_piece(program=73)
    mixed = audio.render(piece).mean(axis=1)
    exact = audio.render(piece, exact=True).mean(axis=1)
    n = min(len(mixed), len(exact)) // 2400 * 2400
    env = [np.sqrt((x[:n].reshape(-1, 2400) ** 2).mean(axis=1)) for x in (mixed, exact)]  # 50 ms loudness
    assert np.corrcoef(*env)[0, 1] > 0.95


def test_bad_arguments_are_clear(tmp_path):
    piece = scale_piece()
    with pytest.raises(ValueError, match="`sample_rate`"):
        audio.render(piece, sample_rate=100)
    with pytest.raises(ValueError, match="`backend`"):
        audio.render(piece, backend="sine")
    with pytest.raises(ValueError, match="one program per part"):
        audio.render(piece, programs=[0, 1])
    with pytest.raises(AudioBackendError, match="cannot read the SoundFont"):
        audio.render(piece, soundfont=tmp_path / "missing.sf2")


def test_missing_fluidsynth_says_what_to_install():
    pytest.importorskip("numpy")
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(AudioBackendError, match="pyfluidsynth"):
            audio.render(scale_piece(), backend="fluidsynth")
    else:  # pragma: no cover - only where FluidSynth is installed
        samples = audio.render(scale_piece(), backend="fluidsynth")
        assert np.abs(samples).max() == pytest.approx(audio.PEAK, abs=1e-6)


def test_default_soundfont_ships_with_pretty_midi():
    path = audio.default_soundfont()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000


# ----- the note bank under its memory cap
def line(pitches, program: int = 0) -> Piece:
    """Quarter notes at 120 qpm, one part."""
    return Piece((Part("Line", tuple(Note(p, 4 * i, 4) for i, p in enumerate(pitches)), program=program),), tempo=120)


def bank_keys(piece: Piece) -> set:
    """The note-bank keys (program, pitch, velocity, ticks) that ``piece`` needs."""
    ticks = lambda n: max(1, round(n.duration * piece.seconds_per_step * 960))  # noqa: E731
    return {(p.program, n.pitch, n.velocity, ticks(n)) for p in piece.parts for n in p.notes}


def loudness(samples: np.ndarray) -> np.ndarray:
    """RMS of every 50 ms of the mono mix."""
    n = len(samples) // 2400 * 2400
    return np.sqrt((samples[:n].mean(axis=1).reshape(-1, 2400) ** 2).mean(axis=1))


def test_a_full_note_bank_never_evicts_notes_the_piece_needs():
    bank = audio._NoteBank(audio.default_soundfont(), max_bytes=1)  # every render overflows the cap
    bank.render(line([60, 62]))
    second = line([60, 64])  # 60 is kept (and oldest), 64 is new: making room for 64 must not drop 60
    samples = bank.render(second)
    assert len(samples) == round((2 * 0.5 + audio.TAIL_SECONDS) * RATE)
    peak = np.abs(samples).max()
    assert np.abs(samples[: RATE // 2]).max() > 0.3 * peak < np.abs(samples[RATE // 2 : RATE]).max()  # both sound
    assert set(bank._notes) == bank_keys(second)  # over the cap, it keeps just what this piece needed


def test_note_bank_under_pressure_renders_many_pieces_and_stays_near_its_cap():
    rng = np.random.default_rng(0)
    cap = 400_000  # bytes: about two kept notes
    bank = audio._NoteBank(audio.default_soundfont(), max_bytes=cap)
    reference = audio._NoteBank(audio.default_soundfont())  # never evicts
    for _ in range(40):
        pitches = rng.choice([60, 62, 64, 65, 67, 69], size=int(rng.integers(1, 5))).tolist()
        piece = line(pitches, program=int(rng.choice([0, 73])))
        samples, expected = bank.render(piece), reference.render(piece)
        assert samples.shape == expected.shape
        assert np.corrcoef(loudness(samples), loudness(expected))[0, 1] > 0.99  # the same notes (their phases vary)
        assert bank._bytes == sum(clip.nbytes for clip in bank._notes.values())
        assert bank._bytes <= cap or set(bank._notes) <= bank_keys(piece)
