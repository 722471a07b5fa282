"""``scaler emit --max-latency-ms``: keep the family's members that run within a latency budget on this machine,
from a ``scaler bench`` CSV or, without one, measured here (PyTorch eager, batch 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.latencies import read_latencies

MEASURE_SECONDS = 0.5  # per member, when emit measures (scaler bench defaults to 1 s)


def within_budget(members: list[Any], max_ms: float, latencies: Path | None, runtime: str) -> tuple[list[Any], str]:
    """(the members whose batch-1 latency is at most ``max_ms``, a note on what fits). Every member needs a
    latency: a bench CSV that lacks one is an error naming it."""
    from scaler.arch.flops import complexity

    costs = {m.name: complexity(m) for m in members}  # a member that cannot be built fails here, in one line
    if len(costs) < len(members):
        raise ScalerError("--max-latency-ms: two members share a name (a phi given twice?)")
    measured = _read(members, costs, latencies, runtime) if latencies else _measure(members)
    source = f"{latencies} ({runtime}, batch 1)" if latencies else "measured here (eager, batch 1)"
    kept = [m for m in members if measured[m.name] <= max_ms]
    if not kept:
        fastest = min(members, key=lambda m: measured[m.name])
        raise ScalerError(f"--max-latency-ms {max_ms:g}: no member fits; the fastest, {fastest.name}, takes "
                          f"{measured[fastest.name]:.3g} ms ({source})")
    best = max(kept, key=lambda m: (_phi(m), measured[m.name]))
    over = [f"{m.name} {measured[m.name]:.3g} ms" for m in members if m not in kept]
    note = (f"latency budget {max_ms:g} ms ({source}): the largest member that fits is {best.name}"
            f"{f' (phi {_phi(best):g})' if best.derived and best.derived.phi is not None else ''}, "
            f"{measured[best.name]:.3g} ms; {len(kept)} of {len(members)} written"
            + (f"; over the budget, not written: {', '.join(over)}" if over else ""))
    return kept, note


def _read(members: list[Any], costs: dict[str, Any], path: Path, runtime: str) -> dict[str, float]:
    """The CSV's latencies of the members; a row of another network under the same name (other coefficients,
    another input size) is refused: its latency would not be this member's."""
    found = read_latencies(path, runtime=runtime, batch=1)
    missing = [m.name for m in members if m.name not in found]
    if missing:
        raise ScalerError(f"no {runtime} batch-1 latency for {', '.join(missing)}: bench the emitted specs first "
                          "(scaler emit ... --out DIR, then scaler bench DIR/*.yaml --out FILE)", where=path)
    for m in members:
        line, flops, resolution = found[m.name].line, found[m.name].flops, found[m.name].resolution
        c = costs[m.name]
        if (flops, resolution) != (None, None) and (flops, resolution) != (c.flops, c.resolution):
            raise ScalerError(f"{m.name} here is {c.flops:,} FLOPs at {c.resolution} px, but the row benched "
                              f"{flops:,} FLOPs at {resolution} px: bench this family again", where=f"{path}:{line}")
    return {name: row.median_ms for name, row in found.items()}


def _measure(members: list[Any]) -> dict[str, float]:
    """Batch-1 eager latency of every member on this machine (loads torch: imported here only, pyproject.toml)."""
    from scaler.train.bench import batch1_latency

    return {m.name: batch1_latency(m, min_seconds=MEASURE_SECONDS) for m in members}


def _phi(member: Any) -> float:
    d = member.derived
    return d.phi if d is not None and d.phi is not None else 0.0
