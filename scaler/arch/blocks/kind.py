"""A block kind: its syntax (the format's half, :mod:`scaler.spec.blocks`), how a block of it is planned, what it
costs analytically and the torch module it is built as; and the one registry of kinds.

The plan and the count are torch-free; ``module`` imports torch when it is called (from :mod:`scaler.arch.layers`,
a function-level import the torch-free contract in pyproject.toml ignores), so a kind is one torch-free file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from scaler.arch.counts import Counts
from scaler.scaling import make_divisible
from scaler.spec.blocks import BlockSyntax, block_names, register_syntax, unregister_syntax
from scaler.spec.model import StageSpec

if TYPE_CHECKING:
    from torch import nn

    from scaler.arch.layers import Norm


def conv_out(size: int, stride: int) -> int:
    """Output size of a 'same'-padded convolution (odd kernel, padding k // 2)."""
    return (size + stride - 1) // stride


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
class Site:
    """Where a block sits: its input's channels and size, its stride, its stochastic-depth rate, and the divisor
    its hidden channels round to."""

    in_ch: int
    size: int
    stride: int
    drop_path: float
    divisor: int

    def same_shape(self, st: StageSpec) -> bool:
        """Whether the block's output has its input's shape."""
        return self.stride == 1 and self.in_ch == st.channels

    def widened(self, expand: float) -> int:
        """The input's channels times ``expand``, rounded to the divisor (the input's when ``expand`` is 1)."""
        return self.in_ch if expand == 1 else make_divisible(self.in_ch * expand, self.divisor)


def block_plan(st: StageSpec, site: Site, mid: int, *, residual: bool | None = None, expanded: bool = False,
               projection: bool = False) -> BlockPlan:
    """A block of ``st`` at ``site`` with hidden width ``mid``; what every kind shares is filled in here.
    ``residual`` defaults to the stage's shortcut where the shape allows it."""
    return BlockPlan(
        block=st.block, in_ch=site.in_ch, mid=mid, out_ch=st.channels, kernel=st.kernel, stride=site.stride,
        se=max(1, int(site.in_ch * st.se)) if st.se > 0 else 0,
        residual=st.residual and site.same_shape(st) if residual is None else residual,
        drop_path=site.drop_path, in_size=site.size, out_size=conv_out(site.size, site.stride), expanded=expanded,
        projection=projection)


class Planner(Protocol):
    def __call__(self, st: StageSpec, site: Site) -> BlockPlan: ...


class Counter(Protocol):
    def __call__(self, b: BlockPlan) -> Counts: ...


class Builder(Protocol):
    def __call__(self, b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module: ...


@dataclass(frozen=True)
class BlockKind:
    """Everything scaler knows of one kind of block: its syntax; ``plan``, one block of a stage at a site; ``count``,
    its params, MACs and activations, layer by layer as ``module`` builds it; ``module``, its torch module (given
    the network's activation class and norm factory)."""

    syntax: BlockSyntax
    plan: Planner = field(repr=False)
    count: Counter = field(repr=False)
    module: Builder = field(repr=False)

    @property
    def name(self) -> str:
        return self.syntax.name


_KINDS: dict[str, BlockKind] = {}


def register(kind: BlockKind) -> BlockKind:
    """Make ``kind`` known to the format, the planner, the counter and the builder; returns it."""
    if kind.name in _KINDS:
        raise ValueError(f"block kind {kind.name!r} is registered already")
    register_syntax(kind.syntax)
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Forget the kind ``name`` everywhere (a test's, or a plugin's)."""
    _KINDS.pop(name, None)
    unregister_syntax(name)


def block_kind(name: str) -> BlockKind:
    """The registered kind ``name``."""
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"block kind {name!r} has a syntax but no plan, count or module: register a BlockKind "
                       f"(registered: {', '.join(_KINDS)})") from None


def block_kinds() -> tuple[BlockKind, ...]:
    """Every registered kind, in the format's order (:func:`scaler.spec.blocks.block_names`)."""
    return tuple(_KINDS[name] for name in block_names() if name in _KINDS)
