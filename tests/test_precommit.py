"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real pre-commit against a throwaway repository.

The hook source is a snapshot of this working tree committed into a temporary git repository (so
the test exercises the code under test, committed or not); pre-commit pip-installs it once per
session into a temporary PRE_COMMIT_HOME. That install is the slow part (about a minute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return result.stdout


def snapshot_of_this_repo(dest: Path) -> str:
    """Commit the tracked and untracked-but-not-ignored files of this tree into `dest`; return the sha."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for relative in filter(None, listed):
        source, target = ROOT / relative, dest / relative
        if source.is_symlink() or source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))  # e.g. meshgen/_schemas -> ../schema
            else:
                shutil.copy2(source, target)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return git(dest, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="session")
def hooks(tmp_path_factory):
    """(hook repo path, rev, environment with a private PRE_COMMIT_HOME whose hook env is installed)."""
    source = tmp_path_factory.mktemp("hook-source")
    rev = snapshot_of_this_repo(source)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("VIRTUAL_ENV", None)
    project = new_project(tmp_path_factory.mktemp("warm-up"), source, rev)
    result = pre_commit(project, env, "install-hooks")
    assert result.returncode == 0, result.stdout + result.stderr
    return source, rev, env


def new_project(path: Path, source: Path, rev: str) -> Path:
    """A fleet repository using both hooks, with out/ rendered and everything committed."""
    shutil.copy(EXAMPLE, path / "fleet.yaml")
    (path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n      - id: meshgen-check\n      - id: meshgen-render\n")
    git(path, "init", "-q")
    result = CliRunner().invoke(main, ["--quiet", "render", str(path / "fleet.yaml"), "-o", str(path / "out")])
    assert result.exit_code == 0, result.output
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "fleet")
    return path


def pre_commit(project: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pre_commit", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=900)


def run_hook(project: Path, env: dict, hook: str) -> subprocess.CompletedProcess:
    return pre_commit(project, env, "run", hook, "--all-files")


@pytest.fixture
def project(tmp_path, hooks):
    source, rev, env = hooks
    return new_project(tmp_path, source, rev), env


@pytest.mark.parametrize("hook", ["meshgen-check", "meshgen-render"])
def test_hooks_pass_on_a_clean_tree(project, hook):
    path, env = project
    result = run_hook(path, env, hook)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
    assert git(path, "status", "--porcelain") == ""


def make_stale(path: Path) -> None:
    """Change the spec (a new export) and commit it without re-rendering."""
    spec = path / "fleet.yaml"
    spec.write_text(spec.read_text().replace("failover:\n", "  - service: shop/cart\n    mesh: prod\n"
                                             "    to:\n      - mesh: staging\n\nfailover:\n", 1))
    git(path, "commit", "-q", "-am", "export cart")


def test_check_fails_on_a_stale_tree_and_lists_the_paths(project):
    path, env = project
    make_stale(path)
    result = run_hook(path, env, "meshgen-check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout and "out/clusters/" in result.stdout
    assert git(path, "status", "--porcelain") == ""  # check never writes


def test_render_fails_on_a_stale_tree_then_passes(project):
    path, env = project
    make_stale(path)
    result = run_hook(path, env, "meshgen-render")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout
    assert git(path, "status", "--porcelain") != ""  # re-rendered: the changes are there to review and stage
    git(path, "add", "-A")
    assert run_hook(path, env, "meshgen-render").returncode == 0
    assert run_hook(path, env, "meshgen-check").returncode == 0


def test_render_fails_when_it_only_creates_files(project):
    """pre-commit notices modified tracked files only; a new file must fail the hook through --fail-on-change."""
    path, env = project
    shutil.rmtree(path / "out" / "gitops")
    git(path, "commit", "-q", "-am", "drop gitops")
    result = run_hook(path, env, "meshgen-render")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (path / "out" / "gitops" / "flux" / "sources.yaml").is_file()


def test_render_fail_on_change_flag(tmp_path):
    spec = tmp_path / "fleet.yaml"
    shutil.copy(EXAMPLE, spec)
    args = ["--quiet", "render", str(spec), "-o", str(tmp_path / "out"), "--fail-on-change"]
    assert CliRunner().invoke(main, args).exit_code == 1  # first render creates files
    assert CliRunner().invoke(main, args).exit_code == 0  # nothing left to change
    (tmp_path / "meshgen.lock").write_text((tmp_path / "meshgen.lock").read_text() + "# edited by hand\n")
    assert CliRunner().invoke(main, args).exit_code == 1  # only the lock changed: still a change
    assert CliRunner().invoke(main, args).exit_code == 0
