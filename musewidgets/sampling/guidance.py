"""Guidance: documented nudges on the logits that help a sequence model keep the key and end like a piece.

The models are *told* the key and how many bars are left (:mod:`musewidgets.codecs.tokens`), and learn what to do
with that from the corpus. Learning it well takes longer than a CPU fine-tune allows, and even real music is not
always in its key by a key estimate (8 bars of a real corpus piece are in the key of the whole piece by the
Krumhansl-Schmuckler estimate 67-81 % of the time). So the samplers also add, in the open, log-prior terms to
the logits before a token is drawn (a product of experts: the model times a simple prior), and choose a take asked
for a key among several:

**Key** (when the user asks for one): a take is chosen among ``KEY_CANDIDATES`` candidates drawn together, the
first that both key-finders hear in that key (:func:`choose_in_key`; :func:`~musewidgets.keys.fits_key`:
the Krumhansl-Kessler profiles of our estimate and Aarden's Essen profiles of music21's ``analyze('key')``), else
the one whose notes fit the key best. Each candidate is a plain draw from the model told the key, so the chosen take
keeps the style's own chromatic notes. The earlier way, a prior on every pitch toward the key's notes, made every
take more diatonic than the style: LSTM takes asked for the keys of 64 real endings were told from those endings
with C2ST 0.80 chorale, 0.76 folk, 0.85 Irish, 0.90 Palestrina (pitch-class entropy 1.6-2.1 standard deviations
below real), and in the key asked for by music21's key-finder in 47-78 % of 32 takes; chosen among 8 candidates
without the prior, 0.61 / 0.68 / 0.66 / 0.76, and in that key in 91-100 % by either key-finder. The prior stays, at
``KEY_STRENGTH``, where candidates are rarely in the key: the transformer (of its chorale takes asked for random
keys, 78 % were in the key by our estimate with selection alone, 100 % with a prior of 1 as well) and the GAN.
It adds ``strength * log(p)`` to every pitch token, ``p`` the Krumhansl-Kessler (1982) probe-tone rating of its
pitch class in that key divided by the largest rating, and then rescales the pitches to the probability the model
gave them together (:func:`among_pitches`), so it chooses which note, never whether a voice plays one, holds or
rests (added on top, every pitch lost mass to holds and rests and the takes slowed down). The GAN's note-to-note
chain adds it on top (its cells: rest, hold, new pitch).

**Cadence** ("end here", the last bar): the outer voices (the top and the bottom part) are nudged toward a final
drawn for each take from the notes real pieces of the style end on. Each style's
:func:`~musewidgets.analysis.metrics.ending_profile` says how often the final top and bass notes lie at each
interval above the tonic of the piece's estimated key (Bach's chorales: the tonic in 72-73 % of endings, the fourth
above it, a piece that ends on the dominant of the key it is heard in, in 14 %; Palestrina's top voice: the tonic 33
%, the fifth 23 %, the third 20 %, his bass the tonic 66 %). :func:`plan_ending` draws the bass's final (a melody's
one voice) from that profile, so takes end on the tonic, the fourth or the fifth as often as the style's pieces do:
nudging every take toward the likeliest final ended all of them on the tonic (folk and Irish takes 100 %, real tunes
77-81 % by their files' keys), which the scorecard's two-sample test heard at once. The top voice of several gets
the weights ``w = 1 + log(share / largest share)`` of its own profile (0 below 1/e of the largest) moved up to the
drawn final, so it keeps its usual place in the final chord. A pitch gets ``+cadence_strength * w``, and ``HOLD``
gets ``hold_strength / 2 * (2 w - 1)`` for the note the voice holds: a held final the plan asks for is favoured,
never forced. Holding weighs twice as much as arriving, because a cadence's final is held: with both at 5, 23 % of
the LSTM's chorale takes aimed at the tonic missed it, most having reached it and moved off again within the bar (56
% of 64 takes ended on the tonic, real excerpts 73 % by their files' keys; with holding at 10: 69 %). The draw has
its own generator (seeded from the take's seed). A take asked for a key (or continuing a primer, which brings its
own) is not drawn: it closes on the likeliest final, the tonic of that key, as a musician who chose D minor expects
(drawn finals on the fourth moved the key a listener hears away from the one asked for); so does a take at
temperature 0. Styles without a profile end on the tonic. The tonic is that of the requested key, else of the key
estimated from the take so far (the GAN: the key it is conditioned on).

**Held finals** (every sequence model, a take that ends and has at least ``HELD_FINAL_MIN_BARS`` bars): 41 % of
Palestrina's pieces hold their final chord through the whole last bar, a longa from the bar line before (chorales,
folk and Irish tunes: under 3 %; :func:`held_final_shares`, measured on the training splits), and no take did: every
one started notes in its last bar, and with groove consistency, repeated bars and polyphony that gave the LSTM's
Palestrina takes away (C2ST 0.74 on 2 x 64 validation excerpts). :func:`plan_held_final` draws, per candidate and
with the style's share, whether the take ends so; such a take attacks a note in every voice on the second-to-last
bar line (no hold, no rest there; the outer voices aimed at their finals by the cadence prior of that moment) and
then only holds (:func:`held_final`). The draw has its own generator, so the other takes come out note for note as
without it. Palestrina's C2ST fell from 0.74 to 0.64 on the same excerpts.

**Phrases that return** (every sequence model, the styles of the corpus): real folk and Irish tunes repeat bars
note for note (an Irish phrase's fifth bar returns to an earlier bar in 36 % of phrases, to its first in 24 %), and
a model sampling left to right almost never does. Before each bar, a plan drawn from the style's
:func:`~musewidgets.analysis.metrics.repetition_profile` (measured on the training split by ``python -m
musewidgets.sampling.guidance``, kept in ``data/guidance/profiles.json`` with the ending profiles) says whether the bar
returns to one ``lag`` bars earlier; if so, at every step of the bar the token that bar had at the same place, in
the same voice, gets ``+repeat_strength``. A bar the plan keeps new is kept new: while it has copied an earlier
bar (with notes) note for note, the token that would go on copying it costs ``repeat_strength`` in the bar's second
half, so it starts like an earlier bar if the model likes and ends otherwise, as real tunes vary their phrases (the
shipped transformer, left to itself, repeated 0.37 of its Irish bars against the tunes' 0.12-0.18). The plan's
draws come from their own generator (seeded from the take's seed); at temperature 0 the plan takes the likeliest
choice. Bars are counted in phrases of 8 from the first bar line; the last bar of a take that ends is
never a repeat (it cadences).

**Style** (Irish tunes, every sequence model): the models blur Irish tunes into the Essen folk songs, which share
their metres and their one voice; the shipped LSTM's Irish takes were heard as Irish by the style classifier in 75 %
of 4 x 64 takes (real Irish endings: 88 %), lower and slower than the tunes. :class:`StyleContrast` multiplies the
model's next-token distribution by its own evidence for the style against the styles the take could be mistaken for
(:meth:`~musewidgets.sampling.Sampler.confusable`: as many voices, the same metre), raised to ``STYLE_STRENGTH``:
classifier-free guidance (Ho and Salimans 2022) with the model as its own classifier. At 1, Irish takes were heard
as Irish in 92 % (C2ST 0.625 to 0.595; the transformer's 0.77 to 0.90, the RNN's 0.78 to 0.91). It costs one more
row in the batch per confusable style. Folk songs, heard as folk in 94 % without it, get none: with it their C2ST
rose (0.652 to 0.683 at 1).

**Pitch temperature** (chorales and Palestrina, every sequence model): the four-voice takes used more pitch
classes, more evenly, than the real endings (the LSTM's chorales: +0.6 standard deviations of pitch-class entropy,
Palestrina +0.7), the mark of a model that spreads its doubt over every pitch and a sampler that draws from all of
it; each stray note then leads the voices below it astray. ``PITCH_TEMPERATURE`` divides the pitch tokens' logits
before they are rescaled to the probability the model gave them together (:func:`among_pitches`), so it sharpens
which note a voice sings and leaves whether it sings, holds or rests to the model. The value was chosen on the
validation excerpts (LSTM, 2 x 64 takes, C2ST: chorale 0.70 at 1, 0.65 at 0.8; Palestrina 0.81, 0.71); on the
test excerpts the LSTM's chorale C2ST went from 0.71 to 0.63 and Palestrina's from 0.81 to 0.73 (the transformer's
and the RNN's within noise of where they were). The user's temperature applies on top.

**Voice leading** (every sequence model with several voices): a token that would make a parallel fifth or octave
with a voice already drawn at that step costs ``parallel_strength`` in logits (the soft form of
:mod:`musewidgets.sampling.strict`: crossings, spacing and range are left to the model, since real four-part music has them
too, and strict mode still refuses them all). Bach's chorales have 0.03 parallels per 8 bars; the shipped LSTM alone
writes 4.7, and 0.16 with this prior (docs/scorecard.md).

**The style's grid** (the GAN): a new note on a step of the bar where the style's notes almost never start (under
``grid_share`` = a tenth of the average step's share of onsets, in the style's training pieces in that metre:
Palestrina's eighth and sixteenth steps, a chorale's sixteenths) costs ``grid_strength``. The GAN's bar generator
writes every cell of a bar at once, and 7.6 % of its Palestrina notes started off the quarter-note grid, against 0.7 %
in the corpus (its takes' groove consistency gave them away: C2ST 0.96 over 64 takes, 0.85 with this prior). The
sequence models, which draw one token after the other, keep to the grid by themselves.

Only models with key and ending control get the choice among candidates, the key prior and the cadence prior;
``Sampler.iter_generate(guide=False)`` switches all guidance off, so that the model alone can be heard and measured.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import torch

from ..codecs.tokens import HOLD, PITCH0, REST
from ..keys import KRUMHANSL_KESSLER, fits_key

__all__ = [
    "CADENCE_STRENGTH",
    "HOLD_STRENGTH",
    "GRID_SHARE",
    "GRID_STRENGTH",
    "KEY_CANDIDATES",
    "KEY_STRENGTH",
    "PARALLEL_STRENGTH",
    "PITCH_TEMPERATURE",
    "REPEAT_STRENGTH",
    "STYLE_STRENGTH",
    "StyleContrast",
    "among_pitches",
    "cadence_bias",
    "choose_in_key",
    "ending_profiles",
    "held_final",
    "held_final_shares",
    "onset_grid",
    "onset_profiles",
    "ending_weights",
    "hold_bias",
    "key_bias",
    "outer_voices",
    "plan_ending",
    "plan_held_final",
    "plan_repeats",
    "repetition_profiles",
]

# the key prior's strength per model family; a take asked for a key is also chosen among KEY_CANDIDATES
KEY_STRENGTH = {"gan": 2.0, "transformer": 1.0}
KEY_CANDIDATES = 8  # a take asked for a key is the first of this many candidates in that key (else the closest)
GRID_STRENGTH = 6.0  # GAN Palestrina, 64 takes: C2ST 0.96 alone, 0.87 with 3, 0.85 with 6
GRID_SHARE = 0.1  # a step of the bar is off the style's grid below this share of the average step's onsets
CADENCE_STRENGTH = 5.0
HOLD_STRENGTH = 10.0  # HOLD in the last bar: 5 ended 56 % of 64 LSTM chorale takes on the tonic, 10: 69 % (real 73)
PARALLEL_STRENGTH = 6.0  # 2 left 2.3 parallels per 8 bars of LSTM chorale, 4 left 0.7, 6 left 0.06 (Bach: 0.03)
REPEAT_STRENGTH = 8.0  # 6: two in three planned returns came out note for note (LSTM, Irish); 8: most
# style guidance, per style: only Irish, which the models blur into folk (LSTM, 4 x 64 takes: heard as Irish 0.75
# alone, 0.86 with 0.5, 0.92 with 1; folk takes, heard as folk 0.94 alone, came closer to Irish tunes with it)
STYLE_STRENGTH = {"irish": 1.0}
# the pitch temperature of the four-voice styles, chosen on the validation excerpts (LSTM, 2 x 64 takes, C2ST: chorale
# 0.70 at 1, 0.65 at 0.8, 0.70 at 0.75; Palestrina 0.81, 0.71, 0.73); folk and Irish tunes, as chromatic as real
# ones without it, get none
PITCH_TEMPERATURE = {"chorale": 0.8, "renaissance": 0.8}
PHRASE_BARS = 8  # repetition is planned within phrases of this many bars
ENDING_SEED_OFFSET = 104_729  # a take's finals are drawn from seed + this (its repetition plan: seed + 7919)
HELD_FINAL_SEED_OFFSET = 15_485_863  # whether a take holds its final over the last two bars: drawn from seed + this
HELD_FINAL_MIN_BARS = 4  # a take of fewer bars ends in its last bar
PROFILES = Path(__file__).parents[1] / "data" / "guidance" / "profiles.json"


def key_bias(tonic: int, mode: str, vocab_size: int, strength: float = 1.0) -> torch.Tensor:
    """Additive bias ``(vocab_size,)`` toward the pitch classes of a key; 0 for rests, holds and the tonic."""
    profile = KRUMHANSL_KESSLER[mode]
    log_p = torch.tensor([math.log(r / profile.max()) for r in profile], dtype=torch.float32)
    bias = torch.zeros(vocab_size)
    pitches = torch.arange(128)
    bias[PITCH0 : PITCH0 + 128] = strength * log_p[(pitches - tonic) % 12]
    return bias


def among_pitches(logits: torch.Tensor, temperature: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``logits`` (n, vocab) with the pitch tokens divided by ``temperature`` and ``bias`` (vocab,) added to them,
    then rescaled to the probability they had together: it changes the choice among pitches, never between a new
    note and a hold or rest (so it does not change the rhythm)."""
    pitch = logits[:, PITCH0:]
    before = torch.logsumexp(pitch, dim=1, keepdim=True)
    moved = pitch / temperature if bias is None else pitch / temperature + bias[PITCH0:]
    moved = moved - torch.logsumexp(moved, dim=1, keepdim=True) + before
    out = logits.clone()
    out[:, PITCH0:] = torch.where(torch.isfinite(before), moved, pitch)
    return out


