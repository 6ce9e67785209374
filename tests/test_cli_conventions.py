"""CLI conventions (issues 14, 17): one JSON document on stdout, global options anywhere, '-' for
standard input and output, one summary line per command, located one-line diagnostics, paths that
behave (diff for `git apply`, init into folders, -o ., -o /), hostile input refused with a located
error and the documented exit code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"
BROKEN = ROOT / "tests/specs/broken"


def invoke(*args: str, input: bytes | str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A fleet repository: fleet.yaml (the example, with a repository URL that is not a placeholder)
    at the root, run from the root."""
    text = EXAMPLE.read_text()
    (tmp_path / "fleet.yaml").write_text(re.sub(r"repoURL: \S+", "repoURL: https://git.corp.internal/platform/fleet.git",
                                                text, count=1))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stale(repo: Path) -> None:
    text = (repo / "fleet.yaml").read_text()
    (repo / "fleet.yaml").write_text(text.replace("count: 4", "count: 5"))


def imports_file(changes) -> list[str]:
    """The stale federation-imports file(s) of staging-eu-1 (where the bundle keeps it is the renderers' business)."""
    return [c["path"] for c in changes if c["action"] == "update" and "/staging-eu-1/" in c["path"]
            and c["path"].endswith("/federation-imports.yaml")]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


# --- --format json: one document on stdout ------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "diff"])
def test_json_check_and_diff_are_one_document_with_the_stale_paths(repo, command):
    assert invoke("render").exit_code == 0
    stale(repo)
    result = invoke("--format", "json", command)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["command"] == command and document["exit_code"] == 1 and document["diagnostics"] == []
    (path,) = imports_file(document["changes"])
    assert path.startswith("out/clusters/") and document["interrupted"] is False
    if command == "diff":
        assert f"+++ b/{path}" in document["diff"]


@pytest.mark.parametrize("args", [
    ["validate"], ["render"], ["check"], ["diff"], ["lint"], ["schema", "-o", "-"], ["graph"], ["access"],
    ["init", "-"], ["validate", "missing.yaml"], ["render", "-o", "/"],
])
def test_json_is_one_document_for_every_command(repo, args):
    assert invoke("render").exit_code == 0
    result = invoke(*args, "--format", "json")
    document = json.loads(result.stdout)
    assert document["command"] == args[0] and document["exit_code"] == result.exit_code
    assert isinstance(document["diagnostics"], list)


def test_github_check_annotates_the_stale_files(repo):
    invoke("render")
    stale(repo)
    result = invoke("--format", "github", "check")
    assert result.exit_code == 1
    (path,) = imports_file(json.loads(invoke("--format", "json", "check").stdout)["changes"])
    assert f"::error file={path},title=meshgen check::{path} is stale (update): run `meshgen render`" in result.stdout
    assert all(line.startswith("::") for line in result.stdout.splitlines())


# --- global options after the command ---------------------------------------------------------------


@pytest.mark.parametrize("args", [["validate", "--format", "json"], ["render", "-v"], ["validate", "-q"],
                                  ["check", "--max-diagnostics", "3"], ["graph", "--debug"], ["lint", "-q"]])
def test_global_options_are_accepted_after_the_command(repo, args):
    invoke("render")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    if "-q" in args:
        assert result.stderr == ""
    if "--format" in args:
        assert json.loads(result.stdout)["exit_code"] == 0


def test_graph_format_takes_the_picture_or_the_diagnostics_format(repo):
    assert invoke("graph", "--format", "dot").stdout.startswith("digraph fleet {")
    assert json.loads(invoke("graph", "--format", "json").stdout)["picture"].startswith("flowchart LR")


# --- '-': standard input and output ------------------------------------------------------------


def test_validate_reads_the_spec_from_standard_input(repo):
    result = invoke("validate", "-", input=EXAMPLE.read_bytes())
    assert result.exit_code == 0 and result.stderr == "<stdin>: ok\n"
    broken = (BROKEN / "37-unknown-network-did-you-mean.yaml").read_bytes()
    result = invoke("validate", "-", input=broken)
    assert result.exit_code == 2 and result.stderr.startswith("<stdin>:31:14: error[E202]")


def test_render_from_standard_input_needs_the_lock_named(repo):
    result = invoke("render", "-", "-o", "out", input=EXAMPLE.read_bytes())
    assert result.exit_code == 4 and "error[E514]" in result.stderr and not Path("out").exists()
    result = invoke("render", "-", "-o", "out", "--lock", "my.lock", input=EXAMPLE.read_bytes())
    assert result.exit_code == 0, result.output
    assert Path("my.lock").is_file() and not Path("meshgen.lock").exists()
    assert invoke("check", "-", "--lock", "my.lock", input=EXAMPLE.read_bytes()).exit_code == 0


