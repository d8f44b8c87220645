"""The sampler of the sequence models and the GAN: :func:`load_sampler` and :class:`Sampler`.

The writing itself is in :mod:`.sequence` (RNN, LSTM, transformer) and :mod:`.gan`; the infill model fills in instead
(:mod:`.infill`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import replace

import torch

from ..checkpoints import Checkpoint, load_checkpoint, resolve
from ..codecs.tokens import BOS, HOLD, PITCH0, REST
from ..errors import CheckpointError, UnknownStyleError
from ..keys import estimate_key
from ..piece import Piece
from ..threads import SAMPLING_THREADS, torch_threads
from .core import Plan, check_key, check_settings
from .gan import write_gan
from .guidance import KEY_CANDIDATES, Guidance, choose_in_key, plan_keys, plan_pickup
from .sequence import write_sequence

__all__ = ["Sampler", "load_sampler"]


class Sampler:
    """Generates pieces from a loaded checkpoint (any family).

    Examples
    --------
    >>> s = load_sampler("lstm")                                     # doctest: +SKIP
    >>> [piece] = s.generate(style="chorale", bars=8, temperature=0.9, seed=7)   # doctest: +SKIP
    """

    def __init__(self, checkpoint: Checkpoint):
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.family = checkpoint.family
        # the GAN's roll codec wraps a token codec: decoding and conditioning go through that
        self.codec = getattr(checkpoint.codec, "tokens", checkpoint.codec)

    @property
    def styles(self) -> list[str]:
        """Styles this model was trained on."""
        return list(self.checkpoint.styles)

    def generate(self, **settings) -> list[Piece]:
        """The finished pieces (``n`` candidates); settings as for :meth:`iter_generate`."""
        *_, last = self.iter_generate(**settings)
        return last

    def iter_generate(
        self,
        *,
        style: str,
        bars: int = 8,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        primer: Piece | None = None,
        n: int = 1,
        strict: bool = False,
        key: str | None = None,
        metre: str | tuple[int, int] | None = None,
        ending: bool = True,
        guide: bool | str | dict | Guidance = True,
        pickup: int | None = None,
    ) -> Iterator[list[Piece]]:
        """Yield the ``n`` candidate pieces after every new bar (GAN: every phrase); the last yield is complete.

        Every piece is exactly ``bars`` bars longer than the primer (``n_bars``, trailing rests included) and has a key:
        the primer's where it has one, else :func:`~musewidgets.keys.estimate_key` of its notes. Sampling runs on
        :data:`~musewidgets.threads.SAMPLING_THREADS` torch thread(s), and the caller's thread count is restored.

        Parameters
        ----------
        style : str
            One of :attr:`styles`.
        bars : int, default 8
            New bars to generate (after the primer, if any).
        temperature, top_k, top_p : see :func:`~musewidgets.sampling.core.sample_next_token`
        seed : int, default 0
        primer : Piece, optional
            Music to continue, kept unchanged at the start of every result; as many parts as the style has voices.
        n : int, default 1
            Candidates, sampled together in one batch.
        strict : bool, default False
            Strict voice leading (:mod:`musewidgets.sampling.strict`): no parallel fifths or octaves, crossings,
            octave-wide gaps between upper voices or notes outside the SATB ranges. Not for the GAN.
        key : str, optional
            ``'D minor'``, ``'Bb major'`` ...: the key to compose in (models with :attr:`controls`); ``None``: each
            take is told a key drawn from those the style's pieces are in (the ``key`` prior of ``guide``; without
            it the model chooses). Ignored with a ``primer``, which brings its own.
        metre : str or (int, int), optional
            ``'6/8'`` or ``(6, 8)``: one of :meth:`metres`; ``None`` takes the style's most common. Ignored with a
            ``primer``, which brings its own.
        ending : bool, default True
            End like a piece, on a cadence (models with :attr:`controls`); ``False``: "keep going".
        guide : bool, str, dict or Guidance, default True
            The strengths of the priors of :mod:`musewidgets.sampling.guidance` (:class:`Guidance`): ``True`` all as
            shipped, ``False`` the model alone, ``"cadence=0"`` or ``{"cadence": 0}`` one of them off.
        pickup : int, optional
            Steps before the first bar line (an upbeat): the take starts ``pickup`` steps before a downbeat and its
            last bar is as much shorter, as a tune with an upbeat ends. ``None``: as often as the style's pieces in
            the metre start so (:func:`~musewidgets.sampling.guidance.plan_pickup`, drawn from the seed); 0: on the
            downbeat. The GAN writes whole bars (0 only). Ignored with a ``primer``, which brings its own.
        """
        plan = self._plan(style, bars, temperature, top_k, top_p, seed, primer, n, strict, key, metre, ending, guide)
        plan = replace(plan, pickup=self._pickup(plan, pickup))
        choosing = plan.key is not None and primer is None and plan.guidance.key > 0  # among candidates in that key
        if choosing:
            plan = replace(plan, rows=n * KEY_CANDIDATES)
        elif plan.key is None and primer is None and self.controls and plan.guidance.key > 0:  # a key the style uses
            told = plan_keys(style, n, seed, plan.greedy, plan.guidance.key)
            plan = replace(plan, told=tuple(told) if told else None)
        for pieces in self.write(plan):
            if choosing:
                pieces = choose_in_key(pieces, plan.key, n)
            yield [p if p.key is not None else p.replace(key=estimate_key(p)) for p in pieces]

    def write(self, plan: Plan) -> Iterator[list[Piece]]:
        """Yield the rows of a checked :class:`~musewidgets.sampling.core.Plan` after every new bar (GAN: every
        phrase), drawn from a generator seeded with ``plan.seed``: what :meth:`iter_generate` runs, for callers that
        build a plan of their own (:mod:`.harmonization` keeps a melody's tokens, ``plan.fixed``)."""
        if plan.fixed is not None and self.family == "gan":
            raise ValueError("the gan writes whole phrases at once: it cannot keep given tokens; use a sequence model")
        rng = torch.Generator().manual_seed(plan.seed)
        steps = write_gan(self, plan, rng) if self.family == "gan" else write_sequence(self, plan, rng)
        # The thread count is set around each step of work, not across the yields: the caller's code between two bars
        # (drawing, or abandoning the generator from another thread) runs with its own setting.
        while True:
            with torch_threads(SAMPLING_THREADS), torch.inference_mode():
                pieces = next(steps, None)
            if pieces is None:
                return
            yield pieces

    def plan(self, *, style: str, bars: int = 8, temperature: float = 1.0, seed: int = 0, guide=True, pickup=0) -> Plan:
        """A checked :class:`~musewidgets.sampling.core.Plan` of one take in ``style``'s default metre, for
        :meth:`write` (settings as for :meth:`iter_generate`; ``ValueError`` naming the first that is wrong)."""
        plan = self._plan(style, bars, temperature, 0, 1.0, seed, None, 1, False, None, None, True, guide)
        return replace(plan, pickup=self._pickup(plan, pickup))

    def _plan(self, style, bars, temperature, top_k, top_p, seed, primer, n, strict, key, metre, ending, guide) -> Plan:
        """The settings checked, as a :class:`~musewidgets.sampling.core.Plan` (``ValueError`` naming the first
        that is wrong)."""
        check_settings(temperature=temperature, top_k=top_k, top_p=top_p, bars=bars, n=n, seed=seed)
        self._check_style(style)
        if key is not None and not self.controls:
            raise ValueError(
                f"this {self.family} model was trained without key control; leave `key` unset or use a model "
                "trained with it (musewidgets train)"
            )
        if self.family == "gan" and strict:
            raise ValueError(
                "strict voice leading is for the sequence models (rnn, lstm, transformer); the gan writes with its own "
                "note-to-note chain and guidance (parallels cost there): leave `strict` off"
            )
        return Plan(
            style=style,
            bars=bars,
            rows=n,
            seed=seed,
            settings=dict(temperature=temperature, top_k=top_k, top_p=top_p),
            time_signature=self._metre(style, metre),
            key=check_key(key) if key is not None else None,
            primer=primer,
            ending=ending,
            strict=strict,
            guidance=Guidance.of(guide),
        )

    def _pickup(self, plan: Plan, pickup: int | None) -> int:
        """The upbeat of a take (see :meth:`iter_generate`), checked."""
        if plan.primer is not None or (pickup is None and self.family == "gan"):
            return 0
        if pickup is None:
            return plan_pickup(plan.style, plan.time_signature, plan.seed, plan.greedy)
        a, b = plan.time_signature
        steps = self.codec.steps_per_quarter * 4 * a // b
        if isinstance(pickup, bool) or not isinstance(pickup, int) or not 0 <= pickup < steps:
            raise ValueError(
                f"`pickup` must be a whole number of steps from 0 to {steps - 1} in {a}/{b}, not {pickup!r}"
            )
        if pickup and self.family == "gan":
            raise ValueError("the gan writes whole bars, so its takes start on the downbeat: leave `pickup` unset")
        return pickup

    def _check_style(self, style: str) -> None:
        if style not in self.checkpoint.styles:
            raise UnknownStyleError(f"unknown style {style!r}; the {self.family} model knows: {', '.join(self.styles)}")

    @property
    def controls(self) -> bool:
        """Whether the model was trained with key and ending control (``key=`` and ``ending=`` take effect)."""
        return bool(getattr(self.model.config, "controls", False))

    def metres(self, style: str) -> list[str]:
        """Metres the user may choose for ``style`` (``'4/4'``, ``'6/8'`` ...), the default first.

        Those of at least 5% of the style's training pieces (checkpoints trained before metre choice: the one).
        """
        self._check_style(style)
        info = self.checkpoint.styles[style]
        metres = info.get("metres") if self.family != "gan" else None
        return [f"{a}/{b}" for a, b in (metres or [info["time_signature"]])]

    def confusable(self, style: str, metre: tuple[int, int]) -> list[str]:
        """The styles a take of ``style`` in ``metre`` could be mistaken for, which style guidance steers away from:
        the model's other styles with as many voices that it also writes in that metre (folk and Irish tunes in 2/4,
        3/4, 4/4 and 6/8; no others among the shipped styles)."""
        voices = len(self.checkpoint.styles[style]["parts"])
        text = f"{metre[0]}/{metre[1]}"
        return [
            other
            for other, info in self.checkpoint.styles.items()
            if other != style and len(info["parts"]) == voices and text in self.metres(other)
        ]

    def _metre(self, style: str, metre) -> tuple[int, int]:
        allowed = self.metres(style)
        if metre is None:
            return tuple(int(x) for x in allowed[0].split("/"))
        text = f"{metre[0]}/{metre[1]}" if isinstance(metre, (tuple, list)) and len(metre) == 2 else str(metre)
        text = text.replace(" ", "")
        if text not in allowed:
            choices = ", ".join(allowed)
            raise ValueError(f"`metre` {metre!r} is not one the model writes {style} in; choose from {choices}")
        return tuple(int(x) for x in text.split("/"))

    def next_logits(self, primer: Piece, *, style: str) -> torch.Tensor:
        """Masked logits ``(vocab,)`` of the token that would follow ``primer``: voice 0 of the next step.

        For looking inside the model (see notebooks/03): ``filter_logits(...).softmax(-1)`` gives the distribution
        a sampler would draw from. Not available for the GAN, which writes each bar from latents.
        """
        if self.family == "gan":
            raise ValueError("the gan family has no next-token distribution: it writes each bar from latents")
        self._check_style(style)
        enc = self.codec.encode(primer.replace(style=style))
        n_steps = len(enc.tokens) // enc.n_voices
        voice, bar_pos = self.codec.positions(n_steps + 1, enc.n_voices, primer.steps_per_bar, primer.pickup)
        i = len(enc.tokens)  # the position to predict
        tokens = torch.as_tensor(enc.tokens)
        batch = {
            "inputs": torch.cat([torch.tensor([BOS]), tokens])[None],
            "voice": torch.as_tensor(voice[: i + 1])[None],
            "bar_pos": torch.as_tensor(bar_pos[: i + 1])[None],
            "metre": torch.tensor([enc.metre]),
            "style": torch.tensor([enc.style]),
        }
        with torch_threads(SAMPLING_THREADS), torch.inference_mode():
            logits, _ = self.model(batch)
        header = self.header(style, primer)
        logits = logits[0, -1] + self.masks(header)[0]
        if tokens[-enc.n_voices] == REST:  # voice 0 rests: it cannot hold
            logits[HOLD] = -math.inf
        return logits

    # ------------------------------------------------------------------ what every family's writer reads
    def header(
        self,
        style: str,
        primer: Piece | None,
        time_signature: tuple[int, int] | None = None,
        key: str | None = None,
        pickup: int = 0,
    ) -> dict:
        """The header of a take's codec: the primer's (its parts given the style's ranges), else the style's parts,
        tempo and ``time_signature`` (default the style's), with ``key`` (``None``: the model's choice) and
        ``pickup``."""
        info = self.checkpoint.styles[style]
        if primer is not None:
            if len(primer.parts) != len(info["parts"]):
                raise ValueError(
                    f"`primer` has {len(primer.parts)} parts but style {style!r} has {len(info['parts'])} voices"
                )
            header = self.codec.encode(primer.replace(style=style)).header
            header["parts"] = [[p[0], p[1], r] for p, (_, _, r) in zip(header["parts"], info["parts"])]
            return header
        return {
            "parts": [list(p) for p in info["parts"]],
            "tempo": info["tempo"],
            "time_signature": list(time_signature or info["time_signature"]),
            "key": key,
            "pickup": pickup,
            "style": style,
            "title": f"{self.family} {style}",
        }

    def masks(self, header: dict) -> torch.Tensor:
        """(voices, vocab) additive mask: 0 where allowed, -inf for BOS/PAD and pitches outside a voice's range."""
        masks = torch.full((len(header["parts"]), self.codec.vocab_size), -math.inf)
        for v, (_, _, rng) in enumerate(header["parts"]):
            low, high = rng if rng else (0, 127)
            masks[v, REST] = masks[v, HOLD] = 0.0
            masks[v, PITCH0 + low : PITCH0 + high + 1] = 0.0
        return masks


def load_sampler(name_or_path: str | os.PathLike) -> Sampler:
    """A :class:`Sampler` for a shipped model name (``'lstm'``, ``'transformer'``, ...) or a checkpoint path.

    Raises
    ------
    CheckpointError
        If the checkpoint cannot be loaded, or holds a model that does not generate from left to right (the style
        classifier; an infill model, which fills in: :mod:`musewidgets.sampling.infill`).
    """
    checkpoint = load_checkpoint(resolve(name_or_path))
    if not checkpoint.styles:  # (the Workbench once met a StopIteration)
        raise CheckpointError(f"{checkpoint.path.name}: it names no style, so there is nothing it can generate")
    if checkpoint.family == "classifier":
        raise CheckpointError(f"{checkpoint.path.name}: a style classifier listens to music; it cannot generate any")
    if checkpoint.family == "infill":
        raise CheckpointError(
            f"{checkpoint.path.name}: an infill model fills in a piece it is given; use `musewidgets harmonize` or "
            "musewidgets.sampling.infill (harmonize, regenerate), not generate"
        )
    return Sampler(checkpoint)
