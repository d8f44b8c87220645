"""Frame datasets: music as binary piano-roll frames, the format of the polyphonic-music benchmarks.

JSB Chorales, Nottingham, MuseData and Piano-midi.de (Boulanger-Lewandowski, Bengio and Vincent, ICML 2012) are
distributed as MATLAB files holding ``traindata``, ``validdata`` and ``testdata``: each a 1 x N cell array of
``(T, 88)`` binary matrices, one row per frame (a quarter note for JSB), column ``k`` = MIDI pitch ``21 + k``::

    data = load_frame_dataset("JSB_Chorales.mat")
    data.splits["test"][0].shape        # (T, 88) uint8
    print(data.summary())

The loader checks what it reads and raises :class:`~musewidgets.errors.MusicFileError` naming the file and the
problem; it never guesses. :func:`window_batches` deals an epoch of training batches: windows of similar length
together, a bounded number of frames in each, so a step costs the same on any dataset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MusicFileError

__all__ = ["SPLITS", "FrameDataset", "load_frame_dataset", "pad_frames", "shift_range", "window_batches"]

SPLITS = {"train": "traindata", "valid": "validdata", "test": "testdata"}


@dataclass
class FrameDataset:
    """Pieces as binary frames per split (``{"train": [(T, n_keys) uint8, ...], "valid": ..., "test": ...}``)."""

    name: str
    splits: dict[str, list[np.ndarray]]
    low_pitch: int = 21  # MIDI pitch of column 0
    source: str = ""
    info: dict = field(default_factory=dict)

    @property
    def n_keys(self) -> int:
        return next(iter(self.splits.values()))[0].shape[1]

    def n_frames(self, split: str) -> int:
        return sum(len(f) for f in self.splits[split])

    def summary(self) -> str:
        parts = ", ".join(f"{s} {len(p)} pieces / {self.n_frames(s)} frames" for s, p in self.splits.items())
        return f"{self.name}: {self.n_keys} keys from MIDI {self.low_pitch}; {parts}"


def load_frame_dataset(path: str | os.PathLike, *, low_pitch: int = 21) -> FrameDataset:
    """Read a benchmark ``.mat`` file (``traindata``/``validdata``/``testdata`` cell arrays of binary frames).

    Raises
    ------
    MusicFileError
        If the file is missing, not a MATLAB file, lacks a split, or holds something other than non-empty
        binary ``(T, keys)`` matrices with the same number of keys throughout.
    """
    from scipy import io as sio

    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.mat"))  # the .mat files in it, the first as the example
        example = path / (found[0] if found else "JSB_Chorales.mat")
        raise MusicFileError(f"{path}: is a folder; give the .mat file itself, e.g. {example}")
    if not path.is_file():
        raise MusicFileError(f"{path}: no such dataset file (give its .mat file, e.g. JSB_Chorales.mat)")
    try:
        raw = sio.loadmat(path)
    except Exception as err:  # scipy raises ValueError, MatReadError, TypeError ... for damaged files
        raise MusicFileError(f"{path.name}: not a readable MATLAB .mat file ({type(err).__name__}: {err})") from err
    missing = [key for key in SPLITS.values() if key not in raw]
    if missing:
        found = ", ".join(k for k in raw if not k.startswith("__")) or "nothing"
        expected = ", ".join(SPLITS.values())
        raise MusicFileError(f"{path.name}: no {missing[0]!r} array (found: {found}); expected {expected}")
    splits: dict[str, list[np.ndarray]] = {}
    n_keys = None
    for split, key in SPLITS.items():
        cells = np.asarray(raw[key], dtype=object).ravel()
        if cells.size == 0:
            raise MusicFileError(f"{path.name}: {key!r} holds no pieces")
        pieces = []
        for i, cell in enumerate(cells):
            frames = np.asarray(cell)
            if frames.ndim != 2 or frames.shape[0] == 0 or frames.shape[1] == 0:
                raise MusicFileError(f"{path.name}: {key}[{i}] has shape {frames.shape}, expected (frames, keys)")
            if not np.isin(frames, (0, 1)).all():
                raise MusicFileError(f"{path.name}: {key}[{i}] holds values other than 0 and 1")
            if n_keys is None:
                n_keys = frames.shape[1]
            elif frames.shape[1] != n_keys:
                raise MusicFileError(f"{path.name}: {key}[{i}] has {frames.shape[1]} keys, the others {n_keys}")
            pieces.append(frames.astype(np.uint8))
        splits[split] = pieces
    return FrameDataset(path.stem, splits, low_pitch=low_pitch, source=str(path))


def shift_range(frames: np.ndarray, limit: int) -> tuple[int, int]:
    """Lowest and highest transposition (in keys, at most ``limit`` each way) that keeps every note on the board."""
    keys = np.flatnonzero(frames.any(axis=0))
    if keys.size == 0:
        return 0, 0
    return max(-limit, -int(keys[0])), min(limit, frames.shape[1] - 1 - int(keys[-1]))


def pad_frames(pieces: list[np.ndarray], shifts: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pieces (each transposed by its shift) stacked as ``(B, T_max, keys)`` float32 plus a ``(B, T_max)`` mask."""
    T = max(len(p) for p in pieces)
    K = pieces[0].shape[1]
    x = np.zeros((len(pieces), T, K), dtype=np.float32)
    mask = np.zeros((len(pieces), T), dtype=bool)
    for b, p in enumerate(pieces):
        s = shifts[b] if shifts is not None else 0
        x[b, : len(p)] = np.roll(p, s, axis=1) if s else p  # shift_range keeps notes from wrapping around
        mask[b, : len(p)] = True
    return x, mask


