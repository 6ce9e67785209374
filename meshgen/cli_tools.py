"""The commands that read the spec and print or write one thing: graph, access, schema, init, explain,
version. Registered on the group in ``meshgen.cli`` (``COMMANDS``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from meshgen.cli_base import (
    DASH, DEFAULT_SPEC, DIAGNOSTIC_FORMATS, EXIT_DRIFT, EXIT_OK, EXIT_SPEC, Context, apply_globals, global_options,
    lock_option, make_parent, out_option, read_stdin, run, spec_argument, write_one_file,
)

# --- graph, access, schema, init -------------------------------------------------------------------

PICTURES = ("mermaid", "dot", "svg")


@click.command()
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
    apply_globals(ctx, options)

    def action():
        model = resolve_model(read_spec(spec, read_stdin(spec), ctx.progress), lock=lock)
        text = render_graph(model, "dot" if picture == "svg" else picture)
        data = to_svg(text) if picture == "svg" else text.encode()
        ctx.summary(f"{picture} picture of {spec_name(spec)}: written to {write_one_file(ctx, output, data, 'picture', 'E513')}")
        return EXIT_OK

    run(ctx, action)


@click.command()
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

    apply_globals(ctx, options)

    def grants_of(path: Path):
        return access_matrix(resolve_model(read_spec(path, read_stdin(path), ctx.progress), lock=lock))

    if spec == DASH and base == DASH:
        raise click.UsageError("only one of SPEC and --diff BASE_SPEC can be '-'")

    def action():
        grants, changes = grants_of(spec), None
        if base is not None:
            before = grants_of(base)
            changes = diff_lines(before, grants)
            rows, text = diff_json(before, grants), "".join(f"{line}\n" for line in changes)
        else:
            rows, text = to_json(grants), to_markdown(grants)
        if format_out == "json":
            text = json.dumps(rows, indent=2, sort_keys=True) + "\n"
        ctx.out(text, "access", rows)
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


@click.command()
@click.option("-o", "--out", type=click.Path(path_type=Path, allow_dash=True), default=Path("schema/fleet.schema.json"),
              show_default=True, help="Where to write the JSON Schema of the fleet spec ('-': standard output).")
@global_options()
@click.pass_obj
def schema(ctx: Context, out: Path, **options):
    """Write the JSON Schema of the fleet spec (for editors and CI)."""
    from meshgen.spec.schema import fleet_schema_bytes

    apply_globals(ctx, options)

    def action():
        data = fleet_schema_bytes()
        if out != DASH and out.is_file() and out.read_bytes() == data:
            ctx.summary(f"fleet schema: {out} is up to date")
            return EXIT_OK
        if out != DASH:
            make_parent(out, "E513")
        ctx.summary(f"fleet schema: written to {write_one_file(ctx, out, data, 'schema', 'E513', value=json.loads(data))}")
        return EXIT_OK

    run(ctx, action)


@click.command()
@click.argument("path", type=click.Path(allow_dash=True), default=str(DEFAULT_SPEC), required=False)
@global_options()
@click.pass_obj
def init(ctx: Context, path: str, **options):
    """Write a commented starter spec to PATH, never over a file. A folder (an existing one, or a
    path ending in '/') gets fleet.yaml inside, created with its parents; '-' writes to standard output."""
    from meshgen.init import STARTER_NAME, starter_spec

    apply_globals(ctx, options)
    folder = Path(path).is_dir() or path.endswith(("/", os.sep))
    target = Path(path) / STARTER_NAME if folder else Path(path)

    def action():
        if target != DASH:
            make_parent(target, "E512")
        where = write_one_file(ctx, target, starter_spec().encode("utf-8"), "spec", "E512", overwrite=False)
        follow = "" if target == DASH else f"; next: `meshgen validate {target}`, then `meshgen render {target}`"
        ctx.summary(f"starter spec: written to {where}{follow}")
        return EXIT_OK

    run(ctx, action)


@click.command()
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

    apply_globals(ctx, options)
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
        options = Options(spec=spec, out=out, lock=lock, spec_data=read_stdin(spec))
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


@click.command()
@global_options()
@click.pass_obj
def version(ctx: Context, **options):
    """Print meshgen's version and the Istio releases it renders for (also: meshgen --version)."""
    from meshgen import __version__
    from meshgen.spec.models import SUPPORTED_ISTIO

    apply_globals(ctx, options)

    def action():
        ctx.out(f"meshgen {__version__} (Istio {SUPPORTED_ISTIO[0]} to {SUPPORTED_ISTIO[-1]})\n", "version",
                {"meshgen": __version__, "istio": list(SUPPORTED_ISTIO)})
        return EXIT_OK

    run(ctx, action)


COMMANDS = (graph, access, schema, init, explain, version)
