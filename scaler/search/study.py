"""`scaler study`'s trials: phi = 0..K of the fitted compound family and of the single-dimension (or other
pycls-style) strategies, with the grid's proxy and training settings, run by the same driver."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.arch.flops import complexity
from scaler.coefficients import read_coefficients
from scaler.config import ProxyConfig
from scaler.errors import ScalerError
from scaler.results import COLUMNS, RunDir, read_run_yaml
from scaler.search.executors.base import Executor
from scaler.search.plan import (
    BASE,
    Candidate,
    candidate_spec,
    make_trials,
    measure_before_training,
    network_identity,
    proxy_spec,
    strategy_candidate,
    upsampling_note,
)
from scaler.search.runner import Observer, run_plan
from scaler.search.trial import load_proxy_data
from scaler.spec import FactorySpec, NetSpec, parse_spec, spec_data

DEFAULT_STRATEGIES = ("compound", "width", "depth", "resolution")  # the paper's Figure 8
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


@dataclass
class StudyOutcome:
    csv: Path
    ran: int
    failed: int
    # phi = K+1..K+N of every trained strategy, to forecast: (strategy, phi, real FLOPs, input size)
    targets: list[tuple[str, float, int, int]] = field(default_factory=list)
    native: int = 0  # the data's own image size
    same: list[str] = field(default_factory=list)  # strategies trained as compound: the very same networks


def study_candidates(coefficients: tuple[float, float, float], factor: float, max_phi: int,
                     strategies: tuple[str, ...] = DEFAULT_STRATEGIES) -> list[Candidate]:
    """The shared base, then phi = 1..max_phi of every strategy (``compound``: the given coefficients)."""
    out = [BASE]
    for phi in range(1, max_phi + 1):
        for strategy in strategies:
            if strategy == "compound":
                out.append(Candidate("compound", *coefficients, float(phi)))
            else:
                out.append(strategy_candidate(strategy, factor, float(phi)))
    return out


def same_as_compound(members: list[tuple[Candidate, NetSpec, str]]) -> list[str]:
    """Strategies whose network at every phi is the compound family's (e.g. resolution-only when the grid chose
    (1, 1, 1.414)): training them again would repeat the compound trials seed for seed."""
    by_kind: dict[str, dict[float, str]] = {}
    for c, spec, _ in members:
        if c.kind != BASE.kind:
            by_kind.setdefault(c.kind, {})[c.phi] = network_identity(spec)
    compound = by_kind.get("compound")
    return [k for k, nets in by_kind.items() if compound and k != "compound" and nets == compound]


def forecast_targets(base: NetSpec, coefficients: tuple[float, float, float], factor: float, match: bool,
                     max_phi: int, ahead: int, strategies: tuple[str, ...]) -> list[tuple[str, float, int, int]]:
    """phi = max_phi + 1..max_phi + ahead of every strategy, as the study would build them, with real FLOPs."""
    out = []
    for c in study_candidates(coefficients, factor, max_phi + ahead, strategies):
        if c.phi > max_phi:
            spec = candidate_spec(base, c, match_flops=match, factor=factor)
            out.append((c.kind, c.phi, complexity(spec).flops, spec.resolution))
    return out


def run_study(grid_dir: str | Path, executor: Executor, observer: Observer, *, max_phi: int = 3,
              overrides: dict[str, Any] | None = None, strategies: tuple[str, ...] = DEFAULT_STRATEGIES,
              limit: int | None = None, forecast: int = 0) -> StudyOutcome:
    """Train phi = 0..max_phi of every strategy with the grid's proxy settings, on seeds disjoint from the grid's
    (2 per network unless ``overrides`` say otherwise); write ``study.csv``. ``forecast``: also plan (not train)
    phi = max_phi + 1..max_phi + forecast, the targets of the outcome."""
    grid_dir = check_grid_dir(grid_dir)
    strategies = tuple(dict.fromkeys(strategies))  # a strategy named twice is trained once
    recorded = read_run_yaml(grid_dir / "run.yaml")["settings"]
    coef = read_coefficients(grid_dir / "coefficients.yaml")
    proxy = ProxyConfig.model_validate({**(recorded.get("proxy") or {}), "seeds": STUDY_SEEDS, **(overrides or {})})
    search = recorded.get("search") or {}
    factor, match = float(search.get("flops_factor", 2.0)), bool(search.get("match_flops", False))
    run = RunDir(grid_dir, csv_name="study.csv", settings_name="study.yaml", columns=STUDY_COLUMNS,
                 start_over="move study.csv and study.yaml aside to start the study over")
    recorded_base = parse_spec(recorded["base"], grid_dir)
    if isinstance(recorded_base, FactorySpec):
        recorded_base = recorded_base.located(None, where=str(grid_dir / "run.yaml"))
    run.lock()
    try:
        settings = {"max_phi": max_phi, "flops_factor": factor, "match_flops": match, "first_seed": FIRST_SEED,
                    "coefficients": {"alpha": coef.alpha, "beta": coef.beta, "gamma": coef.gamma},
                    "proxy": proxy.model_dump(mode="json"), "base": spec_data(recorded_base, grid_dir)}
        if strategies != DEFAULT_STRATEGIES:  # recorded only when asked for: older study.yaml files stay valid
            settings["strategies"] = list(strategies)
        run.check_settings(settings, ignore=("proxy.seeds", "max_phi"))
        data = load_proxy_data(proxy)
        base = proxy_spec(recorded_base, proxy, data.num_classes, data.channels)
        cands = study_candidates((coef.alpha, coef.beta, coef.gamma), factor, max_phi, strategies)
        members = [(c, candidate_spec(base, c, match_flops=match, factor=factor), f"{c.kind}-phi{c.phi:g}")
                   for c in cands]
        if same := same_as_compound(members):
            observer.message(f"note: {', '.join(same)} scaling builds the very networks of the compound family "
                             f"{coef.alpha:g}, {coef.beta:g}, {coef.gamma:g} at every phi: trained once, as compound")
            members = [m for m in members if m[0].kind not in same]
        for _, spec, _ in members:
            if isinstance(spec, FactorySpec):
                measure_before_training(spec, recorded_base)
        trials = make_trials(base, members, proxy, first_seed=FIRST_SEED)
        if note := upsampling_note(trials, data.image_size):
            observer.message(note)
        targets = forecast_targets(base, (coef.alpha, coef.beta, coef.gamma), factor, match, max_phi, forecast,
                                   tuple(s for s in strategies if s not in same))
        ran, failed = run_plan(run, trials, settings, executor, observer, limit=limit, label="study")
        return StudyOutcome(csv=run.csv, ran=ran, failed=failed, targets=targets, native=data.image_size,
                            same=same)
    finally:
        run.unlock()
