"""The ``musewidgets`` command: argparse front door to styles, rendering and corpus building.

Every failure that is about the user's input prints one line to stderr and exits with status 1; usage mistakes exit
with status 2 (argparse's convention). No traceback reaches the terminal for either.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import MusewidgetsError

__all__ = ["main"]


def _cmd_styles(args: argparse.Namespace) -> None:
    from . import corpus

    for style in corpus.styles():
        print(corpus.load_style(style.name, progress=not args.quiet).summary())


def _cmd_render(args: argparse.Namespace) -> None:
    from . import export, io

    outputs = [Path(o) for o in args.output]
    for out in outputs:  # refuse before reading, so nothing is half done
        export.check_exportable(out)
    piece, report = io.read_with_report(args.input)
    if report.changed or report.remarks:
        print(f"note: {report}", file=sys.stderr)
    for out in outputs:
        export.save(piece, out)
        print(f"wrote {out}")


def _cmd_corpus_build(args: argparse.Namespace) -> None:
    from . import corpus

    names = args.style or list(corpus.STYLES)
    for name in names:
        corpus.get_style(name)  # unknown names fail before any work
    for name in names:
        t0 = time.perf_counter()
        built = corpus.build_style(name, limit=args.limit, workers=args.workers, progress=not args.quiet)
        target = corpus.PACKAGED_DIR if args.packaged else corpus.cache_dir()
        path = corpus.save_corpus(built, target / f"{name}.npz")
        skipped = ", ".join(f"{n} {reason}" for reason, n in built.skipped.items()) or "none"
        print(
            f"{name}: {len(built)} pieces from {built.info['source_files']} files in "
            f"{time.perf_counter() - t0:.1f} s -> {path} (skipped: {skipped})"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musewidgets", description="Compose with neural networks: corpus styles, rendering and more."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("styles", help="list the corpus styles: name, pieces, voices, source")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar if a style must be built")
    p.set_defaults(func=_cmd_styles)

    p = sub.add_parser("render", help="convert a MIDI, MusicXML or ABC file to sound, score, picture or file")
    p.add_argument("input", help="a .mid, .midi, .musicxml, .xml, .mxl, .abc or .krn file")
    p.add_argument(
        "-o",
        "--output",
        action="append",
        required=True,
        metavar="OUT",
        help="output file: .wav (audio), .svg (score), .png (piano roll), .mid, .musicxml or .mxl; repeat for several",
    )
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("corpus", help="build the corpus styles from music21's bundled corpus")
    corpus_sub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    b = corpus_sub.add_parser("build", help="parse the sources again and write the cache (or the packaged copy)")
    b.add_argument("--style", action="append", help="style to build (repeat; default all)")
    b.add_argument(
        "--packaged",
        action="store_true",
        help="write the copy shipped in the package (musewidgets/data/corpus) instead of the user cache",
    )
    b.add_argument("--limit", type=_positive_int, help="read only the first N source files")
    b.add_argument("--workers", type=_positive_int, help="processes to use (default: one per core)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_cmd_corpus_build)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except MusewidgetsError as err:
        print(f"musewidgets: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. an output folder that does not exist
        print(f"musewidgets: error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("musewidgets: interrupted", file=sys.stderr)
        return 130
    return 0
