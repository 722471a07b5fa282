"""``scaler export``: a spec's network as ONNX or a ``torch.export`` program (.pt2), checked against PyTorch.

The work is :mod:`scaler.train.export` (torch), imported when a command runs. ``scaler emit --export`` calls
:func:`require` and :func:`export_member` here, importing this module by name (emit itself never loads torch).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from scaler.cli.options import complete_spec
from scaler.errors import ScalerError

FORMATS = ("onnx", "pt2")
# import name -> what the deploy extra installs; the ONNX exporter needs the first two, the check the third
ONNX_PACKAGES = ("onnx", "onnxscript")
DEPLOY_HINT = "pip install 'scaler[deploy]'"


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
    from scaler.catalog import load_spec

    require(fmt)
    spec = load_spec(spec_path)
    size = _resolution(spec, resolution)
    done = _export(spec, fmt, out_path or Path(f"{spec.name}.{fmt}"), size, batch)
    click.echo(describe(done))


def require(fmt: str) -> None:
    """The packages ``fmt`` needs, or a one-line error naming the extra that installs them."""
    if fmt not in FORMATS:
        raise ScalerError(f"--export: unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if fmt != "onnx":
        return
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ScalerError(f"--format onnx needs the deploy extra ({name} is not installed): "
                              f"{DEPLOY_HINT}") from None


def export_member(spec: Any, out_dir: Path, fmt: str) -> Any:
    """``out_dir/<name>.<fmt>`` at the member's own resolution, checked (emit --export)."""
    return _export(spec, fmt, out_dir / f"{spec.name}.{fmt}", spec.resolution, 2)


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


def _export(spec: Any, fmt: str, path: Path, resolution: int, batch: int) -> Any:
    from scaler.train.export import RTOL, export

    if path.is_dir():
        raise ScalerError("is a directory; --out names the file to write", where=path)
    done = export(spec, fmt, path, resolution, batch)
    if not done.ok:
        top1 = f"; top-1 class differs on {done.top1_differs} of {done.input_shape[0]} image(s)" if (
            done.top1_differs) else ""
        raise ScalerError(f"the export differs from PyTorch: max |diff| {done.max_abs_diff:.3g}, relative "
                          f"{done.rel_diff:.3g} (tolerance {RTOL:g}){top1}; the file is kept", where=path)
    return done


def _resolution(spec: Any, resolution: int | None) -> int:
    """``--resolution``, checked like ``scaler info``'s, else the spec's."""
    from scaler.spec import FactorySpec

    if resolution is None:
        return spec.resolution
    if resolution < 1:
        raise ScalerError(f"--resolution: {resolution} px is not an image size")
    if not isinstance(spec, FactorySpec) and resolution < spec.total_stride:
        raise ScalerError(f"--resolution: {resolution} px is too small for a total stride of {spec.total_stride}")
    return resolution


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"
