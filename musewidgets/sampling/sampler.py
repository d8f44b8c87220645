"""Sampling: pure, seeded, and streaming bar by bar.

Every random draw comes from an explicit ``torch.Generator`` seeded with ``seed``, so the same model, settings and
seed give the same notes, bit for bit, on the same machine; nothing touches the global random state.

``sample_next_token`` is the one place where logits become a token: temperature 0 is the argmax; otherwise logits
are divided by the temperature, cut to the ``top_k`` largest and to the smallest set whose probability reaches
``top_p``, and sampled. Voices are kept in their ranges, and a voice can only hold a note it is playing, by masking
the logits before that.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import torch

from ..checkpoints import Checkpoint, load_checkpoint, resolve
from ..codecs.tokens import BOS, HOLD, PITCH0, REST
from ..errors import CheckpointError, UnknownStyleError
from ..keys import estimate_key
from ..piece import Piece, parse_key
from ..threads import SAMPLING_THREADS, torch_threads
from . import guidance
from .guidance import (
    cadence_bias,
    hold_bias,
    key_bias,
    onset_grid,
    outer_voices,
    plan_ending,
    plan_repeats,
    repetition_profiles,
)
from .strict import StrictVoiceLeading

__all__ = ["Sampler", "check_settings", "filter_logits", "load_sampler", "sample_next_token"]


def filter_logits(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """Logits after temperature, top-k and top-p: what :func:`sample_next_token` samples from (``temperature > 0``).

    Logits are divided by the temperature, cut to the ``top_k`` largest (0 = off) and then to the smallest set whose
    probability reaches ``top_p`` (1 = off); cut tokens get ``-inf``.
    """
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        drop = probs.cumsum(dim=-1) - probs >= top_p  # keep the smallest prefix that reaches top_p
        sorted_logits = sorted_logits.masked_fill(drop, -math.inf)
        logits = torch.full_like(logits, -math.inf).scatter(-1, order, sorted_logits)
    return logits


def sample_next_token(
    logits: torch.Tensor,
    rng: torch.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> torch.Tensor:
    """One token per row of ``logits`` (B, V) -> (B,).

    ``temperature=0`` takes the argmax; ``top_k=0`` and ``top_p=1`` switch those cut-offs off (:func:`filter_logits`).
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=rng)[:, 0]


