"""The coefficients file (``coefficients.yaml``): what `scaler grid` / `scaler fit` write and `scaler emit` and
`scaler study` read -- alpha, beta, gamma and the full base spec they apply to. No torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.spec import NetSpec, read_yaml, spec_data, spec_from_document


@dataclass
class Coefficients:
    alpha: float
    beta: float
    gamma: float
    base: NetSpec = field(repr=False)
    source: str = ""
    interval: dict[str, list[float]] | None = None  # the bootstrap's 95% interval of the winner's, if recorded
    wins: float | None = None  # the chosen candidate's share of bootstrap wins
    phi: float = 1.0  # the phi its grid searched at: below 0 they were measured shrinking the base
    path: Path | None = field(default=None, repr=False)  # the file they were read from
    candidate: str | None = None  # the chosen candidate's name (a1.000-b1.000-g1.414, or a baseline's kind)
    tie_set: tuple[str, ...] = ()  # the candidates not separable from the best (Hsu's MCB on the seed noise)
    objective: str = "accuracy"  # what "best" meant

    @property
    def direction(self) -> str:
        """``down`` when searched below the base (phi < 0), else ``up``."""
        return "down" if self.phi < 0 else "up"

    def describe_interval(self) -> str:
        """One line: the coefficients with the bootstrap interval of the winner's, or why there is none."""
        if not self.interval:
            return "no bootstrap interval recorded for these coefficients"
        share = "" if self.wins is None else f"; the chosen candidate wins {self.wins:.0%} of the resamples"
        return "95% bootstrap interval of the winner: " + ", ".join(
            f"{k} {getattr(self, k):.3f} ({lo:.3f}..{hi:.3f})" for k, (lo, hi) in self.interval.items()) + share


def read_coefficients(path: str | Path) -> Coefficients:
    """Read ``coefficients.yaml``: alpha, beta, gamma, and the full base spec they apply to."""
    doc = read_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with alpha, beta, gamma and base")
    values: dict[str, float] = {}
    for key in ("alpha", "beta", "gamma"):
        v = data.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            raise doc.error((key,), "required positive number" if v is None else f"must be a positive number, "
                            f"got {v!r}")
        values[key] = float(v)
    base = data.get("base")
    if not isinstance(base, dict) or not isinstance(base.get("spec"), dict):
        raise doc.error(("base",), "required: base.spec, the full base spec the coefficients apply to")
    spec = spec_from_document(doc.section(("base", "spec")))
    source = str(data.get("source", ""))
    boot = data.get("bootstrap") if isinstance(data.get("bootstrap"), dict) else {}
    # The bootstrap refits the nominal surface only: a real-form fit has no interval.
    fitted_real = source == "fit" and data.get("form") == "real"
    interval = None if fitted_real else boot.get("fit_interval" if source == "fit" else "winner_interval")
    valid = isinstance(interval, dict) and all(
        isinstance(interval.get(k), list) and len(interval[k]) == 2 for k in ("alpha", "beta", "gamma"))
    best = data.get("best") if isinstance(data.get("best"), dict) else {}
    wins = (boot.get("wins") or {}).get(best.get("candidate"), 0.0) if valid and source != "fit" else None
    phi = data.get("phi", 1.0)
    if isinstance(phi, bool) or not isinstance(phi, int | float) or phi == 0:
        raise doc.error(("phi",), f"must be the nonzero phi the grid searched at, got {phi!r}")
    selection = data.get("selection") if isinstance(data.get("selection"), dict) else {}
    objective = data.get("objective") if isinstance(data.get("objective"), dict) else {}
    return Coefficients(base=spec, source=source, interval=interval if valid else None,
                        wins=None if wins is None else float(wins), phi=float(phi), path=Path(path),
                        candidate=best.get("candidate"), tie_set=tuple(map(str, selection.get("tie_set") or ())),
                        objective=str(objective.get("name", "accuracy")), **values)


REVERSED_WARNING = ("warning: phi < 0 with coefficients searched upward: they are applied in reverse, but TinyNet "
                    "(Han et al., 2020) found that small models should shrink resolution and depth less than width; "
                    "search downward (scaler grid BASE --phi -1) and give both files to measure it")


def by_direction(sets: list[Coefficients]) -> dict[str, Coefficients]:
    """The coefficient sets of one family by direction (one upward, one downward, for the same base)."""
    out: dict[str, Coefficients] = {}
    for c in sets:
        if c.direction in out:
            raise ScalerError(f"two coefficient files search {c.direction}ward ({out[c.direction].path}, {c.path}): "
                              "give one per direction")
        out[c.direction] = c
    if len(out) == 2 and out["up"].base.model_dump(exclude={"name"}) != out["down"].base.model_dump(exclude={"name"}):
        raise ScalerError(f"{out['up'].path} and {out['down'].path} scale different base networks: a family has one")
    return out


def for_phi(sets: dict[str, Coefficients], phi: float) -> tuple[Coefficients, str]:
    """The set that scales to ``phi`` and how it was used: ``up``, ``down`` or ``up, reversed`` (phi < 0
    without a downward search). Growing with only a downward search is refused: nothing measured it."""
    if phi < 0 and "down" in sets:
        return sets["down"], "down"
    if phi < 0:
        return sets["up"], "up, reversed"
    if "up" not in sets:
        down = sets["down"]
        raise ScalerError(f"phi {phi:g} grows the base, but {down.path} was searched downward (phi {down.phi:g}): "
                          "search upward too (scaler grid BASE --phi 1) and give both files", where=None)
    return sets["up"], "up"



def coefficients_document(alpha: float, beta: float, gamma: float, base: NetSpec, folder: str | Path | None = None,
                          **extra: Any) -> dict[str, Any]:
    """The data of a coefficients file (written in ``folder``: a factory's path is relative to it)."""
    return {"alpha": round(alpha, 6), "beta": round(beta, 6), "gamma": round(gamma, 6), **extra,
            "base": {"name": base.name, "spec": spec_data(base, folder)}}
