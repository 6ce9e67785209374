"""The fleet picture: Mermaid and DOT outputs are structurally valid and show what the spec says."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import main
from meshgen.graph import Ids, render_graph, to_svg, topology
from meshgen.pipeline import read_spec, resolve_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"

SAFE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
MERMAID_RESERVED = {"end", "subgraph", "graph", "flowchart", "class", "classDef", "style", "click", "default",
                    "linkStyle", "direction"}
_LABEL = r'"[^"]*"'
_MERMAID_NODE = re.compile(rf"(?P<id>\w+)(?:\[{_LABEL}\]|\(\[{_LABEL}\]\)|\{{\{{{_LABEL}\}}\}}|\[\({_LABEL}\)\])\Z")
_MERMAID_EDGE = re.compile(rf"(?P<a>\w+) (?:-->|-\.->|---)(?:\|{_LABEL}\|)? (?P<b>\w+)\Z")
_MERMAID_SUBGRAPH = re.compile(rf"subgraph (?P<id>\w+)\[{_LABEL}\]\Z")


def check_mermaid(text: str) -> tuple[set[str], set[str], list[tuple[str, str]]]:
    """A small structural validator for the Mermaid subset meshgen writes; returns (nodes, subgraphs, edges)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] in ("flowchart LR", "graph LR"), lines[0]
    nodes, groups, edges, depth, classes = set(), set(), [], 0, []
    for line in lines[1:]:
        if m := _MERMAID_SUBGRAPH.match(line):
            groups.add(m["id"])
            depth += 1
        elif line == "end":
            depth -= 1
            assert depth >= 0, "an `end` without its `subgraph`"
        elif m := _MERMAID_NODE.match(line):
            assert m["id"] not in nodes, f"node {m['id']} declared twice"
            nodes.add(m["id"])
        elif m := _MERMAID_EDGE.match(line):
            edges.append((m["a"], m["b"]))
        elif line.startswith("classDef "):
            assert re.fullmatch(r"classDef \w+ [^;]+", line), line
        elif line.startswith("class "):
            classes.extend(line.split()[1].split(","))
        else:
            raise AssertionError(f"not a line of the flowchart subset: {line!r}")
    assert depth == 0, "unbalanced subgraph/end"
    for ident in nodes | groups:
        assert SAFE_ID.match(ident) and ident not in MERMAID_RESERVED, ident
    assert not nodes & groups, "a node and a subgraph share an id"
    for a, b in edges:
        assert a in nodes | groups and b in nodes | groups, (a, b)
    assert set(classes) <= nodes
    return nodes, groups, edges


_DOT_STRING = r'"(?:[^"\\]|\\.)*"'
_DOT_ATTRS = rf"\[(?:\w+=(?:{_DOT_STRING}|[\w.#]+)(?:, )?)*\]"
_DOT_NODE = re.compile(rf"(?P<id>\w+) {_DOT_ATTRS};\Z")
_DOT_EDGE = re.compile(rf"(?P<a>\w+) -> (?P<b>\w+) (?P<attrs>{_DOT_ATTRS});\Z")