def check_settings(*, temperature: float, top_k: int, top_p: float, bars: int, n: int = 1, seed: int = 0) -> None:
    """Raise ``ValueError`` naming the first setting out of range."""
    if not (isinstance(temperature, (int, float)) and 0 <= temperature <= 10 and math.isfinite(temperature)):
        raise ValueError(f"`temperature` must be between 0 and 10, got {temperature!r}")
    if not (isinstance(top_k, int) and top_k >= 0):
        raise ValueError(f"`top_k` must be a whole number >= 0 (0 = off), got {top_k!r}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"`top_p` must be in (0, 1] (1 = off), got {top_p!r}")
    if not (isinstance(bars, int) and 1 <= bars <= 256):
        raise ValueError(f"`bars` must be a whole number from 1 to 256, got {bars!r}")
    if not (isinstance(n, int) and 1 <= n <= 64):
        raise ValueError(f"`n` (candidates) must be from 1 to 64, got {n!r}")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ValueError(f"`seed` must be a whole number >= 0, got {seed!r}")


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
        guide: bool = True,
    ) -> Iterator[list[Piece]]:
        """Yield the ``n`` candidate pieces after every new bar (GAN: every phrase); the last yield is complete.

        Every piece is exactly ``bars`` bars longer than the primer (``n_bars``, trailing rests included) and has a key:
        the primer's where it has one, else :func:`~musewidgets.keys.estimate_key` of its notes. Sampling runs
        on :data:`~musewidgets.threads.SAMPLING_THREADS` torch thread(s), and the caller's thread count is restored.

        Parameters
        ----------
        style : str
            One of :attr:`styles`.
        bars : int, default 8
            New bars to generate (after the primer, if any).
        temperature, top_k, top_p : see :func:`sample_next_token`
        seed : int, default 0
        primer : Piece, optional
            Music to continue; kept unchanged at the start of every result. Needs as many parts as the style has
            voices.
        n : int, default 1
            Candidates, sampled together in one batch.
        strict : bool, default False
            Strict voice leading (:mod:`musewidgets.sampling.strict`): tokens that would make a parallel fifth or octave, a
            crossing, an octave-wide gap between upper voices or a note outside the SATB ranges are refused. Not for
            the GAN.
        key : str, optional
            ``'D minor'``, ``'Bb major'`` ...: the key to compose in (models with :attr:`controls`). ``None`` lets the
            model choose. Ignored with a ``primer``, which brings its own key. With ``guide``, each take is the
            first of :data:`~musewidgets.sampling.guidance.KEY_CANDIDATES` candidates drawn with it that is in that key
            (:func:`~musewidgets.sampling.guidance.choose_in_key`).
        metre : str or (int, int), optional
            ``'6/8'`` or ``(6, 8)``: one of :meth:`metres` for the style; ``None`` takes the style's most common.
            Ignored with a ``primer``, which brings its own.
        ending : bool, default True
            End the take like a piece, on a cadence (models with :attr:`controls`); ``False``: "keep going", as
            if the music went on after the last bar. Models without controls never plan an ending.
        guide : bool, default True
            Add the priors of :mod:`musewidgets.sampling.guidance` to the model's logits: phrases that return (every sequence
            model, in the corpus styles) and, for models with controls, the key asked for and the cadence of a take
            that ends; ``False``: the model alone.
        """
        check_settings(temperature=temperature, top_k=top_k, top_p=top_p, bars=bars, n=n, seed=seed)
        self._check_style(style)
        if key is not None and not self.controls:
            raise ValueError(
                f"this {self.family} model was trained without key control; leave `key` unset or use a model "
                "trained with it (musewidgets train)"
            )
        if key is not None:
            key = _check_key(key)
        time_signature = self._metre(style, metre)
        if self.family == "gan" and strict:
            raise ValueError(
                "strict voice leading is for the sequence models (rnn, lstm, transformer); the gan writes with its own "
                "note-to-note chain and guidance (parallels cost there): leave `strict` off"
            )
        rng = torch.Generator().manual_seed(seed)
        settings = dict(temperature=temperature, top_k=top_k, top_p=top_p)
        choosing = key is not None and primer is None and guide  # each take chosen among candidates in that key
        rows = n * guidance.KEY_CANDIDATES if choosing else n
        if self.family == "gan":
            steps = self._gan(style, bars, rng, rows, settings, time_signature, primer, key, ending, guide, seed)
        else:
            plan = {
                "key": key if primer is None else None,
                "time_signature": time_signature,
                "ending": ending,
                "guide": guide,
                "seed": seed,
            }
            steps = self._sequence(style, bars, rng, rows, primer, settings, strict, plan)
        # The thread count is set around each step of work, not across the yields: the caller's code between two bars
        # (drawing, or abandoning the generator from another thread) runs with its own setting.
        while True:
            with torch_threads(SAMPLING_THREADS), torch.inference_mode():
                pieces = next(steps, None)
            if pieces is None:
                return
            if choosing:
                pieces = guidance.choose_in_key(pieces, key, n)
            yield [p if p.key is not None else p.replace(key=estimate_key(p)) for p in pieces]

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
        header = self._header(style, primer)
        logits = logits[0, -1] + self._masks(header)[0]
        if tokens[-enc.n_voices] == REST:  # voice 0 rests: it cannot hold
            logits[HOLD] = -math.inf
        return logits

    # ------------------------------------------------------------------ token models
    def _header(self, style: str, primer: Piece | None, plan: dict | None = None) -> dict:
        info = self.checkpoint.styles[style]
        plan = plan or {}
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
            "time_signature": list(plan.get("time_signature") or info["time_signature"]),
            "key": plan.get("key"),
            "pickup": 0,
            "style": style,
            "title": f"{self.family} {style}",
        }

    def _key_prior(self, header: dict, primer) -> torch.Tensor | None:
        """The key prior ``(vocab_size,)`` of :func:`~musewidgets.sampling.guidance.key_bias` for a key the user asked for, at
        this family's ``guidance.KEY_STRENGTH``; ``None`` without one, for a family without a prior, or when the key
        is a primer's (the model hears the primer's key in its notes)."""
        strength = guidance.KEY_STRENGTH.get(self.family, 0.0)
        if header["key"] is None or primer is not None or not strength:
            return None
        tonic, mode = parse_key(header["key"])
        return key_bias(tonic, mode, self.codec.vocab_size, strength)

    def _masks(self, header: dict) -> torch.Tensor:
        """(voices, vocab) additive mask: 0 where allowed, -inf for BOS/PAD and pitches outside a voice's range."""
        masks = torch.full((len(header["parts"]), self.codec.vocab_size), -math.inf)
        for v, (_, _, rng) in enumerate(header["parts"]):
            low, high = rng if rng else (0, 127)
            masks[v, REST] = masks[v, HOLD] = 0.0
            masks[v, PITCH0 + low : PITCH0 + high + 1] = 0.0
        return masks

    def _sequence(self, style, bars, rng, n, primer, settings, strict=False, plan=None):
        codec, model = self.codec, self.model
        plan = plan or {}
        header = self._header(style, primer, plan)
        V = len(header["parts"])
        ts = tuple(header["time_signature"])
        strength = guidance.STYLE_STRENGTH.get(style, 0.0) if plan.get("guide", True) else 0.0
        others = self.confusable(style, ts) if strength else []
        if others:  # style guidance: away from the styles the take could be mistaken for
            model = guidance.StyleContrast(model, [codec.style_index(o) for o in others], strength)
        spb = codec.steps_per_quarter * 4 * ts[0] // ts[1]
        pickup = header["pickup"]
        primer_tokens = codec.encode(primer.replace(style=style)).tokens.tolist() if primer is not None else []
        start_step = len(primer_tokens) // V
        total_steps = start_step + bars * spb
        metre = torch.full((n,), codec.metre_index(ts), dtype=torch.long)
        style_t = torch.full((n,), codec.style_index(style), dtype=torch.long)
        controls = {}
        if self.controls:
            # the primer's own key where there is one (the model hears it), else the requested key (0: free)
            key_t = torch.full((n,), codec.key_index(header["key"]), dtype=torch.long)
            end = total_steps if plan.get("ending", True) else None
            to_end = codec.to_end(total_steps, 1, spb, end)  # bars left, per step
            to_end_t = {int(b): torch.full((n,), int(b), dtype=torch.long) for b in set(to_end.tolist())}
            controls = {"key": key_t, "to_end": [to_end_t[int(b)] for b in to_end]}
        masks = self._masks(header)
        guided = self.controls and plan.get("guide", True)
        sharpen = guidance.PITCH_TEMPERATURE.get(style, 1.0) if plan.get("guide", True) else 1.0
        asked = self._key_prior(header, primer) if guided else None  # among the pitches, as the pitch temperature
        cadence_from = total_steps - spb if guided and plan.get("ending", True) else None  # the last bar
        greedy_final = settings["temperature"] == 0 or header["key"] is not None
        # a held final: the candidates the plan picks attack their final chord on the second-to-last bar line and
        # hold it to the end, as the style's pieces do as often (Palestrina's long finals)
        held = attack = early = None
        if cadence_from is not None and bars >= guidance.HELD_FINAL_MIN_BARS:
            held = guidance.plan_held_final(style, n, plan.get("seed", 0), settings["temperature"] == 0)
            held, attack = (held, total_steps - 2 * spb) if held.any() else (None, None)
        # phrases that return: the plan has its own generator, so bars that do not return are drawn as without it
        repeats = torch.Generator().manual_seed(plan.get("seed", 0) + 7919) if plan.get("guide", True) else None
        history = torch.zeros(n, total_steps, V, dtype=torch.long)  # every token so far, the primer's included
        returning = None  # (candidates whose bar returns, the step each copies from, per step of the bar)
        # bars the plan keeps new: the earlier bars (their first steps) each candidate has copied so far in this bar
        earlier, copying = [], None
        cadence = None  # (pitch bias (n, V, vocab), tonics (n,), weights per outer voice) once the last bar begins
        outer = outer_voices(V)
        sounding = torch.full((n, V), -1, dtype=torch.long)  # the pitch each voice plays (-1: silent)
        voices = [torch.full((n,), v, dtype=torch.long) for v in range(V)]
        positions = {}
        hold_block = torch.full((n, V), -math.inf)  # HOLD only while a note sounds
        state = model.init_state(n)
        prev = torch.full((n,), BOS, dtype=torch.long)
        decoders = [codec.decoder(header) for _ in range(n)]
        guard = StrictVoiceLeading(n, V, codec.vocab_size) if strict else None
        if guard is None and V > 1 and plan.get("guide", True):  # guidance: parallel fifths and octaves cost
            guard = StrictVoiceLeading(n, V, codec.vocab_size, parallels_only=True, penalty=guidance.PARALLEL_STRENGTH)
        for d in decoders:
            d.feed([primer_tokens[i : i + V] for i in range(0, len(primer_tokens), V)])

        def inputs(step: int, v: int) -> dict:
            pos = ((step - pickup) % spb) % codec.max_bar_steps
            if pos not in positions:
                positions[pos] = torch.full((n,), pos, dtype=torch.long)
            out = {"inputs": prev, "voice": voices[v], "bar_pos": positions[pos], "metre": metre, "style": style_t}
            if controls:
                out["key"], out["to_end"] = controls["key"], controls["to_end"][step]
            return out

        for i, tok in enumerate(primer_tokens):  # feed the primer: its tokens are given, not sampled
            history[:, i // V, i % V] = tok
            _, state = model.step(inputs(i // V, i % V), state)
            prev = torch.full((n,), tok, dtype=torch.long)
            hold_block[:, i % V] = -math.inf if tok == REST else 0.0
            if tok != HOLD:
                sounding[:, i % V] = tok - PITCH0 if tok >= PITCH0 else -1
            if guard is not None:
                guard.update(i % V, prev)
                if i % V == V - 1:
                    guard.end_step()
        bar = []  # tokens of the current bar: one (n, V) list per step
        for step in range(start_step, total_steps):
            if step == cadence_from:  # a key asked for (or the primer's) closes on its tonic; else a drawn final
                cadence = self._cadence(header, decoders, V, plan.get("seed", 0), greedy_final)
            if step == attack:  # the held finals' chord, aimed as the last bar's cadence is
                early = self._cadence(header, decoders, V, plan.get("seed", 0), greedy_final)
            if repeats is not None and step >= pickup and (step - pickup) % spb == 0:
                lags = plan_repeats(style, (step - pickup) // spb, n, repeats, greedy=settings["temperature"] == 0)
                rows = (lags > 0).nonzero().flatten() if cadence is None else torch.zeros(0, dtype=torch.long)
                returning = (rows, step - lags[rows] * spb) if len(rows) else None
                if earlier and repetition_profiles().get(style) is not None:
                    starts = torch.tensor(earlier)
                    span = starts[:, None] + torch.arange(spb)  # (J, spb): the steps of each earlier bar
                    onsets = (history[:, span] >= PITCH0).flatten(2).any(2)  # (n, J): bars with notes can repeat
                    planned_new = torch.ones(n, dtype=torch.bool)
                    planned_new[rows] = False
                    copying = (starts, onsets & planned_new[:, None])
                earlier.append(step)
            sampled = []
            for v in range(V):
                logits, state = model.step(inputs(step, v), state)
                logits = logits + masks[v]
                if sharpen != 1.0 or asked is not None:
                    logits = guidance.among_pitches(logits, sharpen, asked)
                logits[:, HOLD] += hold_block[:, v]
                if cadence is not None and v in outer:
                    logits = logits + cadence[0][:, v]
                    logits[:, HOLD] += hold_bias(sounding[:, v], cadence[1], guidance.HOLD_STRENGTH, cadence[2][v])
                if returning is not None:  # the token the returning bar had here
                    rows, source = returning
                    logits[rows, history[rows, source + (step - pickup) % spb, v]] += guidance.REPEAT_STRENGTH
                if copying is not None:  # a bar kept new that has copied an earlier one so far: vary its second half
                    starts, still = copying
                    theirs = history[:, starts + (step - pickup) % spb, v]  # (n, J): what those bars had here
                    if (step - pickup) % spb >= spb // 2:
                        cost = torch.zeros_like(logits).scatter_add_(1, theirs, still.float())
                        logits = logits - guidance.REPEAT_STRENGTH * cost.clamp(max=1.0)
                if guard is not None:
                    logits = logits + guard.mask(v)
                if held is not None and step >= attack:
                    bias = early[0][:, v] if step == attack and v in outer else None
                    logits = guidance.held_final(logits, held, sounding[:, v], step == attack, bias)
                prev = sample_next_token(logits, rng, **settings)
                history[:, step, v] = prev
                if copying is not None:
                    copying = (copying[0], copying[1] & (theirs == prev[:, None]))
                hold_block[:, v] = torch.where(prev == REST, -math.inf, 0.0)
                sounding[:, v] = torch.where(
                    prev >= PITCH0, prev - PITCH0, torch.where(prev == REST, -1, sounding[:, v])
                )
                if guard is not None:
                    guard.update(v, prev)
                sampled.append(prev)
            if guard is not None:
                guard.end_step()
            bar.append(torch.stack(sampled, dim=1))
            if (step + 1 - pickup) % spb == 0 or step + 1 == total_steps:
                steps = torch.stack(bar, dim=1).tolist()  # (n, steps, V)
                for d, rows in zip(decoders, steps):
                    d.feed(rows)
                bar = []
                yield [d.piece() for d in decoders]

    def _cadence(self, header: dict, decoders, V: int, seed: int = 0, greedy: bool = False):
        """The last bar's cadence prior: (pitch bias (n, V, vocab), tonic per candidate (n,), -1 where unknown, and the
        weights ``(n, 12)`` of the outer voices' finals, :func:`~musewidgets.sampling.guidance.plan_ending`).

        The tonic of the requested key, else of the key estimated from each candidate so far; the final each candidate
        aims at is drawn from the take's ``seed``.
        """
        if header["key"] is not None:
            keys = [header["key"]] * len(decoders)
        else:
            keys = [estimate_key(d.piece()) for d in decoders]
        tonics = [parse_key(k)[0] if k is not None else None for k in keys]
        weights = plan_ending(header.get("style"), V, len(decoders), seed, greedy)
        bias = cadence_bias(tonics, V, self.codec.vocab_size, guidance.CADENCE_STRENGTH, weights)
        return bias, torch.tensor([-1 if t is None else t for t in tonics]), weights

    # ------------------------------------------------------------------ GAN
    def _gan(
        self, style, bars, rng, n, settings, time_signature=None, primer=None, key=None, ending=True, guide=True, seed=0
    ):
        """The GAN writes bar after bar, each bar reading the bars before it: a primer's last bars first.

        Every cell is drawn as the sequence models draw tokens (temperature, top-k, top-p; a GAN trained on the
        argmax, ``stochastic=False``, takes the argmax and scales its latents by the temperature instead). The key
        the GAN is conditioned on: the primer's (its own, else estimated from its notes), else the one asked for,
        else one drawn from the style's key distribution; a take without an asked key gets its key estimated from
        its notes, as with the other models. With ``guide`` the sequence models' priors of
        :mod:`musewidgets.sampling.guidance` apply as they do there: the pitches of a key asked for are favoured (not a
        primer's key: the GAN reads the primer), bars planned to return lean to the bar they return to, parallel
        fifths and octaves cost (voices drawn from the top, one after the other) and the outer voices of the last
        bar of a take that ends lean to the style's finals on the tonic of the key the GAN writes in. (The key prior
        came last: told the key alone, the GAN wrote 34 % of its Palestrina takes and 59 % of its folk takes in the
        key asked for, by our estimate; with the prior 63 % and 84 %.)
        """
        from ..codecs.roll import RollCodec
        from ..models.gan import key_parts, voice_mask

        model, cfg = self.model, self.model.config
        header = self._header(style, primer, {"time_signature": time_signature, "key": key})
        V = len(header["parts"])
        ts = tuple(header["time_signature"])
        trained = tuple(self.checkpoint.styles[style]["time_signature"])
        if ts != trained:
            raise ValueError(
                f"the gan writes {style} in {trained[0]}/{trained[1]} only; the `primer` is in {ts[0]}/{ts[1]}"
            )
        spb = self.codec.steps_per_quarter * 4 * ts[0] // ts[1]
        context = None
        primer_steps = []
        if primer is not None:
            tokens = self.codec.encode(primer.replace(style=style)).tokens.reshape(-1, V)
            primer_steps = tokens.tolist()
            grid = torch.zeros((len(tokens), cfg.voices), dtype=torch.long)  # rests
            grid[:, :V] = torch.as_tensor(RollCodec.channels(tokens))
            context = grid.T[None].expand(n, -1, -1)
            key = primer.key or estimate_key(primer)
        if key is not None:
            key_t = torch.full((n,), self.codec.key_index(key), dtype=torch.long)
        else:
            prior = model.key_prior[self.codec.style_index(style)]
            key_t = torch.multinomial(prior.expand(n, -1), 1, generator=rng)[:, 0]
        ranges = [part[2] for part in header["parts"]]
        bars_left = [bars - i if ending and bars - i <= cfg.ending_bars else 0 for i in range(bars)]
        decoders = [self.codec.decoder(header) for _ in range(n)]
        for d in decoders:
            d.feed(primer_steps)

        def choose(logits):  # a GAN trained on sampled cells: sample them, as the sequence models sample tokens
            return sample_next_token(logits.flatten(0, -2), rng, **settings).view(logits.shape[:-1])

        P, vocab = cfg.pitch_high - cfg.pitch_low + 1, self.codec.vocab_size
        token_of = torch.tensor([REST, HOLD, *range(PITCH0 + cfg.pitch_low, PITCH0 + cfg.pitch_high + 1)])

        key_prior = self._key_prior(header, primer)  # a key asked for: its pitches favoured

        class Guide:  # the priors of musewidgets.sampling.guidance, on the GAN's inner channels
            def __init__(self):
                self.bar, self.cadence = 0, None
                self.guard = None
                first = len(primer_steps)  # the step where the new bars begin, a bar line
                self.history = torch.zeros(n, cfg.voices, first + bars * spb, dtype=torch.long)  # inner channels
                if context is not None:
                    self.history[:, :, :first] = model.inner_channels(context)
                self.start, self.returning = first, None
                self.repeats = torch.Generator().manual_seed(seed + 7919)
                self.first_bar = (first - header["pickup"]) // spb
                if V > 1:
                    self.guard = StrictVoiceLeading(
                        n, V, vocab, parallels_only=True, penalty=guidance.PARALLEL_STRENGTH
                    )
                    for row in primer_steps:  # the primer's notes, as the sequence models feed them
                        for v, tok in enumerate(row):
                            self.guard.update(v, torch.full((n,), tok, dtype=torch.long))
                        self.guard.end_step()
                self.voices = self.guard is not None
                self.key = key_prior if key_prior is None else key_prior[token_of]  # on the inner channels
                self.grid = onset_grid(style, ts, spb)  # new notes off the style's grid cost (guidance)
                if ending and bars:
                    tonics = key_parts(key_t)[0]
                    asked = header["key"] is not None  # asked for, or the primer's: close on its tonic
                    weights = plan_ending(style, V, n, seed, greedy=settings["temperature"] == 0 or asked)
                    bias = cadence_bias(tonics.tolist(), V, vocab, guidance.CADENCE_STRENGTH, weights)
                    self.cadence = (torch.zeros(n, cfg.voices, len(token_of)), tonics, weights)
                    self.cadence[0][:, :V] = bias[:, :, token_of]

            def step(self, t, state):
                last = self.cadence is not None and self.bar == bars - 1
                if t == 0 and not last:  # does this bar return to an earlier one?
                    greedy = settings["temperature"] == 0
                    lags = plan_repeats(style, self.first_bar + self.bar, n, self.repeats, greedy=greedy)
                    rows = (lags > 0).nonzero().flatten()
                    self.returning = (rows, self.start - lags[rows] * spb) if len(rows) else None
                elif t == 0:
                    self.returning = None
                off_grid = self.grid is not None and bool(self.grid[t])
                if not last and self.returning is None and not off_grid:
                    return None if self.key is None else self.key.expand(n, cfg.voices, -1)
                bias = self.cadence[0].clone() if last else torch.zeros(n, cfg.voices, len(token_of))
                if off_grid:
                    bias[:, :, 2:] += self.grid[t]
                if self.key is not None:
                    bias += self.key
                if last:
                    for v in outer_voices(V):
                        sounding = torch.where(state[:, v] < P, state[:, v] + cfg.pitch_low, -1)
                        weights = self.cadence[2][v]
                        bias[:, v, 1] += hold_bias(sounding, self.cadence[1], guidance.HOLD_STRENGTH, weights)
                if self.returning is not None:  # the channel the returning bar had here
                    rows, source = self.returning
                    for v in range(V):
                        bias[rows, v, self.history[rows, v, source + t]] += guidance.REPEAT_STRENGTH
                return bias

            def voice(self, v):
                return self.guard.mask(v)[:, token_of] if v < V else None

            def drawn(self, v, channel):
                if v < V:
                    self.guard.update(v, token_of[channel])

            def end_step(self):
                self.guard.end_step()

            def end_bar(self, inner):
                self.history[:, :, self.start : self.start + spb] = inner
                self.bar, self.start = self.bar + 1, self.start + spb

        written = model.sample_bars(
            style=torch.full((n,), self.codec.style_index(style), dtype=torch.long),
            metre=torch.full((n,), self.codec.metre_index(ts), dtype=torch.long),
            key=key_t,
            mask=voice_mask(ranges, V, cfg.voices).expand(n, -1, -1),
            bar_steps=spb,
            to_end=bars_left,
            generator=rng,
            temperature=1.0 if cfg.stochastic else settings["temperature"],
            context=context,
            choose=choose if cfg.stochastic else None,
            guide=Guide() if guide else None,
        )
        for channels in written:  # (n, voices, spb)
            tokens = RollCodec.tokens_of(channels[:, :V].numpy()).transpose(0, 2, 1)  # (n, spb, V)
            for d, rows in zip(decoders, tokens.tolist()):
                d.feed(rows)
            yield [d.piece() for d in decoders]


def _check_key(key) -> str:
    """``key`` as a key name the piece accepts (``'D minor'``), or ``ValueError`` naming what is wrong."""
    from ..piece import key_name

    try:
        tonic, mode = key.split()
        pc, mode = parse_key(f"{tonic[:1].upper()}{tonic[1:].lower()} {mode.lower()}")  # 'bb MINOR' too
    except (ValueError, AttributeError):
        raise ValueError(f"`key` must look like 'D minor' or 'Bb major', got {key!r}") from None
    if mode not in ("major", "minor"):
        raise ValueError(f"`key` must be a major or minor key, got {key!r}")
    return key_name(pc, mode)


def load_sampler(name_or_path: str | os.PathLike) -> Sampler:
    """A :class:`Sampler` for a shipped model name (``'lstm'``, ``'transformer'``, ...) or a checkpoint path.

    Raises
    ------
    CheckpointError
        If the checkpoint cannot be loaded, or holds a model that does not generate from left to right (the style
        classifier; an infill model, which fills in: :mod:`musewidgets.sampling.infill`).
    """
    checkpoint = load_checkpoint(resolve(name_or_path))
    if checkpoint.family == "classifier":
        raise CheckpointError(f"{checkpoint.path.name}: a style classifier listens to music; it cannot generate any")
    if checkpoint.family == "infill":
        raise CheckpointError(
            f"{checkpoint.path.name}: an infill model fills in a piece it is given; use `musewidgets harmonize` or "
            "musewidgets.sampling.infill (harmonize, regenerate), not generate"
        )
    return Sampler(checkpoint)
