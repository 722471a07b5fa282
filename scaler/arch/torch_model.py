"""Build a torch ``nn.Module`` from a spec, layer for layer as :func:`scaler.arch.plan.plan` resolves it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from scaler.arch.factory import build_factory_model
from scaler.arch.plan import RESNET_BLOCKS, BlockPlan, plan
from scaler.catalog import load_spec
from scaler.spec import FactorySpec, NetSpec
from scaler.spec.model import Spec

Norm = Callable[[int], nn.Module]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU,
                                            "hardswish": nn.Hardswish}


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


class Block(nn.Module):
    """conv, ds, mbconv or fused_mbconv, from a :class:`BlockPlan`."""

    def __init__(self, b: BlockPlan, act: type[nn.Module], norm: Norm):
        super().__init__()
        layers: list[nn.Module] = []
        if b.block == "conv":
            layers.append(ConvBNAct(b.in_ch, b.out_ch, b.kernel, b.stride, act=act, norm=norm))
        else:
            if b.block == "fused_mbconv":
                # fused expand + spatial
                layers.append(ConvBNAct(b.in_ch, b.mid, b.kernel, b.stride, act=act, norm=norm))
            else:
                if b.expanded:
                    # expand
                    layers.append(ConvBNAct(b.in_ch, b.mid, 1, act=act, norm=norm))
                # depthwise
                layers.append(ConvBNAct(b.mid, b.mid, b.kernel, b.stride, groups=b.mid, act=act, norm=norm))
            if b.se:
                # squeeze-excitation
                layers.append(SqueezeExcite(b.mid, b.se, act))
            if b.block != "fused_mbconv" or b.expanded:
                # project
                layers.append(ConvBNAct(b.mid, b.out_ch, 1, act=None, norm=norm))
        self.layers = nn.Sequential(*layers)
        self.residual = b.residual
        self.drop_path = DropPath(b.drop_path) if b.residual and b.drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + self.drop_path(y) if self.residual else y


class ResNetBlock(nn.Module):
    """basic (kxk, kxk) or bottleneck (1x1, kxk with the stride, 1x1), from a :class:`BlockPlan`: the shortcut
    (identity, or a strided 1x1 conv + BN where the shape changes) is added before the last activation."""

    def __init__(self, b: BlockPlan, act: type[nn.Module], norm: Norm):
        super().__init__()
        if b.block == "basic":
            layers = [ConvBNAct(b.in_ch, b.mid, b.kernel, b.stride, act=act, norm=norm),
                      ConvBNAct(b.mid, b.out_ch, b.kernel, act=None, norm=norm)]
        else:
            layers = [ConvBNAct(b.in_ch, b.mid, 1, act=act, norm=norm),
                      ConvBNAct(b.mid, b.mid, b.kernel, b.stride, act=act, norm=norm),
                      ConvBNAct(b.mid, b.out_ch, 1, act=None, norm=norm)]
        self.layers = nn.Sequential(*layers)
        self.residual = b.residual
        self.shortcut = (ConvBNAct(b.in_ch, b.out_ch, 1, b.stride, act=None, norm=norm) if b.projection
                         else nn.Identity())
        self.drop_path = DropPath(b.drop_path) if b.residual and b.drop_path > 0 else nn.Identity()
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        if self.residual:
            y = self.shortcut(x) + self.drop_path(y)
        return self.act(y)


def make_block(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    return ResNetBlock(b, act, norm) if b.block in RESNET_BLOCKS else Block(b, act, norm)


class Network(nn.Module):
    """Stem (with its max-pool, if any), stages, head (if any), pooled classifier."""

    def __init__(self, spec: Spec):
        super().__init__()
        p = plan(spec)
        act = _ACTIVATIONS[p.activation]
        norm = partial(nn.BatchNorm2d, eps=p.bn_eps, momentum=p.bn_momentum)
        self.spec_name = spec.name
        self.resolution = p.resolution
        self.stem = ConvBNAct(p.in_channels, p.stem_ch, p.stem_kernel, p.stem_stride, act=act, norm=norm)
        if p.stem_pool:
            self.stem.append(nn.MaxPool2d(3, 2, 1))
        self.stages = nn.Sequential(*(nn.Sequential(*(make_block(b, act, norm) for b in stage))
                                      for stage in p.stages))
        self.head = (ConvBNAct(p.stages[-1][-1].out_ch, p.head_ch, 1, act=act, norm=norm) if p.head_ch is not None
                     else nn.Identity())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p.dropout)
        self.classifier = nn.Linear(p.num_features, p.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's EfficientNet initialization.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.out_features**0.5
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(x))


def build_model(spec: NetSpec | str) -> nn.Module:
    """The torch model of a spec (or of a spec path or preset name); a factory spec's is its factory's."""
    spec = load_spec(spec)
    if isinstance(spec, FactorySpec):
        return build_factory_model(spec)
    return Network(spec)
