"""Broken specs paired with the exact diagnostics they must produce (issue 2, "Done when").

``tests/specs/broken/NN-name.yaml`` is the minimal valid base spec with one mistake;
``NN-name.expected`` holds every diagnostic line ``meshgen validate NN-name.yaml`` prints, run from
that folder so paths are relative. The expected files are written by hand-checked review, never
regenerated blindly: each line must point at the key or value at fault and say what was expected
and what was found. A file whose lines are all warnings must exit 0; any error line means exit 2.
The base (two meshes with their own roots and trust bundles both ways, a federation gateway on the
exporting cluster, `serviceAccounts` and `callers` on the exported service) validates with no
diagnostic at all, so a case's lines are about its one mistake.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import EXIT_OK, EXIT_SPEC, main

SPECS = Path(__file__).parent / "specs"
BROKEN = SPECS / "broken"
VALID = SPECS / "valid"
EXAMPLE = Path(__file__).parent.parent / "fleet.example.yaml"
BROKEN_CASES = sorted(BROKEN.glob("*.yaml"))
VALID_CASES = sorted(VALID.glob("*.yaml"))


def validate(folder: Path, name: str, monkeypatch):
    monkeypatch.chdir(folder)
    return CliRunner().invoke(main, ["validate", name])


def expected_lines(spec: Path) -> list[str]:
    return spec.with_suffix(".expected").read_text("utf-8").splitlines()


def test_corpus_is_large_and_paired():
    assert len(BROKEN_CASES) >= 35
    unpaired = [p.name for p in BROKEN_CASES if not p.with_suffix(".expected").is_file()]
    orphans = [p.name for p in BROKEN.glob("*.expected") if not p.with_suffix(".yaml").is_file()]
    assert unpaired == [] and orphans == []


@pytest.mark.parametrize("spec", BROKEN_CASES, ids=lambda p: p.stem)
def test_broken_spec_diagnostics(spec: Path, monkeypatch):
    expected = expected_lines(spec)
    result = validate(BROKEN, spec.name, monkeypatch)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    has_error = any(": error[" in line for line in expected)
    summary = re.compile(rf"{re.escape(spec.name)}: ok(, \d+ warnings?)?")
    shown = [line for line in result.output.splitlines() if not summary.fullmatch(line)]
    assert shown == expected
    assert result.exit_code == (EXIT_SPEC if has_error else EXIT_OK)
    if not has_error:
        warnings = len(expected)
        assert f"{spec.name}: ok, {warnings} warning{'s' if warnings != 1 else ''}" in result.output.splitlines()


@pytest.mark.parametrize("spec", BROKEN_CASES, ids=lambda p: p.stem)
def test_expected_lines_are_located(spec: Path):
    """Every expected line is `file:line:col: severity[CODE]: message`, 1-based, in this file."""
    for line in expected_lines(spec):
        where, _, rest = line.partition(": ")
        name, line_no, col = where.rsplit(":", 2)
        assert name == spec.name
        assert int(line_no) >= 1 and int(col) >= 1
        assert rest.startswith(("error[E", "warning[W"))


def test_every_rule_family_is_covered():
    codes = {line.split("[", 1)[1][:4] for spec in BROKEN_CASES for line in expected_lines(spec)}
    wanted = {f"E00{n}" for n in range(1, 8)} | {"E101", "E102", "E103"}
    wanted |= {f"E2{n:02d}" for n in (1, 2, *range(4, 21))} | {"W201", "W202", "W203"}
    wanted |= {"W204", "W205", "W206", "W207", "W208", "W212", "W213"}
    assert wanted - codes == set()


@pytest.mark.parametrize("spec", [*VALID_CASES, EXAMPLE], ids=lambda p: p.stem)
def test_valid_specs_pass(spec: Path, monkeypatch):
    result = validate(spec.parent, spec.name, monkeypatch)
    assert result.exit_code == EXIT_OK, result.output
    assert result.output.splitlines() == [f"{spec.name}: ok"]


@pytest.mark.parametrize("name", ["03-syntax-tab-indent.yaml", "07-alias-bomb.yaml", "12-non-utf8.yaml"])
def test_console_script_prints_no_traceback(name: str):
    """The installed entry point, in a real process: exit 2, the diagnostic on stderr, no traceback."""
    script = Path(sys.executable).with_name("meshgen")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from meshgen.cli import main; main()"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([*command, "validate", name], cwd=BROKEN, capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == EXIT_SPEC
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.splitlines() == expected_lines(BROKEN / name)
    assert done.stdout == ""


def test_every_code_is_documented():
    """docs/diagnostics.md lists every code the package can emit (grep-equivalent of the source)."""
    package = Path(__file__).parent.parent / "meshgen"
    source = "\n".join(p.read_text("utf-8") for p in package.rglob("*.py"))
    codes = set(re.findall(r'"([EW][0-9]{3})"', source))
    documented = set(re.findall(r"^\| ([EW][0-9]{3}) \|", (package.parent / "docs/diagnostics.md").read_text("utf-8"),
                                re.MULTILINE))
    assert codes - documented == set(), "add these codes to docs/diagnostics.md"
