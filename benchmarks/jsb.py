"""JSB Chorales: frame NLL of the shipped benchmark models beside the published results, and their training cost.

Run: ``python -m benchmarks.jsb [PATH]`` (under a minute; PATH defaults to ``bench.find_jsb()``). It evaluates the
checkpoints in ``musewidgets/data/bench/jsb``; their training time and machine come from the model cards.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.common import machine, table, write_section
from musewidgets import bench
from musewidgets.frames import load_frame_dataset


def main(path=None) -> dict:
    path = path or bench.find_jsb()
    if path is None:
        raise SystemExit("JSB_Chorales.mat not found: pass its path or set MUSEWIDGETS_JSB")
    data = load_frame_dataset(path)
    t0 = time.perf_counter()
    rows = bench.evaluate(data)
    seconds = time.perf_counter() - t0
    ours = []
    for r in rows:
        card = json.loads((bench.BENCH_DIR / f"{r['name']}.json").read_text())
        ours.append(
            [
                f"**musewidgets {r['name']}**",
                f"**{r['test_nll']:.2f}**",
                f"{r['valid_nll']:.2f}",
                f"{r['params']:,}",
                f"{card['train_seconds'] / 60:.1f} min, {card['steps']} steps on {card['machine']}",
            ]
        )
    published = [[f"{name} ({source})", f"{nll:.2f}", "", "", ""] for name, nll, source in bench.PUBLISHED]
    md = "\n\n".join(
        [
            "## Quality: JSB Chorales frame NLL",
            f"`python -m benchmarks.jsb` on {machine()}; evaluation of both models on valid and test took "
            f"{seconds:.1f} s.",
            f"{data.summary()}. NLL per frame in nats (summed over the 88 keys, averaged over every frame of the "
            "split, the first frame of each piece included; lower is better). Models selected on valid; the test "
            "split is read only for this report. Train again with `musewidgets bench jsb --train`.",
            table(["model", "test NLL", "valid NLL", "parameters", "training"], ours + published),
        ]
    )
    write_section("jsb", md)
    summary_rows = [
        [
            f"JSB Chorales test NLL, {r['name']}",
            f"{r['test_nll']:.2f} nats/frame",
            "8.67 (LSTM)" if r["family"] == "frame_bernoulli" else "5.56 (RNN-NADE)",
            "published",
        ]
        for r in rows
    ]
    return {"markdown": md, "summary": summary_rows}


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else None)["markdown"])
