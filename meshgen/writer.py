"""Plan and apply an emitted tree onto ``out/``: the only module that touches the disk.

``plan(tree, out_dir)`` compares the tree with the disk and returns the changes; it never
writes. ``sync(tree, out_dir, mode)`` is the one entry point for the three modes: CHECK and
DIFF stop after planning (``Plan.changes`` / ``Plan.diff()``), WRITE goes on to ``apply``.
``output_lock(out_dir, mode)`` serialises runs on one output folder (see Concurrency).

Ownership. ``out/.meshgen-owned`` lists, one sorted relative path a line, every file meshgen
wrote; meshgen manages it like any other file of the tree. A file that is not on the previous
list is never overwritten or deleted: if the tree wants its path, ``plan`` raises E501 unless
its bytes are already identical, in which case it is adopted. Listed files that are no longer
rendered are pruned, then folders left empty by the pruning are removed (``rmdir`` only, so a
folder that still holds anything stays).

Paths. Tree paths must be relative, normalised (no ``.``/``..``/empty parts, no backslash),
not reserved (``.meshgen-owned``, ``.meshgen-staging`` and anything under it, ``.meshgen-journal``,
``*.meshgen-tmp``) and must resolve, symlinks followed, inside ``out_dir``; otherwise E502. The
output folder cannot be the file-system root (E502) or a file (E503). Nothing is written outside
``out_dir`` except the address lock (``sync_file``). Every temporary file is created with
``O_CREAT|O_EXCL|O_NOFOLLOW`` under a name no one else chose: a symlink planted anywhere (a
committed one, say) is never written through.

Staging. New bytes go to ``out/.meshgen-staging/``, a folder this run creates (``mkdir``: a symlink
or file at that name is refused with E502) holding a ``.gitignore`` of ``*`` first, so ``git add -A``
never sees what it holds. It holds the temps and the journal, and is removed when the run ends.

Crash contract of ``apply``:
  1. Files equal to the tree are not touched (their mtime stays).
  2. Phase 1 records the folders it will create (``folders``), creates them, writes every new or
     changed file to a temp in the staging folder and fsyncs every temp (from a small thread pool).
     If anything fails, up to and including writing the journal, the temps, the staging folder and
     the created folders are removed and the error re-raised: ``out/`` is byte-for-byte as before.
  3. Phase 2 writes the journal (``journal.json``, atomically) naming each pending replace and
     prune, then ``os.replace``s every temp onto its file (the ownership list last), prunes, and
     removes the journal and the staging folder.
  4. A run killed in phase 1 leaves the staging folder (git-ignored) and possibly empty folders
     (which git does not track); the next ``apply`` removes both. A run killed in phase 2 leaves the
     journal: each file is then old or new, the ownership list still old, and ``plan`` (``check``)
     reports the files not yet replaced as stale. The next ``apply`` rolls it forward first (replaces
     every temp still there, prunes, cleans up), then re-plans from its tree argument.
  A render that fails before ``apply`` never reaches the disk at all.

Concurrency. ``output_lock`` takes an exclusive ``flock`` on the output folder itself for WRITE (it
creates the folder, and removes it again when the run leaves it empty) and a shared one for CHECK and
DIFF; a second run waits for the first, up to ``timeout`` seconds, then fails with E515. Both runs
then succeed, one after the other.
"""

from __future__ import annotations

import contextlib
import difflib
import enum
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from meshgen.diagnostics import Diagnostic, MeshgenError, Span

