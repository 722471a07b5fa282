"""fused_mbconv (timm's ``er``, EfficientNetV2's edge residual): a kxk convolution with the stride in place of the
expansion and the depthwise one, squeeze-excitation (when ``se`` > 0), and a 1x1 projection only when ``expand``
> 1 (with ``expand`` 1 the kxk convolution goes straight to the output width)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaler.arch.blocks.kind import BlockKind, BlockPlan, Site, block_plan, register
from scaler.arch.counts import Counts, conv, squeeze_excite
from scaler.spec.blocks import syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def plan(st: StageSpec, site: Site) -> BlockPlan:
    expanded = st.expand != 1
    return block_plan(st, site, site.widened(st.expand) if expanded else st.channels, expanded=expanded)


def count(b: BlockPlan) -> Counts:
    total = conv(b.in_ch, b.mid, b.kernel, b.out_size)
    if b.se:
        total += squeeze_excite(b.mid, b.se)
    return total + conv(b.mid, b.out_ch, 1, b.out_size) if b.expanded else total


def module(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import Block, ConvBNAct, SqueezeExcite

    layers = [ConvBNAct(b.in_ch, b.mid, b.kernel, b.stride, act=act, norm=norm)]  # fused expand + spatial
    if b.se:
        layers.append(SqueezeExcite(b.mid, b.se, act))
    if b.expanded:
        layers.append(ConvBNAct(b.mid, b.out_ch, 1, act=None, norm=norm))  # project
    return Block(layers, b.residual, b.drop_path)


KIND = register(BlockKind(syntax("fused_mbconv"), plan=plan, count=count, module=module))
