"""``scaler emit``: scaled network specs as YAML, one per member, with what each costs (no torch)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scaler.api import ScalerError
from scaler.cli.options import ACTIVATIONS_NOTE, FLOPS_NOTE, complete_preset, complete_spec, console, parse_phis

if TYPE_CHECKING:
    from scaler.api.family import Emission


@dataclass(frozen=True)
class _Request:
    preset: str | None
    base_path: str | None
    alpha: float | None
    beta: float | None
    gamma: float | None
    phi_text: str | None
    coef_path: tuple[Path, ...]
    width: float | None
    depth: float | None
    resolution: float | None
    name: str | None
    out_dir: Path
    as_json: bool
    export: str | None
    max_latency_ms: float | None
    latencies: Path | None
    latency_runtime: str

    @property
    def explicit(self) -> bool:
        return any(v is not None for v in (self.width, self.depth, self.resolution))

    @property
    def coefficients_given(self) -> list[bool]:
        return [v is not None for v in (self.alpha, self.beta, self.gamma)]


@click.command("emit")
@click.option("--preset", metavar="NAME", shell_complete=complete_preset,
              help="Write a published model's spec (efficientnet-b0..b8, -l2, "
              "efficientnetv2-s/m/l).")
@click.option("--base", "base_path", metavar="SPEC", shell_complete=complete_spec,
              help="Base spec to scale: a YAML file, a preset name or quickstart.")
@click.option("--alpha", type=float, help="Depth coefficient: depth = alpha^phi.")
@click.option("--beta", type=float, help="Width coefficient: width = beta^phi.")
@click.option("--gamma", type=float, help="Resolution coefficient: resolution = gamma^phi.")
@click.option("--phi", "phi_text", metavar="PHI", help="Compound coefficient: 4, a list 0,1,2 or a range 0..7.")
@click.option("--coefficients", "coef_path", type=click.Path(path_type=Path), metavar="FILE", multiple=True,
              help="coefficients.yaml written by `scaler grid` / `scaler fit` (alpha, beta, gamma and the base). "
              "Twice for a family in both directions: one searched upward (phi > 0), one downward (--phi -1); "
              "each member uses its direction's set.")
@click.option("--width", type=float, help="Explicit width multiplier instead of compound scaling.")
@click.option("--depth", type=float, help="Explicit depth multiplier instead of compound scaling.")
@click.option("--resolution", type=float, help="Explicit resolution multiplier (with --width/--depth).")
@click.option("--name", help="Name of the emitted spec (single member only).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("specs"), show_default=True,
              help="Directory the YAML specs are written to.")
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON instead of a table.")
@click.option("--export", type=click.Choice(["onnx", "pt2"]), help="Also export each member beside its YAML "
              "(OUT/<name>.onnx|.pt2) at its own resolution, checked against PyTorch (see scaler export).")
@click.option("--max-latency-ms", type=click.FloatRange(min=0, min_open=True), help="Write only the members "
              "whose batch-1 latency is at most this, and say which phi is the largest that fits.")
@click.option("--latencies", type=click.Path(path_type=Path), metavar="BENCH_CSV", help="Latencies for "
              "--max-latency-ms from `scaler bench` [default: measure each member here, eager, batch 1].")
@click.option("--latency-runtime", type=click.Choice(["eager", "onnxruntime"]), default="eager",
              show_default=True, help="Which runtime's figures of --latencies count.")
def command(**options: Any) -> None:
    """Write scaled network specs (YAML), one per member, and show what each costs.

    \b
    scaler emit --preset efficientnet-b4 --out specs/
    scaler emit --base specs/efficientnet-b0.yaml --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..4
    scaler emit --coefficients results/quickstart/coefficients.yaml --phi 0..4
    scaler emit --phi 4                      # newest results/*/coefficients.yaml
    scaler emit --base specs/quickstart.yaml --width 1.5 --depth 2
    scaler emit --base specs/quickstart.yaml --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..2 --export onnx
    scaler emit --base efficientnet-b0 --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..7 --max-latency-ms 50 \\
        --latencies bench.csv
    """
    req = _Request(**options)
    if req.name is not None:
        from scaler.api.specs import plain_name

        plain_name(req.name, "--name")
    if req.preset:
        emission = _preset(req)
    elif req.explicit:
        emission = _explicit(req)
    else:
        emission = _compound(req)
    members, note = emission.members, emission.note
    if req.latencies is not None and req.max_latency_ms is None:
        raise ScalerError("--latencies is read for --max-latency-ms; give the budget too")
    if req.max_latency_ms is not None:
        from scaler.api.budget import within_budget

        members, budget_note = within_budget(members, req.max_latency_ms, req.latencies, req.latency_runtime)
        note = "\n".join(filter(None, (note, budget_note)))
    read = [("the base spec", req.base_path), ("the latencies file", req.latencies),
            *(("the coefficients file", c) for c in emission.read)]  # none of them may be written over
    paths = _member_paths(members, req.out_dir, req.export, read)
    _write_members(members, emission.base, paths, req.out_dir, note, req.as_json, req.export, emission.proxy,
                   emission.directions)


def _member_paths(members: list[Any], out_dir: Path, export: str | None, read: list[tuple[str, Any]]
                  ) -> list[Path]:
    """Each member's YAML under ``out_dir``, checked before any file is written: inside ``out_dir`` (symlinks
    resolved), and neither it nor its ``--export`` file one this emit read."""
    from scaler.api.specs import contained, refuse_overwrite

    paths = [contained(out_dir, f"{m.name}.yaml") for m in members]
    exports = [contained(out_dir, f"{m.name}.{export}") for m in members] if export else []
    for path in (*paths, *exports):
        refuse_overwrite(path, read, "emit", "--out or --name")
    return paths


def _preset(req: _Request) -> Emission:
    from scaler.api.family import preset_member
    from scaler.api.specs import PRESETS

    if req.preset not in PRESETS:
        raise ScalerError(f"--preset: unknown preset {req.preset!r}; presets: {', '.join(PRESETS)}")
    if req.base_path or req.phi_text or req.explicit:
        raise ScalerError("--preset writes a published spec as is; do not combine it with --base, --phi or "
                          "multipliers")
    return preset_member(req.preset)


def _explicit(req: _Request) -> Emission:
    from scaler.api.family import scaled_member

    if req.phi_text or req.coef_path or any(req.coefficients_given):
        raise ScalerError("--width/--depth/--resolution apply explicit multipliers; do not combine them "
                          "with --phi, --alpha/--beta/--gamma or --coefficients")
    if not req.base_path:
        raise ScalerError("--width/--depth/--resolution need --base SPEC")
    return scaled_member(req.base_path, width=req.width, depth=req.depth, resolution=req.resolution, name=req.name)


def _compound(req: _Request) -> Emission:
    """The family of given or recorded coefficients (with, for recorded ones, the proxy accuracy of their
    grid's study by phi)."""
    from scaler.api.family import given_family, recorded_family

    if req.phi_text is None:
        raise ScalerError("nothing to emit: give --preset NAME, --phi with coefficients, or "
                          "--width/--depth with --base (see scaler emit --help)")
    phis = parse_phis(req.phi_text)
    given = req.coefficients_given
    if any(given) and not all(given):
        raise ScalerError("--alpha, --beta and --gamma go together")
    if not all(given):
        return recorded_family(req.coef_path, phis, req.base_path, req.name)
    if not req.base_path:
        raise ScalerError("--alpha/--beta/--gamma need --base SPEC (a YAML file or a preset name)")
    return given_family(req.base_path, (req.alpha, req.beta, req.gamma), phis, req.name)


def _write_members(members: list[Any], base: Any, paths: list[Path], out_dir: Path, note: str, as_json: bool,
                   export: str | None = None, proxy: dict[float, dict[str, Any]] | None = None,
                   directions: dict[float, str] | None = None) -> None:
    from scaler.api.specs import complexity, member_yaml

    exporter = _exporter(export)  # its packages are checked before any file is written
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScalerError(f"cannot create the output directory: {e.strerror}", where=out_dir) from None
    base_flops = complexity(base).flops
    counted = [(m, complexity(m)) for m in members]  # all of them before any file: a failure writes nothing
    rows = []
    for (m, c), path in zip(counted, paths, strict=True):
        path.write_text(member_yaml(m, c, out_dir), encoding="utf-8")
        d = m.derived
        rows.append({"name": m.name, "phi": d.phi if d else None, "depth": d.depth if d else 1.0,
                     "width": d.width if d else 1.0, "resolution": c.resolution,
                     "blocks": None if c.measured else m.blocks,
                     "params": c.params, "flops": c.flops, "activations": c.activations,
                     "flops_ratio": c.flops / base_flops,
                     "path": str(path)})
        if proxy:
            rows[-1]["proxy_accuracy"] = proxy.get(float(d.phi)) if d else None
        if directions and d and d.phi is not None:
            rows[-1]["coefficients"] = directions.get(float(d.phi))
    if as_json:
        for line in note.splitlines():  # the JSON on stdout stays parseable; warnings go to stderr
            if line.startswith("warning:"):
                click.echo(line, err=True)
        _export_members(exporter, export, members, rows, out_dir, echo=False)
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows, out_dir, note)
        _export_members(exporter, export, members, rows, out_dir, echo=True)


