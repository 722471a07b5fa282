"""What a scaled network really costs after rounding (no torch).

The constraint alpha * beta^2 * gamma^2 = factor is on nominal multipliers; rounded repeats, channels and input
size make the real network cost more or less. This module measures the real multipliers, explains where the
rounding went, and picks the input size that brings a candidate's real FLOPs to a target (``match_flops``).

``width_real`` is channel-weighted: the sum of the stem, stage and head widths of the scaled spec over the base's
(each stage counted once, so depth does not leak into it). For a width multiplier big enough that rounding to 8 is
negligible it equals beta**phi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler.arch.flops import complexity
from scaler.errors import ScalerError
from scaler.spec import FactorySpec, NetSpec, Spec


@dataclass(frozen=True)
class RealScale:
    """Real multipliers of a scaled spec against its base."""

    depth: float  # blocks / base blocks
    width: float  # channel-weighted (see the module docstring)
    resolution: float  # input size / base input size
    flops_ratio: float  # analytic FLOPs / base FLOPs


def widths(spec: Spec) -> list[int]:
    """The width knobs of a spec: stem, each stage's output, head (when it has one)."""
    head = [spec.head.channels] if spec.head is not None else []
    return [spec.stem.channels, *(st.channels for st in spec.stages), *head]


def width_real(base: Spec, spec: Spec) -> float:
    return sum(widths(spec)) / sum(widths(base))


def real_scale(base: NetSpec, spec: NetSpec) -> RealScale:
    """Real multipliers of ``spec`` against ``base``. A factory network's depth and width are the multipliers its
    factory was called with (scaler cannot see how it rounds them); its FLOPs ratio is measured."""
    flops_ratio = complexity(spec).flops / complexity(base).flops
    if isinstance(spec, FactorySpec) or isinstance(base, FactorySpec):
        return RealScale(depth=spec.depth / base.depth, width=spec.width / base.width,
                         resolution=spec.resolution / base.resolution, flops_ratio=flops_ratio)
    return RealScale(depth=spec.blocks / base.blocks, width=width_real(base, spec),
                     resolution=spec.resolution / base.resolution, flops_ratio=flops_ratio)


def rounding_notes(base: NetSpec, spec: NetSpec, depth: float, width: float, resolution: float,
                   threshold: float = 0.05) -> list[str]:
    """Why ``spec`` (``base`` scaled by the nominal multipliers) costs what it does: every rounding whose own
    effect on FLOPs exceeds ``threshold``, biggest first. Depth acts on FLOPs linearly, width and resolution
    roughly quadratically. A factory rounds depth and width itself, out of sight: only the input size is noted."""
    notes: list[tuple[float, str]] = []
    if isinstance(spec, FactorySpec):
        hidden = [f"{spec.factory} rounds depth {depth:.3g} and width {width:.3g} its own way"] if (
            (depth, width) != (1, 1)) else []
        return [text for _, text in _resolution_note(base, spec, resolution, threshold)] + hidden
    rules = base.scaling
    for i, (b, s) in enumerate(zip(base.stages, spec.stages, strict=True), start=1):
        if i < rules.first_deepened:
            continue  # not depth-scaled by design
        effect = s.repeats / b.repeats / depth
        if abs(effect - 1) > threshold:
            notes.append((effect, f"stage {i} has {b.repeats} block{'s' * (b.repeats > 1)}: depth {depth:.3g} "
                          f"makes it {s.repeats} (x{s.repeats / b.repeats:.2f})"))
    # a head that width does not narrow (head_never_narrower) is not a rounding either
    head = [rules.scale_head and not (rules.head_never_narrower and width < 1)] if base.head is not None else []
    named = ["stem", *(f"stage {i} width" for i in range(1, len(base.stages) + 1)), *(["head"] * len(head))]
    scaled = [rules.scale_stem, *([True] * len(base.stages)), *head]
    for name, b_ch, s_ch, on in zip(named, widths(base), widths(spec), scaled, strict=True):
        if not on:
            continue
        effect = (s_ch / b_ch / width) ** 2
        if abs(effect - 1) > threshold:
            notes.append((effect, f"{name} {b_ch} x {width:.3g} = {b_ch * width:.1f} rounds to {s_ch} channels"))
    notes += _resolution_note(base, spec, resolution, threshold)
    notes.sort(key=lambda n: -abs(n[0] - 1))
    return [text for _, text in notes]


