"""What a grid trains, decided before any training: the candidates under alpha * beta^2 * gamma^2 = factor, the
proxy network, one :class:`Trial` per (candidate, seed), and each trial's row before training. No torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from scaler.arch.flops import complexity
from scaler.arch.rounding import match_resolution, real_scale, rounding_notes, spread_warning, with_resolution
from scaler.config import ProxyConfig, SearchConfig
from scaler.errors import ScalerError
from scaler.results import TrialRow, candidate_name
from scaler.scaling import compound, scale, strategy_factors
from scaler.spec import FactorySpec, NetSpec, Spec, parse_spec

BASELINES = ("depth", "width", "resolution")  # the single-dimension strategies every grid trains beside compound


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


@dataclass(frozen=True)
class Trial:
    """Everything one training needs; picklable, so it can run in another process or machine."""

    trial_id: str
    candidate: Candidate
    seed: int
    spec: dict[str, Any]
    proxy: dict[str, Any]
    base: dict[str, Any]  # the proxy's base network (phi = 0): what the real multipliers are measured against
    image_size: int
    aliases: tuple[str, ...] = ()  # other candidates whose rounding gives this very network: planned once
    rung: int = 0  # successive halving: which rung (a grid's trials: 0, at the full budget)
    budget: float | None = None  # epochs to train to, on the full schedule (None: all of proxy.epochs)
    resume: bytes | None = field(default=None, repr=False)  # checkpoint of the previous rung, to continue from
    checkpoint: bool = False  # return a checkpoint, so the next rung can continue this trial
    attempt: int = 1  # which training of this trial this is (a rerun retrains a failed one)
    max_attempts: int = 3  # trainings allowed in all: worker deaths in this run count too

    @property
    def final(self) -> bool:
        """Trains to the end of the schedule (only such trials score the test split)."""
        return self.budget is None or self.budget >= self.proxy["epochs"]


def make_trials(proxy: NetSpec, members: list[tuple[Candidate, NetSpec, str]], settings: ProxyConfig,
                first_seed: int = 0) -> list[Trial]:
    """Trials of (candidate, its spec, its id prefix) for ``settings.seeds`` seeds from ``first_seed`` +
    ``settings.seed_offset``, seed-major: a run cut short has covered all candidates at the first seed first."""
    if not members:
        raise ScalerError("no candidate to train: no (alpha, beta, gamma) of the search ranges lies on the "
                          "constraint (widen search.alpha/beta/gamma or lower search.step) and baselines are off")
    image_size = max(s.resolution for _, s, _ in members)
    proxy_dump, base = settings.model_dump(mode="json"), proxy.model_dump(mode="json")
    return [
        Trial(trial_id=f"{key}-s{seed}", candidate=c, seed=seed, spec=spec.model_dump(mode="json"),
              proxy=proxy_dump, base=base, image_size=image_size)
        for seed in range(first_seed + settings.seed_offset, first_seed + settings.seed_offset + settings.seeds)
        for c, spec, key in members
    ]


def plan_trials(base: NetSpec, search: SearchConfig, proxy: ProxyConfig, num_classes: int,
                in_channels: int) -> list[Trial]:
    """Every (candidate, seed) of a grid. Candidates whose rounding gives the same network (e.g. resolution-only
    and a1.020-g1.4) are one trial per seed, under the first of them, naming the others as aliases."""
    net = proxy_spec(base, proxy, num_classes, in_channels)
    members: list[tuple[Candidate, NetSpec, str]] = []
    aliases: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for c in candidates(search):
        spec = candidate_spec(net, c, match_flops=search.match_flops, factor=search.flops_factor)
        if isinstance(spec, FactorySpec):
            measure_before_training(spec, base)
        identity = network_identity(spec)
        if identity in seen:
            aliases[seen[identity]].append(c.key)
            continue
        seen[identity] = c.key
        aliases[c.key] = []
        members.append((c, spec, c.key))
    return [dataclasses.replace(t, aliases=tuple(aliases[t.candidate.key]))
            for t in make_trials(net, members, proxy)]


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


def confirm_trials(plan: Sequence[Trial], rows: Sequence[dict[str, str]], top: int, seeds: int) -> list[Trial]:
    """The confirmation round of a finished plan: the base and the ``top`` candidates with the highest mean
    validation accuracy in ``rows`` (ties: fewer FLOPs, then the name), each again with ``seeds`` new seeds
    after the plan's. Empty while a trial of the plan has no row or when nothing succeeded."""
    by_id = {r["trial_id"]: r for r in rows}
    if top <= 0 or any(t.trial_id not in by_id for t in plan):
        return []
    scores: dict[str, list[float]] = {}
    first: dict[str, Trial] = {}
    for t in plan:
        first.setdefault(t.candidate.key, t)
        if by_id[t.trial_id].get("status") == "ok":
            scores.setdefault(t.candidate.key, []).append(float(by_id[t.trial_id]["accuracy"]))
    flops = {t.candidate.key: int(float(by_id[t.trial_id].get("flops") or 0)) for t in plan}
    ranked = sorted((k for k in scores if first[k].candidate.kind != "base"),
                    key=lambda k: (-sum(scores[k]) / len(scores[k]), flops[k], k))
    chosen = ([BASE.key] if BASE.key in scores else []) + ranked[:top]
    start = 1 + max(t.seed for t in plan)
    return [dataclasses.replace(first[k], seed=s, trial_id=f"{k}-s{s}")
            for s in range(start, start + seeds) for k in chosen]


