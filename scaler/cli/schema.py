"""``scaler schema``: the JSON Schema of the spec format."""

from __future__ import annotations

import json

import click


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of the spec format (point your editor's YAML plugin at it)."""
    from scaler.api.specs import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2))
