"""Inference latency of a spec's network on this machine: PyTorch eager and, with the deploy extra, ONNX Runtime.

Each figure is ``torch.utils.benchmark.Timer.blocked_autorange`` over blocks of calls for at least
``min_seconds`` after :data:`WARMUP` warm-up calls, at a stated thread count: the median of the blocks' per-call
times and their interquartile range. Eager runs the model in eval mode under ``torch.inference_mode`` in float32,
channels-last unless told otherwise; ONNX Runtime runs the file :func:`scaler.train.export.export` writes (its check
included), with the same number of intra-op threads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from scaler.arch.flops import complexity
from scaler.arch.torch_model import build_model
from scaler.errors import ScalerError
from scaler.latencies import Latency
from scaler.spec import NetSpec
from scaler.spec.paths import contained

RUNTIMES = ("eager", "onnxruntime")
WARMUP = 3


def time_call(fn: Callable[[], Any], *, threads: int, min_seconds: float) -> tuple[float, float, int]:
    """(median ms, interquartile range ms, calls timed) of ``fn`` after the warm-up."""
    from torch.utils import benchmark

    for _ in range(WARMUP):
        fn()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_seconds)
    return 1000 * m.median, 1000 * m.iqr, len(m.raw_times) * m.number_per_run


LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def eager_call(spec: NetSpec, batch: int, device: str, layout: str = "channels_last") -> Callable[[], Any]:
    """One eval-mode forward pass of ``batch`` random images in ``layout``, synchronised on CUDA. Channels-last is
    what training and the grid's latency use; on this CPU it made a training step of the quickstart proxy 1.7-2.0x
    faster, and B0's inference as fast at batch 1 and 1.0-1.4x faster at batch 8 (benchmarks/memory_format.py)."""
    torch.manual_seed(0)
    memory_format = LAYOUTS[layout]
    model = build_model(spec).eval().to(device, memory_format=memory_format)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution, device=device)
    x = x.contiguous(memory_format=memory_format)

    def call() -> Any:
        with torch.inference_mode():
            out = model(x)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return call


def onnx_call(path: Path, spec: NetSpec, batch: int, threads: int) -> Callable[[], Any]:
    """One ONNX Runtime (CPU) run of ``batch`` random images through the exported file."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal(
        (batch, spec.in_channels, spec.resolution, spec.resolution), dtype=np.float32)}
    return lambda: session.run(None, feed)


def bench(spec: NetSpec, *, batches: Sequence[int], runtimes: Sequence[str], device: str, threads: int,
          min_seconds: float, layout: str = "channels_last") -> list[Latency]:
    """Latency of ``spec`` at each batch size under each runtime."""
    cost = complexity(spec)
    torch.set_num_threads(threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = _onnx_file(spec, Path(tmp)) if "onnxruntime" in runtimes else None
        for runtime in runtimes:
            for batch in batches:
                call = (eager_call(spec, batch, device, layout) if runtime == "eager"
                        else onnx_call(onnx_path, spec, batch, threads))
                try:
                    median, iqr, runs = time_call(call, threads=threads, min_seconds=min_seconds)
                except Exception as e:  # the network cannot run at this batch: one line, not a traceback
                    raise ScalerError(f"{spec.name}: {runtime} at batch {batch}, {spec.resolution} px raised "
                                      f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
                rows.append(Latency(spec.name, spec.resolution, cost.params, cost.flops, cost.activations, runtime,
                                    device if runtime == "eager" else "cpu", threads, batch, round(median, 4),
                                    round(iqr, 4), runs, layout if runtime == "eager" else "onnx"))
    return rows


def _onnx_file(spec: NetSpec, folder: Path) -> Path:
    from scaler.train.export import export

    path = contained(folder, f"{spec.name}.onnx")
    done = export(spec, "onnx", path, spec.resolution, 2)
    if not done.ok:
        raise ScalerError(f"{spec.name}: the ONNX export differs from PyTorch (relative {done.rel_diff:.3g}); "
                          "its latency would not be this network's")
    return path


def batch1_latency(spec: NetSpec, *, min_seconds: float = 0.5) -> float:
    """Median ms of one eager CPU call on one image, at torch's current thread count."""
    try:
        median, _, _ = time_call(eager_call(spec, 1, "cpu"), threads=torch.get_num_threads(),
                                 min_seconds=min_seconds)
    except Exception as e:
        raise ScalerError(f"{spec.name}: eager at batch 1 raised {type(e).__name__}: {e}") from None
    return median
