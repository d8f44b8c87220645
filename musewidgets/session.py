"""The take history on disk: every take is saved as it is made, so a kernel restart loses nothing.

A session is a folder under :func:`sessions_root` (``MUSEWIDGETS_SESSION_DIR``, else the user data folder, e.g.
``~/.local/share/musewidgets/sessions`` on Linux)::

    2026-11-30_09-15-02/
        session.json      {"format": "musewidgets.session", "version": 1, "selected": 7, "taste": {...}}
        take-0007.json    the take: id, settings (seed included), seconds, star, rating, and its notes (lossless)
        take-0007.mid     the same take as MIDI, to open in any other program
        deleted/          takes deleted in the Workbench, kept until the session is cleared

Every file is written to a temporary name and renamed, so a kernel killed mid-write leaves the previous version
whole. :class:`Session` knows what it wrote: :meth:`Session.sync` writes only what changed (a new take, a star, a
rating, a deletion, the selection). Nothing here imports ipywidgets: the Workbench shows the history, this module
keeps it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MusewidgetsError
from .io.limits import MAX_BARS, MAX_NOTES
from .piece import Piece

__all__ = ["Session", "SessionInfo", "Take", "clear_sessions", "clearable_sessions", "list_sessions", "sessions_root"]

FORMAT = "musewidgets.session"
_SETTING_TYPES = {"model": str, "style": str, "temperature": (int, float), "seed": int, "n": int}
_TAKE_FILE = re.compile(r"take-(\d{4,})\.(json|mid)(\.\d+\.tmp)?")  # a take's files, and their temporaries
_SESSION_NAME = re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d(-\d+)?")  # the folders Session.new makes
TAKE_FORMAT = "musewidgets.take"
VERSION = 1


class _Ids:
    """Take ids, unique in this process (a restored session reserves its ids)."""

    def __init__(self) -> None:
        self._next = 1
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._next += 1
            return self._next - 1

    def reserve(self, upto: int) -> None:
        """Never hand out ``upto`` or anything below it again."""
        with self._lock:
            self._next = max(self._next, upto + 1)


new_id = _Ids()


@dataclass
class Take:
    """One generated piece and how it was made.

    ``settings`` are the controls' values (model, style, temperature, top_k, top_p, bars, seed, n, tempo, programs,
    primer ...) plus ``candidate``, the index within a batch of ``n``, ``stopped`` (Stop ended the sampling) and
    ``bars_made`` (new bars sampled: ``bars``, or fewer when stopped); ``primer_file`` names an uploaded primer.
    Takes not made by Generate say how they were made in ``kind``: ``"edit"`` (notes edited by hand),
    ``"regenerate"`` (bars and voices written anew by the infill model; ``bars``, ``voices``, ``where``),
    ``"harmonize"`` (a melody harmonized) or ``"file"`` (a file opened as a take; ``file``), and ``parent`` names the
    take they were made from (``None`` for none).
    :meth:`Workbench.copy_settings` sets the controls to them, so that Generate replays the take.
    """

    piece: Piece
    settings: dict
    seconds: float = 0.0  # time to generate
    starred: bool = False
    rating: int = 0  # +1 liked, -1 disliked, 0 not rated (the Workbench's taste model learns from it)
    id: int = field(default_factory=new_id)

    @property
    def label(self) -> str:
        s = self.settings
        # liked and disliked in glyphs of every font (WGL4: ♥ U+2665, × U+00D7); an emoji was a missing-glyph box
        # in a browser without an emoji font (issue 33)
        star = ("★ " if self.starred else "") + {1: "♥ ", -1: "× "}.get(self.rating, "")
        kind = s.get("kind")
        if kind in ("edit", "regenerate", "harmonize", "file"):
            return star + self._made_label(kind)
        extra = f" +{s['continue_bars']} bars of #{s['continue_of']}" if s.get("continue_of") else ""
        candidate = f" [{s['candidate'] + 1}/{s['n']}]" if s["n"] > 1 else ""
        stopped = f" (stopped at bar {s['bars_made']})" if s.get("stopped") and "bars_made" in s else ""
        strict = " strict" if s.get("strict") else ""
        plan = "".join(f" {s[k]}" for k in ("key", "metre") if s.get(k)) + (" →" if s.get("ending") is False else "")
        model = Path(s["model"]).name  # a checkpoint of the user's own by its file name
        return (
            f"{star}#{self.id} {model}{strict} {s['style']}{plan} T={s['temperature']:g} seed={s['seed']}"
            f"{candidate}{extra}{stopped}"
        )

    def _made_label(self, kind: str) -> str:
        """The label of a take made by hand or by the infill model: "#8 edit of #5", "#7 regenerate bars 3-4
        Alto,Tenor of #5 seed=2", "#9 harmonize chorale seed=0", "#4 file tune.mid"."""
        s = self.settings
        of = f" of #{s['parent']}" if s.get("parent") is not None else ""
        if kind == "edit":
            return f"#{self.id} edit{of}"
        if kind == "file":
            return f"#{self.id} file {s.get('file') or '?'}"
        stopped = " (stopped)" if s.get("stopped") else ""
        if kind == "regenerate":
            where = s.get("where") or ""
            return f"#{self.id} regenerate {where}{of} T={s['temperature']:g} seed={s['seed']}{stopped}"
        source = f" of #{s['parent']}'s melody" if s.get("parent") is not None else ""
        return f"#{self.id} harmonize {s['style']}{source} T={s['temperature']:g} seed={s['seed']}{stopped}"

    def to_dict(self) -> dict:
        return {
            "format": TAKE_FORMAT,
            "version": VERSION,
            "id": self.id,
            "settings": self.settings,
            "seconds": self.seconds,
            "starred": self.starred,
            "rating": self.rating,
            "piece": self.piece.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Take:
        """The take :meth:`to_dict` wrote; ``ValueError`` for anything else."""
        if not isinstance(data, dict) or data.get("format") != TAKE_FORMAT:
            raise ValueError("not a musewidgets take")
        if data.get("version") != VERSION:
            raise ValueError(f"take format version {data.get('version')!r}, this musewidgets reads {VERSION}")
        settings = data.get("settings")
        if not isinstance(settings, dict) or not {"model", "style", "temperature", "seed", "n"} <= set(settings):
            raise ValueError("its settings are incomplete")
        for name, kinds in _SETTING_TYPES.items():
            value = settings[name]
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"its setting {name!r} is damaged ({value!r})")
        take_id, rating = data.get("id"), data.get("rating", 0)
        if isinstance(take_id, bool) or not isinstance(take_id, int) or take_id < 1 or rating not in (-1, 0, 1):
            raise ValueError("its id or rating is damaged")
        piece = Piece.from_dict(data.get("piece"))
        if piece.n_bars > MAX_BARS or piece.n_notes > MAX_NOTES:
            raise ValueError(f"its piece is longer than a take can be ({MAX_BARS} bars, {MAX_NOTES} notes)")
        return cls(
            piece=piece,
            settings=settings,
            seconds=float(data.get("seconds", 0.0)),
            starred=bool(data.get("starred", False)),
            rating=rating,
            id=take_id,
        )


