"""Plan and apply an emitted tree onto ``out/``: the only module that touches the disk.

``plan(tree, out_dir)`` compares the tree with the disk and returns the changes; it never
writes. ``sync(tree, out_dir, mode)`` is the one entry point for the three modes: CHECK and
DIFF stop after planning (``Plan.changes`` / ``Plan.diff()``), WRITE goes on to ``apply``.

Ownership. ``out/.meshgen-owned`` lists, one sorted relative path a line, every file meshgen
wrote; meshgen manages it like any other file of the tree. A file that is not on the previous
list is never overwritten or deleted: if the tree wants its path, ``plan`` raises E501 unless
its bytes are already identical, in which case it is adopted. Listed files that are no longer
rendered are pruned, then folders left empty by the pruning are removed (``rmdir`` only, so a
folder that still holds anything stays).

Paths. Tree paths must be relative, normalised (no ``.``/``..``/empty parts, no backslash),
not reserved (``.meshgen-owned``, ``.meshgen-journal``, ``*.meshgen-tmp``) and must resolve,
symlinks followed, inside ``out_dir``; otherwise E502. Nothing is written outside ``out_dir``.

Crash contract of ``apply``:
  1. Files equal to the tree are not touched (their mtime stays).
  2. Phase 1 writes every new or changed file to a hidden sibling ``.<name>.meshgen-tmp``, then
     fsyncs every temp (from a small thread pool), all before the journal is written. If anything
     fails, up to and including writing the journal, the temps and the folders phase 1 created
     are removed and the error re-raised: ``out/`` is byte-for-byte as before.
  3. Phase 2 first writes ``out/.meshgen-journal`` (atomically) naming the pending replaces and
     prunes, then ``os.replace``s every temp onto its file (the ownership list last), prunes,
     and removes the journal.
  4. If phase 2 is interrupted, the journal stays. The next ``plan`` reads the disk as if the
     journal had been rolled forward (it still writes nothing), and the next ``apply`` rolls
     it forward first: it replaces every file whose temp still exists, prunes, removes the
     journal, and re-plans from its tree argument before writing.
  A kill during phase 1 leaves only hidden temps; the next apply of the same paths overwrites
  them. A render that fails before ``apply`` never reaches the disk at all.
"""

from __future__ import annotations

import difflib
import enum
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from meshgen.diagnostics import Diagnostic, MeshgenError, Span

OWNED = ".meshgen-owned"
JOURNAL = ".meshgen-journal"
TMP_SUFFIX = ".meshgen-tmp"


class Mode(enum.Enum):
    WRITE = "write"
    CHECK = "check"
    DIFF = "diff"


@dataclass(frozen=True)
class Change:
    path: str
    action: str  # "create" | "update" | "delete"
    old: bytes | None = None
    new: bytes | None = None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]

    @property
    def is_clean(self) -> bool:
        return not self.changes

    def diff(self) -> str:
        """Unified diff of every change, in path order, with a/<path> and b/<path> headers."""
        chunks: list[str] = []
        for change in self.changes:
            old, new = _diff_lines(change.old), _diff_lines(change.new)
            chunks.extend(difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}"))
        return "".join(chunks)


def sync(tree: dict[str, bytes], out_dir: Path, mode: Mode) -> Plan:
    """Plan, and in WRITE mode apply; CHECK and DIFF write nothing."""
    result = plan(tree, out_dir)
    if mode is Mode.WRITE:
        apply(result, tree, out_dir)
    return result


def sync_file(path: Path, data: bytes, mode: Mode) -> Plan:
    """One file outside out/ (the address lock): planned like a tree file; WRITE replaces it
    atomically through a temp sibling, and only when its bytes change."""
    target = Path(path)
    if target.exists() and not target.is_file():
        raise MeshgenError([Diagnostic("E503", f"cannot write {target}: something other than a file is there",
                                       Span(str(target)))])
    old = target.read_bytes() if target.is_file() else None
    if old == data:
        return Plan(())
    if mode is Mode.WRITE:
        temp = _temp_path(target)
        try:
            _write_temp(temp, data)
            _fsync_file(temp)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _fsync_folder(target.parent)
    return Plan((Change(str(target), "update" if old is not None else "create", old, data),))


