"""Build musewidgets' sdist and wheel, install the wheel alone in a fresh virtual environment, and check it there.

    python scripts/check_wheel.py               # build, inspect, install, check: a few minutes (.ci/wheel runs this)
    python scripts/check_wheel.py --no-install  # build and inspect the archives only: seconds
    python scripts/check_wheel.py --write-doc   # also write docs/install.md: the wheel's size and make-up

What is checked
---------------
sdist  what builds the wheel and nothing else: pyproject.toml, README.md, LICENSE and every file git tracks under
       musewidgets/; no virtual environment, build output, cache, training leftover, tests or notebooks, and no large
       file that git does not track.
wheel  only the package and its metadata: every file git tracks under musewidgets/ (code, checkpoints, model cards,
       corpus, the widgets' JS and CSS), the licence, the ``musewidgets`` command, anywidget among the requirements;
       no tests, notebooks or docs.
fresh  a new virtual environment holding torch==2.13.0 and the wheel (its dependencies from the package index), used
       outside the checkout with its own HOME, caches and Jupyter folders: ``pip check``; ``import musewidgets`` comes
       from site-packages and loads no torch, ipywidgets or music21; ``styles`` reads the shipped corpus (builds
       nothing); ``models`` lists the shipped checkpoints; ``generate`` with every shipped sequence model,
       ``classify``, ``harmonize`` and ``render`` on a small ABC tune; every anywidget class reads its ``_esm`` and
       ``_css`` from the installed static folder; a kernel shows the Workbench as a widget whose anywidget parts carry
       their JS; JupyterLab serves the anywidget and ipywidgets front ends.

Exit status 0 when every check passes, 1 otherwise; the report ends with one line of totals.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import urllib.request
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # as the Makefile: the local CPU wheel where there is one, so pip never pulls the CUDA build
MB = 1_000_000
LARGE = 1 * MB  # a file this size or more must be one git tracks
HEAVY = ("torch", "ipywidgets", "music21", "anywidget", "matplotlib", "verovio", "pretty_midi")  # not at import
JUNK_PARTS = {".venv", "venv", "build", "dist", "__pycache__", ".git", ".ipynb_checkpoints", ".pytest_cache"}
JUNK_PARTS |= {".ruff_cache", ".hypothesis", "out", "runs", "tests", "notebooks", "docs", "benchmarks", "examples"}
JUNK_SUFFIXES = (".pyc", ".pyo", ".last.pt", ".log", ".ipynb", ".tmp")
SEQUENCE_MODELS = ("rnn", "lstm", "transformer", "gan")  # the shipped generators `generate --model` takes
WIDGET_FRONT_ENDS = ("anywidget", "@jupyter-widgets/jupyterlab-manager")  # JupyterLab extensions the Workbench needs
TUNE = """X:1
T:Wheel check
M:4/4
L:1/4
K:G
G A B G | c B A2 | B c d B | A G G2 |]
"""
FOLDERS = {  # folder in the wheel -> what it is, for docs/install.md
    "musewidgets/data/models": "the shipped generators and the infill model: checkpoints, model cards, metadata",
    "musewidgets/data/corpus": "the four corpus styles, read from music21's corpus and prepared as arrays",
    "musewidgets/data/bench/jsb": "the two frame models of the JSB-chorale benchmark (`musewidgets bench jsb`)",
    "musewidgets/data/classifier": "the style classifier (classify, the scorecard's judge, similar pieces)",
    "musewidgets/data/guidance": "each style's profile for the sampling priors",
    "musewidgets/widgets/static": "the Workbench's front end: anywidget ES modules and their CSS",
    "Python code": "the package's modules (`*.py`)",
    "dist-info": "the wheel's metadata: requirements, the `musewidgets` command, the licence",
}


# report


@dataclass
class Report:
    """Checks as they pass or fail, printed as they come."""

    passed: int = 0
    failed: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        print(f"  {'ok  ' if ok else 'FAIL'}  {what}" + (f"\n        {detail}" if detail and not ok else ""))
        return ok

    def note(self, what: str) -> None:
        print(f"  note  {what}")

    def section(self, title: str) -> None:
        print(f"\n{title}  [at {time.perf_counter() - self.start:.0f} s]")


def _mb(n: float) -> str:
    """A size for people: 7.5 MB, 0.4 MB, 52 kB."""
    return f"{n / MB:.1f} MB" if n >= 0.1 * MB else f"{n / 1000:.0f} kB"


def _run(cmd, *, env=None, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _tail(text: str, lines: int = 15) -> str:
    return "\n        ".join(text.strip().splitlines()[-lines:])


def _is_junk(relative: str) -> bool:
    """A path (inside an archive, below its top folder) that no archive of ours should hold."""
    parts = relative.split("/")
    return bool(JUNK_PARTS & set(parts[:-1])) or relative.endswith(JUNK_SUFFIXES) or ".tmp." in parts[-1]


def _git_files() -> set[str] | None:
    """Files git tracks and that exist in the working tree, relative to the root; None without git."""
    try:
        out = _run(["git", "-C", ROOT, "ls-files", "-z"], timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return {name for name in out.stdout.split("\0") if name and (ROOT / name).is_file()}


def _check_package(files: dict[str, int], tracked: set[str] | None, report: Report) -> set[str]:
    """Check that an archive's ``musewidgets/`` holds every file git tracks there and no untracked data or large
    file; its ``musewidgets/`` names."""
    package = {n for n in files if n.startswith("musewidgets/")}
    if tracked is not None:
        missing = sorted(n for n in tracked if n.startswith("musewidgets/") and n not in package)
        report.check(not missing, "every file git tracks under musewidgets/ is inside", ", ".join(missing[:10]))
    bad, notes = _untracked_problems(package, tracked, files)
    report.check(not bad, "no data or large file that git does not track", ", ".join(bad))
    for name in notes:
        report.note(f"{name}: not tracked by git (not committed yet?)")
    return package


def _untracked_problems(names: set[str], tracked: set[str] | None, sizes: dict[str, int]) -> tuple[list, list]:
    """(failures, notes) for package files that git does not track: data or large ones fail, the rest are noted
    (new code not yet committed)."""
    if tracked is None:
        return [], []
    bad, notes = [], []
    for name in sorted(names - tracked):
        if name.startswith("musewidgets/data/") or sizes.get(name, 0) >= LARGE:
            bad.append(f"{name} ({_mb(sizes.get(name, 0))})")
        else:
            notes.append(name)
    return bad, notes


# building


def build(out: Path, report: Report) -> tuple[Path, Path] | None:
    """``python -m build``: the sdist, then the wheel built from the unpacked sdist (so a file the sdist lacks is
    missing from the wheel too)."""
    t0 = time.perf_counter()
    result = _run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=600)
    (out.parent / "build.log").write_text(result.stdout + result.stderr)
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    ok = result.returncode == 0 and len(sdists) == 1 and len(wheels) == 1
    report.check(ok, f"python -m build: sdist and wheel in {time.perf_counter() - t0:.0f} s", _tail(result.stderr))
    return (sdists[0], wheels[0]) if ok else None


# the sdist


def check_sdist(path: Path, version: str, tracked: set[str] | None, report: Report) -> None:
    report.section(f"sdist {path.name} ({_mb(path.stat().st_size)})")
    top = f"musewidgets-{version}/"
    with tarfile.open(path) as tar:
        members = {m.name: m.size for m in tar.getmembers() if m.isfile()}
    outside = [n for n in members if not n.startswith(top)]
    report.check(not outside, f"every file under {top}", ", ".join(outside[:10]))
    files = {n.removeprefix(top): size for n, size in members.items() if n.startswith(top)}
    needed = {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE"}
    report.check(needed <= set(files), "pyproject.toml, README.md, LICENSE, PKG-INFO", str(needed - set(files)))
    junk = sorted(n for n in files if _is_junk(n))
    report.check(
        not junk, "no venv, build output, caches, training leftovers, tests or notebooks", ", ".join(junk[:10])
    )
    generated = {"PKG-INFO", "setup.cfg"}
    outside_package = sorted(
        n for n in files if not n.startswith(("musewidgets/", "musewidgets.egg-info/")) and n not in generated
    )
    report.check(
        set(outside_package) <= {"pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"},
        "outside the package: only pyproject.toml, README.md, LICENSE, MANIFEST.in",
        ", ".join(outside_package),
    )
    _check_package(files, tracked, report)
    largest = max(files, key=files.get)
    print(f"        {len(files)} files, {_mb(sum(files.values()))} unpacked; largest {largest} ({_mb(files[largest])})")


# the wheel


@dataclass
class WheelFile:
    name: str
    size: int  # unpacked, bytes
    compressed: int  # in the wheel, bytes


def wheel_files(path: Path) -> list[WheelFile]:
    with zipfile.ZipFile(path) as z:
        return [WheelFile(i.filename, i.file_size, i.compress_size) for i in z.infolist() if not i.is_dir()]


def check_wheel(path: Path, version: str, tracked: set[str] | None, report: Report) -> list[WheelFile]:
    files = wheel_files(path)
    report.section(f"wheel {path.name} ({_mb(path.stat().st_size)}, {_mb(sum(f.size for f in files))} installed)")
    names = {f.name: f.size for f in files}
    info = f"musewidgets-{version}.dist-info/"
    report.check(path.name.endswith("-py3-none-any.whl"), "pure Python: one wheel for every platform", path.name)
    others = sorted({n.split("/")[0] for n in names if not n.startswith(("musewidgets/", info))})
    report.check(not others, "only musewidgets/ and its dist-info (no tests, notebooks, docs)", ", ".join(others))
    junk = sorted(n for n in names if _is_junk(n))
    report.check(not junk, "no caches, bytecode or training leftovers", ", ".join(junk[:10]))
    package = _check_package(names, tracked, report)

    models = sorted(Path(n).stem for n in package if re.fullmatch(r"musewidgets/data/models/[^/]+\.pt", n))
    carded = [m for m in models if {f"musewidgets/data/models/{m}.{s}" for s in ("md", "json")} <= package]
    report.check(
        bool(models) and carded == models and set(SEQUENCE_MODELS) <= set(models),
        f"checkpoints with their model cards and metadata: {', '.join(models)}",
        f"without a card or json: {sorted(set(models) - set(carded))}",
    )
    corpus = sorted(Path(n).stem for n in package if re.fullmatch(r"musewidgets/data/corpus/[^/]+\.npz", n))
    report.check(len(corpus) >= 4, f"the corpus: {', '.join(corpus)}", "fewer than the four styles")
    static = sorted(Path(n).name for n in package if n.startswith("musewidgets/widgets/static/"))
    report.check(
        any(s.endswith(".js") for s in static) and any(s.endswith(".css") for s in static),
        f"the widgets' front end: {', '.join(static)}",
    )

    with zipfile.ZipFile(path) as z:
        meta = email.parser.Parser().parsestr(z.read(info + "METADATA").decode())
        entry_points = z.read(info + "entry_points.txt").decode()
    requires = {re.split(r"[<>=!~;\[ (]", r, maxsplit=1)[0].lower() for r in meta.get_all("Requires-Dist") or []}
    report.check(
        {"anywidget", "ipywidgets", "jupyterlab", "torch", "music21"} <= requires,
        "requires anywidget, ipywidgets, jupyterlab, torch and music21",
        str(sorted(requires)),
    )
    licence = f"{info}licenses/LICENSE"
    report.check(licence in names and meta.get("License-Expression") == "MIT", "the MIT licence and its text", licence)
    report.check(
        re.search(r"^musewidgets\s*=\s*musewidgets\.cli:main$", entry_points, re.M) is not None,
        "the `musewidgets` command",
        entry_points,
    )
    return files


def make_up(files: list[WheelFile], version: str) -> dict[str, list[WheelFile]]:
    """The wheel's files by folder: each data folder, the static front end, the Python code and the metadata."""
    groups: dict[str, list[WheelFile]] = defaultdict(list)
    for f in files:
        if f.name.startswith(f"musewidgets-{version}.dist-info/"):
            groups["dist-info"].append(f)
        elif f.name.endswith(".py"):
            groups["Python code"].append(f)
        else:
            groups[str(Path(f.name).parent)].append(f)
    return dict(sorted(groups.items(), key=lambda kv: -sum(f.size for f in kv[1])))