OWNED = ".meshgen-owned"
STAGING = ".meshgen-staging"
JOURNAL = f"{STAGING}/journal.json"
FOLDERS = f"{STAGING}/folders.json"
OLD_JOURNAL = ".meshgen-journal"  # meshgen 0.1's journal name: still reserved
TMP_SUFFIX = ".meshgen-tmp"
_TEMP_NAME = re.compile(r"[0-9]{6}" + re.escape(TMP_SUFFIX))
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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
    interrupted: bool = False  # a killed render left a journal: out/ is half-applied until the next render

    @property
    def is_clean(self) -> bool:
        return not self.changes

    def diff(self, prefix: str = "") -> str:
        """Unified diff of every change, in path order, with a/<prefix><path> and b/<prefix><path>
        headers (``prefix``: the output folder seen from where the diff is applied, e.g. 'out/')."""
        chunks: list[str] = []
        for change in self.changes:
            old, new = _diff_lines(change.old), _diff_lines(change.new)
            chunks.extend(difflib.unified_diff(old, new, f"a/{prefix}{change.path}", f"b/{prefix}{change.path}"))
        return "".join(chunks)


def sync(tree: dict[str, bytes], out_dir: Path, mode: Mode) -> Plan:
    """Plan, and in WRITE mode apply; CHECK and DIFF write nothing."""
    result = plan(tree, out_dir)
    if mode is Mode.WRITE:
        apply(result, tree, out_dir)
    return result


def sync_file(path: Path, data: bytes, mode: Mode) -> Plan:
    """One file outside out/ (the address lock): planned like a tree file; WRITE replaces it
    atomically through a temp sibling with a fresh name, and only when its bytes change."""
    target = Path(path)
    if target.is_symlink() or target.exists() and not target.is_file():
        what = "a symlink" if target.is_symlink() else "something other than a file"
        raise MeshgenError([Diagnostic("E503", f"cannot write {target}: {what} is there", Span(str(target)),
                                       hint="meshgen writes this file itself: move that away")])
    old = target.read_bytes() if target.is_file() else None
    if old == data:
        return Plan(())
    if mode is Mode.WRITE:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(8)}{TMP_SUFFIX}")
        try:
            _write_temp(temp, data)
            _fsync_file(temp)
            os.replace(temp, target)
        finally:
            _unlink(temp)
        _fsync_folder(target.parent)
    return Plan((Change(str(target), "update" if old is not None else "create", old, data),))


def plan(tree: dict[str, bytes], out_dir: Path) -> Plan:
    root = Path(out_dir)
    _check_root(root)
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
    return Plan(tuple(sorted(changes, key=lambda c: c.path)), interrupted=disk.pending is not None)


def apply(plan: Plan, tree: dict[str, bytes], out_dir: Path) -> None:
    """Write the plan in two phases (see the module docstring); finishes a killed run first."""
    root = Path(out_dir)
    if _recover(root):
        plan = _replan(tree, root)
    writes = [c for c in plan.changes if c.action != "delete"]
    writes.sort(key=lambda c: (c.path == OWNED, c.path))  # the ownership list goes last
    deletes = [c.path for c in plan.changes if c.action == "delete"]
    if not writes and not deletes:
        return
    created: list[Path] = []
    try:
        created += _make_folders(root)  # out/ itself, unless output_lock created it
        staging = _open_staging(root)
        _make_all_folders(root, staging, writes, created)
        replaces = _stage(root, staging, writes)
        _write_journal(root, replaces, deletes)
    except BaseException:
        _discard(root, created)
        raise
    _roll_forward(root, replaces, deletes)


def _replan(tree: dict[str, bytes], root: Path) -> Plan:
    return plan(tree, root)


# --- the output folder ---------------------------------------------------------------------------


