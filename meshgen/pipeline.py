"""The stages in order: load -> check -> resolve -> render -> validate -> emit. Pure; no disk writes.

``build`` returns the whole output tree in memory; only ``meshgen.writer`` touches ``out/``. Each
stage reports its start to an optional ``progress`` callback (the CLI prints it on a terminal).
"""

from __future__ import annotations

import gc
import posixpath
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from meshgen.addresses import LOCK_NAME, allocate_fleet, check_limits, format_lock
from meshgen.checks import run_checks
from meshgen.diagnostics import Diagnostic, MeshgenError, Severity, Span, raise_if_errors
from meshgen.model import FleetModel
from meshgen.resolve import resolve
from meshgen.spec.loader import MAX_BYTES, Loaded, load
from meshgen.spec.positions import Positions, with_paths

Progress = Callable[[str], None]
STDIN = Path("-")
SUMMARY = "README.md"  # out/README.md, the fleet summary


def _silent(stage: str) -> None:
    pass


@dataclass(frozen=True)
class Options:
    spec: Path  # '-': standard input, whose bytes the CLI reads into ``spec_data``
    out: Path = Path("out")
    validate_output: bool = True
    lock: Path | None = None  # the address lock; default meshgen.lock beside the spec
    summary: bool = True  # write out/README.md
    spec_data: bytes | None = None

    @property
    def lock_path(self) -> Path | None:
        return self.lock or default_lock(self.spec)


def default_lock(spec: Path) -> Path | None:
    """meshgen.lock beside a spec that is a regular file; None for standard input, a pipe or a
    device (``/dev/stdin`` would put the lock in /dev): then the lock must be named (``--lock``)."""
    if spec == STDIN or Path(spec).exists() and not Path(spec).is_file():
        return None
    return Path(spec).with_name(LOCK_NAME)


def spec_name(spec: Path) -> str:
    """How diagnostics name the spec."""
    return "<stdin>" if spec == STDIN else str(spec)


@dataclass
class Build:
    model: FleetModel
    tree: dict[str, bytes]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lock_text: str = ""  # the address lock this build used; the CLI writes it beside the spec


def read_spec(path: Path, data: bytes | None = None, progress: Progress = _silent) -> Loaded:
    """Load and check a spec (``data``: its bytes, when already read); raise MeshgenError with every
    located error found."""
    progress(f"load {spec_name(path)}")
    loaded = load(read_spec_bytes(path) if data is None else data, spec_name(path))
    raise_if_errors(loaded.diagnostics)
    progress("check")
    loaded.diagnostics = with_paths(loaded.diagnostics + run_checks(loaded.fleet, loaded.positions), loaded.positions)
    raise_if_errors(loaded.diagnostics)
    return loaded


def read_spec_bytes(path: Path) -> bytes:
    """At most one byte more than the loader accepts (``/dev/zero`` is a file too)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        hint = f"no spec at {path}: `meshgen init {path}` writes a commented starter" \
            if isinstance(exc, FileNotFoundError) else ""
        raise MeshgenError([Diagnostic("E501", f"cannot read spec: {exc.strerror}", Span(str(path)), hint=hint)]) from None


def resolve_model(loaded: Loaded, addresses: dict[str, str] | None = None, lock: Path | None = None) -> FleetModel:
    """The model; without ``addresses``, they come from ``lock`` (default: the lock beside the spec;
    read, never written)."""
    if addresses is None:
        addresses, _ = allocate_addresses(loaded, lock or default_lock(Path(loaded.positions.file)))
    model = resolve(loaded.fleet, loaded.positions, addresses)
    for path in (("settings", "gitops"), ("metadata",), ()):  # cited by renderers, and not named-list items
        if model.origin(*path).file != loaded.positions.file:  # no origin: '<spec>', no line
            model.origins[path] = loaded.positions.span(path)  # the nearest parent the spec spells
    return model


def read_lock(path: Path | None) -> str:
    """The lock file's text; a missing lock is empty (first render), and so is no lock at all."""
    if path is None:
        return ""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise MeshgenError([Diagnostic("E501", f"cannot read lock file: {exc.strerror}", Span(str(path)))]) from None
    except UnicodeDecodeError:
        raise MeshgenError([Diagnostic("E303", "lock file is not UTF-8 text", Span(str(path), 1, 1))]) from None


def allocate_addresses(loaded: Loaded, lock_path: Path | None) -> tuple[dict[str, str], str]:
    """Imported host -> address and the next lock text. Raises MeshgenError on E301-E303."""
    lock, problems = allocate_fleet(loaded.fleet, loaded.positions, read_lock(lock_path), str(lock_path or LOCK_NAME))
    raise_if_errors(with_paths(problems, loaded.positions))
    return {e.host: str(e.address) for e in lock.entries}, format_lock(lock)


