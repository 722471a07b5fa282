"""What a network or a part of it costs, in counts: parameters, multiply-accumulates and activations for one image.

The one result type of both ways scaler counts: analytically from the plan (:mod:`scaler.arch.flops`, each block
by its kind, :mod:`scaler.arch.blocks`) and traced on a built model (:mod:`scaler.arch.measured`,
:mod:`scaler.arch.factory`). Both import it from here, downward, with the counts of the layers blocks are made of.
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


def conv(cin: int, cout: int, kernel: int, out_size: int, *, groups: int = 1, bias: bool = False,
         bn: bool = True) -> Counts:
    """A square convolution (optionally followed by BN, whose affine weights count as params)."""
    weights = cout * (cin // groups) * kernel * kernel
    params = weights + (cout if bias else 0) + (2 * cout if bn else 0)
    return Counts(params, weights * out_size * out_size, cout * out_size * out_size)


def linear(cin: int, cout: int) -> Counts:
    return Counts(cin * cout + cout, cin * cout)


def squeeze_excite(channels: int, squeeze: int) -> Counts:
    """Two 1x1 convolutions with bias on the pooled 1x1 map."""
    return conv(channels, squeeze, 1, 1, bias=True, bn=False) + conv(squeeze, channels, 1, 1, bias=True, bn=False)
