"""The scorecard: how close each model's takes come to the real music of each style, by judges not tuned to them.

For every model family and style, ``takes`` seeded takes of ``bars`` bars (default 64 x 8) are set beside as many
real excerpts: ``bars`` bars of held-out (``test`` split) corpus pieces that are at least that long, chosen
with a seeded generator (fewer where the split has fewer such pieces: 41 Bach chorales); the excerpts are the
*last* ``bars`` bars of their pieces, so that the takes' endings are compared with real endings (a take is asked to
be a piece of ``bars`` bars). The takes are asked for the excerpts' metres, as many in each as there are excerpts in
it (:func:`metre_plan`): the metre is the user's choice, not the model's, and a style's metres differ in notes per
bar and groove, so takes all in one metre beside excerpts in several would be told apart by their metre alone.
Takes and excerpts are measured alike, in the key :func:`~musewidgets.keys.estimate_key` hears in their own notes
(a corpus file's key signature does not say a modal piece's final). Each row reports:

``logistic``, ``boosting``, ``neural``
    The three judges of :mod:`.judge`, each ``[mean, spread]``: the balanced accuracy of a classifier telling the
    takes from the real excerpts in repeated 5-fold cross-validation (0.5: never better than chance, 1.0: always),
    on 150 musical descriptors (:mod:`musewidgets.analysis.descriptors`) or on the roll itself. The ``real`` row of
    a style holds each judge's **floor**: the same judge telling two disjoint sets of real excerpts apart (``test``
    against ``valid``), chance plus the judge's own noise. ``strongest`` is the highest of the three means.
``gives_away``
    The three descriptor families that tell the takes from the excerpts best on their own, ``[family, accuracy]``.
``fidelity``
    Share of takes that the style classifier (:mod:`.classifier`) assigns to the requested style.
``tonic_ending``, ``tonic_ending_music21``
    Share of pieces whose bass ends on the tonic, by our key-finder and by music21's ``analyze('key')``.
``remote_keys``
    Share of pieces whose estimated key has four or more sharps or flats.
``steps``
    Per voice, top down: the share of its moves to a new pitch that are steps (one or two semitones).
``loops``, ``parallels_per_8_bars``, ``crossings_per_8_bars``
    Share of takes that play one bar more than 4 times in a row; parallel fifths and octaves and voice crossings
    per 8 bars (:mod:`musewidgets.analysis.voice_leading`).
``key_asked``, ``key_asked_music21``, ``metre_asked``
    For models with key control (:attr:`~musewidgets.sampling.Sampler.controls`), a second set of ``takes`` takes
    asked for keys and metres (:func:`control`): the share in the requested key by the project's
    :func:`~musewidgets.keys.estimate_key` and by music21's ``analyze('key')`` of the take written as
    MusicXML and read back, and the share whose MusicXML, read back by music21, has the requested time signature.

The protocol: samplers are developed against the ``valid`` split (``python -m musewidgets.evaluation.judge``); the
shipped table is the ``test`` split, computed once for the table. Everything is seeded: the same models, settings
and seed give the same table on the same machine.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from ..analysis.metrics import METRIC_NAMES, metric_matrix
from .excerpts import metre_plan, real_excerpts, sample_takes

__all__ = [
    "COLUMNS",
    "cite_in_cards",
    "control",
    "metre_plan",
    "real_excerpts",
    "save_json",
    "score",
    "scorecard",
    "to_markdown",
    "write_page",
]

DEFAULT_MODELS = ("rnn", "lstm", "transformer", "gan")
# the keys every row has (the JSON file); the markdown table shows them under HEADERS, some two to a column
COLUMNS = (
    "model",
    "style",
    "takes",
    "logistic",
    "boosting",
    "neural",
    "strongest",
    "gives_away",
    "fidelity",
    "tonic_ending",
    "tonic_ending_music21",
    "remote_keys",
    "steps",
    "loops",
    "parallels_per_8_bars",
    "crossings_per_8_bars",
    "key_asked",
    "key_asked_music21",
    "metre_asked",
)
CONTROL_GROUPS = 8  # keys (and metres, in turn) asked for per model and style
_NOTHING_ASKED = {"key_asked": math.nan, "key_asked_music21": math.nan, "metre_asked": math.nan}  # no control


def score(takes, real, *, style: str, model: str, classifier=None, seed: int = 0, repeats: int = 4) -> dict:
    """One scorecard row: ``takes`` of ``model`` against ``real`` excerpts of ``style`` (pieces, or
    :class:`~.judge.Measured` sets; see the module docstring). ``repeats``: of the judges' 5-fold cross-validation
    (the giveaways' half as many)."""
    from ..analysis.classifier import load_classifier
    from .judge import JUDGES, giveaways, judge, measure

    made, heard = measure(takes), measure(real)
    pieces = list(made.pieces)
    xt = metric_matrix(pieces)
    col = {k: i for i, k in enumerate(METRIC_NAMES)}
    classifier = classifier or load_classifier()
    probs = classifier.probabilities([t for t in pieces if t.n_notes])
    fidelity = float(np.sum(probs.argmax(1) == classifier.styles.index(style))) / len(pieces)  # silent takes: 0
    mean = {k: float(np.nanmean(xt[:, i])) if np.isfinite(xt[:, i]).any() else math.nan for k, i in col.items()}
    judged = judge(made, heard, seed=seed, repeats=repeats)
    ours, theirs = made.tonic_endings
    return {
        "model": model,
        "style": style,
        "takes": len(made),
        "real": len(heard),
        **{name: list(judged[name]) for name in JUDGES},
        "strongest": max(judged[name][0] for name in JUDGES),
        "gives_away": [list(g) for g in giveaways(made, heard, seed=seed, repeats=max(1, repeats // 2))],
        "fidelity": fidelity,
        "tonic_ending": ours,
        "tonic_ending_music21": theirs,
        "remote_keys": made.remote,
        "steps": made.step_shares,
        "loops": float(np.mean(xt[:, col["longest_bar_loop"]] > 4)),
        "parallels_per_8_bars": mean["parallels_per_8_bars"],
        "crossings_per_8_bars": mean["crossings_per_8_bars"],
        "means": mean,
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
    takes: int = 64,
    bars: int = 8,
    seed: int = 0,
    temperature: float = 1.0,
    split: str = "test",
    strict: bool = False,
    unguided: bool = False,
    repeats: int = 4,
    progress: bool = True,
) -> list[dict]:
    """Rows for every model (shipped name or checkpoint path) x style it knows, then one ``real`` row per style.

    Takes are ``sampler.generate(style=, bars=, n=, seed=, temperature=, metre=)``: one seeded batch of candidates
    per model, style and metre, the metres in the real excerpts' proportions (:func:`metre_plan`; the batch of the
    ``i``-th of :meth:`~musewidgets.sampling.Sampler.metres` has seed ``seed + i``), against the last ``bars`` bars
    of pieces of ``split`` (``test``: the table; ``valid``: development). The ``real`` rows set those excerpts
    against as many of another split (``valid``, or ``train`` for ``split="valid"``): the judges' floors.
    ``strict=True`` adds, beside each sequence model's row of a style with several voices, a row
    ``'<model> strict'`` of takes sampled with strict voice leading (:mod:`musewidgets.sampling.strict`), same seeds.
    ``unguided=True`` adds, beside each model with key and ending control, a row ``'<model> unguided'``: the same
    takes without the priors of :mod:`musewidgets.sampling.guidance` (the model alone). ``repeats``: of the
    judges' 5-fold cross-validation.

    Raises
    ------
    ValueError
        If ``takes`` is not 2..64, ``bars`` not 1..64, ``repeats`` not 1..20 or ``split`` not a split;
        ``UnknownStyleError`` for an unknown style; ``CheckpointError`` for an unknown model.
    """
    from tqdm.auto import tqdm

    from ..analysis.classifier import load_classifier
    from ..datasets.corpus import STYLES, get_style
    from ..sampling.sampler import load_sampler
    from .judge import measure

    _check_sizes(takes, bars, repeats, split)
    styles = list(styles or STYLES)
    for s in styles:
        get_style(s)
    samplers = {m: load_sampler(m) for m in models}
    classifier = load_classifier()
    real = {s: measure(real_excerpts(s, takes, bars, split=split, seed=seed)) for s in styles}
    cells = _cells(models, samplers, styles, strict=strict, unguided=unguided)
    rows = []
    judged = {"classifier": classifier, "seed": seed, "repeats": repeats}
    with tqdm(total=len(cells) + len(styles), desc="scorecard", unit="row", disable=not progress) as bar:
        for m, s, variant in cells:
            name = " ".join(filter(None, (Path(str(m)).stem, variant)))
            bar.set_postfix_str(f"{name} {s}")
            options = {"strict": variant == "strict", "guide": variant != "unguided"}
            sampled = {"takes": takes, "bars": bars, "seed": seed, "temperature": temperature, **options}
            generated = sample_takes(samplers[m], s, list(real[s].pieces), **sampled)
            row = score(generated, real[s], style=s, model=name, **judged)
            rows.append(row | (_NOTHING_ASKED if variant == "strict" else control(samplers[m], s, **sampled)))
            bar.update()
        other_split = "train" if split == "valid" else "valid"
        for s in styles:
            other = real_excerpts(s, len(real[s]), bars, split=other_split, seed=seed)
            row = score(other, real[s], style=s, model="real", **judged)
            rows.append(row | _NOTHING_ASKED)
            bar.update()
    return rows


def _check_sizes(takes: int, bars: int, repeats: int = 4, split: str = "test") -> None:
    """Refuse ``takes`` outside 2..64, ``bars`` outside 1..64, ``repeats`` outside 1..20 (whole numbers only) and a
    split that is not ``train``, ``valid`` or ``test``."""
    for name, value, most, least in (("takes", takes, 64, 2), ("bars", bars, 64, 1), ("repeats", repeats, 20, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise ValueError(f"`{name}` must be a whole number from {least} to {most}, got {value!r}")
    if split not in ("train", "valid", "test"):
        raise ValueError(f"`split` must be 'train', 'valid' or 'test', got {split!r}")


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


def _fmt(value, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


HEADERS = (
    "model",
    "style",
    "takes",
    "logistic",
    "boosting",
    "neural",
    "gives it away",
    "fidelity",
    "tonic endings",
    "remote keys",
    "steps",
    "loops",
    "parallels",
    "crossings",
    "key asked",
    "metre asked",
)


def _table_row(r: dict) -> list[str]:
    """One row of the markdown table (:data:`HEADERS`)."""
    from .judge import JUDGES, voices

    model = f"**{r['model']}**" if r["model"] == "real" else r["model"]
    judged = [f"{_fmt(r[j][0])} ± {_fmt(r[j][1])}" for j in JUDGES]
    given = ", ".join(f"{family} {_fmt(acc)}" for family, acc in r["gives_away"])
    ends = f"{_fmt(r['tonic_ending'])} / {_fmt(r['tonic_ending_music21'])}"
    asked = f"{_fmt(r['key_asked'])} / {_fmt(r['key_asked_music21'])}"
    rates = [_fmt(r[k]) for k in ("loops", "parallels_per_8_bars", "crossings_per_8_bars")]
    return [
        model,
        r["style"],
        str(r["takes"]),
        *judged,
        given,
        _fmt(r["fidelity"]),
        ends,
        _fmt(r["remote_keys"]),
        voices(r["steps"]),
        *rates,
        asked,
        _fmt(r["metre_asked"]),
    ]


def to_markdown(rows: list[dict]) -> str:
    """The rows as a markdown table (:data:`HEADERS`), grouped by style with the real row (the floors) first."""
    order = sorted(rows, key=lambda r: (r["style"], r["model"] != "real", r["model"]))
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    lines += ["| " + " | ".join(_table_row(r)) + " |" for r in order]
    return "\n".join(lines) + "\n"


PAGE_INTRO = """\
How close each model's takes come to the real music of each style, by judges that were not tuned to them
(definitions: `musewidgets.evaluation.scorecard`, `musewidgets.evaluation.judge`,
`musewidgets.analysis.descriptors`). **logistic**, **boosting**, **neural**: how often each judge tells the takes
from real held-out excerpts in cross-validation, mean ± spread over repeats (0.5 = never better than chance, 1.0 =
always); the **real** row of each style is the same judge telling two disjoint sets of real excerpts apart (test
against valid): its floor. **gives it away**: the descriptor families that tell them apart best on their own.
**fidelity**: share of takes the style classifier assigns to the requested style. **tonic endings**: share whose
bass ends on the tonic, by our key-finder / music21's. **remote keys**: share in keys of four or more sharps or
flats. **steps**: per voice, top down, the share of moves to a new pitch that are steps. **loops**: share of takes
that play one bar more than 4 times in a row; **parallels** (fifths and octaves) and **crossings** per 8 bars.
**key asked**, **metre asked**: of as many takes again, asked for random keys and the style's metres, the share in
the key asked for by our key estimate / music21's, and in the metre asked for.
The takes of a row are asked for the real excerpts' metres, as many in each as there are excerpts in it, start with
an upbeat as often as the style's pieces do (the GAN's on the downbeat), end like a piece where the model has that
control, and are judged by their last bars, as each excerpt is its piece's last bars. **unguided** rows: the same
takes without the priors of `musewidgets.sampling.guidance` (the model alone); **strict** rows: strict voice
leading.
Samplers are developed against the valid split (`python -m musewidgets.evaluation.judge`); this table, on the
test split, is computed once for it."""


def write_page(rows: list[dict], path: str | os.PathLike, *, command: str) -> Path:
    """Write the scorecard page (``docs/scorecard.md``): how it was made, the table, and every metric's mean."""
    import platform
    import time

    path = Path(path)
    metrics_order = [k for k in METRIC_NAMES if k != "longest_bar_loop"]
    order = sorted(rows, key=lambda r: (r["style"], r["model"] != "real", r["model"]))
    lines = [
        "# Scorecard",
        "",
        PAGE_INTRO,
        "",
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')} ({platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} cores); {max(r['takes'] for r in rows)} takes per row (fewer real excerpts where the",
        "split has fewer pieces that long).",
        "",
        to_markdown(rows),
        "Mean of every metric (`musewidgets.analysis.metrics`; takes, or the real excerpts in the real rows):",
        "",
        *_metric_table(order, "means", metrics_order),
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
            f"From `{source}` ({own[0]['takes']} seeded takes of each style against as many real held-out",
            "excerpts; each judge's accuracy at telling them apart, 0.5 = never better than chance, the real row",
            "its floor; rates per 8 bars):",
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
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def save_json(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write the rows as a JSON list (NaN written as null)."""
    path = Path(path)
    path.write_text(json.dumps([_clean(r) for r in rows], indent=1) + "\n")
    return path
