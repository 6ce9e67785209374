"""What a render takes away: the objects that disappear from each bundle between the tree on disk and
the tree a render writes. Pure: it reads the bytes a writer plan already holds.

GitOps controllers prune what disappears from the folder they sync (Argo CD's ``prune``, Flux's
``prune: true``), so the person committing a render must see it before it lands: ``render``,
``check`` and ``diff`` list these on standard error (and under ``removed`` in the JSON document).
Namespaces are listed too, marked as kept: meshgen annotates every Namespace so that neither
controller deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from meshgen.render.common import KEEP

_SAFE = YAML(typ="safe", pure=True)  # YAML 1.2 rules, as meshgen writes


@dataclass(frozen=True, order=True)
class Removed:
    """An object that leaves a folder a controller syncs (``clusters/<cluster>`` or ``gitops``)."""

    folder: str
    kind: str
    namespace: str
    name: str
    kept: bool  # annotated so that neither controller prunes it

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        note = " (kept: the controllers do not prune it)" if self.kept else ""
        return f"{self.folder}: {self.kind} {where}{note}"


def removed_objects(old: dict[str, bytes | None], new: dict[str, bytes | None]) -> list[Removed]:
    """Objects in the old bytes of changed files that no new bytes hold, per folder, sorted.

    ``old`` and ``new`` map each changed path to its bytes before and after (None: absent); files that
    do not change hold the same objects on both sides and need not be given. Only the documents whose
    text is not on both sides of a folder are read: the YAML reader is slow (the 178 MB first render of
    the default benchmark fleet was not read back in 15 minutes), and a one-line change leaves all
    but a few documents of a file as they were."""
    before = _documents_by_folder(old)
    if not before:  # a first render: nothing was there to remove (and 700 MB at xl not to split)
        return []
    after = _documents_by_folder(new, set(before))
    gone = _objects({folder: texts - after.get(folder, set()) for folder, texts in before.items()})
    if not gone:  # documents only added or kept
        return []
    came = _objects({folder: after.get(folder, set()) - before[folder] for folder in {r.folder for r in gone.values()}})
    return sorted(removed for key, removed in gone.items() if key not in came)


def _documents_by_folder(files: dict[str, bytes | None], folders: set[str] | None = None) -> dict[str, set[bytes]]:
    """folder -> the texts of the documents of its files (split at the ``---`` lines meshgen writes), for
    the ``folders`` given or all."""
    found: dict[str, set[bytes]] = {}
    for path, data in files.items():
        folder = _folder(path)
        if data is None or folder is None or not path.endswith(".yaml") or path.endswith("kustomization.yaml"):
            continue
        if folders is not None and folder not in folders:
            continue
        found.setdefault(folder, set()).update(data.split(b"\n---\n"))
    return found


def _objects(documents: dict[str, set[bytes]]) -> dict[tuple, Removed]:
    found = {}
    for folder, texts in documents.items():
        for text in texts:
            for doc in _documents(text):
                meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
                annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
                kept = all(annotations.get(k) == v for k, v in KEEP.items())
                item = Removed(folder, str(doc.get("kind", "")), str(meta.get("namespace", "")),
                               str(meta.get("name", "")), kept)
                key = (folder, str(doc.get("apiVersion", "")).rpartition("/")[0], item.kind, item.namespace, item.name)
                found[key] = item
    return found


def _folder(path: str) -> str | None:
    """``clusters/<cluster>`` for a bundle file (Helm values excepted), ``gitops`` for the wiring."""
    parts = path.split("/")
    if parts[0] == "clusters" and len(parts) > 2 and parts[2] != "helm":
        return f"clusters/{parts[1]}"
    return "gitops" if parts[0] == "gitops" else None


def _documents(data: bytes) -> list[dict]:
    try:
        return [d for d in _SAFE.load_all(data.decode("utf-8")) if isinstance(d, dict)]
    except (YAMLError, UnicodeDecodeError):
        return []  # a file meshgen cannot read back is not one it wrote: nothing to report
