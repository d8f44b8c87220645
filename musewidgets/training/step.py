"""What every family's training step shares: the learning-rate schedule (:func:`lr_factor`), the forward pass's
precision (:func:`mixed_precision`) and the optimizer's update (:func:`set_lr`, :func:`update`)."""

from __future__ import annotations

import math

import torch

__all__ = ["PRECISIONS", "bf16_gpu", "lr_factor", "mixed_precision", "set_lr", "update"]

PRECISIONS = ("auto", "fp32", "bf16")  # TrainConfig.precision


def lr_factor(step: int, max_steps: int | None = None, floor: float = 0.1) -> float:
    """The learning rate of step ``step`` (from 0) as a share of the peak: a linear warm-up over 100 steps, then,
    with a step cap ``max_steps``, a cosine down to ``floor`` at the cap (none without one)."""
    warm = min(1.0, (step + 1) / 100)
    if not max_steps:
        return warm
    return warm * ((1 + floor) / 2 + (1 - floor) / 2 * math.cos(math.pi * min(step / max_steps, 1.0)))


def bf16_gpu(device) -> bool:
    """Whether ``device`` is a GPU that computes in bfloat16."""
    device = torch.device(device)
    return device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def mixed_precision(device, precision: str = "auto"):
    """The context the forward pass of a training step runs in: bfloat16 autocast for ``precision="bf16"`` on a GPU
    that has it, else nothing (float32; see :class:`~musewidgets.training.TrainConfig`). Weights, gradients and the
    optimizer stay float32; the loss is computed in float32 (autocast runs cross-entropy in float32)."""
    import contextlib

    if precision == "bf16" and bf16_gpu(device):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_lr(opt, peak: float, factor: float) -> None:
    """Every parameter group of ``opt`` at ``peak * factor`` (times the group's ``lr_scale``, where it has one)."""
    for group in opt.param_groups:
        group["lr"] = peak * group.get("lr_scale", 1.0) * factor


def update(model, opt, loss: torch.Tensor, clip: float | None = None) -> None:
    """One step of ``opt`` on ``loss``: gradients cleared, back-propagated, those of ``model`` clipped to norm
    ``clip`` (unless None), applied."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
