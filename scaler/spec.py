"""The spec format: one network described in YAML, validated with pydantic.

A stage is a timm-style block string (``ir_r2_k3_s2_e6_c24_se0.25``) or a mapping with the same meaning
(``{block: mbconv, repeats: 2, kernel: 3, stride: 2, expand: 6, channels: 24, se: 0.25}``); both decode to
:class:`StageSpec`. Loading keeps every node's line and column, so a validation error names
``file:line:col: field.path: problem``. This module imports no torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scaler.errors import ScalerError, location

BlockType = Literal["conv", "ds", "mbconv", "fused_mbconv"]

# timm's block letters -> ours.
BLOCK_CODES: dict[str, BlockType] = {"cn": "conv", "ds": "ds", "ir": "mbconv", "er": "fused_mbconv"}
CODE_OF_BLOCK: dict[str, str] = {v: k for k, v in BLOCK_CODES.items()}

# Top-level sections that configure `scaler grid`; a spec file may carry them, the network ignores them.
RUN_SECTIONS = ("search", "proxy")

_STRICT = ConfigDict(extra="forbid", frozen=True)


def decode_block(text: str) -> dict[str, Any]:
    """Decode a timm-style block string into the mapping form of a stage.

    ``ir_r2_k5_s2_e6_c40_se0.25`` -> ``{block: mbconv, repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40,
    se: 0.25}``. Options: r repeats, k kernel, s stride, e expand, c channels, se ratio, skip / noskip.
    """
    code, *ops = text.strip().split("_")
    if code not in BLOCK_CODES:
        raise ValueError(f"unknown block type {code!r} in {text!r} (expected one of {', '.join(BLOCK_CODES)})")
    out: dict[str, Any] = {"block": BLOCK_CODES[code]}
    keys = {"r": "repeats", "k": "kernel", "s": "stride", "e": "expand", "c": "channels", "se": "se"}
    for op in ops:
        if op in ("skip", "noskip"):
            out["skip"] = op == "skip"
            continue
        m = re.fullmatch(r"(se|[a-z])([0-9.]+)", op)
        if not m or m.group(1) not in keys:
            raise ValueError(f"unknown block option {op!r} in {text!r} (options: r k s e c se skip noskip)")
        key, value = keys[m.group(1)], m.group(2)
        try:
            out[key] = float(value) if key in ("expand", "se") else int(value)
        except ValueError:
            raise ValueError(f"option {op!r} in {text!r} is not a number") from None
    if "channels" not in out:
        raise ValueError(f"block {text!r} has no channels (add c<N>, e.g. c24)")
    return out


def _num(x: float) -> str:
    return f"{x:g}"


def _not_bool(v: Any) -> Any:
    """YAML's true/yes would pass as the number 1: numeric fields refuse booleans."""
    if isinstance(v, bool):
        raise ValueError(f"must be a number, got {str(v).lower()}")
    return v


class StageSpec(BaseModel):
    """One stage: ``repeats`` blocks of one type; the first block has the stride."""

    model_config = _STRICT

    block: BlockType
    repeats: int = Field(1, description="number of blocks")
    kernel: int = Field(3, description="depthwise (or full, for conv/fused_mbconv) kernel size, odd")
    stride: int = Field(1, description="stride of the first block: 1 or 2")
    expand: float = Field(1.0, description="expansion ratio of the hidden channels")
    channels: int = Field(description="output channels")
    se: float = Field(0.0, description="squeeze-excitation ratio, relative to the block's input channels")
    skip: bool | None = Field(None, description="residual when shapes allow; default: on, except for conv")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return decode_block(data)
        if not isinstance(data, Mapping):
            raise ValueError("a stage is a block string like 'ir_r2_k3_s2_e6_c24_se0.25' or a mapping")
        return data

    @field_validator("repeats", "kernel", "stride", "expand", "channels", "se", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _not_bool(v)

    @field_validator("repeats")
    @classmethod
    def _repeats(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: int) -> int:
        if v < 1 or v % 2 == 0:
            raise ValueError("must be odd" if v >= 1 else "must be an odd number >= 1")
        return v

    @field_validator("stride")
    @classmethod
    def _stride(cls, v: int) -> int:
        if v not in (1, 2):
            raise ValueError("must be 1 or 2")
        return v

    @field_validator("expand")
    @classmethod
    def _expand(cls, v: float) -> float:
        if not v >= 1:
            raise ValueError("must be at least 1")
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @field_validator("se")
    @classmethod
    def _se(cls, v: float) -> float:
        if not 0 <= v <= 1:
            raise ValueError("must be between 0 and 1")
        return v

    @model_validator(mode="after")
    def _block_rules(self) -> StageSpec:
        if self.block == "ds" and self.expand != 1:
            raise ValueError("ds blocks have no expansion (expand must be 1; use mbconv)")
        if self.block == "conv" and self.se:
            raise ValueError("conv blocks have no squeeze-excitation (se must be 0)")
        return self

    @property
    def residual(self) -> bool:
        """Whether a block of this stage adds its input when stride is 1 and channels match."""
        return self.skip if self.skip is not None else self.block != "conv"

    def to_string(self) -> str:
        """The timm-style block string of this stage (inverse of :func:`decode_block`)."""
        parts = [CODE_OF_BLOCK[self.block], f"r{self.repeats}", f"k{self.kernel}", f"s{self.stride}",
                 f"e{_num(self.expand)}", f"c{self.channels}"]
        if self.se:
            parts.append(f"se{_num(self.se)}")
        if self.skip is not None:  # written whenever set, so that the string round-trips exactly
            parts.append("skip" if self.skip else "noskip")
        return "_".join(parts)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        mapping = handler(core_schema)
        string = {"type": "string", "pattern": r"^(cn|ds|ir|er)(_[a-z]+[0-9.]*)*$",
                  "description": "timm-style block string, e.g. ir_r2_k3_s2_e6_c24_se0.25"}
        return {"anyOf": [string, mapping]}


class StemSpec(BaseModel):
    model_config = _STRICT

    channels: int = Field(description="output channels of the stem convolution")
    kernel: int = 3
    stride: int = 2

    @field_validator("channels", "kernel", "stride", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _not_bool(v)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: int) -> int:
        return StageSpec._channels(v)

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: int) -> int:
        return StageSpec._kernel(v)

    @field_validator("stride")
    @classmethod
    def _stride(cls, v: int) -> int:
        return StageSpec._stride(v)


