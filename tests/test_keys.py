"""Key names as musicians write them: ``--key Dm`` was refused (issue 33)."""

from __future__ import annotations

import pytest

from musewidgets.keys import key_from_text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("D minor", "D minor"),
        ("Dm", "D minor"),
        ("d", "D minor"),  # a lower-case letter alone: minor
        ("D", "D major"),
        ("F#", "F# major"),
        ("f#", "F# minor"),
        ("Bb", "Bb major"),
        ("Bbm", "Bb minor"),
        ("bb MINOR", "Bb minor"),
        ("C major", "C major"),
        ("c major", "C major"),  # the mode said wins over the letter's case
        ("Dmaj", "D major"),
        ("E min", "E minor"),
        ("B flat major", "Bb major"),
        ("F-sharp minor", "F# minor"),
        ("E♭", "Eb major"),
        ("A# minor", "Bb minor"),  # the usual spelling of the tonic
        (" G major ", "G major"),
    ],
)
def test_short_forms_name_the_key_meant(text, key):
    assert key_from_text(text) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("H major", "must look like 'D minor', 'Dm', 'F#' or 'Bb major'"),
        ("Dmm", "must look like"),
        ("", "must look like"),
        ("Cm7", "must look like"),
        (7, "must look like"),
        ("D dorian", "must be a major or minor key"),
    ],
)
def test_what_names_no_key_is_refused_saying_what_would(text, message):
    with pytest.raises(ValueError, match=message):
        key_from_text(text)
