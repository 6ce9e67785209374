"""The command line: flags -> Options, call the library, print diagnostics, pick the exit code.

Output conventions (also in docs/ci.md):
  * stdout carries a command's result (stale paths, a diff, a picture, a table, a schema) or, with
    ``--format json``, one JSON document: ``{"command", "exit_code", "diagnostics", ...}``;
    ``--format github`` prints workflow annotations on stdout;
  * stderr carries human text: text diagnostics, progress (on a terminal), and one summary line per
    command (none with ``--quiet``);
  * global options (``--format``, ``-q``, ``-v``, ``--debug``, ``--max-diagnostics``) are accepted
    before or after the command; ``-`` reads the spec from standard input (then ``--lock`` names
    the address lock) and, as ``-o -``, writes a one-file result to standard output.

Exit codes (also in README.md):
  0  success (validate: spec valid; check: out/ up to date)
  1  check/diff: out/ differs from what the spec renders
  2  the spec has errors (YAML, schema, semantic)
  3  rendered output fails Istio/Kubernetes rules (render invariant)
  4  output or IO error (cannot read the spec, unsafe path, unowned file in the way)
  5  internal error (a bug: rerun with --debug for the traceback)
  2  also: usage error (unknown option or command; click)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import click

from meshgen.diagnostics import Diagnostic, MeshgenError, Report, Span

EXIT_OK, EXIT_DRIFT, EXIT_SPEC, EXIT_RENDER, EXIT_IO, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
DEFAULT_SPEC = Path("fleet.yaml")
DASH = Path("-")
DIAGNOSTIC_FORMATS = ("text", "json", "github")


class Context:
    """What one run says: diagnostics (printed at once, or kept for the JSON document), the
    command's result fields, and the summary line."""

    fail_on_change = False  # render --fail-on-change: exit 1 when files were written

    def __init__(self, output_format: str, debug: bool, quiet: bool, verbose: bool, limit: int):
        self.format, self.debug, self.quiet, self.verbose, self.limit = output_format, debug, quiet, verbose, limit
        self.command = ""
        self.diagnostics: list[Diagnostic] = []
        self.result: dict = {}
        self.started = time.monotonic()

    def override(self, output_format=None, debug=False, quiet=False, verbose=False, limit=None) -> None:
        """Global options given after the command."""
        self.format = output_format or self.format
        self.debug, self.quiet, self.verbose = self.debug or debug, self.quiet or quiet, self.verbose or verbose
        self.limit = self.limit if limit is None else limit

    def report(self, diagnostics) -> Report:
        report = Report(limit=self.limit)
        report.add(diagnostics)
        self.diagnostics = Report(diagnostics=[*self.diagnostics, *report.diagnostics]).diagnostics
        if self.format == "github" and report.diagnostics:
            click.echo("\n".join(report.github_lines()))
        elif self.format == "text" and report.diagnostics:
            click.echo("\n".join(report.lines()), err=True)
        return report

    def out(self, text: str, field: str, value=None) -> None:
        """The command's result: text on stdout, or ``field`` of the JSON document."""
        if self.format == "json":
            self.result[field] = text if value is None else value
        elif text:
            click.echo(text, nl=False)

    def summary(self, line: str) -> None:
        if not self.quiet:
            click.echo(line, err=True)

    def progress(self, message: str) -> None:
        """Stage messages on stderr: always with --verbose; on a terminal unless --quiet; never in CI formats."""
        if self.verbose or (not self.quiet and self.format == "text" and sys.stderr.isatty()):
            click.echo(f"[{time.monotonic() - self.started:6.2f}s] {message}", err=True)

    def finish(self, code: int) -> None:
        if self.format == "json":
            document = {"command": self.command, "exit_code": code,
                        "diagnostics": [d.to_json() for d in self.diagnostics], **self.result}
            click.echo(json.dumps(document, indent=2, sort_keys=True))
        sys.exit(code)