def _resolution_note(base: NetSpec, spec: NetSpec, resolution: float, threshold: float) -> list[tuple[float, str]]:
    """(effect on FLOPs, note) of the input size's rounding, when it exceeds ``threshold``."""
    effect = (spec.resolution / base.resolution / resolution) ** 2
    if abs(effect - 1) <= threshold:
        return []
    return [(effect, f"input {base.resolution} x {resolution:.3g} = {base.resolution * resolution:.1f} rounds to "
                     f"{spec.resolution} px")]


def match_resolution(spec: NetSpec, target_flops: float) -> int:
    """The input size, on the spec's resolution divisor, whose FLOPs are closest to ``target_flops`` (FLOPs grow
    monotonically with the input size). A factory network's smallest size is the smallest it runs at."""
    div = spec.scaling.resolution_divisor
    stride = spec.total_stride if isinstance(spec, Spec) else 1
    lowest = max(div, -(-stride // div) * div)
    res = max(lowest, (spec.resolution // div) * div)

    def flops(r: int) -> int | None:
        """None: a factory's network cannot run at ``r`` px, below its own input size."""
        try:
            return complexity(spec, r).flops
        except ScalerError:
            if isinstance(spec, FactorySpec) and r < spec.resolution:
                return None
            raise

    while flops(res) is None:
        res += div
    while res > lowest and flops(res) > target_flops and flops(res - div) is not None:
        res -= div
    cap = spec.scaling.max_resolution
    while flops(res) < target_flops and (cap is None or res + div <= cap):
        res += div
    below = flops(res - div) if res > lowest else None
    if below is not None and abs(below - target_flops) <= abs(flops(res) - target_flops):
        res -= div
    return res


def with_resolution(spec: NetSpec, resolution: int) -> NetSpec:
    """``spec`` at another input size, its derivation's resolution multiplier updated to match."""
    update: dict[str, Any] = {"resolution": resolution}
    if spec.derived is not None and spec.resolution:
        update["derived"] = spec.derived.model_copy(
            update={"resolution": round(spec.derived.resolution * resolution / spec.resolution, 6)})
    if isinstance(spec, FactorySpec):
        return spec.model_copy(update=update)
    data = spec.model_dump()
    data.update({k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in update.items()})
    return Spec.model_validate(data)


def spread_warning(ratios: dict[str, float], target: float, notes: dict[str, list[str]],
                   tolerance: float = 0.10, matched: bool = False, factory: bool = False) -> str | None:
    """A warning when the candidates' real FLOPs ratios leave ``target`` +- ``tolerance``: the range, the
    candidates outside it, and the rounding that put them there. None when all are inside."""
    outside = {k: r for k, r in ratios.items() if abs(r / target - 1) > tolerance}
    if not outside:
        return None
    lo, hi = min(ratios.values()), max(ratios.values())
    lines = [f"warning: real FLOPs after rounding range x{lo:.2f}..x{hi:.2f} against a target of x{target:g} "
             f"(+-{tolerance:.0%}); {len(outside)} of {len(ratios)} candidates are outside, so accuracy partly "
             "ranks how much compute rounding gave them:"]
    for key, r in sorted(outside.items(), key=lambda kv: -abs(kv[1] / target - 1)):
        # under match_flops the input size was chosen, not rounded: its note would mislead
        kept = [n for n in notes.get(key, []) if not (matched and n.startswith("input"))]
        why = "; ".join(kept[:2]) or "many small roundings"
        lines.append(f"  {key}: x{r:.2f} ({why})")
    if matched:
        lines.append("  match_flops is on, but no input size brings these closer: FLOPs change in steps where the "
                     "deepest feature maps change size (README: choosing a proxy)")
    elif factory:
        lines.append("  use --match-flops (input size chosen per candidate to hit the target), or round depth and "
                     "width more finely in the factory (README: scaling your own network)")
    else:
        lines.append("  use --match-flops (input size chosen per candidate to hit the target) or a proxy with more "
                     "blocks per stage (README: choosing a proxy)")
    return "\n".join(lines)
