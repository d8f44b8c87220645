"""The ``musewidgets`` command: argparse front door to styles, rendering and corpus building.

Every failure that is about the user's input prints one line to stderr and exits with status 1; usage mistakes print
one line too (the mistake, and where help is) and exit with status 2 (argparse's convention). No traceback reaches
the terminal for either, and every path a command writes is checked before any work (:mod:`.files`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from ..errors import MusewidgetsError
from .arguments import (
    OneLineParser,
    add_guide,
    add_outputs,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    upbeat,
    version,
)
from .files import EXISTING_FOLDER, FILE, FOLDER, MUSIC, check_folder, check_outputs, read_music_arg, save

__all__ = ["main"]


def _cmd_styles(args: argparse.Namespace) -> None:
    from ..datasets import corpus

    for style in corpus.styles():
        print(corpus.load_style(style.name, progress=not args.quiet).summary())


def _cmd_render(args: argparse.Namespace) -> None:
    save(read_music_arg(args.input), args.output)


def _cmd_corpus_build(args: argparse.Namespace) -> None:
    from ..datasets import corpus

    names = args.style or list(corpus.STYLES)
    for name in names:
        corpus.get_style(name)  # unknown names fail before any work
    target = check_folder(corpus.PACKAGED_DIR if args.packaged else corpus.cache_dir())
    for name in names:
        t0 = time.perf_counter()
        built = corpus.build_style(name, limit=args.limit, workers=args.workers, progress=not args.quiet)
        path = corpus.save_corpus(built, target / f"{name}.npz")
        skipped = ", ".join(f"{n} {reason}" for reason, n in built.skipped.items()) or "none"
        print(
            f"{name}: {len(built)} pieces from {built.info['source_files']} files in "
            f"{time.perf_counter() - t0:.1f} s -> {path} (skipped: {skipped})"
        )


def _cmd_train(args: argparse.Namespace) -> None:
    from ..training import TrainConfig, Trainer, subscribe_progress

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        overrides[key] = _number(value)
    config = TrainConfig(
        family=args.model,
        styles=tuple(args.style) if args.style else TrainConfig.styles,
        model=overrides,
        **_options(
            args,
            "minutes",
            "max_steps",
            "batch_size",
            "lr",
            "seq_len",
            "eval_every",
            "device",
            "limit_pieces",
            "init",
            "seed",
            "data",
            "style_name",
            "anneal",
            "ending_bars",
        ),
    )
    out = Path(args.out)
    if args.data is None and args.style_name is not None:
        raise ValueError("--style-name names the style of your own music: give --data FOLDER too")
    if args.data is not None and args.style:
        raise ValueError("--data trains on your own music as one style: leave out --style")
    trainer = Trainer(config, args.out, command=_command_line(args.command_line), resume=args.resume)
    if args.resume and not trainer.last_path.exists():
        raise ValueError(f"--resume: nothing to resume in {out} (no {trainer.last_path.name}); leave out --resume")
    trainer.check()
    from ..checkpoints import load_checkpoint, resolve
    from ..training import distributed

    for path in ([args.init] if args.init else []) + ([trainer.last_path] if args.resume else []):
        load_checkpoint(resolve(path))  # a damaged or untrusted checkpoint is refused before any work
    # under torchrun: one process group for the whole command; process 0 alone prints, saves and writes cards
    with distributed.session(trainer._device()) as ctx:
        main = ctx is None or ctx.is_main
        if args.data is not None:  # read the folder (or reuse its store) before training, and say what was used
            trainer.show_progress = not args.quiet
            trainer.open_store()
            if main:
                print(trainer.store_report, file=sys.stderr)
        subscribe_progress(trainer, desc=f"training {args.model}", quiet=args.quiet or not main)
        result = trainer.fit()
        workers = f" on {ctx.world} process{'es' * (ctx.world != 1)}" if ctx is not None else ""
    if not main:
        return
    print(
        f"{args.model}: {result['reason']} after {result['steps']} steps{workers}, {result['seconds']:.0f} s; "
        f"best validation {result['best']:.3f}; checkpoint {result['path']}"
    )
    if not args.no_cards:
        from ..evaluation.cards import write_cards

        write_cards(args.out)
        print(f"model cards written to {args.out}")


def _options(args: argparse.Namespace, *names: str) -> dict:
    """The options ``names`` of ``args`` as keyword arguments of the same names."""
    return {name: getattr(args, name) for name in names}


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _cmd_cards(args: argparse.Namespace) -> None:
    from ..evaluation.cards import write_cards

    folder = Path(args.folder)
    if not any(folder.glob("*.pt")):
        raise ValueError(f"{folder}: no checkpoints (.pt files) to write cards for")
    cards = write_cards(folder)
    print(f"wrote {len(cards)} model cards in {folder}")


def _read_music(path: str):
    piece = read_music_arg(path)
    if piece.n_notes == 0:
        raise ValueError(f"{path}: no notes to listen to")
    return piece


def _cmd_classify(args: argparse.Namespace) -> None:
    from ..analysis.classifier import load_classifier
    from ..analysis.mood import estimate_mood
    from ..analysis.unsure import unsure_score

    piece = _read_music(args.input)
    classifier, mood = load_classifier(), estimate_mood(piece)
    if (unsure := unsure_score(piece, classifier)) > 1:  # far from all four styles, or from what the classifier knows
        print(f"unsure {unsure:.2f}")
    for style, p in classifier.classify(piece).items():
        print(f"{style} {p:.3f}")
    print(f"mood {mood.valence:+.2f} {mood.arousal:+.2f} {mood.word}")


def _cmd_similar(args: argparse.Namespace) -> None:
    from ..analysis.similarity import similar

    piece = _read_music(args.input)
    for neighbour in similar(piece, args.k, progress=not args.quiet):
        print(neighbour)


def _cmd_scorecard(args: argparse.Namespace) -> None:
    from ..evaluation import scorecard as sc

    options = _options(args, "takes", "bars", "seed", "split", "strict", "unguided")
    rows = sc.scorecard(args.model or sc.DEFAULT_MODELS, args.style, **options, progress=not args.quiet)
    table = sc.to_markdown(rows)
    print(table, end="")
    if args.json:
        print(f"wrote {sc.save_json(rows, args.json)}", file=sys.stderr)
    if args.markdown:
        print(f"wrote {sc.write_page(rows, args.markdown, command=_command_line())}", file=sys.stderr)
    if args.cards:
        for card in sc.cite_in_cards(rows, args.cards):
            print(f"cited in {card}", file=sys.stderr)


def _command_line(given: str | None = None) -> str:
    """The command as typed (``given`` instead where a caller passed ``--command-line``), for cards and pages."""
    return "musewidgets " + " ".join(sys.argv[1:]) if given is None else given


def _cmd_generate(args: argparse.Namespace) -> None:
    import random

    from ..sampling.sampler import load_sampler

    sampler = load_sampler(args.checkpoint or args.model)
    style = args.style or _only_style(sampler, args.checkpoint or args.model)
    seed = random.SystemRandom().randrange(2**31) if args.seed is None else args.seed  # as the Workbench draws
    primer = read_music_arg(args.primer) if args.primer else None
    options = _options(args, "bars", "temperature", "top_k", "top_p", "strict", "key", "metre")
    [piece] = sampler.generate(
        **options,
        style=style,
        seed=seed,
        primer=primer,
        ending=not args.keep_going,
        guide=args.guide,
        pickup=args.upbeat,
    )
    num, den = piece.time_signature
    after = " after the primer" if primer is not None else ""
    up = f", an upbeat of {Fraction(piece.pickup, 4 * piece.steps_per_quarter)}" if piece.pickup else ""
    print(f"seed {seed}, {piece.key or 'no key'}, {num}/{den}, {args.bars} bars{up}{after}")
    if args.seed is None:  # the same command with this seed makes the same take again
        print(f"to make it again: {shlex.join(['musewidgets', args.argv[0], '--seed', str(seed), *args.argv[1:]])}")
    save(piece, args.output)


def _only_style(sampler, model: str) -> str:
    """The style of a model that knows one; else the error asking for ``--style``."""
    if len(sampler.styles) == 1:
        return sampler.styles[0]
    known = ", ".join(sampler.styles)
    raise ValueError(f"--style is needed: the {model} model knows {len(sampler.styles)} styles ({known})")


def _cmd_harmonize(args: argparse.Namespace) -> None:
    import warnings

    from ..sampling.harmonization import harmonize

    melody = read_music_arg(args.input)
    options = _options(args, "style", "seed", "temperature", "iterations", "key")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        guide, model = "off" if args.unguided else args.guide, args.checkpoint or args.model
        piece = harmonize(melody, **options, guide=guide, model=model)
    for w in caught:  # the melody moved into the soprano range, say
        print(f"note: {w.message}", file=sys.stderr)
    save(piece, args.output)


def _cmd_models(args: argparse.Namespace) -> None:
    from ..checkpoints import load_checkpoint, shipped
    from ..evaluation.cards import read_test_nll

    found = shipped()
    if args.dir is not None:  # checkpoints of your own (musewidgets train --out FOLDER)
        folder = Path(args.dir)
        if not folder.is_dir():
            raise ValueError(f"--dir {folder}: " + ("is a file, not a folder" if folder.exists() else "no such folder"))
        found = {p.stem: p for p in sorted(folder.glob("*.pt")) if not p.name.endswith(".last.pt")}
        if not found:
            raise ValueError(f"--dir {folder}: holds no checkpoint (.pt)")
    for name, path in found.items():
        ck = load_checkpoint(path)
        nll = read_test_nll(path.with_suffix(".json"))
        shown = " ".join(f"{s}={v:.3f}" for s, v in nll.items()) if nll else "n/a (no likelihood)"
        print(f"{name:<12} {ck.family:<12} styles: {','.join(ck.styles):<32} test NLL/token: {shown}")


def _cmd_sessions(args: argparse.Namespace) -> None:
    from ..session import clear_sessions, clearable_sessions, list_sessions, sessions_root

    root = sessions_root()
    if root.exists() and not root.is_dir():
        raise ValueError(f"the sessions folder {root} is a file, not a folder (see MUSEWIDGETS_SESSION_DIR)")
    if args.clear:
        found = clearable_sessions(root)
        what = f"{len(found)} saved session{'s' * (len(found) != 1)} in {root}"
        if found and not args.yes:
            if not sys.stdin.isatty():
                raise ValueError(f"--clear would delete {what} and their takes; add --yes to delete them")
            print("\n".join(f"  {f.name}" for f in found))
            if input(f"delete {what} and their takes? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return
        gone = clear_sessions(root)
        print(f"deleted {gone} saved session{'s' * (gone != 1)} from {root}")
        return
    found = list_sessions(root)
    hint = " (Workbench.restore(name) brings one back)" if found else ""
    print(f"{len(found)} saved session{'s' * (len(found) != 1)} in {root}{hint}")
    for info in found:
        print(f"  {info.label}")


def _cmd_bench_jsb(args: argparse.Namespace) -> None:
    from ..datasets.frames import load_frame_dataset
    from ..evaluation import bench

    unknown = [n for n in args.only or () if n not in bench.MODELS]
    if unknown:
        raise ValueError(f"unknown benchmark model {unknown[0]!r} for --only; known: {', '.join(bench.MODELS)}")
    if args.data is None:
        args.data = bench.find_jsb()
        if args.data is None:
            raise ValueError("no --data given and JSB_Chorales.mat not found (set MUSEWIDGETS_JSB or pass --data)")
    dataset = load_frame_dataset(args.data)
    folder = args.models
    if args.train:
        folder = check_folder(args.out or f"bench-{dataset.name}")
        if args.minutes:
            budgets = ", ".join(f"{n} {args.minutes:g} min" for n in args.only or bench.MODELS)
        else:
            budgets = ", ".join(f"{n} {args.steps or bench.MODELS[n].steps} steps" for n in args.only or bench.MODELS)
        print(f"training on {dataset.summary()}; budget: {budgets}; into {folder}", file=sys.stderr)
        options = _options(args, "steps", "minutes", "jobs", "threads")
        command = _command_line(args.command_line)
        for s in bench.train(dataset, folder, names=args.only, **options, command=command, progress=not args.quiet):
            print(
                f"{s['name']}: {s['reason']} after {s['steps']} steps ({s['frames']} frames), {s['seconds']:.0f} s, "
                f"{s['frames_per_s']} frames/s on {s['threads']} thread(s)",
                file=sys.stderr,
            )
    for row in bench.evaluate(dataset, folder or bench.BENCH_DIR, shifts=args.shifts):
        print(f"{row['name']} test_nll {row['test_nll']:.3f} valid_nll {row['valid_nll']:.3f}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="musewidgets", description="Compose with neural networks: corpus styles, rendering and more."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("styles", help="list the corpus styles: name, pieces, voices, source")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar if a style must be built")
    p.set_defaults(func=_cmd_styles)

    p = sub.add_parser("render", help="convert a MIDI, MusicXML or ABC file to sound, score, picture or file")
    p.add_argument("input", help="a .mid, .midi, .musicxml, .xml, .mxl, .abc or .krn file, or a melody in ABC")
    add_outputs(p)
    p.set_defaults(func=_cmd_render, writes={"output": MUSIC})

    _add_training(sub)
    _add_composing(sub)
    _add_listening(sub)

    p = sub.add_parser("models", help="list the shipped checkpoints (or your own): family, styles, test NLL")
    p.add_argument("--dir", metavar="FOLDER", help="list the checkpoints in FOLDER instead (musewidgets train --out)")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("sessions", help="list the Workbench sessions saved on this computer (or delete them)")
    p.add_argument("--clear", action="store_true", help="delete every saved session and its takes (asks first)")
    p.add_argument("--yes", action="store_true", help="with --clear: delete without asking")
    p.set_defaults(func=_cmd_sessions)

    _add_bench(sub)

    p = sub.add_parser("corpus", help="build the corpus styles from music21's bundled corpus")
    corpus_sub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    b = corpus_sub.add_parser("build", help="parse the sources again and write the cache (or the packaged copy)")
    b.add_argument("--style", action="append", help="style to build (repeat; default all)")
    b.add_argument(
        "--packaged",
        action="store_true",
        help="write the copy shipped in the package (musewidgets/data/corpus) instead of the user cache",
    )
    b.add_argument("--limit", type=positive_int, help="read only the first N source files")
    b.add_argument("--workers", type=positive_int, help="processes to use (default: one per core)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_cmd_corpus_build)
    return parser


def _add_training(sub) -> None:
    """The commands that train models and write their cards."""
    p = sub.add_parser("train", help="train a model family (or the style classifier) on corpus styles")
    p.add_argument("--model", required=True, choices=["rnn", "lstm", "transformer", "gan", "classifier", "infill"])
    p.add_argument("--style", action="append", help="style to train on (repeat; default all four)")
    p.add_argument(
        "--data",
        metavar="FOLDER",
        help="train on your own music instead: every MIDI, MusicXML and ABC file under FOLDER (rnn, lstm, "
        "transformer); it is read once into a token store in OUT/store and reused",
    )
    p.add_argument("--style-name", help="with --data: the name of the style your music becomes (default: FOLDER's)")
    p.add_argument("--minutes", type=positive_float, default=10.0, help="wall-clock budget (default 10)")
    p.add_argument("--out", required=True, help="folder for the checkpoint and model card")
    p.add_argument("--max-steps", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=positive_float, help="peak learning rate (default per family)")
    p.add_argument(
        "--anneal",
        action="store_true",
        help="rnn, lstm, transformer: lower the learning rate along a cosine to a tenth at --max-steps (default: "
        "it stays at its peak)",
    )
    p.add_argument(
        "--ending-bars",
        type=positive_int,
        default=4,
        help="rnn, lstm, transformer: bars before a piece's end over which the model learns how many are left "
        "(default 4)",
    )
    p.add_argument("--seq-len", type=positive_int, default=512, help="tokens per training window (default 512)")
    p.add_argument("--eval-every", type=positive_int, default=200, help="steps between validations (default 200)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--limit-pieces", type=positive_int, help="use only the first N pieces of each split")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="model config override, e.g. hidden=256")
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in --out, exactly as if never stopped"
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of weights, batches and dropout (default 0)")
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        help="start from this checkpoint's weights (a shipped name or .pt of the same family)",
    )
    p.add_argument("--no-cards", action="store_true", help="do not evaluate and write model cards at the end")
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train, writes={"out": FOLDER})

    p = sub.add_parser("cards", help="evaluate the checkpoints in a folder and write their model cards")
    p.add_argument("folder")
    p.set_defaults(func=_cmd_cards, writes={"folder": EXISTING_FOLDER})


def _add_composing(sub) -> None:
    """The commands that make music: generate and harmonize."""
    p = sub.add_parser("generate", help="sample a new piece and save it by suffix")
    p.add_argument("--model", default="lstm", help="shipped model: rnn, lstm, transformer, gan (default lstm)")
    p.add_argument("--checkpoint", help="a .pt checkpoint file instead of a shipped model")
    p.add_argument("--style", help="one of the model's styles (default: its only one, where it knows one)")
    p.add_argument("--temperature", type=non_negative_float, default=1.0, help="0 = always the likeliest note")
    p.add_argument("--top-k", type=non_negative_int, default=0, help="keep the K likeliest tokens (0 = off)")
    p.add_argument("--top-p", type=probability, default=1.0, help="keep the likeliest tokens up to P (1 = off)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        help="the same seed and settings make the same take (default: a new seed, shown)",
    )
    p.add_argument("--bars", type=positive_int, default=8)
    p.add_argument("--primer", help="a MIDI, MusicXML or ABC file to continue")
    p.add_argument(
        "--strict", action="store_true", help="strict voice leading: no parallel fifths or octaves, no crossings"
    )
    p.add_argument(
        "--key", help="key to compose in: 'D minor', 'Dm', 'd', 'F#', 'Bb major' ... (default: one the style uses)"
    )
    p.add_argument("--metre", help="time signature, e.g. 6/8 (default: the style's most common)")
    p.add_argument(
        "--upbeat",
        type=upbeat,
        help="notes before the first bar line, as a note value: 1/8, 1/4 ... or 0 to start on the downbeat "
        "(default: as often as the style's pieces start with one, drawn from the seed)",
    )
    p.add_argument("--keep-going", action="store_true", help="do not end like a piece: stop as if the music went on")
    add_guide(p, "key, cadence, held_final, repeats, style, pitch, parallels, grid")
    add_outputs(p)
    p.set_defaults(func=_cmd_generate, writes={"output": MUSIC})

    p = sub.add_parser(
        "harmonize",
        help="harmonize a melody: kept note for note as the top voice, the other voices written by a sequence model "
        "(the transformer) and their cadence by the infill model",
    )
    p.add_argument(
        "input",
        help="the melody: a .mid, .midi, .musicxml, .xml, .mxl, .abc or .krn file (its top part), or the melody in "
        "ABC itself, e.g. 'G A B G | c B A2 |]'",
    )
    p.add_argument("--style", default="chorale", help="a four-voice style: chorale (default) or renaissance")
    p.add_argument(
        "--model",
        default="transformer",
        help="the shipped model that writes the voices: transformer (default), lstm or rnn; or infill, which writes "
        "them alone by Gibbs sampling",
    )
    p.add_argument("--checkpoint", help="a .pt checkpoint file (sequence or infill model) instead of a shipped model")
    p.add_argument("--key", help="the melody's key where it has none written: 'D minor', 'Dm', 'F#' ...")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument(
        "--temperature", type=non_negative_float, default=1.0, help="of the notes chosen (default 1; 0 = likeliest)"
    )
    p.add_argument("--iterations", type=non_negative_int, help="the infill model's Gibbs rounds (default 96)")
    add_guide(p, "parallels, cadence, held_final, pitch")
    p.add_argument("--unguided", action="store_true", help="the model alone: the same as --guide off")
    add_outputs(p)
    p.set_defaults(func=_cmd_harmonize, writes={"output": MUSIC})


def _add_listening(sub) -> None:
    """The commands that listen: classify, similar and the scorecard."""
    p = sub.add_parser("classify", help="which style a piece sounds like ('unsure' first if far from all); its mood")
    p.add_argument("input", help="a .mid, .midi, .musicxml, .xml, .mxl, .abc or .krn file")
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("similar", help="the corpus pieces that sound most like a piece")
    p.add_argument("input", help="a .mid, .midi, .musicxml, .xml, .mxl, .abc or .krn file")
    p.add_argument("-k", type=positive_int, default=5, help="how many neighbours (default 5, at most 100)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar if the index must be built")
    p.set_defaults(func=_cmd_similar)

    p = sub.add_parser(
        "scorecard",
        help="how close each model's takes come to the real music of each style",
        description="For every model and style: seeded takes beside as many real held-out excerpts of the same "
        "length, told apart by three judges beside their real-against-real floors; prints a markdown table (see "
        "musewidgets.evaluation.scorecard for every column).",
    )
    p.add_argument("--takes", type=positive_int, default=64, help="takes per model and style (2..64, default 64)")
    p.add_argument("--bars", type=positive_int, default=8, help="bars per take (default 8)")
    p.add_argument("--model", action="append", help="shipped model or .pt file (repeat; default all four)")
    p.add_argument("--style", action="append", help="style (repeat; default all)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--split", choices=("test", "valid"), default="test", help="real excerpts' split (develop: valid)")
    p.add_argument("--strict", action="store_true", help="add a row in strict voice leading beside each model's")
    p.add_argument(
        "--unguided", action="store_true", help="add a row without guidance (the model alone) beside each model's"
    )
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write the page docs/scorecard.md is made of")
    p.add_argument("--cards", metavar="FOLDER", help="also put each model's rows into its model card in FOLDER")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_scorecard, writes={"json": FILE, "markdown": FILE, "cards": EXISTING_FOLDER})


def _add_bench(sub) -> None:
    """The benchmarks against the literature."""
    p = sub.add_parser("bench", help="quality benchmarks against the literature")
    bench_sub = p.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    b = bench_sub.add_parser(
        "jsb",
        help="frame NLL of the benchmark models on JSB Chorales (or any .mat in its format)",
        description="Evaluate the benchmark checkpoints on the test and valid splits of a .mat frame dataset "
        "(traindata/validdata/testdata of (T, 88) binary frames: JSB Chorales, Nottingham, MuseData, Piano-midi.de) "
        "and print '<name> test_nll <v> valid_nll <v>' per model; --train trains them from scratch first.",
    )
    b.add_argument("--data", help="the .mat file (default: $MUSEWIDGETS_JSB or shared/data/jsb beside the project)")
    b.add_argument("--models", help="folder of benchmark checkpoints to evaluate (default: the shipped ones)")
    b.add_argument("--train", action="store_true", help="train the models from scratch, then evaluate them")
    b.add_argument("--out", help="with --train: folder for checkpoints and cards (default ./bench-<dataset>)")
    b.add_argument("--only", action="append", metavar="NAME", help="with --train: train only this model (repeat)")
    budget = b.add_mutually_exclusive_group()
    budget.add_argument(
        "--steps", type=positive_int, help="with --train: optimizer steps per model (default: each model's own)"
    )
    budget.add_argument(
        "--minutes", type=positive_float, help="with --train: wall-clock minutes per model instead of steps"
    )
    b.add_argument("--jobs", type=positive_int, default=1, help="with --train: models trained side by side")
    b.add_argument(
        "--threads",
        type=positive_int,
        help="with --train: torch threads per job (default: half the cores shared out between the jobs; more is "
        "faster on a quiet machine and stalls when another process is busy)",
    )
    b.add_argument(
        "--shifts",
        type=int,
        default=0,
        help="score each model mixed over the pieces read transposed by -N..N keys, 0..6 (the model cards show "
        "the mixture over -3..3); default 0: one reading, as the published figures are",
    )
    b.add_argument("--command-line", help=argparse.SUPPRESS)
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_cmd_bench_jsb, writes={"out": FOLDER})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.argv = argv  # the command as given, for the line that makes a take again
    try:
        check_outputs(args)  # every path a command writes, before any work
        args.func(args)
    except (MusewidgetsError, ValueError) as err:
        print(f"musewidgets: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. an output folder that does not exist
        print(f"musewidgets: error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("musewidgets: interrupted", file=sys.stderr)
        return 130
    return 0
