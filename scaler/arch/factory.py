"""Build and count a factory network: import ``module:function``, call it with the multipliers, check what comes
back, and measure it (:func:`scaler.arch.measured.measure_complexity`).

Every way a factory can fail is a :class:`ScalerError` naming the spec file and the factory, so the CLI prints it on
one line and exits 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scaler.arch.counts import Counts
from scaler.arch.measured import measure_complexity
from scaler.errors import ScalerError
from scaler.spec.factory import FactorySpec

ARGUMENTS = ("depth", "width", "num_classes", "in_channels")


def factory_error(spec: FactorySpec, problem: str) -> ScalerError:
    return ScalerError(f"{spec.factory}: {problem}", where=spec.source, field="factory")


def import_factory(spec: FactorySpec) -> Callable[..., Any]:
    """The factory function, imported from the spec's folder (first) or ``sys.path``."""
    module_name, _, attr = spec.factory.partition(":")
    if spec.path and not Path(spec.path).is_dir() and not _importable(module_name):
        raise factory_error(spec, f"path: the folder {spec.path} does not exist")
    if spec.path and Path(spec.path).is_dir() and spec.path not in sys.path:
        sys.path.insert(0, spec.path)  # workers see it too: the path travels in the trial's spec
    _check_not_shadowed(spec, module_name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            looked = f"{spec.path} and sys.path" if spec.path else "sys.path"
            raise factory_error(spec, f"no module named {e.name!r} (looked in {looked})") from None
        raise factory_error(spec, f"importing {module_name} raised ModuleNotFoundError: {e}") from None
    except (Exception, SystemExit) as e:  # the user's module failed while importing
        raise factory_error(spec, f"importing {module_name} raised {type(e).__name__}: {e}") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise factory_error(spec, f"module {module_name} ({_file_of(module)}) has no attribute {attr!r}")
    if not callable(fn):
        raise factory_error(spec, f"{attr} is {_a(type(fn).__name__)}, not a function")
    try:
        inspect.signature(fn).bind(**dict.fromkeys(ARGUMENTS, 1))
    except TypeError as e:
        raise factory_error(spec, f"{attr}{_signature(fn)} cannot be called as {attr}(depth=, width=, "
                            f"num_classes=, in_channels=): {e}") from None
    except ValueError:
        pass  # no signature to inspect (a builtin): the call will tell
    return fn


def call_factory(spec: FactorySpec, fn: Callable[..., Any] | None = None) -> nn.Module:
    """The network of ``spec``, as the factory (``fn``, else imported) builds it on the current default device."""
    fn = fn or import_factory(spec)
    kwargs = {"depth": spec.depth, "width": spec.width, "num_classes": spec.num_classes,
              "in_channels": spec.in_channels}
    call = f"{spec.factory.partition(':')[2]}({', '.join(f'{k}={v:g}' for k, v in kwargs.items())})"
    try:
        model = fn(**kwargs)
    except (Exception, SystemExit) as e:
        raise factory_error(spec, f"{call} raised {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise factory_error(spec, f"{call} returned {_a(type(model).__name__)}, not a torch.nn.Module")
    return model


def build_factory_model(spec: FactorySpec) -> nn.Module:
    """The trainable network of ``spec`` (on the CPU, initialized as the factory does)."""
    return call_factory(spec)


def factory_cost(spec: FactorySpec, resolution: int | None = None) -> Counts:
    """Params and MACs of the factory's network at ``resolution`` (default: the spec's), measured on the meta
    device (shapes only), or on the CPU when the factory's code cannot run there. The output must be
    ``(N, num_classes)``."""
    key = (spec.factory, spec.path, spec.depth, spec.width, spec.num_classes, spec.in_channels,
           spec.resolution if resolution is None else resolution)
    try:
        return _cost(key)
    except ScalerError as e:  # the cache key has no spec file: name it here
        raise factory_error(spec, e.message.partition(": ")[2] if e.field == "factory" else e.message) from None


@lru_cache(maxsize=4096)
def _cost(key: tuple[Any, ...]) -> Counts:
    factory, path, depth, width, num_classes, in_channels, resolution = key
    spec = FactorySpec(name=factory, factory=factory, path=path, resolution=resolution, num_classes=num_classes,
                       in_channels=in_channels,
                       derived={"base": factory, "depth": depth, "width": width} if (depth, width) != (1, 1) else None)
    fn = import_factory(spec)  # outside the meta device: tensors the module makes at import must be real
    try:
        with torch.device("meta"):
            return measure_complexity(call_factory(spec, fn), in_channels, resolution, num_classes)
    except Exception:  # what failed on the meta device fails again on the CPU with its real message, or works
        pass
    model = call_factory(spec)
    try:
        return measure_complexity(model, in_channels, resolution, num_classes)
    except ScalerError as e:
        raise ScalerError(f"{factory}: at {resolution} px {e.message}", field="factory") from None
    except Exception as e:
        raise ScalerError(f"{factory}: the forward pass of one {in_channels}x{resolution}x{resolution} image "
                          f"raised {type(e).__name__}: {e}", field="factory") from None


def _importable(module_name: str) -> bool:
    """Whether the module is there without the spec's folder (Ray's workers get it shipped)."""
    return module_name in sys.modules or importlib.util.find_spec(module_name.split(".")[0]) is not None


def _check_not_shadowed(spec: FactorySpec, module_name: str) -> None:
    """One process, one module per name: a module of this name already imported from elsewhere would be used in
    place of the one in the spec's folder."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if not spec.path or loaded is None:
        return
    own = [p for p in (Path(spec.path) / top, Path(spec.path) / f"{top}.py") if p.exists()]
    where = Path(getattr(loaded, "__file__", None) or "built-in")
    if own and not where.is_relative_to(Path(spec.path)) and where.name != "built-in":
        raise factory_error(spec, f"module {top} is already imported from {where}, not from {spec.path}: rename "
                            "one of them (Python holds one module per name in a process)")


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _file_of(module: Any) -> str:
    return getattr(module, "__file__", None) or "built-in"


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"