def exit_code_for(diagnostics: list[Diagnostic]) -> int:
    codes = [d.code for d in diagnostics if d.is_error]
    if any(c.startswith("E5") for c in codes):
        return EXIT_IO
    if any(c.startswith("E4") for c in codes):
        return EXIT_RENDER
    return EXIT_SPEC if codes else EXIT_OK


def run(ctx: Context, action) -> None:
    """Run one command body; turn MeshgenError and bugs into the documented exit codes."""
    ctx.command = click.get_current_context().info_name
    try:
        code = action()
    except MeshgenError as exc:
        ctx.report(exc.diagnostics)
        code = exit_code_for(exc.diagnostics)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = 130
    except Exception as exc:  # an unexpected exception is a bug, not a user error
        if ctx.debug:
            traceback.print_exc()
        else:
            click.echo(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)", err=True)
        ctx.result["internal_error"] = f"{type(exc).__name__}: {exc}"
        code = EXIT_INTERNAL
    ctx.finish(code)


# --- options ---------------------------------------------------------------------------------------


def global_options(formats=DIAGNOSTIC_FORMATS, format_help="Diagnostics format: text, JSON (one document on "
                   "stdout), or GitHub workflow annotations."):
    """The group's options, also accepted after the command (default: what was given before it)."""
    return _stack([
        click.option("--format", "output_format", type=click.Choice(formats), default=None, help=format_help),
        click.option("--debug", is_flag=True, help="Show tracebacks of internal errors."),
        click.option("-q", "--quiet", is_flag=True, help="Print only errors."),
        click.option("-v", "--verbose", is_flag=True, help="Print what is being done."),
        click.option("--max-diagnostics", "limit", type=int, default=None, help="Cap on printed diagnostics."),
    ])


def _stack(decorators):
    """Several decorators as one, applied in the order written."""
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


def _apply_globals(ctx: Context, kwargs: dict) -> None:
    ctx.override(*(kwargs.pop(name) for name in ("output_format", "debug", "quiet", "verbose", "limit")))


spec_argument = click.argument("spec", type=click.Path(path_type=Path, allow_dash=True), default=DEFAULT_SPEC,
                               required=False)
out_option = click.option(
    "-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True, help="Output folder."
)
lock_option = click.option(
    "--lock", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="The address lock file (default: meshgen.lock beside SPEC; required when SPEC is '-').")


def _read_stdin(spec: Path) -> bytes | None:
    """The spec's bytes when SPEC is '-' (bounded like a file)."""
    from meshgen.spec.loader import MAX_BYTES

    if spec != DASH:
        return None
    with click.open_file("-", "rb") as stdin:
        return stdin.read(MAX_BYTES + 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--format", "output_format", type=click.Choice(DIAGNOSTIC_FORMATS), default="text",
              show_default=True, help="Diagnostics format: text, JSON (one document on stdout), or GitHub "
                                      "workflow annotations.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print what is being done.")
@click.option("--max-diagnostics", "limit", type=int, default=50, show_default=True, help="Cap on printed diagnostics.")
@click.version_option(package_name="meshgen")
@click.pass_context
def main(click_ctx, output_format, debug, quiet, verbose, limit):
    """Compile a fleet spec into per-cluster Istio multicluster bundles for GitOps.

    SPEC defaults to fleet.yaml; '-' reads it from standard input."""
    click_ctx.obj = Context(output_format, debug, quiet, verbose, limit)


# --- validate ------------------------------------------------------------------------------------


