"""Build a torch ``nn.Module`` from a spec, layer for layer as :func:`scaler.arch.plan.plan` resolves it: the stem,
head and classifier here, each block by its kind (:mod:`scaler.arch.blocks`)."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from scaler.arch.blocks import BlockPlan, block_kind
from scaler.arch.factory import build_factory_model
from scaler.arch.layers import Block, ConvBNAct, DropPath, Norm, ResNetBlock, SqueezeExcite
from scaler.arch.plan import plan
from scaler.catalog import load_spec
from scaler.spec import FactorySpec, NetSpec
from scaler.spec.model import Spec

__all__ = ["Block", "ConvBNAct", "DropPath", "Network", "ResNetBlock", "SqueezeExcite", "build_model",
           "make_block"]  # the layers live in scaler.arch.layers

_ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6, "gelu": nn.GELU,
                                            "hardswish": nn.Hardswish}


def make_block(b: BlockPlan, act: type[nn.Module], norm: Norm) -> nn.Module:
    """The module of one block, built by its kind (:mod:`scaler.arch.blocks`)."""
    return block_kind(b.block).module(b, act, norm)


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
