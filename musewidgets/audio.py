"""Piece -> sound, from a General MIDI SoundFont, with nothing installed beyond pip packages.

The default SoundFont is ``TimGM6mb.sf2``, which ships inside the ``pretty_midi`` package; the default backend
renders it with ``midirenderer`` (a pip wheel). A second backend, ``'fluidsynth'``, goes through pretty_midi and
pyfluidsynth when the FluidSynth library is installed (environment.yml brings it from conda-forge).

Speed: a direct render costs about 8 ms per second of music on one core, too slow for a click-to-sound of a blink.
So by default the ``midirenderer`` backend works like a sampler: it renders every distinct note (program, pitch,
velocity, length) once, in one batch, keeps it (up to :data:`BANK_MAX_BYTES`; the least recently used go first), and
builds each piece as a sum of kept notes. A piece whose notes were all heard before costs only the numpy mixing, a few
milliseconds. The notes are the SoundFont's own, but the mix is not bit-identical to a one-pass render: voices in
unison add in phase, and the synthesizer's chorus and block timing differ per note (measured on chorales: loudness
envelopes within 5-10 %). ``exact=True`` renders the piece in one pass instead; file export uses it.

Output is float32 stereo in ``[-1, 1]``, scaled so its peak sits at :data:`PEAK` (about -1 dBFS) without clipping;
a piece of silence stays exactly zero.
"""

from __future__ import annotations

import io as _io
import os
import threading
import wave
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from .errors import AudioBackendError
from .piece import Piece

__all__ = ["BACKENDS", "NATIVE_RATE", "PEAK", "default_soundfont", "encode_wav", "render", "to_wav"]

NATIVE_RATE = 48_000  # midirenderer's output rate
PEAK = 0.89  # -1 dBFS
TAIL_SECONDS = 1.0  # release and reverb after the last note-off (measured: < 0.95 s above -70 dB for GM programs)
BACKENDS = ("midirenderer", "fluidsynth")
_TICKS_PER_SECOND = 960  # 480 ticks per quarter at 120 qpm: one tick is exactly 50 samples at 48 kHz
_SAMPLES_PER_TICK = NATIVE_RATE // _TICKS_PER_SECOND
# the synthesizer starts notes on blocks of 64 samples: 32 ticks (1600 samples) are a whole number of blocks
_TICKS_PER_BLOCK = 32
BANK_TAIL_SECONDS = 0.6  # release kept with each note in the bank; the rest (below about -40 dB) fades out
_FADE = 1920  # samples (40 ms) of fade-out where a kept note's tail is cut
_SILENCE = 16  # int16 units (about -66 dBFS): where a kept note's tail is cut
# The note bank's cap, which is what it costs a long session: a lesson keeps meeting new notes (corpus pieces, other
# tempos), so the bank grows to it (benchmarks/soak.py). A kept note is about 0.2 MiB; replaying the 8-bar chorales of
# 20 LSTM seeds needs 60 MiB (197 notes), with 6 transformer seeds 70 MiB (benchmarks/workbench.py replays those).
BANK_MAX_BYTES = 80 * 2**20


