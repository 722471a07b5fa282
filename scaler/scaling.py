"""Depth, width and resolution scaling as small pure functions over a :class:`Spec` (no torch).

The rounding follows torchvision and timm: channels ``make_divisible(c * width, 8)`` never below ``ROUND_LIMIT`` of
the exact value, repeats ``ceil(n * depth)`` (or round, per spec), resolution rounded to the spec's
``resolution_divisor``. A multiplier of exactly 1 leaves its dimension as written, so phi = 0 is always the base
itself. EfficientNetV2's rules are spec options: a resolution cap (``scaling.max_resolution``) and added depth in
later stages only (``scaling.depth_from``). Strategies other than compound scaling (depth-, width-, resolution-only,
uniform, pycls's fast) are data: :func:`strategy_factors`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from scaler.errors import ScalerError
from scaler.spec import FactorySpec, NetSpec
from scaler.spec.document import format_loc
from scaler.spec.limits import MAX_RESOLUTION, SIZES, multiplier_problem, power_problem
from scaler.spec.model import Derivation, Spec
from scaler.spec.paths import plain_name

# Products such as 3 * sqrt(2)**2 land a hair above an integer; ceil must not count that hair.
_EPS = 1e-9
# Rounded channels never fall below this share of the exact value (timm's `round_limit`, torchvision's 90% guard):
# without it, 20 channels x 1.1 = 22 would round down to 16 on a divisor of 8 and the "wider" net would be narrower.
ROUND_LIMIT = 0.9

# pycls-style strategy strings: the weight of each dimension in the log of the FLOPs growth
# ("d1_w8_r1" = fast scaling, mostly width). Names for the ones scaler offers as baselines and study strategies.
STRATEGIES: dict[str, str] = {"depth": "d1", "width": "w1", "resolution": "r1", "uniform": "d1_w1_r1",
                              "fast": "d1_w8_r1"}
# The single-dimension baselines, named once and in one order: the order a grid trains them beside compound (and a
# study sets compound against them, the paper's Figure 8); reordering it changes which trials a --limit run trains.
SINGLE_DIMENSIONS = ("depth", "width", "resolution")


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None,
                   round_limit: float = ROUND_LIMIT) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (half up), never below ``min_value``
    (default ``divisor``), and never below ``round_limit * value``."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def strategy_factors(strategy: str, factor: float) -> tuple[float, float, float]:
    """(depth, width, resolution) multipliers of a strategy that grow FLOPs by ``factor``: d * w^2 * r^2 = factor.

    ``strategy`` is a name of :data:`STRATEGIES` or a pycls-style string of weights, ``d1_w8_r1``: each dimension
    takes its weight's share of log(factor) (width and resolution count twice in FLOPs, so their multiplier is the
    square root of that share)."""
    text = STRATEGIES.get(strategy, strategy)
    weights = {"d": 0.0, "w": 0.0, "r": 0.0}
    for part in text.split("_"):
        dim, number = part[:1], part[1:]
        try:
            weight = float(number)
        except ValueError:
            weight = -1.0
        if dim not in weights or weight < 0 or not math.isfinite(weight):
            raise ScalerError(f"unknown scaling strategy {strategy!r}: use {', '.join(STRATEGIES)} or weights such "
                              "as d1_w8_r1")
        weights[dim] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ScalerError(f"scaling strategy {strategy!r} grows nothing: give one weight above 0")
    share = {k: w / total for k, w in weights.items()}
    # sqrt, not ** 0.5 of a product: the width- and resolution-only baselines stay exactly sqrt(factor).
    return (factor ** share["d"], math.sqrt(factor ** share["w"]), math.sqrt(factor ** share["r"]))


def adjust_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels of a layer after width scaling."""
    if width == 1:
        return channels
    return make_divisible(channels * width, divisor)


def adjust_depth(repeats: int, depth: float, rounding: str = "ceil") -> int:
    """Repeats of a stage after depth scaling; at least 1."""
    if depth == 1:
        return repeats
    x = repeats * depth
    n = math.ceil(x - _EPS) if rounding == "ceil" else math.floor(x + 0.5 + _EPS)
    return max(1, n)


def adjust_resolution(resolution: int, multiplier: float, divisor: int = 4) -> int:
    """Input size after resolution scaling, rounded to the nearest multiple of ``divisor``."""
    if multiplier == 1:
        return resolution
    return max(divisor, int(resolution * multiplier / divisor + 0.5 + _EPS) * divisor)


