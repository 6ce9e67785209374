"""Writer: one planning path for WRITE/CHECK/DIFF, owned-only pruning, atomic two-phase apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshgen import writer
from meshgen.writer import disk
from meshgen.diagnostics import MeshgenError
from meshgen.writer import JOURNAL, OWNED, Change, Mode, apply, plan, sync

TREE = {
    "clusters/east/kustomization.yaml": b"resources:\n  - ns.yaml\n",
    "clusters/east/ns.yaml": b"kind: Namespace\n",
    "clusters/west/ns.yaml": b"kind: Namespace\n",
    "fleet/apps.yaml": b"kind: Application\n",
}


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under root, relative paths."""
    if not root.exists():
        return {}
    result: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        result[rel] = None if path.is_dir() else path.read_bytes()
    return result


def files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if v is not None}


def visible_of(snap: dict) -> dict:
    """What git and a controller see: everything but the staging folder (git-ignored by its .gitignore)."""
    return {k: v for k, v in snap.items() if k.split("/")[0] != writer.STAGING}


def visible(root: Path) -> dict:
    return visible_of(snapshot(root))


def write(tree, root: Path) -> None:
    sync(tree, root, Mode.WRITE)


def expected_files(tree) -> dict[str, bytes]:
    return {**tree, OWNED: "".join(f"{p}\n" for p in sorted(tree)).encode()}


def actions(result) -> list[tuple[str, str]]:
    return [(c.path, c.action) for c in result.changes]


def codes(err) -> list[str]:
    return [d.code for d in err.value.diagnostics]


# --- planning and modes ---------------------------------------------------------------------------


def test_first_write_creates_everything_and_the_ownership_list(tmp_path):
    out = tmp_path / "out"
    result = plan(TREE, out)
    assert actions(result) == [(OWNED, "create")] + [(p, "create") for p in sorted(TREE)]
    assert not out.exists()  # planning never writes
    apply(result, TREE, out)
    assert files(out) == expected_files(TREE)
    assert plan(TREE, out).is_clean


