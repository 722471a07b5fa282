"""A grid's settings file: the base spec with its optional ``search:`` and ``proxy:`` sections, flags on top."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from scaler.catalog import load_document
from scaler.config import ProxyConfig, SearchConfig
from scaler.errors import ScalerError
from scaler.search.strategies import STRATEGIES
from scaler.spec import Document, NetSpec, spec_data, spec_from_document, validation_error

M = TypeVar("M", bound=BaseModel)


@dataclass
class GridSettings:
    base: NetSpec
    base_path: str
    search: SearchConfig
    proxy: ProxyConfig

    def to_dict(self, folder: str | Path | None = None) -> dict[str, Any]:
        """What run.yaml (in ``folder``) records under ``settings`` (a resumed run must match it)."""
        return {"base_path": self.base_path, "search": self.search.model_dump(mode="json"),
                "proxy": self.proxy.model_dump(mode="json"), "base": spec_data(self.base, folder)}


# What a run recorded before these settings existed did, shaped as :meth:`GridSettings.to_dict`: such a run
# resumes when the setting holds this value (whatever the default is today).
LEGACY = {"search": {"strategy": "grid", "eta": 3, "rungs": 2, "max_seeds": 3, "trials": 20, "sampler": "tpe",
                     "sampler_seed": 0}}


def load_grid_settings(path: str | Path, overrides: dict[str, Any] | None = None) -> GridSettings:
    """Read a base spec (file or preset name) and its ``search:`` and ``proxy:`` sections; ``overrides`` (CLI
    flags, keys ``proxy.epochs`` style) win over the file."""
    doc = load_document(path)
    base = spec_from_document(doc)
    sections: dict[str, dict[str, Any]] = {}
    for name in ("search", "proxy"):
        raw = doc.data.get(name) or {}
        if not isinstance(raw, dict):
            raise doc.error((name,), "expected a mapping of settings")
        sections[name] = dict(raw)
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        if key == "proxy.progressive" and value is True:  # --progressive: the file's settings, or the defaults
            value = sections["proxy"].get("progressive") or {}
        sections[section][field] = value
    flags = {name: [k.partition(".")[2] for k in overrides or {} if k.startswith(name + ".")] for name in sections}
    search = _section(doc, "search", SearchConfig, sections["search"], flags["search"])
    proxy = _section(doc, "proxy", ProxyConfig, sections["proxy"], flags["proxy"])
    if search.strategy not in STRATEGIES:
        raise doc.error(("search", "strategy"), f"unknown strategy {search.strategy!r}: use one of "
                        f"{', '.join(sorted(STRATEGIES))}")
    return GridSettings(base=base, base_path=str(path), search=search, proxy=proxy)


def _section(doc: Document, name: str, model: type[M], data: dict[str, Any], flagged: list[str]) -> M:
    """The section validated. An error about the whole section or a field a flag set also names those flags: the
    file's position alone would blame the file for a flag's value."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = validation_error(doc, e, (name,), model=model)
        loc = e.errors()[0]["loc"]
        if flagged and (not loc or loc[0] in flagged):
            flags = ", ".join(f"--{f.replace('_', '-')}" for f in flagged)
            err = ScalerError(f"{err.message} (with {flags} from the command line)", where=err.where, field=err.field)
        raise err from None
