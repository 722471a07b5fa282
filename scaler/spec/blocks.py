"""timm's block notation, decoded in one place: ``ir_r2_k5_s2_e6_c40_se0.25`` is an MBConv stage."""

from __future__ import annotations

import re
from typing import Any, Literal

BlockType = Literal["conv", "ds", "mbconv", "fused_mbconv", "basic", "bottleneck"]

# timm's block letters -> ours; bb and bt (ResNet's basic and bottleneck blocks) are scaler's own.
BLOCK_CODES: dict[str, BlockType] = {"cn": "conv", "ds": "ds", "ir": "mbconv", "er": "fused_mbconv", "bb": "basic",
                                     "bt": "bottleneck"}
CODE_OF_BLOCK: dict[str, str] = {v: k for k, v in BLOCK_CODES.items()}
OPTIONS = {"r": "repeats", "k": "kernel", "s": "stride", "e": "expand", "c": "channels", "se": "se"}
PATTERN = rf"^({'|'.join(BLOCK_CODES)})(_[a-z]+[0-9.]*)*$"


def decode_block(text: str) -> dict[str, Any]:
    """Decode a timm-style block string into the mapping form of a stage.

    ``ir_r2_k5_s2_e6_c40_se0.25`` -> ``{block: mbconv, repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40,
    se: 0.25}``. Options: r repeats, k kernel, s stride, e expand, c channels, se ratio, skip / noskip.
    """
    code, *ops = text.strip().split("_")
    if code not in BLOCK_CODES:
        raise ValueError(f"unknown block type {code!r} in {text!r} (expected one of {', '.join(BLOCK_CODES)})")
    out: dict[str, Any] = {"block": BLOCK_CODES[code]}
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
    parts = [CODE_OF_BLOCK[block], f"r{repeats}", f"k{kernel}", f"s{stride}", f"e{expand:g}", f"c{channels}"]
    if se:
        parts.append(f"se{se:g}")
    if skip is not None:  # written whenever set, so that the string round-trips exactly
        parts.append("skip" if skip else "noskip")
    return "_".join(parts)
