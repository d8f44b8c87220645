"""The project's front door: dependency lists agree, the import stays light, the README's commands exist."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name
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
