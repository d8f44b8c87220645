"""Preparing a folder of the user's own music into a token store (:mod:`~musewidgets.datasets.store`).

::

    report = prepare("my-midi/", "runs/mine/store", style_name="mine")   # parallel, resumable, with a progress bar
    print(report)                                                       # used files, skipped ones by reason

Preparation walks the folder for every file :mod:`musewidgets.io` reads (MIDI, MusicXML, ABC, Humdrum), reads them
in chunks of :data:`CHUNK_FILES` in parallel processes and writes one **shard** per chunk: ``tokens-NNNNN.npy``
(every kept piece's tokens, one ``uint8`` each, back to back; a plain ``.npy`` that ``np.load(path,
mmap_mode="r")`` opens) and ``pieces-NNNNN.json`` (each piece's place in it, metre, key, bar grid, voices and pitch
spans, and each skipped file with its reason). A shard whose ``pieces`` file exists is done: an interrupted run
(Ctrl-C, a kill, a power cut) redoes only the chunks it had not finished. Every file is written to a temporary
name and renamed, so a shard is whole or absent. Finally ``index.npz`` (one row per kept piece) and ``store.json``
(the style the data makes, the report, a fingerprint of the folder's files) are written; ``store.json`` marks the
store complete, and a second :func:`prepare` of an unchanged folder returns at once (the files' names, sizes and
modification times are compared, nothing is read).

MIDI is parsed in bulk through ``symusic`` (a C++ core) and quantized to the step grid exactly as
:func:`musewidgets.io.read` does (tests/test_store.py checks they give the same notes); a file that the fast path
cannot vouch for (tempo 0, several channels in one track, a program change after a note, SMPTE time, damage,
zero-length notes, beyond the reading limits) is read by :func:`musewidgets.io.read` instead and counted in
:attr:`StoreReport.fallbacks`. MusicXML, ABC and Humdrum go through music21 via :func:`musewidgets.io.read`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import MusicFileError
from .midi import midi_arrays
from .store import (
    CHUNK_FILES,
    EXAMPLES_SHOWN,
    MAX_SHIFT,
    SKIP_REASONS,
    SPLIT_CODES,
    STORE_VERSION,
    StoreError,
    StoreReport,
    TokenStore,
    is_store,
    style_name_for,
)

__all__ = ["open_or_prepare", "prepare"]


class _Skip(Exception):
    """A file read well but not usable: ``args`` = (reason, detail)."""


class _TooSlow(BaseException):
    """Raised in a file's reading by :func:`_time_limit` (not an ``Exception``: a parser's ``except Exception``
    must not swallow it)."""


FILE_SECONDS = 10.0  # a file still being read after this long is skipped as "too slow" (the limits come first)


@contextlib.contextmanager
def _time_limit(rel: str, seconds: float | None = None):
    """Raise :class:`_TooSlow` in the block after ``seconds`` of wall time: a last defence behind the reading
    limits, for a file a parser still spends minutes on. A timer signal, so only in a process's main thread (the
    worker processes, and ``jobs=1`` from a script); elsewhere the block runs unlimited."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    seconds = FILE_SECONDS if seconds is None else seconds

    def expired(signum, frame):
        raise _TooSlow(f"{rel}: still being read after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _encode_fast(found: dict, rel: str, codec, spq: int) -> tuple[dict, np.ndarray] | None:
    """Tokens and record of a MIDI file straight from :func:`midi_arrays`' arrays (no Note objects): what
    ``codec.encode`` makes of the piece :func:`~musewidgets.datasets.midi.piece_from_arrays` would build; ``None``
    where that piece would be refused (the slow path then raises the reader's own error)."""
    from .. import io
    from ..codecs.tokens import HOLD, PITCH0, REST
    from ..keys import key_of_durations
    from ..piece import key_name

    num, den = found["time_signature"]
    if not (1 <= num <= io.MAX_BAR_BEATS and den in (1, 2, 4, 8, 16, 32) and (spq * 4 * num) % den == 0):
        return None
    spb = spq * 4 * num // den
    pickup = found["pickup"]  # steps before the first bar line (a MIDI upbeat bar)
    n_bars = -(-(found["length"] - pickup) // spb)  # bars after it, a short last one counted
    if n_bars > io.MAX_BARS or n_bars == 0:
        return None
    tracks = found["tracks"]
    for _, _, on, du, _, _ in tracks:
        if (on[:-1] + du[:-1] > on[1:]).any():
            raise _Skip("chords in a voice", f"{rel}: a part holds chords or overlapping notes")
    if len(tracks) > codec.max_voices:
        raise _Skip("wrong voice count", f"{rel}: {len(tracks)} voices; the codec takes 1 to 4")
    means = [float(t[4].mean()) for t in tracks]
    tracks = [tracks[i] for i in sorted(range(len(tracks)), key=lambda i: -means[i])]  # highest voice first
    n_steps, V = pickup + n_bars * spb, len(tracks)
    grid = np.full((n_steps, V), REST, dtype=np.uint8)
    durations = np.zeros(12)
    for v, (_, _, on, du, pi, _) in enumerate(tracks):
        grid[on, v] = PITCH0 + pi
        delta = np.zeros(n_steps + 1, dtype=np.int64)
        np.add.at(delta, on + 1, 1)
        np.add.at(delta, on + du, -1)
        grid[np.cumsum(delta[:n_steps]) > 0, v] = HOLD
        durations += np.bincount(pi % 12, weights=du, minlength=12)
    found_key = key_of_durations(durations)
    key = codec.key_index(None if found_key is None else key_name(*found_key))
    record = {
        "file": rel,
        "voices": V,
        "steps_per_bar": spb,
        "pickup": pickup,
        "metre": codec.metre_index((num, den)),
        "key": key,
        "time_signature": [num, den],
        "tempo": found["tempo"],
        "spans": [[int(t[4].min()), int(t[4].max())] for t in tracks],
        "parts": [[t[0], t[1]] for t in tracks],
    }
    return record, grid.reshape(-1)


def _reason(err: MusicFileError) -> str:
    text = str(err)
    if "no notes" in text or "is empty" in text or "holds no tunes" in text:
        return "no notes"
    if re.search(
        r"(lasts [\d,]+ bars|more than [\d,]+ (notes|MIDI events)|the file is [\d.]+ MB|unpacks to more)", text
    ):
        return "too long"
    return "unreadable"


def _encode_file(path: Path, rel: str, spq: int, codec, fast: bool, fallbacks: list) -> tuple:
    """``(record, tokens, reader)`` of one music file: symusic's arrays for a MIDI file where they serve (``fast``;
    a MIDI file they do not serve is named in ``fallbacks``), else :func:`musewidgets.io.read`."""
    from .. import io

    record = tokens = None
    if fast and path.suffix.lower() in (".mid", ".midi"):
        try:
            found = None if path.stat().st_size > io.MAX_FILE_BYTES else midi_arrays(path.read_bytes(), rel, spq)
        except OSError:
            found = None
        if found is not None:
            encoded = _encode_fast(found, rel, codec, spq)
            if encoded is not None:
                (record, tokens), reader = encoded, "symusic"
        if record is None:
            fallbacks.append(rel)
    if record is None:
        record, tokens, reader = _encode_slow(path, rel, spq, codec)
    return record, tokens, reader


def _encode_chunk(task: tuple) -> dict:
    """Read, encode and write one shard; returns its summary (also what ``pieces-NNNNN.json`` holds)."""
    root, rels, out, shard, spq, fast = task
    from ..codecs import TokenCodec

    codec = TokenCodec(styles=())
    pieces, skipped, readers, fallbacks, chunks, offset = [], [], Counter(), [], [], 0
    for rel in rels:
        path = Path(root) / rel
        try:
            with _time_limit(rel):
                record, tokens, reader = _encode_file(path, rel, spq, codec, fast, fallbacks)
        except MusicFileError as err:
            skipped.append([rel, _reason(err), str(err)[:200]])
            continue
        except _Skip as skip:
            skipped.append([rel, *skip.args])
            continue
        except _TooSlow as slow:
            skipped.append([rel, "too slow", str(slow)])
            continue
        except Exception as err:  # a parser failure io did not word: the file is still only skipped
            skipped.append([rel, "unreadable", f"{rel}: {type(err).__name__}: {err}"[:200]])
            continue
        readers[reader] += 1
        chunks.append(tokens)
        pieces.append({**record, "offset": offset, "length": len(tokens)})
        offset += len(tokens)
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
    summary = {
        "shard": shard,
        "files": len(rels),
        "pieces": pieces,
        "skipped": skipped,
        "readers": dict(readers),
        "fallbacks": len(fallbacks),
    }
    out = Path(out)
    _atomic_npy(out / f"tokens-{shard:05d}.npy", tokens)
    _atomic_text(out / f"pieces-{shard:05d}.json", json.dumps(summary))  # last: it marks the shard done
    return summary


def _encode_slow(path: Path, rel: str, spq: int, codec) -> tuple[dict, np.ndarray, str]:
    """Record, tokens and reader of a file read by :func:`musewidgets.io.read` (music21 or pretty_midi)."""
    import warnings

    from .. import io
    from ..errors import QuantizationWarning
    from ..keys import estimate_key

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        warnings.simplefilter("ignore", UserWarning)  # music21's notes about the files
        piece = io.read(path, steps_per_quarter=spq, name=rel)
    reader = "pretty_midi" if path.suffix.lower() in (".mid", ".midi") else "music21"
    parts = [p for p in piece.parts if p.notes]
    if not all(p.is_monophonic for p in parts):
        raise _Skip("chords in a voice", f"{rel}: a part holds chords or overlapping notes")
    if not 1 <= len(parts) <= codec.max_voices:
        raise _Skip("wrong voice count", f"{rel}: {len(parts)} voices; the codec takes 1 to 4")
    means = [float(np.mean([n.pitch for n in p.notes])) for p in parts]
    parts = [parts[i] for i in sorted(range(len(parts)), key=lambda i: -means[i])]  # highest voice first
    piece = piece.replace(parts=tuple(parts), style=None)
    try:
        enc = codec.encode(piece.replace(key=estimate_key(piece)))
    except ValueError as err:
        raise _Skip("unreadable", f"{rel}: {err}"[:200]) from None
    record = {
        "file": rel,
        "voices": len(parts),
        "steps_per_bar": piece.steps_per_bar,
        "pickup": piece.pickup,
        "metre": enc.metre,
        "key": enc.key,
        "time_signature": list(piece.time_signature),
        "tempo": piece.tempo,
        "spans": [list(p.pitch_span()) for p in parts],
        "parts": [[p.name, p.program] for p in parts],
    }
    return record, enc.tokens.astype(np.uint8), reader


def _atomic_npy(path: Path, array: np.ndarray) -> None:
    _atomic_write(path, "wb", lambda f: np.save(f, array, allow_pickle=False))


def _atomic_text(path: Path, text: str) -> None:
    _atomic_write(path, "w", lambda f: f.write(text))


def _atomic_write(path: Path, mode: str, write) -> None:
    """``write(f)`` to a temporary file beside ``path``, flushed to disk, then renamed to ``path``: a file is whole
    or absent."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- preparing a folder


def _walk(folder: Path) -> tuple[list[tuple[str, int, int]], list[list[str]]]:
    """Every music file under ``folder``: (path relative to it, size, mtime_ns), sorted; and the skipped ones, ``[rel,
    "not a music file", why]``. Hidden files and folders are left out; only regular files are kept (a named pipe
    is never opened: reading one waits for ever), links to folders are not followed, and a name that is not text
    (bytes that are no UTF-8) is skipped by name."""
    from ..io import READ_SUFFIXES

    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in READ_SUFFIXES:
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            why = None
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                rel, why = rel.encode("utf-8", "replace").decode("utf-8"), "its name is not valid UTF-8 text"
            try:
                st = os.stat(full)
            except OSError as err:  # a dangling link, a link that loops
                st, why = None, why or f"cannot be opened ({err.strerror or err})"
            if why is None and not stat.S_ISREG(st.st_mode):
                why = "not a regular file (a pipe, a device or a socket)"
            if why is not None:
                skipped.append([rel, "not a music file", f"{rel}: {why}"])
                continue
            found.append((rel, st.st_size, st.st_mtime_ns))
    found.sort()
    return found, skipped


def _fingerprint(files: list[tuple[str, int, int]], spq: int) -> str:
    h = hashlib.sha1(f"store-v{STORE_VERSION} spq={spq} chunk={CHUNK_FILES}\n".encode())
    for rel, size, mtime in files:
        h.update(f"{rel}\t{size}\t{mtime}\n".encode())
    return h.hexdigest()


def prepare(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    style_name: str | None = None,
    voices: int | None = None,
    jobs: int | None = None,
    progress: bool = True,
    fast_midi: bool = True,
    steps_per_quarter: int = 4,
) -> StoreReport:
    """Read every music file under ``folder`` into a token store at ``out``; see the module docstring.

    Parameters
    ----------
    style_name : str, optional
        The style the folder's music becomes (default: the folder's name; see :func:`style_name_for`).
    voices : int, optional
        Keep pieces of this many voices (1-4); default: the most common count among the readable files.
    jobs : int, optional
        Worker processes (default: the available cores); 1 reads in this process.
    progress : bool
        A tqdm bar over the files (in a notebook, a widget bar).
    fast_midi : bool
        Parse MIDI with symusic where it gives what :func:`musewidgets.io.read` gives (default); False reads every
        file with :func:`musewidgets.io.read`.

    Returns
    -------
    StoreReport
        What was used and skipped. An unchanged folder whose store is complete is not read again
        (``report.reused``).

    Raises
    ------
    StoreError
        For a missing folder, a folder without music files or without a usable one.
    """
    t0 = time.perf_counter()
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise StoreError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: is a file, not a folder")
    name = style_name_for(folder, style_name)
    if voices is not None and not 1 <= int(voices) <= 4:
        raise StoreError(f"`voices` must be 1 to 4, got {voices}")
    files, walked = _walk(folder)
    if not files:
        from ..io import READ_SUFFIXES

        raise StoreError(f"{folder}: holds no music files (MIDI, MusicXML, ABC or Humdrum: {', '.join(READ_SUFFIXES)})")
    fingerprint = _fingerprint(files, steps_per_quarter)
    out.mkdir(parents=True, exist_ok=True)
    report = _reused(out, fingerprint, name, voices)
    if report is not None:
        report.reused, report.seconds = True, round(time.perf_counter() - t0, 2)
        return report
    _start_manifest(out, folder, fingerprint)
    if fast_midi:
        from importlib.util import find_spec

        fast_midi = find_spec("symusic") is not None  # without it (an old install) every file goes through io.read
    rels = [rel for rel, _, _ in files]
    chunks = [rels[i : i + CHUNK_FILES] for i in range(0, len(rels), CHUNK_FILES)]
    summaries: dict[int, dict] = {}
    todo = []
    for shard, chunk in enumerate(chunks):
        done = out / f"pieces-{shard:05d}.json"
        if done.exists() and (out / f"tokens-{shard:05d}.npy").exists():
            try:
                summaries[shard] = json.loads(done.read_text())
                continue
            except ValueError:
                pass
        todo.append((str(folder), chunk, str(out), shard, steps_per_quarter, fast_midi))
    _run(todo, summaries, jobs, progress, total=len(rels), done=sum(s["files"] for s in summaries.values()))
    shards = [summaries[i] for i in range(len(chunks))]
    return _write_index(out, folder, name, voices, shards, fingerprint, t0, walked)


def _reused(out: Path, fingerprint: str, name: str, voices: int | None) -> StoreReport | None:
    """The report of the complete store at ``out`` if it was made of the same files with the same settings; else
    ``None``, and its ``store.json`` (if any) removed: the index is rebuilt."""
    head_path = out / "store.json"
    if not head_path.exists():
        return None
    try:
        head = json.loads(head_path.read_text())
    except ValueError:
        head = {}
    if (
        head.get("fingerprint") == fingerprint
        and head.get("style") == name
        and (voices is None or head.get("voices") == voices)
        and head.get("voices_asked") == voices
    ):
        return StoreReport(**head["report"])
    head_path.unlink()  # the folder or the settings changed: the index is rebuilt below
    return None


def _start_manifest(out: Path, folder: Path, fingerprint: str) -> None:
    """Write ``manifest.json`` for the files being prepared, first removing our own files from ``out`` where they
    were made of other files (the shards of the same files are kept: a preparation resumes)."""
    manifest_path = out / "manifest.json"
    manifest = {"version": STORE_VERSION, "fingerprint": fingerprint, "folder": str(folder.resolve())}
    if manifest_path.exists():
        try:
            same = json.loads(manifest_path.read_text()).get("fingerprint") == fingerprint
        except ValueError:
            same = False
        if not same:  # shards of other files: start over (only our own files are removed)
            for p in out.iterdir():
                if re.fullmatch(r"(tokens-\d{5}\.npy|pieces-\d{5}\.json|index\.npz|manifest\.json)", p.name):
                    p.unlink()
    _atomic_text(manifest_path, json.dumps(manifest))


def _run(todo: list, summaries: dict, jobs: int | None, progress: bool, total: int, done: int) -> None:
    from tqdm.auto import tqdm

    from ..threads import available_cores

    jobs = max(1, min(jobs or available_cores(), len(todo) or 1))
    with tqdm(total=total, initial=done, unit="file", desc="preparing", disable=not progress) as bar:
        if jobs == 1:
            for task in todo:
                s = _encode_chunk(task)
                summaries[s["shard"]] = s
                bar.update(s["files"])
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # forkserver/spawn: a forked copy of a process that runs torch threads can hang
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context(method)) as pool:
            futures = [pool.submit(_encode_chunk, task) for task in todo]
            try:
                for fut in as_completed(futures):
                    s = fut.result()
                    summaries[s["shard"]] = s
                    bar.update(s["files"])
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise


def _write_index(
    out: Path, folder: Path, name: str, voices: int | None, shards: list[dict], fp: str, t0: float, walked=()
) -> StoreReport:
    """Write ``index.npz`` (one row per kept piece) and ``store.json`` (which marks the store complete) from the
    shards' summaries and the files the walk skipped (``walked``); the report. ``StoreError`` where no piece is
    usable."""
    chosen, rows, skipped, readers, fallbacks = _kept_rows(folder, voices, shards)
    skipped = [*skipped, *walked]
    index, lows, highs = _index(rows, chosen)
    _atomic_write(out / "index.npz", "wb", lambda f: np.savez(f, **index))
    n = len(rows)
    metres = Counter(tuple(p["time_signature"]) for _, p in rows)
    common = [list(ts) for ts, c in metres.most_common() if c >= 0.05 * n] or [list(metres.most_common(1)[0][0])]
    names = Counter(tuple(tuple(x) for x in p["parts"]) for _, p in rows).most_common(1)[0][0]
    style_info = {
        "parts": [[pn, int(prog), [int(lo), int(hi)]] for (pn, prog), lo, hi in zip(names, lows, highs)],
        "time_signature": common[0],
        "metres": common,
        "tempo": float(np.median(index["tempo"])),
    }
    by_reason = Counter(reason for _, reason, _ in skipped)
    examples: dict[str, list[str]] = {}
    for rel, reason, detail in skipped:
        if len(examples.setdefault(reason, [])) < EXAMPLES_SHOWN:
            examples[reason].append(detail if detail.startswith(rel) else f"{rel}: {detail}")
    split_names = {v: k for k, v in SPLIT_CODES.items()}
    report = StoreReport(
        folder=str(folder),
        store=str(out),
        style=name,
        voices=int(chosen),
        files=sum(s["files"] for s in shards) + len(walked),
        used=n,
        skipped={r: by_reason[r] for r in SKIP_REASONS if by_reason[r]},
        examples=examples,
        fallbacks=fallbacks,
        readers=dict(readers),
        splits={split_names[c]: int((index["split"] == c).sum()) for c in range(3)},
        tokens=int(index["length"].sum()),
        seconds=round(time.perf_counter() - t0, 2),
    )
    head = {
        "format": "musewidgets.store",
        "version": STORE_VERSION,
        "fingerprint": fp,
        "folder": str(folder.resolve()),
        "style": name,
        "voices": int(chosen),
        "voices_asked": voices,
        "style_info": style_info,
        "shards": len(shards),
        "report": report.to_dict(),
    }
    _atomic_text(out / "store.json", json.dumps(head, indent=1))
    return report


def _kept_rows(folder: Path, voices: int | None, shards: list[dict]) -> tuple[int, list, list, Counter, int]:
    """The voice count kept (``voices``, or the most common), the kept pieces as ``(shard, record)``, every skipped
    file as ``[file, reason, detail]`` (pieces of another voice count among them), the readers' counts and the
    fallbacks; ``StoreError`` where no piece is usable."""
    counts = Counter(len(p["parts"]) for s in shards for p in s["pieces"])
    if not counts:
        skipped = Counter(reason for s in shards for _, reason, _ in s["skipped"])
        why = ", ".join(f"{n} {r}" for r, n in skipped.most_common())
        raise StoreError(f"{folder}: no usable music among {sum(s['files'] for s in shards)} files ({why})")
    chosen = voices or min(counts, key=lambda v: (-counts[v], v))
    rows, skipped, readers, fallbacks = [], [], Counter(), 0
    for s in shards:
        skipped += s["skipped"]
        readers.update(s["readers"])
        fallbacks += s["fallbacks"]
        for p in s["pieces"]:
            if p["voices"] == chosen:
                rows.append((s["shard"], p))
            else:
                skipped.append([p["file"], "wrong voice count", f"{p['file']}: {p['voices']} voices, not {chosen}"])
    if not rows:
        raise StoreError(f"{folder}: no piece has {chosen} voice{'s' * (chosen != 1)} (found: {dict(counts)})")
    return chosen, rows, skipped, readers, fallbacks


def _index(rows: list, chosen: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The columns of ``index.npz``, one row per kept piece, and per voice the lowest and highest pitch of all."""
    from .corpus import split_of

    lows = np.min([[sp[0] for sp in p["spans"]] for _, p in rows], axis=0)
    highs = np.max([[sp[1] for sp in p["spans"]] for _, p in rows], axis=0)
    n = len(rows)
    index = {
        "shard": np.array([s for s, _ in rows], dtype=np.int32),
        "offset": np.array([p["offset"] for _, p in rows], dtype=np.int64),
        "length": np.array([p["length"] for _, p in rows], dtype=np.int64),
        "split": np.array([SPLIT_CODES[split_of(p["file"])] for _, p in rows], dtype=np.int8),
        "metre": np.array([p["metre"] for _, p in rows], dtype=np.int16),
        "key": np.array([p["key"] for _, p in rows], dtype=np.int16),
        "steps_per_bar": np.array([p["steps_per_bar"] for _, p in rows], dtype=np.int32),
        "pickup": np.array([p["pickup"] for _, p in rows], dtype=np.int32),
        "tempo": np.array([p["tempo"] for _, p in rows], dtype=np.float32),
    }
    spans = np.array([p["spans"] for _, p in rows], dtype=np.int64).reshape(n, chosen, 2)
    shift_lo = np.max(lows[None, :] - spans[:, :, 0], axis=1)  # lowest shift keeping every voice in its range
    shift_hi = np.min(highs[None, :] - spans[:, :, 1], axis=1)
    index["shift_lo"] = np.clip(shift_lo, -MAX_SHIFT, 0).astype(np.int8)
    index["shift_hi"] = np.clip(shift_hi, 0, MAX_SHIFT).astype(np.int8)
    index["files"] = np.array([p["file"] for _, p in rows])
    return index, lows, highs


def open_or_prepare(data: str | os.PathLike, store_dir: str | os.PathLike, **kwargs) -> TokenStore:
    """A :class:`TokenStore`: ``data`` itself if it is a store, else the store of folder ``data`` at
    ``store_dir``, prepared (or reused, or resumed) first."""
    if is_store(data):
        return TokenStore(data)
    prepare(data, store_dir, **kwargs)
    return TokenStore(store_dir)
