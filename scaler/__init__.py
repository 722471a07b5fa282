"""scaler: EfficientNet-style compound model scaling.

``load_spec``, ``complexity`` and the scaling functions import no torch; ``build_model`` imports it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scaler.errors import ScalerError
from scaler.flops import complexity
from scaler.scaling import compound, family, scale
from scaler.spec import Spec, load_spec

if TYPE_CHECKING:
    from scaler.model import build_model

__all__ = ["ScalerError", "Spec", "build_model", "complexity", "compound", "family", "load_spec", "scale"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "build_model":
        from scaler.model import build_model

        return build_model
    raise AttributeError(f"module 'scaler' has no attribute {name!r}")
