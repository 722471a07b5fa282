"""What fitting a grid yields, typed: :class:`FitOutcome` (the coefficients emit uses, the choice and its evidence,
the smooth fits, the baselines) and its parts. ``to_dict()`` is the coefficients file's content, field for field and
in its order; the CLI prints the object, ``coefficients.yaml`` serializes it. No torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.coefficients import Coefficients, coefficients_document
from scaler.evidence.selection import Selection
from scaler.spec import NetSpec

COEFFICIENTS = ("alpha", "beta", "gamma")


@dataclass(frozen=True)
class Multipliers:
    """Alpha, beta, gamma: asked for, measured after rounding, or put back on the constraint."""

    alpha: float
    beta: float
    gamma: float

    def to_dict(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}


@dataclass(frozen=True)
class Objective:
    """What "best" meant (:func:`scaler.analysis.score.add_score`): its name, exponents and what it was scaled by."""

    name: str
    w: float | None = None
    v: float | None = None
    target_flops: int | None = None
    base_train_step_ms: float | None = None
    base_params: int | None = None
    budget_ms: float | None = None
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _present(self, ("name", "w", "v", "target_flops", "base_train_step_ms", "base_params", "budget_ms",
                               "device"))


@dataclass(frozen=True)
class Measured:
    """A network's validation accuracy (mean over its seeds), its seed count and its test accuracy (if recorded)."""

    accuracy: float
    seeds: int
    test_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _present(self, ("accuracy", "seeds", "test_accuracy"))


