"""Compose by filling in: annealed blocked Gibbs sampling with the ``infill`` model (Coconet, Huang et al. 2017).

Three entry points, each returning a new :class:`~musewidgets.piece.Piece`::

    fill(model, piece, mask, style="chorale", seed=0)      # any cells of the voices x steps grid
    harmonize(melody, style="chorale", seed=0)             # a melody kept note for note, the other voices written
    regenerate(piece, bars=(2, 4), voices=(1, 2), seed=0)  # only these bars of these voices change

**The grid** is the token codec's (:mod:`musewidgets.codecs.tokens`): one cell per voice per step (``REST``,
``HOLD`` or a pitch), from the start of the piece (its pickup included) to the bar line after its end; ``mask`` is a
bool array ``(voices, steps)`` of it (:func:`grid_steps`, :func:`bar_mask`), ``True`` where the model writes.

**Gibbs sampling.** First every masked cell is drawn from the model with all of them hidden. Then, for ``iterations``
rounds, a random block of the masked cells (each cell with probability ``alpha``) is hidden again and redrawn from
the model given everything else. ``alpha`` falls linearly from 0.9 to 0.05 over the first three quarters of the
rounds and stays there (Coconet's schedule: large blocks first, to leave a bad start behind, then small ones, which
the model predicts best). The cells of a block are drawn step by step (voices top down) from the one set of logits,
each seeing the cells drawn before it, so that the grid stays a valid piece at every moment: ``HOLD`` only where the
voice sounds at the step before, and no ``REST`` just before a ``HOLD`` that is kept. Pitches stay in each voice's
range (the style's, from the checkpoint).

**Two temperatures.** A cell is drawn in two parts: first whether it rests, holds or starts a note, at the model's
own odds (:data:`RHYTHM_TEMPERATURE` 1), then which note, at ``temperature`` (default 1), which falls linearly to
:data:`FINAL_TEMPERATURE` (0.7) of it over the rounds. Gibbs sampling at a low temperature settles where the model
is surest, and an orderless model is surest that a note goes on: cooled as a whole, the lower voices of a chorale
held on and played a fifth fewer notes than Bach's (12.9 against 16.3 a bar); cooled in their pitches only, they
play as many (16.4). Cooled too far (0.7 falling to 0.35) they grow diatonic and plain (pitch-class entropy 2.82
against Bach's 2.99, C2ST 0.75); from 1 to 0.7, 0.63-0.66 over three sets of seeds (``python -m
benchmarks.compose``).

**Guidance** (``guide``, as for the sequence models: :class:`~musewidgets.sampling.guidance.Guidance`), two priors
of :mod:`musewidgets.sampling.guidance`: *parallels*, a new note (or a ``HOLD`` that moves a note's end) costs
:data:`~musewidgets.sampling.guidance.PARALLEL_STRENGTH` logits per parallel fifth or octave it makes with the cells
on both sides (:func:`~musewidgets.sampling.guidance.parallels.parallel_cost`); and *cadence* (``ending=True``),
where the melody's last note lies in the tonic chord, the voices under it lean to a perfect or plagal cadence
(:func:`~musewidgets.sampling.guidance.cadence.infill_cadence`). What they do, measured: docs/guidance.md.

**What never changes.** Cells outside the mask keep their tokens, bit for bit, and their sound: a note that begins
inside the mask and sounds on into cells outside it is kept whole (its masked cells are taken out of the mask),
since changing its start would change what those cells play.

**Randomness** comes from one ``torch.Generator`` seeded with ``seed`` (the global random state is never touched):
the same model, piece, mask and settings give the same notes, bit for bit, on the same machine. Work runs on
:data:`~musewidgets.threads.SAMPLING_THREADS` torch thread(s), and the caller's count is restored.
"""

from __future__ import annotations

import bisect
import os
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..checkpoints import Checkpoint, load_checkpoint, resolve
from ..codecs.tokens import HOLD, PAD, PITCH0, REST
from ..errors import CheckpointError, UnknownStyleError
from ..keys import estimate_key
from ..piece import Note, Part, Piece, pitch_name
from ..threads import SAMPLING_THREADS, torch_threads
from .core import check_temperature
from .guidance import Guidance
from .guidance.cadence import infill_cadence
from .guidance.parallels import PARALLEL_STRENGTH, hold_cost, parallel_cost

