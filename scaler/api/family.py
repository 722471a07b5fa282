"""``scaler.emit``: the scaled family of a base as specs, from coefficients searched upward, downward or both."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler.coefficients import REVERSED_WARNING, Coefficients, by_direction, for_phi, read_coefficients
from scaler.errors import ScalerError
from scaler.spec import NetSpec

__all__ = ["REVERSED_WARNING", "Family", "coefficient_family", "emit", "newest_coefficients", "study_accuracy"]

CoefficientsLike = Coefficients | str | Path


@dataclass(frozen=True)
class Family:
    """A family from recorded coefficients: its base, the members in the order asked, and per member the set
    that scaled it (``up``, ``down``, ``up, reversed`` below 0 without a downward set, ``base`` at phi 0)."""

    base: NetSpec
    members: list[NetSpec]
    directions: list[str]
    sets: dict[str, Coefficients]  # by direction, each with the file it came from


def coefficient_family(coefficients: CoefficientsLike | Sequence[CoefficientsLike], phi: float | Iterable[float],
                       spec: NetSpec | str | Path | None = None) -> Family:
    """The members at each ``phi`` of the family of ``coefficients`` (a set or a coefficients.yaml, or one of each
    direction). Below 0 the downward set scales, or the upward one in reverse (TinyNet found that questionable);
    growing with a downward set only is refused. ``spec``: another base than the one the coefficients were
    searched on (a spec, a YAML file or a preset name)."""
    from scaler.catalog import load_spec
    from scaler.scaling import compound

    given = [coefficients] if isinstance(coefficients, CoefficientsLike) else list(coefficients)
    sets = by_direction([c if isinstance(c, Coefficients) else read_coefficients(c) for c in given])
    first = next(iter(sets.values()))
    base = first.base if spec is None else spec if isinstance(spec, NetSpec) else load_spec(spec)
    phis = [float(phi)] if isinstance(phi, int | float) else [float(p) for p in phi]
    members, directions = [], []
    for p in phis:
        c, how = for_phi(sets, p) if p else (first, "base")
        try:
            members.append(compound(base, c.alpha, c.beta, c.gamma, p))
        except ScalerError as e:  # a limit the file's coefficients reach at this phi: name the file
            raise ScalerError(e.message, where=e.where or c.path) from None
        directions.append(how)
    return Family(base, members, directions, sets)


def emit(coefficients: CoefficientsLike | Sequence[CoefficientsLike], phi: float | Iterable[float],
         spec: NetSpec | str | Path | None = None) -> list[NetSpec]:
    """The members at each ``phi``, as specs with exact rounding (:func:`coefficient_family`)."""
    return coefficient_family(coefficients, phi, spec).members


def newest_coefficients(root: str | Path = "results") -> Path:
    """The coefficients file written last under ``root/*/`` (what ``scaler emit --phi`` uses without a file)."""
    found = sorted(Path(root).glob("*/coefficients.yaml"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ScalerError("--phi needs coefficients: run `scaler grid BASE.yaml` (it writes "
                          "results/<name>/coefficients.yaml), or pass --coefficients FILE, or "
                          "--alpha A --beta B --gamma G --base SPEC (the paper's: 1.2 1.1 1.15)")
    return found[-1]


def study_accuracy(grid_dir: Path, coefficients: tuple[float, float, float],
                   down: tuple[float, float, float] | None = None) -> dict[float, dict[str, Any]]:
    """The study's proxy accuracy of this family by phi, measured or forecast
    (:func:`scaler.analysis.study_forecast.family_accuracy`)."""
    from scaler.analysis.study_forecast import family_accuracy

    return family_accuracy(grid_dir, coefficients, down)