@main.command()
@spec_argument
@lock_option
@global_options()
@click.pass_obj
def validate(ctx: Context, spec: Path, lock: Path | None, **options):
    """Check SPEC and print every diagnostic; exit 2 if it has errors."""
    from meshgen.pipeline import Options, spec_name, validate_spec

    _apply_globals(ctx, options)

    def action():
        warnings = ctx.report(validate_spec(Options(spec=spec, lock=lock, spec_data=_read_stdin(spec)), ctx.progress))
        count = len(warnings.diagnostics)
        ctx.summary(f"{spec_name(spec)}: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else ""))
        return EXIT_OK

    run(ctx, action)


# --- render, check, diff -----------------------------------------------------------------------


def _sync_command(mode_name: str, help_text: str):
    def command(ctx: Context, spec: Path, out: Path, lock: Path | None, no_summary: bool, **options):
        ctx.fail_on_change = options.pop("fail_on_change", False)
        validate_output = not options.pop("no_validate", False)
        _apply_globals(ctx, options)
        _sync(ctx, spec, out, lock, mode_name, validate_output, summary=not no_summary)

    command.__doc__ = help_text
    return command


def _sync(ctx: Context, spec: Path, out: Path, lock: Path | None, mode_name: str, validate_output: bool,
          summary: bool) -> None:
    from meshgen.pipeline import Options, build
    from meshgen.writer import Mode, output_lock, sync, sync_file

    mode = Mode[mode_name]

    def action():
        options = Options(spec=spec, out=out, validate_output=validate_output, lock=lock, summary=summary,
                          spec_data=_read_stdin(spec))
        lock_path = _lock_path_or_fail(options)
        built = build(options, ctx.progress)
        ctx.report([d for d in built.diagnostics if not ctx.quiet or d.is_error])
        ctx.progress(f"{'write' if mode is Mode.WRITE else 'compare'} {len(built.tree):,} files {out}")
        with output_lock(out, mode, on_wait=lambda: ctx.progress(f"wait for another meshgen run writing {out}")):
            plan = sync(built.tree, out, mode)
            lock_plan = sync_file(lock_path, built.lock_text.encode("utf-8"), mode)  # the one file outside out/
        return _finish(ctx, mode, out, plan, lock_plan)

    run(ctx, action)


def _lock_path_or_fail(options) -> Path:
    if options.lock_path is None:
        from meshgen.pipeline import spec_name

        what = "read from standard input" if options.spec == DASH else "not a regular file"
        raise MeshgenError([Diagnostic("E514", f"the spec is {what}, so the address lock cannot go beside it",
                                       Span(spec_name(options.spec)), hint="name the lock file with --lock PATH")])
    return options.lock_path


def _finish(ctx: Context, mode, out: Path, plan, lock_plan) -> int:
    """Stale paths (check), the diff (diff) or the counts (render), and the summary line."""
    from meshgen.writer import Mode

    changes = [(c.action, str(out / c.path)) for c in plan.changes] + [(c.action, c.path) for c in lock_plan.changes]
    ctx.result["changes"] = [{"action": action, "path": path} for action, path in changes]
    ctx.result["interrupted"] = plan.interrupted and mode is not Mode.WRITE
    _list_removed(ctx, mode, plan)
    if mode is Mode.DIFF:
        ctx.out(plan.diff(_repo_prefix(out)) + _lock_diff(lock_plan), "diff")
    elif mode is Mode.CHECK and ctx.format != "json":
        _list_stale(ctx, changes)
    interrupted = f" ({out} is half-written by a killed render: `meshgen render` finishes it)"
    ctx.summary(_summary_line(mode, out, plan, lock_plan) + (interrupted if ctx.result["interrupted"] else ""))
    drift = bool(changes) and (mode is not Mode.WRITE or ctx.fail_on_change)
    return EXIT_DRIFT if drift else EXIT_OK


def _list_removed(ctx: Context, mode, plan) -> None:
    """Objects the change takes out of a synced folder: the GitOps controller prunes them when it lands."""
    from meshgen.removals import removed_objects
    from meshgen.writer import Mode

    removed = removed_objects({c.path: c.old for c in plan.changes}, {c.path: c.new for c in plan.changes})
    ctx.result["removed"] = [{"folder": r.folder, "kind": r.kind, "namespace": r.namespace, "name": r.name,
                              "kept": r.kept} for r in removed]
    if removed and ctx.format != "json" and not ctx.quiet:
        verb = "removed" if mode is Mode.WRITE else "would remove"
        click.echo("".join(f"{verb}: {r.describe()}\n" for r in removed), err=True, nl=False)


def _lock_diff(lock_plan) -> str:
    if not lock_plan.changes:
        return ""
    lock = Path(lock_plan.changes[0].path)
    named = replace(lock_plan, changes=tuple(replace(c, path=lock.name) for c in lock_plan.changes))
    return named.diff(_repo_prefix(lock.parent))


def _list_stale(ctx: Context, changes: list[tuple[str, str]]) -> None:
    if ctx.format == "github":
        for action, path in changes:
            click.echo(f"::error file={path},title=meshgen check::{path} is stale ({action}): run `meshgen render`")
    else:
        click.echo("".join(f"{action}: {path}\n" for action, path in changes), nl=False)


def _summary_line(mode, out: Path, plan, lock_plan) -> str:
    from meshgen.writer import Mode

    lock = f"; {lock_plan.changes[0].path}: {lock_plan.changes[0].action}d" if lock_plan.changes else ""
    if mode is Mode.WRITE:
        counts = {a: sum(1 for c in plan.changes if c.action == a) for a in ("create", "update", "delete")}
        return f"{out}: " + (", ".join(f"{n} {a}d" for a, n in counts.items() if n) or "no changes") + lock
    if not plan.changes and not lock_plan.changes:
        return f"{out}: up to date"
    n = len(plan.changes)
    stale = [f"{out}: {n} file{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}"] if n else []
    stale += [f"{lock_plan.changes[0].path} differs"] if lock_plan.changes else []
    return f"stale: {', '.join(stale)}; run `meshgen render`"


def _repo_prefix(folder: Path) -> str:
    """How ``git apply`` at the repository root (or else the current folder) names ``folder``: 'out/'."""
    base = os.path.realpath(folder)
    root = base
    while not os.path.exists(os.path.join(root, ".git")) and os.path.dirname(root) != root:
        root = os.path.dirname(root)
    if not os.path.exists(os.path.join(root, ".git")):
        root = os.getcwd()
    relative = os.path.relpath(base, root)
    if relative == ".":
        return ""
    return (relative if not relative.startswith("..") else str(folder).lstrip("/")) + "/"


_sync_options = [spec_argument, out_option, lock_option,
                 click.option("--no-summary", is_flag=True,
                              help="Do not write OUT/README.md (e.g. when OUT is the repository root and "
                                   "README.md is yours); an owned one is pruned.")]
_render_options = [
    click.option("--no-validate", is_flag=True, help="Skip checking rendered objects against Istio/Kubernetes rules."),
    click.option("--fail-on-change", is_flag=True,
                 help="Exit 1 when files were created, updated or deleted (for pre-commit hooks and CI)."),
]
render = main.command("render")(_stack([*_sync_options, *_render_options, global_options(), click.pass_obj])(
    _sync_command("WRITE", "Render SPEC into OUT (one bundle per cluster); unchanged files are left alone.")))
check = main.command("check")(_stack([*_sync_options, global_options(), click.pass_obj])(_sync_command(
    "CHECK", "Exit 1 and list the paths when OUT (or the lock file) differs from what SPEC renders.")))
diff = main.command("diff")(_stack([*_sync_options, global_options(), click.pass_obj])(_sync_command(
    "DIFF", "Print a unified diff of what `render` would change, with paths from the repository root.")))


# --- lint --------------------------------------------------------------------------------------


@main.command()
@click.argument("out", type=click.Path(path_type=Path), default=None, required=False)
@click.option("-o", "--out", "out_option", type=click.Path(path_type=Path), default=None,
              help="The output folder (same as OUT; default out).")
@click.option("--kubeconform", "use_kubeconform", is_flag=True,
              help="Also run kubeconform (must be on PATH) with meshgen's schema/ folder as schema location.")
@global_options()
@click.pass_obj
def lint(ctx: Context, out: Path | None, out_option: Path | None, use_kubeconform: bool, **options):
    """Validate an existing output tree against Istio's and Kubernetes' rules (exit 3 on findings)."""
    from meshgen.conformance import SCHEMA_DIR, KubeconformNotFound, lint_tree, run_kubeconform
    from meshgen.conformance.lint import tree_files

    _apply_globals(ctx, options)
    folder = out or out_option or Path("out")

    def action():
        if not folder.is_dir():
            raise MeshgenError([Diagnostic("E505", f"output folder {folder} does not exist", Span(str(folder)),
                                           hint="render first, or name the folder: `meshgen lint FOLDER`")])
        report = ctx.report([_in_folder(d, folder) for d in lint_tree(folder)])
        code = EXIT_RENDER if report.has_errors else EXIT_OK
        if use_kubeconform:
            try:
                status, output = run_kubeconform(folder, SCHEMA_DIR)
            except KubeconformNotFound:
                raise MeshgenError([Diagnostic("E506", "kubeconform is not on PATH", Span(str(folder)),
                                               hint="install it (https://github.com/yannh/kubeconform), or drop "
                                                    "--kubeconform: meshgen lint's own checks do not need it")]) from None
            ctx.out(output, "kubeconform", {"exit_code": status, "output": output})
            code = code or (EXIT_RENDER if status else EXIT_OK)
        if code == EXIT_OK:
            count = len(tree_files(folder, include_values=True))
            ctx.summary(f"{folder}: {count} file{'s' if count != 1 else ''} checked, "
                        + (f"{len(report.diagnostics)} warnings" if report.diagnostics else "no findings"))
        return code

    run(ctx, action)


def _in_folder(diagnostic: Diagnostic, folder: Path) -> Diagnostic:
    """A finding of `lint` named from the current folder, 1-based (lint_tree locates a document at column 0)."""
    span = diagnostic.span
    return replace(diagnostic, span=replace(span, file=str(folder / span.file), col=span.col or (1 if span.line else 0)))


# --- graph, access, schema, init -------------------------------------------------------------------

PICTURES = ("mermaid", "dot", "svg")


@main.command()
@spec_argument
@lock_option
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default=DASH,
              help="Write the picture to this file ('-', the default: standard output).")
