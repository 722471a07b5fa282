"""What a search may train: the candidates under alpha * beta^2 * gamma^2 = factor, the proxy network, each
candidate's network, and what makes two networks the same. No torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from scaler.arch.flops import complexity
from scaler.arch.rounding import match_resolution, with_resolution
from scaler.config import ProxyConfig, SearchConfig
from scaler.errors import ScalerError
from scaler.results import candidate_name
from scaler.scaling import SINGLE_DIMENSIONS, compound, scale, strategy_factors
from scaler.spec import FactorySpec, NetSpec, Spec

BASELINES = SINGLE_DIMENSIONS  # the single-dimension strategies every search trains beside compound, in order


@dataclass(frozen=True)
class Candidate:
    kind: str
    alpha: float
    beta: float
    gamma: float
    phi: float

    @property
    def key(self) -> str:
        return candidate_name(self.kind, self.alpha, self.beta, self.gamma)


BASE = Candidate("base", 1.0, 1.0, 1.0, 0.0)  # phi = 0: the proxy itself


def strategy_candidate(strategy: str, factor: float, phi: float) -> Candidate:
    """The candidate of a single-dimension (or pycls-style) strategy at ``phi``."""
    return Candidate(strategy, *strategy_factors(strategy, factor), phi)


def candidates(cfg: SearchConfig) -> list[Candidate]:
    """Base, the three single-dimension baselines, then the compound candidates, in a stable order."""
    factor, phi = cfg.flops_factor, cfg.phi
    out: list[Candidate] = []
    if cfg.baselines:
        out.append(BASE)
        out += [strategy_candidate(s, factor, phi) for s in BASELINES]
    for a, b, g in _constrained_points(cfg):
        # Points with two multipliers at 1 are the single-dimension baselines, trained under their own kind.
        if sum(abs(m - 1) < 1e-9 for m in (a, b, g)) >= 2:
            continue
        out.append(Candidate("compound", a, b, g, phi))
    return out


def _constrained_points(cfg: SearchConfig) -> list[tuple[float, float, float]]:
    factor = cfg.flops_factor
    points: list[tuple[float, float, float]] = []
    if cfg.mode == "solve":
        for b in cfg.beta.values(cfg.step):
            for g in cfg.gamma.values(cfg.step):
                a = round(factor / (b * b * g * g), 10)
                if a in cfg.alpha:
                    points.append((a, b, g))
        return points
    for a in cfg.alpha.values(cfg.step):
        for b in cfg.beta.values(cfg.step):
            for g in cfg.gamma.values(cfg.step):
                if abs(a * b * b * g * g / factor - 1) <= cfg.tolerance + 1e-12:
                    points.append((a, b, g))
    return points


def proxy_spec(base: NetSpec, proxy: ProxyConfig, num_classes: int, in_channels: int) -> NetSpec:
    """The proxy base network: the base spec shrunk by the proxy multipliers, sized for the dataset."""
    spec = base
    if proxy.width != 1 or proxy.depth != 1 or proxy.resolution is not None:
        spec = scale(base, width=proxy.width, depth=proxy.depth, resolution_px=proxy.resolution,
                     name=f"{base.name}-proxy")
    update: dict[str, Any] = {"num_classes": num_classes, "in_channels": in_channels}
    if isinstance(spec, FactorySpec):
        for knob in ("dropout", "drop_path"):
            if getattr(proxy, knob) is not None:
                raise ScalerError(f"proxy.{knob} does not apply to a factory network ({base.factory}): its "
                                  "factory sets its own regularization")
        return spec.model_copy(update=update)
    if proxy.dropout is not None:
        update["dropout"] = proxy.dropout
    if proxy.drop_path is not None:
        update["drop_path"] = proxy.drop_path
    data = spec.model_dump()
    data.update(update)
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        raise ScalerError(f"the proxy of {base.name} is not a valid network: {e.errors()[0]['msg']}") from None


def candidate_spec(proxy: NetSpec, c: Candidate, *, match_flops: bool = False, factor: float = 2.0) -> NetSpec:
    """The proxy network scaled to one candidate. With ``match_flops`` a compound candidate's (or the
    resolution-only baseline's) input size is the one, on the resolution divisor, that brings its real FLOPs
    closest to ``factor ** phi`` times the proxy's. The depth- and width-only baselines keep the base's input
    size: moving it would make them two-dimensional."""
    if c.kind == "base":
        return proxy
    spec = compound(proxy, c.alpha, c.beta, c.gamma, c.phi, name=f"{proxy.name}-{c.key}")
    if match_flops and c.kind in ("compound", "resolution"):
        spec = with_resolution(spec, match_resolution(spec, complexity(proxy).flops * factor**c.phi))
    return spec


def measure_before_training(spec: FactorySpec, base: FactorySpec) -> None:
    """Build and count a factory candidate now, so that a factory that fails for some multipliers or input size
    fails before anything trains, naming the spec file (``base``'s) on one line."""
    try:
        complexity(spec)
    except ScalerError as e:
        raise ScalerError(e.message, where=base.source, field=e.field) from None


def network_identity(spec: NetSpec) -> str:
    """What makes two specs the same network, not how they were asked for. A factory sees its multipliers."""
    if isinstance(spec, FactorySpec):
        return spec.model_dump_json(include={"factory", "path", "resolution", "num_classes", "in_channels"}) + (
            f"d{spec.depth}w{spec.width}")
    return spec.model_dump_json(exclude={"name", "derived"})


