"""Plan and apply an emitted tree onto ``out/``: the only package that touches the disk (its primitives
are in ``writer.disk``).

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
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from meshgen.diagnostics import Diagnostic, MeshgenError, Span
from meshgen.writer import disk as fs
from meshgen.writer.disk import JOURNAL, OWNED, STAGING, TMP_SUFFIX  # noqa: F401  (the writer's reserved names)


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
            fs.write_temp(temp, data)
            fs.fsync_file(temp)
            os.replace(temp, target)
        finally:
            fs.unlink(temp)
        fs.fsync_folder(target.parent)
    return Plan((Change(str(target), "update" if old is not None else "create", old, data),))


def plan(tree: dict[str, bytes], out_dir: Path) -> Plan:
    root = Path(out_dir)
    _check_root(root)
    fs.raise_if_any([fs.path_error(root, path, "rendered file") for path in tree])
    disk = _Disk(root)
    full = {**tree, OWNED: "".join(f"{path}\n" for path in sorted(tree)).encode("utf-8")}
    owned = disk.owned()
    changes, problems = [], []
    for path in sorted(full):
        change, problem = _compare(disk, path, full[path], path in owned or path == OWNED)
        changes += [change] if change else []
        problems += [problem] if problem else []
    problems += _blocked_folders(disk, full)
    fs.raise_if_any(problems)
    for path in sorted(owned - full.keys()):
        old = disk.read(path)
        if old is not None:
            changes.append(Change(path, "delete", old, None))
    return Plan(tuple(sorted(changes, key=lambda c: c.path)), interrupted=disk.pending is not None)


def apply(plan: Plan, tree: dict[str, bytes], out_dir: Path) -> None:
    """Write the plan in two phases (see the module docstring); finishes a killed run first."""
    root = Path(out_dir)
    if fs.recover(root):
        plan = _replan(tree, root)
    writes = [c for c in plan.changes if c.action != "delete"]
    writes.sort(key=lambda c: (c.path == OWNED, c.path))  # the ownership list goes last
    deletes = [c.path for c in plan.changes if c.action == "delete"]
    if not writes and not deletes:
        return
    created: list[Path] = []
    try:
        created += fs.make_folders(root)  # out/ itself, unless output_lock created it
        staging = fs.open_staging(root)
        fs.make_all_folders(root, staging, writes, created)
        replaces = fs.stage(root, staging, writes)
        fs.write_journal(root, replaces, deletes)
    except BaseException:
        fs.discard(root, created)
        raise
    fs.roll_forward(root, replaces, deletes)


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
    created = fs.make_folders(root) if mode is Mode.WRITE else []
    try:
        fd = _acquire(root, fcntl.LOCK_EX if mode is Mode.WRITE else fcntl.LOCK_SH, timeout, on_wait)
        try:
            yield
        finally:
            os.close(fd)  # releases the lock
    finally:
        for folder in reversed(created):
            if not fs.remove_empty(folder):
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
        self.pending = fs.read_journal(root) if root.is_dir() else None

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
        problems = [fs.path_error(self.root, line, OWNED, Span(str(self.root / OWNED), n)) for n, line in enumerate(lines, 1)]
        fs.raise_if_any(problems)
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


def _error(code: str, root: Path, path: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, Span(str(root / path)), hint=hint)


def _diff_lines(data: bytes | None) -> list[str]:
    lines = (data or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


