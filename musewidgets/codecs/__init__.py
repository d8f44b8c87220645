"""Encode/decode pairs between a Piece and what models read: token sequences, one-hot rolls and binary frames; and
the style classifier's features (encode only)."""

from .features import StyleFeatures
from .frames import FrameCodec
from .roll import RollCodec
from .tokens import BOS, HOLD, PAD, PITCH0, REST, VOCAB_SIZE, Encoded, TokenCodec

__all__ = [
    "BOS",
    "HOLD",
    "PAD",
    "PITCH0",
    "REST",
    "VOCAB_SIZE",
    "Encoded",
    "FrameCodec",
    "RollCodec",
    "StyleFeatures",
    "TokenCodec",
    "codec_from_dict",
]


def codec_from_dict(data: dict):
    """Rebuild a codec from :meth:`to_dict` output (``kind`` says which)."""
    kinds = {"tokens": TokenCodec, "roll": RollCodec, "frames": FrameCodec, "style_features": StyleFeatures}
    if data.get("kind") not in kinds:
        raise ValueError(f"unknown codec kind {data.get('kind')!r}")
    return kinds[data["kind"]].from_dict(data)
