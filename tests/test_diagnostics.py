"""Diagnostics print on one line whatever the spec holds, and carry the spec key path in one shape."""

from __future__ import annotations

from meshgen.diagnostics import Diagnostic, Report, Span, one_line
from meshgen.spec.loader import load
from meshgen.spec.positions import with_paths


def test_line_breaks_and_invisible_characters_are_escaped():
    assert one_line("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert one_line("x\u2028y\u2029z\x85w") == "x\\u2028y\\u2029z\\u0085w"
    assert one_line("bidi \u202e override, escape \x1b[31m") == "bidi \\u202e override, escape \\u001b[31m"
    assert one_line("café, 東京, plain text") == "café, 東京, plain text"


def test_a_diagnostic_is_one_line_in_text_and_github_formats():
    fake = "x\nfleet.yaml:1:1: error[E999]: fake"
    diagnostic = Diagnostic("E103", f"'{fake}' is not a DNS-1123 label", Span("f\u2028.yaml", 3, 5), hint=fake)
    (text,) = Report([diagnostic]).lines()
    (github,) = Report([diagnostic]).github_lines()
    assert "\n" not in text and "\u2028" not in text
    assert text.startswith("f\\u2028.yaml:3:5: error[E103]: 'x\\nfleet.yaml:1:1: error[E999]: fake'")
    assert "\n" not in github and "\u2028" not in github


def test_paths_take_one_shape():
    text = b"a:\n  - {b: 1, c: [x, y]}\n"
    positions = load(text, "f.yaml").positions
    given = [Diagnostic("E202", "m", Span("f.yaml", 2, 19), path="a.0.c.1"),  # dotted, as checks spell it
             Diagnostic("E205", "m", Span("f.yaml", 2, 5)),  # none: found from the position
             Diagnostic("E102", "m", Span("f.yaml", 2, 5), path="a[0].d"),  # kept: already the shape
             Diagnostic("E501", "m", Span("other.yaml"))]
    assert [d.path for d in with_paths(given, positions)] == ["a[0].c[1]", "a[0]", "a[0].d", ""]
    rendered = [Diagnostic("E402", "spec.url: bad", Span("f.yaml", 2, 9), path="spec.url")]
    assert [d.path for d in with_paths(rendered, positions, rendered=True)] == ["a[0].b"]
