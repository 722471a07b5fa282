"""``scaler info``: per-stage params and FLOPs of a spec, counted analytically (no torch); a factory spec's totals,
measured on the network its factory builds."""

from __future__ import annotations

import json
from typing import Any

import click

from scaler.cli.options import ACTIVATIONS_NOTE, FLOPS_NOTE, complete_spec, console


@click.command("info")
@click.argument("spec_path", metavar="SPEC", shell_complete=complete_spec)
@click.option("--resolution", type=int, help="Count at this input size instead of the spec's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (params, flops, per-stage repeats/channels).")
def command(spec_path: str, resolution: int | None, as_json: bool) -> None:
    """Per-stage params and FLOPs of a spec (a YAML file, a preset name or quickstart), counted analytically.

    A factory spec (factory: module:function) is built and measured instead: its totals, and what its
    factory was called with."""
    from scaler.api.specs import FactorySpec, check_resolution, complexity, load_spec

    spec = load_spec(spec_path)
    if resolution is not None:
        check_resolution(spec, resolution)
    c = complexity(spec, resolution)
    if isinstance(spec, FactorySpec):
        _factory_info(spec, c, as_json)
        return
    if as_json:
        click.echo(json.dumps(_as_json(spec, c), indent=2))
    else:
        console().print(_table(spec, c))


def _factory_info(spec: Any, c: Any, as_json: bool) -> None:
    """A factory network has no parts scaler can see: its totals, as built and measured."""
    data = {**c.to_dict(), "factory": spec.factory, "path": spec.path, "depth": spec.depth, "width": spec.width,
            "derived": spec.derived.model_dump() if spec.derived else None}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console().print(f"{spec.name} at {c.resolution}px: {c.params:,} params, {c.flops:,} FLOPs, "
                    f"{c.activations:,} activations\n"
                    f"built by {spec.factory}(depth={spec.depth:g}, width={spec.width:g}, "
                    f"num_classes={spec.num_classes}, in_channels={spec.in_channels}) from {spec.path or 'sys.path'}"
                    f"; measured on the built model\n{FLOPS_NOTE}")


def _as_json(spec: Any, c: Any) -> dict[str, Any]:
    data = c.to_dict()
    for s, st in zip(data["stages"], spec.stages, strict=True):
        s["channels"] = s["out_ch"]
        s["expand"] = st.expand
        s["se_ratio"] = st.se
    data["blocks"] = spec.blocks
    data["derived"] = spec.derived.model_dump() if spec.derived else None
    return data


def _table(spec: Any, c: Any) -> Any:
    from rich.table import Table

    from scaler.api.specs import human

    table = Table(title=f"{spec.name} at {c.resolution}px: {c.params:,} params, {c.flops:,} FLOPs, "
                  f"{c.activations:,} activations", caption=f"{FLOPS_NOTE} {ACTIVATIONS_NOTE}")
    for col in ("stage", "block", "repeats", "kernel", "stride", "expand", "in→out", "SE", "size", "params",
                "FLOPs", "acts"):
        table.add_column(col, justify="left" if col in ("block", "in→out", "size") else "right")
    table.add_row("stem", "conv+pool" if spec.stem.pool else "conv", "1", str(spec.stem.kernel),
                  str(spec.stem.stride), "-", f"{spec.in_channels}→{spec.stem.channels}", "-",
                  f"{c.resolution}→{c.stages[0].in_size}",
                  f"{c.stem.params:,}", f"{c.stem.flops:,}", f"{c.stem.activations:,}")
    for s, st in zip(c.stages, spec.stages, strict=True):
        table.add_row(str(s.index), s.block, str(s.repeats), str(s.kernel), str(s.stride), f"{st.expand:g}",
                      f"{s.in_ch}→{s.out_ch}", str(s.se or "-"), f"{s.in_size}→{s.out_size}",
                      f"{s.params:,}", f"{s.flops:,}", f"{s.activations:,}")
    if spec.head is not None:
        table.add_row("head", "conv", "1", "1", "1", "-", f"{spec.stages[-1].channels}→{spec.head.channels}", "-",
                      str(c.stages[-1].out_size), f"{c.head.params:,}", f"{c.head.flops:,}", f"{c.head.activations:,}")
    table.add_row("fc", "linear", "", "", "", "", f"{spec.num_features}→{spec.num_classes}", "", "",
                  f"{c.classifier.params:,}", f"{c.classifier.flops:,}", "-")
    table.add_section()
    table.add_row("total", "", str(spec.blocks), "", "", "", "", "", "", human(c.params), human(c.flops),
                  human(c.activations))
    return table
