"""Seeded takes of every shipped model and style, and of harmonize and regenerate, pinned by the sha256 of their MIDI
bytes (tests/data/pinned_takes.json): a change that should not change the music (a move, a split, a rename) must
leave every one of them byte for byte as it was.

A change that is meant to change the music rewrites the file, and its commit says why:
``python -m tests.test_pinned_takes --write``. The file names the torch build and CPU kernels it was made with: float
sums run in another order elsewhere, so on another machine the test is skipped, not failed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import pytest

PINNED = Path(__file__).parent / "data" / "pinned_takes.json"
FAMILIES = ("rnn", "lstm", "transformer", "gan")
STYLES = ("chorale", "folk", "irish", "renaissance")
MELODY = "X:1\nM:4/4\nL:1/4\nK:G\nG A B G | c B A2 | B c d B | A G G2 |]\n"


def _machine() -> dict[str, str]:
    import torch

    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability()}


def _digest(piece) -> str:
    from musewidgets.export import to_bytes

    return hashlib.sha256(to_bytes(piece, ".mid")).hexdigest()


def takes() -> dict[str, str]:
    """Every pinned take's name and digest, made afresh."""
    from musewidgets.sampling import harmonize, infill, load_sampler
    from musewidgets.sampling.infill import regenerate

    out = {}
    samplers = {family: load_sampler(family) for family in FAMILIES}
    for family, sampler in samplers.items():
        for style in STYLES:
            [take] = sampler.generate(style=style, bars=4, seed=11, temperature=0.9)
            out[f"{family} {style}"] = _digest(take)
    lstm, gan = samplers["lstm"], samplers["gan"]
    variants = {
        "lstm chorale D minor": (lstm, dict(style="chorale", key="D minor")),
        "lstm irish unguided": (lstm, dict(style="irish", guide=False)),
        "lstm chorale strict": (lstm, dict(style="chorale", strict=True)),
        "lstm irish keep going": (lstm, dict(style="irish", ending=False)),
        "lstm folk greedy": (lstm, dict(style="folk", temperature=0.0)),
        "lstm folk top-k top-p 6/8": (lstm, dict(style="folk", top_k=8, top_p=0.9, metre="6/8")),
        "lstm renaissance 3 candidates": (lstm, dict(style="renaissance", n=3)),
        "lstm chorale 9 bars": (lstm, dict(style="chorale", bars=9)),
        "transformer folk E minor": (samplers["transformer"], dict(style="folk", key="E minor")),
        "gan renaissance F major": (gan, dict(style="renaissance", key="F major")),
        "gan chorale unguided": (gan, dict(style="chorale", guide=False)),
    }
    for name, (sampler, settings) in variants.items():
        pieces = sampler.generate(**{"bars": 4, "seed": 5, "temperature": 0.9, **settings})
        for i, piece in enumerate(pieces):
            out[name + (f" #{i}" if len(pieces) > 1 else "")] = _digest(piece)
    [primer] = lstm.generate(style="chorale", bars=2, seed=3)
    [continued] = lstm.generate(style="chorale", bars=3, seed=4, primer=primer)
    out["lstm chorale continued"] = _digest(continued)
    [primer] = gan.generate(style="folk", bars=2, seed=3)
    [continued] = gan.generate(style="folk", bars=2, seed=4, primer=primer)
    out["gan folk continued"] = _digest(continued)
    melody = _read_abc(MELODY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["harmonize chorale"] = _digest(harmonize(melody, style="chorale", seed=2))
        out["harmonize renaissance unguided"] = _digest(harmonize(melody, style="renaissance", seed=2, guide=False))
        out["harmonize chorale lstm, its own cadence"] = _digest(
            harmonize(melody, style="chorale", seed=2, model="lstm", finish=None)
        )
        out["harmonize chorale, infill alone"] = _digest(infill.harmonize(melody, style="chorale", seed=2))
        out["harmonize renaissance unguided, infill alone"] = _digest(
            infill.harmonize(melody, style="renaissance", seed=2, guide=False)
        )
        [take] = lstm.generate(style="chorale", bars=4, seed=8)
        out["regenerate bars 2-3 alto tenor"] = _digest(regenerate(take, bars=(1, 3), voices=[1, 2], seed=6))
        out["regenerate all of bar 4"] = _digest(regenerate(take, bars=(3, 4), seed=6, temperature=0.7))
    return out


def _read_abc(text: str):
    import tempfile

    import musewidgets as mw

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "melody.abc"
        path.write_text(text)
        return mw.read(path)


def test_every_pinned_take_is_byte_for_byte_as_pinned():
    pinned = json.loads(PINNED.read_text())
    if pinned.pop("machine") != _machine():
        pytest.skip(f"pinned with torch and CPU kernels other than these ({_machine()})")
    made = takes()
    assert sorted(made) == sorted(pinned)
    changed = [name for name in pinned if made[name] != pinned[name]]
    assert not changed, f"these takes changed: {changed}"
    assert len(set(made.values())) == len(made)  # and no two of them are the same take


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_pinned_takes --write")
    PINNED.parent.mkdir(exist_ok=True)
    PINNED.write_text(json.dumps({"machine": _machine(), **takes()}, indent=1) + "\n")
    print(f"wrote {PINNED}")
