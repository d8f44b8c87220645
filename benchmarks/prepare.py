"""Your own music at scale: preparing a folder of 10,000 MIDI files into a token store, a cached restart of training,
and resident memory while training on a store four times larger than an address-space limit.

Targets (issue 17, on the 2-core reference machine): preparation >= 500 files/s; a cached restart of training (store
built, time to the first step) <= 3 s; memory within a limit set with ``RLIMIT_AS`` (``ulimit -v``) while the store
is 4x that limit.

    python -m benchmarks.prepare            # writes its section of docs/benchmarks.md
    python -m benchmarks.prepare --files 2000 --no-doc   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import machine, table, write_section

STYLES = ("chorale", "folk", "irish", "renaissance")


def _write_batch(job: tuple[str, list[tuple[str, int, int]]]) -> int:
    import warnings

    from musewidgets import io
    from musewidgets.datasets import corpus

    folder, items = job
    warnings.simplefilter("ignore")
    pieces = {s: corpus.load_style(s, progress=False).pieces for s in STYLES}
    for name, n, shift in items:
        style = STYLES[n % len(STYLES)]
        piece = pieces[style][(n // len(STYLES)) % len(pieces[style])]
        ranges_ok = all(0 <= note.pitch + shift <= 127 for part in piece.parts for note in part.notes)
        io.write(piece.transpose(shift) if ranges_ok else piece, Path(folder) / style / name)
    return len(items)


def write_folder(folder: Path, n_files: int, jobs: int = 2) -> float:
    """``n_files`` MIDI files of corpus pieces, transposed by -5..+6 semitones, in one sub-folder per style."""
    for style in STYLES:
        (folder / style).mkdir(parents=True, exist_ok=True)
    items = [(f"{i:06d}.mid", i, (i // 4) % 12 - 5) for i in range(n_files)]
    batches = [(str(folder), items[i::jobs]) for i in range(jobs)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        sum(pool.map(_write_batch, batches))
    return time.perf_counter() - t0


RESTART = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
from musewidgets.training import TrainConfig, Trainer
t1 = time.perf_counter()
import torch._dynamo  # torch.optim imports it at the first optimizer: a one-off cost of torch, timed apart
t2 = time.perf_counter()
cfg = TrainConfig(family="lstm", data=sys.argv[1], store=sys.argv[2], max_steps=1, eval_every=10**9, seq_len=256,
                  batch_size=16, model={"hidden": 128, "layers": 1})
trainer = Trainer(cfg, sys.argv[3])
trainer.show_progress = False
marks = {}
trainer.add_callback("batch_end", lambda e: marks.setdefault("first", time.perf_counter()))
t3 = time.perf_counter()
trainer.open_store()  # what fit() does first: the folder is walked and found unchanged, the store opened
t4 = time.perf_counter()
trainer.fit()
print(json.dumps({"import": t1 - t0, "dynamo": t2 - t1, "data": t4 - t3, "to_first_step": marks["first"] - t3,
                  "reused": trainer.store_report.reused}))
"""