def sessions_root() -> Path:
    """Where sessions are kept: ``MUSEWIDGETS_SESSION_DIR``, else ``<user data folder>/musewidgets/sessions``."""
    base = os.environ.get("MUSEWIDGETS_SESSION_DIR")
    if base:
        return Path(base)
    from platformdirs import user_data_dir

    return Path(user_data_dir("musewidgets")) / "sessions"


@dataclass(frozen=True)
class SessionInfo:
    """A saved session: its folder, when it was last written and how many takes it keeps."""

    folder: Path
    modified: float  # seconds since the epoch
    n_takes: int

    @property
    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        return f"{self.folder.name} · {self.n_takes} take{'s' * (self.n_takes != 1)} · last {when}"


def list_sessions(root: str | os.PathLike | None = None) -> list[SessionInfo]:
    """The saved sessions that keep at least one take, most recently written first."""
    root = sessions_root() if root is None else Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        takes = list(folder.glob("take-*.json")) if folder.is_dir() else []
        if takes:
            found.append(SessionInfo(folder, max(t.stat().st_mtime for t in takes), len(takes)))
    return sorted(found, key=lambda s: (s.modified, s.folder.name), reverse=True)


def clearable_sessions(root: str | os.PathLike | None = None, *, keep: Path | None = None) -> list[Path]:
    """The session folders under ``root`` (but ``keep``) that :func:`clear_sessions` would delete: only folders this
    module wrote (a user's own folder beside them is never one)."""
    root = sessions_root() if root is None else Path(root)
    if not root.is_dir():
        return []
    kept = None if keep is None else Path(keep).resolve()
    return sorted(f for f in root.iterdir() if _is_session(f) and (kept is None or f.resolve() != kept))


