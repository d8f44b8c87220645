"""How well the style classifier works: its model card.

:func:`write_card` writes ``musewidgets/data/classifier/``'s card: accuracy and confusion on the held-out test pieces,
the same pieces re-encoded (:func:`variants`: transposed, quantized to quarter notes, merged into one MIDI track,
melody only, melody over chords) and music from other collections in music21's corpus (:data:`OUTSIDE_SETS`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from ..analysis.classifier import CLASSIFIER_PATH, Classifier
from ..piece import Note, Part, Piece

__all__ = ["OUTSIDE_SETS", "calibration", "evaluate", "variants", "write_card"]


def _quantized(piece: Piece, quarter: int) -> Piece:
    parts = []
    for part in piece.parts:
        seen, notes = set(), []
        for n in part.notes:
            start = n.start // quarter * quarter
            end = max(start + quarter, round(n.end / quarter) * quarter)
            if (n.pitch, start) not in seen:
                seen.add((n.pitch, start))
                notes.append(Note(n.pitch, start, end - start, n.velocity))
        parts.append(Part(part.name, tuple(notes), part.program))
    end = max(p.end for p in parts)
    return piece.replace(parts=tuple(parts), length=max(end, piece.end // quarter * quarter) if piece.length else None)


def _one_track(piece: Piece, folder: Path, i: int) -> Piece:
    """All parts merged into one MIDI track, written and read back (what a user's "piano" MIDI file looks like)."""
    from .. import io

    notes = tuple(n for part in piece.parts for n in part.notes)
    merged = piece.replace(parts=(Part("Piano", notes, 0),))
    path = io.write(merged, folder / f"{i}.mid")
    return io.read(path)


def _with_chords(piece: Piece) -> Piece:
    from ..codecs.features import STEPS_PER_QUARTER, chords_for, note_array

    scale = STEPS_PER_QUARTER / piece.steps_per_quarter
    notes = note_array(piece)
    chords = chords_for(
        notes,
        round(piece.end * scale),
        round(piece.steps_per_bar * scale),
        round(piece.pickup * scale),
        len(piece.parts),
    )
    melody = piece.parts[0]
    back = 1 / scale
    chord_notes = tuple(Note(int(p), round(s * back), max(1, round((e - s) * back))) for p, s, e, _ in chords)
    accompaniment = Part("Chords", chord_notes)
    return piece.replace(parts=(melody, accompaniment))


def variants(pieces: list[Piece], seed: int = 0) -> dict[str, list[Piece]]:
    """The held-out pieces as written and re-encoded, by variant name (what the model card reports)."""
    import tempfile

    rng = np.random.default_rng(seed)
    transposed = []
    for p in pieces:
        lo = min(n.pitch for part in p.parts for n in part.notes)
        hi = max(n.pitch for part in p.parts for n in part.notes)
        shifts = [k for k in range(-6, 7) if k and 21 <= lo + k and hi + k <= 108]
        transposed.append(p.transpose(int(rng.choice(shifts))))
    with tempfile.TemporaryDirectory() as tmp:
        one_track = [_one_track(p, Path(tmp), i) for i, p in enumerate(pieces)]
    return {
        "as written": pieces,
        "transposed": transposed,
        "quantized to quarter notes": [_quantized(p, p.steps_per_quarter) for p in pieces],
        "one MIDI track": one_track,
        "melody only": [p.replace(parts=p.parts[:1]) for p in pieces],
        "melody over chords": [_with_chords(p) for p in pieces],
    }


# Music from music21's corpus outside the four styles' sources, and the style a musician would give it.
OUTSIDE_SETS = {
    "Aird's Airs, book 1 (Scottish and Irish airs and dances, 1782)": ("airdsAirs/book1.abc", "irish"),
    "Nottingham dataset reels": ("nottingham-dataset/*.abc", "irish"),
    "American fife tunes": ("miscFolk/americanfifeopus.abc", "irish"),
    "Northumbrian minstrelsy (ballads and small-pipe tunes)": ("miscFolk/northumbrianminstrelsyopus.abc", "folk"),
    "Josquin chansons (Odhecaton; each voice written as its own tune, joined here)": ("josquin/*.abc", "renaissance"),
    "Lusitano, Allor che ignuda": ("lusitano/*.mxl", "renaissance"),
    "Monteverdi madrigals": ("monteverdi/*.mxl", "renaissance"),
}


def _joined(pieces: list[Piece]) -> Piece:
    """The tunes of one file as the voices of one piece (files that write each voice as its own tune)."""
    first = pieces[0]
    parts = tuple(part for p in pieces if p.time_signature == first.time_signature for part in p.parts)
    return first.replace(parts=parts, length=max(p.end for p in pieces), pickup=0)


def _outside(pattern: str) -> list[Piece]:
    import warnings

    from .. import io
    from ..datasets.corpus import corpus_root

    pieces = []
    for path in sorted(corpus_root().glob(pattern)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                results = io.read_all(path)
            except Exception:  # noqa: BLE001 - a source we cannot read is left out and counted by its absence
                continue
        kept = [p for p, _ in results if p is not None and p.n_notes >= 8]
        if kept and pattern.startswith("josquin/"):
            kept = [_joined(kept)]
        pieces.extend(kept)
    return pieces


def calibration(probs: np.ndarray, truth: np.ndarray, bins: int = 10) -> dict:
    """How far the classifier's confidence is from how often it is right: the expected calibration error (the
    pieces' share in each bin of top probability times the gap between their mean top probability and their
    accuracy, summed) and the bins, for a reliability diagram."""
    top, right = probs.max(1), probs.argmax(1) == truth
    edges, rows, error = np.linspace(0.0, 1.0, bins + 1), [], 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (top > low) & (top <= high)
        if inside.any():
            confidence, accuracy = float(top[inside].mean()), float(right[inside].mean())
            error += inside.mean() * abs(accuracy - confidence)
            rows.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "pieces": int(inside.sum()),
                    "confidence": confidence,
                    "accuracy": accuracy,
                }
            )
    return {"ece": float(error), "bins": rows}


