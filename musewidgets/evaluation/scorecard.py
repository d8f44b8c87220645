"""The scorecard: how close each model's takes come to the real music of each style, measured by the project itself.

For every model family and style, ``takes`` seeded takes of ``bars`` bars (default 32 x 8) are set beside as many
real excerpts: ``bars`` bars of held-out (test-split) corpus pieces that are at least that long, chosen
with a seeded generator; the excerpts are the *last* ``bars`` bars of their pieces, so that the takes' endings are
compared with real endings (a take is asked to be a piece of ``bars`` bars). The takes are asked for the excerpts'
metres, as many in each as there are excerpts in it (:func:`metre_plan`): the metre is the user's choice, not the
model's, and a style's metres differ in notes per bar and groove, so takes all in one metre beside excerpts in
several would be told apart by their metre alone. Takes and excerpts are measured alike:
a take's parts carry the voice ranges its model samples within (``Part.range``) and corpus pieces carry none, so
both are measured without them, against the textbook SATB ranges in four voices
(:func:`~musewidgets.analysis.voice_leading.voice_ranges`); otherwise no take could ever be out of range. Both are
also measured in the key :func:`~musewidgets.keys.estimate_key` hears in their own notes, whatever key
they carry: a take's (asked for, drawn by the GAN, or already that estimate) and a corpus piece's, its file's key
signature read as major where the file names no mode (Palestrina's modal pieces all say C or F major), which is
not the key a listener hears (the models train on the estimate for the same reason). Each row reports:

``c2st``
    Two-sample classifier test (Lopez-Paz & Oquab 2017): the cross-validated accuracy of a logistic regression
    (scikit-learn, standardized features, 5 folds repeated 4 times with different shuffles) telling takes from real
    excerpts on their :func:`~musewidgets.analysis.metrics.metrics`. 0.5 = the metrics cannot tell them apart; 1.0 =
    always can. With 32 + 32 pieces, chance alone spreads it by about +-0.1, so the ``real`` rows compare two
    disjoint sets of real excerpts (test against valid split) to show that floor.
``fidelity``
    Share of takes that the style classifier (:mod:`.classifier`) assigns to the requested style.
``overlap``
    Per metric, the overlapping area of the two distributions, takes against real (Yang & Lerch 2018): each set's
    values smoothed by a Gaussian kernel density (Silverman's bandwidth, at least 2 % of the pooled range), the
    area under the smaller of the two densities; 1 = the same distribution, 0 = no value in common. This is the
    overlap of the values themselves (Yang & Lerch compare distributions of pairwise distances instead; with a
    single reference set the values are what a reader can check).
``tonic_ending``, ``repeated_bars``, ``*_per_8_bars``
    Means over the takes; ``loops`` is the share of takes that play one bar more than 4 times in a row.
``key_asked``, ``key_asked_music21``, ``metre_asked``
    For models with key control (:attr:`~musewidgets.sampling.Sampler.controls`), a second set of ``takes`` takes
    asked for keys and metres (:func:`control`): the share in the requested key by the project's
    :func:`~musewidgets.keys.estimate_key` and by music21's ``analyze('key')`` of the take written as
    MusicXML and read back, and the share whose MusicXML, read back by music21, has the requested time signature.

Everything is seeded: the same models, settings and seed give the same table on the same machine.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..analysis.metrics import METRIC_NAMES, last_bars, metric_matrix
from ..piece import Piece

__all__ = [
    "COLUMNS",
    "c2st",
    "cite_in_cards",
    "control",
    "metre_plan",
    "overlap_area",
    "real_excerpts",
    "save_json",
    "score",
    "scorecard",
    "to_markdown",
    "write_page",
]

DEFAULT_MODELS = ("rnn", "lstm", "transformer", "gan")
# the keys every row has (the JSON file), in the markdown table's order
COLUMNS = (
    "model",
    "style",
    "takes",
    "c2st",
    "fidelity",
    "tonic_ending",
    "repeated_bars",
    "loops",
    "parallels_per_8_bars",
    "crossings_per_8_bars",
    "spacing_per_8_bars",
    "out_of_range_per_8_bars",
    "pc_entropy_overlap",
    "scale_consistency",
    "key_asked",
    "key_asked_music21",
    "metre_asked",
)
CONTROL_GROUPS = 8  # keys (and metres, in turn) asked for per model and style
_NOTHING_ASKED = {"key_asked": math.nan, "key_asked_music21": math.nan, "metre_asked": math.nan}  # no control


def overlap_area(a, b) -> float:
    """Overlapping area (0..1) of the kernel densities of two samples of one metric; NaN values are left out.

    Returns NaN when either sample is empty after that.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return math.nan
    both = np.concatenate([a, b])
    span = float(both.max() - both.min())
    floor = 0.02 * span if span > 0 else 1e-3 * max(1.0, abs(float(both.mean())))

    def bandwidth(x):
        return max(1.06 * float(x.std()) * len(x) ** -0.2, floor)

    ha, hb = bandwidth(a), bandwidth(b)
    grid = np.linspace(both.min() - 4 * max(ha, hb), both.max() + 4 * max(ha, hb), 2001)

    def density(x, h):
        z = (grid[:, None] - x[None, :]) / h
        return np.exp(-0.5 * z**2).sum(1) / (len(x) * h * math.sqrt(2 * math.pi))

    area = np.minimum(density(a, ha), density(b, hb))
    return float(min(1.0, np.sum((area[1:] + area[:-1]) / 2 * np.diff(grid))))