def test_update_create_delete_are_planned(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    new_tree = dict(TREE)
    new_tree["fleet/apps.yaml"] = b"kind: ApplicationSet\n"
    new_tree["clusters/north/ns.yaml"] = b"kind: Namespace\n"
    del new_tree["clusters/west/ns.yaml"]
    result = plan(new_tree, out)
    assert actions(result) == [
        (OWNED, "update"),
        ("clusters/north/ns.yaml", "create"),
        ("clusters/west/ns.yaml", "delete"),
        ("fleet/apps.yaml", "update"),
    ]
    update = result.changes[-1]
    assert update == Change("fleet/apps.yaml", "update", b"kind: Application\n", b"kind: ApplicationSet\n")
    apply(result, new_tree, out)
    assert files(out) == expected_files(new_tree)
    assert not (out / "clusters/west").exists()  # emptied folder removed


def test_check_and_diff_modes_write_nothing(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    before = snapshot(out)
    changed = {**TREE, "fleet/apps.yaml": b"kind: ApplicationSet\n"}
    for mode in (Mode.CHECK, Mode.DIFF):
        result = sync(changed, out, mode)
        assert actions(result) == [("fleet/apps.yaml", "update")]
    assert snapshot(out) == before
    sync(TREE, tmp_path / "never", Mode.CHECK)
    assert not (tmp_path / "never").exists()


def test_diff_is_unified_and_deterministic(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    changed = {**TREE, "fleet/apps.yaml": b"kind: ApplicationSet\n"}
    del changed["clusters/west/ns.yaml"]
    text = plan(changed, out).diff()
    assert text == plan(changed, out).diff()
    assert "--- a/fleet/apps.yaml\n+++ b/fleet/apps.yaml\n" in text
    assert "-kind: Application\n+kind: ApplicationSet\n" in text
    assert "--- a/clusters/west/ns.yaml\n+++ b/clusters/west/ns.yaml\n" in text
    assert "-clusters/west/ns.yaml\n" in text  # the ownership list shrinks
    assert text.index("a/.meshgen-owned") < text.index("a/clusters/west") < text.index("a/fleet/apps")


def test_diff_marks_a_missing_final_newline(tmp_path):
    text = writer.Plan((Change("x", "update", b"a", b"a\n"),)).diff()
    assert "-a\n\\ No newline at end of file\n+a\n" in text


def test_unchanged_files_keep_their_mtime(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    old = 1_000_000_000_000_000_000
    for path in out.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(old, old))
    changed = {**TREE, "fleet/apps.yaml": b"kind: ApplicationSet\n"}
    write(changed, out)
    mtimes = {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    touched = {path for path, mtime in mtimes.items() if mtime != old}
    assert touched == {"fleet/apps.yaml"}
    write(changed, out)  # a second identical run touches nothing at all
    assert {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes


# --- ownership ----------------------------------------------------------------------------------


def test_unowned_files_are_never_deleted(tmp_path):
    out = tmp_path / "out"
    (out / "clusters/west").mkdir(parents=True)
    (out / "README.md").write_bytes(b"hand written\n")
    (out / "clusters/west/extra.yaml").write_bytes(b"mine\n")
    write(TREE, out)
    write({"fleet/apps.yaml": TREE["fleet/apps.yaml"]}, out)
    assert files(out) == {
        "README.md": b"hand written\n",
        "clusters/west/extra.yaml": b"mine\n",
        **expected_files({"fleet/apps.yaml": TREE["fleet/apps.yaml"]}),
    }
    assert not (out / "clusters/east").exists()


def test_unowned_conflicting_file_is_e501_naming_the_path(tmp_path):
    out = tmp_path / "out"
    (out / "fleet").mkdir(parents=True)
    (out / "fleet/apps.yaml").write_bytes(b"someone else's\n")
    before = snapshot(out)
    with pytest.raises(MeshgenError) as err:
        plan(TREE, out)
    assert codes(err) == ["E501"]
    assert "fleet/apps.yaml" in err.value.diagnostics[0].message
    assert snapshot(out) == before


def test_identical_unowned_file_is_adopted(tmp_path):
    out = tmp_path / "out"
    (out / "fleet").mkdir(parents=True)
    (out / "fleet/apps.yaml").write_bytes(TREE["fleet/apps.yaml"])
    result = plan(TREE, out)
    assert ("fleet/apps.yaml", "create") not in actions(result)
    apply(result, TREE, out)
    assert "fleet/apps.yaml" in (out / OWNED).read_text().splitlines()


def test_a_file_where_a_folder_is_needed_is_e503(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "fleet").write_bytes(b"a file\n")
    with pytest.raises(MeshgenError) as err:
        plan(TREE, out)
    assert "E503" in codes(err)


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["../evil.yaml", "a/../../evil.yaml", "/etc/passwd", "a//b.yaml", "./a.yaml", "a/./b", "", "a\\b",
     OWNED, JOURNAL, ".meshgen-journal", ".meshgen-staging", ".meshgen-staging/x", "a/.x.meshgen-tmp"],
)
def test_bad_paths_are_e502_and_nothing_is_written(tmp_path, path):
    out = tmp_path / "out"
    with pytest.raises(MeshgenError) as err:
        sync({path: b"x\n"}, out, Mode.WRITE)
    assert codes(err) == ["E502"]
    assert snapshot(tmp_path) == {}


def test_symlink_escape_is_e502(tmp_path):
    out = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    out.mkdir()
    (out / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(MeshgenError) as err:
        sync({"link/evil.yaml": b"x\n"}, out, Mode.WRITE)
    assert codes(err) == ["E502"]
    assert list(outside.iterdir()) == []


def test_tampered_ownership_list_cannot_prune_outside(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep\n")
    (out / OWNED).write_bytes((out / OWNED).read_bytes() + b"../victim.txt\n")
    with pytest.raises(MeshgenError) as err:
        write(TREE, out)
    assert codes(err) == ["E502"]
    assert victim.read_bytes() == b"keep\n"


# --- crashes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_at", [0, 1, 3, 5])
def test_failure_in_phase_one_leaves_out_byte_for_byte(tmp_path, monkeypatch, fail_at):
    out = tmp_path / "out"
    write(TREE, out)
    (out / "README.md").write_bytes(b"hand written\n")
    before = snapshot(out)
    new_tree = {p: data + b"# v2\n" for p, data in TREE.items()}
    new_tree["clusters/north/deep/ns.yaml"] = b"kind: Namespace\n"
    real = disk.write_temp
    calls = []

    def flaky(temp, data):
        calls.append(temp)
        if len(calls) > fail_at:
            temp.write_bytes(data[:1])  # a half-written temp
            raise OSError("disk full")
        real(temp, data)

    monkeypatch.setattr(disk, "write_temp", flaky)
    with pytest.raises(OSError, match="disk full"):
        write(new_tree, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("fail_at", [0, 2, 5])
def test_fsync_failure_in_phase_one_leaves_out_byte_for_byte(tmp_path, monkeypatch, fail_at):
    """Temps are written first, then fsynced from a thread pool: a failing fsync still undoes phase 1."""
    out = tmp_path / "out"
    write(TREE, out)
    before = snapshot(out)
    new_tree = {p: data + b"# v2\n" for p, data in TREE.items()}
    new_tree["clusters/north/deep/ns.yaml"] = b"kind: Namespace\n"
    real = disk.fsync_file
    synced = []

    def flaky(path):
        synced.append(path)
        if len(synced) > fail_at:  # from the (fail_at + 1)th fsync on, whichever thread runs it
            raise OSError("I/O error")
        real(path)

    monkeypatch.setattr(disk, "fsync_file", flaky)
    with pytest.raises(OSError, match="I/O error"):
        write(new_tree, out)
    assert snapshot(out) == before


def test_every_temp_is_fsynced_before_the_journal(tmp_path, monkeypatch):
    out = tmp_path / "out"
    events = []
    real_fsync, real_journal = disk.fsync_file, disk.write_journal
    monkeypatch.setattr(disk, "fsync_file", lambda path: (events.append(("fsync", path.name)), real_fsync(path)))
    monkeypatch.setattr(disk, "write_journal", lambda *a: (events.append(("journal", "")), real_journal(*a)))
    write(TREE, out)
    before_journal = events[: events.index(("journal", ""))]
    assert sorted(name for what, name in before_journal) == [f"{i:06d}{writer.TMP_SUFFIX}" for i in range(len(TREE) + 1)]
    assert files(out) == expected_files(TREE)


def test_failure_before_apply_leaves_missing_out_missing(tmp_path, monkeypatch):
    out = tmp_path / "a" / "out"

    def broken(temp, data):
        raise OSError("boom")

    monkeypatch.setattr(disk, "write_temp", broken)
    with pytest.raises(OSError):
        write(TREE, out)
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("replaces_before_kill", [-1, 0, 1, 2, 4])
def test_kill_in_phase_two_rolls_forward_on_next_apply(tmp_path, monkeypatch, replaces_before_kill):
    out = tmp_path / "out"
    write(TREE, out)
    (out / "README.md").write_bytes(b"hand written\n")
    new_tree = {p: data + b"# v2\n" for p, data in TREE.items() if p != "clusters/west/ns.yaml"}
    new_tree["clusters/north/ns.yaml"] = b"kind: Namespace\n"
    result = plan(new_tree, out)
    real_replace = os.replace
    done = []

    def killed(src, dst):
        if len(done) > replaces_before_kill:  # the first replace writes the journal
            raise KeyboardInterrupt("killed")
        done.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    before_apply = snapshot(out)
    with pytest.raises(KeyboardInterrupt):
        apply(result, new_tree, out)
    monkeypatch.setattr(os, "replace", real_replace)
    journal_written = (out / JOURNAL).exists()
    assert journal_written == (replaces_before_kill >= 0)
    if not journal_written:  # killed while writing the journal: still phase 1, nothing visible changed
        assert visible(out) == visible_of(before_apply)

    # planning after the kill reports what is really there: each file old or new, the old ones stale
    before = snapshot(out)
    pending = plan(new_tree, out)
    assert snapshot(out) == before
    assert pending.interrupted == journal_written
    still_old = {p for p, data in expected_files(new_tree).items() if files(out).get(p) != data}
    assert {c.path for c in pending.changes} == still_old | {"clusters/west/ns.yaml"} - (
        set() if (out / "clusters/west/ns.yaml").exists() else {"clusters/west/ns.yaml"})

    apply(result, new_tree, out)  # the stale plan of the killed run, and the same tree
    assert files(out) == {"README.md": b"hand written\n", **expected_files(new_tree)}
    assert not (out / "clusters/west").exists()
    assert plan(new_tree, out).is_clean


def test_kill_while_pruning_rolls_forward(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write(TREE, out)
    new_tree = {"fleet/apps.yaml": TREE["fleet/apps.yaml"]}
    real_prune = disk._prune

    def killed(root, path):
        if path == "clusters/west/ns.yaml":
            raise KeyboardInterrupt("killed")
        real_prune(root, path)

    monkeypatch.setattr(disk, "_prune", killed)
    with pytest.raises(KeyboardInterrupt):
        write(new_tree, out)
    monkeypatch.setattr(disk, "_prune", real_prune)
    assert (out / JOURNAL).exists() and (out / "clusters/west/ns.yaml").exists()
    pending = plan(new_tree, out)
    assert pending.interrupted and [(c.path, c.action) for c in pending.changes] == [("clusters/west/ns.yaml", "delete")]
    write(new_tree, out)
    assert files(out) == expected_files(new_tree)
    assert not (out / "clusters").exists()


def test_corrupt_journal_is_e504(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    (out / writer.STAGING).mkdir()
    (out / JOURNAL).write_bytes(b"{not json")
    with pytest.raises(MeshgenError) as err:
        plan(TREE, out)
    assert codes(err) == ["E504"]


# --- hostile file systems (issue 14) ---------------------------------------------------------------

OLD_TEMP_NAMES = [  # where meshgen 0.1 put its temps: a symlink there was written through
    "clusters/east/.ns.yaml.meshgen-tmp", "fleet/.apps.yaml.meshgen-tmp", "..meshgen-owned.meshgen-tmp",
    "..meshgen-journal.meshgen-tmp",
]


@pytest.mark.parametrize("name", OLD_TEMP_NAMES)
def test_a_symlink_at_a_temp_name_is_never_written_through(tmp_path, name):
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    write({"extra.yaml": b"x\n", **{p: b"old\n" for p in TREE}}, out)  # so the ownership list changes too
    victim.write_bytes(b"keep\n")
    (out / name).symlink_to(victim)
    write(TREE, out)
    assert victim.read_bytes() == b"keep\n"
    for path in TREE:
        assert not (out / path).is_symlink() and (out / path).read_bytes() == TREE[path]


def test_a_symlink_beside_the_address_lock_is_never_written_through(tmp_path):
    victim, lock = tmp_path / "victim.txt", tmp_path / "meshgen.lock"
    victim.write_bytes(b"keep\n")
    (tmp_path / ".meshgen.lock.meshgen-tmp").symlink_to(victim)  # meshgen 0.1's temp name
    writer.sync_file(lock, b"host 240.10.0.1\n", Mode.WRITE)
    assert victim.read_bytes() == b"keep\n"
    assert not lock.is_symlink() and lock.read_bytes() == b"host 240.10.0.1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".meshgen.lock.meshgen-tmp", "meshgen.lock", "victim.txt"]


def test_a_symlinked_address_lock_is_refused(tmp_path):
    victim, lock = tmp_path / "victim.txt", tmp_path / "meshgen.lock"
    victim.write_bytes(b"keep\n")
    lock.symlink_to(victim)
    with pytest.raises(MeshgenError) as err:
        writer.sync_file(lock, b"host 240.10.0.1\n", Mode.CHECK)
    assert codes(err) == ["E503"] and victim.read_bytes() == b"keep\n"


@pytest.mark.parametrize("planted", ["symlink", "file"])
def test_something_at_the_staging_name_is_refused(tmp_path, planted):
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    out.mkdir()
    if planted == "symlink":
        (out / writer.STAGING).symlink_to(outside, target_is_directory=True)
    else:
        (out / writer.STAGING).write_bytes(b"x\n")
    with pytest.raises(MeshgenError) as err:
        write(TREE, out)
    assert codes(err) == ["E502"]
    assert list(outside.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == [writer.STAGING]


def test_a_temp_that_appears_under_its_name_is_not_overwritten(tmp_path, monkeypatch):
    """O_EXCL: a file created at the temp's name between two steps makes the write fail, not follow it."""
    out = tmp_path / "out"
    real = disk.write_temp

    def racing(temp, data):
        if temp.name.startswith("000000"):
            temp.symlink_to(tmp_path / "victim.txt")
        real(temp, data)

    monkeypatch.setattr(disk, "write_temp", racing)
    with pytest.raises(FileExistsError):
        write(TREE, out)
    assert not (tmp_path / "victim.txt").exists() and snapshot(tmp_path) == {}


@pytest.mark.parametrize("out", ["/", "/.", "//"])
def test_the_file_system_root_is_not_an_output_folder(out):
    with pytest.raises(MeshgenError) as err:
        plan(TREE, Path(out))
    assert codes(err) == ["E502"]


def test_a_file_as_output_folder_is_e503(tmp_path):
    (tmp_path / "out").write_bytes(b"x\n")
    for target in (tmp_path / "out", tmp_path / "out" / "sub"):
        with pytest.raises(MeshgenError) as err:
            write(TREE, target)
        assert codes(err) == ["E503"]
    assert (tmp_path / "out").read_bytes() == b"x\n"


# --- killed runs: what git and controllers see ---------------------------------------------------

KILLER = """
import os, signal, sys
from pathlib import Path
import meshgen.writer as w
from meshgen.writer import disk
tree = {p: p.encode() + b" v2\\n" for p in ("a/x.yaml", "a/y.yaml", "b/new/z.yaml")}
step = sys.argv[2]
if step == "phase1":
    real = disk._fsync_all
    disk._fsync_all = lambda paths: (real(paths), os.kill(os.getpid(), signal.SIGKILL))
else:
    real, count = os.replace, []
    def replace(src, dst):
        real(src, dst)
        count.append(dst)
        if len(count) == 3:  # the journal and two files
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
w.sync(tree, Path(sys.argv[1]), w.Mode.WRITE)
"""


def git(folder: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("step", ["phase1", "phase2"])
def test_a_killed_render_leaves_nothing_git_would_add(tmp_path, step):
    import subprocess
    import sys

    out = tmp_path / "out"
    write({"a/x.yaml": b"x v1\n", "a/y.yaml": b"y v1\n", "old/gone.yaml": b"gone\n"}, out)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "v1")
    before = visible(out)
    done = subprocess.run([sys.executable, "-c", KILLER, str(out), step], capture_output=True)
    assert done.returncode == -9
    assert (out / writer.STAGING).is_dir()
    status = git(tmp_path, "status", "--porcelain", "--untracked-files=all").splitlines()
    if step == "phase1":
        assert status == [] and {k: v for k, v in visible(out).items() if v is not None} == \
            {k: v for k, v in before.items() if v is not None}
    else:  # each file old or new; nothing else
        assert status and all(line[3:] in ("out/a/x.yaml", "out/a/y.yaml") for line in status), status
        assert (out / JOURNAL).exists() and plan({"a/x.yaml": b"a/x.yaml v2\n"}, out).interrupted
    tree = {p: p.encode() + b" v2\n" for p in ("a/x.yaml", "a/y.yaml", "b/new/z.yaml")}
    write(tree, out)  # the next render recovers and finishes
    assert files(out) == expected_files(tree)


# --- concurrent runs ---------------------------------------------------------------------------


def test_a_run_waits_for_the_lock_then_fails_with_e515(tmp_path):
    out = tmp_path / "out"
    waited = []
    with writer.output_lock(out, Mode.WRITE):
        with pytest.raises(MeshgenError) as err:
            with writer.output_lock(out, Mode.WRITE, timeout=0.2, on_wait=lambda: waited.append(1)):
                pass
    assert codes(err) == ["E515"] and waited == [1]
    assert snapshot(tmp_path) == {}  # the folder the lock created is gone again: the run wrote nothing


def test_check_shares_the_lock_with_check_but_not_with_render(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    with writer.output_lock(out, Mode.CHECK):
        with writer.output_lock(out, Mode.DIFF, timeout=0):
            pass
        with pytest.raises(MeshgenError):
            with writer.output_lock(out, Mode.WRITE, timeout=0):
                pass


def test_concurrent_renders_into_one_folder_all_succeed(tmp_path):
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; import meshgen.writer as w;"
              "tree = {f'c/{i}.yaml': f'{i} {sys.argv[2]}\\n'.encode() for i in range(200)};"
              "ctx = w.output_lock(Path(sys.argv[1]), w.Mode.WRITE)\n"
              "with ctx: w.sync(tree, Path(sys.argv[1]), w.Mode.WRITE)")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "out"), str(n)], stderr=subprocess.PIPE)
            for n in range(4)]
    results = [(run.wait(), run.stderr.read()) for run in runs]
    assert results == [(0, b"")] * 4
    contents = {data.split(b" ")[1] for path, data in files(tmp_path / "out").items() if path != OWNED}
    assert len(contents) == 1  # one run's tree, whole
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [OWNED, "c"]