def evaluate(classifier: Classifier, *, limit: int | None = None, outside: bool = True) -> dict:
    """Accuracy of ``classifier`` on the test split as written and re-encoded, and on :data:`OUTSIDE_SETS`.

    Returns a JSON-ready dict: ``confusion`` (rows: true style, columns: predicted, counts), ``per_style`` recall,
    ``macro_accuracy`` (mean recall), ``variants`` {name: macro accuracy and per-style recall}, ``outside``
    {name: style, pieces, share assigned to that style}.
    """
    from ..datasets import corpus

    styles = classifier.styles
    pieces, truth = [], []
    for i, s in enumerate(styles):
        test = corpus.load_style(s, progress=False).split("test")[:limit]
        pieces += test
        truth += [i] * len(test)
    truth = np.array(truth)
    result: dict = {"styles": styles, "test_pieces": {s: int((truth == i).sum()) for i, s in enumerate(styles)}}
    result["variants"] = {}
    for name, group in variants(pieces).items():
        pred = classifier.probabilities(group).argmax(1)
        recall = {s: float(np.mean(pred[truth == i] == i)) for i, s in enumerate(styles)}
        result["variants"][name] = {"macro_accuracy": float(np.mean(list(recall.values()))), "per_style": recall}
        if name == "as written":
            from ..analysis.metrics import last_bars

            excerpts = [(last_bars(p, 8), t) for p, t in zip(pieces, truth) if p.n_bars > 8]
            result["calibration"] = {
                "pieces": calibration(classifier.probabilities(group), truth),
                "excerpts": calibration(
                    classifier.probabilities([x for x, _ in excerpts]), np.array([t for _, t in excerpts])
                ),
            }
            confusion = np.zeros((len(styles), len(styles)), dtype=int)
            np.add.at(confusion, (truth, pred), 1)
            result["confusion"] = confusion.tolist()
            result["per_style"] = recall
            result["macro_accuracy"] = result["variants"][name]["macro_accuracy"]
    result["outside"] = {}
    for name, (pattern, style) in OUTSIDE_SETS.items() if outside else ():
        group = _outside(pattern)
        if not group:
            continue
        pred = classifier.probabilities(group).argmax(1)
        counts = {s: int(np.sum(pred == i)) for i, s in enumerate(styles)}
        result["outside"][name] = {
            "style": style,
            "pieces": len(group),
            "accuracy": counts[style] / len(group),
            "assigned": counts,
        }
    return result


def write_card(path: str | os.PathLike = CLASSIFIER_PATH, *, limit: int | None = None, outside: bool = True) -> dict:
    """Evaluate the classifier checkpoint at ``path`` and write ``<name>.json`` and ``<name>.md`` beside it.

    ``limit`` evaluates only the first test pieces of each style; ``outside=False`` leaves out the other collections.
    """
    from ..checkpoints import load_checkpoint

    path = Path(path)
    clf = Classifier(load_checkpoint(path))
    t0 = time.perf_counter()
    result = evaluate(clf, limit=limit, outside=outside)
    meta = clf.checkpoint.meta
    card = {
        "name": path.stem,
        "family": "classifier",
        "parameters": int(sum(p.numel() for p in clf.model.parameters())),
        "styles": clf.styles,
        "data": "music21's bundled corpus via musewidgets.datasets.corpus, the generators' piece-level 80/10/10 split; "
        "random stretches of 48-256 sixteenths, re-encoded at random (musewidgets.training.classifier)",
        "command": meta.get("command", ""),
        "train_seconds": meta.get("train_seconds"),
        "steps": meta.get("steps"),
        "machine": meta.get("machine", ""),
        "evaluated": time.strftime("%Y-%m-%d"),
        "evaluation_seconds": round(time.perf_counter() - t0, 1),
        **result,
    }
    if outside:  # the whole corpus index: a minute to build (then cached)
        from ..analysis.similarity import precision_at
        from .unsure import PIANO, report

        card["similarity"] = precision_at(5, classifier=clf)
        sets = {name: _outside(pattern) for name, (pattern, _) in OUTSIDE_SETS.items()}
        card["unsure"] = report(clf, sets, [p for g in PIANO for p in _outside(g)], limit=limit)
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    path.with_suffix(".md").write_text(_markdown(card))
    return card


