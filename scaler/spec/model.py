"""The spec format: one network described in YAML, validated with pydantic. No torch.

A stage is a timm-style block string (``ir_r2_k3_s2_e6_c24_se0.25``, see :mod:`scaler.spec.blocks`) or a mapping
with the same meaning (``{block: mbconv, repeats: 2, kernel: 3, stride: 2, expand: 6, channels: 24, se: 0.25}``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import yaml
from annotated_types import Ge
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError, core_schema

from scaler.spec.blocks import block_names, block_pattern, decode_block, encode_block, syntax
from scaler.spec.document import FieldError
from scaler.spec.limits import MAX_CHANNELS, MAX_CLASSES, MAX_EXPAND, MAX_IN_CHANNELS, MAX_REPEATS, MAX_RESOLUTION
from scaler.spec.paths import name_problem

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _no_bool(v: Any) -> Any:
    """YAML's true/yes would pass as the number 1: numeric fields refuse booleans."""
    if isinstance(v, bool):
        raise ValueError(f"must be a number, got {str(v).lower()}")
    return v


def _check(ok: Any, message: str) -> AfterValidator:
    def validate(v: Any) -> Any:
        if not ok(v):
            raise ValueError(message(v) if callable(message) else message)
        return v

    return AfterValidator(validate)


NoBool = BeforeValidator(_no_bool)
Int = Annotated[int, NoBool]
Float = Annotated[float, NoBool]
Positive = Annotated[int, NoBool, _check(lambda v: v >= 1, "must be at least 1")]
Kernel = Annotated[int, NoBool, _check(lambda v: v >= 1 and v % 2 == 1,
                                       lambda v: "must be odd" if v >= 1 else "must be an odd number >= 1")]
Stride = Annotated[int, NoBool, _check(lambda v: v in (1, 2), "must be 1 or 2")]
Expand = Annotated[float, NoBool, _check(lambda v: v >= 1, "must be at least 1"),
                   _check(lambda v: v <= MAX_EXPAND, f"must be at most {MAX_EXPAND} (EfficientNet expands 6x)")]


def _at_most(limit: int, what: str) -> AfterValidator:
    return _check(lambda v: v <= limit, f"must be at most {limit:,} ({what})")


Repeats = Annotated[Positive, _at_most(MAX_REPEATS, "scaler's limit on blocks per stage; ResNet-1001 has 111")]
Channels = Annotated[Positive, _at_most(MAX_CHANNELS, "scaler's limit on one layer's channels; ResNet-50 ends "
                                                      "at 2048")]
Resolution = Annotated[Positive, _at_most(MAX_RESOLUTION, "px, scaler's limit on the input size; EfficientNet-L2 "
                                                          "uses 800")]
InChannels = Annotated[Positive, _at_most(MAX_IN_CHANNELS, "scaler's limit on input image channels")]
Classes = Annotated[Positive, _at_most(MAX_CLASSES, "scaler's limit on classes; ImageNet-21k has 21,841")]
Ratio = Annotated[float, NoBool, _check(lambda v: 0 <= v <= 1, "must be between 0 and 1")]
AtLeast1 = Annotated[int, Ge(1), NoBool]  # in a union too: pydantic's message, the schema's "minimum": 1
Name = Annotated[str, _check(lambda v: name_problem(v) is None, name_problem)]  # it names files: a plain name


