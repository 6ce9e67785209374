"""Every `meshgen` command line in the docs is one the CLI accepts (issue 17: "an option that does not
exist cannot be documented").

Command lines are taken from README.md and docs/**/*.md:

- fenced ``sh``/``bash``/``shell`` blocks (every line), ``console`` blocks (lines after ``$ ``) and
  ``yaml`` blocks (``run:``/``entry:`` values, as in a CI workflow or a pre-commit hook); each line
  is split at ``|``, ``&&``, ``||`` and ``;`` and every part that starts with ``meshgen`` (after
  ``VAR=value`` assignments; ``.venv/bin/meshgen`` and ``python -m meshgen`` too) is checked;
- inline code spans, in prose and tables, that start with ``meshgen ``. These are synopses:
  ``[...]`` is an optional part (kept, so its options are checked too), an upper-case word is a
  placeholder (``SPEC``, ``OUT``, ``C/NS/SA``, ``HOST[:PORT]``; replaced by ``1``, which every
  path, string and number option takes), ``COMMAND`` stands for each subcommand, ``...`` for more
  arguments (dropped), and ``a|b|c`` (``a\\|b`` in a table) for alternatives, each checked.

Each line is parsed by click itself: the group's options, then the subcommand, whose context is made
with ``make_context`` (``resilient_parsing=False``), so an unknown option, a missing option value,
an unknown subcommand or a bad choice fails here. Only parsing happens: no command runs. Whether a
command's output is as documented is tested elsewhere (tests/test_guides.py, test_explain_docs.py).
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from meshgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([\w-]*)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.S | re.M)
SHELL = {"sh", "bash", "shell", "console"}
YAML_COMMAND = re.compile(r"^\s*(?:-\s+)?(?:run|entry):\s*(?!\|)(.+)$")
OPERATORS = {"|", "||", "&&", ";", "&"}
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*(?:[/:][A-Z_]+|\[:[A-Z_]+\])*$")
DUMMY = "1"


@dataclass(frozen=True)
class Command:
    """One documented command line: where it is, as written, and the argument lists it stands for."""

    where: str
    text: str
    variants: tuple[tuple[str, ...], ...]


# --- extraction ------------------------------------------------------------------------------------


def commands_in(text: str, name: str) -> list[Command]:
    """Every meshgen command line of one Markdown text, fenced blocks first, then code spans."""
    found, prose = [], text
    for match in FENCE.finditer(text):
        language, body = match.group(2).lower(), match.group(3)
        first = text.count("\n", 0, match.start()) + 2
        for i, line in enumerate(body.splitlines()):
            found += [(first + i, Command(f"{name}:{first + i}", text, synopsis_variants(args)))
                      for text, args in block_commands(language, line)]
        prose = prose[:match.start()] + re.sub(r"[^\n]", " ", match.group(0)) + prose[match.end():]
    for start, span in code_spans(prose):
        if span.startswith("meshgen "):
            line = prose.count("\n", 0, start) + 1
            words = shlex.split(span.replace("\\|", "|"))[1:]
            found.append((line, Command(f"{name}:{line}", span, synopsis_variants(words))))
    return [command for _, command in sorted(found, key=lambda item: item[0])]


def block_commands(language: str, line: str) -> list[tuple[str, list[str]]]:
    """(text, arguments after `meshgen`) of each meshgen command on one line of a fenced block."""
    if language == "console":
        line = line[2:] if line.startswith("$ ") else ""
    elif language in ("yaml", "yml"):
        match = YAML_COMMAND.match(line)
        line = match.group(1) if match else ""
    elif language not in SHELL:
        line = ""
    if "meshgen" not in line:
        return []
    return [(" ".join(part), args) for part in shell_parts(line) if (args := meshgen_args(part)) is not None]


def shell_parts(line: str) -> list[list[str]]:
    """A shell line's simple commands: words split at pipes, `&&`, `||` and `;`, redirections dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    parts, current, words = [], [], list(lexer)
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in OPERATORS:
            parts.append(current)
            current = []
        elif word in (">", ">>", "<", "2>", "2>&1"):
            skip = word != "2>&1"
        else:
            current.append(word)
    return [part for part in parts + [current] if part]


