"""``make lab`` opens a copy of the quickstart tutorial: JupyterLab autosaved the tracked notebook, so a newcomer's
``git status`` showed it modified after the first look (issue 33)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_lab_opens_a_copy_in_an_ignored_folder_never_the_tracked_tutorial():
    steps = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    [opened] = [line.split()[-1] for line in steps.splitlines() if "jupyter lab" in line]
    assert opened == ".lab/01_quickstart.ipynb"
    copy = [line for line in steps.splitlines() if line.startswith("test -e")]
    assert copy == ["test -e .lab/01_quickstart.ipynb || cp notebooks/01_quickstart.ipynb .lab/"]  # kept once made
    if (ROOT / ".git").exists() and shutil.which("git"):
        ignored = subprocess.run(["git", "check-ignore", "-q", opened], cwd=ROOT)
        assert ignored.returncode == 0, f"{opened} is not ignored by git"
