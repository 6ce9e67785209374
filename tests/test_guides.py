"""The guides under docs/guides/ run as written (issue 17, items 3 and 6).

Each guide is a sequence of fenced blocks, run top to bottom in one empty folder:

- ```` ```yaml title="fleet.yaml" ```` writes the block to that file (replacing it);
- ```` ```console ```` holds commands after `$ ` and, below each, the output it must print
  (stdout and stderr together). A line `...` stands for any number of lines; a last line
  `[exit N]` says the command exits with N (0 otherwise).

`meshgen` runs from this checkout's interpreter, with a fixed terminal width and no colour, so the
output a newcomer sees is the output checked here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)
EXIT = re.compile(r"^\[exit (\d+)\]$")


@dataclass(frozen=True)
class Step:
    line: int
    command: str = ""
    expected: tuple[str, ...] = ()
    exit_code: int = 0
    file: str = ""
    content: str = ""


def steps(text: str) -> list[Step]:
    found = []
    for match in FENCE.finditer(text):
        language, info, body = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        title = re.search(r'title="([^"]+)"', info)
        if title:
            found.append(Step(line, file=title.group(1), content=body))
        elif language == "console":
            found += commands(body, line)
    return found


def commands(body: str, line: int) -> list[Step]:
    found, current, output = [], None, []
    for i, text in enumerate(body.splitlines() + ["$ "]):
        if text.startswith("$ "):
            if current is not None:
                code = int(EXIT.match(output.pop()).group(1)) if output and EXIT.match(output[-1]) else 0
                found.append(Step(current[0], command=current[1], expected=tuple(output), exit_code=code))
            current, output = (line + 1 + i, text[2:]), []
        else:
            output.append(text.rstrip())
    return found


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Line-by-line equality where a line `...` matches any run of lines (also none)."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def run(command: str, folder: Path) -> subprocess.CompletedProcess:
    words = shlex.split(command)
    if words[0] == "meshgen":
        words = [sys.executable, "-m", "meshgen", *words[1:]]
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "PYTHONHASHSEED": "0"}
    return subprocess.run(words, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_guide_runs_as_written(guide: Path, tmp_path: Path):
    found = steps(guide.read_text("utf-8"))
    assert any(step.command for step in found), f"{guide.name} runs no command"
    for step in found:
        if step.file:
            target = tmp_path / step.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.content, "utf-8")
            continue
        result = run(step.command, tmp_path)
        actual = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
        where = f"{guide.name}:{step.line}: $ {step.command}"
        assert result.returncode == step.exit_code, f"{where}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        assert matches(step.expected, actual), f"{where}: printed\n" + "\n".join(actual)


def test_matching_understands_ellipsis():
    assert matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert matches(("a", "...", "d"), ["a", "d"])
    assert not matches(("a", "...", "d"), ["a", "b"])
    assert not matches(("a",), ["a", "b"])
