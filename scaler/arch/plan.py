"""The resolved architecture of a spec: every layer with concrete channels and feature-map sizes.

Both the analytic counter (:mod:`scaler.arch.flops`) and the torch builder (:mod:`scaler.arch.torch_model`) walk
this plan, so the network that is counted is the network that is built. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.scaling import make_divisible
from scaler.spec.model import Spec


def conv_out(size: int, stride: int) -> int:
    """Output size of a 'same'-padded convolution (odd kernel, padding k // 2)."""
    return (size + stride - 1) // stride


@dataclass(frozen=True)
class BlockPlan:
    """One block. ``mid`` is the hidden width (``in_ch`` when there is no expansion); ``se`` the SE squeeze
    width (0: none)."""

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


@dataclass(frozen=True)
class Plan:
    in_channels: int
    resolution: int
    stem_ch: int
    stem_kernel: int
    stem_stride: int
    stem_size: int
    stages: tuple[tuple[BlockPlan, ...], ...]
    head_ch: int
    feature_size: int
    num_classes: int
    activation: str
    dropout: float
    bn_eps: float
    bn_momentum: float


def plan(spec: Spec, resolution: int | None = None) -> Plan:
    """Resolve ``spec`` at ``resolution`` (default: the spec's) into concrete layers."""
    res = resolution or spec.resolution
    size = conv_out(res, spec.stem.stride)
    stem_size = size
    ch = spec.stem.channels
    total = spec.blocks
    index = 0
    stages: list[tuple[BlockPlan, ...]] = []
    for st in spec.stages:
        blocks = []
        for i in range(st.repeats):
            stride = st.stride if i == 0 else 1
            out_size = conv_out(size, stride)
            mid = ch if st.expand == 1 else make_divisible(ch * st.expand, spec.scaling.channel_divisor)
            if st.block == "fused_mbconv" and st.expand == 1:
                mid = st.channels  # a single kxk conv: its SE (if any) sits on the output
            blocks.append(BlockPlan(
                block=st.block, in_ch=ch, mid=mid, out_ch=st.channels, kernel=st.kernel, stride=stride,
                se=max(1, int(ch * st.se)) if st.se > 0 else 0,
                residual=st.residual and stride == 1 and ch == st.channels,
                drop_path=spec.drop_path * index / total, in_size=size, out_size=out_size,
                expanded=st.block in ("mbconv", "fused_mbconv") and st.expand != 1,
            ))
            ch, size = st.channels, out_size
            index += 1
        stages.append(tuple(blocks))
    return Plan(in_channels=spec.in_channels, resolution=res, stem_ch=spec.stem.channels,
                stem_kernel=spec.stem.kernel, stem_stride=spec.stem.stride, stem_size=stem_size,
                stages=tuple(stages), head_ch=spec.head.channels, feature_size=size,
                num_classes=spec.num_classes, activation=spec.activation, dropout=spec.dropout,
                bn_eps=spec.norm.eps, bn_momentum=spec.norm.momentum)
