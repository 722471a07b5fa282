"""The coefficients file (``coefficients.yaml``): what `scaler grid` / `scaler fit` write and `scaler emit` and
`scaler study` read -- alpha, beta, gamma and the full base spec they apply to. No torch."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.spec import Document, NetSpec, read_yaml, spec_data, spec_from_document


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
    data: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole file, every field checked

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
    """Read ``coefficients.yaml``: alpha, beta, gamma, and the full base spec they apply to. Every field emit, study,
    plot and report read is checked here: a wrong one is one line naming the file, its line and column."""
    doc = read_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with alpha, beta, gamma and base")
    values: dict[str, float] = {}
    for key in ("alpha", "beta", "gamma"):
        v = data.get(key)
        if not _positive(v):
            raise doc.error((key,), "required positive number" if v is None else f"must be a positive number, "
                            f"got {_shown(v)}")
        values[key] = float(v)
    base = data.get("base")
    if not isinstance(base, dict) or not isinstance(base.get("spec"), dict):
        raise doc.error(("base",), "required: base.spec, the full base spec the coefficients apply to")
    spec = spec_from_document(doc.section(("base", "spec")))
    phi = data.get("phi", 1.0)
    if not _finite(phi) or phi == 0:
        raise doc.error(("phi",), f"must be the nonzero phi the grid searched at, got {_shown(phi)}")
    _check_fields(doc)
    source = str(data.get("source") or "")
    boot, best = data.get("bootstrap") or {}, data.get("best") or {}
    # The bootstrap refits the nominal surface only: a real-form fit has no interval.
    fitted_real = source == "fit" and data.get("form") == "real"
    interval = None if fitted_real else boot.get("fit_interval" if source == "fit" else "winner_interval")
    wins = (boot.get("wins") or {}).get(best.get("candidate"), 0.0) if interval and source != "fit" else None
    selection, objective = data.get("selection") or {}, data.get("objective") or {}
    return Coefficients(base=spec, source=source, interval=interval or None, wins=None if wins is None else float(wins),
                        phi=float(phi), path=Path(path), candidate=best.get("candidate"),
                        tie_set=tuple(selection.get("tie_set") or ()), objective=objective.get("name") or "accuracy",
                        data=data, **values)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v: Any) -> bool:
    return _finite(v) and v > 0


def _share(v: Any) -> bool:
    return _finite(v) and 0 <= v <= 1


def _pair(v: Any, of: Callable[[Any], bool] = _finite) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(map(of, v)) and v[0] <= v[1]


def _comparison(v: Any) -> bool:
    return isinstance(v, dict) and _finite(v.get("difference")) and _pair(v.get("interval")) and _share(v.get("p"))


def _surface_fit(v: Any) -> bool:
    """The quadratic fit's record: ``ok``, and when ok its optimum and the 6 coefficients of its surface."""
    if not isinstance(v, dict) or not isinstance(v.get("ok", False), bool):
        return False
    surface = v.get("surface")
    return not v.get("ok") or (all(_positive(v.get(k)) for k in COEFFICIENTS) and isinstance(surface, list)
                               and len(surface) == SURFACE_TERMS and all(map(_finite, surface)))


COEFFICIENTS = ("alpha", "beta", "gamma")
SURFACE_TERMS = 6  # a full quadratic in (log beta, log gamma): 1, u, v, u², uv, v²
# What each optional field of a coefficients file must be where it is given (absent or null: not recorded), parents
# before their fields: (test, what the message says it must be).
FIELDS: dict[tuple[str, ...], tuple[Callable[[Any], bool], str]] = {
    **{(k,): (lambda v: isinstance(v, str), "text") for k in ("source", "form", "selected_on", "partial")},
    ("flops_factor",): (_positive, "a positive number"),
    **{(k,): (lambda v: isinstance(v, dict), "a mapping") for k in ("objective", "best", "selection", "bootstrap")},
    ("fit",): (_surface_fit, "a mapping with ok (true or false); when ok, alpha, beta, gamma (positive numbers) and "
               "surface (6 numbers)"),
    ("objective", "name"): (lambda v: isinstance(v, str), "text"),
    **{("best", k): (lambda v: isinstance(v, str), "text") for k in ("candidate", "aliases")},
    **{("best", k): (_share, "a number between 0 and 1") for k in ("accuracy", "accuracy_std", "test_accuracy")},
    ("best", "seeds"): (lambda v: _positive(v) and isinstance(v, int), "a positive whole number"),
    ("best", "flops_ratio"): (lambda v: _positive(v) or v != v, "a positive number (.nan: rows without one)"),
    **{("best", k): (_positive, "a positive number") for k in COEFFICIENTS},
    ("selection", "alpha"): (lambda v: _share(v) and 0 < v < 1, "a number between 0 and 1"),
    **{("selection", k): (lambda v: isinstance(v, str), "text") for k in ("chosen", "rule")},
    ("selection", "tie_set"): (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                               "a list of candidate names"),
    ("selection", "noise"): (lambda v: isinstance(v, dict) and _share(v.get("seed_std")) and _positive(v.get("df")),
                             "a mapping with seed_std (a number between 0 and 1) and df (a positive number)"),
    ("selection", "comparisons"): (lambda v: isinstance(v, list) and all(
        _comparison(c) and isinstance(c.get("candidate"), str) and isinstance(c.get("kind"), str) for c in v),
        "a list of comparisons, each with candidate, kind, difference, interval [low, high] and p"),
    ("bootstrap", "level"): (lambda v: _share(v) and 0 < v < 1, "a number between 0 and 1"),
    ("bootstrap", "wins"): (lambda v: isinstance(v, dict) and all(isinstance(k, str) and _share(x)
                                                                  for k, x in v.items()),
                            "a mapping of candidate names to shares between 0 and 1"),
    **{("bootstrap", k): (lambda v: isinstance(v, dict) and all(_pair(v.get(c), _positive) for c in COEFFICIENTS),
                          "a mapping of alpha, beta and gamma to [low, high] positive numbers")
       for k in ("winner_interval", "fit_interval")},
    ("compound_vs_best_single",): (_comparison, "a mapping with difference, interval [low, high] and p"),
}


def _check_fields(doc: Document) -> None:
    """Each field of :data:`FIELDS` the file gives is what it must be, else one located line."""
    for loc, (test, what) in FIELDS.items():
        parent: Any = doc.data
        for part in loc[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        value = parent.get(loc[-1]) if isinstance(parent, dict) else None
        if value is not None and not test(value):
            raise doc.error(loc, f"must be {what}, got {_shown(value)}")


def _shown(value: Any) -> str:
    """A value as the message quotes it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
