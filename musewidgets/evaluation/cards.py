"""Model cards: what each checkpoint was trained on, how, for how long, and how it compares.

``write_cards(folder)`` evaluates every checkpoint in ``folder`` on the test split of each of its styles (NLL per
token, the same windows for every family), fits unigram and bigram baselines on the train split, and writes
``<name>.json`` and ``<name>.md`` next to each ``<name>.pt`` with the comparison table in both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

__all__ = ["write_cards"]


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def write_cards(folder: str | Path, *, seq_len: int = 512, limit_pieces: int | None = None) -> dict:
    """Evaluate and describe every ``*.pt`` in ``folder`` (``*.last.pt`` resume files are skipped); a style
    classifier's card comes from :func:`musewidgets.evaluation.classifier.write_card`."""
    from ..checkpoints import load_checkpoint

    folder = Path(folder)
    paths = sorted(p for p in folder.glob("*.pt") if not p.name.endswith(".last.pt"))
    checkpoints = {p.stem: load_checkpoint(p) for p in paths}
    own = {k: ck for k, ck in checkpoints.items() if "store" in ck.meta}  # trained on the user's own music
    cards = {name: _write_store_card(folder, name, ck, seq_len) for name, ck in own.items()}
    checkpoints = {k: ck for k, ck in checkpoints.items() if k not in own}
    if not checkpoints:
        return cards
    classifiers = [p for p in paths if p.stem in checkpoints and checkpoints[p.stem].family == "classifier"]
    if classifiers:  # style classifiers have cards of their own: accuracy and confusion, not NLL
        from .classifier import write_card

        cards |= {p.stem: write_card(p, limit=limit_pieces) for p in classifiers}
        rest = {k: v for k, v in checkpoints.items() if v.family != "classifier"}
        return cards | (_write_sequence_cards(folder, rest, seq_len, limit_pieces) if rest else {})
    return cards | _write_sequence_cards(folder, checkpoints, seq_len, limit_pieces)


STORE_EVAL_TOKENS = 200_000  # tokens per split a store-trained model's card is evaluated on (a store can be huge)


def _write_store_card(folder: Path, name: str, ck, seq_len: int) -> dict:
    """The card of a model trained on the user's own music (a token store): its data as preparation found it, and
    NLL per token on the store's valid and test splits (their first :data:`STORE_EVAL_TOKENS` tokens) beside
    unigram and bigram baselines fitted on (the first 2,000 pieces of) its train split."""
    import itertools

    import torch

    from ..datasets.store import TokenStore
    from ..training import evaluate_nll

    info = ck.meta["store"]
    store = TokenStore(info["path"])
    style = store.style
    split = {part: store.split(part) for part in ("train", "valid", "test")}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = _baselines(
        itertools.islice(split["train"].by_style[style], 2000),
        {part: {style: _first_tokens(split[part].by_style[style])} for part in ("valid", "test")},
    )
    ck.model.to(device)
    rows[name] = {
        part: evaluate_nll(ck.model, split[part], seq_len, device, max_tokens=STORE_EVAL_TOKENS)
        if len(split[part])
        else {style: None}
        for part in ("valid", "test")
    }
    ck.model.to("cpu")
    skipped = ", ".join(f"{n} {reason}" for reason, n in info["skipped"].items()) or "none"
    card = _card(name, ck, _store_data(info, style, skipped), rows)
    _save_card(folder, card, [style])
    return card


def _store_data(info: dict, style: str, skipped: str) -> str:
    """The card's data line for a model trained on a token store."""
    splits = info["splits"]
    voices = f"{info['voices']} voice{'s' * (info['voices'] != 1)}"
    return (
        f"your own music: {info['used']:,} of {info['files']:,} files under {info['folder']} as style {style!r} "
        f"({voices}; skipped: {skipped}); {info['tokens']:,} tokens in the token store {info['path']}; file-level "
        f"80/10/10 split by a stable hash of each file's path (train {splits.get('train', 0):,}, valid "
        f"{splits.get('valid', 0):,}, test {splits.get('test', 0):,} files); random transposition within the voice "
        "ranges while training"
    )