def test_a_spec_that_is_not_a_regular_file_does_not_put_the_lock_beside_it(repo):
    """`render /dev/stdin` wrote /dev/meshgen.lock; a pipe is the same case, without touching /dev."""
    import errno
    import threading
    import time

    os.mkfifo("spec.pipe")
    stop = threading.Event()

    def feed():  # a writer for whoever opens the pipe to read it (meshgen does not, now)
        while not stop.is_set():
            try:
                fd = os.open("spec.pipe", os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            os.write(fd, EXAMPLE.read_bytes())
            os.close(fd)
            return

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    result = invoke("render", "spec.pipe", "-o", "out")
    stop.set()
    feeder.join()
    assert result.exit_code == 4 and "error[E514]" in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["fleet.yaml", "spec.pipe"]


@pytest.mark.parametrize("args, prefix", [(["schema", "-o", "-"], '{\n  "$defs"'), (["graph", "-o", "-"], "flowchart LR"),
                                          (["graph", "fleet.yaml", "-o", "-", "--format", "dot"], "digraph")])
def test_dash_output_is_standard_output(repo, args, prefix):
    result = invoke(*args)
    assert result.exit_code == 0 and result.stdout.startswith(prefix)
    assert not Path("-").exists()


# --- one summary line per command ------------------------------------------------------------------


@pytest.mark.parametrize("args, line", [
    (["validate"], "fleet.yaml: ok"),
    (["render"], "out: no changes"),
    (["check"], "out: up to date"),
    (["diff"], "out: up to date"),
    (["lint"], r"out: \d+ files checked, no findings"),
    (["schema", "-o", "schema.json"], "fleet schema: written to schema.json"),
    (["graph", "-o", "fleet.mmd"], "mermaid picture of fleet.yaml: written to fleet.mmd"),
    (["access"], r"access: \d+ grants"),
    (["init", "other.yaml"], r"starter spec: written to other.yaml; next: .*"),
])
def test_every_command_prints_one_summary_line_unless_quiet(repo, args, line):
    invoke("render")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(line, result.stderr.rstrip("\n")), result.stderr
    Path("other.yaml").unlink(missing_ok=True)
    assert invoke(*args, "-q").stderr == ""


def test_render_reports_out_and_the_lock_on_one_line(repo):
    result = invoke("render")
    assert re.fullmatch(r"out: \d+ created; meshgen\.lock: created\n", result.stderr)


# --- diagnostics: located, one line, one path shape ----------------------------------------------


def test_a_crafted_key_or_value_cannot_print_a_second_diagnostic(repo):
    Path("fleet.yaml").write_text(
        'apiVersion: meshgen.dev/v1alpha1\nkind: Fleet\nmetadata: {name: "x\\u2028fleet.yaml:9:9: error[E999]: fake"}\n'
        '"a\\nfleet.yaml:9:9: error[E998]: fake": 1\n')
    result = invoke("validate")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 6 and all(re.match(r"fleet\.yaml:\d+:\d+: error\[E10[123]\]: ", line) for line in lines)
    assert "'x\\u2028fleet.yaml:9:9: error[E999]: fake' is not a DNS-1123 label" in result.stderr
    assert "unknown key 'a\\nfleet.yaml:9:9: error[E998]: fake'" in result.stderr


def test_an_output_rule_error_about_settings_is_located_in_the_spec(repo, monkeypatch):
    """The Flux Git source comes from settings.gitops, which had no origin: `<spec>: error[E402]`.
    The finding is injected (the rule it stands for varies), located as validation locates it."""
    import meshgen.conformance as conformance
    from meshgen.diagnostics import Diagnostic

    def reject_the_git_source(resources, *args):
        return [Diagnostic("E402", f"{r.describe()}: spec.url: rejected for the test", r.origin)
                for r in resources if r.path.startswith("gitops/flux/") and r.body.get("kind") == "GitRepository"]

    monkeypatch.setattr(conformance, "validate_resources", reject_the_git_source)
    text = Path("fleet.yaml").read_text()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.strip() == "gitops:") + 1
    result = invoke("render")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"fleet.yaml:{line}:5: error[E402]: GitRepository")
    document = json.loads(invoke("--format", "json", "render").stdout)
    assert {d["path"] for d in document["diagnostics"]} == {"settings.gitops"}


def test_lint_findings_are_located_one_based(repo):
    invoke("render")
    path = next(p for p in sorted(Path("out/clusters").rglob("*.yaml")) if "mode: STRICT" in p.read_text())
    path.write_text(path.read_text().replace("mode: STRICT", "mode: SOMETIMES"))
    result = invoke("lint")
    assert result.exit_code == 3
    spans = re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): error", result.stderr, re.M)
    lines = path.read_text().splitlines()
    at = [(n, text.index("mode:") + 1) for n, text in enumerate(lines, start=1) if "mode: SOMETIMES" in text]
    assert spans and {(int(line), int(col)) for line, col in spans} == set(at)  # at the key, not the document


