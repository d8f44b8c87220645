"""ABC tunes, read through music21: a book split into its tunes (:func:`abc_tunes`), each parsed alone and mended
on the way (:func:`parse_abc`), and a mistake in a tune said in words (:func:`abc_mistake`)."""

from __future__ import annotations

import functools
import re

from ..errors import MusicFileError
from .limits import ABC_FIELD_LINE, shown

__all__ = ["abc_mistake", "abc_tunes", "parse_abc"]


def abc_mistake(data: bytes) -> str | None:
    """A mistake in an ABC text that explains why music21 failed on it (or read no notes), in words: an L: or M:
    field that is none, a note length divided by 0 or of 0, a " never closed."""
    for field_, what in ((b"L", "a note length"), (b"M", "a time signature")):
        for value in re.findall(rb"(?m)(?:^|\[)%s:([^\]\n%%]*)" % field_, data):
            ok = rb"\s*\d+\s*(/\s*\d+\s*)?" if field_ == b"L" else rb"\s*(\(?[\d+]+\)?\s*/\s*\d+|[Cc]\|?|none)\s*"
            if not value.strip():
                return f"an empty {field_.decode()}: field (it needs {what})"
            if not re.fullmatch(ok, value):
                return f"{field_.decode()}:{shown(value)} is not {what}"
    note = re.search(rb"(?m)^(?![A-Za-z+]:(?![:|]))[^%\n]*?([A-Ga-gz][,']*\d*/0+)(?!\d)", data)
    if note:
        return f"a note length divided by 0 ({shown(note.group(1))})"
    note = re.search(rb"(?m)^(?![A-Za-z+]:(?![:|]))[^%\n]*?([A-Ga-gz][,']*0+)(?![\d/])", data)
    if note:  # music21 takes it, but not in a tuplet
        return f"a note of length 0 ({shown(note.group(1))})"
    for line in data.splitlines():
        if not ABC_FIELD_LINE.match(line) and line.split(b"%")[0].count(b'"') % 2:
            return f'a " that is never closed ({shown(line)}); chord symbols and text are written "Am", "^text"'
    return None


def abc_tunes(text: str, name: str) -> list[str]:
    """The tunes of an ABC text in music21's order (by X: number; of two tunes with one number, the later), each
    with the file's header (what comes before the first X:) in front, as music21 reads them."""
    marks = list(re.finditer(r"(?m)^X:(.*)$", text))
    if not marks:
        return [text]
    header, tunes = text[: marks[0].start()], {}
    for mark, end in zip(marks, [m.start() for m in marks[1:]] + [len(text)]):
        value = mark.group(1).split("%")[0].strip()
        try:
            number = int(value)
        except ValueError:
            raise MusicFileError(f"{name}: X:{value} is not a tune number (X:1, X:2, ... number the tunes)") from None
        tunes[number] = text[mark.start() : end]
    return [header + tunes[number] for number in sorted(tunes)]


_ABC_TEMPO = re.compile(r"(?m)^Q:(.*)$|\[Q:([^\]\n]*)\]")


# slurs: a ( not opening a tuplet, a ); text, comments, decorations, inline fields and field lines are kept whole
_ABC_SLUR = re.compile(r'(?m)^[A-Za-z+]:.*$|"[^"\n]*"|%.*$|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]|\((?!\d)|\)')


def _slurs_closed_at_once(tune: str) -> str:
    """The tune with every slur closed where it opens, ``(`` becoming ``()`` and its ``)`` gone: music21 adds each
    later note to every open slur, which takes seconds in a long tune (17 s with slurs never closed, 5-20 s with a
    slur that spans a repeated half of a tune). A piece keeps no slurs, so nothing read is lost; the ``(`` stays
    where it was (music21 reads a broken rhythm across it otherwise)."""
    out, last, open_slurs = [], 0, 0
    for m in _ABC_SLUR.finditer(tune):
        if m.group(0) == "(":
            out.append(tune[last : m.end()] + ")")
            last, open_slurs = m.end(), open_slurs + 1
        elif m.group(0) == ")" and open_slurs:  # the end of a slur closed already; a stray ) stays for music21
            out.append(tune[last : m.start()])
            last, open_slurs = m.end(), open_slurs - 1
    return "".join(out) + tune[last:]


def parse_abc(tune: str) -> tuple[list, list[str]]:
    """One ABC tune as music21 scores, and remarks on what was mended on the way: a tempo of 0 is dropped; a tune
    without L: or M: gets ABC's default note length (an eighth), which music21 knows only from M:; slurs are closed
    where they open (music21 adds every later note to each open slur: a tune with many read for 17 s)."""
    remarks = []

    def zero_tempo(match: re.Match) -> str:
        value = match.group(1) if match.group(1) is not None else match.group(2)
        number = re.sub(r'"[^"]*"', "", value.split("%")[0]).rsplit("=", 1)[-1].strip()
        if not re.fullmatch(r"0+(\.0*)?|\.0+", number):
            return match.group(0)
        remarks.append(f"ignored Q:{value.strip()} (a tempo of 0 is not a tempo), read at 100")
        return ""

    tune = _ABC_TEMPO.sub(zero_tempo, tune)
    tune = _slurs_closed_at_once(tune)
    if not re.search(r"(?m)^[LM]:|\[[LM]:", tune):
        x = re.search(r"(?m)^X:.*$", tune)
        tune = tune[: x.end()] + "\nL:1/8" + tune[x.end() :] if x else "L:1/8\n" + tune
    try:
        scores = _scores(tune)
    except Exception:  # music21 fails on some tempo fields (Q:1/0=100, Q:abc): read without them
        fields = [m.group(0).strip("[]") for m in _ABC_TEMPO.finditer(tune)]
        if not fields:
            raise
        scores = _scores(_ABC_TEMPO.sub("", tune))  # or its own error
        remarks += [f"ignored {field} (not a tempo music21 can read), read at 100" for field in fields]
    return scores, remarks


@functools.cache
def _unbeamed_part() -> type:
    """A music21 ``Part`` whose ``makeBeams`` does nothing (made once, when music21 is first needed)."""
    from music21 import stream

    class Unbeamed(stream.Part):
        def makeBeams(self, *, inPlace=False, **keywords):  # noqa: N803 (music21's name)
            return None if inPlace else self

    return Unbeamed


def _scores(tune: str) -> list:
    """The scores of an ABC text as music21's ABC converter makes them (a score per X: number; a part per voice,
    each with the tune's header), with the title the only metadata, and without beams: a piece keeps none, and
    music21 beams each bar against the metre in force, slowly where the metre changes (a fuzzed tune spent 1.4 s of
    2.0 there)."""
    from music21 import abcFormat, metadata, stream
    from music21.abcFormat import translate

    handler = abcFormat.ABCFile().readstr(tune)
    works = handler.splitByReferenceNumber() if handler.definesReferenceNumbers() else {None: handler}
    scores = []
    for _, work in sorted(works.items(), key=lambda item: item[0] or 0):
        titles = [t.data for t in work.tokens if isinstance(t, abcFormat.ABCMetadata) and t.isTitle()]
        score = stream.Score()
        score.insert(0, metadata.Metadata(title=titles[0] if titles else None))
        voices = work.splitByVoice()
        for voice in voices if len(voices) == 1 else [voices[0] + v for v in voices[1:]]:
            score.coreInsert(0, translate.abcToStreamPart(voice, inputM21=_unbeamed_part()()))
        score.coreElementsChanged()
        scores.append(score)
    return scores
