"""The resolved architecture of a spec: every layer with concrete channels and feature-map sizes.

Both the analytic counter (:mod:`scaler.arch.flops`) and the torch builder (:mod:`scaler.arch.torch_model`) walk
this plan, so the network that is counted is the network that is built. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.scaling import make_divisible
from scaler.spec.model import Spec, StageSpec


def conv_out(size: int, stride: int) -> int:
    """Output size of a 'same'-padded convolution (odd kernel, padding k // 2)."""
    return (size + stride - 1) // stride


RESNET_BLOCKS = ("basic", "bottleneck")


@dataclass(frozen=True)
class BlockPlan:
    """One block. ``mid`` is the hidden width (``in_ch`` when there is no expansion; basic: ``out_ch``;
    bottleneck: ``out_ch / expand``); ``se`` the SE squeeze width (0: none). ``residual``: the input (or its
    projection) is added; ``projection``: through a strided 1x1 conv + BN (basic and bottleneck blocks whose shape
    changes)."""

    block: str
    in_ch: int
    mid: int
    out_ch: int
    kernel: int
    stride: int
    se: int
    residual: bool
    drop_path: float
    in_size: int
    out_size: int
    expanded: bool  # mbconv/fused_mbconv with expand > 1: an expansion layer, then a 1x1 projection
    projection: bool = False


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


def hidden_width(st: StageSpec, in_ch: int, divisor: int) -> int:
    """The hidden width of a block of ``st`` whose input has ``in_ch`` channels."""
    if st.block == "basic" or (st.block == "fused_mbconv" and st.expand == 1):
        return st.channels  # kxk convs at the output width (fused e1: its SE, if any, sits on the output)
    if st.block == "bottleneck":  # torchvision's planes = output / expansion
        return st.channels if st.expand == 1 else make_divisible(st.channels / st.expand, divisor)
    return in_ch if st.expand == 1 else make_divisible(in_ch * st.expand, divisor)


def block_plan(st: StageSpec, in_ch: int, stride: int, size: int, drop_path: float, divisor: int) -> BlockPlan:
    """One block of stage ``st``: ``in_ch`` channels of ``size`` x ``size`` in."""
    same_shape = stride == 1 and in_ch == st.channels
    resnet = st.block in RESNET_BLOCKS
    return BlockPlan(
        block=st.block, in_ch=in_ch, mid=hidden_width(st, in_ch, divisor), out_ch=st.channels, kernel=st.kernel,
        stride=stride, se=max(1, int(in_ch * st.se)) if st.se > 0 else 0,
        residual=st.residual and (same_shape or resnet), drop_path=drop_path, in_size=size,
        out_size=conv_out(size, stride), expanded=st.block in ("mbconv", "fused_mbconv") and st.expand != 1,
        projection=resnet and st.residual and not same_shape,
    )


def plan(spec: Spec, resolution: int | None = None) -> Plan:
    """Resolve ``spec`` at ``resolution`` (default: the spec's) into concrete layers."""
    res = resolution or spec.resolution
    stem_size = conv_out(res, spec.stem.stride)
    size = conv_out(stem_size, 2) if spec.stem.pool else stem_size  # 3x3 stride-2 max-pool, padding 1
    ch = spec.stem.channels
    index = 0
    stages: list[tuple[BlockPlan, ...]] = []
    for st in spec.stages:
        blocks = []
        for i in range(st.repeats):
            b = block_plan(st, ch, st.stride if i == 0 else 1, size, spec.drop_path * index / spec.blocks,
                           spec.scaling.channel_divisor)
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
