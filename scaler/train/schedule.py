"""When things change during training: the learning rate per step, the progressive-learning stages, and the
optimizer whose parameter groups the rate is written into."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from scaler.config import ProgressiveConfig, TrainConfig


@dataclass(frozen=True)
class StageSettings:
    """What one progressive-learning stage trains with (epochs are 1-based, inclusive)."""

    first_epoch: int
    last_epoch: int
    image_size: int
    dropout: float
    augment: float
    mixup: float


def progressive_schedule(cfg: ProgressiveConfig, epochs: int, resolution: int) -> list[StageSettings]:
    """Per-stage settings: with ratio (i + 1) / stages, image size ``start + (final - start) * ratio`` (start =
    ``start_scale * resolution``, rounded to whole pixels) and each magnitude ``first + (last - first) * ratio``,
    as in EfficientNetV2's code; the last stage trains at the trial's own resolution and full regularization.
    Epochs are split as evenly as possible, earlier stages taking the shorter share; a run shorter than
    ``stages`` epochs has one stage per epoch."""
    stages = min(cfg.stages, epochs)
    start = cfg.start_scale * resolution
    out = []
    for i in range(stages):
        ratio = (i + 1) / stages
        first, last = i * epochs // stages + 1, (i + 1) * epochs // stages
        ramp = {k: round(lo + (hi - lo) * ratio, 6) for k, (lo, hi) in
                (("dropout", cfg.dropout), ("augment", cfg.augment), ("mixup", cfg.mixup))}
        out.append(StageSettings(first_epoch=first, last_epoch=last,
                                 image_size=max(1, round(start + (resolution - start) * ratio)), **ramp))
    return out


def learning_rate(
    step: int, total_steps: int, *, base_lr: float, warmup_steps: int, schedule: str = "cosine"
) -> float:
    """LR for optimizer step ``step`` (0-based): linear warm-up to ``base_lr``, then cosine to 0 or constant.

    Warm-up step ``i`` uses ``base_lr * (i + 1) / warmup_steps`` so the first step already moves; the cosine
    covers the remaining steps and would reach 0 one step after the last.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """The configured optimizer, with weight decay only on weights (not on BN/bias/1-D parameters)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [g for g in ({"params": decay, "weight_decay": config.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    # foreach: one multi-tensor kernel per op instead of one per parameter (big win for small models).
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
                               foreach=True)
    if config.optimizer == "rmsprop":
        # TF-style EfficientNet settings (decay 0.9); torch adds eps outside the sqrt, hence the larger value.
        return torch.optim.RMSprop(groups, lr=config.lr, alpha=0.9, eps=1e-3, momentum=config.momentum,
                                   foreach=True)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), foreach=True)