def meshgen_args(words: list[str]) -> list[str] | None:
    """The arguments after `meshgen` when the words run meshgen, else None."""
    while words and ASSIGNMENT.match(words[0]):
        words = words[1:]
    if words and words[0].rsplit("/", 1)[-1] == "meshgen":
        return words[1:]
    if len(words) >= 3 and re.fullmatch(r"python[\d.]*", words[0].rsplit("/", 1)[-1]) and words[1:3] == ["-m", "meshgen"]:
        return words[3:]
    return None


def code_spans(text: str) -> list[tuple[int, str]]:
    """(offset, content) of each inline code span (CommonMark: a run of N backticks closed by the next
    run of exactly N; line ends become spaces; one space stripped from each side when both have one)."""
    spans, position = [], 0
    for opener in re.finditer(r"(?<!`)`+(?!`)", text):
        if opener.start() < position:
            continue
        ticks = opener.group(0)
        closer = re.compile(rf"(?<!`){ticks}(?!`)").search(text, opener.end())
        if not closer:
            continue
        content = text[opener.end():closer.start()].replace("\n", " ")
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        spans.append((opener.start(), content))
        position = closer.end()
    return spans


def synopsis_variants(words: list[str]) -> tuple[tuple[str, ...], ...]:
    """The argument lists the words after `meshgen` stand for (see the module docstring)."""
    choices = []
    for word in words:
        if word == "...":
            continue
        word = word[1:] if word.startswith("[") and not PLACEHOLDER.match(word) else word
        word = word[:-1] if word.endswith("]") and word.count("]") > word.count("[") else word
        if word == "COMMAND":
            choices.append(sorted(main.commands))
        elif PLACEHOLDER.match(word):
            choices.append([DUMMY])
        elif "|" in word and all(word.split("|")):
            choices.append(word.split("|"))
        else:
            choices.append([word])
    return tuple(itertools.product(*choices))


# --- checking --------------------------------------------------------------------------------------


def parse_error(args: tuple[str, ...]) -> str | None:
    """click's usage error for `meshgen ARGS`, or None when click parses it. Nothing is invoked."""
    if not args:  # `meshgen` alone prints its help; `_MESHGEN_COMPLETE=... meshgen` is completion
        return None
    try:
        context = click.Context(main, info_name="meshgen", resilient_parsing=False)
        rest = click.Command.parse_args(main, context, list(args))  # the group's options; stops at the command
        if not rest:
            return None
        name, command, rest = main.resolve_command(context, rest)
        command.make_context(name, rest, parent=context, resilient_parsing=False)
    except click.exceptions.Exit:  # --help, --version
        return None
    except click.UsageError as error:
        return error.format_message()
    return None


def problems_in(text: str, name: str = "doc.md") -> list[str]:
    """One line per documented argument list that click refuses: `where: `text` -> args: error`."""
    return [f"{command.where}: `{command.text}` -> {' '.join(args)}: {error}"
            for command in commands_in(text, name)
            for args in command.variants
            if (error := parse_error(args))]


# --- the docs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_line_parses(doc: Path):
    problems = problems_in(doc.read_text("utf-8"), str(doc.relative_to(ROOT)))
    assert not problems, "documented command lines the CLI refuses:\n" + "\n".join(problems)


def test_the_docs_document_every_subcommand():
    documented = {args[0] for doc in DOCS for command in commands_in(doc.read_text("utf-8"), doc.name)
                  for args in command.variants
                  if args and args[0] in main.commands}
    assert documented == set(main.commands)


def test_the_readme_command_table_lists_every_subcommand():
    readme = (ROOT / "README.md").read_text("utf-8")
    table = {row.group(1) for row in re.finditer(r"^\| `meshgen (\w+)", readme, re.M)}
    assert table == set(main.commands)


# --- the checker itself ----------------------------------------------------------------------------

SYNTHETIC = """\
# A page

Lint with `meshgen lint --bogus out`, or validate with `meshgen validate --out out`.

| command | what |
|---|---|
| `meshgen graph [SPEC] --format mermaid\\|dot\\|png [-o FILE]` | picture |
| `meshgen frobnicate` | no such command |

```sh
cat fleet.yaml | meshgen render - --lock meshgen.lock --outt out   # typo
```

```console
$ meshgen check --max-diagnostics
out: up to date
```

```yaml
      - run: meshgen --format xml validate fleet.yaml
```
"""


