"""JSB Chorales: frame NLL of the shipped benchmark models beside the published results, and their training cost.

Run: ``python -m benchmarks.jsb [PATH]`` (about a minute; PATH defaults to ``bench.find_jsb()``). It evaluates the
checkpoints in ``musewidgets/data/bench/jsb``; their training budget, time and machine come from the model cards. It
also times training steps of each benchmark model from scratch on one torch thread (frames/s, the frames the model
learns from per second of wall time, padding excluded), the throughput that a step budget turns into minutes.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.common import machine, replace_summary_rows, table, write_section
from musewidgets.datasets.frames import load_frame_dataset
from musewidgets.evaluation import bench

# lstm_notewise's training speed before steps became batches of frames (issue 14): a step was 16 whole pieces drawn at
# random, padded to the longest, and the within-frame stage ran on the padding too. One thread on the 2-core reference
# machine with another process busy, measured 2026-11-30 back to back with the code after the change (3,250 frames/s).
PREVIOUS_FRAMES_PER_S = {"lstm_notewise": 1900}
TIMED_STEPS = 40


def step_throughput(data, model: bench.BenchModel, steps: int = TIMED_STEPS, warmup: int = 5) -> float:
    """Training frames per second of ``model`` from scratch on ``data``, one torch thread, validation excluded."""
    import tempfile

    from musewidgets.training.frames import FrameTrainer

    config = bench._train_config(model, steps=warmup + steps)
    config.eval_every = 10**9
    ticks = []
    with tempfile.TemporaryDirectory() as out:
        trainer = FrameTrainer(config, data, out, name=model.name, batch_frames=model.batch_frames)
        trainer.n_threads = 1
        trainer.add_callback("batch_end", lambda e: ticks.append((time.perf_counter(), e["frames"])))
        trainer.fit()
    frames = sum(f for _, f in ticks[warmup + 1 :])
    return frames / (ticks[-1][0] - ticks[warmup][0])


def main(path=None) -> dict:
    path = path or bench.find_jsb()
    if path is None:
        raise SystemExit("JSB_Chorales.mat not found: pass its path or set MUSEWIDGETS_JSB")
    data = load_frame_dataset(path)
    t0 = time.perf_counter()
    rows = bench.evaluate(data)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    mixed = bench.evaluate(data, shifts=bench.MIXTURE_SHIFTS)
    mixed_seconds = time.perf_counter() - t0
    readings = 2 * bench.MIXTURE_SHIFTS + 1
    speed = {r["name"]: step_throughput(data, bench.MODELS[r["name"]]) for r in rows}
    ours = []
    for r in rows:
        card = json.loads((bench.BENCH_DIR / f"{r['name']}.json").read_text())
        frames = (
            f", {card['frames'] / 1e6:.1f}M frames, {card['frames_per_s']:,} frames/s" if card.get("frames") else ""
        )
        threads = f" on {card['threads']} thread(s)" if card.get("threads") else ""
        ours.append(
            [
                f"**musewidgets {r['name']}**",
                f"**{r['test_nll']:.2f}**",
                f"{r['valid_nll']:.2f}",
                f"{r['params']:,}",
                f"{card['steps']} steps{frames}, {card['train_seconds'] / 60:.1f} min{threads}; {card['machine']}",
                f"{speed[r['name']]:,.0f}",
            ]
        )
    ours += [
        [
            f"**musewidgets {r['name']}, mixed over {readings} transpositions**",
            f"**{r['test_nll']:.2f}**",
            f"{r['valid_nll']:.2f}",
            f"{r['params']:,}",
            "the same checkpoint",
            "",
        ]
        for r in mixed
    ]
    published = [[f"{name} ({source})", f"{nll:.2f}", "", "", "", ""] for name, nll, source in bench.PUBLISHED]
    md = "\n\n".join(
        [
            "## Quality: JSB Chorales frame NLL",
            f"`python -m benchmarks.jsb` on {machine()}; evaluation of both models on valid and test took "
            f"{seconds:.1f} s, and {mixed_seconds:.1f} s mixed over {readings} transpositions.",
            f"{data.summary()}. NLL per frame in nats (summed over the 88 keys, averaged over every frame of the "
            "split, the first frame of each piece included; lower is better). Models selected on valid; the test "
            "split is read only for this report. Train again with `musewidgets bench jsb --train`: each model trains "
            "for a fixed number of optimizer steps (a step is a batch of about a thousand frames, padding included, "
            "windows of similar length together), so the result does not depend on the machine's speed or load; "
            "`--minutes` trains for wall-clock time instead. The training column is the shipped run's (frames/s "
            "there counts validation time too); lstm_notewise was trained with `--threads 2`, the whole quiet "
            "2-core machine. Its within-frame stage is 384 wide, chosen by the sweep in the next section.",
            f"The mixed rows score the same checkpoints reading each piece transposed by -{bench.MIXTURE_SHIFTS}.."
            f"{bench.MIXTURE_SHIFTS} keys (the model told each shift, as in training) and give each frame the mean "
            f"of the {readings} probabilities (`musewidgets bench jsb --shifts {bench.MIXTURE_SHIFTS}`); a reading "
            "that pushes a frame's notes off the keyboard gives it 0, so the figure can only be pessimistic. It is "
            "a test-time ensemble of one network; the published figures and our first rows are one reading.",
            f"Training speed measured now (last column): frames the model learns from per second, one torch thread, "
            f"{TIMED_STEPS} steps from scratch after a warm-up, validation excluded; it turns a step budget into "
            "minutes on this machine. "
            + " ".join(
                f"{name}, with a within-frame stage 128 wide, trained at {before:,} frames/s on the reference "
                "machine when a step was 16 whole pieces padded to the longest and the within-frame stage ran on the "
                "padding too (3,250 frames/s after that change, at the same width)."
                for name, before in PREVIOUS_FRAMES_PER_S.items()
            ),
            table(
                ["model", "test NLL", "valid NLL", "parameters", "training (shipped run)", "frames/s now (1 thread)"],
                ours + published,
            ),
        ]
    )
    write_section("jsb", md)
    summary_rows = [
        [
            f"JSB Chorales test NLL, {r['name']}{label}",
            f"{r['test_nll']:.2f} nats/frame",
            "8.67 (LSTM)" if r["family"] == "frame_bernoulli" else "5.56 (RNN-NADE)",
            "published",
        ]
        for results, label in ((rows, ""), (mixed, f", mixed over {readings} transpositions"))
        for r in results
    ]
    return {"markdown": md, "summary": summary_rows}


if __name__ == "__main__":
    result = main(sys.argv[1] if len(sys.argv) > 1 else None)
    replace_summary_rows("JSB Chorales test NLL", result["summary"])  # `python -m benchmarks` rewrites the summary
    print(result["markdown"])
