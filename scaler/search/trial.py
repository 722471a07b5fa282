"""A trial: one network, one seed, one budget, with everything it needs to train anywhere (picklable) and its row
before training, counted once when it is planned. Also the plan of a search's candidates: every distinct network
once per seed, whoever asked for it. No torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from scaler.arch.flops import complexity
from scaler.arch.rounding import real_scale, rounding_notes, spread_warning
from scaler.config import ProxyConfig, SearchConfig
from scaler.errors import ScalerError
from scaler.results import TrialRow
from scaler.search.candidates import (
    Candidate,
    candidate_spec,
    candidates,
    measure_before_training,
    network_identity,
    proxy_spec,
)
from scaler.spec import FactorySpec, NetSpec

Member = tuple[Candidate, NetSpec, str]  # (candidate, its network, the trial id prefix)


@dataclass(frozen=True)
class Trial:
    """Everything one training needs; picklable, so it can run in another process or machine. ``planned`` is its
    row before training (identity, cost, real multipliers), counted when the trial was planned: a worker fills
    in the measurements, a failure only its status and message."""

    trial_id: str
    candidate: Candidate
    seed: int
    spec: NetSpec
    proxy: ProxyConfig
    planned: TrialRow = field(repr=False)
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
        return self.budget is None or self.budget >= self.proxy.epochs

    def row(self, device: str = "cpu", message: str = "") -> TrialRow:
        """The results row of this trial before training: what it is and what it costs. Its status stays
        ``failed`` (with ``message``) until training says otherwise, so this is also the row of a trial that
        never trained. Nothing is counted again."""
        return dataclasses.replace(
            self.planned, trial_id=self.trial_id, seed=self.seed, device=device, message=one_line(message),
            aliases=" ".join(self.aliases), rung=self.rung,
            budget=float(self.proxy.epochs if self.budget is None else round(self.budget, 6)), attempts=self.attempt)


def planned_row(c: Candidate, spec: NetSpec, base: NetSpec, epochs: int) -> TrialRow:
    """What a candidate's network is and costs against ``base`` (the proxy, phi = 0), before any training."""
    cost = complexity(spec)
    real = real_scale(base, spec)
    return TrialRow(
        trial_id=c.key, kind=c.kind, alpha=c.alpha, beta=c.beta, gamma=c.gamma, phi=c.phi,
        depth=round(c.alpha**c.phi, 6), width=round(c.beta**c.phi, 6), resolution=spec.resolution,
        params=cost.params, flops=cost.flops, activations=cost.activations, seed=0, epochs=epochs,
        flops_ratio=round(real.flops_ratio, 6), depth_real=round(real.depth, 6), width_real=round(real.width, 6),
        resolution_real=round(real.resolution, 6),
        gamma_used=round(real.resolution ** (1 / c.phi), 6) if c.phi else 1.0,
        blocks=0 if cost.measured else spec.blocks,
    )


def make_trials(proxy: NetSpec, members: list[Member], settings: ProxyConfig, first_seed: int = 0) -> list[Trial]:
    """Trials of (candidate, its spec, its id prefix) for ``settings.seeds`` seeds from ``first_seed`` +
    ``settings.seed_offset``, seed-major: a run cut short has covered all candidates at the first seed first.
    Each network is counted here, once."""
    if not members:
        raise ScalerError("no candidate to train: no (alpha, beta, gamma) of the search ranges lies on the "
                          "constraint (widen search.alpha/beta/gamma or lower search.step) and baselines are off")
    image_size = max(s.resolution for _, s, _ in members)
    rows = {key: planned_row(c, spec, proxy, settings.epochs) for c, spec, key in members}
    first = first_seed + settings.seed_offset
    return [
        Trial(trial_id=f"{key}-s{seed}", candidate=c, seed=seed, spec=spec, proxy=settings, planned=rows[key],
              image_size=image_size)
        for seed in range(first, first + settings.seeds)
        for c, spec, key in members
    ]