def _first_tokens(pieces, limit: int = STORE_EVAL_TOKENS):
    """Pieces from the start of ``pieces`` until ``limit`` tokens are reached."""
    count = 0
    for e in pieces:
        if count >= limit:
            return
        count += len(e.tokens)
        yield e


def _write_sequence_cards(folder: Path, checkpoints: dict, seq_len: int, limit_pieces: int | None) -> dict:
    import torch

    from ..codecs import TokenCodec
    from ..datasets import corpus as corpus_mod
    from ..training import SequenceData, evaluate_nll

    styles = sorted({s for ck in checkpoints.values() for s in ck.styles})
    corpora = {s: corpus_mod.load_style(s, progress=False) for s in styles}
    codec = TokenCodec()
    split = {name: SequenceData(codec, corpora, name, limit_pieces) for name in ("train", "valid", "test")}
    device = "cuda" if torch.cuda.is_available() else "cpu"

    rows = _baselines(
        (e for es in split["train"].by_style.values() for e in es),
        {part: {s: split[part].by_style[s] for s in styles} for part in ("valid", "test")},
    )
    for name, ck in checkpoints.items():
        if ck.family in ("gan", "infill"):  # no next-token likelihood: the infill model's is per hidden cell
            continue
        ck.model.to(device)
        rows[name] = {
            part: evaluate_nll(ck.model, _subset(split[part], ck.styles), seq_len, device) for part in ("valid", "test")
        }
        ck.model.to("cpu")

    cards = {}
    for name, ck in checkpoints.items():
        meta = ck.meta
        card = _card(name, ck, _CORPUS_DATA, rows)
        if ck.family == "gan":
            card["validation"] = {"metric": meta.get("valid_metric"), "per_style": meta.get("valid_stats")}
        if ck.family == "infill":
            from ..training.infill import card_nll

            card["validation"] = {"metric": meta.get("valid_metric"), "nll": card_nll(ck, corpora, limit_pieces)}
        cards[name] = card
        _save_card(folder, card, styles)
    return cards


_CORPUS_DATA = (  # the data line of every card of a model trained on the corpus styles
    "music21's bundled corpus via musewidgets.datasets.corpus (chorale: Bach chorales; folk: Essen; irish: O'Neill "
    "1850 + Ryan's Mammoth; renaissance: Palestrina, 4 voices); piece-level 80/10/10 split by a stable hash of each "
    "piece id; random transposition within voice ranges while training"
)


def _baselines(train, held_out: dict[str, dict]) -> dict[str, dict]:
    """Rows of the unigram and bigram baselines fitted on the pieces ``train``: their NLL per token on the pieces
    ``held_out[part][style]``, keyed ``[label][part][style]``. Each iterable of pieces is read once."""
    from ..models.ngram import NGram

    train = list(train)
    held_out = {part: {s: list(pieces) for s, pieces in by_style.items()} for part, by_style in held_out.items()}
    rows: dict[str, dict] = {}
    for order, label in ((1, "unigram"), (2, "bigram")):
        model = NGram(order).fit(train)
        rows[label] = {
            part: {s: _per_token(*model.nll(pieces)) for s, pieces in by_style.items()}
            for part, by_style in held_out.items()
        }
    return rows


def _card(name: str, ck, data: str, rows: dict[str, dict]) -> dict:
    """The card of checkpoint ``ck``: what it is, how it was trained (its meta), ``data`` and the NLL ``rows``."""
    meta = ck.meta
    return {
        "name": name,
        "family": ck.family,
        "parameters": int(sum(p.numel() for p in ck.model.parameters())),
        "styles": list(ck.styles),
        "data": data,
        "command": meta.get("command", ""),
        "train_seconds": meta.get("train_seconds"),
        "steps": meta.get("steps"),
        "machine": meta.get("machine", ""),
        "train_config": meta.get("train_config", {}),
        "init_from": meta.get("init_from"),
        "nll_per_token": rows.get(name),
        "comparison": dict(rows),
        "evaluated": time.strftime("%Y-%m-%d"),
    }


