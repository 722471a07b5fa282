"""The spec half of the API: read, count, scale and write network specs (no torch; a factory spec, a network that
exists only as code, is built to be counted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.arch.flops import complexity, human
from scaler.catalog import NAMES, PRESETS, load_spec, preset
from scaler.errors import ScalerError
from scaler.scaling import SINGLE_DIMENSIONS, compound, family, scale
from scaler.spec import FactorySpec, NetSpec, spec_data, spec_json_schema
from scaler.spec.limits import MAX_MEMBERS, MAX_RESOLUTION
from scaler.spec.paths import contained, plain_name, refuse_overwrite

__all__ = ["MAX_MEMBERS", "NAMES", "PRESETS", "SINGLE_DIMENSIONS", "FactorySpec", "NetSpec", "ScalerError",
           "check_resolution", "complexity", "compound", "contained", "family", "human", "load_spec", "member_yaml",
           "plain_name", "preset", "refuse_overwrite", "scale", "spec_json_schema"]


def check_resolution(spec: NetSpec, resolution: int | None) -> int:
    """``resolution`` if the spec's network can take it (a size, not below its total stride), else a one-line
    error; the spec's own without one."""
    if resolution is None:
        return spec.resolution
    if resolution < 1:
        raise ScalerError(f"--resolution: {resolution} px is not an image size")
    if resolution > MAX_RESOLUTION:
        raise ScalerError(f"--resolution: {resolution} px is above {MAX_RESOLUTION} px, scaler's limit on the input "
                          "size (EfficientNet-L2 uses 800)")
    if not isinstance(spec, FactorySpec) and resolution < spec.total_stride:
        raise ScalerError(f"--resolution: {resolution} px is too small for a total stride of {spec.total_stride}")
    return resolution


def member_yaml(member: NetSpec, cost: Any, out_dir: Path) -> str:
    """An emitted member's file: a header with its cost, then the spec. A factory member names its factory's
    folder relative to the file, so the family folder and the code can move together."""
    import yaml

    header = (f"# {member.name}: {cost.params:,} params, {cost.flops:,} FLOPs (multiply-accumulates) at "
              f"{cost.resolution}px\n")
    if not cost.measured:
        return header + "# written by `scaler emit`; the stages are timm-style block strings (see README)\n" + (
            member.to_yaml())
    return header + (f"# written by `scaler emit`; built by {member.factory}(depth={member.depth:g}, "
                     f"width={member.width:g}, num_classes={member.num_classes}, in_channels={member.in_channels}), "
                     "measured\n") + yaml.safe_dump(spec_data(member, out_dir), sort_keys=False, width=120)
