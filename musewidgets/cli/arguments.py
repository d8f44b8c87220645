"""The command line's argument types: each turns an option's text into its value, or says in argparse's words why
it cannot, so that a usage mistake is one line, never a traceback."""

from __future__ import annotations

import argparse

__all__ = [
    "OneLineParser",
    "add_guide",
    "add_outputs",
    "guidance",
    "int_at_least",
    "non_negative_float",
    "non_negative_int",
    "parse_as",
    "positive_float",
    "positive_int",
    "probability",
    "upbeat",
    "version",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser, whose usage mistakes are one line (the mistake and where help is) instead of the whole
    usage block and the mistake below it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; try '{self.prog} --help'\n")


def add_outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        action="append",
        required=True,
        metavar="OUT",
        help="output file: .wav (audio), .svg (score), .png (piano roll), .mid, .musicxml or .mxl; repeat for several",
    )


def parse_as(text: str, cast: type, kind: str):
    """``cast(text)``; argparse's error saying the option must be ``kind`` where ``text`` is not one."""
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None


def int_at_least(text: str, low: int) -> int:
    value = parse_as(text, int, "a whole number")
    if value < low:
        bound = "at least 1" if low == 1 else f"{low} or more"
        raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
    return value


def upbeat(text: str) -> int:
    """``--upbeat``: a note value (``1/8``, ``1/4``, ``3/8``; ``0`` for none) as steps of a sixteenth, the grid every
    shipped model writes on; argparse's error where it is not one."""
    from fractions import Fraction

    value = parse_as(text, Fraction, "a note value such as 1/8 or 1/4, or 0")
    steps = value * 16
    if value < 0 or steps.denominator != 1:
        raise argparse.ArgumentTypeError(
            f"must be a note value of whole sixteenths (1/16, 1/8, 3/16, 1/4 ...) or 0, got {text!r}"
        )
    return int(steps)


def positive_int(text: str) -> int:
    return int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return int_at_least(text, 0)


def guidance(text: str) -> str:
    """``text`` if it names guidance strengths (``cadence=0,key=2``, ``on``, ``off``); argparse's error if not."""
    from ..sampling.guidance import Guidance

    try:
        return str(Guidance.parse(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_guide(p: argparse.ArgumentParser, priors: str) -> None:
    what = f"strengths of the sampling priors ({priors}): 1 as shipped, 0 off, e.g. 'cadence=0' or 'off' (default on)"
    p.add_argument("--guide", type=guidance, default="on", help=what)


def non_negative_float(text: str) -> float:
    value = parse_as(text, float, "a number")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def probability(text: str) -> float:
    value = non_negative_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def version() -> str:
    from .. import __version__

    return __version__
