"""The committed JSON Schema of the fleet spec matches the models, and editors can trust it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, seed, settings
from click.testing import CliRunner
from ruamel.yaml import YAML

from meshgen.cli import main
from meshgen.emit import dump_yaml
from meshgen.spec.loader import load
from meshgen.spec.models import Fleet
from meshgen.spec.schema import fleet_schema_bytes

ROOT = Path(__file__).parent.parent
COMMITTED = ROOT / "schema" / "fleet.schema.json"
EXAMPLE = ROOT / "fleet.example.yaml"
SPECS = Path(__file__).parent / "specs"

from mutants import mutants  # noqa: E402  (tests/ is on sys.path under pytest)


def spec_data(path: Path):
    return YAML(typ="safe", pure=True).load(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_matches_the_models():
    assert COMMITTED.read_bytes() == fleet_schema_bytes(), "schema is stale: run `meshgen schema` and commit it"


def test_schema_command_writes_the_same_bytes(tmp_path):
    out = tmp_path / "fleet.schema.json"
    result = CliRunner().invoke(main, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == COMMITTED.read_bytes()


def test_schema_is_deterministic():
    assert fleet_schema_bytes() == fleet_schema_bytes()
    assert fleet_schema_bytes().endswith(b"}\n")


def test_every_top_level_field_is_in_the_schema():
    properties = json.loads(fleet_schema_bytes())["properties"]
    assert set(properties) == set(Fleet.model_fields)


def test_example_modeline_points_at_the_committed_schema():
    first = EXAMPLE.read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema/fleet.schema.json"
    assert (EXAMPLE.parent / "schema/fleet.schema.json").resolve() == COMMITTED.resolve()


@pytest.mark.parametrize("spec", [EXAMPLE, *sorted((SPECS / "valid").glob("*.yaml"))], ids=lambda p: p.stem)
def test_valid_specs_satisfy_the_json_schema(spec: Path, validator):
    """No false errors in editors: whatever meshgen accepts, the schema accepts."""
    assert [e.message for e in validator.iter_errors(spec_data(spec))] == []


@pytest.mark.parametrize(
    "name",
    [
        "14-unknown-key-typo",  # additionalProperties: false, and the missing trustDomain
        "16-unknown-top-level-key",
        "17-missing-required-field",
        "20-wrong-type-string-for-list",
        "21-wrong-type-scalar-for-mapping",
        "25-bad-enum-protocol",
        "26-bad-api-version",
        "27-port-out-of-range",
        "34-bad-service-reference-format",
    ],
)
def test_schema_rejects_shape_errors_too(name: str, validator):
    """Editors flag the shape errors meshgen reports as E101-E103 (DNS and CIDR syntax are meshgen's alone)."""
    assert list(validator.iter_errors(spec_data(SPECS / "broken" / f"{name}.yaml")))


def described(schema: dict, where: str = "") -> list[str]:
    """Every property (anywhere in the schema, $defs included) that has no description."""
    missing = []
    for name, prop in schema.get("properties", {}).items():
        target = prop
        if "$ref" in prop and "description" not in prop:
            target = {}
        if not (prop.get("description") or target.get("description")):
            missing.append(f"{where}.{name}")
    for name, definition in schema.get("$defs", {}).items():
        missing += described(definition, name)
    return missing


def test_every_property_has_a_description():
    """The schema is the field reference: an editor shows each property's description on hover."""
    schema = json.loads(COMMITTED.read_text("utf-8"))
    assert described(schema) == []


def shape_errors(tree: dict) -> list[str]:
    """meshgen's own refusals of the spec's shape and values (E1xx), before any cross-reference check."""
    loaded = load(dump_yaml(tree).encode(), "fleet.yaml")
    return [d.format() for d in loaded.diagnostics if d.is_error]


@seed(20261203)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tree=mutants())
def test_meshgen_and_its_schema_agree(tree, validator):
    """What the JSON Schema refuses, meshgen refuses (no silent coercion of '8080' or yes); what meshgen
    accepts, the schema accepts. meshgen alone also checks DNS names, CIDRs, durations and cross-field
    rules the schema cannot state, so the other two directions are not required."""
    schema_errors = [e.message for e in validator.iter_errors(tree)]
    meshgen_errors = shape_errors(tree)
    assert not (schema_errors and not meshgen_errors), f"the schema refuses what meshgen accepts: {schema_errors}"