@contextlib.contextmanager
def output_lock(out_dir: Path, mode: Mode, timeout: float = 60.0,
                on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold a lock on the output folder for the whole run (plan, apply, and the address lock file).
    WRITE: exclusive, creating the folder (and removing what it created if the run leaves it empty);
    CHECK/DIFF: shared, and nothing when the folder does not exist."""
    root = Path(out_dir)
    _check_root(root)
    if mode is not Mode.WRITE and not root.is_dir():
        yield
        return
    created = _make_folders(root) if mode is Mode.WRITE else []
    try:
        fd = _acquire(root, fcntl.LOCK_EX if mode is Mode.WRITE else fcntl.LOCK_SH, timeout, on_wait)
        try:
            yield
        finally:
            os.close(fd)  # releases the lock
    finally:
        for folder in reversed(created):
            if not _remove_empty(folder):
                break


def _acquire(root: Path, kind: int, timeout: float, on_wait) -> int:
    """flock the folder; retry while another run holds it, or when the folder was replaced meanwhile."""
    deadline, waited = time.monotonic() + timeout, False
    while True:
        if kind == fcntl.LOCK_EX:
            root.mkdir(parents=True, exist_ok=True)  # another run may have removed it, empty, meanwhile
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(fd), os.stat(root)):
                return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise MeshgenError([Diagnostic(
                    "E515", f"another meshgen run is writing {root}; gave up after waiting {timeout:.0f} s",
                    Span(str(root)), hint="wait for it to finish, or stop it")]) from None
            if on_wait and not waited:
                on_wait()
            waited = True
        except FileNotFoundError:
            pass
        os.close(fd)
        time.sleep(0.05)


def _check_root(root: Path) -> None:
    if os.path.realpath(root) == os.path.realpath(os.sep):
        raise MeshgenError([Diagnostic("E502", f"the output folder {root} is the file-system root", Span(str(root)),
                                       hint="render into a folder of its own, e.g. -o out")])
    if root.exists() and not root.is_dir() or any(p.exists() and not p.is_dir() for p in root.parents):
        raise MeshgenError([Diagnostic("E503", f"the output folder {root} is not a folder: a file is in the way",
                                       Span(str(root)), hint="pass a folder with -o, or move the file away")])


# --- planning ------------------------------------------------------------------------------------


class _Disk:
    """Read access to out/, as it is. A pending journal only adds the paths it was replacing and
    pruning to the owned ones (the ownership list is replaced after the other files and before the
    prunes, so it may name neither)."""

    def __init__(self, root: Path):
        self.root = root
        self.pending = _read_journal(root) if root.is_dir() else None

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it is missing or not a regular file."""
        target = self.root / path
        return target.read_bytes() if target.is_file() else None

    def is_blocked(self, path: str) -> bool:
        """True when something other than a folder sits at `path`."""
        target = self.root / path
        return target.exists() and not target.is_dir() or (target.is_symlink() and not target.exists())

    def owned(self) -> set[str]:
        pending = {path for _, path in self.pending[0]} | set(self.pending[1]) if self.pending else set()
        data = self.read(OWNED)
        if data is None:
            return pending
        lines = data.decode("utf-8", errors="replace").splitlines()
        problems = [_path_error(self.root, line, OWNED, Span(str(self.root / OWNED), n)) for n, line in enumerate(lines, 1)]
        _raise_if_any(problems)
        return set(lines) | pending


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
        hint = "move it away, or delete it if it is stale"
        if path == "README.md":  # the fleet summary, over a repository's own README when rendering with -o .
            hint += "; or render with --no-summary, which leaves out the summary README.md"
        return None, _error("E501", disk.root, path, message, hint)
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
    if path in (OWNED, OLD_JOURNAL) or parts[0] == STAGING or parts[-1].endswith(TMP_SUFFIX):
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


def _write_temp(temp: Path, data: bytes) -> None:
    """Create a temp that did not exist (never through a symlink) and write it; not durable until
    ``_fsync_file`` (phase 1 fsyncs all its temps together)."""
    fd = os.open(temp, _CREATE, 0o666)
    with open(fd, "wb") as handle:
        handle.write(data)


def _fsync_file(path: Path) -> None:
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
            _fsync_file(path)
        return
    with ThreadPoolExecutor(max_workers=min(_FSYNC_THREADS, len(paths)), thread_name_prefix="meshgen-fsync") as pool:
        for _ in pool.map(_fsync_file, paths):
            pass


def _open_staging(root: Path) -> Path:
    """Create the staging folder (it must not exist) and its .gitignore."""
    staging = root / STAGING
    try:
        staging.mkdir()
    except FileExistsError:
        raise _staging_in_the_way(staging) from None
    _write_temp(staging / ".gitignore", b"# meshgen's temporary files while it writes this folder\n*\n")
    return staging


def _staging_in_the_way(staging: Path) -> MeshgenError:
    what = "a symlink" if staging.is_symlink() else "something meshgen did not create"
    return MeshgenError([Diagnostic("E502", f"{staging} is {what}; meshgen keeps its temporary files there",
                                    Span(str(staging)), hint="remove it; meshgen creates and removes that folder itself")])


def _make_all_folders(root: Path, staging: Path, writes: list[Change], created: list[Path]) -> None:
    """Record the folders phase 1 will create (for the recovery of a killed run), then create them,
    appending each to ``created`` as it goes."""
    missing = sorted({f for c in writes for f in _missing_folders((root / c.path).parent)}, key=lambda p: len(p.parts))
    if missing:
        _write_temp(root / FOLDERS, json.dumps([str(p.relative_to(root)) for p in missing]).encode())
    for folder in missing:
        folder.mkdir()
        created.append(folder)


def _missing_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    return missing


def _stage(root: Path, staging: Path, writes: list[Change]) -> list[tuple[str, str]]:
    """Phase 1: every new file to a temp in the staging folder, then every temp fsynced (in parallel).
    Returns (temp name, path) pairs; the caller undoes everything on failure."""
    replaces = [(f"{i:06d}{TMP_SUFFIX}", change.path) for i, change in enumerate(writes)]
    for (temp, _), change in zip(replaces, writes):
        _write_temp(staging / temp, change.new)
    _fsync_all([staging / temp for temp, _ in replaces])
    return replaces


def _discard(root: Path, created: list[Path]) -> None:
    """Undo phase 1: the staging folder, then the folders it created (if still empty)."""
    _remove_staging(root)
    for folder in reversed(created):
        _remove_empty(folder)


def _remove_staging(root: Path) -> None:
    staging = root / STAGING
    if not staging.is_dir() or staging.is_symlink():
        return
    with os.scandir(staging) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
    _remove_empty(staging)


def _make_folders(folder: Path) -> list[Path]:
    missing = list(reversed(_missing_folders(folder)))
    for path in missing:
        path.mkdir(exist_ok=True)
    return missing


def _remove_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def _write_journal(root: Path, replaces: list[tuple[str, str]], deletes: list[str]) -> None:
    temp = root / STAGING / f"journal{TMP_SUFFIX}"
    text = json.dumps({"replace": replaces, "delete": deletes}, indent=1, sort_keys=True) + "\n"
    _write_temp(temp, text.encode("utf-8"))
    _fsync_file(temp)
    os.replace(temp, root / JOURNAL)
    _fsync_folder(root / STAGING)


def _read_journal(root: Path) -> tuple[list[tuple[str, str]], list[str]] | None:
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
    problems = [_path_error(root, p, "journal", span) for p in paths if p != OWNED]
    problems += [Diagnostic("E502", f"journal temp name {temp!r} is not allowed", span)
                 for temp, _ in replaces if not _TEMP_NAME.fullmatch(temp)]
    _raise_if_any(problems)
    return replaces, deletes


def _recover(root: Path) -> bool:
    """Finish a killed run: roll a journal forward (True), or drop what a run killed in phase 1 left."""
    if not root.is_dir():
        return False
    journal = _read_journal(root)
    if journal is not None:
        _roll_forward(root, *journal)
        return True
    if (root / STAGING).is_dir():
        folders = root / FOLDERS
        created = json.loads(folders.read_text("utf-8")) if folders.is_file() else []
        _discard(root, [root / f for f in created if not _path_problem(f) and _resolves_inside(root, f)])
    return False


def _roll_forward(root: Path, replaces: list[tuple[str, str]], deletes: list[str]) -> None:
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
        _fsync_folder(folder)
    _unlink(root / JOURNAL)
    _remove_staging(root)
    _fsync_folder(root)


def _prune(root: Path, path: str) -> None:
    target = root / path
    if target.is_symlink() or target.is_file():
        target.unlink()
    folder = target.parent
    while folder != root and root in folder.parents and _remove_empty(folder):
        folder = folder.parent


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


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
