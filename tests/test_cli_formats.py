"""CI output formats: `--format github` workflow annotations and `--format json` diagnostics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"

# Two semantic errors (unknown root of trust, unknown network), in this order of position.
BROKEN = """\
apiVersion: meshgen.dev/v1alpha1
kind: Fleet
metadata:
  name: broken
networks:
  - name: net-a
rootsOfTrust:
  - name: root
    store: {name: vault}
    certificatePath: pki/root
meshes:
  - name: prod
    trustDomain: prod.example
    rootOfTrust: rot
    secretStore: {name: vault}
clusters:
  - name: east
    network: net-b
    mesh: prod
    locality: {region: us-east1}
    podCIDRs: [10.0.0.0/16]
    serviceCIDRs: [10.1.0.0/20]
"""
ANNOTATION = re.compile(r"::(?P<kind>error|warning) file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
                        r"title=(?P<title>[^:]+)::(?P<message>.*)\Z")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def broken(tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)  # relative file names, as in a workflow run from the repository root
    Path("fleet.yaml").write_text(BROKEN)
    return "fleet.yaml"


def test_github_annotations_line_by_line(broken):
    result = invoke("--format", "github", "validate", broken)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [
        "::error file=fleet.yaml,line=14,col=18,title=meshgen E202::[E202] unknown root of trust 'rot' "
        "(did you mean 'root'?)",
        "::error file=fleet.yaml,line=18,col=14,title=meshgen E202::[E202] unknown network 'net-b' "
        "(did you mean 'net-a'?)",
    ]
    for line in lines:
        assert ANNOTATION.match(line), line


def test_github_annotations_for_a_schema_error(broken):
    Path(broken).write_text(BROKEN + "    extra: 1\n")
    result = invoke("--format", "github", "validate", broken)
    assert result.exit_code == 2
    [line] = result.stdout.splitlines()
    found = ANNOTATION.match(line)
    assert found and found.group("kind", "file", "line", "col", "title") == (
        "error", "fleet.yaml", "23", "5", "meshgen E101")
    assert found["message"].startswith("[E101] unknown key 'extra' in clusters[0]")


def test_github_annotations_escape_properties_and_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "a,b:c.yaml"  # ',' and ':' would end a property value
    Path(name).write_text("apiVersion: [\n")
    result = invoke("--format", "github", "validate", name)
    assert result.exit_code == 2
    [line] = result.stdout.splitlines()
    assert line.startswith("::error file=a%2Cb%3Ac.yaml,line=")
    assert "\n" not in line and ANNOTATION.match(line)


def test_github_annotations_from_render(broken, tmp_path):
    result = invoke("--format", "github", "render", broken, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert [ANNOTATION.match(line)["line"] for line in result.stdout.splitlines()] == ["14", "18"]
    assert not (tmp_path / "out").exists()


def test_json_diagnostics_parse(broken):
    result = invoke("--format", "json", "validate", broken)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert (document["command"], document["exit_code"]) == ("validate", 2)
    data = document["diagnostics"]
    assert [(d["code"], d["severity"], d["span"]["line"], d["span"]["col"]) for d in data] == [
        ("E202", "error", 14, 18),
        ("E202", "error", 18, 14),
    ]
    assert data[0]["span"]["file"] == "fleet.yaml"
    assert {"code", "message", "hint", "path", "severity", "span"} <= set(data[0])


def test_json_for_a_valid_spec_has_no_diagnostics():
    result = invoke("--format", "json", "validate", str(EXAMPLE))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"command": "validate", "diagnostics": [], "exit_code": 0}


def test_github_for_a_valid_spec_prints_nothing():
    result = invoke("--format", "github", "validate", str(EXAMPLE))
    assert result.exit_code == 0
    assert result.stdout == ""


# --- progress and shell completion ------------------------------------------------------------


def test_progress_with_verbose_names_every_stage(tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(EXAMPLE.read_text())
    result = invoke("--verbose", "render", str(spec), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    stages = [re.sub(r"^\[ *\d+\.\d\ds\] ", "", line) for line in result.stderr.splitlines()
              if re.match(r"\[ *\d+\.\d\ds\] ", line)]
    assert [stage.split()[0] for stage in stages] == ["load", "check", "resolve", "render", "validate", "emit", "write"]
    assert stages[0] == f"load {spec}" and re.fullmatch(r"validate \d+ objects", stages[4])
    assert re.fullmatch(rf"write \d+ files {re.escape(str(tmp_path / 'out'))}", stages[6])


def test_progress_on_a_terminal_only(tmp_path, monkeypatch):
    """Per stage on stderr when it is a terminal (test_no_progress_when_not_a_terminal_or_quiet: not otherwise)."""
    spec = tmp_path / "fleet.yaml"
    spec.write_text(EXAMPLE.read_text())
    from meshgen import cli, cli_base

    shown = []
    monkeypatch.setattr(cli_base.sys, "stderr", type("Tty", (), {"isatty": lambda self: True})())
    monkeypatch.setattr(cli_base.click, "echo", lambda text="", err=False, nl=True: shown.append((text, err)))
    with pytest.raises(SystemExit):
        cli.main.main(["render", str(spec), "-o", str(tmp_path / "out")], standalone_mode=False)
    stages = [text for text, err in shown if err and re.match(r"\[ *\d+\.\d\ds\] ", text)]
    assert len(stages) == 7


def test_no_progress_when_not_a_terminal_or_quiet(tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(EXAMPLE.read_text())
    result = invoke("render", str(spec), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0 and "files rendered" not in result.stderr
    result = invoke("--quiet", "check", str(spec), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""


def test_bash_completion_script():
    result = CliRunner().invoke(main, [], prog_name="meshgen", env={"_MESHGEN_COMPLETE": "bash_source"})
    assert result.exit_code == 0
    assert "_meshgen_completion" in result.stdout and "complete " in result.stdout


def test_completion_of_commands():
    env = {"_MESHGEN_COMPLETE": "bash_complete", "COMP_WORDS": "meshgen gr", "COMP_CWORD": "1"}
    result = CliRunner().invoke(main, [], prog_name="meshgen", env=env)
    assert "plain,graph" in result.stdout.splitlines()
