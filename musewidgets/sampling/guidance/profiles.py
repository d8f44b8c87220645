"""The style profiles the priors read: measured on each corpus style's training split and kept in
``musewidgets/data/guidance/profiles.json``.

``python -m musewidgets.sampling.guidance.profiles`` measures them again: how often bars return to earlier ones
(:func:`~musewidgets.analysis.metrics.repetition_profile`), the notes the pieces end on
(:func:`~musewidgets.analysis.metrics.ending_profile`), where in the bar notes start, how often the final chord
sounds through the whole last bar, the keys the pieces are in and the upbeats they start with.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = [
    "MIN_ONSETS",
    "PROFILES",
    "ending_profiles",
    "held_final_shares",
    "key_shares",
    "onset_profiles",
    "pickup_shares",
    "plan_pickup",
    "repetition_profiles",
]

PROFILES = Path(__file__).parents[2] / "data" / "guidance" / "profiles.json"


@cache
def _profiles() -> dict:
    return json.loads(PROFILES.read_text())


def repetition_profiles() -> dict[str, list[list[float]]]:
    """Per corpus style, :func:`~musewidgets.analysis.metrics.repetition_profile` of its training split."""
    return _profiles()["repetition"]


def ending_profiles() -> dict[str, dict[str, list[float]]]:
    """Per corpus style, :func:`~musewidgets.analysis.metrics.ending_profile` of its training split."""
    return _profiles()["endings"]


def onset_profiles() -> dict[str, dict[str, list[float]]]:
    """Per corpus style and metre (``'4/2'``), the share of the training split's note onsets on each step of the bar
    (metres with at least :data:`MIN_ONSETS` onsets)."""
    return _profiles()["onsets"]


def held_final_shares() -> dict[str, float]:
    """Per corpus style, the share of its training pieces whose final sounds through the whole last bar: no note
    starts in it (:func:`_held_finals`)."""
    return _profiles()["held_finals"]


def key_shares() -> dict[str, dict[str, float]]:
    """Per corpus style, the share of its training pieces in each key, the key a listener hears in their notes
    (:func:`~musewidgets.keys.estimate_key`, the key the models were told in training), commonest first."""
    return _profiles()["keys"]


def pickup_shares() -> dict[str, dict[str, dict[str, float]]]:
    """Per corpus style and metre (``'6/8'``), the share of its training pieces that start with each upbeat, in steps
    of a sixteenth (``'0'``: on the downbeat), commonest first."""
    return _profiles()["pickups"]


PICKUP_SEED_OFFSET = 287_117  # the upbeat of a take asked for none is drawn from seed + this


def plan_pickup(style: str | None, metre: tuple[int, int], seed: int, greedy: bool = False) -> int:
    """The upbeat (steps before the first bar line) a take of ``style`` in ``metre`` starts with when none is asked
    for: drawn as often as the style's pieces in that metre start with it (:func:`pickup_shares`), from a generator of
    its own (``seed`` + :data:`PICKUP_SEED_OFFSET`); ``greedy`` (temperature 0): the commonest. 0 for a style or
    metre without a profile."""
    import torch

    shares = pickup_shares().get(style or "", {}).get(f"{metre[0]}/{metre[1]}")
    if not shares:
        return 0
    steps = list(shares)
    if greedy:
        return int(steps[0])
    weights = torch.tensor([shares[k] for k in steps], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed + PICKUP_SEED_OFFSET)
    return int(steps[int(torch.multinomial(weights, 1, generator=generator))])


MIN_ONSETS = 1000


def _onsets(pieces) -> dict[str, list[float]]:
    """Per metre, the share of the pieces' note onsets on each step of the bar (counted from the bar line)."""
    counts: dict[str, list[float]] = {}
    for piece in pieces:
        steps = piece.steps_per_bar
        row = counts.setdefault(f"{piece.time_signature[0]}/{piece.time_signature[1]}", [0.0] * steps)
        for part in piece.parts:
            for note in part.notes:
                row[(note.start - piece.pickup) % steps] += 1
    return {m: [round(c / sum(row), 6) for c in row] for m, row in counts.items() if sum(row) >= MIN_ONSETS}


def _held_finals(pieces) -> float:
    """Share of ``pieces`` (with notes) whose last note starts before the bar line of their last bar."""
    ends = [
        max(n.start for part in p.parts for n in part.notes) < p.pickup + (p.n_bars - 1) * p.steps_per_bar
        for p in pieces
        if p.n_notes
    ]
    return round(sum(ends) / len(ends), 6) if ends else 0.0


def _keys(pieces) -> dict[str, float]:
    """Share of the pieces (with notes) in each key they are heard in, commonest first."""
    from collections import Counter

    from ...keys import estimate_key

    counts = Counter(estimate_key(p.replace(key=None)) for p in pieces if p.n_notes)
    counts.pop(None, None)
    total = sum(counts.values())
    return {key: round(n / total, 6) for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _pickups(pieces) -> dict[str, dict[str, float]]:
    """Per metre, the share of the pieces (with notes) that start with each upbeat (steps), commonest first."""
    from collections import Counter

    counts: dict[str, Counter] = {}
    for p in pieces:
        if p.n_notes:
            counts.setdefault(f"{p.time_signature[0]}/{p.time_signature[1]}", Counter())[str(p.pickup)] += 1
    return {
        metre: {k: round(n / sum(c.values()), 6) for k, n in sorted(c.items(), key=lambda kv: (-kv[1], int(kv[0])))}
        for metre, c in counts.items()
    }


def _measure() -> dict:
    """Every corpus style's repetition, ending and onset profiles, of its training split (``python -m
    musewidgets.sampling.guidance.profiles``)."""
    from ...analysis.metrics import ending_profile, repetition_profile
    from ...datasets.corpus import load_style, styles

    train = {s.name: load_style(s.name, progress=False).split("train") for s in styles()}
    return {
        "note": "made by `python -m musewidgets.sampling.guidance.profiles` from each corpus style's training split "
        "(musewidgets.analysis.metrics.repetition_profile and ending_profile; onsets, held finals, keys and "
        "upbeats: musewidgets.sampling.guidance.profiles._onsets, _held_finals, _keys and _pickups)",
        "repetition": {name: repetition_profile(pieces) for name, pieces in train.items()},
        "endings": {name: ending_profile(pieces) for name, pieces in train.items()},
        "onsets": {name: _onsets(pieces) for name, pieces in train.items()},
        "held_finals": {name: _held_finals(pieces) for name, pieces in train.items()},
        "keys": {name: _keys(pieces) for name, pieces in train.items()},
        "pickups": {name: _pickups(pieces) for name, pieces in train.items()},
    }


if __name__ == "__main__":
    PROFILES.parent.mkdir(parents=True, exist_ok=True)
    PROFILES.write_text(json.dumps(_measure(), indent=1) + "\n")
    print(f"wrote {PROFILES}")
