"""The writer's disk primitives: the reserved names in out/, temps created without following symlinks,
fsync, the staging folder, the journal, recovery of a killed run, pruning. Used by ``meshgen.writer``
only (see its docstring for the crash contract these implement)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from typing import TYPE_CHECKING

from meshgen.diagnostics import Diagnostic, MeshgenError, Span

if TYPE_CHECKING:
    from meshgen.writer import Change

OWNED = ".meshgen-owned"
STAGING = ".meshgen-staging"
JOURNAL = f"{STAGING}/journal.json"
FOLDERS = f"{STAGING}/folders.json"
OLD_JOURNAL = ".meshgen-journal"  # meshgen 0.1's journal name: still reserved
TMP_SUFFIX = ".meshgen-tmp"
_TEMP_NAME = re.compile(r"[0-9]{6}" + re.escape(TMP_SUFFIX))
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)



def write_temp(temp: Path, data: bytes) -> None:
    """Create a temp that did not exist (never through a symlink) and write it; not durable until
    ``fsync_file`` (phase 1 fsyncs all its temps together)."""
    fd = os.open(temp, _CREATE, 0o666)
    with open(fd, "wb") as handle:
        handle.write(data)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_FSYNC_THREADS = 8  # fsync releases the GIL: waits on the device overlap


def _fsync_all(paths: list[Path]) -> None:
    """fsync every file, from a small thread pool when there are several; re-raises the first failure."""
    if len(paths) < 2:
        for path in paths:
            fsync_file(path)
        return
    with ThreadPoolExecutor(max_workers=min(_FSYNC_THREADS, len(paths)), thread_name_prefix="meshgen-fsync") as pool:
        for _ in pool.map(fsync_file, paths):
            pass


def open_staging(root: Path) -> Path:
    """Create the staging folder (it must not exist) and its .gitignore."""
    staging = root / STAGING
    try:
        staging.mkdir()
    except FileExistsError:
        raise _staging_in_the_way(staging) from None
    write_temp(staging / ".gitignore", b"# meshgen's temporary files while it writes this folder\n*\n")
    return staging


def _staging_in_the_way(staging: Path) -> MeshgenError:
    what = "a symlink" if staging.is_symlink() else "something meshgen did not create"
    return MeshgenError([Diagnostic("E502", f"{staging} is {what}; meshgen keeps its temporary files there",
                                    Span(str(staging)), hint="remove it; meshgen creates and removes that folder itself")])


def make_all_folders(root: Path, staging: Path, writes: list[Change], created: list[Path]) -> None:
    """Record the folders phase 1 will create (for the recovery of a killed run), then create them,
    appending each to ``created`` as it goes."""
    missing = sorted({f for c in writes for f in _missing_folders((root / c.path).parent)}, key=lambda p: len(p.parts))
    if missing:
        write_temp(root / FOLDERS, json.dumps([str(p.relative_to(root)) for p in missing]).encode())
    for folder in missing:
        folder.mkdir()
        created.append(folder)


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    return missing


def stage(root: Path, staging: Path, writes: list[Change]) -> list[tuple[str, str]]:
    """Phase 1: every new file to a temp in the staging folder, then every temp fsynced (in parallel).
    Returns (temp name, path) pairs; the caller undoes everything on failure."""
    replaces = [(f"{i:06d}{TMP_SUFFIX}", change.path) for i, change in enumerate(writes)]
    for (temp, _), change in zip(replaces, writes):
        write_temp(staging / temp, change.new)
    _fsync_all([staging / temp for temp, _ in replaces])
    return replaces


def discard(root: Path, created: list[Path]) -> None:
    """Undo phase 1: the staging folder, then the folders it created (if still empty)."""
    _remove_staging(root)
    for folder in reversed(created):
        remove_empty(folder)


def _remove_staging(root: Path) -> None:
    staging = root / STAGING
    if not staging.is_dir() or staging.is_symlink():
        return
    with os.scandir(staging) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
    remove_empty(staging)


def make_folders(folder: Path) -> list[Path]:
    missing = list(reversed(_missing_folders(folder)))
    for path in missing:
        path.mkdir(exist_ok=True)
    return missing


def remove_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def write_journal(root: Path, replaces: list[tuple[str, str]], deletes: list[str]) -> None:
    temp = root / STAGING / f"journal{TMP_SUFFIX}"
    text = json.dumps({"replace": replaces, "delete": deletes}, indent=1, sort_keys=True) + "\n"
    write_temp(temp, text.encode("utf-8"))
    fsync_file(temp)
    os.replace(temp, root / JOURNAL)
    fsync_folder(root / STAGING)


def read_journal(root: Path) -> tuple[list[tuple[str, str]], list[str]] | None:
    staging = root / STAGING
    if staging.is_symlink() or staging.exists() and not staging.is_dir():
        raise _staging_in_the_way(staging)
    journal = root / JOURNAL
    if not journal.is_file():
        return None
    try:
        data = json.loads(journal.read_text("utf-8"))
        replaces = [(str(temp), str(path)) for temp, path in data["replace"]]
        deletes = list(data["delete"])
    except (ValueError, KeyError, TypeError) as exc:
        message = f"the journal of an interrupted write cannot be read ({exc})"
        raise MeshgenError([Diagnostic("E504", message, Span(str(journal)), hint=f"inspect out/ and remove {STAGING}/")])
    span = Span(str(journal))
    paths = [path for _, path in replaces] + deletes
    problems = [path_error(root, p, "journal", span) for p in paths if p != OWNED]
    problems += [Diagnostic("E502", f"journal temp name {temp!r} is not allowed", span)
                 for temp, _ in replaces if not _TEMP_NAME.fullmatch(temp)]
    raise_if_any(problems)
    return replaces, deletes


def recover(root: Path) -> bool:
    """Finish a killed run: roll a journal forward (True), or drop what a run killed in phase 1 left."""
    if not root.is_dir():
        return False
    journal = read_journal(root)
    if journal is not None:
        roll_forward(root, *journal)
        return True
    if (root / STAGING).is_dir():
        folders = root / FOLDERS
        created = json.loads(folders.read_text("utf-8")) if folders.is_file() else []
        discard(root, [root / f for f in created if not _path_problem(f) and _resolves_inside(root, f)])
    return False


def roll_forward(root: Path, replaces: list[tuple[str, str]], deletes: list[str]) -> None:
    """Phase 2 (also recovery): replace, prune, then drop the journal and the staging folder. Idempotent."""
    folders = set()
    for temp, path in replaces:
        source, target = root / STAGING / temp, root / path
        if source.is_file() and not source.is_symlink():
            os.replace(source, target)
            folders.add(target.parent)
    for path in deletes:
        _prune(root, path)
    for folder in sorted(folders):
        fsync_folder(folder)
    unlink(root / JOURNAL)
    _remove_staging(root)
    fsync_folder(root)


def _prune(root: Path, path: str) -> None:
    target = root / path
    if target.is_symlink() or target.is_file():
        target.unlink()
    folder = target.parent
    while folder != root and root in folder.parents and remove_empty(folder):
        folder = folder.parent


def unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def fsync_folder(folder: Path) -> None:
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


# --- names in out/ ----------------------------------------------------------------------------------


def path_error(root: Path, path, what: str, span: Span | None = None) -> Diagnostic | None:
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
    if path in (OWNED, OLD_JOURNAL) or parts[0] == STAGING or parts[-1].endswith(TMP_SUFFIX):
        return "the name is reserved for meshgen's own bookkeeping"
    return ""


def _resolves_inside(root: Path, path: str) -> bool:
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, path))
    return os.path.commonpath([base, target]) == base and target != base


def raise_if_any(problems) -> None:
    found = [p for p in problems if p]
    if found:
        raise MeshgenError(found)
