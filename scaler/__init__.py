"""scaler: EfficientNet-style compound model scaling.

``load_spec``, ``complexity`` and the scaling functions import no torch; ``build_model`` imports it on first use,
and so does ``complexity`` of a factory spec (a network that exists only as code is counted by building it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scaler.arch.flops import complexity
from scaler.catalog import load_spec
from scaler.errors import ScalerError
from scaler.scaling import compound, family, scale, strategy_factors
from scaler.spec import FactorySpec, Spec

if TYPE_CHECKING:
    from scaler.arch.torch_model import build_model

__all__ = ["FactorySpec", "ScalerError", "Spec", "build_model", "complexity", "compound", "family", "load_spec",
           "scale", "strategy_factors"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "build_model":
        from scaler.arch.torch_model import build_model

        return build_model
    raise AttributeError(f"module 'scaler' has no attribute {name!r}")
