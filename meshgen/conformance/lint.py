"""Findings as meshgen Diagnostics: for rendered Resources, for a written output tree, and kubeconform."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from meshgen.conformance.finding import WARNING, Finding
from meshgen.conformance.schemas import DEFAULT_MINOR, KUBECONFORM_TEMPLATE
from meshgen.conformance.validate import validate_object, validate_values
from meshgen.diagnostics import Diagnostic, Severity, Span

TREE_ROOTS = ("clusters", "gitops")
ISTIO_VERSION_ANNOTATION = "meshgen.dev/istio-version"
SKIPPED_FILES = ("kustomization.yaml",)
# Helm values file name pattern (inside a helm/ folder) -> validate_values name.
VALUES_FILES = (("*gateway*values*.yaml", "gateway"),)
_DOCUMENT_START = re.compile(r"^---(\s.*)?$")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")  # a finding's path: keys and [indexes]


class KubeconformNotFound(FileNotFoundError):
    """kubeconform is not on PATH."""


def validate_resources(resources, minor_of=None) -> list[Diagnostic]:
    """E402 (error) / W402 (warning) for every finding on every rendered Resource, checked against the
    Istio release ``minor_of(resource)`` returns (``1.28``; the default release when not given).

    Findings depend on the body only (and, for a non-manifest document, on the values schema its
    path selects), and renderers share one body object between many resources (a federation import
    is one body for every importing primary: about 30,000 distinct bodies for 214,000 resources at
    the benchmark's default size). So findings are computed once per distinct body object, keyed by
    ``id(resource.body)``. Invariant this relies on: a body is never mutated after render (emit
    dumps the very objects validated here). The memo holds a reference to each body for the length
    of the call. Diagnostics stay per resource: each names its resource (``describe()``) and its span.
    """
    # id(body) -> its findings, () when none (shared: the memo then allocates nothing per body, which
    # keeps the garbage collector's work down on a large render). ``alive`` holds every memoised body
    # until the call returns, so no id in the memo can be reused by a newly allocated object.
    manifests: dict[tuple, list | tuple] = {}  # (id(body), minor) -> findings
    documents: dict[tuple, list | tuple] = {}  # (id(body), values name, minor) -> findings
    alive = []
    out = []
    for resource in resources:
        body = resource.body
        minor = minor_of(resource) if minor_of else DEFAULT_MINOR
        if resource.manifest:
            found = manifests.get((id(body), minor))
            if found is None:
                found = manifests[(id(body), minor)] = validate_object(body, minor=minor) or ()
                alive.append(body)
        else:
            name = values_name(resource.path)
            found = documents.get((id(body), name, minor))
            if found is None:
                found = documents[(id(body), name, minor)] = (validate_values(name, body, minor) if name else None) or ()
                alive.append(body)
        if found:
            span = resource.origin or Span(resource.path)
            subject = resource.describe()
            out += [_diagnostic(subject, f, span) for f in found]
    return out


def values_name(path: str) -> str:
    """The values schema name of a Helm values file under a ``helm/`` folder, or ''."""
    parts = Path(path).parts
    if "helm" not in parts[:-1]:
        return ""
    return next((name for pattern, name in VALUES_FILES if fnmatch.fnmatch(parts[-1], pattern)), "")


def _diagnostic(subject: str, finding: Finding, span: Span) -> Diagnostic:
    severity = Severity.WARNING if finding.severity == WARNING else Severity.ERROR
    where = f" {finding.path}:" if finding.path else ""
    return Diagnostic(
        "W402" if severity is Severity.WARNING else "E402",
        f"{subject}:{where} {finding.message} [{finding.rule}]",
        span,
        severity,
        path=finding.path,
    )


def lint_tree(out_dir: Path) -> list[Diagnostic]:
    """Validate every YAML document of a written tree (clusters/ and gitops/), located by file:line,
    each cluster's against the Istio release its bundle's kustomization.yaml names."""
    out_dir = Path(out_dir)
    releases = bundle_releases(out_dir)
    out = []
    for path in tree_files(out_dir, include_values=True):
        relative = path.relative_to(out_dir).as_posix()
        name = values_name(relative)
        minor = releases.get(cluster_of(relative), DEFAULT_MINOR)
        for line, lines in _chunks(path):
            document = _load(lines)
            if document is None:
                continue
            if name:
                findings, subject = validate_values(name, document or {}, minor), relative
            else:
                findings, subject = validate_object(document, minor=minor), _describe(document, relative)
            located = _KeyLocator(lines, line) if findings else None
            out += [_diagnostic(subject, f, located.span(relative, f.path)) for f in findings]
    return out


class _KeyLocator:
    """1-based line and column of the deepest key of a finding's path (``spec.servers[0].port``) that the
    document holds, read with positions only for documents that have findings (they are few)."""

    def __init__(self, lines: list[str], first_line: int):
        self.offset = first_line - 1
        self.root = YAML(typ="rt", pure=True).load("\n".join(lines))

    def span(self, file: str, path: str) -> Span:
        node, at = self.root, None
        tokens = _PATH_TOKEN.findall(path)
        while tokens:
            node, where, tokens = self._step(node, tokens)
            if where is None:
                break
            at = where
        if at is None:
            line = getattr(getattr(self.root, "lc", None), "line", 0)
            return Span(file, self.offset + line + 1, 1)
        return Span(file, self.offset + at[0] + 1, at[1] + 1)

    @staticmethod
    def _step(node, tokens):
        key, index = tokens[0]
        if index and isinstance(node, list) and int(index) < len(node):
            return node[int(index)], node.lc.item(int(index)), tokens[1:]
        if key and isinstance(node, dict):
            for n in range(len(tokens), 0, -1):  # keys may hold dots: the longest one that is there
                joined = ".".join(k for k, _ in tokens[:n])
                if all(k for k, _ in tokens[:n]) and joined in node:
                    return node[joined], node.lc.key(joined), tokens[n:]
        return None, None, []


def cluster_of(relative: str) -> str:
    """The cluster folder a tree path belongs to (``clusters/<cluster>/...``), or ''."""
    parts = relative.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "clusters" else ""


def bundle_releases(out_dir: Path) -> dict[str, str]:
    """cluster -> Istio minor release, from the ``meshgen.dev/istio-version`` annotation of each bundle's
    kustomization.yaml (``1.28.3`` counts as ``1.28``); bundles without it use the default release."""
    found = {}
    for path in sorted((out_dir / "clusters").glob(f"*/{SKIPPED_FILES[0]}")):
        for _, document in read_documents(path):
            version = _annotation(document, ISTIO_VERSION_ANNOTATION)
            if isinstance(version, str) and version.count(".") >= 1:
                found[path.parent.name] = ".".join(version.split(".")[:2])
    return found


def _annotation(document, key: str):
    meta = document.get("metadata") if isinstance(document, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return annotations.get(key) if isinstance(annotations, dict) else None


def tree_files(out_dir: Path, include_values: bool) -> list[Path]:
    files = []
    for root in TREE_ROOTS:
        for path in sorted((out_dir / root).rglob("*.yaml")):
            relative = path.relative_to(out_dir).as_posix()
            if path.name in SKIPPED_FILES or ("helm" in Path(relative).parts[:-1] and not (include_values and values_name(relative))):
                continue
            files.append(path)
    return files


def read_documents(path: Path) -> list[tuple[int, object]]:
    """(1-based line of the document's first content line, parsed document) for each non-empty document."""
    return [(start + _leading_blank(lines), document) for start, lines in _chunks(path)
            if (document := _load(lines)) is not None]


def _chunks(path: Path) -> list[tuple[int, list[str]]]:
    """(1-based line where the document's text starts, its lines) for each document of a file."""
    chunks, start, lines = [], 1, []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _DOCUMENT_START.match(text):
            chunks.append((start, lines))
            start, lines = number + 1, []
        else:
            lines.append(text)
    chunks.append((start, lines))
    return chunks


def _load(lines: list[str]):
    return _SAFE.load("\n".join(lines))


_SAFE = YAML(typ="safe", pure=True)  # YAML 1.2 rules; libyaml's reader is YAML 1.1


def _leading_blank(lines: list[str]) -> int:
    count = 0
    for text in lines:
        if text.strip() and not text.lstrip().startswith("#"):
            break
        count += 1
    return count


def _describe(document, relative: str) -> str:
    if not isinstance(document, dict):
        return relative
    meta = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    name = f"{meta['namespace']}/{meta.get('name', '')}" if meta.get("namespace") else meta.get("name", "")
    return f"{document.get('kind', '<no kind>')} {name} in {relative}"


def kubeconform_commands(out_dir: Path, schema_dir: Path, executable: str = "kubeconform") -> list[list[str]]:
    """One kubeconform run per Istio release in the tree: its bundles' files against that release's
    Istio schemas and the shared Kubernetes ones (gitops/ goes with the default release)."""
    out_dir = Path(out_dir)
    releases = bundle_releases(out_dir)
    groups: dict[str, list[str]] = {}
    for path in tree_files(out_dir, include_values=False):
        minor = releases.get(cluster_of(path.relative_to(out_dir).as_posix()), DEFAULT_MINOR)
        groups.setdefault(minor, []).append(str(path))
    commands = []
    for minor, files in sorted(groups.items()):
        locations = [str(Path(schema_dir) / "istio" / minor / KUBECONFORM_TEMPLATE),
                     str(Path(schema_dir) / "kubernetes" / KUBECONFORM_TEMPLATE)]
        commands.append([executable, "-strict", "-summary",
                         *(arg for location in locations for arg in ("-schema-location", location)), *files])
    return commands


def run_kubeconform(out_dir: Path, schema_dir: Path) -> tuple[int, str]:
    """Run kubeconform on the tree's manifests against the repo's schemas; (worst exit code, output)."""
    executable = shutil.which("kubeconform")
    if executable is None:
        raise KubeconformNotFound(
            "kubeconform is not on PATH: install it (https://github.com/yannh/kubeconform) to cross-check "
            "the manifests; meshgen's own checks do not need it"
        )
    status, output = 0, ""
    for command in kubeconform_commands(out_dir, schema_dir, executable):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        status, output = max(status, result.returncode), output + result.stdout + result.stderr
    return status, output
