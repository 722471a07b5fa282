"""conv (timm's ``cn``): one kxk convolution, BN and the activation; its input is added only when ``skip`` says so
and the shape allows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scaler.arch.blocks.kind import BlockKind, BlockPlan, Site, block_plan, register
from scaler.arch.counts import Counts, conv
from scaler.spec.blocks import syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def plan(st: StageSpec, site: Site) -> BlockPlan:
    return block_plan(st, site, site.widened(st.expand))  # the hidden width is unused


def count(b: BlockPlan) -> Counts:
    return conv(b.in_ch, b.out_ch, b.kernel, b.out_size)


def module(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    from scaler.arch.layers import Block, ConvBNAct

    return Block([ConvBNAct(b.in_ch, b.out_ch, b.kernel, b.stride, act=act, norm=norm)], b.residual, b.drop_path)


KIND = register(BlockKind(syntax("conv"), plan=plan, count=count, module=module))
