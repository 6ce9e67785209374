"""docs/explain.md stays true: every ```console block's command, run from the repository root, prints
exactly the lines documented under it, with the exit code the text before the block states."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshgen import cli

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "explain.md"
BLOCK = re.compile(r"```console\n\$ meshgen (.+?)\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"\(exit (\d)\)")


def blocks() -> list[tuple[str, str, int | None]]:
    """(command, expected output, exit code stated in the paragraph before the block, if any)."""
    text = DOC.read_text()
    found = []
    for match in BLOCK.finditer(text):
        before = text[:match.start()].rsplit("\n\n", 2)[-2]
        stated = EXIT.search(before)
        found.append((match.group(1), match.group(2), int(stated.group(1)) if stated else None))
    return found


def test_the_page_has_the_three_examples_and_the_matrix():
    commands = [command for command, _, _ in blocks()]
    assert commands == [
        "explain fleet.example.yaml --from staging-eu-1/checkout/checkout --to ledger.payments.global:8443",
        "explain fleet.example.yaml --from staging-eu-1/catalog/search --to ledger.payments.global:8443",
        "explain fleet.example.yaml --from prod-east-1/shop/frontend --to checkout.checkout.global:8080",
        "explain fleet.example.yaml --matrix",
    ]
    assert [code for _, _, code in blocks()][:3] == [0, 1, 1]


@pytest.mark.parametrize("command, expected, code", blocks(), ids=lambda v: str(v)[:60] if isinstance(v, str) else None)
def test_documented_output_is_what_the_command_prints(monkeypatch, command: str, expected: str, code: int | None):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli.main, shlex.split(command), catch_exceptions=False)
    assert result.output == expected, f"docs/explain.md is stale for `meshgen {command}`: regenerate the block"
    if code is not None:
        assert result.exit_code == code