@dataclass
class Checked:
    model: FleetModel
    lock_text: str  # the next address lock
    diagnostics: list[Diagnostic]  # warnings
    positions: Positions


def checked_model(options: Options, progress: Progress = _silent) -> Checked:
    """Spec checks, address allocation against the lock (read, never written), budgets. Raises
    MeshgenError on errors."""
    loaded = read_spec(options.spec, options.spec_data, progress)
    progress("resolve")
    addresses, lock_text = allocate_addresses(loaded, options.lock_path)
    model = resolve_model(loaded, addresses)
    diagnostics = list(loaded.diagnostics) + with_paths(check_limits(model), loaded.positions)
    raise_if_errors(diagnostics)
    return Checked(model, lock_text, diagnostics, loaded.positions)


def validate_spec(options: Options, progress: Progress = _silent) -> list[Diagnostic]:
    """What `meshgen validate` reports; writes nothing."""
    return checked_model(options, progress).diagnostics


def build(options: Options, progress: Progress = _silent) -> Build:
    """Everything up to the in-memory tree. Raises MeshgenError on any error diagnostic."""
    with gc_paused():
        return _build(options, progress)


def _build(options: Options, progress: Progress) -> Build:
    from meshgen.emit import emit
    from meshgen.render import render

    checked = checked_model(options, progress)
    diagnostics = checked.diagnostics + with_paths(placement_warnings(checked.model, options.out), checked.positions)
    progress("render")
    resources = render(checked.model)
    if options.validate_output:
        from meshgen.conformance import validate_resources

        progress(f"validate {len(resources):,} objects")
        diagnostics += with_paths(validate_resources(resources, release_of(checked.model)), checked.positions,
                                  rendered=True)
        raise_if_errors(diagnostics)
    progress("emit")
    tree = emit(resources)
    if not options.summary:
        tree.pop(SUMMARY, None)
    return Build(checked.model, tree, diagnostics, checked.lock_text)


PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org", "example", "test", "invalid", "localhost")


def placement_warnings(model: FleetModel, out: Path) -> list[Diagnostic]:
    """W209: ``settings.gitops.path`` is not where ``out`` sits in its Git repository, so the controllers
    would read an empty folder; W210: the repository URL is a placeholder (RFC 2606 names)."""
    gitops = model.fleet.settings.gitops
    found = []
    inside = _repo_path(Path(out))
    if inside is not None and posixpath.normpath(gitops.path.strip() or ".") != inside:
        found.append(Diagnostic("W209", f"settings.gitops.path is '{gitops.path}' but the output folder is "
                                        f"'{inside}' in its Git repository: Argo CD and Flux would read the wrong folder",
                                model.origin("settings", "gitops", "path"), Severity.WARNING,
                                hint=f"set `path: {inside}`, or render into `{gitops.path}`"))
    host = urlsplit(gitops.repoURL).hostname or gitops.repoURL.split("@")[-1].split(":")[0]
    if any(host == d or host.endswith("." + d) for d in PLACEHOLDER_DOMAINS):
        found.append(Diagnostic("W210", f"settings.gitops.repoURL '{gitops.repoURL}' is a placeholder: the GitOps "
                                        "objects point at a repository that does not exist",
                                model.origin("settings", "gitops", "repoURL"), Severity.WARNING,
                                hint="set it to the repository Argo CD or Flux reads"))
    return found


def _repo_path(out: Path) -> str | None:
    """``out`` relative to the top of the Git work tree holding it (``.`` for the top), or None."""
    folder = out.absolute()
    for top in (folder, *folder.parents):
        if (top / ".git").exists():
            return posixpath.normpath(folder.relative_to(top).as_posix())
    return None


def release_of(model: FleetModel):
    """Resource -> the Istio minor release its objects are checked against: its cluster's, for files
    under ``clusters/<cluster>/``; the default release for the fleet-level GitOps files."""
    minors = {name: f"1.{model.istio_minor(name)}" for name in model.clusters}
    default = f"1.{int(model.fleet.settings.istioVersion.split('.')[1])}"

    of_path: dict[str, str] = {}  # a million objects live in a few thousand files

    def minor_of(resource) -> str:
        path = resource.path
        found = of_path.get(path)
        if found is None:
            found = of_path[path] = minors.get(path.split("/", 2)[1], default) if path.startswith("clusters/") \
                else default
        return found

    return minor_of


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a build runs.

    Loading, rendering and emitting allocate hundreds of thousands of dicts, lists, tuples and
    Resources that stay alive and form no cycles; every full collection triggered meanwhile
    traverses the whole heap again, for nothing (at the default benchmark size, 214,055 objects:
    render+emit 3.2 s -> 1.8 s, and about 1 s of loading). Reference counting
    still frees everything that is not in a cycle; the collector resumes on exit if it was running."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