__all__ = [
    "ALPHA_MAX",
    "ALPHA_MIN",
    "TranspositionWarning",
    "bar_mask",
    "fill",
    "grid_steps",
    "harmonize",
    "iter_fill",
    "load_infill",
    "prepare_harmonization",
    "regenerate",
]

ALPHA_MAX, ALPHA_MIN = 0.9, 0.05  # share of the masked cells redrawn per round, at the start and from 3/4 on
ANNEAL_SHARE = 0.75  # rounds over which alpha falls
FINAL_TEMPERATURE = 0.7  # the temperature falls to this share of the starting one
DEFAULT_ROUNDS = 96  # rounds when `iterations` is None
DEFAULT_TEMPERATURE = 1.0  # of the pitches, at the start of the rounds
RHYTHM_TEMPERATURE = 1.0  # rest, hold or a new note: drawn at the model's own odds (see the module docstring)


class TranspositionWarning(UserWarning):
    """:func:`harmonize` moved the melody into the style's soprano range."""


# ----------------------------------------------------------------------------------------------- the grid
def grid_steps(piece: Piece) -> int:
    """Steps of ``piece``'s grid: from its start (the pickup included) to the bar line at or after its end."""
    return piece.bar_start(piece.n_bars)


def bar_mask(piece: Piece, bars: tuple[int, int] | None = None, voices: Sequence[int] | None = None) -> np.ndarray:
    """Bool mask ``(voices, steps)`` of bars ``start .. stop - 1`` (bar 0 is the first full bar; -1 the pickup)
    of the given voices (part indices; default all).

    Raises
    ------
    ValueError
        Naming ``bars`` or ``voices`` when they do not fit the piece.
    """
    V, T = len(piece.parts), grid_steps(piece)
    start, stop = (-1 if piece.pickup else 0, piece.n_bars) if bars is None else bars
    first = -1 if piece.pickup else 0
    if not (isinstance(start, int) and isinstance(stop, int) and first <= start < stop <= piece.n_bars):
        raise ValueError(
            f"`bars` must be (start, stop) with {first} <= start < stop <= {piece.n_bars} (the piece's bars), "
            f"got {bars!r}"
        )
    chosen = list(range(V)) if voices is None else list(voices)
    if not chosen or any(not isinstance(v, (int, np.integer)) or not 0 <= v < V for v in chosen):
        raise ValueError(f"`voices` must be part indices from 0 to {V - 1}, got {voices!r}")
    mask = np.zeros((V, T), dtype=bool)
    lo = 0 if start == -1 else piece.bar_start(start)
    mask[chosen, lo : piece.bar_start(stop)] = True
    return mask


