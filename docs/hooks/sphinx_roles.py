"""A griffe extension for the API reference: the docstrings' reStructuredText bits, shown as Markdown.

The docstrings are numpydoc, written for a reader of the source: ``:func:`read```, ``:class:`~musewidgets.piece.Piece```
and simple tables (two lines of ``====  ====`` around rows). mkdocstrings reads docstrings as Markdown, so here a role
becomes the code it names (``~a.b.C`` shows ``C``, as in Sphinx) and a simple table a list of its rows. Nothing in the
package changes; only the site's pages do.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)\.?([^`]+)`")
BORDER = re.compile(r"^(\s*)(=+)((?:\s+=+)+)\s*$")


def _role(match: re.Match) -> str:
    target = match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def _tables(text: str) -> str:
    """Each reST simple table (border, rows, border) as a Markdown list: ``- first column: the rest``."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        border = BORDER.match(lines[i])
        end = next((j for j in range(i + 1, len(lines)) if BORDER.match(lines[j])), None) if border else None
        if border is None or end is None:
            out.append(lines[i])
            i += 1
            continue
        indent, width = border.group(1), len(border.group(1)) + len(border.group(2))
        rows: list[list[str]] = []
        for row in lines[i + 1 : end]:
            first, rest = row[:width].strip(), row[width:].strip()
            if first or not rows:
                rows.append([first, rest])
            else:  # a continuation line: the first column is blank
                rows[-1][1] = f"{rows[-1][1]} {rest}".strip()
        out.append("")
        out.extend(f"{indent}- {first}: {rest}" if rest else f"{indent}- {first}" for first, rest in rows)
        out.append("")
        i = end + 1
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite each object's docstring once, when griffe creates the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _tables(ROLE.sub(_role, obj.docstring.value))
