"""Listening costs: strict voice leading and key/cadence guidance against free sampling, and what the analysis panel
computes per take.

``python -m benchmarks.listening`` rewrites the "listening" section of docs/benchmarks.md (about two minutes).
"""

from __future__ import annotations

from benchmarks.common import machine, measure, summary, table, write_section


def _sampling(sampler, n: int, strict: bool):
    return lambda: sampler.generate(style="chorale", bars=8, n=n, strict=strict)


def _guided(sampler, n: int, settings: dict):
    return lambda: sampler.generate(style="chorale", bars=8, n=n, **settings)


def main() -> dict:
    from musewidgets.analysis.classifier import load_classifier
    from musewidgets.analysis.metrics import metrics
    from musewidgets.analysis.mood import estimate_mood
    from musewidgets.analysis.similarity import load_index, similar
    from musewidgets.analysis.voice_leading import faults
    from musewidgets.sampling import load_sampler

    rows = []
    for model, repeat in (("lstm", 10), ("transformer", 4)):
        sampler = load_sampler(model)
        for n in (1, 32):
            free, strict = (
                summary(measure(_sampling(sampler, n, is_strict), repeat=repeat, warmup=1))
                for is_strict in (False, True)
            )
            rows.append(
                [
                    f"{model}, {n} take{'s' * (n > 1)}",
                    f"{free['median']:.0f} ms",
                    f"{strict['median']:.0f} ms",
                    f"{strict['median'] / free['median']:.2f}x",
                ]
            )
    sampling = table(["8 bars of chorale", "free", "strict", "strict / free"], rows)

    rows = []
    for model, n, repeat in (("lstm", 1, 10), ("lstm", 32, 10), ("transformer", 1, 4)):
        sampler = load_sampler(model)
        alone, guided = (
            summary(measure(_guided(sampler, n, kw), repeat=repeat, warmup=1))
            for kw in ({"ending": False, "guide": False}, {"key": "D minor", "ending": True})
        )
        rows.append(
            [
                f"{model}, {n} take{'s' * (n > 1)}",
                f"{alone['median']:.0f} ms",
                f"{guided['median']:.0f} ms",
                f"{guided['median'] / alone['median']:.2f}x",
            ]
        )
    guidance = table(["8 bars of chorale", "model alone", "D minor, end here, guided", "ratio"], rows)

    [take] = load_sampler("lstm").generate(style="chorale", bars=8, seed=1)
    classifier = load_classifier()
    index = load_index(classifier, progress=False)
    costs = [
        ("style probabilities (classifier)", lambda: classifier.classify(take)),
        ("mood", lambda: estimate_mood(take)),
        ("all metrics", lambda: metrics(take)),
        ("voice-leading faults", lambda: faults(take)),
        (f"5 similar pieces among {len(index):,}", lambda: similar(take, 5, index=index)),
    ]
    analysis = table(
        ["per 8-bar chorale take", "median", "p90"],
        [[what, f"{s['median']:.1f} ms", f"{s['p90']:.1f} ms"] for what, fn in costs for s in [summary(measure(fn))]],
    )
    md = "\n\n".join(
        [
            "## Listening",
            f"Measured by `python -m benchmarks.listening` on {machine()}: one sampling thread, as in the Workbench.",
            "### Strict voice leading",
            "Sampling with `strict=True` (no parallel fifths or octaves, crossings, wide spacing or notes out of "
            "the SATB ranges) against free sampling, same model and length; the issue's limit is 2x.",
            sampling,
            "### Key and cadence guidance",
            "A take asked for a key and an ending, with `musewidgets.sampling.guidance` (each take the first in that "
            "key of 8 candidates drawn together, the transformer's with a key prior; in the last bar a cadence prior "
            "on a key estimate per candidate), against the model alone.",
            guidance,
            "### What the analysis panel computes",
            analysis,
        ]
    )
    write_section("listening", md)
    return {"markdown": md}


if __name__ == "__main__":
    print(main()["markdown"])
