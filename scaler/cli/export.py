"""``scaler export``: a spec's network as ONNX or a ``torch.export`` program (.pt2), checked against PyTorch.

The work is :func:`scaler.api.deploy.export` (torch, loaded when a command runs). ``scaler emit --export`` calls
:func:`require` and :func:`export_member` here, importing this module by name (emit itself never loads torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scaler.api.deploy import DEPLOY_HINT, FORMATS, require
from scaler.cli.options import complete_spec

__all__ = ["command", "describe", "export_member", "require"]


@click.command("export")
@click.argument("spec_path", metavar="SPEC", shell_complete=complete_spec)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="onnx: ONNX opset 18 (dynamo exporter); pt2: a torch.export program (torch.export.load).")
@click.option("--resolution", type=int, help="Input size of the export [default: the spec's].")
@click.option("--out", "out_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Where to write [default: <spec name>.onnx|.pt2 in the current directory].")
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
              help="Images of the check (the batch dimension of the export is dynamic).")
def command(spec_path: str, fmt: str, resolution: int | None, out_path: Path | None, batch: int) -> None:
    """Export a spec's network (a YAML file or a preset name; factory specs too) for deployment.

    The network is built with seed 0, its BatchNorm statistics calibrated on random images, and written with a
    dynamic batch dimension (input `images`, N x C x R x R float32; output `logits`, N x classes). The file is then
    checked against PyTorch eager on random images: max |diff| / max |logit| <= 1e-3 and the same top-1 class
    (ONNX under onnxruntime when installed; pt2 as torch.export.load runs it). A failed check keeps the file and
    exits 2.

    \b
    scaler export efficientnet-b0 --format onnx
    scaler export specs/quickstart.yaml --format pt2 --out deploy/quickstart.pt2
    scaler export specs/my-resnet.yaml --format onnx --resolution 28
    """
    from scaler.api.deploy import export
    from scaler.api.specs import check_resolution, contained, load_spec, refuse_overwrite

    require(fmt)
    spec = load_spec(spec_path)
    size = check_resolution(spec, resolution)
    out = out_path or contained(Path("."), f"{spec.name}.{fmt}")
    refuse_overwrite(out, [("the spec", spec_path)], "export", "--out")
    done = export(spec, fmt, out, size, batch)
    click.echo(describe(done))


def export_member(spec: Any, out_dir: Path, fmt: str) -> Any:
    """``out_dir/<name>.<fmt>`` at the member's own resolution, checked (emit --export)."""
    from scaler.api.deploy import export
    from scaler.api.specs import contained

    return export(spec, fmt, contained(out_dir, f"{spec.name}.{fmt}"), spec.resolution, 2)


def describe(done: Any) -> str:
    """One line: the file, its size and format, the input, and the check."""
    shape = "x".join(["N", *map(str, done.input_shape[1:])])
    kind = f"ONNX opset {done.opset}" if done.format == "onnx" else "torch.export program"
    head = (f"wrote {done.path} ({_size(done.bytes)}, {kind}): images {shape} float32 -> logits "
            f"Nx{done.num_classes}, N dynamic")
    if done.rel_diff is None:
        return f"{head}; not checked: onnxruntime is not installed ({DEPLOY_HINT})"
    n = done.input_shape[0]
    return (f"{head}; {done.checked_with} vs PyTorch on {n} random image{'s' if n > 1 else ''}: max |diff| "
            f"{done.max_abs_diff:.2g}, relative {done.rel_diff:.2g}, same top-1 ({done.seconds:.1f} s)")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"