class StyleContrast:
    """A sequence model seen through style guidance: its next-token distribution in the take's style, times the
    model's own evidence for that style over the styles the take could be mistaken for, raised to ``strength``.

    ``step`` runs the model once for the take's style and once for each of ``others`` (style indices, one batch) and
    returns ``(1 + strength) * log p(x | style) - strength * log mean_c p(x | c)``, the mean over the style and the
    others: classifier-free guidance (Ho and Salimans 2022), where the classifier is the model's own ``p(style | x)``.
    ``init_state`` and ``step`` are the model's, so a sampler uses it in the model's place.
    """

    def __init__(self, model, others: list[int], strength: float):
        self.model, self.others, self.strength = model, list(others), strength
        self.config = model.config

    def init_state(self, batch_size: int):
        return self.model.init_state(batch_size * (1 + len(self.others)))

    def step(self, inputs: dict, state):
        n, k = len(inputs["style"]), 1 + len(self.others)
        batch = {name: value.repeat(k) for name, value in inputs.items()}
        batch["style"] = torch.cat([inputs["style"], torch.tensor(self.others).repeat_interleave(n)])
        logits, state = self.model.step(batch, state)
        log_p = logits.log_softmax(-1).view(k, n, -1)
        mixture = torch.logsumexp(log_p, dim=0) - math.log(k)
        return (1 + self.strength) * log_p[0] - self.strength * mixture, state