def c2st(x_takes: np.ndarray, x_real: np.ndarray, *, seed: int = 0, folds: int = 5, repeats: int = 4) -> float:
    """Cross-validated accuracy of a logistic regression telling rows of ``x_takes`` from rows of ``x_real``.

    Features are standardized inside each fold; NaNs are replaced by the column's mean (0 when all NaN).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([x_takes, x_real]).astype(float)
    y = np.r_[np.ones(len(x_takes)), np.zeros(len(x_real))]
    means = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0) if len(x) else np.zeros(x.shape[1])
    means = np.nan_to_num(means)
    x = np.where(np.isfinite(x), x, means)
    folds = min(folds, len(x_takes), len(x_real))
    if folds < 2:
        return math.nan
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return float(cross_val_score(model, x, y, cv=cv, scoring="accuracy").mean())


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



def score(takes: list[Piece], real: list[Piece], *, style: str, model: str, classifier=None, seed: int = 0) -> dict:
    """One scorecard row: ``takes`` of ``model`` against ``real`` excerpts of ``style`` (see the module docstring)."""
    from ..analysis.classifier import load_classifier

    classifier = classifier or load_classifier()
    xt, xr = metric_matrix(takes), metric_matrix(real)
    col = {k: i for i, k in enumerate(METRIC_NAMES)}
    probs = classifier.probabilities([t for t in takes if t.n_notes])
    fidelity = float(np.sum(probs.argmax(1) == classifier.styles.index(style))) / len(takes)  # silent takes: 0
    mean = {k: float(np.nanmean(xt[:, i])) if np.isfinite(xt[:, i]).any() else math.nan for k, i in col.items()}
    overlap = {k: overlap_area(xt[:, i], xr[:, i]) for k, i in col.items()}
    return {
        "model": model,
        "style": style,
        "takes": len(takes),
        "real": len(real),
        "c2st": c2st(xt, xr, seed=seed),
        "fidelity": fidelity,
        "tonic_ending": mean["tonic_ending"],
        "repeated_bars": mean["repeated_bars"],
        "loops": float(np.mean(xt[:, col["longest_bar_loop"]] > 4)),
        "parallels_per_8_bars": mean["parallels_per_8_bars"],
        "crossings_per_8_bars": mean["crossings_per_8_bars"],
        "spacing_per_8_bars": mean["spacing_per_8_bars"],
        "out_of_range_per_8_bars": mean["out_of_range_per_8_bars"],
        "pc_entropy_overlap": overlap["pitch_class_entropy"],
        "scale_consistency": mean["scale_consistency"],
        "means": mean,
        "overlap": overlap,
    }


def control(sampler, style: str, *, takes: int, bars: int, seed: int = 0, temperature: float = 1.0, **options) -> dict:
    """How well ``sampler`` honours a requested key and metre in ``style``: ``key_asked``, ``key_asked_music21``,
    ``metre_asked`` (shares of ``takes`` takes; NaN for a model without key control).

    The takes come in :data:`CONTROL_GROUPS` seeded batches, each asked for a key drawn at random from the 24 major
    and minor keys and for the style's metres in turn (:meth:`~musewidgets.sampling.Sampler.metres`).
    """
    import music21

    from .. import io
    from ..keys import estimate_key
    from ..piece import key_name, parse_key

    if not sampler.controls:
        return dict(_NOTHING_ASKED)
    rng = np.random.default_rng(seed)
    metres = sampler.metres(style)
    ours = theirs = metre_ok = 0
    sizes = [takes // CONTROL_GROUPS + (g < takes % CONTROL_GROUPS) for g in range(CONTROL_GROUPS)]
    for g, size in enumerate(s for s in sizes if s):
        key = key_name(int(rng.integers(12)), "major" if rng.random() < 0.5 else "minor")
        metre = metres[g % len(metres)]
        pieces = sampler.generate(
            style=style, bars=bars, n=size, seed=seed + g, temperature=temperature, key=key, metre=metre, **options
        )
        for piece in pieces:
            ours += estimate_key(piece.replace(key=None)) == key
            score = music21.converter.parse(io.to_musicxml(piece), format="musicxml")
            if piece.n_notes:  # music21 cannot analyse a take without notes (it is in no key)
                found = score.analyze("key")
                theirs += (found.tonic.pitchClass, found.mode) == parse_key(key)
            signatures = score.recurse().getElementsByClass("TimeSignature")
            metre_ok += bool(signatures) and all(ts.ratioString == metre for ts in signatures)
    return {"key_asked": ours / takes, "key_asked_music21": theirs / takes, "metre_asked": metre_ok / takes}


def scorecard(
    models=DEFAULT_MODELS,
    styles=None,
    *,
    takes: int = 32,
    bars: int = 8,
    seed: int = 0,
    temperature: float = 1.0,
    strict: bool = False,
    unguided: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Rows for every model (shipped name or checkpoint path) x style it knows, then one ``real`` row per style.

    Takes are ``sampler.generate(style=, bars=, n=, seed=, temperature=, metre=)``: one seeded batch of candidates
    per model, style and metre, the metres in the real excerpts' proportions (:func:`metre_plan`; the batch of the
    ``i``-th of :meth:`~musewidgets.sampling.Sampler.metres` has seed ``seed + i``). ``strict=True`` adds, beside
    each sequence model's row of a style with several voices, a row ``'<model> strict'`` of takes sampled with
    strict voice leading (:mod:`musewidgets.sampling.strict`), same seeds.
    ``unguided=True`` adds, beside each model with key and ending control, a row ``'<model> unguided'``: the same
    takes without the key and cadence priors of :mod:`musewidgets.sampling.guidance` (the model alone).

    Raises
    ------
    ValueError
        If ``takes`` is not 2..64 or ``bars`` not 1..64; ``UnknownStyleError`` for an unknown style;
        ``CheckpointError`` for an unknown model.
    """
    from tqdm.auto import tqdm

    from ..analysis.classifier import load_classifier
    from ..datasets.corpus import STYLES, get_style
    from ..sampling.sampler import load_sampler

    _check_sizes(takes, bars)
    styles = list(styles or STYLES)
    for s in styles:
        get_style(s)
    samplers = {m: load_sampler(m) for m in models}
    classifier = load_classifier()
    real = {s: real_excerpts(s, takes, bars, seed=seed) for s in styles}
    cells = _cells(models, samplers, styles, strict=strict, unguided=unguided)
    rows = []
    with tqdm(total=len(cells) + len(styles), desc="scorecard", unit="row", disable=not progress) as bar:
        for m, s, variant in cells:
            name = " ".join(filter(None, (Path(str(m)).stem, variant)))
            bar.set_postfix_str(f"{name} {s}")
            options = {"strict": variant == "strict", "guide": variant != "unguided"}
            sampled = {"takes": takes, "bars": bars, "seed": seed, "temperature": temperature, **options}
            generated = sample_takes(samplers[m], s, real[s], **sampled)
            row = score(generated, real[s], style=s, model=name, classifier=classifier, seed=seed)
            rows.append(row | (_NOTHING_ASKED if variant == "strict" else control(samplers[m], s, **sampled)))
            bar.update()
        for s in styles:
            other = real_excerpts(s, takes, bars, split="valid", seed=seed)
            row = score(other, real[s], style=s, model="real", classifier=classifier, seed=seed)
            rows.append(row | {"takes": len(other)} | _NOTHING_ASKED)
            bar.update()
    return rows


