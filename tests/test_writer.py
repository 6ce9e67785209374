"""Writer: one planning path for WRITE/CHECK/DIFF, owned-only pruning, atomic two-phase apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meshgen import writer
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
     OWNED, JOURNAL, "a/.x.meshgen-tmp"],
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
    real = writer._write_temp
    calls = []

    def flaky(temp, data):
        calls.append(temp)
        if len(calls) > fail_at:
            temp.write_bytes(data[:1])  # a half-written temp
            raise OSError("disk full")
        real(temp, data)

    monkeypatch.setattr(writer, "_write_temp", flaky)
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
    real = writer._fsync_file
    synced = []

    def flaky(path):
        synced.append(path)
        if len(synced) > fail_at:  # from the (fail_at + 1)th fsync on, whichever thread runs it
            raise OSError("I/O error")
        real(path)

    monkeypatch.setattr(writer, "_fsync_file", flaky)
    with pytest.raises(OSError, match="I/O error"):
        write(new_tree, out)
    assert snapshot(out) == before


def test_every_temp_is_fsynced_before_the_journal(tmp_path, monkeypatch):
    out = tmp_path / "out"
    events = []
    real_fsync, real_journal = writer._fsync_file, writer._write_journal
    monkeypatch.setattr(writer, "_fsync_file", lambda path: (events.append(("fsync", path.name)), real_fsync(path)))
    monkeypatch.setattr(writer, "_write_journal", lambda *a: (events.append(("journal", "")), real_journal(*a)))
    write(TREE, out)
    assert events[-1] == ("journal", "")
    assert sorted(name for what, name in events if what == "fsync") == sorted(
        f".{Path(p).name}{writer.TMP_SUFFIX}" for p in expected_files(TREE))
    assert files(out) == expected_files(TREE)


def test_failure_before_apply_leaves_missing_out_missing(tmp_path, monkeypatch):
    out = tmp_path / "a" / "out"

    def broken(temp, data):
        raise OSError("boom")

    monkeypatch.setattr(writer, "_write_temp", broken)
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
    if not journal_written:  # killed while writing the journal: still phase 1, nothing changed
        assert snapshot(out) == before_apply

    # planning after the kill sees the rolled-forward state and writes nothing
    before = snapshot(out)
    pending = plan(new_tree, out)
    assert snapshot(out) == before
    if journal_written:
        assert pending.is_clean

    apply(result, new_tree, out)  # the stale plan of the killed run, and the same tree
    assert files(out) == {"README.md": b"hand written\n", **expected_files(new_tree)}
    assert not (out / "clusters/west").exists()
    assert plan(new_tree, out).is_clean


def test_kill_while_pruning_rolls_forward(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write(TREE, out)
    new_tree = {"fleet/apps.yaml": TREE["fleet/apps.yaml"]}
    real_prune = writer._prune

    def killed(root, path):
        if path == "clusters/west/ns.yaml":
            raise KeyboardInterrupt("killed")
        real_prune(root, path)

    monkeypatch.setattr(writer, "_prune", killed)
    with pytest.raises(KeyboardInterrupt):
        write(new_tree, out)
    monkeypatch.setattr(writer, "_prune", real_prune)
    assert (out / JOURNAL).exists() and (out / "clusters/west/ns.yaml").exists()
    assert plan(new_tree, out).is_clean  # the pending prune is already accounted for
    write(new_tree, out)
    assert files(out) == expected_files(new_tree)
    assert not (out / "clusters").exists()


def test_corrupt_journal_is_e504(tmp_path):
    out = tmp_path / "out"
    write(TREE, out)
    (out / JOURNAL).write_bytes(b"{not json")
    with pytest.raises(MeshgenError) as err:
        plan(TREE, out)
    assert codes(err) == ["E504"]