def _save_card(folder: Path, card: dict, styles: list[str]) -> None:
    """Write ``<name>.json`` and ``<name>.md`` of ``card`` in ``folder``."""
    (folder / f"{card['name']}.json").write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
    (folder / f"{card['name']}.md").write_text(_markdown(card, styles))


def _per_token(total: float, count: int) -> float:
    return total / max(count, 1)


def _subset(data, styles):
    import copy

    sub = copy.copy(data)
    sub.by_style = {s: v for s, v in data.by_style.items() if s in styles}
    return sub


def _markdown(card: dict, styles: list[str]) -> str:
    lines = [
        f"# Model card: `{card['name']}` ({card['family']})",
        "",
        f"- **Parameters:** {card['parameters']:,}",
        f"- **Styles:** {', '.join(card['styles'])}",
        f"- **Data:** {card['data']}",
        f"- **Command:** `{card['command']}`",
        f"- **Training:** {card['steps']} steps in {card['train_seconds']} s on {card['machine']}",
        *_lineage(card.get("init_from")),
        f"- **Evaluated:** {card['evaluated']}",
        "",
    ]
    if card["family"] == "infill":
        return "\n".join(lines + _infill_lines(card)) + "\n"
    if card["family"] == "gan":
        v = card.get("validation") or {}
        lines += [
            "A GAN has no likelihood, so it has no NLL. Validation sets 64 seeded takes of 8 bars per style beside the",
            "last 8 bars of as many held-out pieces (musewidgets.training.gan); the score, lower is better, is the",
            f"{v.get('metric')} (0: told apart no better than by a coin):",
            "",
            "| style | score |",
            "| --- | --- |",
            *[f"| {s} | {x:.3f} |" for s, x in (v.get("per_style") or {}).items()],
            "",
            "The sequence models of the same corpus, for reference (NLL per token, nats):",
            "",
        ]
    else:
        lines += [
            "NLL per token (nats; lower is better) on the valid and test splits, beside the baselines and the",
            "other families trained the same way:",
            "",
        ]
    header = "| model | " + " | ".join(f"{s} valid | {s} test" for s in styles) + " |"
    lines += [header, "|" + " --- |" * (1 + 2 * len(styles))]
    for name, row in card["comparison"].items():
        cells = [f"{_fmt(row['valid'].get(s))} | {_fmt(row['test'].get(s))}" for s in styles]
        mark = " **(this)**" if name == card["name"] else ""
        lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _infill_lines(card: dict) -> list[str]:
    """The infill card's table: NLL per hidden cell, not comparable with the sequence models' NLL per token."""
    v = card.get("validation") or {}
    nll = v.get("nll") or {}
    styles = sorted({s for split in nll.values() for s in split})
    return [
        "An infill model predicts hidden cells of the voices x time grid from all the others "
        "(musewidgets.sampling.infill).",
        "NLL per hidden cell (nats; lower is better) on fixed seeded windows and masks of the valid and test",
        "splits (musewidgets.training.infill; not comparable with the sequence models' NLL per token):",
        "",
        "| split | " + " | ".join(styles) + " |",
        "|" + " --- |" * (1 + len(styles)),
        *[f"| {split} | " + " | ".join(_fmt(row.get(s)) for s in styles) + " |" for split, row in nll.items()],
    ]


def _lineage(init: dict | None) -> list[str]:
    """Card lines for the checkpoints a run started from, nearest first."""
    lines = []
    while init:
        lines.append(
            f"- **Started from:** `{init['checkpoint']}`, made by `{init.get('command', '?')}` "
            f"({init.get('steps', '?')} steps in {init.get('train_seconds', '?')} s on {init.get('machine', '?')})"
        )
        init = init.get("init_from")
    return lines


def read_test_nll(card_path: Path) -> dict | None:
    """Test NLL per style from a JSON card, or None."""
    try:
        card = json.loads(Path(card_path).read_text())
    except (OSError, ValueError):
        return None
    row = card.get("nll_per_token")
    return None if row is None else {s: float(np.round(v, 3)) for s, v in row["test"].items()}
