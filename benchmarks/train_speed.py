"""Training throughput: tokens per second of the LSTM and the transformer (their shipped sizes and default batches)
on the corpus styles, on the CPU here and, where one is lent, on a GPU in float32 and in bfloat16.

``python -m benchmarks.train_speed`` measures on this machine and rewrites the "train_speed" section of
docs/benchmarks.md; ``--json FILE`` writes the rows too, and ``--merge FILE`` adds the rows of another machine's run
(the GPU's) to the table. Each row: the median of the tokens/s the trainer reports per step (its ``batch_end``
events), after ``WARMUP`` untimed steps; training stops by steps. On the CPU the trainer's own thread choice is used
(half the cores: :func:`musewidgets.threads.training_threads`).

``python -m benchmarks.train_speed --processes`` measures instead, on the CPU, one training process against two
under ``torchrun`` (DistributedDataParallel over gloo, the same global batch), each run in a fresh process, and
rewrites the "train_speed_processes" section.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile

from benchmarks.common import machine, table, write_section

WARMUP = 5
FAMILIES = ("lstm", "transformer")


def measure(family: str, device: str, precision: str, steps: int, threads: int | None = None) -> dict:
    import torch

    from musewidgets.training import DEFAULTS, TrainConfig, Trainer

    cfg = TrainConfig(
        family=family,
        styles=("chorale", "folk", "irish", "renaissance"),
        max_steps=WARMUP + steps,
        eval_every=10**6,  # no validation inside the timed steps
        minutes=math.inf,
        device=device,
        precision=precision,
    )
    trainer = Trainer(cfg, tempfile.mkdtemp())
    trainer.n_threads = threads  # None: the trainer's own choice
    rates = []
    trainer.add_callback("batch_end", lambda e: rates.append(e["tokens_per_s"]))
    trainer.fit()
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"{platform.processor() or 'CPU'}"
    return {
        "family": family,
        "device": device,
        "device_name": name,
        "precision": "fp32" if device == "cpu" else precision,
        "threads": trainer.threads() if device == "cpu" else None,
        "batch": f"{DEFAULTS[family]['batch_size']} x {cfg.seq_len}",
        "tokens_per_s": statistics.median(rates[WARMUP:]) if rates else None,  # under torchrun: process 0 only
        "steps": len(rates) - WARMUP,
        "machine": machine(),
    }


PROCESS_RUNS = (  # (processes, torch threads each)
    (1, 1),
    (1, 2),
    (2, 1),
)


def _worker(out: str, family: str, steps: int, threads: int | None) -> None:
    """One measurement in this process (under torchrun: one of its processes); process 0 writes the row."""
    row = measure(family, "cpu", "fp32", steps, threads)
    if int(os.environ.get("RANK", "0")) == 0:
        row["processes"] = int(os.environ.get("WORLD_SIZE", "1"))
        with open(out, "w") as f:
            json.dump(row, f)


def processes(steps: int) -> dict:
    """Tokens/s of one process against two (torchrun, gloo) on this machine's CPU, each in a fresh process."""
    rows = []
    for family in FAMILIES:
        for n, threads in PROCESS_RUNS:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "row.json")
                worker = ["-m", "benchmarks.train_speed", "--worker", out, "--family", family, "--steps", str(steps)]
                worker += ["--threads", str(threads)] if n == 1 else []  # torchrun: cores / processes each
                launch = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)] if n > 1 else []
                subprocess.run([sys.executable, *launch, *worker], check=True)
                with open(out) as f:
                    rows.append(json.load(f))
    base = {r["family"]: r["tokens_per_s"] for r in rows if (r["processes"], r["threads"]) == (1, 1)}
    shown = [
        [
            r["family"],
            str(r["processes"]),
            str(r["threads"]),
            f"{r['tokens_per_s']:,.0f}",
            f"{r['tokens_per_s'] / base[r['family']]:.2f}x",
        ]
        for r in rows
    ]
    md = "\n\n".join(
        [
            "## Training throughput: one process or two on the CPU",
            "`python -m benchmarks.train_speed --processes` on "
            f"{machine()}: the shipped sizes and default batch (global: two processes learn from 16 rows each), "
            "all four corpus styles, median tokens/s per step after 5 untimed steps, each run in a fresh process; "
            "two processes run under `torchrun --standalone --nproc_per_node 2` (DistributedDataParallel over gloo, "
            "one torch thread each, as the trainer chooses under torchrun). The default is one process on half the "
            "cores (here 1 thread).",
            table(["model", "processes", "threads each", "tokens/s", "vs 1 x 1"], shown),
        ]
    )
    return {"markdown": md, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on the CPU, 200 on a GPU)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--merge", action="append", default=[], help="rows of another machine's run to add")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--processes", action="store_true", help="one CPU process against two under torchrun")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure here, write the row to this file
    parser.add_argument("--family", default="lstm", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        _worker(args.worker, args.family, args.steps or 20, args.threads)
        return {"markdown": "", "rows": []}
    if args.processes:
        result = processes(args.steps or 20)
        if not args.no_doc:
            write_section("train_speed_processes", result["markdown"])
        return result
    cuda = torch.cuda.is_available()
    runs = [("cuda", p) for p in ("fp32", "bf16")] if cuda else [("cpu", "fp32")]  # "auto" is fp32
    steps = args.steps or (200 if cuda else 20)
    rows = [measure(f, d, p, steps) for f in FAMILIES for d, p in runs]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    for path in args.merge:
        with open(path) as f:
            rows += json.load(f)
    cpu = {r["family"]: r["tokens_per_s"] for r in rows if r["device"] == "cpu"}
    shown = [
        [
            r["family"],
            r["device_name"] if r["device"] == "cuda" else f"CPU, {r['threads']} thread(s)",
            r["precision"],
            r["batch"],
            f"{r['tokens_per_s']:,.0f}",
            f"{r['tokens_per_s'] / cpu[r['family']]:.0f}x" if r["family"] in cpu else "",
        ]
        for r in rows
    ]
    md = "\n\n".join(
        [
            "## Training throughput",
            "`python -m benchmarks.train_speed` (the GPU rows: the same script on a lent GPU machine, merged with "
            f"`--merge`). CPU rows on {machine()}. The shipped sizes (LSTM 2 x 256, transformer 4 x 192) and "
            "default batches, all four corpus styles; median tokens/s per step after 5 untimed steps. bf16: "
            "`TrainConfig(precision='bf16')` (bfloat16 autocast; weights and checkpoints stay float32): slower than "
            "float32 at these sizes on the H200, so `auto` trains in float32.",
            table(["model", "device", "precision", "batch", "tokens/s", "vs CPU"], shown),
        ]
    )
    if not args.no_doc:
        write_section("train_speed", md)
    return {"markdown": md, "rows": rows}


if __name__ == "__main__":
    import sys

    print(main(sys.argv[1:])["markdown"])
