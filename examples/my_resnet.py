"""A small residual network, written the way you would write your own, and the factory scaler calls to scale it.

scaler calls ``make_net(depth=d, width=w, num_classes=n, in_channels=c)`` with each candidate's multipliers
(floats, 1.0 for the base network) and trains what it returns at the candidate's input size. How the multipliers
become whole blocks and channels is this file's decision: here, as in EfficientNet, repeats round up and channels
round to a multiple of 8. Point a spec at it with ``factory: my_resnet:make_net`` (see specs/my-resnet.yaml).
"""

from __future__ import annotations

import math

from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (a 1x1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A 3x3 stem, three stages of basic blocks (the last two halve the feature map), global pooling, a linear
    classifier."""

    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 1), num_classes=10, in_channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, cin = [], widths[0]
        for i, (cout, n) in enumerate(zip(widths, blocks, strict=True)):
            for j in range(n):
                layers.append(BasicBlock(cin, cout, stride=2 if i > 0 and j == 0 else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def round_channels(channels: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor``, never more than 10% below ``channels``."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def make_net(depth: float = 1.0, width: float = 1.0, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """The network scaled by ``depth`` (blocks per stage) and ``width`` (channels of every layer)."""
    widths = [round_channels(c * width) for c in (16, 32, 64)]
    blocks = [math.ceil(n * depth - 1e-9) for n in (1, 2, 2)]
    return SmallResNet(widths, blocks, num_classes, in_channels)
