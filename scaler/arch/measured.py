"""What a built torch model costs, measured rather than derived: parameters (the sum of ``numel``) and the
multiply-accumulates of its convolutions and linear layers for one image (torch's ``FlopCounterMode`` total / 2),
in the unit of :mod:`scaler.arch.flops` (a :class:`scaler.arch.counts.Counts`). For networks scaler does not build
from a spec (a user's own model); on every spec network it equals the analytic count to the unit
(``tests/test_arch_flops.py``). Like any tracer it sees only what runs through aten's convolution and
matrix-multiply ops at this input size."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from scaler.arch.counts import Counts
from scaler.errors import ScalerError


def measure_complexity(model: nn.Module, in_channels: int, resolution: int, num_classes: int | None = None) -> Counts:
    """Params, MACs and activations of ``model`` on one ``in_channels`` x ``resolution`` x ``resolution`` image,
    in eval mode (the model's mode is restored). Works on the meta device (shapes only, no memory).
    ``num_classes``: also check that the output is ``(1, num_classes)``."""
    from torch.utils.flop_counter import FlopCounterMode

    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, in_channels, resolution, resolution, device=device)
        with torch.no_grad(), FlopCounterMode(display=False) as counter, ConvOutputs() as outputs:
            y = model(x)
    finally:
        model.train(was_training)
    if num_classes is not None and (not isinstance(y, torch.Tensor) or tuple(y.shape) != (1, num_classes)):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ScalerError(f"the model's output is {got}, expected (N, {num_classes}) for one image batch")
    return Counts(params=sum(p.numel() for p in model.parameters()), flops=counter.get_total_flops() // 2,
                activations=outputs.elements)


class ConvOutputs(TorchDispatchMode):
    """Counts the output elements of every convolution that runs, at the level of torch's operators (so
    ``F.conv2d`` written inline counts too)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in _CONVOLUTIONS and isinstance(out, torch.Tensor):
            self.elements += out.numel()
        return out


_CONVOLUTIONS = (torch.ops.aten.convolution, torch.ops.aten._convolution)
