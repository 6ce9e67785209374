"""The fleet as a picture: one neutral Topology built from the model, written as Mermaid or Graphviz DOT.

What it shows: meshes (groups) holding one group per network they span, clusters (primary or
remote, with the istiod edge from a remote to its primary), east-west gateways, exported services
with an edge per consumer labelled with the exported host and the calling identities, and roots
of trust with the meshes they sign and the meshes that trust them through a trust bundle.

Everything here is pure except ``to_svg``, which runs Graphviz ``dot`` when it is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

from meshgen.diagnostics import Diagnostic, MeshgenError, Span
from meshgen.model import FleetModel

FORMATS = ("mermaid", "dot", "svg")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Node:
    id: str
    label: tuple[str, ...]
    shape: str  # cluster | remote | gateway | service | root


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: tuple[str, ...] = ()
    style: str = "solid"  # solid | dotted | plain (no arrow head)


@dataclass
class Group:
    id: str
    label: str
    nodes: list[Node] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


@dataclass
class Topology:
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)  # outside every group
    edges: list[Edge] = field(default_factory=list)

    def group_ids(self) -> set[str]:
        return {g.id for g in _walk(self.groups)}


def _walk(groups: list[Group]):
    for group in groups:
        yield group
        yield from _walk(group.groups)


class Ids:
    """Readable, collision-free identifiers: kind prefix + name with unsafe characters as '_'."""

    def __init__(self) -> None:
        self._by_key: dict[tuple, str] = {}
        self._taken: set[str] = set()

    def __call__(self, kind: str, *names: str) -> str:
        key = (kind, *names)
        if key not in self._by_key:
            base = _UNSAFE_ID.sub("_", "_".join((kind, *names)))
            ident, n = base, 2
            while ident in self._taken:
                ident, n = f"{base}_{n}", n + 1
            self._taken.add(ident)
            self._by_key[key] = ident
        return self._by_key[key]


# --- model -> topology ---------------------------------------------------------------------


def topology(model: FleetModel) -> Topology:
    ids = Ids()
    topo = Topology()
    for mesh in model.meshes.values():
        topo.groups.append(_mesh_group(model, mesh.name, ids))
    topo.nodes = [Node(ids("root", r), (f"root of trust {r}",), "root") for r in sorted(model.roots)]
    topo.edges = [*_control_plane_edges(model, ids), *_gateway_edges(model, ids), *_export_edges(model, ids),
                  *_trust_edges(model, ids)]
    return topo


def _mesh_group(model: FleetModel, mesh: str, ids: Ids) -> Group:
    spec = model.meshes[mesh]
    group = Group(ids("mesh", mesh), f"mesh {mesh} ({spec.trustDomain})")
    for network in model.mesh_networks(mesh):
        inner = Group(ids("net", mesh, network), f"network {network}")
        for cluster in model.mesh_clusters(mesh):
            if cluster.network == network:
                inner.nodes.append(_cluster_node(model, cluster.name, ids))
                inner.nodes += [Node(ids("gw", cluster.name, g.address, str(g.port)),
                                     (f"gateway {g.address}:{g.port}",), "gateway") for g in cluster.gateways]
        group.groups.append(inner)
    group.nodes = [Node(ids("svc", mesh, e.service.namespace, e.service.name),
                        (f"{e.service.namespace}/{e.service.name}",), "service") for e in model.exports_of(mesh)]
    return group


def _cluster_node(model: FleetModel, name: str, ids: Ids) -> Node:
    cluster = model.clusters[name]
    if model.is_primary(name):
        return Node(ids("cluster", name), (name, f"primary, {model.locality(name)}"), "cluster")
    return Node(ids("cluster", name), (name, f"remote of {cluster.controlPlane.primary}"), "remote")


def _control_plane_edges(model: FleetModel, ids: Ids) -> list[Edge]:
    return [Edge(ids("cluster", c.name), ids("cluster", model.config_cluster(c.name)), ("istiod",), "dotted")
            for c in model.clusters.values() if not model.is_primary(c.name)]


def _gateway_edges(model: FleetModel, ids: Ids) -> list[Edge]:
    return [Edge(ids("cluster", c.name), ids("gw", c.name, g.address, str(g.port)), style="plain")
            for c in model.clusters.values() for g in c.gateways]


def _export_edges(model: FleetModel, ids: Ids) -> list[Edge]:
    """One edge per consumer, in a fixed order whatever the order of the spec's `to` list."""
    edges = []
    for export in model.exports:
        source = ids("svc", export.mesh.name, export.service.namespace, export.service.name)
        targets = [(("cluster", c.cluster) if c.cluster else ("mesh", c.mesh), _callers(c)) for c in export.consumers]
        edges += [Edge(source, ids(*target), (export.host, callers)) for target, callers in sorted(targets)]
    return edges


def _callers(consumer) -> str:
    if consumer.serviceAccounts:
        return "as " + ", ".join(sorted(consumer.serviceAccounts))
    if consumer.namespaces:
        return "from " + ", ".join(f"{ns}/*" for ns in sorted(consumer.namespaces))
    return "any caller"


def _trust_edges(model: FleetModel, ids: Ids) -> list[Edge]:
    edges = [Edge(ids("root", m.rootOfTrust), ids("mesh", m.name), ("signs",), "dotted") for m in model.meshes.values()]
    for mesh in model.meshes.values():
        for bundle in sorted(mesh.trustBundles, key=lambda b: b.mesh):
            peer_root = model.meshes[bundle.mesh].rootOfTrust if bundle.mesh in model.meshes else None
            if peer_root and peer_root != mesh.rootOfTrust:
                edges.append(Edge(ids("root", peer_root), ids("mesh", mesh.name), ("trusted via bundle",), "dotted"))
    return edges


