"""YAML read with positions, and pydantic errors turned into one located line.

Every key and value keeps its 1-based line and column, so an error names ``file:line:col: field.path: problem``.
A misspelled key is named where it stands, with the closest field it could have meant.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scaler.errors import ScalerError, location


class FieldError(ValueError):
    """A validation error that belongs to a field other than the one being validated."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


@dataclass
class Document:
    """A parsed YAML file: plain data plus the line and column of every node, keyed by path."""

    data: Any
    path: str | None = None
    positions: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: tuple[Any, ...], *, key: bool = False) -> str | None:
        """``file:line:col`` of the value (or, with ``key``, the key) of the deepest node on ``loc``."""
        if key and loc in self.key_positions:
            return location(self.path, *self.key_positions[loc])
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.positions:
                return location(self.path, *self.positions[loc[:n]])
        return location(self.path)

    def error(self, loc: tuple[Any, ...], message: str, *, key: bool = False) -> ScalerError:
        return ScalerError(message, where=self.where(loc, key=key), field=format_loc(loc) or None)

    def section(self, prefix: tuple[Any, ...]) -> Document:
        """The sub-document under ``prefix``, its positions kept (errors still point into this file)."""
        n = len(prefix)
        data: Any = self.data
        for part in prefix:
            data = data[part]
        return Document(data=data, path=self.path,
                        positions={k[n:]: v for k, v in self.positions.items() if k[:n] == prefix},
                        key_positions={k[n:]: v for k, v in self.key_positions.items() if k[:n] == prefix})


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('stages', 2, 'kernel')`` -> ``stages[2].kernel``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """PyYAML's safe loader, reading ``1e6``, ``1.0e6`` and ``2E-3`` as numbers, as YAML 1.2 does: PyYAML's YAML 1.1
    reads an exponent as a number only after a dot and with a sign (``1.0e+6``), so ``alpha: 1.0e6`` was text."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def parse_yaml(text: str, path: str | None = None) -> Document:
    """Parse YAML safely, keeping positions (1-based line and column) for every key and value."""
    loader = _Loader(text)
    doc = Document(data=None, path=path)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScalerError("the file is empty; a spec is a mapping of fields", where=path)
        doc.data = _build(_Walk(loader, doc), node, ())
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = location(path, mark.line + 1, mark.column + 1) if mark else location(path)
        raise ScalerError(f"not valid YAML: {e.problem or e.context}", where=where) from None
    except yaml.YAMLError as e:
        raise ScalerError(f"not valid YAML: {e}", where=path) from None
    finally:
        loader.dispose()
    return doc


# A spec of the largest preset has a few hundred values; aliases (*name) may not expand a file past this (nine
# nested anchors of ten references each would be 10**9 values: gigabytes before any check).
MAX_VALUES = 100_000


@dataclass
class _Walk:
    """What building one document has seen: values built so far, and the collections being built (an alias to
    one of those is a recursive alias)."""

    loader: yaml.SafeLoader
    doc: Document
    values: int = 0
    open: set[int] = field(default_factory=set)

    def enter(self, n: yaml.Node) -> None:
        self.values += 1
        where = location(self.doc.path, n.start_mark.line + 1, n.start_mark.column + 1)
        if self.values > MAX_VALUES:
            raise ScalerError(f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded; a spec or "
                              "coefficients file is far smaller", where=where)
        if id(n) in self.open:
            raise ScalerError("an alias (*name) refers to a value that contains it (a recursive alias)",
                              where=where)


def _build(w: _Walk, n: yaml.Node, at: tuple[Any, ...]) -> Any:
    doc, loader = w.doc, w.loader
    w.enter(n)
    doc.positions.setdefault(at, (n.start_mark.line + 1, n.start_mark.column + 1))
    if not isinstance(n, yaml.MappingNode | yaml.SequenceNode):
        return loader.construct_object(n, deep=True)
    w.open.add(id(n))
    try:
        if isinstance(n, yaml.SequenceNode):
            return [_build(w, item, (*at, i)) for i, item in enumerate(n.value)]
        loader.flatten_mapping(n)
        out: dict[Any, Any] = {}
        for k, v in n.value:
            pos = (k.start_mark.line + 1, k.start_mark.column + 1)
            if not isinstance(k, yaml.ScalarNode):  # checked before building it: an alias key could be a bomb
                raise ScalerError("mapping keys must be plain names", where=location(doc.path, *pos))
            key = loader.construct_object(k, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise ScalerError("mapping keys must be plain names", where=location(doc.path, *pos))
            if key in out:  # located at the repeated key, not the first one
                raise ScalerError(f"duplicate key {key!r}", where=location(doc.path, *pos),
                                  field=format_loc((*at, key)))
            doc.key_positions[(*at, key)] = pos
            out[key] = _build(w, v, (*at, key))
        return out
    finally:
        w.open.discard(id(n))


def read_yaml(path: str | Path) -> Document:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ScalerError`."""
    p = Path(path)
    if not p.exists():
        raise ScalerError("no such file", where=p)
    if p.is_dir():
        raise ScalerError("is a directory, expected a YAML file", where=p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScalerError(f"cannot read: {e}", where=p) from None
    return parse_yaml(text, str(p))


def validation_error(doc: Document, err: ValidationError, prefix: tuple[Any, ...] = (),
                     model: type[BaseModel] | None = None, also: tuple[str, ...] = ()) -> ScalerError:
    """The most useful error of a pydantic ValidationError as one located line.

    Unknown keys come first (a misspelled required key otherwise reads as "missing"), with the closest field of
    ``model`` at that place as a suggestion; ``also`` adds names valid at the top level (e.g. run sections)."""
    errors = err.errors(include_url=False)
    e = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
    loc = prefix + tuple(e["loc"])
    if e["type"] == "extra_forbidden":
        key = str(e["loc"][-1])
        names = list(_field_names(model, tuple(e["loc"][:-1]))) if model else []
        names += list(also) if len(e["loc"]) == 1 else []
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parent = format_loc(loc[:-1]) or None
        return ScalerError(f"unknown field {key!r}{hint}", where=doc.where(loc, key=True), field=parent)
    msg = e["msg"]
    ctx = e.get("ctx") or {}
    if isinstance(ctx.get("error"), FieldError):
        loc = prefix + ctx["error"].loc
    if e["type"] == "missing":
        msg = "required field is missing"
    elif e["type"] in ("model_type", "model_attributes_type"):
        msg = "expected a mapping"
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    return doc.error(loc, msg)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Field names of the (nested) model found by walking ``loc`` from ``model``; () when it leads elsewhere."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: the element type was unwrapped with the list
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return ()
        current = _model_in(fields[part].annotation)
        if current is None:
            return ()
    return tuple(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
