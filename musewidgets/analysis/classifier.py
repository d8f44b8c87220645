"""Which style a piece sounds like: the shipped style classifier, its embeddings, and how it was checked.

::

    >>> from musewidgets.analysis.classifier import classify
    >>> classify(piece)                                   # doctest: +SKIP
    {'chorale': 0.97, 'renaissance': 0.02, 'folk': 0.01, 'irish': 0.0}

The model (:mod:`musewidgets.models.classifier`) is trained by ``musewidgets train --model classifier`` on the
train split of the four corpus styles (:mod:`musewidgets.training.classifier`) and ships in
``musewidgets/data/classifier/`` with its model card, written by :func:`write_card`: accuracy and confusion on the
held-out test pieces, and the same pieces re-encoded (transposed, quantized to quarter notes, merged into one MIDI
track, melody only, melody over chords) and music from other collections in music21's corpus.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache
from pathlib import Path

import numpy as np

from ..piece import Note, Part, Piece

__all__ = [
    "CLASSIFIER_PATH",
    "OUTSIDE_SETS",
    "Classifier",
    "classify",
    "evaluate",
    "load_classifier",
    "variants",
    "write_card",
]

CLASSIFIER_PATH = Path(__file__).resolve().parents[1] / "data" / "classifier" / "classifier.pt"


class Classifier:
    """A loaded style classifier: style probabilities and piece embeddings for lists of pieces.

    Inference runs on :data:`~musewidgets.threads.SAMPLING_THREADS` torch thread(s), like sampling.
    """

    def __init__(self, checkpoint):
        if checkpoint.family != "classifier":
            raise ValueError(f"{checkpoint.path}: a {checkpoint.family!r} checkpoint is not a style classifier")
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.features = checkpoint.codec
        self.styles: list[str] = list(checkpoint.styles)

    def _encode(self, pieces) -> list[np.ndarray]:
        encoded = []
        for piece in pieces:
            if not isinstance(piece, Piece):
                raise TypeError(f"expected a Piece, got {type(piece).__name__}")
            if piece.n_notes == 0:
                raise ValueError(f"{piece.title or 'the piece'} has no notes, so it has no style")
            encoded.append(self.features.encode(piece))
        return encoded

    def probabilities(self, pieces) -> np.ndarray:
        """Style probabilities, shape ``(len(pieces), len(styles))``, columns in :attr:`styles` order."""
        from ..threads import SAMPLING_THREADS, torch_threads
        from ..training.classifier import predict

        encoded = self._encode(pieces)
        if not encoded:
            return np.zeros((0, len(self.styles)))
        with torch_threads(SAMPLING_THREADS):
            return predict(self.model, encoded)

    def classify(self, piece: Piece) -> dict[str, float]:
        """``{style: probability}`` for one piece, most likely first.

        Raises
        ------
        ValueError
            If the piece has no notes.
        """
        probs = self.probabilities([piece])[0]
        return {self.styles[i]: float(probs[i]) for i in np.argsort(-probs, kind="stable")}

    def embed(self, pieces) -> np.ndarray:
        """Piece embeddings, shape ``(len(pieces), E)``: the classifier's last hidden layer, unit length.

        Pieces that sound alike lie close together (cosine similarity is a dot product); :mod:`.similarity` builds
        its index from them.
        """
        import torch

        from ..threads import SAMPLING_THREADS, torch_threads
        from ..training.classifier import batch_of

        encoded = self._encode(pieces)
        out = np.zeros((len(encoded), self.model.config.embed), dtype=np.float32)
        order = np.argsort([len(e) for e in encoded])
        with torch_threads(SAMPLING_THREADS), torch.no_grad():
            for i in range(0, len(order), 64):
                idx = order[i : i + 64]
                batch = batch_of([encoded[j] for j in idx])
                out[idx] = self.model.embed(batch["x"], batch["mask"]).numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def load_classifier(path: str | os.PathLike | None = None) -> Classifier:
    """The style classifier at ``path`` (default: the shipped one), loaded once per path.

    Raises
    ------
    CheckpointError
        If the file is missing, damaged or not a checkpoint; ``ValueError`` if it holds another kind of model.
    """
    return _load(Path(path) if path is not None else CLASSIFIER_PATH)


@cache
def _load(path: Path) -> Classifier:
    from ..checkpoints import load_checkpoint

    return Classifier(load_checkpoint(path))


def classify(piece: Piece) -> dict[str, float]:
    """``{style: probability}`` of ``piece`` by the shipped classifier, most likely first."""
    return load_classifier().classify(piece)


# --------------------------------------------------------------------------- how well it works


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
    from ..codecs.features import STEPS_PER_QUARTER, note_array
    from ..training.classifier import chords_for

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
    from ..datasets.corpus import _corpus_root

    pieces = []
    for path in sorted(_corpus_root().glob(pattern)):
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
        from .similarity import precision_at

        card["similarity"] = precision_at(5, classifier=clf)
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
    return "\n".join(lines) + "\n"
