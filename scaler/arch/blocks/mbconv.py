"""mbconv (timm's ``ir``, MobileNetV2's inverted residual): a 1x1 expansion (when ``expand`` > 1), a kxk
depthwise convolution with the stride, squeeze-excitation (when ``se`` > 0) and a 1x1 linear projection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaler.arch.blocks.kind import BlockKind, BlockPlan, Site, block_plan, register
from scaler.arch.counts import ZERO, Counts, conv, squeeze_excite
from scaler.spec.blocks import syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def plan(st: StageSpec, site: Site) -> BlockPlan:
    return block_plan(st, site, site.widened(st.expand), expanded=st.expand != 1)


def count(b: BlockPlan) -> Counts:
    total = conv(b.in_ch, b.mid, 1, b.in_size) if b.expanded else ZERO
    total += conv(b.mid, b.mid, b.kernel, b.out_size, groups=b.mid)
    if b.se:
        total += squeeze_excite(b.mid, b.se)
    return total + conv(b.mid, b.out_ch, 1, b.out_size)


def module(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import Block, ConvBNAct, SqueezeExcite

    layers = [ConvBNAct(b.in_ch, b.mid, 1, act=act, norm=norm)] if b.expanded else []
    layers.append(ConvBNAct(b.mid, b.mid, b.kernel, b.stride, groups=b.mid, act=act, norm=norm))  # depthwise
    if b.se:
        layers.append(SqueezeExcite(b.mid, b.se, act))
    layers.append(ConvBNAct(b.mid, b.out_ch, 1, act=None, norm=norm))  # project
    return Block(layers, b.residual, b.drop_path)


KIND = register(BlockKind(syntax("mbconv"), plan=plan, count=count, module=module))