def clear_sessions(root: str | os.PathLike | None = None, *, keep: Path | None = None) -> int:
    """Delete every saved session under ``root`` (but ``keep``); returns how many folders were deleted."""
    gone = 0
    for folder in clearable_sessions(root, keep=keep):
        shutil.rmtree(folder)
        gone += 1
    return gone


def _is_session(folder: Path) -> bool:
    """Only a folder this module wrote is ever deleted: nothing in it but ``session.json``, take files and a
    ``deleted`` folder of take files (and their temporary files), and at least one of them, or empty with the name
    :meth:`Session.new` gives a session (a Workbench opened and closed without a take)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    entries = list(folder.iterdir())
    if not entries:
        return bool(_SESSION_NAME.fullmatch(folder.name))
    for entry in entries:
        if entry.name == "deleted" and entry.is_dir() and not entry.is_symlink():
            if not all(_TAKE_FILE.fullmatch(e.name) and e.is_file() for e in entry.iterdir()):
                return False
        elif not (entry.is_file() and (_TAKE_FILE.fullmatch(entry.name) or _is_state_file(entry.name))):
            return False
    return True


def _is_state_file(name: str) -> bool:
    return name == "session.json" or bool(re.fullmatch(r"session\.json\.\d+\.tmp", name))


class Session:
    """One session folder and what has been written to it.

    A folder without takes is not listed as a session (a Workbench opened and closed without a take).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._written: dict[int, tuple] = {}  # take id -> (starred, rating, notes) as last written
        self._state: str | None = None  # session.json as last written
        self._claimed: set[int] = set()  # take ids whose file name this session holds in the folder
        self.renumbered: dict[int, int] = {}  # old id -> new id, of takes another process had the id of
        self._lock = threading.Lock()

    @classmethod
    def new(cls, root: str | os.PathLike | None = None) -> Session:
        """A fresh session named by the local date and time (``2026-11-30_09-15-02``, ``-2`` if that exists).

        The folder is made at once, so two kernels started in the same second never share one; where it cannot be
        made, the first take says why.
        """
        root = sessions_root() if root is None else Path(root)
        name = time.strftime("%Y-%m-%d_%H-%M-%S")
        for k in range(1, 1000):
            folder = root / (name if k == 1 else f"{name}-{k}")
            try:
                folder.mkdir(parents=True)
            except FileExistsError:
                continue
            except OSError:  # an unwritable root: reported by the first sync
                break
            break
        return cls(folder)

    @classmethod
    def named(cls, name: str | os.PathLike) -> Session:
        """A folder given by path, or by a plain name (``"lesson-3"``) under :func:`sessions_root`."""
        path = Path(name)
        if path.is_absolute() or len(path.parts) > 1 or str(name).startswith("."):
            return cls(path)
        return cls(sessions_root() / path)

    # ------------------------------------------------------------------ writing
    def sync(self, takes: list[Take], selected: int | None = None, taste: dict | None = None) -> list[str]:
        """Write what changed since the last call: new takes, stars and ratings, deletions, the selection, the taste.

        Returns the problems, in plain words (an unwritable folder, a full disk); an empty list when all is saved.
        Nothing is raised: the takes stay in memory, and the next call tries again.
        """
        with self._lock:
            problems, unsaved = [], {}
            self.renumbered = {}
            for take in takes:
                if self._written.get(take.id) != _state_of(take):
                    moved = len(self.renumbered)
                    try:
                        self._write_take(take)
                    except (OSError, TypeError, ValueError) as err:
                        unsaved.setdefault(_why(err), []).append(take.id)
                    if len(self.renumbered) > moved:  # the takes made from it, written after it, name its new id
                        _follow(takes, self.renumbered)
            for why, failed in unsaved.items():  # one line per cause, naming every take it kept from the disk
                which = f"take #{failed[0]}" if len(failed) == 1 else "takes " + ", ".join(f"#{i}" for i in failed)
                problems.append(f"{which} could not be saved in {self.folder} ({why})")
            ids = {t.id for t in takes}
            for gone in [i for i in self._written if i not in ids]:
                try:
                    self._move_to_deleted(gone)
                except OSError as err:
                    where = self.folder / "deleted"
                    problems.append(f"deleted take #{gone} could not be moved to {where} ({_why(err)})")
                else:
                    del self._written[gone]
            if self._written:
                state = json.dumps({"format": FORMAT, "version": VERSION, "selected": selected, "taste": taste})
                if state != self._state:
                    try:
                        _write_atomic(self.folder / "session.json", state.encode())
                        self._state = state
                    except OSError as err:
                        problems.append(f"the session could not be saved in {self.folder} ({_why(err)})")
            return problems

    def _write_take(self, take: Take) -> None:
        """Write a take's JSON (first: a take is restored from it), then its MIDI. A take new to this folder claims
        its file name, so that two kernels saving into one session never overwrite each other's takes: where another
        has it, the take gets the next free id (:attr:`renumbered`)."""
        from .export import to_bytes

        self.folder.mkdir(parents=True, exist_ok=True)
        while take.id not in self._claimed:
            if _create_exclusive(self._path(take.id, ".json"), json.dumps(take.to_dict()).encode()):
                self._claimed.add(take.id)
                break
            new_id.reserve(max(self._ids_on_disk()))
            old, take.id = take.id, new_id()
            self.renumbered[old] = take.id
        else:
            _write_atomic(self._path(take.id, ".json"), json.dumps(take.to_dict()).encode())
        state = _state_of(take)
        written = self._written.get(take.id)
        if written is None or written[2] != state[2]:  # the MIDI only when the notes changed (a take edited by hand)
            _write_atomic(self._path(take.id, ".mid"), to_bytes(take.piece, ".mid"))
        self._written[take.id] = state

    def _path(self, take_id: int, suffix: str) -> Path:
        return self.folder / f"take-{take_id:04d}{suffix}"

    def _ids_on_disk(self) -> set[int]:
        """The ids of every take file in the folder and its ``deleted`` folder (0 for none)."""
        ids = {0}
        for folder in (self.folder, self.folder / "deleted"):
            try:
                names = [e.name for e in os.scandir(folder)]
            except OSError:
                continue
            ids.update(int(m.group(1)) for m in map(_TAKE_FILE.fullmatch, names) if m)
        return ids

    def _move_to_deleted(self, take_id: int) -> None:
        deleted = self.folder / "deleted"
        deleted.mkdir(exist_ok=True)
        for suffix in (".mid", ".json"):
            path = self.folder / f"take-{take_id:04d}{suffix}"
            if path.exists():
                path.replace(deleted / path.name)

    # ------------------------------------------------------------------ reading
    def load(self, taken: set[int] = frozenset()) -> tuple[list[Take], int | None, dict | None, list[str]]:
        """(takes oldest first, the selected id, the taste, problems): a damaged take file is skipped and named.

        A take whose id is in ``taken`` (the takes already in the history) gets a new id, and the takes continuing it
        follow. The loaded takes count as written: syncing them back writes nothing (a renumbered take is rewritten).
        """
        if not self.folder.is_dir():
            raise MusewidgetsError(f"no saved session at {self.folder}")
        takes, problems = [], []
        read = []
        for path in sorted(self.folder.glob("take-*.json")):
            try:
                read.append((path, Take.from_dict(json.loads(path.read_bytes()))))
            except RecursionError:
                problems.append(f"{path.name} was skipped: it is nested too deeply to be a take")
            except (OSError, ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
                problems.append(f"{path.name} was skipped: {_why(err)}")
        seen: dict[int, str] = {}
        for path, take in sorted(read, key=lambda r: r[0].name != f"take-{r[1].id:04d}.json"):  # named for it first
            if take.id in seen:  # a copy: the file named for the take is kept
                problems.append(f"{path.name} was skipped: it is take #{take.id}, as {seen[take.id]} is")
                continue
            seen[take.id] = path.name
            takes.append(take)
        takes.sort(key=lambda t: t.id)
        selected = taste = None
        state_path = self.folder / "session.json"
        if state_path.exists():
            try:
                state = json.loads(state_path.read_bytes())
                selected, taste = state.get("selected"), state.get("taste")
                self._state = json.dumps(state)
            except (OSError, ValueError, AttributeError) as err:
                problems.append(f"session.json was skipped (the selection is lost): {_why(err)}")
        if takes:
            new_id.reserve(max(t.id for t in takes))
        renamed = {t.id: new_id() for t in takes if t.id in taken}
        with self._lock:
            for take in takes:
                changed = take.id in renamed
                for link in ("continue_of", "parent"):  # the takes it was made from, renumbered with them
                    if take.settings.get(link) in renamed:
                        take.settings = {**take.settings, link: renamed[take.settings[link]]}
                        changed = True
                if take.id in renamed:  # its files move to the new name now; sync rewrites the JSON inside
                    old, take.id = take.id, renamed[take.id]
                    for suffix in (".json", ".mid"):
                        path = self.folder / f"take-{old:04d}{suffix}"
                        try:
                            path.replace(self.folder / f"take-{take.id:04d}{suffix}")
                        except OSError as err:
                            problems.append(f"{path.name} could not be renamed for take #{take.id} ({_why(err)})")
                self._claimed.add(take.id)
                if not changed:
                    self._written[take.id] = _state_of(take)
        return takes, renamed.get(selected, selected), taste, problems

    def discard(self) -> None:
        """Delete this session's folder (only when it holds nothing but session files)."""
        with self._lock:
            if self.folder.is_dir() and _is_session(self.folder):
                shutil.rmtree(self.folder)
            self._written.clear()
            self._state = None


def _state_of(take: Take) -> tuple:
    """What :meth:`Session.sync` compares to know a take changed: its star, its rating and its notes (a take edited
    by hand gets new notes; ``hash`` of a frozen piece costs well under a millisecond for 64 bars)."""
    return take.starred, take.rating, hash(take.piece)


def _follow(takes: list[Take], renumbered: dict[int, int]) -> None:
    """The takes made from a renumbered take name its new id."""
    for take in takes:
        for link in ("continue_of", "parent"):
            if take.settings.get(link) in renumbered:
                take.settings = {**take.settings, link: renumbered[take.settings[link]]}


def _create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` whole, only where no file is there yet: ``False`` where one is (another process
    holds that name). A hard link of a finished temporary file claims the name and fills it in one step; where the
    file system has no hard links, an empty file claims it and the data replaces it."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return False
            tmp.replace(path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _why(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