def trial_row(trial: Trial, device: str = "cpu", message: str = "") -> TrialRow:
    """The results row of a trial before training: what it is and what it costs. Its status stays ``failed``
    (with ``message``) until training says otherwise, so this is also the row of a trial that never trained."""
    spec = parse_spec(trial.spec)
    cost = complexity(spec)
    real = real_scale(parse_spec(trial.base), spec)
    c = trial.candidate
    return TrialRow(
        trial_id=trial.trial_id, kind=c.kind, alpha=c.alpha, beta=c.beta, gamma=c.gamma, phi=c.phi,
        depth=round(c.alpha**c.phi, 6), width=round(c.beta**c.phi, 6), resolution=spec.resolution,
        params=cost.params, flops=cost.flops, activations=cost.activations, seed=trial.seed,
        epochs=trial.proxy["epochs"],
        flops_ratio=round(real.flops_ratio, 6), depth_real=round(real.depth, 6), width_real=round(real.width, 6),
        resolution_real=round(real.resolution, 6),
        gamma_used=round(real.resolution ** (1 / c.phi), 6) if c.phi else 1.0,
        blocks=0 if cost.measured else spec.blocks, device=device, message=one_line(message),
        aliases=" ".join(trial.aliases),
        rung=trial.rung, budget=float(trial.proxy["epochs"] if trial.budget is None else round(trial.budget, 6)),
        attempts=trial.attempt,
    )


def one_line(message: str, limit: int = 500) -> str:
    """A failure message as one CSV-friendly line."""
    return message.replace("\n", " ")[:limit]


def upsampling_note(trials: Sequence[Trial], native: int) -> str | None:
    """A note naming the trials whose input is larger than the data's own images: those pixels are interpolated,
    so their resolution step adds compute but no information."""
    sizes = {t.candidate.key: parse_spec(t.spec).resolution for t in trials}
    above = sorted(((name, px) for name, px in sizes.items() if px > native), key=lambda kv: (kv[1], kv[0]))
    if not above:
        return None
    names = ", ".join(f"{k} ({px} px)" for k, px in above)
    return (f"note: the data's images are {native} px; {names} train on upsampled images: their extra resolution "
            "adds pixels but no information")


def cost_warning(trials: list[Trial], target: float, tolerance: float = 0.10, matched: bool = False) -> str | None:
    """The pre-training warning of :func:`scaler.arch.cost.spread_warning` for a plan's candidates (baselines and
    compound; not the base)."""
    if not trials:
        return None
    proxy = parse_spec(trials[0].base)
    ratios: dict[str, float] = {}
    notes: dict[str, list[str]] = {}
    for t in trials:
        c = t.candidate
        if c.kind == "base" or c.key in ratios:
            continue
        ratios[c.key] = trial_row(t).flops_ratio
        spec = parse_spec(t.spec)
        notes[c.key] = rounding_notes(proxy, spec, c.alpha**c.phi, c.beta**c.phi, c.gamma**c.phi)
    return spread_warning(ratios, target, notes, tolerance, matched, factory=isinstance(proxy, FactorySpec))