@dataclass(frozen=True)
class Candidate:
    """The chosen network: its nominal coefficients, what it measured, its cost, the other candidates that are the
    same network, its real multipliers per unit of phi and those put back on the constraint (the real form)."""

    candidate: str
    alpha: float
    beta: float
    gamma: float
    measured: Measured
    flops: int
    score: float | None = None  # only where it differs from the accuracy
    accuracy_std: float | None = None
    flops_ratio: float | None = None
    aliases: str | None = None
    real: Multipliers | None = None
    real_on_constraint: Multipliers | None = None

    @property
    def accuracy(self) -> float:
        return self.measured.accuracy

    @property
    def seeds(self) -> int:
        return self.measured.seeds

    @property
    def test_accuracy(self) -> float | None:
        return self.measured.test_accuracy

    def to_dict(self) -> dict[str, Any]:
        out = {"candidate": self.candidate, "alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
               **self.measured.to_dict(), "flops": self.flops,
               **_present(self, ("score", "accuracy_std", "flops_ratio", "aliases"))}
        for key in ("real", "real_on_constraint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.to_dict()
        return out


@dataclass(frozen=True)
class SurfaceFit:
    """A quadratic surface of the score and its optimum, or why it was not fitted (``ok`` False, ``reason``).
    ``usable``: whether emit may use it (else ``why_not``). ``surface``: the nominal fit's 6 coefficients;
    ``flops_exponents``: the real fit's power law of the real FLOPs ratio."""

    ok: bool
    reason: str | None = None
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    predicted_accuracy: float = 0.0
    r2: float = 0.0
    loo_r2: float | None = None
    points: int = 0
    on_boundary: bool = False
    usable: bool = False
    why_not: str | None = None
    surface: tuple[float, ...] | None = None
    flops_exponents: tuple[float, ...] | None = None

    @classmethod
    def failed(cls, reason: str) -> SurfaceFit:
        return cls(ok=False, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {"ok": False, "reason": self.reason}
        out = {"ok": True, **_present(self, COEFFICIENTS), "predicted_accuracy": self.predicted_accuracy,
               "r2": self.r2, "loo_r2": self.loo_r2, "points": self.points, "on_boundary": self.on_boundary,
               "usable": self.usable, **_present(self, ("why_not",))}
        for key in ("surface", "flops_exponents"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value)
        return out


@dataclass(frozen=True)
class Difference:
    """The best compound candidate against the best single-dimension baseline: the difference of their scores,
    its standard error, p-value and interval."""

    compound: str
    single: str
    difference: float
    se: float
    p: float
    interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"compound": self.compound, "single": self.single, "difference": self.difference, "se": self.se,
                "p": self.p, "interval": list(self.interval)}


@dataclass(frozen=True)
class RungAgreement:
    """Successive halving: Kendall's tau between one rung's ranking and the next one's, with its interval."""

    rungs: tuple[int, int]
    budgets: tuple[float, ...]
    candidates: int
    tau: float | None
    interval: tuple[float | None, float | None]
    trusted: bool

    @classmethod
    def of(cls, d: dict[str, Any]) -> RungAgreement:
        """From :func:`scaler.analysis.rungs.rung_agreement`'s record."""
        return cls(tuple(d["rungs"]), tuple(d["budgets"]), d["candidates"], d["tau"], tuple(d["interval"]),
                   d["trusted"])

    def to_dict(self) -> dict[str, Any]:
        return {"rungs": list(self.rungs), "budgets": list(self.budgets), "candidates": self.candidates,
                "tau": self.tau, "interval": list(self.interval), "trusted": self.trusted}


@dataclass(frozen=True)
class Bootstrap:
    """How often each candidate wins under the measured noise, and the intervals of the winner's coefficients and
    of the refitted surface's optimum (``fit_interval``, when the nominal surface was fitted)."""

    resamples: int
    level: float
    wins: dict[str, float]
    winner_interval: dict[str, tuple[float, float]]
    fit_interval: dict[str, tuple[float, float]] | None = None
    fit_resamples: int | None = None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Bootstrap:
        """From :func:`scaler.analysis.bootstrap.bootstrap`'s record."""
        def pairs(v: dict[str, list[float]] | None) -> dict[str, tuple[float, float]] | None:
            return None if v is None else {k: (lo, hi) for k, (lo, hi) in v.items()}

        return cls(d["resamples"], d["level"], dict(d["wins"]), pairs(d["winner_interval"]) or {},
                   pairs(d.get("fit_interval")), d.get("fit_resamples"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resamples": self.resamples, "level": self.level, "wins": dict(self.wins),
                               "winner_interval": _intervals(self.winner_interval)}
        if self.fit_interval is not None:
            out["fit_interval"] = _intervals(self.fit_interval)
            out["fit_resamples"] = self.fit_resamples
        return out


@dataclass(frozen=True)
class Written:
    """Where a fit came from and went: the split it ranked on, the results file, the base spec (and the path it
    was given as), and the coefficients file it wrote."""

    selected_on: str
    results: str
    base: NetSpec
    base_path: str | None
    path: Path


@dataclass(frozen=True)
class FitOutcome:
    """What fitting a grid yields: the coefficients emit uses (``alpha``, ``beta``, ``gamma``; from ``source``
    best | fit in ``form`` real | nominal), the choice and its evidence, the smooth fits, the baselines, the
    bootstrap. ``written``: the run and file of :func:`scaler.analysis.fit.fit_run` (None for a table fitted in
    memory)."""

    alpha: float
    beta: float
    gamma: float
    source: str
    form: str
    objective: Objective
    best: Candidate
    selection: Selection
    fit: SurfaceFit
    fit_real: SurfaceFit
    baselines: dict[str, Measured]
    phi: float
    flops_factor: float
    rungs: tuple[RungAgreement, ...] = ()
    partial: str | None = None
    compound_minus_best_single: float | None = None
    compound_vs_best_single: Difference | None = None
    fallback: str | None = None
    bootstrap: Bootstrap | None = None
    written: Written | None = field(default=None, repr=False)

    @property
    def path(self) -> Path | None:
        """The coefficients file written, if any."""
        return None if self.written is None else self.written.path

    @property
    def selected_on(self) -> str:
        """The split the candidates were ranked on (validation; older results: test)."""
        return "validation" if self.written is None else self.written.selected_on

    def to_dict(self) -> dict[str, Any]:
        """The coefficients file's content (``coefficients.yaml``), in its order."""
        out: dict[str, Any] = {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma, "source": self.source,
                               "form": self.form}
        if self.written is not None:
            out["selected_on"] = self.written.selected_on
        out |= {"objective": self.objective.to_dict(), "best": self.best.to_dict(),
                "selection": self.selection.to_dict()}
        if self.rungs:
            out["rungs"] = [r.to_dict() for r in self.rungs]
        out |= {**_present(self, ("partial",)), "fit": self.fit.to_dict(), "fit_real": self.fit_real.to_dict(),
                "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
                **_present(self, ("compound_minus_best_single",))}
        if self.compound_vs_best_single is not None:
            out["compound_vs_best_single"] = self.compound_vs_best_single.to_dict()
        out |= {**_present(self, ("fallback",)), "phi": self.phi, "flops_factor": self.flops_factor}
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict()
        if self.written is None:
            return out
        w = self.written
        return coefficients_document(out.pop("alpha"), out.pop("beta"), out.pop("gamma"), w.base, w.path.parent,
                                     **out, results=w.results, base_path=w.base_path)

    @property
    def coefficients(self) -> Coefficients:
        """The coefficients as :func:`scaler.coefficients.read_coefficients` reads them from the file written,
        without reading it back."""
        if self.written is None:
            raise ValueError("a fit in memory has no base spec: fit a run (fit_run) for its coefficients")
        boot = self.bootstrap
        fitted_real = self.source == "fit" and self.form == "real"
        chosen = None if boot is None or fitted_real else boot.fit_interval if self.source == "fit" else \
            boot.winner_interval
        interval = _intervals(chosen) if chosen else None
        wins = boot.wins.get(self.best.candidate, 0.0) if boot and interval and self.source != "fit" else None
        data = self.to_dict()
        return Coefficients(data["alpha"], data["beta"], data["gamma"], self.written.base, source=self.source,
                            interval=interval, wins=None if wins is None else float(wins), phi=float(self.phi),
                            path=self.written.path, candidate=self.best.candidate, tie_set=self.selection.tie_set,
                            objective=self.objective.name, data=data)


def _present(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields ``names`` of ``obj`` that are set (not None), in that order."""
    return {k: v for k in names if (v := getattr(obj, k)) is not None}


def _intervals(v: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    return {k: list(pair) for k, pair in v.items()}
