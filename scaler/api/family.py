"""``scaler.emit``: the scaled family of a base as specs, from coefficients searched upward, downward or both."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scaler.coefficients import Coefficients, by_direction, for_phi, read_coefficients
from scaler.spec import NetSpec


def emit(coefficients: Coefficients | str | Path | Sequence[Coefficients | str | Path], phi: float | Iterable[float],
         spec: NetSpec | str | Path | None = None) -> list[NetSpec]:
    """The members at each ``phi`` of the family of ``coefficients`` (a set or a coefficients.yaml, or one of each
    direction), as specs with exact rounding. Below 0 the downward set scales, or the upward one in reverse (TinyNet
    found that questionable); growing with a downward set only is refused. ``spec``: another base than the one
    the coefficients were searched on (a spec, a YAML file or a preset name)."""
    from scaler.catalog import load_spec
    from scaler.scaling import compound

    given = [coefficients] if isinstance(coefficients, Coefficients | str | Path) else list(coefficients)
    sets = by_direction([c if isinstance(c, Coefficients) else read_coefficients(c) for c in given])
    first = next(iter(sets.values()))
    base = first.base if spec is None else spec if isinstance(spec, NetSpec) else load_spec(spec)
    phis = [float(phi)] if isinstance(phi, int | float) else [float(p) for p in phi]
    members = []
    for p in phis:
        c = for_phi(sets, p)[0] if p else first
        members.append(compound(base, c.alpha, c.beta, c.gamma, p))
    return members


def study_accuracy(grid_dir: Path, coefficients: tuple[float, float, float],
                   down: tuple[float, float, float] | None = None) -> dict[float, dict[str, Any]]:
    """The study's proxy accuracy of this family by phi, measured or forecast
    (:func:`scaler.analysis.study_forecast.family_accuracy`)."""
    from scaler.analysis.study_forecast import family_accuracy

    return family_accuracy(grid_dir, coefficients, down)