@global_options(formats=(*PICTURES, *DIAGNOSTIC_FORMATS),
                 format_help="The picture: Mermaid text (default), Graphviz DOT, or SVG drawn by Graphviz `dot` "
                             "(must be on PATH); text, json and github set the diagnostics format as before the command.")
@click.pass_obj
def graph(ctx: Context, spec: Path, lock: Path | None, output: Path, **options):
    """Draw the fleet: meshes, networks, clusters, gateways, exports and roots of trust."""
    from meshgen.graph import render_graph, to_svg
    from meshgen.pipeline import read_spec, resolve_model, spec_name

    picture = options["output_format"] if options["output_format"] in PICTURES else "mermaid"
    options["output_format"] = None if options["output_format"] in PICTURES else options["output_format"]
    _apply_globals(ctx, options)

    def action():
        model = resolve_model(read_spec(spec, _read_stdin(spec), ctx.progress), lock=lock)
        text = render_graph(model, "dot" if picture == "svg" else picture)
        data = to_svg(text) if picture == "svg" else text.encode()
        ctx.summary(f"{picture} picture of {spec_name(spec)}: written to {_write_one_file(ctx, output, data, 'picture', 'E513')}")
        return EXIT_OK

    run(ctx, action)


def _write_one_file(ctx: Context, output: Path, data: bytes, field: str, code: str, overwrite: bool = True,
                    value=None) -> str:
    """A one-file result: to standard output for '-' (or the JSON document's ``field``), else to the
    file. Returns where it went, for the summary line."""
    if output == DASH:
        if ctx.format == "json":
            ctx.result[field] = data.decode("utf-8") if value is None else value
        else:
            click.echo(data, nl=False)
        return "standard output"
    try:
        with open(output, "wb" if overwrite else "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise MeshgenError([Diagnostic(code, f"{output} already exists; meshgen init never overwrites a file",
                                       Span(str(output)), hint="pass another path, or move the file away")]) from None
    except OSError as exc:
        raise MeshgenError([Diagnostic(code, f"cannot write {output}: {exc.strerror}", Span(str(output)))]) from None
    ctx.result["written"] = str(output)
    return str(output)