def plan(tree: dict[str, bytes], out_dir: Path) -> Plan:
    root = Path(out_dir)
    _raise_if_any([_path_error(root, path, "rendered file") for path in tree])
    disk = _Disk(root)
    full = {**tree, OWNED: "".join(f"{path}\n" for path in sorted(tree)).encode("utf-8")}
    owned = disk.owned()
    changes, problems = [], []
    for path in sorted(full):
        change, problem = _compare(disk, path, full[path], path in owned or path == OWNED)
        changes += [change] if change else []
        problems += [problem] if problem else []
    problems += _blocked_folders(disk, full)
    _raise_if_any(problems)
    for path in sorted(owned - full.keys()):
        old = disk.read(path)
        if old is not None:
            changes.append(Change(path, "delete", old, None))
    return Plan(tuple(sorted(changes, key=lambda c: c.path)))


def apply(plan: Plan, tree: dict[str, bytes], out_dir: Path) -> None:
    """Write the plan in two phases (see the module docstring); rolls a pending journal forward first."""
    root = Path(out_dir)
    if _recover(root):
        plan = _replan(tree, root)
    writes = [c for c in plan.changes if c.action != "delete"]
    writes.sort(key=lambda c: (c.path == OWNED, c.path))  # the ownership list goes last
    deletes = [c.path for c in plan.changes if c.action == "delete"]
    if not writes and not deletes:
        return
    staged = _stage(root, writes)
    replaces = [c.path for c in writes]
    try:
        _write_journal(root, replaces, deletes)
    except BaseException:
        _discard(*staged)
        raise
    _roll_forward(root, replaces, deletes)


def _replan(tree: dict[str, bytes], root: Path) -> Plan:
    return plan(tree, root)


# --- planning ------------------------------------------------------------------------------------