def check_dot(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """A small structural validator for the DOT meshgen writes: blocks, statements, declared endpoints."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0] == "digraph fleet {" and lines[-1] == "}"
    nodes, edges, clusters, stack = set(), [], {}, []
    for line in lines[1:-1]:
        if m := re.fullmatch(r"subgraph (cluster_\w+) \{", line):
            clusters[m[1]] = set()
            stack.append(m[1])
        elif line == "}":
            assert stack, "unbalanced braces"
            stack.pop()
        elif re.fullmatch(rf"(graph|node|edge) {_DOT_ATTRS};", line) or re.fullmatch(rf"label={_DOT_STRING};", line):
            continue
        elif m := _DOT_NODE.match(line):
            nodes.add(m["id"])
            for name in stack:
                clusters[name].add(m["id"])
        elif m := _DOT_EDGE.match(line):
            edges.append((m["a"], m["b"]))
            for attr, end in (("lhead", m["b"]), ("ltail", m["a"])):
                if found := re.search(rf"{attr}=(\w+)", m["attrs"]):
                    assert end in clusters.get(found[1], ()), f"{attr} {found[1]} does not hold {end}"
        else:
            raise AssertionError(f"not a DOT statement: {line!r}")
    assert not stack, "unbalanced braces"
    for a, b in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


@pytest.fixture(scope="module")
def model():
    return resolve_model(read_spec(EXAMPLE))


def test_mermaid_for_the_example_parses(model):
    nodes, groups, edges = check_mermaid(render_graph(model, "mermaid"))
    assert {"mesh_prod", "mesh_staging", "net_prod_net_us_east", "net_prod_net_us_west", "net_staging_net_eu"} <= groups
    assert {"cluster_prod_west_2", "root_corp_root", "root_staging_root", "svc_prod_payments_ledger"} <= nodes
    assert ("cluster_prod_west_2", "cluster_prod_west_1") in edges  # remote -> its primary
    assert ("svc_prod_payments_ledger", "mesh_staging") in edges  # export to a mesh
    assert ("svc_staging_catalog_search", "cluster_prod_east_1") in edges  # export to a cluster


def test_mermaid_shows_hosts_consumers_roles_and_trust(model):
    text = render_graph(model, "mermaid")
    assert '|"ledger.payments.global<br/>as checkout/checkout"|' in text
    assert '|"search.catalog.global<br/>as shop/frontend"|' in text
    assert "remote of prod-west-1" in text and "primary, us-east1/us-east1-b" in text
    assert 'root_corp_root -.->|"signs"| mesh_prod' in text
    assert 'root_staging_root -.->|"trusted via bundle"| mesh_prod' in text
    assert "gateway eastwest.prod-west-1.corp.example:15443" in text


def test_dot_for_the_example_parses(model):
    text = render_graph(model, "dot")
    nodes, edges = check_dot(text)
    assert ("svc_prod_payments_ledger", "mesh_staging__anchor") in edges
    assert "cluster_prod_east_1" in nodes


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dot_parses_with_pydot(model):
    pydot = pytest.importorskip("pydot")
    [graph] = pydot.graph_from_dot_data(render_graph(model, "dot"))
    assert graph.get_name() == "fleet"
    names = {s.get_name() for s in graph.get_subgraphs()}
    assert names == {"cluster_mesh_prod", "cluster_mesh_staging"}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_dot_is_accepted_by_graphviz(model):
    result = subprocess.run(["dot", "-Tsvg"], input=render_graph(model, "dot").encode(), capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert b"<svg" in to_svg(render_graph(model, "dot"))


def test_svg_without_graphviz_is_a_clear_error(model):
    from meshgen.diagnostics import MeshgenError

    with pytest.raises(MeshgenError) as caught:
        to_svg(render_graph(model, "dot"), executable="no-such-graphviz-dot")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E511" and "not on PATH" in diagnostic.message


def test_graph_is_deterministic(model):
    assert render_graph(model, "mermaid") == render_graph(model, "mermaid")
    assert topology(model).edges == topology(model).edges


def test_ids_are_safe_and_collision_free():
    ids = Ids()
    a, b = ids("net", "a--b", "c"), ids("net", "a", "b--c")
    assert a != b and SAFE_ID.match(a) and SAFE_ID.match(b)
    assert ids("net", "a--b", "c") == a


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_command(fmt):
    result = CliRunner().invoke(main, ["graph", str(EXAMPLE), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.stdout == render_graph(resolve_model(read_spec(EXAMPLE)), fmt)


def test_graph_command_svg_without_dot(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(main, ["graph", str(EXAMPLE), "--format", "svg"])
    assert result.exit_code == 4
    assert "E511" in result.output and "Graphviz" in result.output


def test_graph_command_writes_a_file(tmp_path):
    out = tmp_path / "fleet.mmd"
    result = CliRunner().invoke(main, ["graph", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("flowchart LR\n")


def test_the_order_of_consumers_does_not_change_the_picture_or_the_readme(tmp_path):
    """Issue 14.9: the order of an export's `to` list changed out/README.md's edges."""
    from meshgen.pipeline import Options, build

    two = ("      - mesh: staging\n        serviceAccounts: [checkout/checkout]\n",
           "      - mesh: staging\n        namespaces: [ops]\n")
    text = EXAMPLE.read_text()
    assert text.count(two[0]) == 1
    outputs = []
    for order in (two, two[::-1]):
        spec = tmp_path / f"{len(outputs)}" / "fleet.yaml"
        spec.parent.mkdir()
        spec.write_text(text.replace(two[0], "".join(order)))
        model = resolve_model(read_spec(spec))
        readme = build(Options(spec=spec)).tree["README.md"].decode()
        picture = readme[readme.index("```mermaid"):readme.index("```\n", readme.index("```mermaid") + 3)]
        outputs.append((render_graph(model, "mermaid"), render_graph(model, "dot"), picture))
    assert outputs[0] == outputs[1]
    assert "from ops/*" in outputs[0][0] and "as checkout/checkout" in outputs[0][0]