@main.command()
@spec_argument
@lock_option
@click.option("--format-out", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True,
              help="Markdown table or JSON rows (--format is for diagnostics).")
@click.option("--diff", "base", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default=None,
              help="Print `+ grant` / `- revoke` lines: what SPEC grants compared with BASE_SPEC.")
@global_options()
@click.pass_obj
def access(ctx: Context, spec: Path, lock: Path | None, format_out: str, base: Path | None, **options):
    """Print the access matrix SPEC grants: who may call which exported service on which port."""
    from meshgen.access import access_matrix, diff_json, diff_lines, to_json, to_markdown
    from meshgen.pipeline import read_spec, resolve_model, spec_name

    _apply_globals(ctx, options)

    def grants_of(path: Path):
        return access_matrix(resolve_model(read_spec(path, _read_stdin(path), ctx.progress), lock=lock))

    if spec == DASH and base == DASH:
        raise click.UsageError("only one of SPEC and --diff BASE_SPEC can be '-'")

    def action():
        grants = grants_of(spec)
        if base is not None:
            before = grants_of(base)
            rows, text = diff_json(before, grants), "".join(f"{line}\n" for line in diff_lines(before, grants))
        else:
            rows, text = to_json(grants), to_markdown(grants)
        if format_out == "json":
            text = json.dumps(rows, indent=2, sort_keys=True) + "\n"
        ctx.out(text, "access", rows)
        changes = None if base is None else diff_lines(before, grants)
        ctx.summary(_access_summary(grants, changes, spec_name(spec), base and spec_name(base)))
        return EXIT_OK

    run(ctx, action)


