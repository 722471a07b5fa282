"""The torch layers block kinds are built from (:mod:`scaler.arch.blocks`): convolution + BN + activation,
squeeze-excitation, stochastic depth, and the two residual wrappers (an inverted-residual ``Block`` and a
``ResNetBlock``). A kind's ``module`` imports this module when it builds, so planning and counting stay torch-free."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Norm = Callable[[int], nn.Module]


class ConvBNAct(nn.Sequential):
    """Convolution (same padding, no bias), BatchNorm, and an optional activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] | None = nn.SiLU, norm: Norm = nn.BatchNorm2d):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            norm(cout),
            act() if act is not None else nn.Identity(),
        )


class SqueezeExcite(nn.Module):
    """Channel attention: pool, 1x1 down, activation, 1x1 up, sigmoid gate."""

    def __init__(self, channels: int, squeeze: int, act: type[nn.Module] = nn.SiLU):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


def _drop_path(residual: bool, p: float) -> nn.Module:
    return DropPath(p) if residual and p > 0 else nn.Identity()


class Block(nn.Module):
    """``layers`` in sequence, their input added (through stochastic depth) when ``residual``: conv, ds, mbconv and
    fused_mbconv blocks."""

    def __init__(self, layers: Sequence[nn.Module], residual: bool, drop_path: float):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.residual = residual
        self.drop_path = _drop_path(residual, drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + self.drop_path(y) if self.residual else y


class ResNetBlock(nn.Module):
    """``layers`` in sequence, the ``shortcut`` of the input (None: the input itself; a strided 1x1 conv + BN where
    the shape changes) added before the last activation when ``residual``: basic and bottleneck blocks."""

    def __init__(self, layers: Sequence[nn.Module], shortcut: nn.Module | None, residual: bool, drop_path: float,
                 act: type[nn.Module]):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.residual = residual
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.drop_path = _drop_path(residual, drop_path)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        if self.residual:
            y = self.shortcut(x) + self.drop_path(y)
        return self.act(y)