MEMORY = r"""
import json, resource, sys, time
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from musewidgets.training import TrainConfig, Trainer
cfg = TrainConfig(family="lstm", data=sys.argv[1], max_steps=int(sys.argv[4]), eval_every=10**9, seq_len=512,
                  batch_size=32, model={"hidden": 128, "layers": 1})
trainer = Trainer(cfg, sys.argv[2])
trainer.show_progress = False
trainer.n_threads = 1
t0 = time.perf_counter()
result = trainer.fit()
status = open("/proc/self/status").read()
fields = dict(line.split(":", 1) for line in status.splitlines() if line.startswith("Vm"))
print(json.dumps({"steps": result["steps"], "seconds": time.perf_counter() - t0,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "vm_peak_kb": int(fields["VmPeak"].split()[0])}))
"""


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"child failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def big_store(source: Path, target: Path, size: int, shard_bytes: int = 256 * 2**20) -> int:
    """A store of at least ``size`` bytes of tokens: copies of the source store's tokens, each with its pitches moved
    by one more semitone (mod 5) so that the bytes differ, in shards of about ``shard_bytes``, with its index rows
    repeated; returns the bytes written."""
    from musewidgets.codecs.tokens import PITCH0

    target.mkdir(parents=True, exist_ok=True)
    head = json.loads((source / "store.json").read_text())
    with np.load(source / "index.npz") as z:
        index = {k: z[k] for k in z.files}
    tokens = [np.load(source / f"tokens-{i:05d}.npy") for i in range(head["shards"])]
    base = np.cumsum([0] + [len(t) for t in tokens])
    flat = np.concatenate(tokens)
    global_offset = base[index["shard"]] + index["offset"]
    per_shard = max(1, shard_bytes // len(flat))
    copies = -(-size // len(flat))
    parts = {k: [] for k in index}
    shard = 0
    for first in range(0, copies, per_shard):
        group = range(first, min(copies, first + per_shard))
        arrays = []
        for j, c in enumerate(group):
            moved = np.where(flat >= PITCH0, (flat.astype(np.int16) - PITCH0 + c % 5) % 128 + PITCH0, flat)
            arrays.append(moved.astype(np.uint8))
            for k, v in index.items():
                if k == "shard":
                    parts[k].append(np.full_like(v, shard))
                elif k == "offset":
                    parts[k].append(global_offset + j * len(flat))
                else:
                    parts[k].append(v)
        np.save(target / f"tokens-{shard:05d}.npy", np.concatenate(arrays))
        shard += 1
    np.savez(target / "index.npz", **{k: np.concatenate(v) for k, v in parts.items()})
    head["shards"] = shard
    head["report"]["used"] *= copies
    head["report"]["tokens"] *= copies
    (target / "store.json").write_text(json.dumps(head))
    return copies * len(flat)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--limit-mb", type=int, default=1536, help="the address-space limit of the memory run")
    parser.add_argument("--steps", type=int, default=50, help="training steps of the memory run")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    from musewidgets.datasets.preparation import prepare

    root = Path(tempfile.mkdtemp(prefix="mw-prepare-bench-"))
    try:
        folder = root / "music"
        write_s = write_folder(folder, args.files)
        rows, rates = [], {}
        for jobs in (1, 2):
            store = root / f"store-{jobs}"
            t0 = time.perf_counter()
            report = prepare(folder, store, jobs=jobs, progress=False, style_name="bench")
            seconds = time.perf_counter() - t0
            rates[jobs] = args.files / seconds
            rows.append([jobs, f"{seconds:.1f}", f"{rates[jobs]:,.0f}", report.used, report.fallbacks])
        t0 = time.perf_counter()
        again = prepare(folder, root / "store-2", jobs=2, progress=False, style_name="bench")
        reuse_s = time.perf_counter() - t0
        restart = _child(RESTART, str(folder), str(root / "store-2"), str(root / "run-restart"))
        limit = args.limit_mb * 2**20
        big = root / "big"
        big_bytes = big_store(root / "store-2", big, 4 * limit)
        memory = _child(MEMORY, str(big), str(root / "run-memory"), str(limit), str(args.steps))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    prep_ok = rates[2] >= 500
    restart_s = restart["to_first_step"]
    restart_ok = restart_s <= 3.0
    rss_mb = memory["peak_rss_kb"] / 1024
    mem_ok = memory["vm_peak_kb"] * 1024 <= limit
    md = "\n".join(
        [
            "## Your own music: preparing and training from a token store",
            "",
            f"`python -m benchmarks.prepare` on {machine()}. {args.files:,} MIDI files of corpus pieces (the four "
            f"styles in turn, transposed by -5..+6 semitones; written in {write_s:.0f} s by `musewidgets.io.write`) "
            "are prepared into a token store by `musewidgets.datasets.preparation.prepare` (symusic for MIDI; "
            "`fallbacks`: files handed to `musewidgets.io.read`). `used` counts the pieces of the most common voice "
            "count (1: folk and irish); the 4-voice files are read and skipped as `wrong voice count`.",
            "",
            table(["processes", "seconds", "files/s", "used", "fallbacks"], [r for r in rows]),
            "",
            table(
                ["measure", "figure", "target", "met"],
                [
                    [
                        "preparation, 2 processes",
                        f"{rates[2]:,.0f} files/s",
                        ">= 500 files/s",
                        "yes" if prep_ok else "no",
                    ],
                    ["second `prepare` of the unchanged folder (store reused)", f"{reuse_s:.2f} s", "", ""],
                    [
                        "cached restart: the store found unchanged and opened (folder walked, index read)",
                        f"{restart['data']:.2f} s",
                        "",
                        "",
                    ],
                    [
                        "cached restart: from `Trainer.fit()` to the first training step (store built)",
                        f"{restart_s:.2f} s (besides {restart['import']:.1f} s importing musewidgets and torch, and "
                        f"{restart['dynamo']:.1f} s of torch importing `torch._dynamo` for its first optimizer)",
                        "<= 3 s",
                        "yes" if restart_ok else "no",
                    ],
                    [
                        f"training {memory['steps']} steps (lstm, batch 32 x 512) on a {big_bytes / 2**30:.1f} GiB "
                        f"store under `RLIMIT_AS` = {limit / 2**30:.1f} GiB",
                        f"peak RSS {rss_mb:,.0f} MiB, peak address space {memory['vm_peak_kb'] / 2**20:.2f} GiB",
                        "within the limit",
                        "yes" if mem_ok else "no",
                    ],
                ],
            ),
            "",
            "Training reads its windows from the shards with positioned reads (`os.pread`), so neither the resident "
            "memory nor the address space grows with the store; the page cache holds what is read often. "
            f"(`again.reused`: {again.reused}.)",
        ]
    )
    if not args.no_doc:
        write_section("prepare", md)
    return {"markdown": md}


if __name__ == "__main__":
    print(main()["markdown"])
