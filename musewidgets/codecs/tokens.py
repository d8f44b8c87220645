"""Piece <-> token sequence: one token per voice per step, voices interleaved step by step.

For a piece of ``V`` voices and ``T`` steps the sequence holds ``T * V`` tokens; token ``t * V + v`` says what voice
``v`` does at step ``t``:

=========  ======================================================
token      meaning
=========  ======================================================
``REST``   the voice is silent at this step
``HOLD``   the voice's note goes on sounding
pitch      a new note starts: token ``PITCH0 + midi`` (0..127)
=========  ======================================================

Each position also has *conditioning* that a model sees but never has to predict: the voice, the step's position
in its bar, the metre, the style, the key (tonic and mode, or unknown) and how many bars are left before the piece
ends (counted down over the last :attr:`TokenCodec.ending_bars` bars; 0 = further, or "keep going"). Velocities are
not encoded (decoded notes get velocity 80, as in the corpus).
Voices must be monophonic, which every corpus piece is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..piece import Note, Part, Piece

__all__ = [
    "BOS",
    "HOLD",
    "N_KEYS",
    "PAD",
    "PITCH0",
    "REST",
    "VOCAB_SIZE",
    "Encoded",
    "TokenCodec",
    "token_name",
    "transpose_key_index",
]

PAD, BOS, REST, HOLD = 0, 1, 2, 3
PITCH0 = 4
VOCAB_SIZE = PITCH0 + 128
# Metres the corpus uses; anything else shares index 0.
METRES = ((4, 4), (3, 4), (2, 4), (6, 8), (3, 8), (2, 2), (4, 2), (3, 2), (6, 4), (9, 8), (12, 8), (5, 4), (3, 1))
# Key conditioning: 0 = unknown, 1 + tonic pitch class = major, 13 + tonic pitch class = minor.
N_KEYS = 25


def token_name(token: int) -> str:
    """``'rest'``, ``'hold'``, ``'pad'``, ``'bos'`` or the pitch name (``'C4'``) of a token."""
    from ..piece import pitch_name

    return {PAD: "pad", BOS: "bos", REST: "rest", HOLD: "hold"}.get(int(token)) or pitch_name(int(token) - PITCH0)


@dataclass
class Encoded:
    """A piece as tokens plus the per-position conditioning and what :meth:`TokenCodec.decode` needs back.

    Attributes
    ----------
    tokens : np.ndarray, int64, shape (T * V,)
    voice, bar_pos, to_end : np.ndarray, int64, shape (T * V,)
        Voice index, step-within-bar and bars left to the end (:meth:`TokenCodec.to_end`) of each position.
    metre, style, key : int
        Indices into :data:`METRES` (plus one; 0 = other), the codec's styles and the keys
        (:meth:`TokenCodec.key_index`).
    header : dict
        The piece's other fields (names, programs, ranges, tempo, key, ...), JSON-friendly.
    """

    tokens: np.ndarray
    voice: np.ndarray
    bar_pos: np.ndarray
    metre: int
    style: int
    header: dict = field(default_factory=dict)
    to_end: np.ndarray | None = None
    key: int = 0

    @property
    def n_voices(self) -> int:
        return len(self.header["parts"])


@dataclass(frozen=True)
class TokenCodec:
    """Encode pieces of 1 to ``max_voices`` monophonic voices on a ``steps_per_quarter`` grid as tokens.

    Parameters
    ----------
    styles : tuple of str
        Style labels the models are conditioned on; a piece's ``style`` must be one of them (or ``None``, index 0).
    max_voices : int, default 4
    steps_per_quarter : int, default 4
    max_bar_steps : int, default 48
        Longest bar (in steps) the bar-position embedding covers; longer bars wrap.
    ending_bars : int, default 4
        Bars before the end over which :meth:`to_end` counts down.
    """

    styles: tuple[str, ...] = ("chorale", "folk", "irish", "renaissance")
    max_voices: int = 4
    steps_per_quarter: int = 4
    max_bar_steps: int = 48
    ending_bars: int = 4

    vocab_size = VOCAB_SIZE
    n_keys = N_KEYS
    n_metres = len(METRES) + 1

    # ------------------------------------------------------------------ conditioning
    def style_index(self, style: str | None) -> int:
        if style is None:
            return 0
        if style not in self.styles:
            from ..errors import UnknownStyleError

            raise UnknownStyleError(f"unknown style {style!r}; this model knows: {', '.join(self.styles)}")
        return self.styles.index(style)

    @staticmethod
    def metre_index(time_signature: tuple[int, int]) -> int:
        ts = tuple(time_signature)
        return METRES.index(ts) + 1 if ts in METRES else 0

    @staticmethod
    def key_index(key: str | None) -> int:
        """0 for no key (or a mode other than major and minor), 1-12 for C major .. B major, 13-24 for minor."""
        if key is None:
            return 0
        from ..piece import parse_key

        pc, mode = parse_key(key)
        if mode not in ("major", "minor"):
            return 0
        return (1 if mode == "major" else 13) + pc

    def to_end(self, n_steps: int, n_voices: int, steps_per_bar: int, total: int | None, start: int = 0):
        """Bars left to the end of each position of steps ``start .. start + n_steps``, shape ``(n_steps * V,)``.

        A step in the last bar gets 1, in the bar before 2, ... up to :attr:`ending_bars`; earlier steps, and every
        step when ``total`` (the piece's length in steps, ending on a bar line) is ``None``, get 0: "keep going".
        """
        steps = np.arange(start, start + n_steps)
        if total is None:
            left = np.zeros(n_steps, dtype=np.int64)
        else:
            left = -((steps - total) // steps_per_bar)  # ceil((total - step) / steps_per_bar)
            left = np.where((left >= 1) & (left <= self.ending_bars), left, 0)
        return np.repeat(left.astype(np.int64), n_voices)

    def positions(self, n_steps: int, n_voices: int, steps_per_bar: int, pickup: int, start: int = 0):
        """Voice and bar-position arrays for steps ``start .. start + n_steps`` of a piece, shape ``(n_steps * V,)``."""
        steps = np.arange(start, start + n_steps)
        bar_pos = ((steps - pickup) % steps_per_bar) % self.max_bar_steps
        return np.tile(np.arange(n_voices), n_steps), np.repeat(bar_pos, n_voices)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, piece: Piece) -> Encoded:
        """Tokens of ``piece``; raises ``ValueError`` for polyphonic voices, too many voices or another grid."""
        if piece.steps_per_quarter != self.steps_per_quarter:
            raise ValueError(
                f"`piece` is on a grid of {piece.steps_per_quarter} steps per quarter, the codec on "
                f"{self.steps_per_quarter}"
            )
        n_voices = len(piece.parts)
        if not 1 <= n_voices <= self.max_voices:
            raise ValueError(f"`piece` has {n_voices} parts; the codec takes 1 to {self.max_voices}")
        n_steps = piece.bar_start(piece.n_bars)
        grid = np.full((n_steps, n_voices), REST, dtype=np.int64)
        for v, part in enumerate(piece.parts):
            if not part.is_monophonic:
                raise ValueError(f"part {part.name!r} has chords or overlapping notes; the codec needs single lines")
            for n in part.notes:
                grid[n.start, v] = PITCH0 + n.pitch
                grid[n.start + 1 : n.end, v] = HOLD
        voice, bar_pos = self.positions(n_steps, n_voices, piece.steps_per_bar, piece.pickup)
        header = {
            "parts": [[p.name, p.program, list(p.range) if p.range else None] for p in piece.parts],
            "tempo": piece.tempo,
            "time_signature": list(piece.time_signature),
            "key": piece.key,
            "pickup": piece.pickup,
            "style": piece.style,
            "title": piece.title,
        }
        return Encoded(
            grid.reshape(-1),
            voice,
            bar_pos,
            self.metre_index(piece.time_signature),
            self.style_index(piece.style),
            header,
            to_end=self.to_end(n_steps, n_voices, piece.steps_per_bar, n_steps),
            key=self.key_index(piece.key),
        )

    def decode(self, tokens: np.ndarray, header: dict) -> Piece:
        """A piece from tokens (length a multiple of the number of voices in ``header``).

        The piece lasts as many steps as there are tokens per voice (``Piece.length``): encoding fills whole bars, so
        ``decode(encode(p))`` is ``p`` ending at the bar line after its last note.

        Robust to any token sequence a sampler may produce: ``HOLD`` after a rest or at the start is read as
        ``REST``; ``PAD`` and ``BOS`` as ``REST``.
        """
        n_voices = len(header["parts"])
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) % n_voices:
            raise ValueError(f"`tokens` must be 1-D with a multiple of {n_voices} entries, got shape {tokens.shape}")
        decoder = self.decoder(header)
        decoder.feed(tokens.reshape(-1, n_voices).tolist())
        return decoder.piece()

    def decoder(self, header: dict) -> StreamDecoder:
        """An incremental decoder: feed steps as they are sampled, ask for the piece so far at any time."""
        return StreamDecoder(self, header)

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        """JSON-friendly description; :meth:`from_dict` rebuilds the same codec."""
        return {"kind": "tokens", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, data: dict) -> TokenCodec:
        data = {k: v for k, v in data.items() if k != "kind"}
        data.setdefault("ending_bars", 0)  # codecs saved before endings were conditioned
        data["styles"] = tuple(data["styles"])
        return cls(**data)


class StreamDecoder:
    """Decodes tokens step by step, so a sampler can show the piece after every bar without decoding it again."""

    def __init__(self, codec: TokenCodec, header: dict):
        self.codec, self.header = codec, header
        n = len(header["parts"])
        self.notes: list[list[Note]] = [[] for _ in range(n)]
        self.open: list[tuple[int, int] | None] = [None] * n  # (start, pitch) of the note each voice is holding
        self.steps = 0

    def feed(self, steps) -> None:
        """Add steps, each a sequence of one token per voice."""
        for step in steps:
            t = self.steps
            for v, tok in enumerate(step):
                if tok == HOLD and self.open[v] is not None:
                    continue
                if self.open[v] is not None:
                    start, pitch = self.open[v]
                    self.notes[v].append(Note(pitch, start, t - start))
                    self.open[v] = None
                if tok >= PITCH0:
                    self.open[v] = (t, tok - PITCH0)
            self.steps += 1

    def piece(self) -> Piece:
        """The piece so far, as long as the steps fed (notes still sounding end at the last step fed)."""
        h = self.header
        parts = []
        for v, (name, program, rng) in enumerate(h["parts"]):
            notes = list(self.notes[v])
            if self.open[v] is not None:
                start, pitch = self.open[v]
                notes.append(Note(pitch, start, self.steps - start))
            parts.append(Part(name, tuple(notes), program=program, range=tuple(rng) if rng else None))
        return Piece(
            tuple(parts),
            steps_per_quarter=self.codec.steps_per_quarter,
            tempo=h["tempo"],
            time_signature=tuple(h["time_signature"]),
            key=h["key"],
            pickup=h["pickup"],
            style=h["style"],
            title=h["title"],
            length=self.steps,  # every step fed, trailing rests and holds included
        )


def transpose_key_index(index: int, semitones: int) -> int:
    """A key index (:meth:`TokenCodec.key_index`) moved by ``semitones``; 0 (unknown) stays 0."""
    if index == 0:
        return 0
    base = 1 if index <= 12 else 13
    return base + (index - base + semitones) % 12