def _check_sizes(takes: int, bars: int) -> None:
    """Refuse ``takes`` outside 2..64 and ``bars`` outside 1..64 (whole numbers only)."""
    if isinstance(takes, bool) or not isinstance(takes, int) or not 2 <= takes <= 64:
        raise ValueError(f"`takes` must be a whole number from 2 to 64, got {takes!r}")
    if isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= 64:
        raise ValueError(f"`bars` must be a whole number from 1 to 64, got {bars!r}")


def _cells(models, samplers: dict, styles: list[str], *, strict: bool, unguided: bool) -> list[tuple]:
    """The rows to sample, ``(model, style, variant)`` with variant ``""`` (as shipped), ``"strict"`` or
    ``"unguided"``: every style a model knows, and the variants asked for where the model has them."""
    from ..datasets.corpus import get_style

    cells = []
    for m in models:
        sampler = samplers[m]
        for s in (s for s in styles if s in sampler.styles):
            cells.append((m, s, ""))
            if strict and sampler.family != "gan" and get_style(s).voices > 1:
                cells.append((m, s, "strict"))
            if unguided and sampler.controls:
                cells.append((m, s, "unguided"))
    return cells


def sample_takes(
    sampler, style: str, real: list[Piece], *, takes: int, bars: int, seed: int, temperature: float, **options
) -> list[Piece]:
    """``takes`` takes of ``bars`` bars in ``style``, in the metres of the ``real`` excerpts (:func:`metre_plan`): one
    batch per metre, seeded ``seed`` plus the metre's place in ``sampler.metres(style)``."""
    generated = []
    metres = sampler.metres(style)
    for metre, count in metre_plan(metres, real, takes):  # each metre's takes seeded by its place
        generated += sampler.generate(
            style=style,
            bars=bars,
            n=count,
            seed=seed + metres.index(metre),
            temperature=temperature,
            metre=metre,
            **options,
        )
    return generated


