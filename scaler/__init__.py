"""scaler: EfficientNet-style compound model scaling.

``load_spec``, ``complexity`` and the scaling functions import no torch; ``build_model`` imports it on first use,
and so does ``complexity`` of a factory spec (a network that exists only as code is counted by building it).
``grid``, ``open_run``, ``study``, ``emit`` and ``Run`` are the Python API of the command line (:mod:`scaler.api`),
imported on first use. ``__version__`` is the installed distribution's, whose one source is pyproject.toml (``scaler
--version`` and the report read the same).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scaler.arch.flops import complexity
from scaler.catalog import load_spec
from scaler.errors import ScalerError
from scaler.scaling import compound, family, scale, strategy_factors
from scaler.spec import FactorySpec, Spec

if TYPE_CHECKING:
    from scaler.api import Run, Study, emit, grid, open_run, study
    from scaler.arch.torch_model import build_model

    __version__: str

API = ("Run", "Study", "emit", "grid", "open_run", "study")
__all__ = ["FactorySpec", "Run", "ScalerError", "Spec", "Study", "build_model", "complexity", "compound", "emit",
           "family", "grid", "load_spec", "open_run", "scale", "strategy_factors", "study"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib import metadata

        return metadata.version("scaler")
    if name == "build_model":
        from scaler.arch.torch_model import build_model

        return build_model
    if name in API:
        return getattr(importlib.import_module("scaler.api"), name)
    raise AttributeError(f"module 'scaler' has no attribute {name!r}")