# --- Mermaid -------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "cluster": ('["', '"]'),
    "remote": ('(["', '"])'),
    "gateway": ('{{"', '"}}'),
    "service": ('(["', '"])'),
    "root": ('[("', '")]'),
}
_MERMAID_ARROWS = {"solid": "-->", "dotted": "-.->", "plain": "---"}
_MERMAID_CLASSES = {"remote": "stroke-dasharray: 5 5", "service": "fill:#eef5ff"}


def to_mermaid(topo: Topology) -> str:
    lines = ["flowchart LR"]
    for group in topo.groups:
        _mermaid_group(group, "  ", lines)
    lines += [f"  {_mermaid_node(n)}" for n in topo.nodes]
    for edge in topo.edges:
        arrow = _MERMAID_ARROWS[edge.style]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    nodes = [n for g in _walk(topo.groups) for n in g.nodes] + topo.nodes
    for shape, style in _MERMAID_CLASSES.items():
        members = sorted(n.id for n in nodes if n.shape == shape)
        if members:
            lines += [f"  classDef {shape} {style}", f"  class {','.join(members)} {shape}"]
    return "\n".join(lines) + "\n"


def _mermaid_group(group: Group, indent: str, lines: list[str]) -> None:
    lines.append(f'{indent}subgraph {group.id}["{_mermaid_text((group.label,))}"]')
    for child in group.groups:
        _mermaid_group(child, indent + "  ", lines)
    lines += [f"{indent}  {_mermaid_node(n)}" for n in group.nodes]
    lines.append(f"{indent}end")


def _mermaid_node(node: Node) -> str:
    opening, closing = _MERMAID_SHAPES[node.shape]
    return f"{node.id}{opening}{_mermaid_text(node.label)}{closing}"


def _mermaid_text(lines: tuple[str, ...]) -> str:
    escaped = [s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;") for s in lines]
    return "<br/>".join(escaped)


# --- Graphviz DOT --------------------------------------------------------------------------

_DOT_SHAPES = {
    "cluster": 'shape=box, style="rounded"',
    "remote": 'shape=box, style="rounded,dashed"',
    "gateway": "shape=hexagon",
    "service": 'shape=box, style="rounded,filled", fillcolor="#eef5ff"',
    "root": "shape=cylinder",
}
_DOT_STYLES = {"solid": "", "dotted": ", style=dashed", "plain": ", arrowhead=none"}


def to_dot(topo: Topology) -> str:
    lines = ["digraph fleet {", '  graph [rankdir=LR, compound=true, fontname="Helvetica"];',
             '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    groups = topo.group_ids()
    anchored = {e.source for e in topo.edges} | {e.target for e in topo.edges}
    for group in topo.groups:
        _dot_group(group, "  ", lines, anchored)
    lines += [f"  {_dot_node(n)}" for n in topo.nodes]
    for edge in topo.edges:
        lines.append(f"  {_dot_edge(edge, groups)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_group(group: Group, indent: str, lines: list[str], anchored: set[str]) -> None:
    """A Graphviz cluster; groups that edges reference get an invisible anchor node to attach to."""
    lines.append(f"{indent}subgraph cluster_{group.id} {{")
    lines.append(f"{indent}  label={_dot_string((group.label,))};")
    if group.id in anchored:
        lines.append(f"{indent}  {_anchor(group.id)} [shape=point, style=invis, label=\"\"];")
    for child in group.groups:
        _dot_group(child, indent + "  ", lines, anchored)
    lines += [f"{indent}  {_dot_node(n)}" for n in group.nodes]
    lines.append(f"{indent}}}")


def _dot_node(node: Node) -> str:
    return f"{node.id} [label={_dot_string(node.label)}, {_DOT_SHAPES[node.shape]}];"


def _dot_edge(edge: Edge, groups: set[str]) -> str:
    """An edge to or from a group goes to its invisible anchor, clipped at the group's border."""
    attrs = []
    source, target = edge.source, edge.target
    if source in groups:
        source, attrs = _anchor(source), [*attrs, f"ltail=cluster_{edge.source}"]
    if target in groups:
        target, attrs = _anchor(target), [*attrs, f"lhead=cluster_{edge.target}"]
    if edge.label:
        attrs.append(f"label={_dot_string(edge.label)}")
    text = ", ".join(attrs) + _DOT_STYLES[edge.style]
    return f"{source} -> {target} [{text.lstrip(', ')}];"


def _anchor(group_id: str) -> str:
    return f"{group_id}__anchor"


def _dot_string(lines: tuple[str, ...]) -> str:
    return '"' + "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in lines) + '"'


# --- entry points --------------------------------------------------------------------------


def render_graph(model: FleetModel, fmt: str) -> str:
    """The fleet picture as Mermaid or DOT text (``svg`` goes through ``to_svg(render_graph(m, 'dot'))``)."""
    topo = topology(model)
    return to_mermaid(topo) if fmt == "mermaid" else to_dot(topo)


def to_svg(dot_text: str, executable: str = "dot") -> bytes:
    """Run Graphviz; E511 when it is not installed or fails."""
    found = shutil.which(executable)
    if found is None:
        raise MeshgenError([Diagnostic(
            "E511", f"Graphviz `{executable}` is not on PATH, so the graph cannot be drawn as SVG",
            Span("<graph>"), hint="install Graphviz (e.g. `apt-get install graphviz`), or use --format dot|mermaid")])
    result = subprocess.run([found, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip() or f"exit code {result.returncode}"
        raise MeshgenError([Diagnostic("E511", f"Graphviz dot failed: {message}", Span("<graph>"))])
    return result.stdout


__all__ = ["FORMATS", "Topology", "render_graph", "to_dot", "to_mermaid", "to_svg", "topology"]
