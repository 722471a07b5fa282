"""What a network or a part of it costs, in counts: parameters, multiply-accumulates and activations for one image.

The one result type of both ways scaler counts: analytically from the plan (:mod:`scaler.arch.flops`) and traced
on a built model (:mod:`scaler.arch.measured`, :mod:`scaler.arch.factory`). Both import it from here, downward.
No torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    """Params, FLOPs (MACs) and activations (output elements of every convolution) of one image."""

    params: int
    flops: int
    activations: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.params + other.params, self.flops + other.flops, self.activations + other.activations)


ZERO = Counts(0, 0)
