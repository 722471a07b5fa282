"""The resolved architecture of a spec: every layer with concrete channels and feature-map sizes.

Both the analytic counter (:mod:`scaler.arch.flops`) and the torch builder (:mod:`scaler.arch.torch_model`) walk
this plan, so the network that is counted is the network that is built; each block is planned by its kind
(:mod:`scaler.arch.blocks`). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.arch.blocks import BlockPlan, Site, block_kind
from scaler.arch.blocks.kind import conv_out
from scaler.spec.model import Spec

__all__ = ["BlockPlan", "Plan", "conv_out", "plan"]  # BlockPlan and conv_out live with the block kinds


@dataclass(frozen=True)
class Plan:
    in_channels: int
    resolution: int
    stem_ch: int
    stem_kernel: int
    stem_stride: int
    stem_size: int  # after the stem convolution (before its max-pool, if any)
    stem_pool: bool
    stages: tuple[tuple[BlockPlan, ...], ...]
    head_ch: int | None  # None: no head conv, the last stage is pooled into the classifier
    num_features: int  # the classifier's input channels
    feature_size: int
    num_classes: int
    activation: str
    dropout: float
    bn_eps: float
    bn_momentum: float


def plan(spec: Spec, resolution: int | None = None) -> Plan:
    """Resolve ``spec`` at ``resolution`` (default: the spec's) into concrete layers."""
    res = resolution or spec.resolution
    stem_size = conv_out(res, spec.stem.stride)
    size = conv_out(stem_size, 2) if spec.stem.pool else stem_size  # 3x3 stride-2 max-pool, padding 1
    ch = spec.stem.channels
    index = 0
    stages: list[tuple[BlockPlan, ...]] = []
    for st in spec.stages:
        kind = block_kind(st.block)
        blocks = []
        for i in range(st.repeats):
            site = Site(in_ch=ch, size=size, stride=st.stride if i == 0 else 1,
                        drop_path=spec.drop_path * index / spec.blocks, divisor=spec.scaling.channel_divisor)
            b = kind.plan(st, site)
            blocks.append(b)
            ch, size = b.out_ch, b.out_size
            index += 1
        stages.append(tuple(blocks))
    return Plan(in_channels=spec.in_channels, resolution=res, stem_ch=spec.stem.channels,
                stem_kernel=spec.stem.kernel, stem_stride=spec.stem.stride, stem_size=stem_size,
                stem_pool=spec.stem.pool, stages=tuple(stages),
                head_ch=spec.head.channels if spec.head is not None else None, num_features=spec.num_features,
                feature_size=size, num_classes=spec.num_classes, activation=spec.activation, dropout=spec.dropout,
                bn_eps=spec.norm.eps, bn_momentum=spec.norm.momentum)
