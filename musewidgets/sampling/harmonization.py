"""Harmonize a melody: a sequence model writes the voices under it, step by step; the infill model writes its cadence.

::

    harmonize(melody, style="chorale", seed=0)                     # the transformer's lines, the infill's cadence
    harmonize(melody, style="chorale", seed=0, model="infill")     # Gibbs sampling alone (Coconet's way)

**The lines.** The melody's tokens are kept as given in the top voice (:attr:`~.core.Plan.fixed`) and a sequence model
(the shipped ``transformer`` by default) writes the other voices step by step, each step after the melody's note at
it, as it writes a take of its own: the same priors, told the melody's key (its written key, else the key estimated
from its notes). Two priors of a free take are off, as they do not apply to a given melody: choosing among candidates
heard in the key (the melody sets the key) and bars returning note for note (the melody sets what returns). The
voices end where the melody ends.

**The cadence.** A sequence model does not hear where the melody goes next, and a cadence is planned from its last
notes. So the voices under the melody's last bar, and under its next-to-last note where that starts earlier (the
cadence's two chords), are then written again by the ``infill`` model, which reads the whole melody, with its cadence
prior (:func:`.infill.fill`). On the valid endings, rewriting the last bar alone, 0.66 of the settings ended in a
perfect or plagal cadence; from the next-to-last note, 0.89 (Bach's: 0.97).

**Why not the infill model alone**, as until issue 31: on the valid split's chorale endings (38 sopranos, 8 bars), its
voices moved by step in 0.55 / 0.42 / 0.28 of their moves (alto / tenor / bass) against Bach's 0.79 / 0.76 / 0.69,
and the judges of :mod:`musewidgets.evaluation.judge` told its settings from Bach's 1.00 / 0.99 of the time (logistic
/ boosting). The transformer's lines with the infill model's cadence: 0.76 / 0.69 / 0.59 and 0.77 / 0.72. The figures
on the test split, computed once: ``python -m benchmarks.compose`` (docs/benchmarks.md).

**Randomness** comes from generators seeded with ``seed``: the same melody and settings give the same notes, bit for
bit, on the same machine.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace

import torch

from ..checkpoints import Checkpoint, load_checkpoint, resolve
from ..codecs.tokens import REST
from ..errors import CheckpointError
from ..keys import estimate_key
from ..piece import Piece, pitch_name
from .core import check_key, check_temperature
from .guidance import Guidance
from .infill import TranspositionWarning, bar_mask, fill, load_infill, prepare_harmonization
from .infill import harmonize as harmonize_infill

__all__ = ["DEFAULT_WRITER", "FINISHER", "harmonize", "iter_harmonize", "load_writer"]

DEFAULT_WRITER = "transformer"  # the shipped sequence model that writes the voices
FINISHER = "infill"  # the shipped infill model that writes the cadence again


def load_writer(model="transformer") -> Checkpoint:
    """The checkpoint of a model that can write the voices under a melody: a sequence model (``transformer``,
    ``lstm``, ``rnn``, a path of your own, a loaded checkpoint or a sampler of one) or an infill model.

    Raises
    ------
    CheckpointError
        If it cannot be loaded, or holds a model that cannot (the GAN, the style classifier).
    """
    checkpoint = getattr(model, "checkpoint", model)
    if not isinstance(checkpoint, Checkpoint):
        with torch.random.fork_rng(devices=[]):  # building a model draws initial weights: not from the caller's
            checkpoint = load_checkpoint(resolve(model))
    if checkpoint.family not in ("rnn", "lstm", "transformer", "infill"):
        raise CheckpointError(
            f"a {checkpoint.family} model cannot harmonize: use a sequence model (transformer, lstm, rnn) or infill"
        )
    return checkpoint


def iter_harmonize(
    melody: Piece,
    *,
    style: str = "chorale",
    seed: int = 0,
    model="transformer",
    finish="infill",
    temperature: float = 1.0,
    guide: bool | str | dict | Guidance = True,
    iterations: int | None = None,
    key: str | None = None,
) -> Iterator[Piece]:
    """Yield the harmonization as it is written (after every bar, then with its cadence); the last is complete.

    Arguments as for :func:`harmonize`. Warns (:class:`~.infill.TranspositionWarning`) when the melody is moved into
    the soprano range, once, before the first yield.
    """
    writer = load_writer(model)
    if writer.family == "infill":  # Gibbs sampling alone
        yield harmonize_infill(
            melody,
            style=style,
            seed=seed,
            model=writer,
            temperature=temperature,
            guide=guide,
            iterations=iterations,
            key=key,
        )
        return
    check_temperature(temperature)
    key = check_key(key) if key is not None else None
    finisher = load_infill(finish) if finish is not None else None
    base, _, shift = prepare_harmonization(melody, style=style, model=finisher or writer)
    if shift:
        _warn_moved(shift, (finisher or writer).styles[style]["parts"][0][2], style)
    key = key or base.key or estimate_key(base)
    from .sampler import Sampler

    sampler = Sampler(writer)
    g = replace(Guidance.of(guide), key=0.0, repeats=0.0)  # see the module docstring
    plan = sampler.plan(style=style, bars=max(1, base.n_bars), temperature=temperature, seed=seed, guide=g)
    fixed = torch.full((base.pickup + base.n_bars * base.steps_per_bar, len(base.parts)), -1, dtype=torch.long)
    melody_tokens = writer.codec.encode(base).tokens.reshape(-1, len(base.parts))[:, 0]
    if len(melody_tokens) != len(fixed):
        raise ValueError(f"the melody's grid has {len(melody_tokens)} steps where its bars make {len(fixed)}")
    fixed[:, 0] = torch.as_tensor(melody_tokens)
    fixed[base.parts[0].end :, 1:] = REST  # the voices end with the melody
    plan = replace(plan, time_signature=tuple(base.time_signature), pickup=base.pickup, key=key, fixed=fixed)
    piece = None
    for [piece] in sampler.write(plan):
        yield piece.replace(key=key, title=melody.title)
    if finisher is not None and style in finisher.styles and piece.n_bars >= 2:
        mask = bar_mask(piece, (piece.n_bars - 1, piece.n_bars), range(1, len(piece.parts)))
        notes = piece.parts[0].notes
        if len(notes) >= 2:  # the cadence's two chords: from the melody's next-to-last note on
            mask[1:, min(notes[-2].start, mask.shape[1]) :] = True
        settings = dict(style=style, seed=seed, temperature=temperature, guide=guide, iterations=iterations, key=key)
        piece = fill(finisher, piece, mask, **settings)
        yield piece.replace(key=key, title=melody.title)


def _warn_moved(shift: int, soprano: tuple[int, int], style: str) -> None:
    low, high = soprano
    warnings.warn(
        f"the melody was moved {'up' if shift > 0 else 'down'} {abs(shift)} semitones into the {style} soprano "
        f"range ({pitch_name(low)} to {pitch_name(high)})",
        TranspositionWarning,
        stacklevel=3,
    )


def harmonize(melody: Piece, **settings) -> Piece:
    """A harmonization of ``melody``: the melody, note for note, as the top voice, the other voices written by a
    sequence model and their cadence by the infill model (see the module docstring).

    Parameters
    ----------
    melody : Piece
        Its one part, or its top part (part 0), is the melody: one note at a time. Metre, pickup, tempo and length
        come from it; so does the key where it has one (a written key), else it is estimated from its notes. A melody
        outside the style's soprano range is moved into it (by octaves where that is enough, else by the fewest
        semitones) with a :class:`~.infill.TranspositionWarning` that says by how much.
    style : str, default "chorale"
        A style of more than one voice that both models know (shipped: chorale, renaissance).
    seed : int, default 0
    model : str, path, Checkpoint or Sampler, default "transformer"
        The model that writes the voices: a sequence model (``transformer``, ``lstm``, ``rnn`` or a checkpoint of
        your own), or an infill model, which then writes them alone by Gibbs sampling
        (:func:`musewidgets.sampling.infill.harmonize`).
    finish : str, path or Checkpoint, default "infill"
        The infill model that writes the cadence again (the last bar, from the melody's next-to-last note);
        ``None``: the sequence model's own.
    temperature : float, default 1.0
        Of both models' choices (0: always the likeliest).
    guide : bool, str, dict or Guidance, default True
        The priors' strengths (:class:`~musewidgets.sampling.guidance.Guidance`); ``False``: the models alone.
    iterations : int, optional
        Gibbs rounds of the infill model (default :data:`~.infill.DEFAULT_ROUNDS`).
    key : str, optional
        The melody's key, where it has none written or it is wrong (``'D minor'``).

    Raises
    ------
    ValueError
        If the melody has no notes, chords, another grid, or fits the soprano range in no transposition.
    """
    *_, last = iter_harmonize(melody, **settings)
    return last