def choose_in_key(candidates: list, key: str, n: int) -> list:
    """The ``n`` takes of ``n * KEY_CANDIDATES`` ``candidates`` (take ``j``'s are ``candidates[j * K : (j + 1) * K]``)
    for a ``key`` asked for: of each take's candidates, the first that both key-finders hear in ``key``
    (:func:`~musewidgets.keys.fits_key`), else the one whose notes fit ``key`` best."""
    k = len(candidates) // n
    chosen = []
    for j in range(n):
        group = candidates[j * k : (j + 1) * k]
        fits = [fits_key(piece, key) for piece in group]
        both = [i for i, (ok, _) in enumerate(fits) if ok]
        chosen.append(group[both[0] if both else max(range(k), key=lambda i: fits[i][1])])
    return chosen


TONIC_ONLY = torch.eye(12)[0]  # the weights of a style without an ending profile: the tonic alone


def ending_weights(style: str | None, n_voices: int) -> dict[int, torch.Tensor]:
    """Per outer voice, the weight ``(12,)`` of each interval above the tonic for its final note (see above)."""
    profile = ending_profiles().get(style) if style else None
    weights = {}
    for v in outer_voices(n_voices):
        if profile is None:
            weights[v] = TONIC_ONLY
        else:
            shares = torch.tensor(profile["top" if v == 0 else "bass"])
            weights[v] = 1 + torch.log(shares / shares.max()).clamp(min=-1.0)  # 1 for the likeliest, 0 under 1/e of it
    return weights


