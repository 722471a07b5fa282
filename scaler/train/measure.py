"""Scoring and timing a model: the device, autocast, precise BatchNorm, top-1 accuracy, inference latency."""

from __future__ import annotations

import torch
from torch import nn

from scaler.data.transforms import BatchTransform
from scaler.errors import ScalerError


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; asking for CUDA without it is a user error."""
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ScalerError("CUDA was requested but torch sees no GPU (use --device cpu or auto)",
                              where=device)
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ScalerError("unknown device; expected auto, cpu, cuda or cuda:N", where=device)


def autocast(device: torch.device) -> torch.autocast:
    # bf16 on CUDA (no loss scaling needed); CPU stays fp32 for exact run-to-run repeatability.
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module,
    x: torch.Tensor,
    transform: BatchTransform,
    *,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over the uint8 images ``x`` ("precise BN").

    Only the BN layers run in training mode (dropout and stochastic depth stay off), so the statistics match
    what evaluation sees. With momentum 0.1, a run of a few dozen steps still carries much of the initial
    mean 0 / variance 1 and of the early, fast-changing activations: eval accuracy can sit at chance while
    the training loss is fine.
    """
    device = torch.device(device)
    bns = [m for m in model.modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns or len(x) == 0:
        return
    was_training = model.training
    momenta = [m.momentum for m in bns]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
        m.train()
    try:
        for start in range(0, len(x), batch_size):
            with autocast(device):
                model(transform.eval(x[start : start + batch_size].to(device, non_blocking=True)))
    finally:
        for m, momentum in zip(bns, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    transform: BatchTransform,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on uint8 images ``x`` with labels ``y``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    try:
        for start in range(0, len(y), batch_size):
            xb = x[start : start + batch_size].to(device, non_blocking=True)
            yb = y[start : start + batch_size].to(device, non_blocking=True)
            with autocast(device):
                logits = model(transform.eval(xb))
            correct += (logits.argmax(1) == yb).sum()
    finally:
        model.train(was_training)
    return correct.item() / max(1, len(y))


@torch.inference_mode()
def measure_latency(model: nn.Module, channels: int, resolution: int, batch_size: int, *,
                    device: torch.device | str = "cpu", min_seconds: float = 0.25) -> float:
    """Median wall time (ms) of one eval-mode forward pass of ``batch_size`` images, by
    ``torch.utils.benchmark.Timer.blocked_autorange`` (blocks of runs for at least ``min_seconds``, CUDA
    synchronised) with torch's current thread count, after two warm-up passes."""
    from torch.utils import benchmark

    device = torch.device(device)
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, channels, resolution, resolution, device=device)
    x = x.contiguous(memory_format=torch.channels_last)

    def forward() -> None:
        with autocast(device):
            model(x)

    try:
        for _ in range(2):
            forward()
        timer = benchmark.Timer(stmt="forward()", globals={"forward": forward}, num_threads=torch.get_num_threads())
        measurement = timer.blocked_autorange(min_run_time=min_seconds)
    finally:
        model.train(was_training)
    return 1000 * measurement.median
