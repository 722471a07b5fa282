"""A network that exists only as code: a spec that names a Python factory instead of stages. No torch.

``factory: mypackage.models:make_net`` is called as ``make_net(depth=d, width=w, num_classes=n, in_channels=c)``
with a candidate's real multipliers (floats; 1.0 for the base) and must return an ``nn.Module`` that maps
``(N, in_channels, r, r)`` images to ``(N, num_classes)`` logits. The factory owns its rounding; scaler passes the
multipliers, picks the input size, and measures what the built model costs (:mod:`scaler.arch.factory`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from scaler.spec.model import AtLeast1, Classes, Derivation, InChannels, Int, Name, Resolution

FACTORY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"


def _module_function(text: str) -> str:
    if not re.fullmatch(FACTORY_PATTERN, text):
        raise ValueError(f"{text!r} is not module:function (e.g. mypackage.models:make_net)")
    return text


class FactoryScaling(BaseModel):
    """The one dimension scaler rounds for a factory network: its input size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution_divisor: Int = Field(4, ge=1, description="resolution rounds to a multiple of this")
    max_resolution: AtLeast1 | None = Field(None, description="cap on the scaled resolution")


class FactorySpec(BaseModel):
    """A network built by a user's function: its name, factory, input and classes, and how it was scaled."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="scaler factory spec")

    name: Name = Field(description="the network's name, a plain file name (no / or \\)")
    factory: Annotated[str, AfterValidator(_module_function)] = Field(
        description="module:function that builds the network, called as function(depth=, width=, num_classes=, "
        "in_channels=)", json_schema_extra={"pattern": FACTORY_PATTERN})
    path: str | None = Field(None, description="folder the module is imported from, relative to this file "
                             "(default: the file's own folder); sys.path is searched after it")
    resolution: Resolution = Field(description="input image size in pixels (square)")
    num_classes: Classes = 1000
    in_channels: InChannels = Field(3, description="input image channels")
    scaling: FactoryScaling = FactoryScaling()
    derived: Derivation | None = Field(None, description="set by scaling: base and the multipliers the factory "
                                       "was called with")

    _file: str | None = PrivateAttr(None)  # file:line:col of `factory` in the YAML it was read from, for errors

    @property
    def depth(self) -> float:
        """The depth multiplier the factory is called with."""
        return self.derived.depth if self.derived else 1.0

    @property
    def width(self) -> float:
        """The width multiplier the factory is called with."""
        return self.derived.width if self.derived else 1.0

    @property
    def source(self) -> str:
        """Where this spec came from, for messages: its file, else its factory's folder, else its name."""
        return self._file or self.path or self.name

    def located(self, file: str | Path | None, where: str | None = None) -> FactorySpec:
        """This spec read from ``file``: ``path`` made absolute against the file's folder; ``where`` (the
        ``file:line:col`` of its factory) kept for error messages."""
        spec = self.resolved(Path(file).parent) if file is not None and Path(file).is_file() else self.model_copy()
        spec._file = where or (str(file) if file is not None else self._file)
        return spec

    def resolved(self, folder: str | Path) -> FactorySpec:
        """``path`` made absolute against ``folder``, the folder of the file it was written in (an absolute path
        stays as it is)."""
        return self.model_copy(update={"path": str((Path(folder) / (self.path or ".")).resolve())})

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """Plain data in the file form; unset fields left out. ``relative_to``: write ``path`` relative to this
        folder (where the file goes), so that the file, the code and the results can move together."""
        data = self.model_dump(mode="json", exclude_none=True)
        if relative_to is not None and self.path:
            data["path"] = Path(os.path.relpath(self.path, Path(relative_to).resolve())).as_posix()
        return data

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, width=120)