def _access_summary(grants: list, changes: list[str] | None, spec: str, base: str | None) -> str:
    """'access: 3 grants', or with --diff 'access: 3 grants in new.yaml; against base.yaml 1 granted, 2 revoked'."""
    count = f"{len(grants)} grant{'s' if len(grants) != 1 else ''}"
    if changes is None:
        return f"access: {count}"
    granted, revoked = (sum(1 for line in changes if line.startswith(sign)) for sign in "+-")
    return f"access: {count} in {spec}; against {base}: {granted} granted, {revoked} revoked"


@main.command()
@click.option("-o", "--out", type=click.Path(path_type=Path, allow_dash=True), default=Path("schema/fleet.schema.json"),
              show_default=True, help="Where to write the JSON Schema of the fleet spec ('-': standard output).")
@global_options()
@click.pass_obj
def schema(ctx: Context, out: Path, **options):
    """Write the JSON Schema of the fleet spec (for editors and CI)."""
    from meshgen.spec.schema import fleet_schema_bytes

    _apply_globals(ctx, options)

    def action():
        data = fleet_schema_bytes()
        if out != DASH and out.is_file() and out.read_bytes() == data:
            ctx.summary(f"fleet schema: {out} is up to date")
            return EXIT_OK
        if out != DASH:
            _make_parent(out, "E513")
        ctx.summary(f"fleet schema: written to {_write_one_file(ctx, out, data, 'schema', 'E513', value=json.loads(data))}")
        return EXIT_OK

    run(ctx, action)


