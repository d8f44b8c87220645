"""Named corpus styles built from the music that ships inside music21; nothing is downloaded.

=============  ==========================================================  ======  =====================
style          source in music21's corpus                                  voices  kept as
=============  ==========================================================  ======  =====================
chorale        Bach chorales (``bach/*``)                                  4       SATB, Choir Aahs
folk           Essen folk songs (``essenFolksong/*.abc``)                  1       melody, Flute
irish          O'Neill's 1850 and Ryan's Mammoth Collection (ABC)          1       melody, Fiddle
renaissance    Palestrina mass movements (``palestrina/*.krn``)            4       S/A/T/B, Choir Aahs
=============  ==========================================================  ======  =====================

Every source piece is read through :func:`musewidgets.io.read_all` on a sixteenth-note grid and kept only if it
fits the grid *exactly*: a piece is skipped, and counted under its reason, when it has no notes, its metre changes,
its bars do not line up with the metre, its rhythm needs tuplets or finer values than a sixteenth, a voice holds
chords, or it has the wrong number of voices. Grace notes (ornaments, common in the Irish books) are dropped and the
rest of the tune is kept.

Renaissance pieces with more than four voices are reduced to four: the highest and the lowest voice by mean pitch,
and of the inner voices the highest and the lowest by mean pitch; the other inner voices are left out (the
counterpoint stays four-voice; a chord may lose a doubled or a fifth tone).

Transposition: pieces are stored in their written keys. Training augments them across keys
(:func:`transpositions` lists the shifts within ``±6`` semitones that keep every voice inside the style's range),
so a model learns every key and sampling can start in any key.

Splits are per piece and deterministic: a hash of the piece's id decides train (80 %), valid (10 %) or test (10 %),
so adding sources never moves existing pieces between splits.

Parsing all sources takes minutes, so each style is built once, with a progress bar and one process per core, and
cached under the user's cache directory keyed by music21's version and :data:`PREPROCESSING_VERSION`. The package
also ships a compact prebuilt copy (``musewidgets/data/corpus/*.npz``) made by ``musewidgets corpus build --packaged``;
it is used when no cache exists, so the first load is instant too.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import MusicFileError, UnknownStyleError
from ..piece import Note, Part, Piece

__all__ = [
    "PREPROCESSING_VERSION",
    "STYLES",
    "Corpus",
    "Style",
    "build_style",
    "cache_dir",
    "get_style",
    "load_corpus",
    "load_style",
    "save_corpus",
    "split_of",
    "transpositions",
]

PREPROCESSING_VERSION = 1
STEPS_PER_QUARTER = 4
SPLITS = ("train", "valid", "test")
PACKAGED_DIR = Path(__file__).parents[1] / "data" / "corpus"
_SATB = ("Soprano", "Alto", "Tenor", "Bass")


@dataclass(frozen=True)
class Style:
    """A named corpus style.

    Attributes
    ----------
    name : str
        Key used everywhere (``'chorale'``).
    description : str
        One line for people.
    voices : int
        Parts every piece of the style has.
    source : str
        The collections it comes from.
    patterns : tuple of str
        Glob patterns inside music21's corpus folder.
    program : int
        General MIDI program given to every part (52 Choir Aahs, 73 Flute, 110 Fiddle).
    tempo : float
        Quarter notes per minute when the source gives none.
    """

    name: str
    description: str
    voices: int
    source: str
    patterns: tuple[str, ...]
    program: int
    tempo: float
    part_names: tuple[str, ...] = ("Melody",)
    reduce_voices: bool = False  # more voices than `voices`: keep the outer and the extreme inner ones


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "chorale",
            "Bach four-part chorales",
            4,
            "music21 corpus: Bach chorales (bach/)",
            ("bach/*.mxl", "bach/*.xml", "bach/*.krn"),
            52,
            80.0,
            _SATB,
        ),
        Style(
            "folk",
            "European folk-song melodies",
            1,
            "music21 corpus: Essen Folksong Collection (essenFolksong/)",
            ("essenFolksong/*.abc",),
            73,
            100.0,
        ),
        Style(
            "irish",
            "Irish and Scottish dance-tune melodies",
            1,
            "music21 corpus: O'Neill's Music of Ireland 1850 (oneills1850/) and Ryan's Mammoth Collection "
            "(ryansMammoth/)",
            ("oneills1850/*.abc", "ryansMammoth/*.abc"),
            110,
            110.0,
        ),
        Style(
            "renaissance",
            "Palestrina mass movements in four voices",
            4,
            "music21 corpus: Palestrina masses (palestrina/), reduced to 4 voices",
            ("palestrina/*.krn",),
            52,
            120.0,
            _SATB,
            reduce_voices=True,
        ),
    )
}


def get_style(name: str) -> Style:
    """The :class:`Style` called ``name``; raises :class:`UnknownStyleError` listing the known styles."""
    try:
        return STYLES[name]
    except (KeyError, TypeError):
        raise UnknownStyleError(f"unknown style {name!r}; known styles: {', '.join(STYLES)}") from None


def split_of(piece_id: str) -> str:
    """``'train'``, ``'valid'`` or ``'test'`` for a piece id: 80/10/10 by a stable hash of the id."""
    bucket = int(hashlib.sha1(piece_id.encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 9 else "valid" if bucket == 8 else "train"


@dataclass
class Corpus:
    """The pieces of one style, with their ids, splits and what was skipped while building.

    Attributes
    ----------
    style : Style
    pieces : list of Piece
    ids : list of str
        ``'<source file>'`` or ``'<source file>#<tune number>'``; unique within the style.
    skipped : dict of str to int
        Source pieces left out, by reason.
    info : dict
        music21 version, preprocessing version, build seconds, number of source files.
    """

    style: Style
    pieces: list[Piece]
    ids: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pieces)

    def split(self, name: str) -> list[Piece]:
        """The pieces of split ``name`` (``'train'``, ``'valid'`` or ``'test'``)."""
        if name not in SPLITS:
            raise ValueError(f"`name` must be one of {SPLITS}, got {name!r}")
        return [p for p, i in zip(self.pieces, self.ids) if split_of(i) == name]

    def get(self, piece_id: str) -> Piece:
        """The piece with id ``piece_id`` (see :attr:`ids`)."""
        try:
            return self.pieces[self.ids.index(piece_id)]
        except ValueError:
            raise KeyError(f"no piece {piece_id!r} in style {self.style.name!r}") from None

    def voice_ranges(self) -> list[tuple[int, int]]:
        """Lowest and highest pitch of each voice over the whole style."""
        lows = [127] * self.style.voices
        highs = [0] * self.style.voices
        for piece in self.pieces:
            for v, part in enumerate(piece.parts):
                span = part.pitch_span()
                if span:
                    lows[v], highs[v] = min(lows[v], span[0]), max(highs[v], span[1])
        return list(zip(lows, highs))

    def summary(self) -> str:
        """One line: name, pieces, voices, source."""
        s = self.style
        return f"{s.name:<12} {len(self):>5} pieces  {s.voices} voice{'s' * (s.voices > 1)}  {s.source}"


def transpositions(piece: Piece, ranges: Iterable[tuple[int, int]], max_shift: int = 6) -> list[int]:
    """Semitone shifts in ``-max_shift..max_shift`` that keep every voice of ``piece`` inside ``ranges``."""
    spans = [p.pitch_span() for p in piece.parts]
    shifts = []
    for shift in range(-max_shift, max_shift + 1):
        if all(s is None or (lo <= s[0] + shift and s[1] + shift <= hi) for s, (lo, hi) in zip(spans, ranges)):
            shifts.append(shift)
    return shifts


# --------------------------------------------------------------------------- building


def _music21_version() -> str:
    try:
        return metadata.version("music21")
    except metadata.PackageNotFoundError:  # a training machine with only the packaged copies
        return "none"


def corpus_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("music21 is needed to build corpus styles: pip install music21")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def source_files(style: Style) -> list[str]:
    """The style's source files, relative to music21's corpus folder, sorted."""
    root = corpus_root()
    return sorted({str(p.relative_to(root)) for pattern in style.patterns for p in root.glob(pattern)})


def _fit_to_style(piece: Piece, style: Style) -> tuple[Piece | None, str | None]:
    """Adapt a piece read from a source to its style, or say why it cannot be kept."""
    parts = list(piece.parts)
    if style.reduce_voices and len(parts) > style.voices == 4:
        means = [np.mean([n.pitch for n in p.notes]) if p.notes else -1.0 for p in parts]
        order = sorted(range(len(parts)), key=lambda i: -means[i])  # high to low
        inner = order[1:-1]
        parts = [parts[i] for i in sorted({order[0], inner[0], inner[-1], order[-1]}, key=lambda i: -means[i])]
    if len(parts) != style.voices:
        return None, f"not {style.voices} voice{'s' * (style.voices > 1)}"
    if any(not p.notes for p in parts):
        return None, "a voice without notes"
    if not all(p.is_monophonic for p in parts):
        return None, "chords within a voice"
    if style.voices == 4:
        means = [np.mean([n.pitch for n in p.notes]) for p in parts]
        parts = [parts[i] for i in np.argsort(means)[::-1]]  # soprano first
    parts = [
        Part(name, p.notes, program=style.program)
        for name, p in zip(style.part_names if style.voices > 1 else ("Melody",), parts)
    ]
    return replace(piece, parts=tuple(parts), style=style.name), None


def _convert_file(style_name: str, relpath: str) -> list[tuple[str, Piece | None, str | None]]:
    """Read one source file: ``(id, piece, None)`` for each kept piece, ``(id, None, reason)`` for each skipped one."""
    import warnings

    from .. import io

    style = STYLES[style_name]
    path = corpus_root() / relpath
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about ABC details we count ourselves
            results = io.read_all(path, steps_per_quarter=STEPS_PER_QUARTER, align_bars=True)
    except MusicFileError:
        return [(relpath, None, "unreadable file")]
    out = []
    for i, (piece, report) in enumerate(results):
        pid = relpath if len(results) == 1 else f"{relpath}#{i + 1}"
        reason = None
        if piece is None:
            reason = "no notes" if report.error and "no notes" in report.error else "unreadable tune"
        elif report.metre_changes:
            reason = "metre changes"
        elif report.bars_off_grid:
            reason = "bars off the metre grid"
        elif report.onsets_moved or report.durations_changed:
            reason = "rhythm off the sixteenth grid (tuplets)"
        if reason is None:
            if not report.tempo_found:
                piece = piece.replace(tempo=style.tempo)
            piece, reason = _fit_to_style(piece, style)
        out.append((pid, piece, reason))
    return out


def build_style(
    name: str,
    *,
    limit: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    files: list[str] | None = None,
) -> Corpus:
    """Parse a style's sources from music21's corpus (slow: minutes for a whole style).

    Parameters
    ----------
    limit : int, optional
        Read only the first ``limit`` source files (for tests and quick looks).
    workers : int, optional
        Processes to use; default one per core. ``1`` parses in this process.
    progress : bool, default True
        Show a tqdm progress bar.
    files : list of str, optional
        Exact source files (relative to music21's corpus folder) instead of the style's patterns.
    """
    style = get_style(name)
    files = files if files is not None else source_files(style)[:limit]
    t0 = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    results: dict[str, list] = {}
    bar = _progress(len(files), f"building {name}", progress)
    if workers == 1 or len(files) <= 1:
        for f in files:
            results[f] = _convert_file(name, f)
            bar.update()
    else:
        # Big files first keeps both cores busy to the end (one Essen file holds a thousand songs).
        order = sorted(files, key=lambda f: -(corpus_root() / f).stat().st_size)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_convert_file, name, f): f for f in order}
            from concurrent.futures import as_completed

            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update()
    bar.close()
    pieces, ids, skipped = [], [], Counter()
    for f in files:  # deterministic order whatever the completion order
        for pid, piece, reason in results[f]:
            if reason is None:
                pieces.append(piece)
                ids.append(pid)
            else:
                skipped[reason] += 1
    titles = Counter(p.title for p in pieces)  # 160 Palestrina movements are all called 'Benedictus'
    pieces = [
        p if titles[p.title] == 1 else replace(p, title=f"{p.title} ({Path(i).stem})") for p, i in zip(pieces, ids)
    ]
    info = {
        "music21": _music21_version(),
        "preprocessing": PREPROCESSING_VERSION,
        "source_files": len(files),
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    return Corpus(style, pieces, ids, dict(skipped.most_common()), info)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled)


# --------------------------------------------------------------------------- storing


def save_corpus(corpus: Corpus, path: str | os.PathLike) -> Path:
    """Store a corpus compactly: one compressed ``.npz`` of integer note arrays plus JSON metadata.

    The file is written to a temporary name and renamed, so an interrupted save never leaves a broken file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    notes, part_ends, meta = [], [], []
    for piece in corpus.pieces:
        for part in piece.parts:
            notes.extend((n.pitch, n.start, n.duration) for n in part.notes)
            part_ends.append(len(notes))
        meta.append([piece.title, piece.tempo, list(piece.time_signature), piece.key, piece.pickup, piece.length])
    header = {
        "style": corpus.style.name,
        "ids": corpus.ids,
        "pieces": meta,
        "skipped": corpus.skipped,
        "info": corpus.info,
    }
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        notes=np.asarray(notes, dtype=np.int32).reshape(-1, 3),
        part_ends=np.asarray(part_ends, dtype=np.int64),
        header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
    )
    os.replace(tmp, path)
    return path


