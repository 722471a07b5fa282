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

from scaler.arch.counts import ZERO, Counts
from scaler.arch.plan import RESNET_BLOCKS, BlockPlan, Plan, plan
from scaler.spec import FactorySpec, NetSpec


def conv(cin: int, cout: int, kernel: int, out_size: int, *, groups: int = 1, bias: bool = False,
         bn: bool = True) -> Counts:
    """A square convolution (optionally followed by BN, whose affine weights count as params)."""
    weights = cout * (cin // groups) * kernel * kernel
    params = weights + (cout if bias else 0) + (2 * cout if bn else 0)
    return Counts(params, weights * out_size * out_size, cout * out_size * out_size)


def linear(cin: int, cout: int) -> Counts:
    return Counts(cin * cout + cout, cin * cout)


def squeeze_excite(channels: int, squeeze: int) -> Counts:
    """Two 1x1 convolutions with bias on the pooled 1x1 map."""
    return conv(channels, squeeze, 1, 1, bias=True, bn=False) + conv(squeeze, channels, 1, 1, bias=True, bn=False)


def resnet_block_cost(b: BlockPlan) -> Counts:
    """A basic (two kxk convs) or bottleneck (1x1, kxk, 1x1) block, plus its projection shortcut."""
    if b.block == "basic":
        total = conv(b.in_ch, b.mid, b.kernel, b.out_size) + conv(b.mid, b.out_ch, b.kernel, b.out_size)
    else:
        total = (conv(b.in_ch, b.mid, 1, b.in_size) + conv(b.mid, b.mid, b.kernel, b.out_size)
                 + conv(b.mid, b.out_ch, 1, b.out_size))
    if b.projection:
        total += conv(b.in_ch, b.out_ch, 1, b.out_size)
    return total


def block_cost(b: BlockPlan) -> Counts:
    """What one block costs, layer by layer as :mod:`scaler.arch.torch_model` builds it."""
    if b.block in RESNET_BLOCKS:
        return resnet_block_cost(b)
    if b.block == "conv":
        return conv(b.in_ch, b.out_ch, b.kernel, b.out_size)
    total = ZERO
    if b.block == "fused_mbconv":
        total += conv(b.in_ch, b.mid, b.kernel, b.out_size)
    else:
        if b.expanded:
            total += conv(b.in_ch, b.mid, 1, b.in_size)
        total += conv(b.mid, b.mid, b.kernel, b.out_size, groups=b.mid)
    if b.se:
        total += squeeze_excite(b.mid, b.se)
    if b.block != "fused_mbconv" or b.expanded:
        total += conv(b.mid, b.out_ch, 1, b.out_size)
    return total


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