@cache
def default_soundfont() -> Path:
    """Path of the General MIDI SoundFont bundled with pretty_midi (``TimGM6mb.sf2``, GPL-2.0, by Tim Brechbill)."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise AudioBackendError("the default SoundFont comes with pretty_midi: pip install pretty_midi")
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


def render(
    piece: Piece,
    *,
    sample_rate: int = NATIVE_RATE,
    programs: Sequence[int] | None = None,
    soundfont: str | os.PathLike | None = None,
    backend: str = "midirenderer",
    exact: bool = False,
) -> np.ndarray:
    """Synthesize a piece.

    Parameters
    ----------
    piece : Piece
        Played at its own tempo; each part with its General MIDI program.
    sample_rate : int, default 48000
        Samples per second of the result (8000..192000); 48000 needs no resampling.
    programs : sequence of int, optional
        One General MIDI program per part, replacing the parts' own.
    soundfont : path, optional
        A ``.sf2`` file; default :func:`default_soundfont`.
    backend : {'midirenderer', 'fluidsynth'}, default 'midirenderer'
    exact : bool, default False
        Render the piece in one pass instead of mixing kept notes (midirenderer backend; slower, for export).

    Returns
    -------
    np.ndarray, dtype=float32, shape=(n_samples, 2)
        Stereo samples in ``[-1, 1]`` with the peak at :data:`PEAK`; the last notes ring for
        :data:`TAIL_SECONDS` after they end.
    """
    if not (isinstance(sample_rate, (int, np.integer)) and 8_000 <= sample_rate <= 192_000):
        raise ValueError(f"`sample_rate` must be an integer from 8000 to 192000, got {sample_rate!r}")
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
    if programs is not None:
        programs = list(programs)
        if len(programs) != len(piece.parts):
            raise ValueError(f"`programs` must give one program per part ({len(piece.parts)}), got {len(programs)}")
        piece = piece.replace(parts=tuple(replace(p, program=q) for p, q in zip(piece.parts, programs)))
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    if backend == "fluidsynth":
        samples, rate = _render_fluidsynth(piece, path, sample_rate), sample_rate
    elif exact:
        samples, rate = _bank(path).render_exact(piece), NATIVE_RATE
    else:
        samples, rate = _bank(path).render(piece), NATIVE_RATE
    samples = _normalize(samples)
    if rate != sample_rate:
        samples = _resample(samples, rate, sample_rate)
    return samples


def to_wav(piece: Piece, **kwargs) -> bytes:
    """The piece as a 16-bit PCM stereo WAV file (bytes); keyword arguments as for :func:`render`."""
    rate = kwargs.get("sample_rate", NATIVE_RATE)
    return encode_wav(render(piece, **kwargs), rate)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of float samples in ``[-1, 1]``, shape ``(n,)`` or ``(n, channels)``."""
    samples = np.asarray(samples, dtype=np.float32)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    buf = _io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _normalize(samples: np.ndarray) -> np.ndarray:
    peak = float(np.abs(samples).max(initial=0.0))
    if peak > 0:
        samples *= PEAK / peak
    return samples


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    out = resample_poly(samples, target // g, rate // g, axis=0).astype(np.float32)
    return _normalize(out) if np.abs(out).max(initial=0.0) > 1.0 else out


# --------------------------------------------------------------------------- midirenderer with a note bank


_BANKS: dict[Path, _NoteBank] = {}
_BANKS_LOCK = threading.Lock()


def _bank(soundfont: Path) -> _NoteBank:
    key = soundfont.resolve()
    with _BANKS_LOCK:
        if key not in _BANKS:
            _BANKS[key] = _NoteBank(key)
        return _BANKS[key]


class _NoteBank:
    """Renders each distinct note once with midirenderer and keeps it (least recently used go first).

    Keys are ``(program, pitch, velocity, length in ticks of 1/960 s)``; values int16 stereo arrays holding the
    note and its release, cut where the tail falls below :data:`_SILENCE`.
    """

    def __init__(self, soundfont: Path, max_bytes: int = BANK_MAX_BYTES):
        try:
            self._soundfont = soundfont.read_bytes()
        except OSError as err:
            raise AudioBackendError(f"cannot read the SoundFont {soundfont}: {err.strerror or err}") from err
        self.path = soundfont
        self.max_bytes = max_bytes
        self._notes: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def render(self, piece: Piece) -> np.ndarray:
        seconds = piece.seconds_per_step
        events = [
            (
                round(n.start * seconds * NATIVE_RATE),
                (p.program, n.pitch, n.velocity, max(1, round(n.duration * seconds * _TICKS_PER_SECOND))),
            )
            for p in piece.parts
            for n in p.notes
        ]
        n_samples = round(piece.end * seconds * NATIVE_RATE) + int(TAIL_SECONDS * NATIVE_RATE)
        out = np.zeros((n_samples, 2), dtype=np.float32)
        needed = dict.fromkeys(k for _, k in events)  # in order of first use
        with self._lock:  # one consistent view: render what is missing, take the clips, then make room
            missing = [k for k in needed if k not in self._notes]
            if missing:
                self._render_batch(missing)
            clips = {k: self._notes[k] for k in needed}
            for k in clips:
                self._notes.move_to_end(k)
            self._evict(keep=clips)
        for start, k in events:
            clip = clips[k][: n_samples - start]
            np.add(out[start : start + len(clip)], clip, out=out[start : start + len(clip)], casting="unsafe")
        out *= 1.0 / 32768.0
        return out

    def render_exact(self, piece: Piece) -> np.ndarray:
        """The whole piece in one pass of the synthesizer (no kept notes)."""
        from .io import to_midi

        pm = to_midi(piece)
        end = piece.end * piece.seconds_per_step + TAIL_SECONDS
        _hold_until(pm, end)
        audio = self._synthesize(pm)[: round(end * NATIVE_RATE)]
        return audio.astype(np.float32) * (1.0 / 32768.0)

    def _render_batch(self, keys: list[tuple[int, int, int, int]]) -> None:
        """Render ``keys`` one after another in a single MIDI file, each followed by its tail, and keep them."""
        import pretty_midi

        tail = int(BANK_TAIL_SECONDS * _TICKS_PER_SECOND)
        pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
        instruments: dict[int, pretty_midi.Instrument] = {}
        slots, cursor = [], 0
        for program, pitch, velocity, ticks in keys:
            inst = instruments.setdefault(program, pretty_midi.Instrument(program=program))
            start, end = cursor / _TICKS_PER_SECOND, (cursor + ticks) / _TICKS_PER_SECOND
            inst.notes.append(pretty_midi.Note(velocity, pitch, start, end))
            slots.append((cursor, ticks + tail))
            cursor += -(-(ticks + tail) // _TICKS_PER_BLOCK) * _TICKS_PER_BLOCK  # next slot starts on a block
        pm.instruments = list(instruments.values())
        _hold_until(pm, cursor / _TICKS_PER_SECOND)
        audio = self._synthesize(pm)
        for key, (start, length) in zip(keys, slots):
            clip = audio[start * _SAMPLES_PER_TICK : (start + length) * _SAMPLES_PER_TICK]
            loud = np.flatnonzero(np.abs(clip).max(axis=1) > _SILENCE)
            clip = clip[: loud[-1] + 1 if len(loud) else 0].astype(np.float32)
            if len(clip) == length * _SAMPLES_PER_TICK:  # still sounding where the slot ends: fade, don't click
                fade = min(_FADE, len(clip))
                clip[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
            clip = np.rint(clip).astype(np.int16)
            self._notes[key] = clip
            self._bytes += clip.nbytes

    def _evict(self, keep) -> None:
        """Forget the least recently used notes until the bank fits in ``max_bytes``, never a key in ``keep``.

        The notes of the piece being rendered stay even when they alone exceed the cap (the bank then holds just
        them until the next render makes room).
        """
        for key in list(self._notes):  # oldest first
            if self._bytes <= self.max_bytes:
                break
            if key not in keep:
                self._bytes -= self._notes.pop(key).nbytes

    def _synthesize(self, pm) -> np.ndarray:
        import midirenderer

        buf = _io.BytesIO()
        pm.write(buf)
        try:
            wav = midirenderer.render_wave_from(self._soundfont, buf.getvalue())
        except (ValueError, RuntimeError) as err:
            raise AudioBackendError(f"midirenderer could not render with {self.path.name}: {err}") from err
        return _decode_wav(wav)


def _hold_until(pm, seconds: float) -> None:
    """midirenderer stops at the last MIDI event: a controller change at ``seconds`` lets the last notes ring."""
    import pretty_midi

    pm.instruments[0].control_changes.append(pretty_midi.ControlChange(7, 100, seconds))


def _decode_wav(data: bytes) -> np.ndarray:
    with wave.open(_io.BytesIO(data)) as w:
        if w.getsampwidth() != 2 or w.getframerate() != NATIVE_RATE:
            raise AudioBackendError(
                f"unexpected WAV from midirenderer: {w.getsampwidth() * 8}-bit, {w.getframerate()} Hz"
            )
        frames = w.readframes(w.getnframes())
        channels = w.getnchannels()
    audio = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    return audio if channels == 2 else np.repeat(audio, 2, axis=1)


# --------------------------------------------------------------------------- fluidsynth


def _render_fluidsynth(piece: Piece, soundfont: Path, sample_rate: int) -> np.ndarray:
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; needs the FluidSynth C library)
    except (ImportError, OSError) as err:
        raise AudioBackendError(
            "the 'fluidsynth' backend needs pyfluidsynth and the FluidSynth library: "
            "conda install -c conda-forge fluidsynth pyfluidsynth (or pip install pyfluidsynth with your system's "
            "libfluidsynth); the default 'midirenderer' backend needs neither"
        ) from err
    from .io import to_midi

    pm = to_midi(piece)
    mono = pm.fluidsynth(fs=sample_rate, sf2_path=str(soundfont), normalize=False)
    tail = np.zeros(int(TAIL_SECONDS * sample_rate))
    mono = np.concatenate([mono, tail]).astype(np.float32)
    return np.repeat(mono[:, None], 2, axis=1)
