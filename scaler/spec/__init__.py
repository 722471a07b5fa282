"""The spec format: pydantic models, YAML with positions, timm block strings, JSON schema. No torch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from scaler.errors import ScalerError
from scaler.spec.blocks import decode_block
from scaler.spec.document import Document, parse_yaml, read_yaml, validation_error
from scaler.spec.factory import FactorySpec
from scaler.spec.model import Derivation, HeadSpec, NormSpec, ScalingRules, Spec, StageSpec, StemSpec

__all__ = [
    "RUN_SECTIONS", "Derivation", "Document", "FactorySpec", "HeadSpec", "NetSpec", "NormSpec", "ScalingRules",
    "Spec", "StageSpec", "StemSpec", "decode_block", "parse_spec", "parse_yaml", "read_yaml", "spec_data",
    "spec_from_document", "spec_json_schema", "validation_error",
]

# A network scaler builds from its spec, or one a user's factory builds.
NetSpec = Spec | FactorySpec

# Top-level sections that configure `scaler grid`; a spec file may carry them, the network ignores them.
RUN_SECTIONS = ("search", "proxy")


def parse_spec(data: Mapping[str, Any], folder: str | Path | None = None) -> NetSpec:
    """A spec from plain data (a trial's, a results file's): a :class:`FactorySpec` when it names a factory, its
    ``path`` then relative to ``folder`` (the folder of the file the data was written in), when given."""
    if "factory" not in data:
        return Spec.model_validate(data)
    spec = FactorySpec.model_validate(data)
    return spec.resolved(folder) if folder is not None else spec


def spec_data(spec: NetSpec, folder: str | Path | None = None) -> dict[str, Any]:
    """The file form of ``spec``, for a file written in ``folder``: a factory's ``path`` relative to it."""
    return spec.to_dict(relative_to=folder) if isinstance(spec, FactorySpec) else spec.to_dict()


def spec_from_document(doc: Document) -> NetSpec:
    """Validate a parsed document as a :class:`Spec`, or a :class:`FactorySpec` when it names a ``factory``; the
    run sections (search, proxy) are skipped."""
    if not isinstance(doc.data, Mapping):
        kind = type(doc.data).__name__ if doc.data is not None else "nothing"
        raise ScalerError(f"a spec is a mapping of fields (name, resolution, stem, stages, head), got {kind}",
                          where=doc.where(()))
    data = {k: v for k, v in doc.data.items() if k not in RUN_SECTIONS}
    model = FactorySpec if "factory" in data else Spec
    try:
        spec = model.model_validate(data)
    except ValidationError as err:
        raise validation_error(doc, err, model=model, also=RUN_SECTIONS) from None
    return spec.located(doc.path, doc.where(("factory",))) if isinstance(spec, FactorySpec) else spec


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of the spec format, for editors: a network of stages, or one a factory builds."""
    schema = TypeAdapter(Spec | FactorySpec).json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "scaler spec", **schema}
    for name in ("Spec", "FactorySpec"):
        props = schema["$defs"][name].setdefault("properties", {})
        for section in RUN_SECTIONS:
            props[section] = {"type": "object", "description": f"`scaler grid` {section} settings (see README)"}
    return schema