def test_kubeconform_missing_names_no_internal_function(repo, monkeypatch):
    invoke("render")
    monkeypatch.setenv("PATH", "/nonexistent")
    result = invoke("lint", "--kubeconform")
    assert result.exit_code == 4 and "error[E506]: kubeconform is not on PATH" in result.stderr
    assert "validate_object" not in result.stderr and "lint_tree" not in result.stderr


def test_the_missing_key_of_a_typo_comes_after_the_typo(repo):
    Path("fleet.yaml").write_text(Path("fleet.yaml").read_text().replace("    trustDomain:", "    trustDomian:", 1))
    lines = invoke("validate").stderr.splitlines()
    assert [re.search(r"error\[(E\d+)\]", line)[1] for line in lines] == ["E101", "E102"]
    assert "did you mean 'trustDomain'?" in lines[0] and "'trustDomian' here looks like a misspelling" in lines[1]
    assert lines[0].split(": error")[0] == lines[1].split(": error")[0]  # both at the misspelt key


@pytest.mark.parametrize("name, code, path", [
    ("37-unknown-network-did-you-mean.yaml", "E202", "clusters[1].network"),
    ("42-cidr-overlap-same-network.yaml", "E204", "clusters[1].serviceCIDRs[0]"),
    ("53-secret-pem-block.yaml", "E210", "rootsOfTrust[0].property"),
    ("14-unknown-key-typo.yaml", "E102", "meshes[0].trustDomain"),
    ("28-bad-cidr-host-bits.yaml", "E103", "clusters[0].podCIDRs[0]"),
])
def test_json_path_has_one_shape_and_the_hint_is_separate(monkeypatch, name, code, path):
    monkeypatch.chdir(BROKEN)
    document = json.loads(invoke("--format", "json", "validate", name).stdout)
    found = next(d for d in document["diagnostics"] if d["code"] == code)
    assert found["path"] == path
    assert not found["message"].endswith(")") or found["code"] == "E204", found["message"]


# --- paths that behave ----------------------------------------------------------------------------


def test_diff_applies_with_git_apply_from_the_repository_root(repo):
    assert invoke("render").exit_code == 0
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "v1")
    stale(repo)
    Path("sub").mkdir()
    os.chdir("sub")  # run from elsewhere in the repository: the paths still start at its root
    patch = invoke("diff", "../fleet.yaml", "-o", "../out").stdout
    assert "--- a/out/clusters/" in patch
    (repo / "change.patch").write_text(patch)
    git(repo, "apply", "--check", "change.patch")
    git(repo, "apply", "change.patch")
    os.chdir(repo)
    assert invoke("check").exit_code == 0


def test_render_into_a_repository_root_with_its_own_readme(repo):
    Path("README.md").write_text("# our fleet\n")
    refused = invoke("render", "-o", ".")
    assert refused.exit_code == 4 and "refusing to overwrite README.md" in refused.stderr
    assert "or render with --no-summary, which leaves out the summary README.md" in refused.stderr
    result = invoke("render", "-o", ".", "--no-summary")
    assert result.exit_code == 0, result.output
    assert Path("README.md").read_text() == "# our fleet\n" and Path("clusters").is_dir()
    assert invoke("check", "-o", ".", "--no-summary").exit_code == 0


def test_render_in_an_empty_folder_says_how_to_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("render")
    assert result.exit_code == 4
    assert result.stderr == ("fleet.yaml: error[E501]: cannot read spec: No such file or directory "
                             "(no spec at fleet.yaml: `meshgen init fleet.yaml` writes a commented starter)\n")


@pytest.mark.parametrize("out, code", [("/", "E502"), ("a-file", "E503")])
def test_an_output_folder_that_is_the_root_or_a_file_is_refused(repo, out, code):
    Path("a-file").write_text("x\n")
    result = invoke("render", "-o", out)
    assert result.exit_code == 4 and f"error[{code}]" in result.stderr and "internal error" not in result.stderr


def test_an_endless_spec_is_read_no_further_than_the_limit():
    """`/dev/zero` was read without limit (timeout: a guard against the old behaviour, not a speed test)."""
    done = subprocess.run([sys.executable, "-c", "from meshgen.cli import main; main()", "validate", "/dev/zero"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("/dev/zero:1:12582913: error[E001]: spec is larger than 12 MiB")


def test_concurrent_renders_into_one_out_both_succeed(repo):
    command = [sys.executable, "-c", "from meshgen.cli import main; main()", "render"]
    runs = [subprocess.Popen(command, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    results = [(run.wait(), run.stderr.read()) for run in runs]
    assert [code for code, _ in results] == [0, 0, 0], results
    assert invoke("check").exit_code == 0
    assert not any(p.name.startswith(".meshgen-staging") or p.name.endswith(".meshgen-tmp") for p in Path("out").rglob("*"))
