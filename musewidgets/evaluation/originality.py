"""How often takes copy their training music, beside how often real music does: the share of takes whose longest
passage shared note for note with a training piece (:func:`musewidgets.analysis.originality.copied`) lasts
:data:`COPIED_BARS` bars or more, and the same share of real held-out excerpts as long (the test split's last bars:
the same hymn tune or dance often appears in two pieces of a collection).

``python -m musewidgets.evaluation.originality`` prints the table (the default model's seeded takes; a minute).
"""

from __future__ import annotations

import numpy as np

__all__ = ["COPIED_BARS", "table"]

COPIED_BARS = 2.0


def table(model: str = "lstm", *, takes: int = 64, bars: int = 8, seed: int = 0) -> list[dict]:
    """Per style: ``{"style", "takes", "copied", "longest", "real", "real_copied", "real_longest"}``: the share with a
    copied passage of :data:`COPIED_BARS` bars or more and the median longest passage, for the takes and for real
    test excerpts of ``bars`` bars."""
    from ..analysis.originality import copied
    from ..datasets.corpus import STYLES
    from ..sampling import load_sampler
    from .excerpts import real_excerpts, sample_takes

    sampler, rows = load_sampler(model), []
    for style in STYLES:
        real = real_excerpts(style, takes, bars, split="test", seed=seed)
        made = sample_takes(sampler, style, real, takes=takes, bars=bars, seed=seed, temperature=1.0)
        ours = np.array([copied(t, style).bars for t in made])
        theirs = np.array([copied(x, style).bars for x in real])
        rows.append(
            {
                "style": style,
                "takes": len(made),
                "copied": float(np.mean(ours >= COPIED_BARS)),
                "longest": float(np.median(ours)),
                "real": len(real),
                "real_copied": float(np.mean(theirs >= COPIED_BARS)),
                "real_longest": float(np.median(theirs)),
            }
        )
    return rows


if __name__ == "__main__":
    print("| style | takes | copied 2+ bars | median longest | real excerpts | copied 2+ bars | median longest |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in table():
        print(
            f"| {r['style']} | {r['takes']} | {r['copied']:.0%} | {r['longest']:.1f} | {r['real']} | "
            f"{r['real_copied']:.0%} | {r['real_longest']:.1f} |"
        )