class _Registered:
    """A registered block kind's name (:mod:`scaler.spec.blocks`): checked, and listed in the JSON schema, against
    the kinds registered when a spec is read, with the message and schema a ``Literal`` of them would give."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(_known_block)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {"enum": list(block_names()), "type": "string"}


def _known_block(v: Any) -> str:
    names = block_names()
    if isinstance(v, str) and v in names:
        return v
    quoted = [repr(n) for n in names]
    expected = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


BlockName = Annotated[str, _Registered()]


class StageSpec(BaseModel):
    """One stage: ``repeats`` blocks of one type; the first block has the stride."""

    model_config = _STRICT

    block: BlockName
    repeats: Repeats = Field(1, description="number of blocks")
    kernel: Kernel = Field(3, description="depthwise (or full, for conv/fused_mbconv/basic/bottleneck) kernel "
                           "size, odd")
    stride: Stride = Field(1, description="stride of the first block: 1 or 2")
    expand: Expand = Field(1.0, description="expansion ratio of the hidden channels (bottleneck: output over "
                           "hidden channels, torchvision's expansion, 4 in ResNet-50)")
    channels: Channels = Field(description="output channels")
    se: Ratio = Field(0.0, description="squeeze-excitation ratio, relative to the block's input channels")
    skip: bool | None = Field(None, description="residual when shapes allow (basic/bottleneck: always, through a "
                              "1x1 projection where they differ); default: on, except for conv")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return decode_block(data)
        if not isinstance(data, Mapping):
            raise ValueError("a stage is a block string like 'ir_r2_k3_s2_e6_c24_se0.25' or a mapping")
        return data

    @model_validator(mode="after")
    def _block_rules(self) -> StageSpec:
        problem = syntax(self.block).problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def residual(self) -> bool:
        """Whether a block of this stage adds its input when stride is 1 and channels match (basic and
        bottleneck: its input or, where the shape changes, a projection of it)."""
        return self.skip if self.skip is not None else syntax(self.block).residual

    def to_string(self) -> str:
        """The timm-style block string of this stage."""
        return encode_block(self.block, self.repeats, self.kernel, self.stride, self.expand, self.channels, self.se,
                            self.skip)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        mapping = handler(core_schema)
        string = {"type": "string", "pattern": block_pattern(),
                  "description": "timm-style block string, e.g. ir_r2_k3_s2_e6_c24_se0.25"}
        return {"anyOf": [string, mapping]}


class StemSpec(BaseModel):
    model_config = _STRICT

    channels: Channels = Field(description="output channels of the stem convolution")
    kernel: Kernel = 3
    stride: Stride = 2
    pool: bool = Field(False, description="a 3x3 stride-2 max-pool after the stem convolution (ResNet)")


class HeadSpec(BaseModel):
    model_config = _STRICT

    channels: Channels = Field(description="channels of the 1x1 head convolution before pooling")


class NormSpec(BaseModel):
    """BatchNorm settings of every layer (torch's convention: ``momentum`` weighs the new batch)."""

    model_config = _STRICT

    eps: Float = Field(1e-5, gt=0, description="added to the variance (torchvision: 1e-3 for B5-B7 and V2)")
    momentum: Float = Field(0.1, gt=0, le=1, description="running-statistics update rate (torchvision: 0.01 for "
                            "B5-B7)")


class ScalingRules(BaseModel):
    """How multipliers become integers when this spec is scaled."""

    model_config = _STRICT

    channel_divisor: Int = Field(8, ge=1, description="channels round to a multiple of this, never more than 10% "
                                 "below the exact value")
    depth_rounding: Literal["ceil", "round"] = Field("ceil", description="how repeats x depth rounds")
    scale_stem: bool = Field(True, description="scale the stem's channels with width")
    scale_head: bool = Field(True, description="scale the head's channels with width")
    head_never_narrower: bool = Field(False, description="the head keeps its base channels when width < 1 "
                                      "(torchvision's MobileNetV2: last_channel * max(1, width))")
    resolution_divisor: Int = Field(4, ge=1, description="resolution rounds to a multiple of this")
    max_resolution: AtLeast1 | None = Field(None, description="cap on the scaled resolution (EfficientNetV2 "
                                            "uses 480); FLOPs then grow by depth and width alone beyond it")
    depth_from: AtLeast1 | None = Field(None, description="added depth goes to the stages from this one "
                                        "(1-based) on; unset: every stage (EfficientNet); e.g. 5: later stages only "
                                        "(EfficientNetV2 grows S into M and L mostly there)")

    @property
    def first_deepened(self) -> int:
        """1-based index of the first stage that depth scaling changes."""
        return self.depth_from or 1


class Derivation(BaseModel):
    """Where a scaled spec came from: enough to reproduce it without scaler."""

    model_config = _STRICT

    base: str
    phi: float | None = None
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0


class Spec(BaseModel):
    """One network: stem, stages of blocks, head, classifier, and its scaling rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="scaler network spec")

    name: Name = Field(description="the network's name, a plain file name (no / or \\)")
    resolution: Resolution = Field(description="input image size in pixels (square)")
    num_classes: Classes = 1000
    in_channels: InChannels = Field(3, description="input image channels")
    stem: StemSpec
    stages: list[StageSpec] = Field(min_length=1)
    head: HeadSpec | None = Field(description="1x1 conv before pooling; null: the last stage is pooled straight "
                                  "into the classifier (ResNet)")
    activation: Literal["silu", "relu", "relu6", "gelu", "hardswish"] = "silu"
    norm: NormSpec = Field(NormSpec(), description="BatchNorm eps and momentum")
    dropout: Float = Field(0.2, ge=0, lt=1, description="dropout before the classifier")
    drop_path: Float = Field(0.2, ge=0, lt=1, description="stochastic depth rate of the last block")
    scaling: ScalingRules = ScalingRules()
    derived: Derivation | None = Field(None, description="set by scaling: base and multipliers")

    @model_validator(mode="after")
    def _fits_strides(self) -> Spec:
        total = self.total_stride
        if self.resolution < total:
            raise FieldError(("resolution",), f"{self.resolution} px is too small for a total stride of {total}")
        hidden = _widest_hidden(self)
        if hidden is not None:
            raise FieldError(("stages", hidden[0], "expand"), f"the stage's expanded layer has {hidden[1]:,} "
                             f"channels, more than {MAX_CHANNELS:,} (scaler's limit on one layer's channels)")
        if self.scaling.first_deepened > len(self.stages):
            raise FieldError(("scaling", "depth_from"), f"stage {self.scaling.depth_from} does not exist (the "
                             f"spec has {len(self.stages)} stages)")
        return self

    @property
    def total_stride(self) -> int:
        total = self.stem.stride * (2 if self.stem.pool else 1)
        for st in self.stages:
            total *= st.stride
        return total

    @property
    def blocks(self) -> int:
        return sum(st.repeats for st in self.stages)

    @property
    def num_features(self) -> int:
        """Channels the classifier reads: the head's, or the last stage's when there is no head."""
        return self.head.channels if self.head is not None else self.stages[-1].channels

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the file form: stages as block strings; unset fields, default BatchNorm and options off by
        default (stem pool, head_never_narrower) left out, so specs and run settings written before they existed
        read back unchanged. A missing head is written as ``head: null``."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["stages"] = [st.to_string() for st in self.stages]
        if self.norm == NormSpec():
            data.pop("norm")
        if not self.stem.pool:
            data["stem"].pop("pool")
        if not self.scaling.head_never_narrower:
            data["scaling"].pop("head_never_narrower")
        if self.head is None:  # required, so kept, in the field's place
            data = {k: data.get(k) for k in type(self).model_fields if k in data or k == "head"}
        return data

    def to_yaml(self) -> str:
        """YAML in the documented layout: one stage per line, small sections inline."""
        data = {k: _Flow(v) if isinstance(v, dict) else v for k, v in self.to_dict().items()}
        return yaml.dump(data, Dumper=_SpecDumper, sort_keys=False, width=120)


def _widest_hidden(spec: Spec) -> tuple[int, int] | None:
    """(stage index, hidden channels) of the first expanded layer wider than :data:`MAX_CHANNELS`, or None."""
    in_ch = spec.stem.channels
    for i, st in enumerate(spec.stages):
        if syntax(st.block).expanded_layer:
            hidden = math.ceil(max(in_ch, st.channels) * st.expand)
            if hidden > MAX_CHANNELS:
                return i, hidden
        in_ch = st.channels
    return None


class _Flow(dict):
    """A mapping written inline: ``stem: {channels: 32, kernel: 3, stride: 2}``."""


class _SpecDumper(yaml.SafeDumper):
    pass


_SpecDumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_SpecDumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=False))
