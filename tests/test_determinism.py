"""Same spec, same bytes: across hash seeds and across shuffled order of set-like lists."""

from __future__ import annotations

import hashlib
import io
import random
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from meshgen.pipeline import Options, build

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fleet.example.yaml"

# Lists whose order carries no meaning in the spec (gateways and failover regions are ordered).
SET_LIKE = {"networks", "rootsOfTrust", "meshes", "clusters", "services", "exports", "instances", "to",
            "serviceAccounts", "namespaces", "callers", "trustBundles", "podCIDRs", "serviceCIDRs", "ports"}


def tree_digest(tree: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(tree):
        digest.update(path.encode() + b"\0" + tree[path] + b"\0")
    return digest.hexdigest()


def shuffle_set_like(node, rng: random.Random):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SET_LIKE and isinstance(value, list):
                rng.shuffle(value)
            shuffle_set_like(value, rng)
    elif isinstance(node, list):
        for item in node:
            shuffle_set_like(item, rng)


def test_shuffled_set_like_lists_render_identical_bytes(tmp_path: Path):
    yaml = YAML()
    baseline_spec = tmp_path / "base" / "fleet.yaml"
    baseline_spec.parent.mkdir()
    baseline_spec.write_bytes(EXAMPLE.read_bytes())
    baseline = tree_digest(build(Options(spec=baseline_spec)).tree)
    for seed in range(5):
        data = yaml.load(EXAMPLE.read_text())
        shuffle_set_like(data, random.Random(seed))
        spec = tmp_path / f"s{seed}" / "fleet.yaml"
        spec.parent.mkdir()
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        spec.write_text(buffer.getvalue())
        assert tree_digest(build(Options(spec=spec)).tree) == baseline, f"shuffle seed {seed} changed the output"


def test_output_is_identical_across_hash_seeds(tmp_path: Path):
    script = (
        "import hashlib, sys; from pathlib import Path; from meshgen.pipeline import Options, build;"
        "t = build(Options(spec=Path(sys.argv[1]))).tree;"
        "print(hashlib.sha256(b''.join(k.encode() + b'\\0' + t[k] for k in sorted(t))).hexdigest())"
    )
    spec = tmp_path / "fleet.yaml"
    spec.write_bytes(EXAMPLE.read_bytes())
    digests = set()
    for seed in ("0", "1", "4242"):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        result = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, env=env,
                                check=True)
        digests.add(result.stdout.strip())
    assert len(digests) == 1