def _markdown(card: dict) -> str:
    styles = card["styles"]
    pct = "{:.1%}".format
    lines = [
        f"# Model card: `{card['name']}` (style classifier)",
        "",
        f"- **Parameters:** {card['parameters']:,}",
        f"- **Styles:** {', '.join(styles)}",
        f"- **Data:** {card['data']}",
        f"- **Command:** `{card['command']}`",
        f"- **Training:** {card['steps']} steps in {card['train_seconds']} s on {card['machine']}",
        f"- **Evaluated:** {card['evaluated']} by `musewidgets cards {'/'.join(CLASSIFIER_PATH.parts[-4:-1])}` "
        f"({card['evaluation_seconds']} s)",
        "",
        f"**Macro accuracy on the held-out test pieces: {pct(card['macro_accuracy'])}** "
        f"(whole pieces; {', '.join(f'{n} {s}' for s, n in card['test_pieces'].items())}).",
        "",
        "Confusion on the test split (rows: true style, columns: predicted):",
        "",
        "| true \\ predicted | " + " | ".join(styles) + " | recall |",
        "|" + " --- |" * (len(styles) + 2),
    ]
    for s, row in zip(styles, card["confusion"]):
        lines.append(f"| {s} | " + " | ".join(str(c) for c in row) + f" | {pct(card['per_style'][s])} |")
    lines += [
        "",
        "The same test pieces re-encoded (macro accuracy, and recall per style):",
        "",
        "| encoding | macro accuracy | " + " | ".join(styles) + " |",
        "|" + " --- |" * (len(styles) + 2),
    ]
    for name, v in card["variants"].items():
        lines.append(
            f"| {name} | {pct(v['macro_accuracy'])} | " + " | ".join(pct(v["per_style"][s]) for s in styles) + " |"
        )
    if card.get("calibration"):
        cal = card["calibration"]
        lines += [
            "",
            f"**Calibration** on the test split: expected calibration error {pct(cal['pieces']['ece'])} on whole "
            f"pieces, {pct(cal['excerpts']['ece'])} on their last 8 bars (10 bins of the top probability; no "
            "rescaling: on the valid split a temperature of 1 gives the pieces their lowest log loss). Reliability, "
            "whole pieces:",
            "",
            "| top probability | pieces | mean top probability | right |",
            "| --- | --- | --- | --- |",
        ]
        for b in cal["pieces"]["bins"]:
            lines.append(
                f"| {b['low']:.1f}-{b['high']:.1f} | {b['pieces']} | {pct(b['confidence'])} | {pct(b['accuracy'])} |"
            )
    if card.get("similarity"):
        sim = card["similarity"]
        lines += [
            "",
            f"**More like this** (`musewidgets similar`): of the {sim['k']} nearest corpus pieces to each held-out "
            f"piece (itself left out), {pct(sim['macro'])} share its style (macro over styles; "
            + ", ".join(f"{s} {pct(v)}" for s, v in sim["per_style"].items())
            + ").",
        ]
    if card.get("outside"):
        lines += [
            "",
            "Music from outside the training collections (other books in music21's corpus), with the style a",
            "musician would give it:",
            "",
            "| collection | expected style | pieces | assigned to it | all assignments |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, v in card["outside"].items():
            spread = ", ".join(f"{s} {n}" for s, n in v["assigned"].items() if n)
            lines.append(f"| {name} | {v['style']} | {v['pieces']} | {pct(v['accuracy'])} | {spread} |")
    if card.get("unsure"):
        lines += [
            "",
            "**Unsure** (`musewidgets classify` prints `unsure <score>` first; the Workbench's Analyse says so): the "
            "share of pieces called unsure, far from all four styles or from the music the classifier learned "
            "(`musewidgets.analysis.unsure`; thresholds chosen on the valid split, 1 % of its pieces and excerpts of "
            "4, 8 and 16 bars past them; the test rows computed once, here). *expected*: what it should say; "
            "*either*: music of the styles from outside the training collections, or in another edition.",
            "",
            "| music | expected | pieces | unsure |",
            "| --- | --- | --- | --- |",
        ]
        for r in card["unsure"]:
            lines.append(f"| {r['music']} | {r['expected']} | {r['pieces']} | {pct(r['unsure'])} |")
    return "\n".join(lines) + "\n"