def _make_parent(path: Path, code: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeshgenError([Diagnostic(code, f"cannot create {path.parent}: {exc.strerror}", Span(str(path)))]) from None


@main.command()
@click.argument("path", type=click.Path(allow_dash=True), default=str(DEFAULT_SPEC), required=False)
@global_options()
@click.pass_obj
def init(ctx: Context, path: str, **options):
    """Write a commented starter spec to PATH, never over a file. A folder (an existing one, or a
    path ending in '/') gets fleet.yaml inside, created with its parents; '-' writes to standard output."""
    from meshgen.init import STARTER_NAME, starter_spec

    _apply_globals(ctx, options)
    folder = Path(path).is_dir() or path.endswith(("/", os.sep))
    target = Path(path) / STARTER_NAME if folder else Path(path)

    def action():
        if target != DASH:
            _make_parent(target, "E512")
        where = _write_one_file(ctx, target, starter_spec().encode("utf-8"), "spec", "E512", overwrite=False)
        follow = "" if target == DASH else f"; next: `meshgen validate {target}`, then `meshgen render {target}`"
        ctx.summary(f"starter spec: written to {where}{follow}")
        return EXIT_OK

    run(ctx, action)


@main.command()
@spec_argument
@lock_option
@click.option("--from", "caller", metavar="CLUSTER/NAMESPACE/SERVICEACCOUNT", help="The calling workload's identity.")
@click.option("--to", "target", metavar="HOST[:PORT]", help="The host it calls, and the port (needed when it has several).")
@click.option("--matrix", is_flag=True, help="Evaluate every caller identity against every target and compare with "
                                            "`meshgen access`; exit 1 when they differ.")
@out_option
@global_options()
@click.pass_obj
def explain(ctx: Context, spec: Path, lock: Path | None, caller: str | None, target: str | None, matrix: bool,
            out: Path, **options):
    """Why CALLER can (or cannot) call TARGET, hop by hop, read from the output SPEC renders (in memory;
    paths are shown under OUT). Exit 0 when the call is allowed end to end, 1 when it is not."""
    from meshgen.explain import Caller, explain_call, load_fleet
    from meshgen.explain import format as fmt
    from meshgen.explain.matrix import reachability
    from meshgen.pipeline import Options, build

    _apply_globals(ctx, options)
    if matrix == bool(caller or target) or (not matrix and not (caller and target)):
        raise click.UsageError("give either --matrix, or both --from CLUSTER/NAMESPACE/SERVICEACCOUNT and --to HOST[:PORT]")
    try:
        who = Caller.parse(caller) if caller else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    host, _, port = (target or "").rpartition(":") if ":" in (target or "") else (target, "", "")
    if port and not port.isdigit():
        raise click.BadParameter(f"port {port!r} is not a number", param_hint="--to")

    def action():
        options = Options(spec=spec, out=out, lock=lock, spec_data=_read_stdin(spec))
        built = build(options, ctx.progress)  # raises on spec errors; its warnings belong to `validate`
        fleet = load_fleet(built.tree, built.model)
        if matrix:
            found = reachability(fleet)
            ctx.out("\n".join(fmt.matrix_report(found)) + "\n", "matrix", fmt.matrix_json(found))
            return EXIT_OK if found.equal else EXIT_DRIFT
        try:
            explained = explain_call(fleet, who, host, int(port) if port else None)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)  # a wrong --from/--to, not a spec error
            ctx.result["error"] = str(exc)
            return EXIT_SPEC
        ctx.out("\n".join(fmt.explanation_lines(explained, str(out))) + "\n", "explanation",
                fmt.explanation_json(explained, str(out)))
        return EXIT_OK if explained.allowed else EXIT_DRIFT

    run(ctx, action)


@main.command()
@global_options()
@click.pass_obj
def version(ctx: Context, **options):
    """Print meshgen's version and the Istio releases it renders for (also: meshgen --version)."""
    from meshgen import __version__
    from meshgen.spec.models import SUPPORTED_ISTIO

    _apply_globals(ctx, options)

    def action():
        ctx.out(f"meshgen {__version__} (Istio {SUPPORTED_ISTIO[0]} to {SUPPORTED_ISTIO[-1]})\n", "version",
                {"meshgen": __version__, "istio": list(SUPPORTED_ISTIO)})
        return EXIT_OK

    run(ctx, action)
