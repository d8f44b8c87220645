"""docs/benchmarks.md is assembled from sections: each script replaces its own, the summary sits on top."""

from benchmarks.common import HEADER, summary, table, write_section


def test_sections_are_replaced_in_place_and_the_summary_goes_first(tmp_path):
    doc = tmp_path / "benchmarks.md"
    write_section("a", "## A\n\nold", doc=doc)
    write_section("b", "## B", doc=doc)
    write_section("a", "## A\n\nnew", doc=doc)
    write_section("summary", "## Summary", doc=doc, first=True)
    text = doc.read_text()
    assert text.startswith(HEADER)
    assert text.index("## Summary") < text.index("## A") < text.index("## B")
    assert "new" in text and "old" not in text and text.count("<!-- begin a -->") == 1


def test_summary_and_table():
    s = summary([0.003, 0.001, 0.002, 0.010])
    assert s["median"] == 2.5 and s["min"] == 1.0 and s["max"] == 10.0 and s["n"] == 4
    assert table(["x", "y"], [[1, 2]]).splitlines() == ["| x | y |", "| --- | --- |", "| 1 | 2 |"]