class HeadSpec(BaseModel):
    model_config = _STRICT

    channels: int = Field(description="channels of the 1x1 head convolution before pooling")

    @field_validator("channels", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _not_bool(v)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: int) -> int:
        return StageSpec._channels(v)


class ScalingRules(BaseModel):
    """How multipliers become integers when this spec is scaled."""

    model_config = _STRICT

    channel_divisor: int = Field(8, ge=1, description="channels round to a multiple of this (90% guard)")
    depth_rounding: Literal["ceil", "round"] = Field("ceil", description="how repeats x depth rounds")
    scale_stem: bool = Field(True, description="scale the stem's channels with width")
    scale_head: bool = Field(True, description="scale the head's channels with width")
    resolution_divisor: int = Field(4, ge=1, description="resolution rounds to a multiple of this")
    max_resolution: int | None = Field(None, ge=1, description="cap on the scaled resolution (EfficientNetV2 "
                                       "uses 480); FLOPs then grow by depth and width alone beyond it")
    depth_from: int | None = Field(None, ge=1, description="added depth goes to the stages from this one "
                                   "(1-based) on; unset: every stage (EfficientNet); e.g. 5: later stages only "
                                   "(EfficientNetV2 grows S into M and L mostly there)")

    @field_validator("channel_divisor", "resolution_divisor", "max_resolution", "depth_from", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _not_bool(v)

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

    name: str = Field(description="the network's name")
    resolution: int = Field(description="input image size in pixels (square)")
    num_classes: int = Field(1000, ge=1)
    in_channels: int = Field(3, ge=1, description="input image channels")
    stem: StemSpec
    stages: list[StageSpec] = Field(min_length=1)
    head: HeadSpec
    activation: Literal["silu", "relu", "gelu", "hardswish"] = "silu"
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout before the classifier")
    drop_path: float = Field(0.2, ge=0, lt=1, description="stochastic depth rate of the last block")
    scaling: ScalingRules = ScalingRules()
    derived: Derivation | None = Field(None, description="set by scaling: base and multipliers")

    @field_validator("resolution", "num_classes", "in_channels", "dropout", "drop_path", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return _not_bool(v)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @model_validator(mode="after")
    def _fits_strides(self) -> Spec:
        total = self.total_stride
        if self.resolution < total:
            raise _FieldError(("resolution",), f"{self.resolution} px is too small for a total stride of {total}")
        if self.scaling.first_deepened > len(self.stages):
            raise _FieldError(("scaling", "depth_from"), f"stage {self.scaling.depth_from} does not exist (the "
                              f"spec has {len(self.stages)} stages)")
        return self

    @property
    def total_stride(self) -> int:
        total = self.stem.stride
        for st in self.stages:
            total *= st.stride
        return total

    @property
    def blocks(self) -> int:
        return sum(st.repeats for st in self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the file form: stages as block strings, defaults left out where unset."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["stages"] = [st.to_string() for st in self.stages]
        return data

    def to_yaml(self) -> str:
        """YAML in the documented layout: one stage per line, small sections inline."""
        data = {k: _Flow(v) if isinstance(v, dict) else v for k, v in self.to_dict().items()}
        return yaml.dump(data, Dumper=_SpecDumper, sort_keys=False, width=120)


class _Flow(dict):
    """A mapping written inline: ``stem: {channels: 32, kernel: 3, stride: 2}``."""


class _SpecDumper(yaml.SafeDumper):
    pass


_SpecDumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_SpecDumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=False))


class _FieldError(ValueError):
    """A validation error that belongs to a field other than the one being validated."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


# --- reading YAML with positions -------------------------------------------------------------------------------


@dataclass
class Document:
    """A parsed YAML file: plain data plus the line and column of every node, keyed by path."""

    data: Any
    path: str | None = None
    positions: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: tuple[Any, ...], *, key: bool = False) -> str | None:
        """``file:line:col`` of the value (or, with ``key``, the key) of the deepest node on ``loc``."""
        if key and loc in self.key_positions:
            return location(self.path, *self.key_positions[loc])
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.positions:
                return location(self.path, *self.positions[loc[:n]])
        return location(self.path)

    def error(self, loc: tuple[Any, ...], message: str, *, key: bool = False) -> ScalerError:
        return ScalerError(message, where=self.where(loc, key=key), field=format_loc(loc) or None)


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('stages', 2, 'kernel')`` -> ``stages[2].kernel``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_yaml(text: str, path: str | None = None) -> Document:
    """Parse YAML safely, keeping positions (1-based line and column) for every key and value."""
    loader = yaml.SafeLoader(text)
    doc = Document(data=None, path=path)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScalerError("the file is empty; a spec is a mapping of fields", where=path)

        def build(n: yaml.Node, at: tuple[Any, ...]) -> Any:
            doc.positions.setdefault(at, (n.start_mark.line + 1, n.start_mark.column + 1))
            if isinstance(n, yaml.MappingNode):
                loader.flatten_mapping(n)
                out: dict[Any, Any] = {}
                for k, v in n.value:
                    key = loader.construct_object(k, deep=True)
                    if not isinstance(key, str | int | float | bool):
                        raise ScalerError("mapping keys must be plain names",
                                          where=location(path, k.start_mark.line + 1, k.start_mark.column + 1))
                    pos = (k.start_mark.line + 1, k.start_mark.column + 1)
                    if key in out:  # located at the repeated key, not the first one
                        raise ScalerError(f"duplicate key {key!r}", where=location(path, *pos),
                                          field=format_loc((*at, key)))
                    doc.key_positions[(*at, key)] = pos
                    out[key] = build(v, (*at, key))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(item, (*at, i)) for i, item in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        doc.data = build(node, ())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = location(path, mark.line + 1, mark.column + 1) if mark else location(path)
        raise ScalerError(f"not valid YAML: {e.problem or e.context}", where=where) from None
    except yaml.YAMLError as e:
        raise ScalerError(f"not valid YAML: {e}", where=path) from None
    finally:
        loader.dispose()
    return doc


def read_yaml(path: str | Path) -> Document:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ScalerError`."""
    p = Path(path)
    if not p.exists():
        raise ScalerError("no such file", where=p)
    if p.is_dir():
        raise ScalerError("is a directory, expected a YAML file", where=p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScalerError(f"cannot read: {e}", where=p) from None
    return parse_yaml(text, str(p))


def validation_error(doc: Document, err: ValidationError, prefix: tuple[Any, ...] = ()) -> ScalerError:
    """The first error of a pydantic ValidationError as one located line."""
    e = err.errors(include_url=False)[0]
    loc = prefix + tuple(e["loc"])
    msg = e["msg"]
    ctx = e.get("ctx") or {}
    if isinstance(ctx.get("error"), _FieldError):
        loc = prefix + ctx["error"].loc
    if e["type"] == "extra_forbidden":
        return doc.error(loc, "unknown field", key=True)
    elif e["type"] == "missing":
        msg = "required field is missing"
    elif e["type"] == "model_type" or e["type"] == "model_attributes_type":
        msg = "expected a mapping"
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    return doc.error(loc, msg)


def spec_from_document(doc: Document) -> Spec:
    """Validate a parsed document as a :class:`Spec`; the run sections (search, proxy) are skipped."""
    if not isinstance(doc.data, Mapping):
        kind = type(doc.data).__name__ if doc.data is not None else "nothing"
        raise ScalerError(f"a spec is a mapping of fields (name, resolution, stem, stages, head), got {kind}",
                          where=doc.where(()))
    data = {k: v for k, v in doc.data.items() if k not in RUN_SECTIONS}
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        raise validation_error(doc, err) from None


def load_spec(source: str | Path | Mapping[str, Any] | Spec) -> Spec:
    """A :class:`Spec` from a YAML path, a preset name (``efficientnet-b0``), a mapping, or a Spec."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        return spec_from_document(Document(data=dict(source), path="<mapping>"))
    text = str(source)
    if not Path(text).exists():
        from scaler.presets import PRESETS, preset

        if text in PRESETS:
            return preset(text)
    return spec_from_document(read_yaml(text))


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of the spec format, for editors."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    props = schema.setdefault("properties", {})
    for section in RUN_SECTIONS:
        props[section] = {"type": "object", "description": f"`scaler grid` {section} settings (see README)"}
    return schema
