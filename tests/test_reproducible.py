"""The same seed and settings give the same MIDI bytes in fresh processes with different thread counts (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import hashlib, json, torch
torch.set_num_threads({threads})
from musewidgets import export
from musewidgets.sampling import load_sampler
out = {{}}
for family in ("rnn", "lstm", "transformer", "gan"):
    [take] = load_sampler(family).generate(style="chorale", bars=2, seed=7, temperature=0.9)
    out[family] = hashlib.sha256(export.to_bytes(take, ".mid")).hexdigest()
[tune] = load_sampler("lstm").generate(style="folk", bars=4, seed=7, key="E minor", metre="6/8")
out["lstm folk E minor 6/8"] = hashlib.sha256(export.to_bytes(tune, ".mid")).hexdigest()
print(json.dumps(out))
"""


def _hashes(threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(threads=threads)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_family_gives_the_same_bytes_in_two_processes_and_thread_counts():
    one, two = _hashes(1), _hashes(2)
    assert set(one) == {"rnn", "lstm", "transformer", "gan", "lstm folk E minor 6/8"}
    assert one == two
    assert len(set(one.values())) == len(one)  # and the takes differ from each other
