"""The README stays a short guide whose links lead somewhere; the docs name only example files that ship.

The site itself is built strictly by ``.ci/docs`` (MkDocs fails on a broken link there); these checks need no MkDocs.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) and ![alt](target "title")


def _relative_links(text: str) -> list[str]:
    targets = [m.group(1) for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def test_readme_is_a_short_guide():
    lines = README.read_text().splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move the detail into docs/"


def test_every_relative_link_in_the_readme_points_to_a_file_that_exists():
    links = _relative_links(README.read_text())
    assert links, "no relative links found: has the link pattern stopped matching?"
    missing = [t for t in links if not (ROOT / t.split("#", 1)[0]).exists()]
    assert missing == []


def test_the_readme_shows_how_to_run_the_command_line():
    text = README.read_text()
    assert ".venv/bin/musewidgets" in text and "source .venv/bin/activate" in text


def test_example_files_named_in_the_readme_and_docs_ship():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    named = {m.group(0) for page in pages for m in re.finditer(r"examples/[\w.-]+\.\w+", page.read_text())}
    assert "examples/song.abc" in named
    assert sorted(p for p in named if not (ROOT / p).is_file()) == []


def test_link_pattern():
    text = '[a](docs/x.md#y) ![b](docs/p.png "t") [c](https://e.org) [d](#top) [e](mailto:a@b.c)'
    assert _relative_links(text) == ["docs/x.md#y", "docs/p.png"]
