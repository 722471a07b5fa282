"""Deployment: a spec's network exported (ONNX, ``torch.export``) and checked against PyTorch, and its latency
on this machine. torch loads inside the functions that build a network; importing this module loads none."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError

FORMATS = ("onnx", "pt2")
# import name -> what the deploy extra installs; the ONNX exporter needs the first two, the check the third
ONNX_PACKAGES = ("onnx", "onnxscript")
DEPLOY_HINT = "pip install 'scaler[deploy]'"


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


def deploy_installed() -> bool:
    """What an ONNX export needs, and onnxruntime to run the file."""
    return all(importlib.util.find_spec(m) is not None for m in (*ONNX_PACKAGES, "onnxruntime"))


def export(spec: Any, fmt: str, path: Path, resolution: int | None = None, batch: int = 2) -> Any:
    """Write ``spec``'s network to ``path`` (seed 0, BatchNorm calibrated, dynamic batch) and check it against
    PyTorch eager: an :class:`scaler.train.export.Exported`, or a one-line error (the file is kept)."""
    from scaler.train.export import RTOL
    from scaler.train.export import export as write

    require(fmt)
    if path.is_dir():
        raise ScalerError("is a directory; --out names the file to write", where=path)
    check_batch(spec, batch, resolution)
    done = write(spec, fmt, path, resolution or spec.resolution, batch)
    if not done.ok:
        top1 = f"; top-1 class differs on {done.top1_differs} of {done.input_shape[0]} image(s)" if (
            done.top1_differs) else ""
        raise ScalerError(f"the export differs from PyTorch: max |diff| {done.max_abs_diff:.3g}, relative "
                          f"{done.rel_diff:.3g} (tolerance {RTOL:g}){top1}; the file is kept", where=path)
    return done


def runtimes(asked: Sequence[str], device: str) -> tuple[str, ...]:
    """The runtimes to time (eager, and onnxruntime when the deploy extra is installed, unless ``asked``), after
    checking what they and ``device`` need."""
    chosen = tuple(asked) or (("eager", "onnxruntime") if deploy_installed() else ("eager",))
    if "onnxruntime" in chosen and not deploy_installed():
        raise ScalerError(f"--runtime onnxruntime needs the deploy extra: {DEPLOY_HINT}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ScalerError("--device cuda: no CUDA device is visible")
    return chosen


def bench(spec: Any, **options: Any) -> list[Any]:
    """Latency rows of one network (:func:`scaler.train.bench.bench`'s options)."""
    from scaler.train.bench import bench as time_network

    check_batch(spec, max(options.get("batches", (1,))))
    return time_network(spec, **options)


def check_threads(threads: int) -> None:
    """Refuse more intra-op threads than this machine's cores: they only time contention (and OpenMP fails
    outright at tens of thousands)."""
    from scaler.api.execution import available_cores

    cores = available_cores()
    if threads > cores:
        raise ScalerError(f"--threads {threads}: this machine has {cores} cores; more threads than cores time "
                          "contention, not the network (bench where the model will run)")


def check_batch(spec: Any, batch: int, resolution: int | None = None) -> None:
    """Refuse, before anything is allocated, a ``--batch`` whose one forward pass cannot fit in this machine's
    memory: float32 weights, and per image the input and the largest stage's activations (a lower bound: a
    refused batch could never run)."""
    from scaler.arch.flops import complexity

    cost = complexity(spec, resolution)
    per_image = spec.in_channels * cost.resolution**2 + max((s.activations for s in cost.stages), default=0)
    need, have = 4 * (cost.params + batch * per_image), physical_memory()
    if need > have:
        raise ScalerError(f"--batch {batch}: one forward pass of {spec.name} at {cost.resolution} px holds at least "
                          f"{need / 2**30:,.1f} GiB (float32 weights, and per image its input and largest stage's "
                          f"activations); this machine has {have / 2**30:,.1f} GiB")


def physical_memory() -> int:
    """This machine's memory in bytes."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def write_latencies(rows: Sequence[Any], path: Path) -> None:
    """The latency CSV that ``emit --max-latency-ms --latencies`` reads."""
    from scaler.latencies import write_latencies as write

    write(rows, path)