def _kept_whole(grid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` (T, V) without the cells of notes that sound on into cells outside it (see the module docstring)."""
    mask = mask.copy()
    T, V = grid.shape
    for v in range(V):
        for t in range(T - 1, 0, -1):
            if grid[t, v] == HOLD and not mask[t, v] and mask[t - 1, v]:
                s = t - 1
                while True:  # back to the note's onset, unmasking
                    mask[s, v] = False
                    if grid[s, v] != HOLD or s == 0:
                        break
                    s -= 1
    return mask


def _sounding(column: np.ndarray) -> np.ndarray:
    """The pitch each step of one voice's tokens (T,) sounds, -1 where it is silent."""
    T = len(column)
    is_event = column != HOLD
    is_event[0] = True
    last = np.maximum.accumulate(np.where(is_event, np.arange(T), 0))
    at = column[last]
    return np.where(at >= PITCH0, at - PITCH0, -1)


# ----------------------------------------------------------------------------------------------- model access
def load_infill(model: str | os.PathLike | Checkpoint | object = "infill") -> Checkpoint:
    """The :class:`~musewidgets.checkpoints.Checkpoint` of an infill model: a shipped name (``'infill'``), a
    checkpoint path, a loaded checkpoint or a :class:`~musewidgets.sampling.Sampler` of one.

    Raises
    ------
    CheckpointError
        If it cannot be loaded, or holds a model of another family.
    """
    checkpoint = getattr(model, "checkpoint", model)
    if not isinstance(checkpoint, Checkpoint):
        with torch.random.fork_rng(devices=[]):  # building the model draws initial weights: not from the caller's
            checkpoint = load_checkpoint(resolve(model))
    if checkpoint.family != "infill":
        name = checkpoint.path.name if checkpoint.path else "the model"
        raise CheckpointError(f"{name}: holds a {checkpoint.family} model; filling in needs an infill model")
    return checkpoint


class _Window:
    """Logits of a whole grid from a model that reads at most ``context`` steps: one pass, or overlapping windows
    (half a window apart), each cell's logits from the window in which it lies most central."""

    def __init__(self, model, cond: dict, T: int):
        self.model, self.cond, self.T = model, cond, T
        C = model.config.context
        if T <= C + C // 8:  # a pickup more than the training window: one pass (rotary positions are relative)
            self.starts, C = [0], T
        else:
            hop = max(1, C // 2)
            self.starts = sorted(set(list(range(0, T - C, hop)) + [T - C]))
        C = min(C, T)
        self.C = C
        centre = np.array([s + (C - 1) / 2 for s in self.starts])
        self.owner = np.abs(np.arange(T)[:, None] - centre[None]).argmin(1)  # (T,) window of each step

    def logits(self, cells: torch.Tensor, steps: np.ndarray) -> np.ndarray:
        """(T, V, vocab) logits (float64, rows of the windows that own ``steps``; others left 0)."""
        needed = sorted(set(self.owner[steps].tolist()))
        C = self.C
        batch = {
            "cells": torch.stack([cells[self.starts[w] : self.starts[w] + C] for w in needed]),
            **{k: torch.stack([v[self.starts[w] : self.starts[w] + C] for w in needed]) for k, v in self.cond.items()},
        }
        batch["metre"], batch["style"], batch["key"] = (batch.pop(k)[:, 0] for k in ("metre", "style", "key"))
        out, _ = self.model(batch)
        result = np.zeros((self.T, *out.shape[2:]), dtype=np.float64)
        for i, w in enumerate(needed):
            own = np.nonzero(self.owner == w)[0]
            result[own] = out[i, own - self.starts[w]].double().numpy()
        return result


# ----------------------------------------------------------------------------------------------- Gibbs


def iter_fill(
    model,
    piece: Piece,
    mask,
    *,
    style: str | None = None,
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    iterations: int | None = None,
    guide: bool | str | dict | Guidance = True,
    key: str | None = None,
    ending: bool = True,
    every: int | None = None,
) -> Iterator[Piece]:
    """Yield the piece as Gibbs sampling goes (after the first draw and every ``every`` rounds); the last is
    complete. Arguments as for :func:`fill`; ``every`` defaults to an eighth of the rounds."""
    ck = load_infill(model)
    net, codec = ck.model.eval(), ck.codec
    style = style or piece.style
    if style not in ck.styles:
        raise UnknownStyleError(f"unknown style {style!r}; this infill model knows: {', '.join(ck.styles)}")
    info = ck.styles[style]
    V = len(info["parts"])
    if len(piece.parts) != V:
        raise ValueError(f"`piece` has {len(piece.parts)} parts but style {style!r} has {V} voices")
    check_temperature(temperature)
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ValueError(f"`seed` must be a whole number >= 0, got {seed!r}")
    rounds = DEFAULT_ROUNDS if iterations is None else iterations
    if not (isinstance(rounds, int) and 0 <= rounds <= 10_000):
        raise ValueError(f"`iterations` must be a whole number from 0 to 10000, got {iterations!r}")
    enc = codec.encode(piece.replace(style=style))
    grid = enc.tokens.reshape(-1, V).copy()  # (T, V)
    T = len(grid)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (V, T):
        raise ValueError(
            f"`mask` must be a bool array of shape (voices, steps) = ({V}, {T}), got {mask.dtype} {mask.shape}"
        )
    ranges = [r for _, _, r in info["parts"]]  # what the model writes stays in the style's ranges
    free = _kept_whole(grid, mask.T)  # (T, V)
    g = Guidance.of(guide)
    cadence = None  # the cadence prior, where the melody's last note allows one
    if g.cadence and ending:
        cadence = infill_cadence(piece, grid, free, key, style, codec.steps_per_quarter, g.cadence)
    settings = dict(style=style, key=key, ending=ending, seed=seed, temperature=temperature, rounds=rounds)
    settings["cadence"] = cadence
    with torch_threads(SAMPLING_THREADS), torch.inference_mode():
        yield from _gibbs(net, codec, enc.header, ranges, grid, free, guide=g, every=every, **settings)


def _gibbs(
    net,
    codec,
    header,
    ranges,
    grid,
    free,
    *,
    style,
    key,
    ending,
    seed,
    temperature,
    rounds,
    guide,
    every,
    cadence,
):
    c = net.config
    T, V = grid.shape
    ts = tuple(header["time_signature"])
    spb = codec.steps_per_quarter * 4 * ts[0] // ts[1]
    _, bar_pos = codec.positions(T, 1, spb, header["pickup"])
    cond = {
        "bar_pos": torch.as_tensor(bar_pos),
        "to_end": torch.as_tensor(codec.to_end(T, 1, spb, T if ending else None)),
        "metre": torch.full((T,), codec.metre_index(ts)),
        "style": torch.full((T,), codec.style_index(style)),
        "key": torch.full((T,), codec.key_index(key)),
    }
    window = _Window(net, cond, T)
    allowed = np.full((V, c.vocab_size), -np.inf)  # REST, HOLD and the voice's range
    for v, rng in enumerate(ranges):
        low, high = rng if rng else (0, 127)
        allowed[v, [REST, HOLD]] = 0.0
        allowed[v, PITCH0 + low : PITCH0 + high + 1] = 0.0
    generator = torch.Generator().manual_seed(seed)
    state = np.where(free, REST, grid)
    cells = np.full((T, c.max_voices), PAD, dtype=np.int64)
    free_cells = np.argwhere(free)  # (n, 2) rows of (t, v), in time order
    strength = PARALLEL_STRENGTH * guide.parallels if V > 1 else 0.0
    every = every or max(1, rounds // 8)

    def decode():
        return codec.decode(state.reshape(-1), header)

    if not len(free_cells):
        yield decode()
        return
    for n in range(rounds + 1):
        if n == 0:
            block = np.ones(len(free_cells), dtype=bool)  # the first draw: every masked cell
            alpha, tau = 1.0, temperature
        else:
            progress = (n - 1) / max(1, rounds - 1)
            alpha = max(ALPHA_MIN, ALPHA_MAX - (ALPHA_MAX - ALPHA_MIN) * progress / ANNEAL_SHARE)
            tau = temperature * (1 - (1 - FINAL_TEMPERATURE) * progress)
            draw = torch.rand(len(free_cells), generator=generator).numpy()
            block = draw < alpha
            if not block.any():
                block[int(draw.argmin())] = True
        chosen = free_cells[block]
        hidden = np.zeros((T, V), dtype=bool)
        hidden[chosen[:, 0], chosen[:, 1]] = True
        cells[:, :V] = np.where(hidden, c.mask_token, state)
        logits = window.logits(torch.from_numpy(cells), chosen[:, 0])
        noise = None
        if tau > 0:  # Gumbel-max: the same draw as sampling from softmax(logits / tau)
            u = torch.rand((len(chosen), c.vocab_size), generator=generator, dtype=torch.float64).numpy()
            noise = -np.log(-np.log(np.clip(u, 1e-300, 1.0)))
        _draw_block(state, chosen, hidden, logits, allowed, noise, tau, strength, cadence)
        if n == rounds or (n % every == 0):
            yield decode()


def _draw_block(state, chosen, hidden, logits, allowed, noise, tau, strength, cadence=None) -> None:
    """Draw the cells ``chosen`` (k, 2) of ``state`` (T, V) in time order, voices top down, in place."""
    T, V = state.shape
    sounding = np.stack([_sounding(state[:, v]) for v in range(V)], axis=1)  # (T, V)
    onset = state >= PITCH0
    starts = onset.sum(1)  # (T,) notes starting at each step
    events = np.flatnonzero(starts).tolist()  # steps where any note starts, in order
    pending = hidden.copy()  # cells of the block not drawn yet
    for i, (t, v) in enumerate(chosen.tolist()):
        row = logits[t, v] + allowed[v]
        if t == 0 or sounding[t - 1, v] < 0:
            row[HOLD] = -np.inf  # nothing to hold
        if t + 1 < T and state[t + 1, v] == HOLD and not pending[t + 1, v]:
            row[REST] = -np.inf  # the next cell holds this one's note
        for lo, hi, voice, pitch_bias, hold_bias in cadence or ():
            if v == voice and lo <= t <= hi:
                row[PITCH0:] += pitch_bias
                if t and sounding[t - 1, v] >= 0:
                    row[HOLD] += hold_bias[sounding[t - 1, v] % 12]
        if strength:
            cost = parallel_cost(sounding, onset, t, v, strength, events)
            if cost is not None:
                row[PITCH0:] -= cost
            if np.isfinite(row[HOLD]):
                row[HOLD] -= hold_cost(sounding, onset, t, v, strength, events)
        if noise is None:
            token = int(np.argmax(row))
        else:  # rest, hold or a new note at the rhythm's temperature; which note at tau
            pitches = row[PITCH0:]
            top = pitches.max()
            new = top + np.log(np.exp(pitches - top).sum()) if np.isfinite(top) else -np.inf
            kind = np.array([row[REST], row[HOLD], new]) / RHYTHM_TEMPERATURE + noise[i, [REST, HOLD, PAD]]
            choice = int(np.argmax(kind))
            token = (REST, HOLD)[choice] if choice < 2 else PITCH0 + int(np.argmax(pitches / tau + noise[i, PITCH0:]))
        pending[t, v] = False
        if token != state[t, v]:
            was = bool(onset[t, v])
            state[t, v] = token
            onset[t, v] = token >= PITCH0
            sounding[:, v] = _sounding(state[:, v])
            if was != onset[t, v]:
                starts[t] += 1 if onset[t, v] else -1
                if starts[t] == (1 if onset[t, v] else 0):  # t became, or stopped being, an event
                    if onset[t, v]:
                        bisect.insort(events, t)
                    else:
                        events.remove(t)


# ----------------------------------------------------------------------------------------------- entry points
def fill(model, piece: Piece, mask, **settings) -> Piece:
    """``piece`` with the cells of ``mask`` written by the infill model (see the module docstring); the settings
    are keyword arguments, as for :func:`iter_fill`.

    Parameters
    ----------
    model : str, path, Checkpoint or Sampler
        An infill model: ``'infill'`` (shipped), a ``.pt`` file, a loaded checkpoint or a sampler of one.
    piece : Piece
        As many parts as ``style`` has voices, on the codec's grid (4 steps per quarter).
    mask : np.ndarray of bool, shape (voices, steps)
        ``True`` where the model writes; ``steps`` is :func:`grid_steps` of ``piece``.
    style : str, optional
        One of the model's styles; defaults to ``piece.style``.
    seed : int, default 0
    temperature : float, default 1.0
        Of the choice of notes, at the start; it falls to :data:`FINAL_TEMPERATURE` of it by the end. Whether a cell
        rests, holds or starts a note is drawn at the model's own odds (0: always the likeliest token, rhythm
        included).
    iterations : int, optional
        Gibbs rounds after the first draw (default :data:`DEFAULT_ROUNDS`; 0: the first draw only).
    guide : bool, str, dict or Guidance, default True
        The strengths of the ``parallels`` and ``cadence`` priors (:class:`~musewidgets.sampling.guidance.Guidance`);
        ``False``: the model alone.
    key : str, optional
        The key the model is told (``'D minor'``); ``None``: unknown, the model hears it from the notes.
    ending : bool, default True
        The piece ends where its grid ends (the model writes a cadence there); ``False``: as if it went on.

    Returns
    -------
    Piece
        With the piece's header (parts, metre, pickup, tempo, key), as many steps as the grid.
    """
    *_, last = iter_fill(model, piece, mask, **settings)
    return last


def regenerate(
    piece: Piece,
    *,
    bars: tuple[int, int],
    voices: Sequence[int] | None = None,
    model="infill",
    **settings,
) -> Piece:
    """``piece`` with bars ``start .. stop - 1`` of ``voices`` (part indices, default all) written anew; nothing
    else changes. ``settings`` as for :func:`fill` (``style`` defaults to ``piece.style``)."""
    return fill(model, piece, bar_mask(piece, bars, voices), **settings)


def harmonize(
    melody: Piece,
    *,
    style: str = "chorale",
    seed: int = 0,
    model="infill",
    **settings,
) -> Piece:
    """A harmonization of ``melody`` in ``style``: the melody, note for note, as the top voice, the other voices
    written by the infill model.

    The melody is ``melody``'s one part, or its top part (part 0). Metre, pickup, tempo, key and length come from
    ``melody``. A melody outside the style's soprano range is moved into it (by octaves where that is enough, else
    by the fewest semitones) with a :class:`TranspositionWarning` that says by how much; the result is in the new
    key. ``settings`` as for :func:`fill`.

    Raises
    ------
    ValueError
        If the melody has no notes, chords, another grid, or fits the soprano range in no transposition.
    """
    ck = load_infill(model)
    base, mask, shift = prepare_harmonization(melody, style=style, model=ck)
    if shift:
        low, high = ck.styles[style]["parts"][0][2]
        warnings.warn(
            f"the melody was moved {'up' if shift > 0 else 'down'} {abs(shift)} semitones into the {style} soprano "
            f"range ({pitch_name(low)} to {pitch_name(high)})",
            TranspositionWarning,
            stacklevel=2,
        )
    result = fill(ck, base, mask, style=style, seed=seed, **settings)
    if result.key is None:
        result = result.replace(key=estimate_key(result))
    return result


def prepare_harmonization(melody: Piece, *, style: str = "chorale", model="infill") -> tuple[Piece, np.ndarray, int]:
    """What :func:`harmonize` fills in, without filling it: ``(piece, mask, shift)``, the melody (moved ``shift``
    semitones into the soprano range) as the top voice of ``style``'s empty parts, and the mask of the other voices.
    ``iter_fill(model, piece, mask, style=style)`` then streams the harmonization (the Workbench shows its rounds).
    Raises as :func:`harmonize` does; warns of nothing. ``model`` may be a loaded checkpoint of any family that
    knows ``style`` (its voice ranges are used)."""
    ck = model if isinstance(model, Checkpoint) else load_infill(model)
    if style not in ck.styles:
        raise UnknownStyleError(f"unknown style {style!r}; this infill model knows: {', '.join(ck.styles)}")
    info = ck.styles[style]
    if len(info["parts"]) < 2:
        raise ValueError(f"style {style!r} has one voice: there is nothing to harmonize a melody with")
    if melody.steps_per_quarter != ck.codec.steps_per_quarter:
        raise ValueError(
            f"`melody` is on a grid of {melody.steps_per_quarter} steps per quarter; the model reads "
            f"{ck.codec.steps_per_quarter}"
        )
    top = melody.parts[0]
    if not top.notes:
        raise ValueError("`melody` has no notes in its top part")
    if not top.is_monophonic:
        raise ValueError(f"the melody part {top.name!r} has chords or overlapping notes; give a single line")
    shift = _into_range(top, info["parts"][0][2], style)
    if shift:
        melody = melody.transpose(shift)
        top = melody.parts[0]
    (name, program, rng), *rest = info["parts"]
    parts = [Part(name, tuple(Note(n.pitch, n.start, n.duration, n.velocity) for n in top.notes), program=program)]
    parts += [Part(n, (), program=p) for n, p, _ in rest]
    base = melody.replace(parts=tuple(parts), style=style, length=melody.end)
    mask = np.zeros((len(parts), grid_steps(base)), dtype=bool)
    mask[1:] = True
    return base, mask, shift


def _into_range(part: Part, rng, style: str) -> int:
    """Semitones that move ``part`` into ``rng`` (0 if it is there): octaves if they do, else the fewest."""
    low, high = part.pitch_span()
    if rng is None or (rng[0] <= low and high <= rng[1]):
        return 0
    fits = [s for s in range(-48, 49) if rng[0] <= low + s and high + s <= rng[1]]
    if not fits:
        raise ValueError(
            f"the melody spans {pitch_name(low)} to {pitch_name(high)} ({high - low} semitones), wider than the "
            f"{style} soprano range, {pitch_name(rng[0])} to {pitch_name(rng[1])}"
        )
    octaves = [s for s in fits if s % 12 == 0]
    return min(octaves or fits, key=abs)
