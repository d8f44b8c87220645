"""A token store: a folder of the user's own music, read once, encoded once, kept on disk for training.

::

    prepare("my-midi/", "runs/mine/store", style_name="mine")          # musewidgets.datasets.preparation
    store = TokenStore("runs/mine/store")
    batch = store.split("train").batch(np.random.default_rng(0), 32, 512, augment=True)

The store is made by :func:`~musewidgets.datasets.preparation.prepare` (parallel, resumable; MIDI through
:mod:`~musewidgets.datasets.midi`): per chunk of :data:`CHUNK_FILES` files one **shard**, ``tokens-NNNNN.npy`` (every
kept piece's tokens, one ``uint8`` each, back to back) and ``pieces-NNNNN.json`` (each piece's place in it, metre, key,
bar grid, voices and pitch spans, and each skipped file with its reason); then ``index.npz`` (one row per kept piece)
and ``store.json`` (the style the data makes, the report, a fingerprint of the folder's files), which marks the store
complete.

The folder becomes one **style**: every kept piece has the same number of voices (``voices``, by default the most
common count in the folder), ordered from the highest voice to the lowest by mean pitch; part names and programs,
per-voice pitch ranges, the metres of at least 5 % of the pieces and the median tempo are taken from the data.
Files are skipped, and counted under their reason, when they cannot be read (``unreadable``), hold no notes (``no
notes``), go past the reading limits (``too long``), hold chords within a part (``chords in a voice``: the codec
needs single lines) or have another number of voices (``wrong voice count``).

Splits are per file, 80/10/10 by a stable hash of the file's path relative to the folder
(:func:`musewidgets.datasets.corpus.split_of`): adding files never moves others between splits.

Training reads its windows with positioned reads (``os.pread``) from the shards: neither the resident memory nor the
address space of a training process grows with the store, so a store larger than RAM, or than a ``ulimit -v``
limit, trains; the operating system's page cache keeps the hot parts. A distributed sampler can read disjoint
shards (:attr:`TokenStore.index` ``["shard"]``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MusewidgetsError

__all__ = [
    "CHUNK_FILES",
    "SKIP_REASONS",
    "STORE_VERSION",
    "StoreError",
    "StoreReport",
    "StoreSplit",
    "TokenStore",
    "is_store",
    "style_name_for",
]

STORE_VERSION = 1
CHUNK_FILES = 512  # files per shard: a unit of parallel work and of resuming
SKIP_REASONS = (
    "unreadable",
    "no notes",
    "too long",
    "too slow",  # still being read after FILE_SECONDS
    "chords in a voice",
    "wrong voice count",
    "not a music file",  # a pipe, a device, a link that loops, a name that is not text
)
SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}
MAX_SHIFT = 6  # transpositions while training: within +-6 semitones, inside the voice ranges
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
EXAMPLES_SHOWN = 5  # names of skipped files kept per reason in the report


class StoreError(MusewidgetsError, ValueError):
    """A folder that cannot become a token store (missing, no usable files), or a damaged or foreign store."""


@dataclass
class StoreReport:
    """What :func:`prepare` did: files found, used and skipped (counts per reason and the first few names)."""

    folder: str
    store: str
    style: str
    voices: int
    files: int = 0
    used: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few "file: detail"
    fallbacks: int = 0  # MIDI files the symusic fast path handed to musewidgets.io.read
    readers: dict[str, int] = field(default_factory=dict)  # files read by each reader
    splits: dict[str, int] = field(default_factory=dict)  # kept files per split
    tokens: int = 0
    seconds: float = 0.0
    reused: bool = False  # the store was complete already: nothing was read

    def __str__(self) -> str:
        lines = [
            f"{self.folder}: {self.used:,} of {self.files:,} files used as style {self.style!r} "
            f"({self.voices} voice{'s' * (self.voices != 1)}; "
            + ", ".join(f"{n:,} {s}" for s, n in self.splits.items())
            + f"; {self.tokens:,} tokens) -> {self.store}"
            + (" (reused)" if self.reused else f" in {self.seconds:.1f} s")
        ]
        for reason, n in self.skipped.items():
            shown = "; ".join(self.examples.get(reason, [])[:3])
            lines.append(f"  skipped {n:,} {reason}" + (f" (e.g. {shown})" if shown else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def style_name_for(folder: str | os.PathLike, name: str | None = None) -> str:
    """The style name a folder's music gets: ``name`` if given, else the folder's name made safe; a name of a
    corpus style, or one with other characters than letters, digits, ``_ . -``, raises :class:`StoreError`."""
    from .corpus import STYLES

    if name is None:
        base = Path(os.path.abspath(folder)).name
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.")[:40] or "mine"
        if not name[0].isalnum():
            name = "x" + name[:39]
    if not _NAME.match(name):
        raise StoreError(f"style name {name!r}: use 1 to 40 letters, digits, '_', '.' or '-', starting with one")
    if name in STYLES:
        raise StoreError(f"style name {name!r} is a corpus style's; choose another (--style-name)")
    return name


def is_store(path: str | os.PathLike) -> bool:
    """True for a folder holding a complete token store."""
    return (Path(path) / "store.json").is_file()


# --------------------------------------------------------------------------- reading a store


class TokenStore:
    """A complete token store, opened read-only: its style, index and splits (:meth:`split`).

    Raises :class:`StoreError` for a folder that holds no complete store or one of another format version.
    """

    def __init__(self, path: str | os.PathLike):
        from ..codecs import TokenCodec

        self.path = Path(path)
        head_path = self.path / "store.json"
        if not head_path.is_file():
            raise StoreError(f"{self.path}: holds no complete token store (no store.json); run prepare on the folder")
        try:
            head = json.loads(head_path.read_text())
        except ValueError as err:
            raise StoreError(f"{head_path}: damaged ({err})") from None
        if head.get("format") != "musewidgets.store" or head.get("version") != STORE_VERSION:
            raise StoreError(f"{self.path}: a token store of another format version; prepare the folder again")
        self.head = head
        self.style: str = head["style"]
        self.voices: int = head["voices"]
        self.style_info: dict = head["style_info"]
        self.report = StoreReport(**head["report"])
        with np.load(self.path / "index.npz", allow_pickle=False) as z:
            self.index = {k: z[k] for k in z.files if k != "files"}
        self.codec = TokenCodec(styles=(self.style,))
        self._fds: dict[int, tuple[int, int]] = {}

    def __getstate__(self):  # worker processes open their own files
        state = dict(self.__dict__)
        state["_fds"] = {}
        return state

    @property
    def files(self) -> np.ndarray:
        """The file (relative to the folder) of each indexed piece."""
        with np.load(self.path / "index.npz", allow_pickle=False) as z:
            return z["files"]

    def _fd(self, shard: int) -> tuple[int, int]:
        got = self._fds.get(shard)
        if got is None:
            if len(self._fds) >= 64:
                self.close()
            path = self.path / f"tokens-{shard:05d}.npy"
            with open(path, "rb") as f:
                fmt = np.lib.format
                version = fmt.read_magic(f)
                (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
                start = f.tell()
            got = self._fds[shard] = (os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0)), start)
        return got

    def read(self, shard: int, start: int, n: int) -> np.ndarray:
        """``n`` tokens of ``shard`` from token ``start`` (uint8)."""
        fd, base = self._fd(int(shard))
        if hasattr(os, "pread"):
            data = os.pread(fd, int(n), base + int(start))
        else:  # pragma: no cover (Windows)
            os.lseek(fd, base + int(start), os.SEEK_SET)
            data = os.read(fd, int(n))
        if len(data) != n:
            raise StoreError(f"{self.path}: tokens-{int(shard):05d}.npy is shorter than its index says; prepare again")
        return np.frombuffer(data, dtype=np.uint8)

    def close(self) -> None:
        for fd, _ in self._fds.values():
            os.close(fd)
        self._fds = {}

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def split(self, name: str) -> StoreSplit:
        """The pieces of split ``'train'``, ``'valid'`` or ``'test'``."""
        if name not in SPLIT_CODES:
            raise ValueError(f"`name` must be one of {tuple(SPLIT_CODES)}, got {name!r}")
        return StoreSplit(self, np.flatnonzero(self.index["split"] == SPLIT_CODES[name]))

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r}: style {self.style!r}, {self.report.used} pieces)"


class _Pieces:
    """The pieces of a split as :class:`~musewidgets.codecs.tokens.Encoded`, made one at a time when asked."""

    def __init__(self, split: StoreSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split.rows)

    def __getitem__(self, i: int):
        return self.split.encoded(i)

    def __iter__(self):
        return (self.split.encoded(i) for i in range(len(self)))


class StoreSplit:
    """One split of a :class:`TokenStore`: random training windows (:meth:`batch`, as
    :meth:`musewidgets.training.SequenceData.batch`) and whole pieces for evaluation (``by_style``)."""

    def __init__(self, store: TokenStore, rows: np.ndarray):
        self.store, self.rows = store, rows
        ix = store.index
        self.length = ix["length"][rows]
        self.codec = store.codec
        self.by_style = {store.style: _Pieces(self)}
        cdf = np.cumsum(self.length, dtype=np.float64)
        self._cdf = cdf / cdf[-1] if len(cdf) and cdf[-1] > 0 else cdf

    @property
    def n_tokens(self) -> int:
        return int(self.length.sum())

    def __len__(self) -> int:
        return len(self.rows)

    def tokens(self, i: int) -> np.ndarray:
        """All tokens of piece ``i`` of the split (int64)."""
        r = self.rows[i]
        ix = self.store.index
        return self.store.read(ix["shard"][r], ix["offset"][r], ix["length"][r]).astype(np.int64)

    def encoded(self, i: int):
        """Piece ``i`` of the split as the codec encodes it (tokens and conditioning)."""
        from ..codecs.tokens import Encoded

        ix, r, V = self.store.index, self.rows[i], self.store.voices
        tokens = self.tokens(i)
        steps = len(tokens) // V
        spb, pickup = int(ix["steps_per_bar"][r]), int(ix["pickup"][r])
        voice, bar_pos = self.codec.positions(steps, V, spb, pickup)
        info = self.store.style_info
        header = {"parts": [list(p) for p in info["parts"]], "tempo": float(ix["tempo"][r]), "style": self.store.style}
        return Encoded(
            tokens,
            voice,
            bar_pos,
            int(ix["metre"][r]),
            0,
            header,
            to_end=self.codec.to_end(steps, V, spb, steps),
            key=int(ix["key"][r]),
        )

    def batch(
        self,
        rng: np.random.Generator,
        batch_size: int,
        seq_len: int,
        augment: bool,
        *,
        end_share: float = 0.0,
        key_dropout: float = 0.0,
        part: tuple[int, int] | None = None,
    ) -> dict:
        """Random windows: the same dict of tensors as :meth:`musewidgets.training.SequenceData.batch` (pieces
        drawn in proportion to their length, a share ``end_share`` ending where the piece ends, a share
        ``key_dropout`` with key 0, transposed at random within the voice ranges when ``augment``).

        ``part=(rank, world)`` (distributed training) gives rows ``rank::world`` of that batch, bit for bit, and
        reads only their windows: the generator advances as for the whole batch, so every process, drawing from
        the same seeded generator, gets its own rows of the same global batch."""
        import torch

        from ..codecs.tokens import BOS, PAD, PITCH0, transpose_key_index

        if not len(self.rows):
            raise StoreError(f"{self.store.path}: the split has no pieces")
        ix, V, codec = self.store.index, self.store.voices, self.codec
        rank, world = part or (0, 1)
        if not 0 <= rank < world:
            raise ValueError(f"`part` must be (rank, world) with 0 <= rank < world, got {part!r}")
        kept = len(range(rank, batch_size, world))
        rows = {
            k: np.full((kept, seq_len), PAD if k in ("inputs", "targets") else 0, dtype=np.int64)
            for k in ("inputs", "targets", "voice", "bar_pos", "to_end")
        }
        metre, style, key = (np.zeros(kept, dtype=np.int64) for _ in range(3))
        for row in range(batch_size):
            i = min(int(np.searchsorted(self._cdf, rng.random(), side="right")), len(self.rows) - 1)
            r = self.rows[i]
            length = int(ix["length"][r])
            last = max(0, (length - seq_len) // V)
            at_end = rng.random() < end_share
            start = (last if at_end else int(rng.integers(0, last + 1))) * V
            shift = int(rng.integers(ix["shift_lo"][r], ix["shift_hi"][r] + 1)) if augment else 0
            dropped = rng.random() < key_dropout
            if row % world != rank:  # another process's row: drawn, not read
                continue
            b = row // world
            n = min(seq_len, length - start)
            lead = 1 if start > 0 else 0
            raw = self.store.read(ix["shard"][r], ix["offset"][r] + start - lead, n + lead).astype(np.int64)
            tokens = raw[lead:]
            prev = np.concatenate([raw[:1] if lead else [BOS], tokens[:-1]])
            tokens = np.where(tokens >= PITCH0, tokens + shift, tokens)
            prev = np.where(prev >= PITCH0, prev + shift, prev)
            rows["inputs"][b, :n], rows["targets"][b, :n] = prev, tokens
            steps = np.arange(start, start + n) // V
            spb, pickup, total = int(ix["steps_per_bar"][r]), int(ix["pickup"][r]), length // V
            rows["voice"][b, :n] = np.arange(start, start + n) % V
            rows["bar_pos"][b, :n] = ((steps - pickup) % spb) % codec.max_bar_steps
            left = -((steps - total) // spb)
            rows["to_end"][b, :n] = np.where((left >= 1) & (left <= codec.ending_bars), left, 0)
            metre[b], style[b] = ix["metre"][r], 0
            key[b] = 0 if dropped else transpose_key_index(int(ix["key"][r]), shift)
        out = {k: torch.from_numpy(v) for k, v in rows.items()}
        out["metre"], out["style"], out["key"] = (torch.from_numpy(a) for a in (metre, style, key))
        return out
