"""``scaler.emit``: the scaled family of a base as specs, from coefficients searched upward, downward or both."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.coefficients import REVERSED_WARNING, Coefficients, by_direction, for_phi, read_coefficients
from scaler.errors import ScalerError
from scaler.spec import NetSpec

__all__ = ["REVERSED_WARNING", "Emission", "Family", "coefficient_family", "emit", "given_family",
           "newest_coefficients", "preset_member", "recorded_family", "scaled_member", "study_accuracy"]

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


@dataclass(frozen=True)
class Emission:
    """What ``scaler emit`` writes, from any of its modes: the members, the base they are costed against, a note
    for the reader (which set scaled which phi, intervals, warnings), and per phi the study's proxy accuracy and the
    direction of the set that scaled it (recorded coefficients only). ``read``: the coefficient files it read."""

    members: list[NetSpec]
    base: NetSpec
    note: str = ""
    proxy: dict[float, dict[str, Any]] = field(default_factory=dict)
    directions: dict[float, str] = field(default_factory=dict)
    read: tuple[Path, ...] = ()


def preset_member(name: str) -> Emission:
    """A published model's spec as it is (``--preset``)."""
    from scaler.catalog import preset

    spec = preset(name)
    return Emission([spec], spec)


def scaled_member(base: NetSpec | str | Path, *, width: float | None = None, depth: float | None = None,
                  resolution: float | None = None, name: str | None = None) -> Emission:
    """The base under explicit multipliers (``--width/--depth/--resolution``; 1 where not given)."""
    from scaler.catalog import load_spec
    from scaler.scaling import scale

    spec = base if isinstance(base, NetSpec) else load_spec(base)
    member = scale(spec, **{k: 1.0 if v is None else v for k, v in
                            (("width", width), ("depth", depth), ("resolution", resolution))},
                   name=name or f"{spec.name}-scaled")
    return Emission([member], spec)


def given_family(base: NetSpec | str | Path, coefficients: tuple[float, float, float], phis: Sequence[float],
                 name: str | None = None) -> Emission:
    """The members at ``phis`` of given (alpha, beta, gamma) (``--alpha/--beta/--gamma``); ``name``: of the one
    member."""
    from scaler.catalog import load_spec
    from scaler.scaling import family

    if min(coefficients) <= 0:
        raise ScalerError("--alpha, --beta and --gamma must be positive")
    spec = base if isinstance(base, NetSpec) else load_spec(base)
    return Emission(_named(family(spec, *coefficients, list(phis)), name), spec)


def recorded_family(paths: Sequence[str | Path], phis: Sequence[float], base: str | Path | None = None,
                    name: str | None = None) -> Emission:
    """The family from coefficient files (none given: the newest under results/): per member the set of its
    direction, said in the note; and, without another ``base``, the upward set's study accuracy by phi."""
    files = [Path(p) for p in paths] or [newest_coefficients()]
    phis = list(phis)
    fam = coefficient_family(files, phis, base)
    lines = [f"coefficients from {files[0]} (newest under results/)"] if not paths else []
    lines += [f"{c.path} ({d}ward, searched at phi {c.phi:g}): {c.describe_interval()}" for d, c in fam.sets.items()]
    used: dict[str, list[str]] = {}
    for phi, how in zip(phis, fam.directions, strict=True):
        if phi:
            used.setdefault(how, []).append(f"{phi:g}")
    if len(used) > 1 or "up, reversed" in used:
        lines += [f"phi {', '.join(v)}: the {k} set" for k, v in used.items()]
    if "up, reversed" in used:
        lines.append(REVERSED_WARNING)
    proxy, proxy_note = ({}, "")
    if not base and "up" in fam.sets:
        up, down = fam.sets["up"], fam.sets.get("down")
        proxy, proxy_note = _study_note(Path(up.path or ".").parent, (up.alpha, up.beta, up.gamma),
                                        (down.alpha, down.beta, down.gamma) if down else None)
    return Emission(_named(fam.members, name), fam.base, "\n".join(lines) + proxy_note, proxy,
                    dict(zip(phis, fam.directions, strict=True)), tuple(files))


def _named(members: list[NetSpec], name: str | None) -> list[NetSpec]:
    """The one member renamed ``name`` (``--name``); more than one member cannot share it."""
    if not name:
        return members
    if len(members) > 1:
        raise ScalerError("--name names a single member; drop it or give one phi")
    return [members[0].model_copy(update={"name": name})]


def _study_note(grid_dir: Path, coefs: tuple[float, float, float], down: tuple[float, float, float] | None
                ) -> tuple[dict[float, dict[str, Any]], str]:
    """The proxy accuracy of the study beside the coefficients, by phi (below the base when it studied the
    downward set ``down`` too), and the note that explains the column. A study file that cannot be read leaves
    the column out with a warning: the specs are still written."""
    try:
        proxy = study_accuracy(grid_dir, coefs, down)
    except ScalerError as e:
        return {}, f"\nwarning: no proxy accuracy column: {e}"
    if not proxy:
        return {}, ""
    return proxy, (f"\nproxy acc.: the study in {grid_dir}/ (its short-trained proxy, not this network): "
                   "measured (m) at the phi it trained, forecast beyond with its interval of the mean")
