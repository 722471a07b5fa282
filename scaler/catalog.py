"""The published EfficientNet family as specs (B0-B7, B8, L2 scaled from B0; V2-S/M/L as their own tables), the
ResNets (18, 34, 50, 101) and MobileNetV2, the README's ``quickstart``, and :func:`load_spec`, which takes one of
these names or a file.

Checked to the unit against torchvision's parameter and MAC counts (tests/test_arch_flops.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from scaler.scaling import scale
from scaler.spec import Document, FactorySpec, NetSpec, Spec, read_yaml, spec_from_document

_B0: dict[str, Any] = {
    "name": "efficientnet-b0",
    "resolution": 224,
    "num_classes": 1000,
    "stem": {"channels": 32},
    "stages": [
        "ds_r1_k3_s1_e1_c16_se0.25",
        "ir_r2_k3_s2_e6_c24_se0.25",
        "ir_r2_k5_s2_e6_c40_se0.25",
        "ir_r3_k3_s2_e6_c80_se0.25",
        "ir_r3_k5_s1_e6_c112_se0.25",
        "ir_r4_k5_s2_e6_c192_se0.25",
        "ir_r1_k3_s1_e6_c320_se0.25",
    ],
    "head": {"channels": 1280},
    "dropout": 0.2,
    "drop_path": 0.2,
}

# name: (width, depth, resolution, dropout) -- Tan & Le 2019; torchvision's efficientnet_b*.
V1_COEFFICIENTS: dict[str, tuple[float, float, int, float]] = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
    "efficientnet-b5": (1.6, 2.2, 456, 0.4),
    "efficientnet-b6": (1.8, 2.6, 528, 0.5),
    "efficientnet-b7": (2.0, 3.1, 600, 0.5),
    "efficientnet-b8": (2.2, 3.6, 672, 0.5),
    "efficientnet-l2": (4.3, 5.3, 800, 0.5),
}


# torchvision's BatchNorm per variant: B5-B7 (ported from TF) eps 1e-3, momentum 0.01; V2 eps 1e-3; the rest
# PyTorch's defaults.
V1_NORM: dict[str, dict[str, float]] = {name: {"eps": 1e-3, "momentum": 0.01}
                                        for name in ("efficientnet-b5", "efficientnet-b6", "efficientnet-b7")}
V2_NORM = {"eps": 1e-3, "momentum": 0.1}


def _v2(name: str, resolution: int, stem: int, stages: list[str], dropout: float) -> dict[str, Any]:
    return {"name": name, "resolution": resolution, "num_classes": 1000, "stem": {"channels": stem},
            "stages": stages, "head": {"channels": 1280}, "norm": V2_NORM, "dropout": dropout, "drop_path": 0.2}


# Stage 1 of V2 is a plain 3x3 conv with a residual (timm's `cn_..._skip`, torchvision's FusedMBConv e1).
_V2: dict[str, dict[str, Any]] = {
    "efficientnetv2-s": _v2("efficientnetv2-s", 384, 24, [
        "cn_r2_k3_s1_e1_c24_skip",
        "er_r4_k3_s2_e4_c48",
        "er_r4_k3_s2_e4_c64",
        "ir_r6_k3_s2_e4_c128_se0.25",
        "ir_r9_k3_s1_e6_c160_se0.25",
        "ir_r15_k3_s2_e6_c256_se0.25",
    ], 0.2),
    "efficientnetv2-m": _v2("efficientnetv2-m", 480, 24, [
        "cn_r3_k3_s1_e1_c24_skip",
        "er_r5_k3_s2_e4_c48",
        "er_r5_k3_s2_e4_c80",
        "ir_r7_k3_s2_e4_c160_se0.25",
        "ir_r14_k3_s1_e6_c176_se0.25",
        "ir_r18_k3_s2_e6_c304_se0.25",
        "ir_r5_k3_s1_e6_c512_se0.25",
    ], 0.3),
    "efficientnetv2-l": _v2("efficientnetv2-l", 480, 32, [
        "cn_r4_k3_s1_e1_c32_skip",
        "er_r7_k3_s2_e4_c64",
        "er_r7_k3_s2_e4_c96",
        "ir_r10_k3_s2_e4_c192_se0.25",
        "ir_r19_k3_s1_e6_c224_se0.25",
        "ir_r25_k3_s2_e6_c384_se0.25",
        "ir_r7_k3_s1_e6_c640_se0.25",
    ], 0.4),
}


def _resnet(name: str, stages: list[str]) -> dict[str, Any]:
    """torchvision's ResNet (v1.5: the stride on the bottleneck's 3x3): 7x7 stem and max-pool, no head conv."""
    return {"name": name, "resolution": 224, "num_classes": 1000,
            "stem": {"channels": 64, "kernel": 7, "stride": 2, "pool": True}, "stages": stages, "head": None,
            "activation": "relu", "dropout": 0.0, "drop_path": 0.0}


# Stage channels are the blocks' outputs: a bottleneck's hidden width is channels / e (256 / 4 = 64).
_OTHERS: dict[str, dict[str, Any]] = {
    "resnet18": _resnet("resnet18", ["bb_r2_k3_s1_e1_c64", "bb_r2_k3_s2_e1_c128", "bb_r2_k3_s2_e1_c256",
                                     "bb_r2_k3_s2_e1_c512"]),
    "resnet34": _resnet("resnet34", ["bb_r3_k3_s1_e1_c64", "bb_r4_k3_s2_e1_c128", "bb_r6_k3_s2_e1_c256",
                                     "bb_r3_k3_s2_e1_c512"]),
    "resnet50": _resnet("resnet50", ["bt_r3_k3_s1_e4_c256", "bt_r4_k3_s2_e4_c512", "bt_r6_k3_s2_e4_c1024",
                                     "bt_r3_k3_s2_e4_c2048"]),
    "resnet101": _resnet("resnet101", ["bt_r3_k3_s1_e4_c256", "bt_r4_k3_s2_e4_c512", "bt_r23_k3_s2_e4_c1024",
                                       "bt_r3_k3_s2_e4_c2048"]),
    # torchvision's mobilenet_v2: no SE, ReLU6, and a head that never narrows below 1280 (last_channel x max(1, w))
    "mobilenet-v2": {
        "name": "mobilenet-v2", "resolution": 224, "num_classes": 1000, "stem": {"channels": 32},
        "stages": ["ds_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e6_c24", "ir_r3_k3_s2_e6_c32", "ir_r4_k3_s2_e6_c64",
                   "ir_r3_k3_s1_e6_c96", "ir_r3_k3_s2_e6_c160", "ir_r1_k3_s1_e6_c320"],
        "head": {"channels": 1280}, "activation": "relu6", "dropout": 0.2, "drop_path": 0.0,
        "scaling": {"head_never_narrower": True},
    },
}

PRESETS: tuple[str, ...] = (*V1_COEFFICIENTS, *_V2, *_OTHERS)

# The README's main job, built in so that an installed scaler runs it with no checkout (`scaler grid quickstart`):
# the network with its `search:` and `proxy:` sections. specs/quickstart.yaml is the same spec with the reasons
# written beside it (tests/test_catalog.py holds them equal). Not a published model, so not among PRESETS.
EXAMPLES: dict[str, dict[str, Any]] = {
    "quickstart": {
        "name": "quickstart", "resolution": 14, "num_classes": 10, "in_channels": 1,
        "stem": {"channels": 16, "stride": 1},
        "stages": ["ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e4_c24_se0.25", "ir_r3_k3_s2_e4_c40_se0.25",
                   "ir_r3_k3_s2_e4_c64_se0.25"],
        "head": {"channels": 256}, "dropout": 0.1, "drop_path": 0.0,
        "scaling": {"depth_rounding": "round", "resolution_divisor": 1},
        "search": {"step": 0.1},
        "proxy": {"dataset": "fashion", "subset": 8000, "epochs": 5},
    },
}

NAMES: tuple[str, ...] = (*PRESETS, *EXAMPLES)  # every spec load_spec takes by name


@cache
def preset(name: str) -> Spec:
    """The spec of a published model, e.g. ``efficientnet-b4``, ``efficientnetv2-s`` or ``resnet50``."""
    if name in _V2 or name in _OTHERS:
        return Spec.model_validate(_V2.get(name) or _OTHERS[name])
    if name not in V1_COEFFICIENTS:
        raise KeyError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    base = Spec.model_validate(_B0)
    width, depth, resolution, dropout = V1_COEFFICIENTS[name]
    if name == "efficientnet-b0":
        return base
    scaled = scale(base, width=width, depth=depth, resolution_px=resolution, name=name)
    data = scaled.model_dump()
    data.update(dropout=dropout, norm=V1_NORM.get(name, data["norm"]))
    return Spec.model_validate(data)


def load_spec(source: str | Path | Mapping[str, Any] | NetSpec) -> NetSpec:
    """A spec from a YAML path, a name of :data:`NAMES` (``efficientnet-b0``, ``quickstart``), a mapping, or a
    spec: a :class:`Spec`, or a :class:`FactorySpec` when it names a factory."""
    if isinstance(source, Spec | FactorySpec):
        return source
    return spec_from_document(load_document(source))


def load_document(source: str | Path | Mapping[str, Any]) -> Document:
    """The document of a spec: a YAML file (with positions), a preset or example by name (an existing file of that
    name wins) or a mapping."""
    if isinstance(source, Mapping):
        return Document(data=dict(source), path="<mapping>")
    text = str(source)
    if not Path(text).exists() and text in PRESETS:
        return Document(data=preset(text).to_dict(), path=text)
    if not Path(text).exists() and text in EXAMPLES:
        return Document(data=copy.deepcopy(EXAMPLES[text]), path=text)
    return read_yaml(text)
