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

import os
from dataclasses import asdict, replace
from pathlib import Path

import click

from meshgen.cli_base import (
    DASH, DIAGNOSTIC_FORMATS, EXIT_DRIFT, EXIT_OK, EXIT_RENDER, Context, apply_globals, global_options,
    lock_option, out_option, read_stdin, run, spec_argument, stack,
)
from meshgen.cli_base import EXIT_SPEC  # noqa: F401  (re-exported: the exit codes are the CLI's interface)
from meshgen.cli_tools import COMMANDS
from meshgen.diagnostics import Diagnostic, MeshgenError, Span


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

    apply_globals(ctx, options)

    def action():
        warnings = ctx.report(validate_spec(Options(spec=spec, lock=lock, spec_data=read_stdin(spec)), ctx.progress))
        count = len(warnings.diagnostics)
        ctx.summary(f"{spec_name(spec)}: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else ""))
        return EXIT_OK

    run(ctx, action)


# --- render, check, diff -----------------------------------------------------------------------


def _sync_command(mode_name: str, help_text: str):
    def command(ctx: Context, spec: Path, out: Path, lock: Path | None, no_summary: bool, **options):
        ctx.fail_on_change = options.pop("fail_on_change", False)
        validate_output = not options.pop("no_validate", False)
        apply_globals(ctx, options)
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
                          spec_data=read_stdin(spec))
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
    ctx.result["removed"] = [asdict(r) for r in removed]
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
render = main.command("render")(stack([*_sync_options, *_render_options, global_options(), click.pass_obj])(
    _sync_command("WRITE", "Render SPEC into OUT (one bundle per cluster); unchanged files are left alone.")))
check = main.command("check")(stack([*_sync_options, global_options(), click.pass_obj])(_sync_command(
    "CHECK", "Exit 1 and list the paths when OUT (or the lock file) differs from what SPEC renders.")))
diff = main.command("diff")(stack([*_sync_options, global_options(), click.pass_obj])(_sync_command(
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

    apply_globals(ctx, options)
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


for _command in COMMANDS:
    main.add_command(_command)