def approach_weights(style: str | None) -> torch.Tensor | None:
    """The weight ``(12,)`` of each interval above the final bass note for the bass note before it (the style's
    ``"approach"`` ending profile, weighted as :func:`ending_weights` does); ``None`` where the style has none."""
    profile = ending_profiles().get(style) if style else None
    if not profile or not sum(profile.get("approach", ())):
        return None
    shares = torch.tensor(profile["approach"])
    return 1 + torch.log(shares / shares.max()).clamp(min=-1.0)


def cadence_bias(
    tonics: list[int | None],
    n_voices: int,
    vocab_size: int,
    strength: float = CADENCE_STRENGTH,
    weights: dict[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Additive bias ``(n, n_voices, vocab_size)`` on the pitch tokens of the last bar, in the outer voices:
    ``strength * w`` for a pitch ``w`` of the way to the style's likeliest final (:func:`ending_weights`; by default
    the tonic alone).

    ``tonics`` holds one tonic pitch class per candidate (``None``: no bias for that candidate). ``weights`` per
    outer voice: ``(12,)`` for every candidate, or ``(n, 12)``, one row per candidate (:func:`plan_ending`).
    Holding is nudged separately (:func:`hold_bias`), since it depends on the note that sounds.
    """
    weights = weights or {v: TONIC_ONLY for v in outer_voices(n_voices)}
    bias = torch.zeros(len(tonics), n_voices, vocab_size)
    pitches = torch.arange(128)
    for i, tonic in enumerate(tonics):
        if tonic is not None:
            for v, w in weights.items():
                row = w[i] if w.dim() == 2 else w
                bias[i, v, PITCH0 : PITCH0 + 128] = strength * row[(pitches - tonic) % 12]
    return bias


def hold_bias(
    sounding: torch.Tensor,
    tonics: torch.Tensor,
    strength: float = HOLD_STRENGTH,
    weights: torch.Tensor = TONIC_ONLY,
) -> torch.Tensor:
    """Additive bias ``(n,)`` on ``HOLD`` for one outer voice in the last bar: ``strength / 2 * (2 w - 1)`` for the
    weight ``w`` of the note it holds (by default: ``+strength / 2`` on the tonic, ``-strength / 2`` on any other
    note); 0 where the tonic is unknown (``tonics < 0``) or the voice is silent.

    ``sounding`` is the pitch each candidate's voice is playing (-1 when silent); ``weights`` is ``(12,)``, or
    ``(n, 12)`` with one row per candidate.
    """
    interval = (sounding - tonics) % 12
    w = weights[torch.arange(len(interval)), interval] if weights.dim() == 2 else weights[interval]
    return torch.where((tonics < 0) | (sounding < 0), 0.0, strength / 2 * (2 * w - 1))


def outer_voices(n_voices: int) -> list[int]:
    """The top and the bottom voice (the one voice of a melody)."""
    return sorted({0, n_voices - 1})


@cache
def _profiles() -> dict:
    return json.loads(PROFILES.read_text())


def repetition_profiles() -> dict[str, list[list[float]]]:
    """Per corpus style, :func:`~musewidgets.analysis.metrics.repetition_profile` of its training split."""
    return _profiles()["repetition"]


def ending_profiles() -> dict[str, dict[str, list[float]]]:
    """Per corpus style, :func:`~musewidgets.analysis.metrics.ending_profile` of its training split."""
    return _profiles()["endings"]


def onset_profiles() -> dict[str, dict[str, list[float]]]:
    """Per corpus style and metre (``'4/2'``), the share of the training split's note onsets on each step of the bar
    (metres with at least :data:`MIN_ONSETS` onsets)."""
    return _profiles()["onsets"]


def onset_grid(style: str | None, time_signature: tuple[int, int], steps: int) -> torch.Tensor | None:
    """``(steps,)`` biases for a new note on each step of a bar of ``style`` in ``time_signature``:
    ``-grid_strength`` where the style's notes almost never start (see above), else 0; ``None`` for a style or
    metre without a profile."""
    shares = onset_profiles().get(style or "", {}).get(f"{time_signature[0]}/{time_signature[1]}")
    if shares is None or len(shares) != steps:
        return None
    rare = torch.tensor(shares) * steps < GRID_SHARE
    return torch.where(rare, -GRID_STRENGTH, 0.0)


MIN_ONSETS = 1000


def _onsets(pieces) -> dict[str, list[float]]:
    """Per metre, the share of the pieces' note onsets on each step of the bar (counted from the bar line)."""
    counts: dict[str, list[float]] = {}
    for piece in pieces:
        steps = piece.steps_per_bar
        row = counts.setdefault(f"{piece.time_signature[0]}/{piece.time_signature[1]}", [0.0] * steps)
        for part in piece.parts:
            for note in part.notes:
                row[(note.start - piece.pickup) % steps] += 1
    return {m: [round(c / sum(row), 6) for c in row] for m, row in counts.items() if sum(row) >= MIN_ONSETS}


def plan_repeats(style: str, bar: int, n: int, generator: torch.Generator, greedy: bool = False) -> torch.Tensor:
    """``(n,)`` lags: how many bars back bar ``bar`` (counted from the first bar line) returns to, 0 for a new bar.

    Drawn per candidate from the style's profile at the bar's place in its 8-bar phrase (``greedy``, as at
    temperature 0: the likeliest choice, nothing drawn); a phrase's first bar, and every bar of a style without a
    profile, is new.
    """
    place = bar % PHRASE_BARS
    profile = repetition_profiles().get(style)
    if place == 0 or profile is None:
        return torch.zeros(n, dtype=torch.long)
    probs = torch.tensor(profile[place - 1][: place + 1]) + 1e-12
    if greedy:
        return probs.argmax().expand(n).clone()
    return torch.multinomial(probs, n, replacement=True, generator=generator)


def plan_ending(style: str | None, n_voices: int, n: int, seed: int, greedy: bool = False) -> dict[int, torch.Tensor]:
    """Per outer voice, ``(n, 12)`` weights of each interval above the tonic for the final note: a final drawn per
    candidate from the style's ending profile, so that takes end on the tonic, the fifth or the fourth as often as
    the style's pieces do (always nudging toward the likeliest final would end every take on the tonic).

    The bass (the one voice of a melody) ends on the drawn interval ``r`` (weight 1, 0 elsewhere); the top voice of
    several takes the top profile's weights moved up by ``r``, so it keeps its usual place in the final chord
    (mostly doubling the bass) whatever chord that is. The draws come from a generator of their own, seeded from the
    take's ``seed``, so the notes are drawn as without them. ``greedy`` (temperature 0, or a key asked for) takes the
    likeliest final. A style without a profile ends on the tonic.
    """
    profile = ending_profiles().get(style) if style else None
    voices = outer_voices(n_voices)
    if profile is None:
        return {v: TONIC_ONLY.expand(n, 12).clone() for v in voices}
    shares = torch.tensor(profile["bass" if n_voices > 1 else "top"], dtype=torch.float64)
    if greedy:
        finals = shares.argmax().expand(n).clone()
    else:
        generator = torch.Generator().manual_seed(seed + ENDING_SEED_OFFSET)
        finals = torch.multinomial(shares + 1e-12, n, replacement=True, generator=generator)
    weights = {voices[-1]: torch.eye(12)[finals]}
    if n_voices > 1:
        top = ending_weights(style, n_voices)[0]
        weights[0] = torch.stack([top.roll(int(r)) for r in finals])  # top[(x - r) % 12] at interval x
    return weights


def held_final_shares() -> dict[str, float]:
    """Per corpus style, the share of its training pieces whose final sounds through the whole last bar: no note
    starts in it (:func:`_held_finals`)."""
    return _profiles()["held_finals"]


def plan_held_final(style: str | None, n: int, seed: int, greedy: bool = False) -> torch.Tensor:
    """``(n,)`` bool: which candidates end on a final chord attacked on the second-to-last bar line and held to the
    end, drawn with the style's :func:`held_final_shares` from a generator of their own (``seed`` +
    :data:`HELD_FINAL_SEED_OFFSET`), so that the other candidates are drawn as without the plan; ``greedy``
    (temperature 0): all of them if the style's pieces mostly end so, else none."""
    share = held_final_shares().get(style or "", 0.0)
    if greedy:
        return torch.full((n,), share > 0.5)
    generator = torch.Generator().manual_seed(seed + HELD_FINAL_SEED_OFFSET)
    return torch.rand(n, generator=generator) < share


def held_final(
    logits: torch.Tensor, held: torch.Tensor, sounding: torch.Tensor, attack: bool, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Logits ``(n, vocab)`` of one voice with the held final imposed on the rows ``held``: at the ``attack`` step a
    new note (no hold, no rest; plus the cadence's pitch ``bias`` for an outer voice), after it only ``HOLD`` (``REST``
    for a voice that ``sounding`` says is silent). A row left with no possible token keeps its logits."""
    if attack:
        forced = logits.clone()
        forced[:, [HOLD, REST]] = -math.inf
        if bias is not None:
            forced = forced + bias
    else:
        keep = torch.where(sounding >= 0, HOLD, REST)[:, None]
        forced = torch.full_like(logits, -math.inf).scatter_(1, keep, logits.gather(1, keep))
    possible = torch.isfinite(forced).any(1, keepdim=True)
    return torch.where(held[:, None] & possible, forced, logits)


def _held_finals(pieces) -> float:
    """Share of ``pieces`` (with notes) whose last note starts before the bar line of their last bar."""
    ends = [
        max(n.start for part in p.parts for n in part.notes) < p.pickup + (p.n_bars - 1) * p.steps_per_bar
        for p in pieces
        if p.n_notes
    ]
    return round(sum(ends) / len(ends), 6) if ends else 0.0


def _measure() -> dict:
    """Every corpus style's repetition, ending and onset profiles, of its training split (``python -m
    ...guidance``)."""
    from ..analysis.metrics import ending_profile, repetition_profile
    from ..datasets.corpus import load_style, styles

    train = {s.name: load_style(s.name, progress=False).split("train") for s in styles()}
    return {
        "note": "made by `python -m musewidgets.sampling.guidance` from each corpus style's training split "
        "(musewidgets.analysis.metrics.repetition_profile and ending_profile; onsets and held finals: "
        "musewidgets.sampling.guidance._onsets and _held_finals)",
        "repetition": {name: repetition_profile(pieces) for name, pieces in train.items()},
        "endings": {name: ending_profile(pieces) for name, pieces in train.items()},
        "onsets": {name: _onsets(pieces) for name, pieces in train.items()},
        "held_finals": {name: _held_finals(pieces) for name, pieces in train.items()},
    }


if __name__ == "__main__":
    PROFILES.parent.mkdir(parents=True, exist_ok=True)
    PROFILES.write_text(json.dumps(_measure(), indent=1) + "\n")
    print(f"wrote {PROFILES}")
