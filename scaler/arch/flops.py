"""Analytic parameter and FLOPs counts of a spec, per stage and total, without torch.

FLOPs here means multiply-accumulates (MACs) of every convolution and linear layer for one image: the unit the
EfficientNet paper calls FLOPs (B0 at 224 px = 0.39 B). Bias additions, BN, activations, pooling and the SE
multiply are not counted. torch's FlopCounterMode reports twice this number.

Activations are the output elements of every convolution for one image (the SE's 1x1 convolutions included; the
classifier, a linear layer, not): Dollár et al.'s (FAMS, pycls) proxy for runtime on memory-bound hardware, where
FLOPs are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.arch.blocks import BlockPlan, block_kind
from scaler.arch.counts import ZERO, Counts, conv, linear, squeeze_excite
from scaler.arch.plan import Plan, plan
from scaler.spec import FactorySpec, NetSpec

__all__ = ["Complexity", "StageCounts", "block_cost", "complexity", "conv", "human", "linear", "measured_complexity",
           "plan_cost", "squeeze_excite"]  # conv, linear and squeeze_excite live in scaler.arch.counts


def block_cost(b: BlockPlan) -> Counts:
    """What one block costs, layer by layer as its kind builds it (:mod:`scaler.arch.blocks`)."""
    return block_kind(b.block).count(b)


@dataclass(frozen=True)
class StageCounts:
    index: int
    block: str
    repeats: int
    kernel: int
    stride: int
    in_ch: int
    out_ch: int
    se: int
    in_size: int
    out_size: int
    params: int
    flops: int
    activations: int = 0


@dataclass(frozen=True)
class Complexity:
    """Params, FLOPs (MACs) and activations of a network, total and per part."""

    name: str
    resolution: int
    params: int
    flops: int
    stem: Counts
    stages: tuple[StageCounts, ...]
    head: Counts
    classifier: Counts
    activations: int = 0
    measured: bool = False  # built and traced (a factory network), not counted from a plan

    def to_dict(self) -> dict:
        totals = {"name": self.name, "resolution": self.resolution, "params": self.params, "flops": self.flops,
                  "activations": self.activations, "flops_unit": "multiply-accumulates per image",
                  "activations_unit": "output elements of every convolution per image"}
        if self.measured:
            return {**totals, "counted": "measured"}
        return {
            **totals, "counted": "analytic",
            "stem": vars(self.stem), "head": vars(self.head), "classifier": vars(self.classifier),
            "stages": [vars(s) for s in self.stages],
        }


def plan_cost(p: Plan) -> tuple[Counts, list[list[Counts]], Counts, Counts]:
    """(stem, per-block, head, classifier) costs; the stem's max-pool and a missing head cost nothing."""
    stem = conv(p.in_channels, p.stem_ch, p.stem_kernel, p.stem_size)
    blocks = [[block_cost(b) for b in stage] for stage in p.stages]
    last = p.stages[-1][-1].out_ch
    head = conv(last, p.head_ch, 1, p.feature_size) if p.head_ch is not None else ZERO
    return stem, blocks, head, linear(p.num_features, p.num_classes)


def complexity(spec: NetSpec, resolution: int | None = None) -> Complexity:
    """Params and FLOPs of ``spec`` at ``resolution`` (default: the spec's own): counted from the plan, or, for
    a factory network, measured on the built model (:func:`measured_complexity`)."""
    if isinstance(spec, FactorySpec):
        return measured_complexity(spec, resolution)
    p = plan(spec, resolution)
    stem, blocks, head, classifier = plan_cost(p)
    stages = []
    for i, (st, bp, costs) in enumerate(zip(spec.stages, p.stages, blocks, strict=True)):
        c = sum(costs, ZERO)
        stages.append(StageCounts(
            index=i + 1, block=st.block, repeats=st.repeats, kernel=st.kernel, stride=st.stride,
            in_ch=bp[0].in_ch, out_ch=st.channels, se=bp[0].se, in_size=bp[0].in_size,
            out_size=bp[-1].out_size, params=c.params, flops=c.flops, activations=c.activations))
    total = sum((Counts(s.params, s.flops, s.activations) for s in stages), stem + head + classifier)
    return Complexity(name=spec.name, resolution=p.resolution, params=total.params, flops=total.flops,
                      stem=stem, stages=tuple(stages), head=head, classifier=classifier,
                      activations=total.activations)


def measured_complexity(spec: FactorySpec, resolution: int | None = None) -> Complexity:
    """A factory network exists only as code, so it is counted by building it: the one place where counting
    loads torch, imported here so that counting a spec network never does (an ``ignore_imports`` entry of the
    torch-free contract in pyproject.toml). Totals only (no parts)."""
    from scaler.arch.factory import factory_cost

    cost = factory_cost(spec, resolution)
    return Complexity(name=spec.name, resolution=spec.resolution if resolution is None else resolution,
                      params=cost.params,
                      flops=cost.flops, stem=ZERO, stages=(), head=ZERO, classifier=ZERO,
                      activations=cost.activations, measured=True)


def human(n: float, unit: str = "") -> str:
    """1_234_567 -> '1.23M'."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"
