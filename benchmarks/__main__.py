"""``python -m benchmarks``: run every benchmark, rewrite docs/benchmarks.md, and put a summary table on top."""

from benchmarks import compose, editor, jsb, listening, models, prepare, see_and_hear, startup, workbench
from benchmarks.common import machine, table, write_section

rows = []
for module in (workbench, models, see_and_hear, startup, jsb, listening, compose, editor, prepare):
    result = module.main()
    print(result["markdown"], "\n")
    rows += result.get("summary", [])
imports, peak = startup.LAST["imports_ms"], startup.LAST["peak_mib"]
rows += [
    [
        "`import musewidgets`",
        f"{imports['import musewidgets']:.0f} ms",
        f"{imports['import torch']:.0f} ms",
        "`import torch`",
    ],
    [
        "peak memory, one Workbench take",
        f"{peak['take']:.0f} MiB",
        f"{peak['floor']:.0f} MiB",
        "importing what a take needs",
    ],
]
md = "\n\n".join(
    [
        "## Summary",
        f"Measured side by side in one run of `python -m benchmarks` on {machine()}. Details and method in the "
        "sections below.",
        table(["what", "musewidgets", "baseline", "baseline is"], rows),
    ]
)
write_section("summary", md, first=True)
print(md)
