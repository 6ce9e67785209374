"""The located loader: YAML with positions -> pydantic Fleet, every failure a located diagnostic."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from meshgen.diagnostics import Span
from meshgen.spec.loader import MAX_BYTES, MAX_DEPTH, _parse, find_secret_material, load
from meshgen.spec.positions import format_path

FILE = "fleet.yaml"

SPEC = """\
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata:
  name: unit
networks:
  - name: vpc
rootsOfTrust:
  - name: corp-root
    store: {name: vault-pki}
    certificatePath: pki/corp-root/ca
meshes:
  - name: prod
    trustDomain: prod.corp.example
    rootOfTrust: corp-root
    secretStore: {name: vault-istio}
clusters:
  - name: east-1
    network: vpc
    mesh: prod
    locality: {region: us-east1, zone: us-east1-b}
    podCIDRs: [10.1.0.0/16]
    serviceCIDRs: [10.101.0.0/20]
"""


def edited(*pairs: tuple[str, str]) -> str:
    text = SPEC
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def diagnose(text: str | bytes) -> list[tuple[str, int, int]]:
    data = text.encode() if isinstance(text, str) else text
    return [(d.code, d.span.line, d.span.col) for d in load(data, FILE).diagnostics]


def messages(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [d.format() for d in load(data, FILE).diagnostics]


# --- positions ---------------------------------------------------------------------------------


def parsed(text: str):
    """(data, positions) as the loader builds them."""
    tree, positions, problem = _parse(text, FILE)
    assert problem is None, problem
    return tree, positions


def test_the_base_spec_loads():
    loaded = load(SPEC.encode(), FILE)
    assert loaded.diagnostics == []
    assert loaded.fleet is not None and loaded.fleet.clusters[0].locality.zone == "us-east1-b"


def test_positions_of_nested_keys_and_values():
    positions = parsed(SPEC)[1]
    assert positions.key_span(("clusters", 0, "locality")) == Span(FILE, 20, 5)
    assert positions.span(("clusters", 0, "locality")) == Span(FILE, 20, 15)  # the flow mapping
    assert positions.key_span(("clusters", 0, "locality", "zone")) == Span(FILE, 20, 34)
    assert positions.span(("clusters", 0, "locality", "zone")) == Span(FILE, 20, 40)
    assert positions.span(("clusters", 0, "podCIDRs", 0)) == Span(FILE, 21, 16)
    assert positions.span(("rootsOfTrust", 0, "store", "name")) == Span(FILE, 9, 19)
    assert positions.span(("meshes", 0)) == Span(FILE, 12, 5)  # a list item: its first key


def test_span_falls_back_to_the_nearest_existing_parent():
    positions = parsed(SPEC)[1]
    assert positions.span(("clusters", 0, "gateways", 0, "address")) == Span(FILE, 17, 5)
    assert positions.span(("clusters", 7)) == positions.span(("clusters",))
    assert positions.span(("nothing", "here")) == Span(FILE, 1, 1)


def test_merge_keys_are_located_where_they_are_spelled():
    text = "base: &b\n  a: 1\n  b: 2\nitem:\n  <<: *b\n  b: 3\n"
    positions = parsed(text)[1]
    assert positions.span(("item", "a")) == Span(FILE, 2, 6)  # merged from the anchor
    assert positions.span(("item", "b")) == Span(FILE, 6, 6)  # its own


def test_format_path():
    assert format_path(("clusters", 2, "network")) == "clusters[2].network"
    assert format_path((0, "a")) == "[0].a"
    assert format_path(()) == ""


# --- schema errors ------------------------------------------------------------------------------


def test_missing_field_points_at_the_mapping_that_lacks_it():
    text = edited(("    mesh: prod\n", ""))
    assert messages(text) == ["fleet.yaml:17:5: error[E102]: 'clusters[0].mesh' is required (add 'mesh' here)"]


def test_missing_field_in_a_flow_mapping_points_at_the_flow_mapping():
    text = edited(("store: {name: vault-pki}", "store: {kind: SecretStore}"))
    assert diagnose(text) == [("E102", 9, 12)]


def test_missing_top_level_section_points_at_the_document():
    text = edited(("networks:\n  - name: vpc\n", ""))
    assert diagnose(text) == [("E102", 1, 1)]


def test_unknown_key_did_you_mean():
    text = edited(("    trustDomain:", "    trustDomian:"))
    found = messages(text)
    assert "fleet.yaml:13:5: error[E101]: unknown key 'trustDomian' in meshes[0] (did you mean 'trustDomain'?)" in found
    assert ("fleet.yaml:13:5: error[E102]: 'meshes[0].trustDomain' is required "
            "('trustDomian' here looks like a misspelling of 'trustDomain')") in found


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    text = edited(("    locality:", "    owner: team-a\n    locality:"))
    (message,) = messages(text)
    assert message.startswith("fleet.yaml:20:5: error[E101]: unknown key 'owner' in clusters[0] (allowed keys: ")
    assert "controlPlane, federationGateways, gateways, istioVersion, locality, mesh, name, network" in message


def test_wrong_type_says_what_was_expected_and_found():
    assert messages(edited(("podCIDRs: [10.1.0.0/16]", "podCIDRs: 10.1.0.0/16"))) == [
        "fleet.yaml:21:15: error[E103]: 'clusters[0].podCIDRs': expected a list, found '10.1.0.0/16'"
    ]
    assert messages(edited(("metadata:\n  name: unit\n", "metadata: unit\n"))) == [
        "fleet.yaml:3:11: error[E103]: 'metadata': expected a mapping, found 'unit'"
    ]


def test_an_unquoted_date_is_shown_as_a_date_with_a_hint():
    (message,) = messages(edited(("  name: unit\n", "  name: 2024-01-01\n")))
    assert "expected a string, found the date 2024-01-01 (YAML reads an unquoted date as a date: quote it)" in message


def test_every_error_of_the_stage_is_reported():
    text = edited(("  name: unit\n", "  name: Unit\n"), ("    mesh: prod\n", ""), ("[10.1.0.0/16]", "[10.1.0.1/16]"))
    assert [c for c, _, _ in diagnose(text)] == ["E103", "E102", "E103"]
    assert load(text.encode(), FILE).fleet is None


# --- YAML reading --------------------------------------------------------------------------------


def test_duplicate_key_points_at_the_second_occurrence():
    text = edited(("    network: vpc\n", "    network: vpc\n    network: vpc\n"))
    assert messages(text) == [
        "fleet.yaml:19:5: error[E003]: duplicate key: key 'network' appears twice in this mapping "
        "(remove one of them, or merge their values)"
    ]


def test_unclosed_quote_points_at_where_it_opens():
    text = edited(("  name: unit\n", '  name: "unit\n'))
    assert diagnose(text) == [("E002", 4, 9)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ("E005", 1, 1)),
        ("# only a comment\n", ("E005", 1, 1)),
        ("---\n...\n", ("E005", 1, 1)),
        ("- a\n- b\n", ("E006", 1, 1)),
        ("just text\n", ("E006", 1, 1)),
        ("a: [1, 2\n", ("E002", 2, 1)),
        ("a: *nowhere\n", ("E002", 1, 4)),
        ("a:\n\t- b\n", ("E002", 2, 1)),
        ("a: 1\nb: '\x07'\n", ("E002", 2, 5)),
        ("a: 1\n---\nb: 2\n", ("E007", 3, 1)),
    ],
)
def test_yaml_problems_are_located(text: str, expected):
    assert diagnose(text) == [expected]


def test_a_single_document_with_separators_is_one_document():
    assert diagnose("---\n" + SPEC + "...\n") == []
    assert diagnose(SPEC + "---\n") == []


def test_multiple_documents_are_refused_at_the_second():
    (message,) = messages(SPEC + "---\n" + SPEC)
    assert message.startswith("fleet.yaml:24:1: error[E007]: spec holds 2 YAML documents; one Fleet is expected")


def test_non_utf8_is_located_at_the_byte():
    data = edited(("  - name: vpc\n", "  - name: vpc\n    description: caf\xe9\n")).encode("latin-1")
    assert messages(data) == [
        "fleet.yaml:7:21: error[E001]: spec is not valid UTF-8: byte 0xe9 cannot be decoded (save the file as UTF-8)"
    ]


def test_a_byte_order_mark_is_accepted():
    assert diagnose(b"\xef\xbb\xbf" + SPEC.encode()) == []


def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_bound():
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for n in range(1, 10):
        bomb += f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]\n"  # 10**9 nodes once expanded
    found = load(bomb.encode(), FILE)
    assert [(d.code, d.span.line) for d in found.diagnostics] == [("E004", 7)] and found.fleet is None
    assert "more than 2,000,000 nodes once YAML aliases are expanded" in found.diagnostics[0].message


def test_a_small_alias_bomb_is_refused_by_ratio():
    """About 1.2 million nodes from 73 written: below the absolute bound, far above 10x what is written."""
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for n in range(1, 6):
        bomb += f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]\n"
    (found,) = load(bomb.encode(), FILE).diagnostics
    assert (found.code, found.span.line, found.span.col) == ("E004", 6, 10)  # the first use of the largest anchor
    assert found.message == "YAML aliases expand this spec's 73 nodes to 1,234,573, more than 10 times"


def test_many_nodes_without_aliases_are_not_an_alias_bomb():
    """The old fixed cap (200,000 nodes) refused large fleets that use no alias at all."""
    text = SPEC + "extra: [" + ", ".join(["0"] * 250_000) + "]\n"
    assert [d.code for d in load(text.encode(), FILE).diagnostics] == ["E101"]


def test_moderate_aliases_pass():
    text = SPEC.replace("  - name: vpc\n", "  - &net {name: vpc}\n") + "unused: [" + ", ".join(["*net"] * 1000) + "]\n"
    assert [d.code for d in load(text.encode(), FILE).diagnostics] == ["E101"]


def test_deep_nesting_is_refused():
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    assert diagnose(deep) == [("E004", 1, 4 + MAX_DEPTH)]
    very_deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    assert [c for c, _, _ in diagnose(very_deep)] == ["E004"]


def test_aliases_cannot_nest_deeper_than_the_limit():
    chain = "a0: &a0 " + "[" * 40 + "]" * 40 + "\n" + "a1: &a1 " + "[" * 30 + "*a0" + "]" * 30 + "\n"
    assert diagnose(chain) == [("E004", 2, 39)]  # at the alias


@pytest.mark.parametrize("text", [
    "a: " + "[" * 30_000 + "]" * 30_000 + "\n",  # the C composer recursed once per level: a segmentation fault
    "a:\n" + "- " * 30_000 + "x\n",
    "a: " + "{b: " * 30_000 + "x" + "}" * 30_000 + "\n",
])
def test_a_nesting_bomb_is_refused_in_a_child_process(tmp_path, text):
    """Run in a child process: on the old loader this crashed the interpreter itself."""
    spec = tmp_path / "bomb.yaml"
    spec.write_text(text)
    command = [sys.executable, "-c", "from meshgen.cli import main; main()", "validate", str(spec)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"{spec}:") and "error[E004]" in done.stderr


def test_a_spec_over_the_size_limit_is_located_where_the_limit_is_crossed():
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB
    data = line * (MAX_BYTES // 1024) + b"a: 1\n"
    (found,) = load(data, FILE).diagnostics
    assert (found.code, found.span.line, found.span.col) == ("E001", MAX_BYTES // 1024 + 1, 1)
    assert "larger than 12 MiB" in found.message


@pytest.mark.parametrize("text, expected", [
    ('"a[b": 1\n', ("E101", 1, 1)),  # pydantic's union tags contain '[': the key was taken for one
    ("n: " + "9" * 4400 + "\n", ("E008", 1, 4)),
    ("n: !!int abc\n", ("E008", 1, 4)),
    ("n: !!float [1]\n", ("E008", 1, 4)),
    ("n: !!binary aGVsbG8=\n", ("E008", 1, 4)),
    ("n: !!python/object/new:dict {a: 1}\n", ("E008", 1, 4)),
    ("n: !!set {a: null}\n", ("E008", 1, 4)),
    ("n: !custom x\n", ("E008", 1, 4)),
    ("? [a]\n: 1\n", ("E008", 1, 3)),
    ("a: &a [*a]\n", ("E008", 1, 8)),
    ("b: &b {x: 1}\nc: {<<: [*b, 1]}\n", ("E008", 2, 9)),
])
def test_input_the_loader_cannot_read_is_a_located_error(text, expected):
    assert diagnose(SPEC + text)[-1:] == [(expected[0], expected[1] + SPEC.count("\n"), expected[2])]


def test_explicit_core_tags_are_read():
    text = SPEC.replace("  name: unit\n", "  name: !!str unit\n").replace("[10.1.0.0/16]", "[!!str 10.1.0.0/16]")
    assert diagnose(text) == []


def test_a_misspelt_key_is_reported_before_the_missing_key_it_causes():
    text = edited(("    trustDomain: prod.corp.example\n", "    trustDomian: prod.corp.example\n"))
    assert messages(text) == [
        "fleet.yaml:13:5: error[E101]: unknown key 'trustDomian' in meshes[0] (did you mean 'trustDomain'?)",
        "fleet.yaml:13:5: error[E102]: 'meshes[0].trustDomain' is required "
        "('trustDomian' here looks like a misspelling of 'trustDomain')",
    ]


def test_a_wrong_value_keeps_its_hint_out_of_the_message():
    (found,) = load(edited(("[10.1.0.0/16]", "[10.1.0.1/16]")).encode(), FILE).diagnostics
    assert found.message == "'clusters[0].podCIDRs[0]': '10.1.0.1/16' is not a CIDR block"
    assert found.hint == "10.1.0.1/16 has host bits set"
    (found,) = load(edited(("- name: vpc", "- name: 7")).encode(), FILE).diagnostics
    assert (found.message, found.hint) == ("'networks[0].name': expected a string, found 7", "")


def test_no_did_you_mean_for_a_secret_key():
    text = edited(("    certificatePath: pki/corp-root/ca\n", "    certificatePath: pki/corp-root/ca\n    token: x\n"))
    unknown = next(d for d in load(text.encode(), FILE).diagnostics if d.code == "E101")
    assert unknown.hint.startswith("allowed keys: ")


@pytest.mark.parametrize(
    "data",
    [b"\x00", b"[", b"{{", b": :", b"? [a]\n: 1\n", b"!!python/object:os.system x\n", b"a: !!binary aGVsbG8=\n",
     b"apiVersion: !custom x\n", b"1: 2\n", b"null: 1\n", b"\xff\xfe", b"a: &a [*a]\n", b"%YAML 1.1\n---\na: 1\n"],
)
def test_load_never_raises(data: bytes):
    found = load(data, FILE)
    assert found.fleet is None
    assert found.diagnostics and all(d.is_error and d.span.line >= 1 for d in found.diagnostics)


# --- secret material ------------------------------------------------------------------------------


def secrets_in(text: str) -> list[str]:
    return [d.message for d in find_secret_material(*parsed(textwrap.dedent(text)))]


def test_pem_blocks_are_refused():
    assert secrets_in("""\
        a: |
          -----BEGIN RSA PRIVATE KEY-----
          MIIB
          -----END RSA PRIVATE KEY-----
        b: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"
        """) == [
        "value of 'a' looks like a PEM private key; the spec holds references only",
        "value of 'b' looks like a PEM certificate; the spec holds references only",
    ]


def test_tokens_and_key_data_are_refused():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig"
    blob = "QUJD" * 60
    assert secrets_in(f"t: {jwt}\nlist: [{blob}]\n") == [
        "value of 't' looks like a JSON web token; the spec holds references only",
        "value of 'list[0]' looks like base64 key or certificate data; the spec holds references only",
    ]


@pytest.mark.parametrize("key", ["token", "password", "privateKey", "client-key-data", "tls.key", "kubeconfig", "apiKey"])
def test_secret_key_names_are_refused_at_the_key(key: str):
    (found,) = find_secret_material(*parsed(f"outer:\n  {key}: x\n"))
    assert found.code == "E210" and found.span == Span(FILE, 2, 3)
    assert found.message == f"key 'outer.{key}' names secret material; the spec holds references only"


def test_references_to_secrets_are_fine():
    assert secrets_in("""\
        certificatePath: pki/corp-root/ca
        remoteSecretPath: istio/{mesh}/{cluster}/kubeconfig
        property: root-cert.pem
        description: the token service and its private key live in vault
        short: QUJDRA==
        """) == []


def test_secret_material_is_reported_with_schema_errors():
    text = edited(("    certificatePath: pki/corp-root/ca\n", "    certificatePath: pki/corp-root/ca\n    password: hunter2\n"))
    assert sorted(diagnose(text)) == [("E101", 11, 5), ("E210", 11, 5)]


def test_yaml_the_c_parser_refuses_is_read_by_the_pure_parser():
    """libyaml rejects `[2001:db8::]` in flow context (YAML 1.1 scanning); YAML 1.2 allows it."""
    text = SPEC.replace("metadata:\n  name: unit\n", "metadata:\n  name: unit\nsettings: {exportSuffix: [2001:db8::]}\n")
    assert text != SPEC
    (message,) = messages(text)
    assert "error[E103]: 'settings.exportSuffix': expected a string" in message  # parsed, then schema-checked


def test_alias_and_merge_keys_share_content_and_keep_positions():
    from meshgen.spec.loader import load

    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n"
    loaded = load(text.encode(), "f.yaml")
    assert loaded.positions.span(("use", "y")).line == 4
    assert loaded.positions.key_span(("use", "x")).line == 1  # where the anchor spells it


def test_too_many_nodes_without_aliases_does_not_blame_aliases(monkeypatch):
    import meshgen.spec.loader as loader
    from meshgen.spec.tree import Limits

    monkeypatch.setattr(loader, "LIMITS", Limits(depth=64, nodes=1000, ratio=10, floor=100))
    (found,) = load(("x: [" + ", ".join(["0"] * 2000) + "]\n").encode(), FILE).diagnostics
    assert found.code == "E004" and found.message == "spec has more than 1,000 nodes"
    assert (found.span.line, found.span.col) == (1, 5 + 3 * 997)  # the 1,001st node: the 998th item


def test_a_duplicate_key_names_its_path():
    (found,) = load(edited(("    network: vpc\n", "    network: vpc\n    network: vpc\n")).encode(), FILE).diagnostics
    assert (found.code, found.path) == ("E003", "clusters[0].network")