def scale(spec: NetSpec, *, width: float = 1.0, depth: float = 1.0, resolution: float = 1.0,
          resolution_px: int | None = None, name: str | None = None, phi: float | None = None,
          alpha: float | None = None, beta: float | None = None, gamma: float | None = None) -> NetSpec:
    """A fully materialized spec scaled by the given multipliers.

    ``resolution_px`` sets the input size directly (the EfficientNet presets do) instead of ``resolution``.
    The result records its base, the multipliers and, when given, phi and the coefficients. A factory network
    is scaled by recording the multipliers its factory will be called with; scaler rounds only its input size.
    """
    for label, m in (("width", width), ("depth", depth), ("resolution", resolution)):
        problem = multiplier_problem(label, m)
        if problem:
            raise ScalerError(problem)
    name = plain_name(name or f"{spec.name}-scaled")  # a factory spec is copied, not validated
    res = scaled_resolution(spec, resolution, resolution_px, name)
    # Multipliers compose when a scaled spec is scaled again; the base stays the original.
    prev = spec.derived
    derived = Derivation(
        base=prev.base if prev else spec.name,
        phi=phi, alpha=alpha, beta=beta, gamma=gamma,
        width=_r(width * (prev.width if prev else 1.0)),
        depth=_r(depth * (prev.depth if prev else 1.0)),
        resolution=_r(res / spec.resolution * (prev.resolution if prev else 1.0)),
    )
    if isinstance(spec, FactorySpec):
        return spec.model_copy(update={"name": name, "resolution": res, "derived": derived})
    data = spec.model_dump()
    data.update(scale_layers(spec, width, depth), name=name, resolution=res, derived=derived.model_dump())
    try:
        return Spec.model_validate(data)
    except ValidationError as e:  # a size beyond scaler's limits (the base's own fields were valid)
        first = e.errors()[0]
        raise ScalerError(f"{name}: {format_loc(first['loc'])} after scaling: "
                          f"{first['msg'].removeprefix('Value error, ')}") from None


def scale_layers(spec: Spec, width: float, depth: float) -> dict[str, Any]:
    """The stem, stages and head of ``spec`` after width and depth scaling, as data."""
    rules = spec.scaling
    div = rules.channel_divisor
    stages = [
        st.model_copy(update={"channels": adjust_channels(st.channels, width, div),
                              "repeats": adjust_depth(st.repeats, depth, rules.depth_rounding)
                              if i >= rules.first_deepened else st.repeats})
        for i, st in enumerate(spec.stages, start=1)
    ]
    stem = spec.stem
    if rules.scale_stem:
        stem = stem.model_copy(update={"channels": adjust_channels(stem.channels, width, div)})
    head = spec.head
    if head is not None and rules.scale_head and not (rules.head_never_narrower and width < 1):
        head = head.model_copy(update={"channels": adjust_channels(head.channels, width, div)})
    return {"stem": stem.model_dump(), "head": head.model_dump() if head is not None else None,
            "stages": [st.model_dump() for st in stages]}


def scaled_resolution(spec: NetSpec, resolution: float, resolution_px: int | None, name: str) -> int:
    """The input size of ``spec`` scaled by ``resolution`` (or set to ``resolution_px``), under its cap."""
    rules = spec.scaling
    res = resolution_px if resolution_px is not None else adjust_resolution(
        spec.resolution, resolution, rules.resolution_divisor)
    if resolution_px is None and rules.max_resolution is not None and resolution > 1:
        res = min(res, max(rules.max_resolution, spec.resolution))
    stride = spec.total_stride if isinstance(spec, Spec) else 1
    if res > MAX_RESOLUTION:
        raise ScalerError(f"{name}: the scaled resolution, {res} px, is above {MAX_RESOLUTION} px ({SIZES})")
    if res < stride:
        raise ScalerError(f"{name}: the scaled resolution, {res} px, is too small for a total stride "
                          f"of {stride} (base {spec.resolution} px)")
    return res


def _r(x: float) -> float:
    return round(x, 6)


def compound(spec: NetSpec, alpha: float, beta: float, gamma: float, phi: float,
             name: str | None = None) -> NetSpec:
    """EfficientNet compound scaling: depth alpha**phi, width beta**phi, resolution gamma**phi."""
    if not all(c > 0 and math.isfinite(c) for c in (alpha, beta, gamma)):
        raise ScalerError(f"alpha, beta and gamma must be positive numbers, got {alpha:g}, {beta:g}, {gamma:g}")
    if not math.isfinite(phi):
        raise ScalerError(f"phi must be a finite number, got {phi:g}")
    for label, c in (("depth", alpha), ("width", beta), ("resolution", gamma)):
        problem = power_problem(label, c, phi)
        if problem:
            raise ScalerError(problem)
    return scale(spec, depth=alpha**phi, width=beta**phi, resolution=gamma**phi,
                 name=name or member_name(spec.name, phi), phi=phi, alpha=alpha, beta=beta, gamma=gamma)


def member_name(base: str, phi: float) -> str:
    """``mini`` at phi 2 -> ``mini-phi2``; fractional and negative phi stay readable (``mini-phi-0.5``)."""
    return f"{base}-phi{phi:g}"


def family(spec: NetSpec, alpha: float, beta: float, gamma: float, phis: Iterable[float]) -> list[NetSpec]:
    """The compound-scaled family of ``spec`` at each phi."""
    return [compound(spec, alpha, beta, gamma, phi) for phi in phis]


def flops_factor(alpha: float, beta: float, gamma: float) -> float:
    """Nominal FLOPs growth per unit of phi: alpha * beta**2 * gamma**2."""
    return alpha * beta**2 * gamma**2