def print_make_up(files: list[WheelFile], version: str) -> None:
    print("\n        what makes it up (installed / in the wheel):")
    for folder, group in make_up(files, version).items():
        size, packed = sum(f.size for f in group), sum(f.compressed for f in group)
        print(f"        {folder:34} {len(group):4} files {_mb(size):>9} {_mb(packed):>9}")
    print("        largest files:")
    for f in sorted(files, key=lambda f: -f.size)[:8]:
        print(f"        {f.name:54} {_mb(f.size):>9}")


# the fresh environment


@dataclass
class Fresh:
    """A new virtual environment and the folders that stand in for a user's home."""

    base: Path

    @property
    def bin(self) -> Path:
        return self.base / "venv" / "bin"

    @property
    def work(self) -> Path:
        return self.base / "work"

    def pip_env(self) -> dict[str, str]:
        """The caller's environment (its pip settings and cache) without another Python's paths."""
        drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")
        return {k: v for k, v in os.environ.items() if k not in drop}

    def env(self) -> dict[str, str]:
        """A user's environment with nothing of this checkout or this machine's caches: HOME, caches, sessions,
        Jupyter's folders and matplotlib's all under the temporary folder."""
        home = self.base / "home"
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "MUSEWIDGETS", "XDG_"))}
        keep.pop("VIRTUAL_ENV", None)
        keep.pop("MPLCONFIGDIR", None)
        return keep | {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "Agg",
        }


