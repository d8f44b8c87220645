"""Foreign music files in and out: MIDI through pretty_midi, MusicXML, ABC and Humdrum through music21.

This is the only package that talks to music21 and pretty_midi parsers. Everything it reads becomes a
:class:`~musewidgets.piece.Piece` on the step grid; whatever had to move to fit the grid is counted in a
:class:`QuantizeReport`. Every failure to read becomes one :class:`~musewidgets.errors.MusicFileError` whose message
names the file and the reason.

=============  ======================================================================================================
``reading``    :func:`read`, :func:`read_all`, :func:`read_with_report`: any format, by suffix or content;
               :func:`read_abc_melody`: a melody typed in ABC
``limits``     the ``MAX_*`` reading limits, checked on a file's bytes before any parser sees it
``midi``       MIDI through mido and pretty_midi (:func:`to_midi`)
``musicxml``   MusicXML, .mxl and Humdrum through music21 (:func:`to_musicxml`)
``abc``        ABC tunes and books through music21
``streams``    music21 streams to and from pieces (:func:`from_stream`, :func:`to_stream`)
``quantize``   the step grid: :class:`QuantizeReport`, and the checks every piece read passes
``writing``    :func:`write`, by suffix
=============  ======================================================================================================

Nothing here imports music21, mido or pretty_midi until a file is read or written.
"""

from __future__ import annotations

from .limits import (  # noqa: F401 (the reading limits, documented as musewidgets.io.MAX_*)
    MAX_ABC_BAR,
    MAX_ABC_BARS,
    MAX_ABC_CHANGES,
    MAX_ABC_GRACE_NOTES,
    MAX_ABC_LENGTH,
    MAX_ABC_TUNES,
    MAX_BAR_BEATS,
    MAX_BARS,
    MAX_FILE_BYTES,
    MAX_MEASURES,
    MAX_MIDI_EVENTS,
    MAX_NOTES,
    MAX_UNZIPPED_BYTES,
)
from .midi import to_midi
from .musicxml import to_musicxml
from .quantize import QuantizeReport
from .reading import READ_SUFFIXES, Source, looks_like_abc, read, read_abc_melody, read_all, read_with_report  # noqa: F401
from .streams import from_stream, to_stream
from .writing import WRITE_SUFFIXES, check_writable, write

__all__ = [
    "QuantizeReport",
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "check_writable",
    "from_stream",
    "looks_like_abc",
    "read",
    "read_abc_melody",
    "read_all",
    "read_with_report",
    "to_midi",
    "to_musicxml",
    "to_stream",
    "write",
]