def window_batches(
    lengths: list[int],
    rng: np.random.Generator,
    *,
    batch_frames: int,
    window: int,
    max_windows: int | None = None,
    pool: int = 512,
) -> list[list[tuple[int, int, int]]]:
    """One epoch of training batches: every frame of every piece once, each batch at most ``batch_frames`` frames.

    Pieces longer than ``window`` frames are cut into windows of at most ``window`` (``window // 2`` to ``window``
    for the first, so the cuts move from epoch to epoch). The windows are shuffled, then sorted by length (jittered
    by up to 25 %) within pools of ``pool`` windows and packed greedily, so a batch holds windows of similar length
    and its padded size ``windows x longest`` stays within ``batch_frames``: a step costs about the same on any
    dataset, whatever the lengths of its pieces. ``max_windows`` also caps the windows in a batch.

    Returns
    -------
    list of batches in random order, each a list of ``(piece, start, stop)``.
    """
    if batch_frames < 1 or window < 1:
        raise ValueError(f"`batch_frames` and `window` must be >= 1, got {batch_frames} and {window}")
    window = min(window, batch_frames)
    spans = []
    for i, n in enumerate(lengths):
        if n <= window:
            spans.append((i, 0, int(n)))
            continue
        cuts = [0, *range(int(rng.integers(window // 2, window + 1)), int(n), window), int(n)]
        spans += [(i, a, b) for a, b in zip(cuts, cuts[1:])]
    order = rng.permutation(len(spans))
    jitter = rng.uniform(0.8, 1.25, len(spans))
    batches = []
    for first in range(0, len(order), pool):
        chosen = sorted(order[first : first + pool], key=lambda j: (spans[j][2] - spans[j][1]) * jitter[j])
        batch, longest = [], 0
        for j in chosen:
            n = spans[j][2] - spans[j][1]
            if batch and ((len(batch) + 1) * max(longest, n) > batch_frames or len(batch) == max_windows):
                batches.append(batch)
                batch, longest = [], 0
            batch.append(spans[j])
            longest = max(longest, n)
        batches.append(batch)
    return [batches[i] for i in rng.permutation(len(batches))]
