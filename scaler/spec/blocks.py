"""Block kinds as the format knows them, and timm's block notation decoded in one place:
``ir_r2_k5_s2_e6_c40_se0.25`` is an MBConv stage.

A kind's format half is a :class:`BlockSyntax` (its name, its code in block strings, the options a stage of it may
not set, its default shortcut) in one registry; its arch half (plan, analytic count, module) is a
:class:`scaler.arch.blocks.BlockKind`, whose ``register`` also registers its syntax here. The built-in kinds' syntax
is declared below, so that a spec parses without the arch layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPTIONS = {"r": "repeats", "k": "kernel", "s": "stride", "e": "expand", "c": "channels", "se": "se"}


@dataclass(frozen=True)
class BlockSyntax:
    """What the spec format knows of a block kind.

    ``fixed``: (field, value, message) for each option a stage of this kind must leave at ``value``, checked in
    order. ``residual``: whether ``skip`` defaults to on. ``expanded_layer``: a block has a layer of up to
    max(input, output) x ``expand`` channels, held to scaler's channel limit when the spec is read."""

    name: str
    code: str
    fixed: tuple[tuple[str, float, str], ...] = ()
    residual: bool = True
    expanded_layer: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"block kind name {self.name!r}: lower-case letters, digits and _, from a letter")
        if not re.fullmatch(r"[a-z]+", self.code):
            raise ValueError(f"block code {self.code!r}: lower-case letters only")

    def problem(self, stage: Any) -> str | None:
        """Why ``stage`` (a :class:`scaler.spec.model.StageSpec` of this kind) is not valid, or None."""
        for field, value, message in self.fixed:
            if getattr(stage, field) != value:
                return message
        return None


_SYNTAX: dict[str, BlockSyntax] = {}


def register_syntax(syntax: BlockSyntax) -> BlockSyntax:
    """Make a kind known to the format (again: a no-op); its name and its code must be new."""
    if _SYNTAX.get(syntax.name) == syntax:
        return syntax
    taken = [s.name for s in _SYNTAX.values() if syntax.name == s.name or syntax.code == s.code]
    if taken:
        raise ValueError(f"block kind {syntax.name!r} ({syntax.code}): the name or the code is taken by {taken[0]!r}")
    _SYNTAX[syntax.name] = syntax
    return syntax


def unregister_syntax(name: str) -> None:
    """Forget a kind (a test's, or a plugin's that is unloaded)."""
    _SYNTAX.pop(name, None)


def syntax(name: str) -> BlockSyntax:
    """The syntax of the kind named ``name`` (KeyError when it is not registered)."""
    return _SYNTAX[name]


def block_names() -> tuple[str, ...]:
    """Every registered kind's name, in the order they were registered."""
    return tuple(_SYNTAX)


def block_pattern() -> str:
    """The regular expression of a block string (the JSON schema's)."""
    return rf"^({'|'.join(s.code for s in _SYNTAX.values())})(_[a-z]+[0-9.]*)*$"


_RESNET_SE = ("se", 0, "basic and bottleneck blocks have no squeeze-excitation (se must be 0)")
for _builtin in (
    BlockSyntax("conv", "cn", fixed=(("se", 0, "conv blocks have no squeeze-excitation (se must be 0)"),),
                residual=False),
    BlockSyntax("ds", "ds", fixed=(("expand", 1, "ds blocks have no expansion (expand must be 1; use mbconv)"),)),
    BlockSyntax("mbconv", "ir", expanded_layer=True),  # timm's letters; bb and bt (ResNet's) are scaler's own
    BlockSyntax("fused_mbconv", "er", expanded_layer=True),
    BlockSyntax("basic", "bb", fixed=(("expand", 1, "basic blocks have no expansion (expand must be 1; use "
                                                    "bottleneck)"), _RESNET_SE)),
    BlockSyntax("bottleneck", "bt", fixed=(_RESNET_SE,)),
):
    register_syntax(_builtin)


def decode_block(text: str) -> dict[str, Any]:
    """Decode a timm-style block string into the mapping form of a stage.

    ``ir_r2_k5_s2_e6_c40_se0.25`` -> ``{block: mbconv, repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40,
    se: 0.25}``. Options: r repeats, k kernel, s stride, e expand, c channels, se ratio, skip / noskip.
    """
    code, *ops = text.strip().split("_")
    kinds = {s.code: s.name for s in _SYNTAX.values()}
    if code not in kinds:
        raise ValueError(f"unknown block type {code!r} in {text!r} (expected one of {', '.join(kinds)})")
    out: dict[str, Any] = {"block": kinds[code]}
    for op in ops:
        if op in ("skip", "noskip"):
            out["skip"] = op == "skip"
            continue
        m = re.fullmatch(r"(se|[a-z])([0-9.]+)", op)
        if not m or m.group(1) not in OPTIONS:
            raise ValueError(f"unknown block option {op!r} in {text!r} (options: r k s e c se skip noskip)")
        key, value = OPTIONS[m.group(1)], m.group(2)
        try:
            out[key] = float(value) if key in ("expand", "se") else int(value)
        except ValueError:
            raise ValueError(f"option {op!r} in {text!r} is not a number") from None
    if "channels" not in out:
        raise ValueError(f"block {text!r} has no channels (add c<N>, e.g. c24)")
    return out


def encode_block(block: str, repeats: int, kernel: int, stride: int, expand: float, channels: int, se: float,
                 skip: bool | None) -> str:
    """The block string of a stage (inverse of :func:`decode_block`)."""
    parts = [syntax(block).code, f"r{repeats}", f"k{kernel}", f"s{stride}", f"e{expand:g}", f"c{channels}"]
    if se:
        parts.append(f"se{se:g}")
    if skip is not None:  # written whenever set, so that the string round-trips exactly
        parts.append("skip" if skip else "noskip")
    return "_".join(parts)