class _Disk:
    """Read access to out/, seen as if a pending journal had already been rolled forward."""

    def __init__(self, root: Path):
        self.root = root
        self.overlay: dict[str, bytes | None] = {}
        journal = _read_journal(root)
        if journal:
            replaces, deletes = journal
            for path in replaces:
                temp = _temp_path(root / path)
                if temp.is_file():
                    self.overlay[path] = temp.read_bytes()
            self.overlay.update({path: None for path in deletes})

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it is missing or not a regular file."""
        if path in self.overlay:
            return self.overlay[path]
        target = self.root / path
        return target.read_bytes() if target.is_file() else None

    def is_blocked(self, path: str) -> bool:
        """True when something other than a folder sits at `path`."""
        target = self.root / path
        if path in self.overlay:
            return self.overlay[path] is not None
        return target.exists() and not target.is_dir() or (target.is_symlink() and not target.exists())

    def owned(self) -> set[str]:
        data = self.read(OWNED)
        if data is None:
            return set()
        lines = data.decode("utf-8", errors="replace").splitlines()
        problems = [_path_error(self.root, line, OWNED, Span(str(self.root / OWNED), n)) for n, line in enumerate(lines, 1)]
        _raise_if_any(problems)
        return set(lines)


def _compare(disk: _Disk, path: str, new: bytes, owned: bool) -> tuple[Change | None, Diagnostic | None]:
    old = disk.read(path)
    if old == new:
        return None, None  # unchanged, or an identical unowned file that is adopted
    if disk.is_blocked(path) and old is None:
        return None, _error("E503", disk.root, path, f"cannot write {path}: something other than a file is there")
    if old is None:
        return Change(path, "create", None, new), None
    if not owned:
        message = f"refusing to overwrite {path}: it exists in the output folder but meshgen does not own it"
        return None, _error("E501", disk.root, path, message, "move it away, or delete it if it is stale")
    return Change(path, "update", old, new), None


def _blocked_folders(disk: _Disk, full: dict[str, bytes]) -> list[Diagnostic]:
    folders = {path.rsplit("/", i)[0] for path in full for i in range(1, path.count("/") + 1)}
    return [
        _error("E503", disk.root, folder, f"cannot create folder {folder}: a file is in the way")
        for folder in sorted(folders)
        if disk.is_blocked(folder)
    ]


def _path_error(root: Path, path, what: str, span: Span | None = None) -> Diagnostic | None:
    problem = _path_problem(path)
    if not problem and not _resolves_inside(root, path):
        problem = "it resolves outside the output folder (through a symlink)"
    if not problem:
        return None
    return Diagnostic("E502", f"{what} path {path!r} is not allowed: {problem}", span or Span(str(root)))


def _path_problem(path) -> str:
    if not isinstance(path, str) or not path:
        return "it must be a non-empty string"
    if path.startswith("/") or "\\" in path or "\x00" in path:
        return "it must be a relative POSIX path"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it must be normalised, without '.', '..' or empty parts"
    if path in (OWNED, JOURNAL) or parts[-1].endswith(TMP_SUFFIX):
        return "the name is reserved for meshgen's own bookkeeping"
    return ""


def _resolves_inside(root: Path, path: str) -> bool:
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, path))
    return os.path.commonpath([base, target]) == base and target != base


def _error(code: str, root: Path, path: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, Span(str(root / path)), hint=hint)


def _raise_if_any(problems) -> None:
    found = [p for p in problems if p]
    if found:
        raise MeshgenError(found)


def _diff_lines(data: bytes | None) -> list[str]:
    lines = (data or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


# --- applying ------------------------------------------------------------------------------------


def _temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{TMP_SUFFIX}")


def _write_temp(temp: Path, data: bytes) -> None:
    """Write a temp; not durable until ``_fsync_file`` (phase 1 fsyncs all its temps together)."""
    with open(temp, "wb") as handle:
        handle.write(data)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_FSYNC_THREADS = 8  # fsync releases the GIL: waits on the device overlap


def _fsync_all(paths: list[Path]) -> None:
    """fsync every file, from a small thread pool when there are several; re-raises the first failure."""
    if len(paths) < 2:
        for path in paths:
            _fsync_file(path)
        return
    with ThreadPoolExecutor(max_workers=min(_FSYNC_THREADS, len(paths)), thread_name_prefix="meshgen-fsync") as pool:
        for _ in pool.map(_fsync_file, paths):
            pass


def _stage(root: Path, writes: list[Change]) -> tuple[list[Path], list[Path]]:
    """Phase 1: every new file to its temp sibling, then every temp fsynced (in parallel); on any
    failure undo everything and re-raise. The journal is only written once all temps are durable."""
    temps: list[Path] = []
    created: list[Path] = []
    try:
        for change in writes:
            target = root / change.path
            created += _make_folders(target.parent)
            temps.append(_temp_path(target))
            _write_temp(temps[-1], change.new)
        _fsync_all(temps)
    except BaseException:
        _discard(temps, created)
        raise
    return temps, created


def _discard(temps: list[Path], created: list[Path]) -> None:
    """Undo phase 1: remove the temps, then the folders it created (if still empty)."""
    for temp in temps:
        temp.unlink(missing_ok=True)
    for folder in reversed(created):
        _remove_empty(folder)


def _make_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _remove_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def _write_journal(root: Path, replaces: list[str], deletes: list[str]) -> None:
    journal = root / JOURNAL
    temp = _temp_path(journal)
    text = json.dumps({"replace": replaces, "delete": deletes}, indent=1, sort_keys=True) + "\n"
    try:
        with open(temp, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, journal)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(root)


def _read_journal(root: Path) -> tuple[list[str], list[str]] | None:
    journal = root / JOURNAL
    if not journal.is_file():
        return None
    try:
        data = json.loads(journal.read_text("utf-8"))
        replaces, deletes = list(data["replace"]), list(data["delete"])
    except (ValueError, KeyError, TypeError) as exc:
        message = f"the journal of an interrupted write cannot be read ({exc})"
        raise MeshgenError([Diagnostic("E504", message, Span(str(journal)), hint="inspect out/ and remove it")])
    span = Span(str(journal))
    _raise_if_any([_path_error(root, p, "journal", span) for p in [*replaces, *deletes] if p != OWNED])
    return replaces, deletes


def _recover(root: Path) -> bool:
    """Roll a pending journal forward; True when there was one."""
    journal = _read_journal(root)
    if journal is None:
        return False
    _roll_forward(root, *journal)
    return True


def _roll_forward(root: Path, replaces: list[str], deletes: list[str]) -> None:
    """Phase 2 (also recovery): replace, prune, then drop the journal. Idempotent."""
    folders = set()
    for path in replaces:
        target = root / path
        temp = _temp_path(target)
        if temp.is_file():
            os.replace(temp, target)
            folders.add(target.parent)
    for path in deletes:
        _prune(root, path)
    for folder in sorted(folders):
        _fsync_folder(folder)
    (root / JOURNAL).unlink(missing_ok=True)
    _fsync_folder(root)


def _prune(root: Path, path: str) -> None:
    target = root / path
    if target.is_symlink() or target.is_file():
        target.unlink()
    folder = target.parent
    while folder != root and root in folder.parents and _remove_empty(folder):
        folder = folder.parent


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
