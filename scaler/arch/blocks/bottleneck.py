"""bottleneck (scaler's ``bt``, ResNet-50's block): 1x1 down to ``channels / expand`` (torchvision's planes), kxk
with the stride, 1x1 up to the output width; the shortcut is ResNet's (:mod:`scaler.arch.blocks.basic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaler.arch.blocks.basic import resnet_module, resnet_plan, shortcut_count
from scaler.arch.blocks.kind import BlockKind, BlockPlan, Site, register
from scaler.arch.counts import Counts, conv
from scaler.scaling import make_divisible
from scaler.spec.blocks import syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def plan(st: StageSpec, site: Site) -> BlockPlan:
    mid = st.channels if st.expand == 1 else make_divisible(st.channels / st.expand, site.divisor)
    return resnet_plan(st, site, mid)


def count(b: BlockPlan) -> Counts:
    return (conv(b.in_ch, b.mid, 1, b.in_size) + conv(b.mid, b.mid, b.kernel, b.out_size)
            + conv(b.mid, b.out_ch, 1, b.out_size) + shortcut_count(b))


def module(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import ConvBNAct

    return resnet_module(b, [ConvBNAct(b.in_ch, b.mid, 1, act=act, norm=norm),
                             ConvBNAct(b.mid, b.mid, b.kernel, b.stride, act=act, norm=norm),
                             ConvBNAct(b.mid, b.out_ch, 1, act=None, norm=norm)], act, norm)


KIND = register(BlockKind(syntax("bottleneck"), plan=plan, count=count, module=module))