def install(fresh: Fresh, wheel: Path, report: Report) -> bool:
    report.section("a fresh virtual environment with the wheel alone")
    t0 = time.perf_counter()
    made = _run([sys.executable, "-m", "venv", fresh.base / "venv"], timeout=300)
    if not report.check(made.returncode == 0, "python -m venv", _tail(made.stderr)):
        return False
    # --no-compile: byte-compiling torch and JupyterLab at install time is most of a minute on 2 cores; the modules the
    # checks import compile as they load
    pip = [fresh.bin / "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "-q"]
    for what, args in ((TORCH, [TORCH]), (f"{wheel.name} and its dependencies", [wheel])):
        result = _run(pip + args, env=fresh.pip_env(), timeout=900)
        if not report.check(result.returncode == 0, f"pip install {what}", _tail(result.stderr)):
            return False
    report.note(f"installed in {time.perf_counter() - t0:.0f} s")
    check = _run([fresh.bin / "python", "-m", "pip", "check"], env=fresh.pip_env(), timeout=120)
    report.check(check.returncode == 0, "pip check: every requirement met", _tail(check.stdout))
    for folder in ("home", "work"):
        (fresh.base / folder).mkdir()
    return True


def _probe(fresh: Fresh, code: str, timeout: int = 300) -> tuple[dict | None, str]:
    """Run ``code`` with the fresh environment's Python, outside the checkout; its last stdout line is JSON."""
    result = _run([fresh.bin / "python", "-c", textwrap.dedent(code)], env=fresh.env(), cwd=fresh.work, timeout=timeout)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr
    except (IndexError, json.JSONDecodeError):
        return None, result.stdout[-2000:] + result.stderr[-3000:]


IMPORT_PROBE = f"""
    import json, sys, sysconfig, time
    t0 = time.perf_counter()
    import musewidgets
    seconds = time.perf_counter() - t0
    heavy = [m for m in {HEAVY!r} if m in sys.modules]
    site = sysconfig.get_paths()["purelib"]
    print(json.dumps({{"file": musewidgets.__file__, "site": site, "heavy": heavy, "seconds": seconds,
                      "version": musewidgets.__version__}}))
"""

STATIC_PROBE = """
    import importlib, json, pathlib, pkgutil, sysconfig
    import anywidget
    import musewidgets.widgets as widgets
    for m in pkgutil.walk_packages(widgets.__path__, "musewidgets.widgets."):
        importlib.import_module(m.name)
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    static = pathlib.Path(widgets.__file__).parent / "static"
    texts = {p.name: p.read_text(encoding="utf-8") for p in static.iterdir() if p.suffix in (".js", ".css")}
    found = {}
    for cls in subclasses(anywidget.AnyWidget):
        if cls.__module__.startswith("musewidgets."):
            parts = {}
            for trait in ("_esm", "_css"):
                value = cls.__dict__.get(trait, "")
                value = value.read_text(encoding="utf-8") if isinstance(value, pathlib.Path) else value
                parts[trait] = next((name for name, text in texts.items() if text == value), None)
            found[cls.__name__] = parts
    print(json.dumps({"static": str(static), "site": sysconfig.get_paths()["purelib"], "found": found,
                      "files": sorted(texts)}))
"""

KERNEL_PROBE = """
    import json, pathlib
    import jupyter_client
    import musewidgets.widgets as widgets
    static = pathlib.Path(widgets.__file__).parent / "static"
    js = {p.read_text(encoding="utf-8") for p in static.glob("*.js")}
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        msg_id = kc.execute("import musewidgets\\nwb = musewidgets.Workbench()\\nwb")
        shown, anywidgets, errors = [], [], []
        while True:
            msg = kc.get_iopub_msg(timeout=240)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_open" and content.get("target_name") == "jupyter.widget":
                state = content["data"].get("state", {})
                if state.get("_model_module") == "anywidget":
                    anywidgets.append(state.get("_esm") in js)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if kind in ("display_data", "execute_result"):
                shown += list(content["data"])
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps({"shown": shown, "anywidgets": anywidgets, "errors": errors}))
"""


def check_import(fresh: Fresh, version: str, report: Report) -> None:
    got, err = _probe(fresh, IMPORT_PROBE)
    if not report.check(got is not None, "import musewidgets", _tail(err)):
        return
    report.check(
        got["file"].startswith(got["site"]) and got["version"] == version,
        f"musewidgets {got['version']} comes from the environment's site-packages",
        got["file"],
    )
    report.check(
        not got["heavy"],
        f"import musewidgets stays light ({got['seconds'] * 1000:.0f} ms; none of {', '.join(HEAVY[:3])} ...)",
        f"imported at once: {got['heavy']}",
    )


def _cli(fresh: Fresh, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    return _run([fresh.bin / "musewidgets", *args], env=fresh.env(), cwd=fresh.work, timeout=timeout)


_SIGNATURES = {".mid": b"MThd", ".wav": b"RIFF", ".png": b"\x89PNG", ".svg": b"<svg", ".musicxml": b"<score-partwise"}


def _outputs_ok(fresh: Fresh, names: list[str]) -> tuple[bool, str]:
    bad = []
    for name in names:
        path = fresh.work / name
        head = path.read_bytes()[:4096] if path.is_file() else b""
        if _SIGNATURES[path.suffix] not in head:
            bad.append(name)
    return not bad, f"missing or not a {'/'.join(Path(b).suffix for b in bad)} file: {', '.join(bad)}"


def check_cli(fresh: Fresh, report: Report) -> None:
    env = fresh.env()
    cache = Path(env["XDG_CACHE_HOME"])
    t0 = time.perf_counter()
    styles = _cli(fresh, "styles", "--quiet")
    built = sorted(p.name for p in cache.rglob("*.npz")) if cache.exists() else []
    report.check(
        styles.returncode == 0 and len(styles.stdout.strip().splitlines()) >= 4 and not built,
        f"musewidgets styles: the shipped corpus, nothing built ({time.perf_counter() - t0:.1f} s)",
        _tail(styles.stdout + styles.stderr) + (f"\n        built: {built}" if built else ""),
    )
    models = _cli(fresh, "models")
    listed = {line.split()[0] for line in models.stdout.splitlines() if line.strip()}
    report.check(
        models.returncode == 0 and set(SEQUENCE_MODELS) | {"infill"} <= listed,
        f"musewidgets models: {', '.join(sorted(listed))}",
        _tail(models.stdout + models.stderr),
    )
    tune = fresh.work / "tune.abc"
    tune.write_text(TUNE)
    for model in SEQUENCE_MODELS:
        outputs = [f"{model}.mid"] + (
            [f"{model}.{s}" for s in ("wav", "svg", "png", "musicxml")] if model == "lstm" else []
        )
        t0 = time.perf_counter()
        args = ["generate", "--model", model, "--style", "folk", "--bars", "2", "--seed", "1"]
        result = _cli(fresh, *args, *sum((["-o", o] for o in outputs), []))
        ok, why = _outputs_ok(fresh, outputs)
        report.check(
            result.returncode == 0 and ok,
            f"musewidgets generate --model {model} -> {', '.join(outputs)} ({time.perf_counter() - t0:.1f} s)",
            _tail(result.stderr) or why,
        )
    t0 = time.perf_counter()
    result = _cli(fresh, "classify", tune.name)
    found = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    report.check(
        result.returncode == 0 and {"chorale", "folk", "irish", "renaissance"} <= set(found),
        f"musewidgets classify tune.abc: {found[0] if found else '?'} first ({time.perf_counter() - t0:.1f} s)",
        _tail(result.stdout + result.stderr),
    )
    outputs = ["harmonized.mid", "harmonized.musicxml"]
    t0 = time.perf_counter()
    result = _cli(fresh, "harmonize", tune.name, "--seed", "1", "--iterations", "8", "-o", outputs[0], "-o", outputs[1])
    ok, why = _outputs_ok(fresh, outputs)
    report.check(
        result.returncode == 0 and ok,
        f"musewidgets harmonize tune.abc -> {', '.join(outputs)} ({time.perf_counter() - t0:.1f} s)",
        _tail(result.stderr) or why,
    )
    outputs = [f"rendered.{s}" for s in ("wav", "svg", "png", "mid", "musicxml")]
    t0 = time.perf_counter()
    result = _cli(fresh, "render", tune.name, *sum((["-o", o] for o in outputs), []))
    ok, why = _outputs_ok(fresh, outputs)
    report.check(
        result.returncode == 0 and ok,
        f"musewidgets render tune.abc -> {', '.join(outputs)} ({time.perf_counter() - t0:.1f} s)",
        _tail(result.stderr) or why,
    )


def check_front_end(fresh: Fresh, report: Report) -> None:
    got, err = _probe(fresh, STATIC_PROBE)
    if not report.check(got is not None, "the widget modules import", _tail(err)):
        return
    found = got["found"]
    unread = {name: parts for name, parts in found.items() if None in parts.values()}
    used = {file for parts in found.values() for file in parts.values()}
    report.check(
        bool(found) and not unread and got["static"].startswith(got["site"]),
        f"{', '.join(sorted(found))} read _esm and _css from the installed widgets/static",
        f"not read from an installed file: {unread}; static folder {got['static']}",
    )
    report.check(set(got["files"]) <= used, "every file in widgets/static is used", str(set(got["files"]) - used))

    t0 = time.perf_counter()
    got, err = _probe(fresh, KERNEL_PROBE)
    if not report.check(got is not None, "a kernel runs Workbench()", _tail(err)):
        return
    report.check(
        not got["errors"] and "application/vnd.jupyter.widget-view+json" in got["shown"] and all(got["anywidgets"]),
        f"a kernel shows the Workbench as a widget, its {len(got['anywidgets'])} anywidget parts with their JS "
        f"({time.perf_counter() - t0:.1f} s)",
        f"errors {got['errors']}; shown {got['shown']}; anywidgets with the installed JS {got['anywidgets']}",
    )
    report.check(bool(got["anywidgets"]), "the Workbench has anywidget parts", "none opened a comm")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def check_jupyterlab(fresh: Fresh, report: Report) -> None:
    """Start JupyterLab on the loopback address and ask it which front-end extensions it serves."""
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [fresh.bin / "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    cmd += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={fresh.work}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")  # as the Makefile: root, as in containers, needs it
    log = (fresh.base / "jupyterlab.log").open("w")
    t0 = time.perf_counter()
    server = subprocess.Popen([str(c) for c in cmd], env=fresh.env(), cwd=fresh.work, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        status = 0
        while time.perf_counter() - t0 < 90 and server.poll() is None and status != 200:
            time.sleep(0.5)
            status, _ = _get(f"{base}/api/status", token, timeout=5)
        if not report.check(status == 200, f"JupyterLab starts ({time.perf_counter() - t0:.1f} s)", "see log"):
            report.note(_tail((fresh.base / "jupyterlab.log").read_text()))
            return
        status, page = _get(f"{base}/lab", token)
        config = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
        extensions = json.loads(config.group(1))["federated_extensions"] if config else []
        by_name = {e["name"]: e for e in extensions}
        report.check(
            set(WIDGET_FRONT_ENDS) <= set(by_name),
            f"JupyterLab lists {' and '.join(WIDGET_FRONT_ENDS)}",
            f"found {sorted(by_name)}",
        )
        served = {}
        for name in WIDGET_FRONT_ENDS:
            if name in by_name:
                status, body = _get(f"{base}/lab/extensions/{name}/{by_name[name]['load']}", token)
                served[name] = status == 200 and len(body) > 0
        report.check(bool(served) and all(served.values()), "JupyterLab serves their JavaScript", f"served: {served}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def environment_sizes(fresh: Fresh) -> dict[str, int]:
    site = next((fresh.base / "venv" / "lib").glob("python*/site-packages"))
    return {"all": folder_size(fresh.base / "venv"), "torch": folder_size(site / "torch")}


# docs/install.md


def write_doc(path: Path, wheel: Path, sdist: Path, files: list[WheelFile], version: str, env: dict | None) -> None:
    installed = sum(f.size for f in files)
    rows = []
    for folder, group in make_up(files, version).items():
        size, packed = sum(f.size for f in group), sum(f.compressed for f in group)
        what = FOLDERS.get(folder, "")
        label = folder if folder in ("Python code", "dist-info") else f"`{folder}/`"
        rows.append(f"| {label} | {what} | {len(group)} | {_mb(size)} | {_mb(packed)} |")
    largest = [f"| `{f.name}` | {_mb(f.size)} | {_mb(f.compressed)} |" for f in sorted(files, key=lambda f: -f.size)]
    if env:
        environment = (
            f"Measured on {platform.system()} {platform.machine()} with Python {platform.python_version()}: "
            f"a new virtual environment holding the wheel, its dependencies and the CPU build of "
            f"{TORCH} takes {env['all'] / 1e9:.1f} GB on disk (before Python writes its bytecode caches), "
            f"{env['torch'] / 1e9:.1f} GB of it torch's; musewidgets itself is {_mb(installed)}."
        )
    else:
        environment = "(The size of a whole environment is measured when the script installs the wheel.)"
    environment = textwrap.fill(environment, width=118)
    text = f"""# Install

<!-- Written by `python scripts/check_wheel.py --write-doc` from the wheel it builds: change the script, not this page,
and run it again when the package or its data change. -->

musewidgets is one wheel, pure Python, with its models, its corpus and the Workbench's front end inside:

```bash
pip install musewidgets
musewidgets generate --style folk --bars 8 -o tune.wav -o tune.svg   # a take, heard and engraved
jupyter lab                                                          # then, in a notebook:
```

```python
from musewidgets import Workbench
Workbench()
```

It downloads nothing when it runs: the checkpoints, the four corpus styles and the index of similar pieces ship in
the wheel, and so does the Workbench's JavaScript (anywidget, a dependency, loads it into JupyterLab, Jupyter
Notebook 7 and Voila: no extension to enable, nothing to build).

**PyTorch first, if you want it small.** musewidgets needs no GPU. On Linux, pip's default PyTorch is the CUDA
build, several GB; PyTorch's own install instructions give a CPU-only build, much smaller. Install that one first,
then musewidgets, and pip keeps it.

{environment}

Extras: `pip install "musewidgets[app]"` adds Voila, to serve the Workbench as a page for a classroom;
`pip install "musewidgets[fluidsynth]"` adds the second sound backend (it needs the FluidSynth C library too).

Or, from a checkout of the repository (to change musewidgets or run its tests), each of these sets up `.venv/` with
an editable install the first time:

```bash
make lab    # set up and open the workbench notebook in JupyterLab
make test   # set up and run the whole test suite (what CI runs)
```

## What is inside

`{wheel.name}`: **{_mb(wheel.stat().st_size)}** to download, **{_mb(installed)}** installed,
{len(files)} files. (The sdist, `{sdist.name}`, is {_mb(sdist.stat().st_size)}: pyproject.toml, README.md, LICENSE
and the package with its data; the tests, notebooks and docs need the whole repository and stay in it.)

| folder | what | files | installed | in the wheel |
| --- | --- | ---: | ---: | ---: |
{chr(10).join(rows)}

The checkpoints and the corpus are nearly all of it; the largest files:

| file | installed | in the wheel |
| --- | ---: | ---: |
{chr(10).join(largest[:10])}

## How the wheel is checked

`bash .ci/wheel` (that is, `python scripts/check_wheel.py`) builds the sdist and the wheel with `python -m build`,
looks inside both, then installs the wheel alone in a new virtual environment ({TORCH} first, as `make setup`
does) and uses it from outside the checkout, with an empty home folder:

- the sdist holds what builds the wheel and no virtual environment, build output, cache or large stray file; the
  wheel holds only the package and its metadata (no tests, notebooks or docs), with every file git tracks under
  `musewidgets/`;
- `import musewidgets` comes from site-packages and loads none of torch, ipywidgets or music21;
- `musewidgets styles` reads the shipped corpus without building it; `musewidgets models` lists the checkpoints;
- `generate` with each shipped generator, `classify`, `harmonize` and `render` on a small ABC tune write real
  files (MIDI, WAV, SVG, PNG, MusicXML);
- each anywidget class reads its `_esm` and `_css` from the installed `widgets/static/`; a kernel shows the
  Workbench as a widget, and JupyterLab serves the anywidget and ipywidgets front ends.
"""
    path.write_text(text)


# main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-install", action="store_true", help="build and inspect the archives only")
    parser.add_argument("--write-doc", action="store_true", help="write docs/install.md: the wheel's size and make-up")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (archives, venv, outputs)")
    args = parser.parse_args(argv)

    t_start = time.perf_counter()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    report = Report()
    base = Path(tempfile.mkdtemp(prefix="musewidgets-wheel-"))
    print(f"musewidgets {version}: checking the sdist and wheel (working folder {base})")
    try:
        check_all(base, version, args, report)
    finally:
        print(f"\nchecked in {time.perf_counter() - t_start:.0f} s")
        if args.keep:
            print(f"kept {base}")
        else:
            t0 = time.perf_counter()
            shutil.rmtree(base, ignore_errors=True)
            # (slow where the disk is mounted with 'discard': 2.5 min for the environment's 46,000 files here)
            print(f"removed {base} in {time.perf_counter() - t0:.0f} s")
    if report.failed:
        print("failed: " + "; ".join(report.failed))
    print(f"wheel: {report.passed} passed, {len(report.failed)} failed")
    return 1 if report.failed else 0


def check_all(base: Path, version: str, args: argparse.Namespace, report: Report) -> None:
    built = build(base / "dist", report)
    if built is None:
        return
    tracked = _git_files()  # after the build: a file committed meanwhile counts as tracked
    if tracked is None:
        report.note("no git here: the archives are not compared with the tracked files")
    sdist, wheel = built
    check_sdist(sdist, version, tracked, report)
    files = check_wheel(wheel, version, tracked, report)
    print_make_up(files, version)
    env_sizes = None
    if not args.no_install:
        fresh = Fresh(base)
        if install(fresh, wheel, report):
            check_import(fresh, version, report)
            report.section("the command line, from the installed wheel")
            check_cli(fresh, report)
            report.section("JupyterLab and the Workbench")
            check_front_end(fresh, report)
            check_jupyterlab(fresh, report)
            report.section("the environment's size")
            env_sizes = environment_sizes(fresh)
            all_gb, torch_gb = env_sizes["all"] / 1e9, env_sizes["torch"] / 1e9
            print(f"        a new environment with the wheel: {all_gb:.2f} GB, torch {torch_gb:.2f} GB of it")
    if args.write_doc:
        write_doc(ROOT / "docs" / "install.md", wheel, sdist, files, version, env_sizes)
        print(f"\nwrote {(ROOT / 'docs' / 'install.md').relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
