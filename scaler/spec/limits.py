"""The largest network and the largest request scaler accepts, and why: every size a user can type is checked
against these before anything is allocated, so a typo (an extra zero, ``1e9`` for ``1e3``) is a one-line error,
not an hour of swapping. Each bound sits far above any published network (EfficientNet-L2: 800 px, 5.3x depth,
4.3x width; ResNet-1001: 111 blocks per stage; ImageNet-21k: 21,841 classes)."""

from __future__ import annotations

import math

MAX_RESOLUTION = 8192  # px per side: 10x EfficientNet-L2's 800
MAX_CHANNELS = 65536  # one layer's channels (a hidden, expanded layer included): 32x ResNet-50's 2048
MAX_REPEATS = 1000  # blocks per stage: 9x ResNet-1001's 111
MAX_EXPAND = 64  # expansion ratio: EfficientNet uses 6, ResNet's bottleneck 4
MAX_IN_CHANNELS = 1024  # input image channels: hyperspectral cameras record a few hundred bands
MAX_CLASSES = 1_000_000  # 46x ImageNet-21k
MAX_MULTIPLIER = 100.0  # a scaling multiplier (depth, width, resolution) lies in [1/100, 100]: L2's are below 6
MAX_MEMBERS = 1000  # members of one family (emit --phi 0..7 has 8)
MAX_GRID_POINTS = 2000  # grid points one search examines (the default grid has 81); each kept one trains a proxy
MAX_GROWTH = 1024  # a search's or study's networks grow FLOPs at most 1024x (phi 10 at factor 2) over the proxy

SIZES = (f"scaler builds networks up to {MAX_RESOLUTION} px, {MAX_CHANNELS} channels per layer and {MAX_REPEATS} "
         "blocks per stage")


def multiplier_problem(label: str, value: float) -> str | None:
    """Why a ``label`` multiplier (depth, width or resolution) cannot be used, or None."""
    if not (value > 0 and math.isfinite(value)):
        return f"{label} multiplier must be a positive number, got {value:g}"
    if not 1 / MAX_MULTIPLIER <= value <= MAX_MULTIPLIER:
        return (f"{label} multiplier {value:g} is outside [{1 / MAX_MULTIPLIER:g}, {MAX_MULTIPLIER:g}], scaler's "
                "limit on one dimension (EfficientNet-L2 grows B0 by at most 5.3x)")
    return None


def power_problem(label: str, coefficient: float, phi: float) -> str | None:
    """Why ``coefficient ** phi`` (a compound multiplier) cannot be used, or None; judged in log space, so a huge
    phi is refused instead of overflowing."""
    if not (coefficient > 0 and math.isfinite(coefficient) and math.isfinite(phi)):
        return None  # the caller's own checks name these
    if abs(phi * math.log(coefficient)) > math.log(MAX_MULTIPLIER):
        return (f"phi {phi:g} makes the {label} multiplier {coefficient:g}^{phi:g}, outside [{1 / MAX_MULTIPLIER:g}, "
                f"{MAX_MULTIPLIER:g}], scaler's limit on one dimension")
    return None


def count_problem(what: str, count: float, limit: int, why: str) -> str | None:
    """``what`` has ``count`` items, above ``limit``: the message, or None."""
    if count > limit:
        return f"{what} has {count:.3g} items, more than {limit}: {why}"
    return None