def load_corpus(path: str | os.PathLike) -> Corpus:
    """Load a corpus written by :func:`save_corpus`."""
    with np.load(path, allow_pickle=False) as data:
        notes = data["notes"]
        part_ends = data["part_ends"]
        header = json.loads(data["header"].tobytes())
    style = get_style(header["style"])
    names = style.part_names if style.voices > 1 else ("Melody",)
    pieces = []
    start = 0
    k = 0
    rows = notes.tolist()
    for title, tempo, ts, key, pickup, *length in header["pieces"]:  # files before length was kept have 5 fields
        parts = []
        for name in names:
            end = int(part_ends[k])
            k += 1
            part_notes = tuple(Note(p, s, d) for p, s, d in rows[start:end])
            parts.append(Part(name, part_notes, program=style.program))
            start = end
        pieces.append(
            Piece(
                tuple(parts),
                STEPS_PER_QUARTER,
                tempo,
                tuple(ts),
                key,
                pickup,
                style=style.name,
                title=title,
                length=length[0] if length else None,
            )
        )
    return Corpus(style, pieces, header["ids"], header["skipped"], header["info"])


def cache_dir() -> Path:
    """Where built styles are cached: ``<user cache>/musewidgets/corpus-v<prep>-music21-<version>``.

    ``MUSEWIDGETS_CACHE_DIR`` overrides the base folder.
    """
    base = os.environ.get("MUSEWIDGETS_CACHE_DIR")
    if base is None:
        try:
            from platformdirs import user_cache_dir
        except ImportError:  # pragma: no cover - platformdirs is a dependency
            base = Path.home() / ".cache" / "musewidgets"
        else:
            base = user_cache_dir("musewidgets")
    return Path(base) / f"corpus-v{PREPROCESSING_VERSION}-music21-{_music21_version()}"


@cache
def _load_cached(path: Path, mtime: float) -> Corpus:
    return load_corpus(path)


def load_style(name: str, *, rebuild: bool = False, progress: bool = True) -> Corpus:
    """All pieces of style ``name``, from the user cache, else the packaged copy, else built (and cached).

    Parameters
    ----------
    rebuild : bool, default False
        Parse the sources again even if a cached or packaged copy exists.
    progress : bool, default True
        Show a progress bar while building.

    Raises
    ------
    UnknownStyleError
        If ``name`` is not one of :data:`STYLES`.
    """
    get_style(name)
    cached = cache_dir() / f"{name}.npz"
    if not rebuild:
        for path in (cached, PACKAGED_DIR / f"{name}.npz"):
            if path.exists():
                corpus = _load_cached(path, path.stat().st_mtime)
                if corpus.info.get("preprocessing") == PREPROCESSING_VERSION:
                    return corpus
    corpus = build_style(name, progress=progress)
    save_corpus(corpus, cached)
    return corpus


def styles() -> list[Style]:
    """All known styles."""
    return list(STYLES.values())