def _fmt(value, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def to_markdown(rows: list[dict]) -> str:
    """The rows as a markdown table (:data:`COLUMNS`), grouped by style with the real row first."""
    order = sorted(rows, key=lambda r: (r["style"], r["model"] != "real", r["model"]))
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for r in order:
        cells = [f"**{r[c]}**" if c == "model" and r[c] == "real" else _fmt(r[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_page(rows: list[dict], path: str | os.PathLike, *, command: str) -> Path:
    """Write the scorecard page (``docs/scorecard.md``): how it was made, the table, and every metric's overlap."""
    import platform
    import time

    path = Path(path)
    metrics_order = [k for k in METRIC_NAMES if k != "longest_bar_loop"]
    order = sorted(rows, key=lambda r: (r["style"], r["model"] != "real", r["model"]))
    lines = [
        "# Scorecard",
        "",
        "How close each model's takes come to the real music of each style, measured by the project itself",
        "(definitions: `musewidgets.evaluation.scorecard`, `musewidgets.analysis.metrics`,",
        "`musewidgets.analysis.voice_leading`). **c2st**: 0.5 = takes and real excerpts cannot be told apart by",
        "their metrics, 1.0 = always; the **real** rows compare two disjoint sets of real excerpts and show the",
        "noise floor. **fidelity**: share of takes the style classifier assigns to the requested style. Rates are",
        "per 8 bars; **loops**: share of takes that play one bar more than 4 times in a row. **key_asked**,",
        "**key_asked_music21**, **metre_asked**: of as many takes again, asked for random keys and the style's",
        "metres, the share in the key asked for by our key estimate and by music21's (a guided take is the first",
        "of 8 candidates drawn together that both hear in that key), and in the metre asked for.",
        "The takes of a row are asked for the real excerpts' metres, as many in each as there are excerpts in it.",
        "Takes and excerpts alike are measured in the key our estimate hears in their notes (a corpus file's key",
        "signature does not say a modal piece's final).",
        'Takes end like a piece ("end here") where the model has that control; **unguided** rows: the same takes',
        "without the guidance of `musewidgets.sampling.guidance` (the model alone); **strict** rows: strict voice",
        "leading.",
        "",
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')} ({platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} cores); {rows[0]['takes']} takes per row.",
        "",
        to_markdown(rows),
        "Mean of every metric (takes, or the real excerpts in the real rows):",
        "",
        *_metric_table(order, "means", metrics_order),
        "",
        "Overlapping area of each metric's distribution with the real test excerpts' (1 = the same):",
        "",
        *_metric_table(order, "overlap", metrics_order),
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def _metric_table(rows: list[dict], field: str, names: list[str]) -> list[str]:
    """Markdown lines: one row per scorecard row, one column per metric, the values of ``row[field]``."""
    lines = ["| model | style | " + " | ".join(names) + " |", "|" + " --- |" * (2 + len(names))]
    for r in rows:
        lines.append(f"| {r['model']} | {r['style']} | " + " | ".join(_fmt(r[field][k]) for k in names) + " |")
    return lines


_CARD_MARK = "## Scorecard"


def cite_in_cards(rows: list[dict], folder: str | os.PathLike, *, source: str = "docs/scorecard.md") -> list[Path]:
    """Put each model's scorecard rows, beside the real rows, into its model card (``<model>.md`` and ``.json`` in
    ``folder``), replacing an earlier scorecard section. Returns the cards changed."""
    folder = Path(folder)
    changed = []
    for name in sorted({r["model"].removesuffix(" strict").removesuffix(" unguided") for r in rows} - {"real"}):
        md, js = folder / f"{name}.md", folder / f"{name}.json"
        if not md.exists():
            continue
        own = [r for r in rows if r["model"] in (name, f"{name} strict", f"{name} unguided", "real")]
        text = md.read_text().split(f"\n{_CARD_MARK}\n")[0].rstrip("\n")
        section = [
            "",
            _CARD_MARK,
            "",
            f"From `{source}` ({own[0]['takes']} seeded takes of each style against as many real",
            "held-out excerpts; c2st 0.5 = indistinguishable by the metrics; rates per 8 bars):",
            "",
            to_markdown(own).rstrip("\n"),
        ]
        md.write_text(text + "\n" + "\n".join(section) + "\n")
        if js.exists():
            card = json.loads(js.read_text())
            card["scorecard"] = [{c: _clean(r[c]) for c in COLUMNS} for r in own if r["model"] != "real"]
            js.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
        changed.append(md)
    return changed


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


def save_json(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write the rows as a JSON list (NaN written as null)."""
    path = Path(path)
    path.write_text(json.dumps([_clean(r) for r in rows], indent=1) + "\n")
    return path