def _exporter(fmt: str | None) -> Any:
    """``scaler export``'s module (:mod:`scaler.cli.export`) for ``--export``, imported here, in this one function:
    it loads torch, which emit never imports otherwise (pyproject.toml's forbidden contract names this import as
    its one exception; tests/test_torch_free.py)."""
    if fmt is None:
        return None
    from scaler.cli import export

    export.require(fmt)
    return export


def _export_members(exporter: Any, fmt: str | None, members: list[Any], rows: list[dict[str, Any]],
                    out_dir: Path, *, echo: bool) -> None:
    """``--export``: each member beside its YAML, at its own resolution, checked (the first failure stops)."""
    if exporter is None:
        return
    for m, r in zip(members, rows, strict=True):
        done = exporter.export_member(m, out_dir, fmt)
        r["export"] = done.to_dict()
        if echo:
            click.echo(exporter.describe(done))


def _print_table(rows: list[dict[str, Any]], out_dir: Path, note: str) -> None:
    from rich.table import Table

    from scaler.api.specs import human

    table = Table(title=f"{len(rows)} spec(s) written to {out_dir}/", caption=f"{FLOPS_NOTE} {ACTIVATIONS_NOTE}")
    proxy = any("proxy_accuracy" in r for r in rows)
    for col in ("name", "φ", "depth", "width", "res", "blocks", "params", "FLOPs", "acts", "× base",
                *(["proxy acc."] if proxy else [])):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in rows:
        table.add_row(r["name"], "-" if r["phi"] is None else f"{r['phi']:g}", f"{r['depth']:.3g}",
                      f"{r['width']:.3g}", str(r["resolution"]), str(r["blocks"] or "-"), human(r["params"]),
                      human(r["flops"]), human(r["activations"]), f"{r['flops_ratio']:.2f}",
                      *([_proxy_cell(r.get("proxy_accuracy"))] if proxy else []))
    out = console()
    if note:
        out.print(note)
    out.print(table)


def _proxy_cell(acc: dict[str, Any] | None) -> str:
    """0.8849 m (measured) or 0.8871 (0.8843..0.8902) (forecast)."""
    if not acc:
        return "-"
    if acc["measured"]:
        return f"{acc['accuracy']:.4f} m"
    return f"{acc['accuracy']:.4f} ({acc['low']:.4f}..{acc['high']:.4f})"