def test_the_checker_reports_each_option_and_command_that_does_not_exist():
    problems = problems_in(SYNTHETIC)
    assert [problem.split(":", 2)[1] for problem in problems] == ["3", "3", "7", "8", "11", "15", "20"]
    joined = "\n".join(problems)
    for expected in ("No such option '--bogus'", "No such option '--out'", "'png' is not one of",
                     "No such command 'frobnicate'", "No such option '--outt'",
                     "Option '--max-diagnostics' requires an argument", "'xml' is not one of"):
        assert expected in joined, joined


def test_the_checker_accepts_what_the_cli_accepts():
    text = """\
`meshgen lint [OUT] [--kubeconform]`, `meshgen explain [SPEC] --from C/NS/SA --to HOST[:PORT]`,
`meshgen --format json COMMAND`, `meshgen check --format json`, `meshgen --version`,
`meshgen graph fleet.yaml --format mermaid|dot|svg [-o FILE]`, `meshgen --max-diagnostics N validate`

```sh
python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/meshgen render fleet.example.yaml -o out
eval "$(_MESHGEN_COMPLETE=bash_source meshgen)"
_MESHGEN_COMPLETE=fish_source meshgen | source
```
"""
    assert [command.text for command in commands_in(text, "t.md")] == [
        "meshgen lint [OUT] [--kubeconform]", "meshgen explain [SPEC] --from C/NS/SA --to HOST[:PORT]",
        "meshgen --format json COMMAND", "meshgen check --format json", "meshgen --version",
        "meshgen graph fleet.yaml --format mermaid|dot|svg [-o FILE]", "meshgen --max-diagnostics N validate",
        ".venv/bin/meshgen render fleet.example.yaml -o out", "_MESHGEN_COMPLETE=fish_source meshgen"]
    assert problems_in(text) == []


def test_synopsis_placeholders_and_alternatives_become_argument_lists():
    assert synopsis_variants(shlex.split("explain [SPEC] --from C/NS/SA --to HOST[:PORT] ...")) == (
        ("explain", "1", "--from", "1", "--to", "1"),)
    assert synopsis_variants(["graph", "--format", "mermaid|dot", "[-o", "FILE]"]) == (
        ("graph", "--format", "mermaid", "-o", "1"), ("graph", "--format", "dot", "-o", "1"))


def test_code_spans_follow_commonmark_backtick_runs():
    text = "a ``x `meshgen render` y`` and `meshgen check` over\n`meshgen diff\n-o out`"
    assert [span for _, span in code_spans(text)] == ["x `meshgen render` y", "meshgen check", "meshgen diff -o out"]


# --- minimum versions (newcomer N8) ----------------------------------------------------------------

# The apiVersion of every object meshgen renders for a controller, and the minimum release the user docs
# must state for it. A new apiVersion in out/ fails here until its minimum is written down.
CONTROLLER_MINIMUMS = {
    "argoproj.io/v1alpha1": "Argo CD 2.8",  # Helm valuesObject
    "helm.toolkit.fluxcd.io/v2": "Flux 2.5",  # HelmRelease v2: Flux 2.3; Kustomization deletionPolicy: 2.5
    "kustomize.toolkit.fluxcd.io/v1": "Flux 2.5",
    "source.toolkit.fluxcd.io/v1": "Flux 2.5",
    "external-secrets.io/v1": "external-secrets 0.17",  # v1 served alone
}
OTHER_API_VERSIONS = {"v1", "networking.istio.io/v1", "security.istio.io/v1", "kustomize.config.k8s.io/v1beta1"}


def test_the_user_docs_state_the_minimum_version_of_every_controller_the_output_needs():
    rendered = {match for path in (ROOT / "out").rglob("*.yaml")
                for match in re.findall(r"^apiVersion: (\S+)$", path.read_text("utf-8"), re.M)}
    assert rendered - OTHER_API_VERSIONS == set(CONTROLLER_MINIMUMS), "a new apiVersion needs its minimum stated"
    gitops = (ROOT / "docs" / "gitops.md").read_text("utf-8")
    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    for minimum in set(CONTROLLER_MINIMUMS.values()):
        assert f"**{minimum}**" in gitops, f"docs/gitops.md does not state {minimum}"
        product, version = minimum.rsplit(" ", 1)
        assert f"{product} {version} or later" in readme, f"README.md does not state {minimum}"
