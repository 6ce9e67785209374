"""The JSON Schema of the fleet spec, generated from the pydantic models."""

from __future__ import annotations

import json

from meshgen.spec.models import API_VERSION, Fleet

SCHEMA_ID = "https://meshgen.dev/schema/fleet.schema.json"


def fleet_schema() -> dict:
    schema = Fleet.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"meshgen Fleet ({API_VERSION})",
        **schema,
    }


def fleet_schema_bytes() -> bytes:
    return (json.dumps(fleet_schema(), indent=2, sort_keys=True) + "\n").encode()