def distinct_networks(proxy: NetSpec, chosen: Sequence[Candidate], search: SearchConfig,
                      base: NetSpec) -> tuple[list[Member], dict[str, tuple[str, ...]]]:
    """The networks of ``chosen``, each once: a candidate whose rounding gives a network already listed (e.g.
    resolution-only and a1.020-g1.4) is not trained again but named as an alias of the first. Returns (members,
    aliases by member key). Factory networks are built and counted here, so one that fails does before training.
    """
    members: list[Member] = []
    aliases: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for c in chosen:
        spec = candidate_spec(proxy, c, match_flops=search.match_flops, factor=search.flops_factor)
        if isinstance(spec, FactorySpec):
            assert isinstance(base, FactorySpec)
            measure_before_training(spec, base)
        identity = network_identity(spec)
        if identity in seen:
            aliases[seen[identity]].append(c.key)
            continue
        seen[identity] = c.key
        aliases[c.key] = []
        members.append((c, spec, c.key))
    return members, {k: tuple(v) for k, v in aliases.items()}


def plan_trials(base: NetSpec, search: SearchConfig, proxy: ProxyConfig, num_classes: int,
                in_channels: int) -> list[Trial]:
    """Every (candidate, seed) of a grid over ``search``'s ranges, each distinct network once
    (:func:`distinct_networks`)."""
    return list(plan_search(base, search, proxy, num_classes, in_channels).trials)


@dataclass(frozen=True)
class Plan:
    """What a strategy starts from: the grid's trials over the search ranges (every distinct network once per
    seed), and what it needs to make a trial of any other candidate (:meth:`trial`)."""

    trials: tuple[Trial, ...]
    net: NetSpec  # the proxy network, phi = 0
    base: NetSpec  # the user's base spec (what a failing factory's error names)
    search: SearchConfig
    proxy: ProxyConfig

    def trial(self, c: Candidate, seed: int) -> Trial:
        """A trial of candidate ``c`` at ``seed``, counted now (a factory network built: one that fails does so
        before training)."""
        s = self.search
        spec = candidate_spec(self.net, c, match_flops=s.match_flops, factor=s.flops_factor)
        if isinstance(spec, FactorySpec):
            assert isinstance(self.base, FactorySpec)
            measure_before_training(spec, self.base)
        image_size = max(spec.resolution, *(t.image_size for t in self.trials[:1]))
        return Trial(trial_id=f"{c.key}-s{seed}", candidate=c, seed=seed, spec=spec, proxy=self.proxy,
                     planned=planned_row(c, spec, self.net, self.proxy.epochs), image_size=image_size)


def plan_search(base: NetSpec, search: SearchConfig, proxy: ProxyConfig, num_classes: int,
                in_channels: int) -> Plan:
    """The :class:`Plan` of a search: the proxy network and the grid's trials over ``search``'s ranges."""
    net = proxy_spec(base, proxy, num_classes, in_channels)
    members, aliases = distinct_networks(net, candidates(search), search, base)
    trials = [dataclasses.replace(t, aliases=aliases[t.candidate.key]) for t in make_trials(net, members, proxy)]
    return Plan(tuple(trials), net, base, search, proxy)


def one_line(message: str, limit: int = 500) -> str:
    """A failure message as one CSV-friendly line."""
    return message.replace("\n", " ")[:limit]


def upsampling_note(trials: Sequence[Trial], native: int) -> str | None:
    """A note naming the trials whose input is larger than the data's own images: those pixels are interpolated,
    so their resolution step adds compute but no information."""
    sizes = {t.candidate.key: t.spec.resolution for t in trials}
    above = sorted(((name, px) for name, px in sizes.items() if px > native), key=lambda kv: (kv[1], kv[0]))
    if not above:
        return None
    names = ", ".join(f"{k} ({px} px)" for k, px in above)
    return (f"note: the data's images are {native} px; {names} train on upsampled images: their extra resolution "
            "adds pixels but no information")


def cost_warning(trials: list[Trial], proxy: NetSpec, target: float, tolerance: float = 0.10,
                 matched: bool = False) -> str | None:
    """The pre-training warning of :func:`scaler.arch.rounding.spread_warning` for a plan's candidates (baselines and
    compound; not the base) against ``proxy``, the network at phi = 0."""
    ratios: dict[str, float] = {}
    notes: dict[str, list[str]] = {}
    for t in trials:
        c = t.candidate
        if c.kind == "base" or c.key in ratios:
            continue
        ratios[c.key] = t.planned.flops_ratio
        notes[c.key] = rounding_notes(proxy, t.spec, c.alpha**c.phi, c.beta**c.phi, c.gamma**c.phi)
    if not ratios:
        return None
    return spread_warning(ratios, target, notes, tolerance, matched, factory=isinstance(proxy, FactorySpec))
