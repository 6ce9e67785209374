"""Located diagnostics: one format for every stage, sorted, capped, printable as text or JSON.

Codes by stage (the full table is in README.md):
  E0xx  YAML reading          E1xx  spec schema (pydantic)
  E2xx  semantic checks       E3xx  federation / trust / addresses
  E4xx  render invariants     E5xx  output and IO
  W2xx  warnings
"""

from __future__ import annotations

import enum
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A place in a source file, 1-based line and column (0 means unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return one_line(self.file)
        return f"{one_line(self.file)}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    hint: str = ""
    path: str = ""  # dotted key path in the spec, e.g. "clusters[2].network"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.col, self.code, self.message)

    def format(self) -> str:
        """One line whatever the spec holds: line breaks and other control or invisible characters
        in a message (a key or value quoted from the spec) are shown as escapes."""
        text = f"{self.span}: {self.severity.value}[{self.code}]: {one_line(self.message)}"
        if self.hint:
            text += f" ({one_line(self.hint)})"
        return text

    def to_json(self) -> dict:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


class MeshgenError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic collected so far."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sort_diagnostics(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics[:5]))


def sort_diagnostics(diagnostics) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def errors(diagnostics) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def raise_if_errors(diagnostics) -> None:
    if errors(diagnostics):
        raise MeshgenError(list(diagnostics))


@dataclass
class Report:
    """Owns what a run says and its exit code; only the CLI prints it."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    limit: int = 50

    def add(self, diagnostics) -> None:
        self.diagnostics = sort_diagnostics([*self.diagnostics, *diagnostics])

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def lines(self) -> list[str]:
        shown = [d.format() for d in self.diagnostics[: self.limit]]
        hidden = len(self.diagnostics) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more")
        return shown

    def github_lines(self) -> list[str]:
        out = []
        for d in self.diagnostics[: self.limit]:
            kind = "error" if d.is_error else "warning"
            where = f"file={_gh_property(one_line(d.span.file))}"
            if d.span.line:
                where += f",line={d.span.line},col={d.span.col}"
            message = f"[{d.code}] {one_line(d.message)}" + (f" ({one_line(d.hint)})" if d.hint else "")
            out.append(f"::{kind} {where},title=meshgen {d.code}::{_gh_escape(message)}")
        return out

    def json(self) -> str:
        return json.dumps([d.to_json() for d in self.diagnostics], indent=2, sort_keys=True)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with line breaks (also U+2028/U+2029/U+0085), control, format and other invisible
    characters written as escapes, so a printed diagnostic stays on one line and says what it says."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(found: re.Match) -> str:
    char = found.group()
    if unicodedata.category(char)[0] not in "CZ" or char == " ":
        return char
    return _ESCAPES.get(char) or (f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """A workflow-command property value: ':' and ',' would end it, so they are escaped too."""
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")
