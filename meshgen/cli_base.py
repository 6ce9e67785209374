"""What every command shares: the run's Context (diagnostics, result fields, summary line, progress),
the exit codes, the global and common options, and writing a one-file result. No command lives here."""

from __future__ import annotations

import json
import sys
import time
import traceback
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
    return stack([
        click.option("--format", "output_format", type=click.Choice(formats), default=None, help=format_help),
        click.option("--debug", is_flag=True, help="Show tracebacks of internal errors."),
        click.option("-q", "--quiet", is_flag=True, help="Print only errors."),
        click.option("-v", "--verbose", is_flag=True, help="Print what is being done."),
        click.option("--max-diagnostics", "limit", type=int, default=None, help="Cap on printed diagnostics."),
    ])


def stack(decorators):
    """Several decorators as one, applied in the order written."""
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


def apply_globals(ctx: Context, kwargs: dict) -> None:
    ctx.override(*(kwargs.pop(name) for name in ("output_format", "debug", "quiet", "verbose", "limit")))


spec_argument = click.argument("spec", type=click.Path(path_type=Path, allow_dash=True), default=DEFAULT_SPEC,
                               required=False)
out_option = click.option(
    "-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True, help="Output folder."
)
lock_option = click.option(
    "--lock", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="The address lock file (default: meshgen.lock beside SPEC; required when SPEC is '-').")


def read_stdin(spec: Path) -> bytes | None:
    """The spec's bytes when SPEC is '-' (bounded like a file)."""
    from meshgen.spec.loader import MAX_BYTES

    if spec != DASH:
        return None
    with click.open_file("-", "rb") as stdin:
        return stdin.read(MAX_BYTES + 1)


def write_one_file(ctx: Context, output: Path, data: bytes, field: str, code: str, overwrite: bool = True,
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


def make_parent(path: Path, code: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeshgenError([Diagnostic(code, f"cannot create {path.parent}: {exc.strerror}", Span(str(path)))]) from None
