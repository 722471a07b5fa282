"""basic (scaler's ``bb``, ResNet-18/34's block): two kxk convolutions at the output width, the first with the
stride; and what ResNet's two kinds share: the shortcut (the input, or a strided 1x1 conv + BN of it where the shape
changes), added before the last activation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scaler.arch.blocks.kind import BlockKind, BlockPlan, Site, block_plan, register
from scaler.arch.counts import ZERO, Counts, conv
from scaler.spec.blocks import syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def resnet_plan(st: StageSpec, site: Site, mid: int) -> BlockPlan:
    """A ResNet block: residual whenever ``skip`` allows, through a projection where the shape changes."""
    return block_plan(st, site, mid, residual=st.residual, projection=st.residual and not site.same_shape(st))


def shortcut_count(b: BlockPlan) -> Counts:
    return conv(b.in_ch, b.out_ch, 1, b.out_size) if b.projection else ZERO


def resnet_module(b: BlockPlan, layers: Sequence[nn.Module], act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import ConvBNAct, ResNetBlock

    shortcut = ConvBNAct(b.in_ch, b.out_ch, 1, b.stride, act=None, norm=norm) if b.projection else None
    return ResNetBlock(layers, shortcut, b.residual, b.drop_path, act)


def plan(st: StageSpec, site: Site) -> BlockPlan:
    return resnet_plan(st, site, st.channels)


def count(b: BlockPlan) -> Counts:
    return (conv(b.in_ch, b.mid, b.kernel, b.out_size) + conv(b.mid, b.out_ch, b.kernel, b.out_size)
            + shortcut_count(b))


def module(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import ConvBNAct

    return resnet_module(b, [ConvBNAct(b.in_ch, b.mid, b.kernel, b.stride, act=act, norm=norm),
                             ConvBNAct(b.mid, b.out_ch, b.kernel, act=None, norm=norm)], act, norm)


KIND = register(BlockKind(syntax("basic"), plan=plan, count=count, module=module))
