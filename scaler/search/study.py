"""`scaler study`'s trials: phi = 0..K of the fitted compound family and of the single-dimension (or other
pycls-style) strategies, with the grid's proxy and training settings, run by the same driver."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.arch.flops import complexity
from scaler.coefficients import Coefficients, by_direction, read_coefficients
from scaler.config import ProxyConfig
from scaler.errors import ScalerError
from scaler.results import COLUMNS, RunDir, read_run_yaml
from scaler.scaling import SINGLE_DIMENSIONS
from scaler.search.candidates import (
    BASE,
    Candidate,
    candidate_spec,
    measure_before_training,
    network_identity,
    proxy_spec,
    strategy_candidate,
)
from scaler.search.executors.base import Executor
from scaler.search.runner import RETRY, Attempts, Observer, report_failures, run_plan
from scaler.search.trial import make_trials, upsampling_note
from scaler.search.worker import load_proxy_data
from scaler.spec import FactorySpec, NetSpec, parse_spec, spec_data
from scaler.spec.limits import MAX_GROWTH

DEFAULT_STRATEGIES = ("compound", *SINGLE_DIMENSIONS)
STUDY_COLUMNS = (*COLUMNS, "strategy")
# Study seeds start here, disjoint from any grid's (0, 1, ...): its phi = 1 runs are new evidence, not the grid's
# seed-0 runs again.
FIRST_SEED = 1000
STUDY_SEEDS = 2  # per network unless --seeds says otherwise: every verdict gets a measured noise


def check_grid_dir(grid_dir: str | Path) -> Path:
    """``grid_dir`` when it holds a finished grid (its settings and coefficients), else a one-line error."""
    grid_dir = Path(grid_dir)
    for needed in ("run.yaml", "coefficients.yaml"):
        if not (grid_dir / needed).exists():
            raise ScalerError(f"not a finished grid directory: {needed} is missing (run `scaler grid` first)",
                              where=grid_dir)
    return grid_dir


@dataclass(frozen=True)
class StudyGrids:
    """The grids a study scales from: one, or one per direction (phi > 0 and phi < 0) of the same base and proxy.
    The study is written into ``home``: the upward grid, or the only one."""

    home: Path
    sets: dict[str, Coefficients]  # by direction: "up", "down"
    recorded: dict[str, Any]  # home's run.yaml settings

    @property
    def by_sign(self) -> dict[int, tuple[float, float, float]]:
        """Compound's coefficients by the sign of the phi they scale to."""
        return {1 if d == "up" else -1: (c.alpha, c.beta, c.gamma) for d, c in self.sets.items()}

    def recorded_coefficients(self) -> dict[str, Any]:
        """study.yaml's record of them: the home grid's set, and with two grids the downward one with its grid."""
        def values(c: Coefficients) -> dict[str, float]:
            return {"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma}

        home = self.sets.get("up") or self.sets["down"]
        out: dict[str, Any] = {"coefficients": values(home)}
        if len(self.sets) == 2:
            down = self.sets["down"]
            out["down"] = {"grid": str(Path(down.path or ".").parent), "coefficients": values(down)}
        return out


# What two grids must share to be one study's two directions (run.yaml's settings)
SHARED = ("base", "proxy", "search.flops_factor", "search.match_flops")
HOW_IT_RAN = ("tensorboard", "trial_timeout")  # proxy settings that change how trials run, not what they measure


def study_grids(dirs: str | Path | list[str | Path] | tuple[str | Path, ...]) -> StudyGrids:
    """The finished grid(s) of a study, checked: at most one per direction, the same base, proxy and FLOPs factor."""
    dirs = [check_grid_dir(d) for d in ([dirs] if isinstance(dirs, str | Path) else dirs)]
    if not 1 <= len(dirs) <= 2:
        raise ScalerError(f"a study scales from one grid directory, or two (one per direction), not {len(dirs)}")
    sets = by_direction([read_coefficients(d / "coefficients.yaml") for d in dirs])
    home = Path(sets["up"].path or dirs[0]).parent if "up" in sets else dirs[0]
    recorded = {d: read_run_yaml(d / "run.yaml")["settings"] for d in dirs}
    for d in dirs[1:]:
        for key in SHARED:
            mine, theirs = (_setting(recorded[x], key) for x in (dirs[0], d))
            if key == "proxy":
                mine, theirs = ({k: v for k, v in p.items() if k not in HOW_IT_RAN} for p in (mine or {}, theirs or {}))
            if mine != theirs:
                raise ScalerError(f"{key} differs from {dirs[0]}'s: a study trains both directions with one base and "
                                  "one proxy, so both grids must share them", where=d / "run.yaml")
    return StudyGrids(home=home, sets=sets, recorded=recorded[home])


def _setting(settings: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        settings = (settings or {}).get(part)
    return settings


@dataclass
class StudyOutcome:
    csv: Path
    ran: int
    failed: int
    # phi = K+1..K+N of every trained strategy, to forecast: (strategy, phi, real FLOPs, input size)
    targets: list[tuple[str, float, int, int]] = field(default_factory=list)
    native: int = 0  # the data's own image size
    same: list[str] = field(default_factory=list)  # strategies trained as compound: the very same networks


Coefs = dict[int, tuple[float, float, float]]  # compound's coefficients by the sign of phi they scale to


def study_candidates(coefficients: tuple[float, float, float] | Coefs, factor: float, max_phi: int,
                     strategies: tuple[str, ...] = DEFAULT_STRATEGIES) -> list[Candidate]:
    """The shared base, then phi = 1..max_phi of every strategy (``compound``: the given coefficients), and
    phi = -1..-max_phi when ``coefficients`` holds a downward set (key -1; the upward one is key 1)."""
    by_sign = coefficients if isinstance(coefficients, dict) else {1: coefficients}
    out = [BASE]
    for step in range(1, max_phi + 1):
        for sign in sorted(by_sign, reverse=True):
            phi = float(sign * step)
            for strategy in strategies:
                if strategy == "compound":
                    out.append(Candidate("compound", *by_sign[sign], phi))
                else:
                    out.append(strategy_candidate(strategy, factor, phi))
    return out


def same_as_compound(members: list[tuple[Candidate, NetSpec, str]]) -> dict[str, list[float]]:
    """Per strategy, the phi at which its network is the compound family's (e.g. resolution-only above the base
    when the upward grid chose (1, 1, 1.414)): training it there would repeat the compound trials seed for seed."""
    by_kind: dict[str, dict[float, str]] = {}
    for c, spec, _ in members:
        if c.kind != BASE.kind:
            by_kind.setdefault(c.kind, {})[c.phi] = network_identity(spec)
    compound = by_kind.get("compound", {})
    same = {k: sorted(p for p, net in nets.items() if compound.get(p) == net) for k, nets in by_kind.items()
            if k != "compound"}
    return {k: phis for k, phis in same.items() if phis}


def _trained_once(members: list[tuple[Candidate, NetSpec, str]], observer: Observer, coefs: Coefs
                  ) -> tuple[list[tuple[Candidate, NetSpec, str]], list[str], dict[str, list[float]]]:
    """The members left to train, the strategies that are the compound family at every phi (left out whole),
    and those that are at some phi only (left out there; compound's trial names them as aliases)."""
    same = same_as_compound(members)
    count = {k: sum(c.kind == k for c, _, _ in members) for k in same}
    whole = [k for k, phis in same.items() if len(phis) == count[k]]
    partial = {k: phis for k, phis in same.items() if k not in whole}
    if whole:
        observer.message(f"note: {', '.join(whole)} scaling builds the very networks of the compound family "
                         f"{_described(coefs)} at every phi: trained once, as compound")
    for k, phis in partial.items():
        observer.message(f"note: {k} scaling at phi {', '.join(f'{p:g}' for p in phis)} builds the compound "
                         f"family's network: trained once, as compound (its rows name {k} as an alias)")
    kept = [m for m in members if m[0].kind not in whole and m[0].phi not in partial.get(m[0].kind, ())]
    return kept, whole, partial


def forecast_targets(base: NetSpec, coefficients: tuple[float, float, float] | Coefs, factor: float, match: bool,
                     max_phi: int, ahead: int, strategies: tuple[str, ...]) -> list[tuple[str, float, int, int]]:
    """phi = max_phi + 1..max_phi + ahead of every strategy, as the study would build them, with real FLOPs (none
    without an upward set: the forecast extrapolates upward)."""
    up = coefficients if not isinstance(coefficients, dict) else coefficients.get(1)
    if up is None:
        return []
    out = []
    for c in study_candidates(up, factor, max_phi + ahead, strategies):
        if c.phi > max_phi:
            spec = candidate_spec(base, c, match_flops=match, factor=factor)
            out.append((c.kind, c.phi, complexity(spec).flops, spec.resolution))
    return out


def _check_growth(factor: float, max_phi: int, forecast: int) -> None:
    """Refuse a study whose largest network (phi = max_phi + forecast) grows FLOPs beyond ``MAX_GROWTH``."""
    top = max_phi + forecast
    if top * math.log2(factor) > math.log2(MAX_GROWTH) + 1e-9:
        most = math.floor(math.log2(MAX_GROWTH) / math.log2(factor) + 1e-9)
        raise ScalerError(f"--max-phi {max_phi} with --forecast {forecast} reaches phi {top}: {factor:g}^{top} times "
                          f"the proxy's FLOPs; a study's networks are proxies, at most {MAX_GROWTH}x (phi "
                          f"{most} at this grid's flops_factor {factor:g})")


def run_study(grid_dir: str | Path | list[str | Path], executor: Executor, observer: Observer, *,
              max_phi: int = 3, overrides: dict[str, Any] | None = None,
              strategies: tuple[str, ...] = DEFAULT_STRATEGIES, limit: int | None = None,
              forecast: int = 0, attempts: Attempts = RETRY) -> StudyOutcome:
    """Train phi = 0..max_phi of every strategy with the grid's proxy settings, on seeds disjoint from the grid's
    (2 per network unless ``overrides`` say otherwise); write ``study.csv``. Given an upward and a downward grid
    (:func:`study_grids`), phi = -max_phi..max_phi, into the upward one. ``forecast``: also plan (not train)
    phi = max_phi + 1..max_phi + forecast, the targets of the outcome."""
    grids = study_grids(grid_dir)
    strategies = tuple(dict.fromkeys(strategies))  # a strategy named twice is trained once
    recorded, coefs = grids.recorded, grids.by_sign
    proxy = ProxyConfig.model_validate({**(recorded.get("proxy") or {}), "seeds": STUDY_SEEDS, **(overrides or {})})
    search = recorded.get("search") or {}
    factor, match = float(search.get("flops_factor", 2.0)), bool(search.get("match_flops", False))
    _check_growth(factor, max_phi, forecast)
    run = RunDir(grids.home, csv_name="study.csv", settings_name="study.yaml", columns=STUDY_COLUMNS,
                 start_over="move study.csv and study.yaml aside to start the study over")
    recorded_base = parse_spec(recorded["base"], grids.home)
    if isinstance(recorded_base, FactorySpec):
        recorded_base = recorded_base.located(None, where=str(grids.home / "run.yaml"))
    run.lock()
    try:
        settings = {"max_phi": max_phi, "flops_factor": factor, "match_flops": match, "first_seed": FIRST_SEED,
                    **grids.recorded_coefficients(), "proxy": proxy.model_dump(mode="json"),
                    "base": spec_data(recorded_base, grids.home)}
        if strategies != DEFAULT_STRATEGIES:  # recorded only when asked for: older study.yaml files stay valid
            settings["strategies"] = list(strategies)
        run.check_settings(settings, ignore=("proxy.seeds", "max_phi", "proxy.tensorboard",
                                                   "proxy.trial_timeout"))
        data = load_proxy_data(proxy)
        base = proxy_spec(recorded_base, proxy, data.num_classes, data.channels)
        members = [(c, candidate_spec(base, c, match_flops=match, factor=factor), f"{c.kind}-phi{c.phi:g}")
                   for c in study_candidates(coefs, factor, max_phi, strategies)]
        members, same, partial = _trained_once(members, observer, coefs)
        for _, spec, _ in members:
            if isinstance(spec, FactorySpec):
                measure_before_training(spec, recorded_base)
        trials = [dataclasses.replace(t, aliases=tuple(k for k, phis in partial.items() if t.candidate.phi in phis))
                  if t.candidate.kind == "compound" else t
                  for t in make_trials(base, members, proxy, first_seed=FIRST_SEED)]
        if note := upsampling_note(trials, data.image_size):
            observer.message(note)
        targets = forecast_targets(base, coefs, factor, match, max_phi, forecast,
                                   tuple(s for s in strategies if s not in same))
        ran, failed = run_plan(run, trials, settings, executor, observer, limit=limit, label="study",
                               attempts=attempts, data=data)
        report_failures(run, attempts, observer)
        return StudyOutcome(csv=run.csv, ran=ran, failed=failed, targets=targets, native=data.image_size,
                            same=same)
    finally:
        run.unlock()


def _described(coefs: Coefs) -> str:
    return "; ".join(f"{'up' if sign > 0 else 'down'} {a:g}, {b:g}, {g:g}" if len(coefs) > 1 else f"{a:g}, {b:g}, {g:g}"
                     for sign, (a, b, g) in sorted(coefs.items(), reverse=True))
