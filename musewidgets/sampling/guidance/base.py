"""The strengths of the priors (:class:`Guidance`) and the list that applies them (:class:`Priors`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

__all__ = ["MAX_STRENGTH", "PRIORS", "Guidance", "Prior", "Priors"]

MAX_STRENGTH = 100.0


@dataclass(frozen=True)
class Guidance:
    """One strength per prior of the samplers: 1 is the prior as shipped, 0 turns it off, 2 makes it twice as strong.

    ``Guidance()`` is what every sampler uses by default, ``Guidance.off()`` the model alone (``guide=False``).
    :meth:`parse` reads the CLI's form, ``"cadence=0,key=1"``; ``str()`` writes it back (``"on"``, ``"off"``).

    Attributes
    ----------
    key : float, default 1
        A take asked for a key: chosen among :data:`~.pitches.KEY_CANDIDATES` candidates, the first heard in that key;
        the transformer's and the GAN's pitches also lean toward the key's notes. 0: the model is only told the key.
    cadence : float, default 1
        A take that ends: its outer voices lean, in the last bar, toward a final the style's pieces end on; the infill
        model's voices toward a cadence under the melody's last note.
    held_final : float, default 1
        A take that ends holds its final chord through the last bar as often as the style's pieces do (times this).
    repeats : float, default 1
        Bars return note for note to earlier ones as often as in the style's pieces, and bars kept new vary.
    style : float, default 1
        Irish takes are steered away from the folk songs the models blur them into.
    pitch : float, default 1
        Palestrina's takes choose among pitches at a temperature of 0.8 (``0.8 ** pitch``; chorales have none).
    parallels : float, default 1
        Parallel fifths and octaves cost.
    grid : float, default 1
        The GAN's new notes keep to the steps of the bar where the style's notes start.
    """

    key: float = 1.0
    cadence: float = 1.0
    held_final: float = 1.0
    repeats: float = 1.0
    style: float = 1.0
    pitch: float = 1.0
    parallels: float = 1.0
    grid: float = 1.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not (ok and 0 <= value <= MAX_STRENGTH):
                raise ValueError(f"guidance `{name}` must be a number from 0 (off) to {MAX_STRENGTH:g}, got {value!r}")
            object.__setattr__(self, name, float(value))

    @classmethod
    def off(cls) -> Guidance:
        """Every prior off: the model alone."""
        return cls(**dict.fromkeys(PRIORS, 0.0))

    @classmethod
    def of(cls, value: bool | str | dict | Guidance | None) -> Guidance:
        """``value`` as a Guidance: ``True``/``None`` the default, ``False`` off, a dict of strengths or the text of
        :meth:`parse`."""
        if isinstance(value, Guidance):
            return value
        if value is None or value is True:
            return cls()
        if value is False:
            return cls.off()
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(PRIORS))
            if unknown:
                raise ValueError(f"unknown guidance {unknown[0]!r}; the priors are: {', '.join(PRIORS)}")
            return cls(**value)
        raise TypeError(f"`guide` must be True, False, a Guidance, a dict or text like 'cadence=0', got {value!r}")

    @classmethod
    def parse(cls, text: str) -> Guidance:
        """``"on"``, ``"off"``, or ``"name=strength"`` pairs joined by commas (``"cadence=0,key=2"``); the priors not
        named keep their default. ``"off,parallels=1"`` starts from everything off."""
        strengths: dict[str, float] = {}
        for item in (part.strip() for part in text.split(",")):
            if item in ("", "on"):
                continue
            if item == "off":
                strengths |= dict.fromkeys(PRIORS, 0.0)
                continue
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in PRIORS:
                raise ValueError(
                    f"guidance {item!r}: expected name=strength with a name from {', '.join(PRIORS)} (or on, off)"
                )
            try:
                strengths[name] = float(value)
            except ValueError:
                raise ValueError(f"guidance {item!r}: {value.strip()!r} is not a number") from None
        return cls(**strengths)

    def to_dict(self) -> dict[str, float]:
        """``{prior: strength}``, every prior."""
        return asdict(self)

    @property
    def is_off(self) -> bool:
        """Whether every prior is off."""
        return not any(asdict(self).values())

    def __str__(self) -> str:
        if self.is_off:
            return "off"
        changed = [f"{name}={value:g}" for name, value in asdict(self).items() if value != 1.0]
        return ",".join(changed) or "on"


PRIORS = tuple(f.name for f in fields(Guidance))


class Prior:
    """One prior of a sequence sampler: called on one voice's logits at one step, it returns them nudged.

    A sampler calls, for each step: :meth:`begin_step` once, then for each voice ``__call__`` on its logits ``(n,
    vocab)`` and :meth:`drawn` with the tokens ``(n,)`` drawn from them, then :meth:`end_step`. ``run`` is the take so
    far (:class:`~musewidgets.sampling.sequence.Run`: its history, the pitch each voice sounds, its plan). The hooks do
    nothing unless a prior needs them.
    """

    def start(self, run) -> None:
        """Plan what the whole take needs."""

    def begin_step(self, run, step: int) -> None:
        """Plan what this step needs (a bar's return, the last bar's cadence)."""

    def __call__(self, logits, run, step: int, voice: int):
        return logits

    def drawn(self, run, step: int, voice: int, token) -> None:
        """Told the tokens ``(n,)`` drawn (or given by a primer) for ``voice`` at ``step``."""

    def end_step(self, run, step: int) -> None:
        """Told that every voice of ``step`` is drawn."""


class Priors(list):
    """Priors applied in order, as one (the pattern of transformers' ``LogitsProcessorList``)."""

    def start(self, run) -> None:
        for prior in self:
            prior.start(run)

    def begin_step(self, run, step: int) -> None:
        for prior in self:
            prior.begin_step(run, step)

    def __call__(self, logits, run, step: int, voice: int):
        for prior in self:
            logits = prior(logits, run, step, voice)
        return logits

    def drawn(self, run, step: int, voice: int, token) -> None:
        for prior in self:
            prior.drawn(run, step, voice, token)

    def end_step(self, run, step: int) -> None:
        for prior in self:
            prior.end_step(run, step)
