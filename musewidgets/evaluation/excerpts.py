"""The two sides a judge compares: real excerpts of a style, and takes sampled in their metres.

:func:`real_excerpts` chooses the last ``bars`` bars of held-out pieces (real endings, for takes asked to end);
:func:`sample_takes` asks a sampler for takes in the same metres, as many in each as :func:`metre_plan` says. Both
the scorecard (:mod:`.scorecard`) and the judges' development tool (:mod:`.judge`) use them.
"""

from __future__ import annotations

import numpy as np

from ..analysis.metrics import last_bars
from ..piece import Piece

__all__ = ["metre_plan", "real_excerpts", "sample_takes"]


def real_excerpts(style: str, n: int, bars: int, *, split: str = "test", seed: int = 0) -> list[Piece]:
    """``n`` excerpts of ``bars`` bars (the last bars: where the piece ends, a short final bar filled with rests) of
    pieces of ``split``, chosen with a seeded generator (fewer if the split has fewer pieces that long)."""
    from ..datasets import corpus

    pieces = [p for p in corpus.load_style(style, progress=False).split(split) if p.n_bars >= bars]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pieces), size=min(n, len(pieces)), replace=False)
    return [last_bars(pieces[i], bars) for i in sorted(chosen)]


def metre_plan(metres: list[str], real: list[Piece], takes: int) -> list[tuple[str, int]]:
    """How many of ``takes`` takes to ask for in each metre of ``metres`` (those a model writes in a style, its usual
    one first): as many as the ``real`` excerpts have in it, counted over the excerpts in turn (again from the
    first when there are fewer excerpts than takes); an excerpt in a metre the model does not write counts for the
    usual one. Returns ``(metre, count)`` in the order of ``metres``, metres without takes left out."""
    names = [f"{p.time_signature[0]}/{p.time_signature[1]}" for p in real] or [metres[0]]
    counts = dict.fromkeys(metres, 0)
    for i in range(takes):
        name = names[i % len(names)]
        counts[name if name in counts else metres[0]] += 1
    return [(m, k) for m, k in counts.items() if k]


def sample_takes(
    sampler, style: str, real: list[Piece], *, takes: int, bars: int, seed: int, temperature: float, **options
) -> list[Piece]:
    """``takes`` takes of ``bars`` bars in ``style``, in the metres of the ``real`` excerpts (:func:`metre_plan`),
    each metre's seeded ``seed`` plus the metre's place in ``sampler.metres(style)``; each take starts with the upbeat
    a take of its own seed would (:func:`~musewidgets.sampling.guidance.plan_pickup`: as often as the style's pieces
    do), a batch per upbeat. Returned as their last ``bars`` bars (:func:`~musewidgets.analysis.metrics.last_bars`),
    as the real excerpts are: a take with an upbeat loses it and keeps its short last bar."""
    from collections import Counter

    from ..analysis.metrics import last_bars
    from ..sampling.guidance import plan_pickup

    generated = []
    metres = sampler.metres(style)
    for metre, count in metre_plan(metres, real, takes):  # each metre's takes seeded by its place
        first = seed + metres.index(metre)
        ts = tuple(int(x) for x in metre.split("/"))
        if sampler.family == "gan":  # it writes whole bars
            upbeats = Counter({0: count})
        else:
            # take i's upbeat is the one a take seeded first + 7919 i draws (a prime apart: no seed drawn twice)
            upbeats = Counter(plan_pickup(style, ts, first + 7919 * i, temperature == 0) for i in range(count))
        for pickup, n in sorted(upbeats.items()):  # a batch per upbeat, seeded apart by a larger prime
            generated += sampler.generate(
                style=style,
                bars=bars,
                n=n,
                seed=first + 104_729 * pickup,
                temperature=temperature,
                metre=metre,
                pickup=pickup,
                **options,
            )
    return [last_bars(t, bars) for t in generated]
