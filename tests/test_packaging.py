"""The project's front door: dependency lists agree, the import stays light, the README's commands exist."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch", "python-build": "build"}  # conda-forge name -> PyPI name
SYSTEM_LIBRARIES = {"fluidsynth"}  # conda packages with no PyPI counterpart


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0]
    return CONDA_NAMES.get(name.lower(), name.lower()).replace("_", "-")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = {_name(r) for r in meta["dependencies"] + sum(meta["optional-dependencies"].values(), [])}
    conda_side = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) not in {"python", "pip"} and not line.rstrip().endswith(":"):
            conda_side.add(_name(m.group(1)))
    conda_side -= SYSTEM_LIBRARIES
    assert pip_side == conda_side, (
        f"pyproject only: {pip_side - conda_side}; environment.yml only: {conda_side - pip_side}"
    )


def test_import_is_light():
    code = (
        "import sys, musewidgets; "
        "heavy = [m for m in ('torch', 'ipywidgets', 'music21', 'matplotlib', 'verovio', 'pretty_midi') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_lazy_names_resolve():
    import musewidgets

    for name in musewidgets.__all__:
        assert getattr(musewidgets, name) is not None


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2, commands
    test_command = commands[1].split("#")[0].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for command in commands:
        target = command.split("#")[0].split()[-1]
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no target {target!r}"


def test_packaged_corpus_ships_in_the_wheel():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "data/corpus/*.npz" in meta["tool"]["setuptools"]["package-data"]["musewidgets"]
    files = sorted(p.name for p in (ROOT / "musewidgets" / "data" / "corpus").glob("*.npz"))
    assert files == ["chorale.npz", "folk.npz", "irish.npz", "renaissance.npz"]


def test_every_data_file_matches_a_package_data_pattern():
    """Checkpoints, cards and corpus must reach a non-editable install too, not only this checkout."""
    package = ROOT / "musewidgets"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["musewidgets"]
    covered = {p for pattern in patterns for p in package.glob(pattern)}
    shipped = {p for p in (package / "data").rglob("*") if p.is_file() and not p.name.startswith(".")}
    shipped = {p for p in shipped if "__pycache__" not in p.parts and not p.name.endswith(".last.pt")}
    assert shipped - covered == set()
    assert any(p.suffix == ".pt" for p in covered)


def test_notebooks_are_small_saved_with_outputs_and_linked_from_the_readme():
    import json

    readme = (ROOT / "README.md").read_text()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [p.stem[:2] for p in notebooks] == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]
    for path in notebooks:
        assert path.stat().st_size < 2_000_000, path.name
        nb = json.loads(path.read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert outputs and not any(o["output_type"] == "error" for o in outputs), path.name
        assert "widgets" not in nb["metadata"], f"{path.name} carries saved widget state"
        assert f"notebooks/{path.name}" in readme


def _shipped_files(package: Path) -> set[str]:
    """The files under ``package``'s data and static folders that a user's install needs, relative to ``package``."""
    found = set()
    for folder in (package / "data", package / "widgets" / "static"):
        for p in folder.rglob("*"):
            if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts:
                if not p.name.endswith(".last.pt"):
                    found.add(p.relative_to(package).as_posix())
    return found


def test_the_wheel_and_sdist_hold_the_shipped_files_the_licence_and_no_training_leftovers(tmp_path):
    """The real pyproject.toml and MANIFEST.in, built by setuptools over a skeleton of the package (each shipped data
    and static file as one byte), offline: everything shipped is in the wheel with the licence; a training run's
    resume file left beside a checkpoint is in neither archive; the sdist has no tests/ (they need the repository)."""
    import tarfile
    import zipfile

    pytest.importorskip("setuptools", minversion="77")  # pyproject's build backend: license-files needs 77
    package = ROOT / "musewidgets"
    shipped = _shipped_files(package)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    for relative in shipped | {"__init__.py", "widgets/__init__.py", "data/models/lstm.last.pt"}:
        (tmp_path / "musewidgets" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "musewidgets" / relative).write_bytes(b"x")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_piece.py").write_text("")
    code = "from setuptools import build_meta as b; b.build_wheel('dist'); b.build_sdist('dist')"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel_path,), (sdist_path,) = (list((tmp_path / "dist").glob(p)) for p in ("*.whl", "*.tar.gz"))

    wheel = set(zipfile.ZipFile(wheel_path).namelist())
    in_package = {n.removeprefix("musewidgets/") for n in wheel if n.startswith("musewidgets/")}
    assert shipped - in_package == set()
    assert "data/models/lstm.last.pt" not in in_package
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel)

    with tarfile.open(sdist_path) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    assert {"LICENSE", "pyproject.toml", "README.md"} <= members
    assert "musewidgets/data/models/lstm.last.pt" not in members
    assert not any(m.startswith("tests/") for m in members)
