"""The dialect of code metrics (docs/metrics.md#code-as-judge): Python without imports, dunders or introspection.

This is the first of two layers. It gives users a clear 422 (line and message) when they save
a metric, and the worker checks again before every run (`code_forbidden`). It is NOT the
security boundary — language restrictions have a long history of escapes (RestrictedPython's
own README says so) — the boundary is the operating system: workers/judges/sandbox.py runs the
code in a fresh bubblewrap box per run (namespaces, seccomp, rlimits; docs/metrics.md#the-sandbox).

Rules, each closing a known escape family:
- no `import` / `from … import` (and `__import__` is not a builtin there);
- no name or attribute starting with `__`, no attribute starting with `_` (dunder walks to
  `__subclasses__`, `__globals__`, `__builtins__`);
- no frame / code / traceback attributes (`gi_frame`, `f_globals`, `tb_frame`, …: the generator
  frame escape of CVE-2023-37271);
- no `eval`, `exec`, `compile`, `open`, `getattr` & co. (names computed at run time);
- `.format` / `.format_map` only on a string literal whose fields are plain, nested format
  specs included (format strings can read attributes: "{0.__class__}", "{0:{1.__class__}}");
  f-strings are fine, their expressions are checked;
- `match` patterns obey the same rules: class-pattern keywords are attribute reads
  (`case str(format=f)` would hand out `s.format`), `{**rest}` and captures are names;
- `global` / `nonlocal` names are names too (no `global __builtins__`);
- no classes, `async`, or `except*` (not needed to judge a call; less surface).
"""
from __future__ import annotations

import ast
import string
from dataclasses import dataclass

MAX_CODE_BYTES = 64 * 1024

FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr", "globals",
    "locals", "vars", "dir", "type", "breakpoint", "input", "help", "memoryview", "object",
    "super", "classmethod", "staticmethod", "property", "exit", "quit", "copyright", "credits",
    "license", "id", "format", "bytearray", "bytes",
})
_FRAME_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended",
    "cr_frame", "cr_code", "cr_await", "cr_origin", "ag_frame", "ag_code", "ag_await",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace", "f_lineno",
    "tb_frame", "tb_next", "tb_lineno", "co_code", "co_consts", "co_names", "mro",
})
_FORBIDDEN_NODES = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.ClassDef: "class definitions are not allowed",
    ast.AsyncFunctionDef: "async code is not allowed",
    ast.AsyncFor: "async code is not allowed",
    ast.AsyncWith: "async code is not allowed",
    ast.Await: "async code is not allowed",
    ast.TryStar: "except* is not allowed",
}


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    kind: str  # "syntax" | "forbidden"

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def check_code(source: str) -> list[Problem]:
    """Everything wrong with `source` as a code metric (empty: it may run)."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        return [Problem(1, f"code is longer than {MAX_CODE_BYTES} bytes", "syntax")]
    try:
        tree = ast.parse(source, filename="<metric>", mode="exec")
    except SyntaxError as exc:
        return [Problem(exc.lineno or 1, exc.msg, "syntax")]
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return [Problem(1, f"code cannot be parsed: {type(exc).__name__}", "syntax")]
    problems = [p for node in ast.walk(tree) for p in _node_problems(node)]
    return sorted(set(problems), key=lambda p: (p.line, p.message))


def _node_problems(node: ast.AST) -> list[Problem]:
    line = getattr(node, "lineno", 1)
    found = []
    for node_type, message in _FORBIDDEN_NODES.items():
        if isinstance(node, node_type):
            found.append(message)
    for name in _identifiers(node):
        if name.startswith("__"):
            found.append(f"dunder names are not allowed ({name})")
        elif isinstance(node, ast.Name) and name in FORBIDDEN_NAMES:
            found.append(f"{name}() is not available")
    if isinstance(node, ast.Attribute):
        found += _attribute_problems(node.attr)
        if node.attr in ("format", "format_map") and not _plain_format_literal(node.value):
            found.append(".format() is allowed only on a string literal with plain fields; use an f-string")
    if isinstance(node, ast.MatchClass):
        # `case str(format=f)` reads s.format: a keyword of a class pattern is an attribute
        # read, so it obeys the attribute rules (and `format` cannot be read this way at all)
        for attr in node.kwd_attrs:
            found += _attribute_problems(attr)
            if attr in ("format", "format_map"):
                found.append(f"class patterns cannot read .{attr}")
    return [Problem(line, message, "forbidden") for message in found]


def _attribute_problems(attr: str) -> list[str]:
    if attr.startswith("_") and not attr.startswith("__"):
        return [f"private attributes are not allowed (.{attr})"]
    if attr in _FRAME_ATTRIBUTES:
        return [f"introspection attributes are not allowed (.{attr})"]
    return []


def _identifiers(node: ast.AST) -> list[str]:
    """Every identifier a node introduces or reads: variables, attributes, parameters, keywords,
    `match` captures (`rest` of `{**rest}`), class-pattern keywords, global/nonlocal names."""
    names = [getattr(node, field, None) for field in ("id", "attr", "arg", "name", "rest")]
    names += list(getattr(node, "kwd_attrs", None) or [])  # match Class(attr=…) patterns
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        names += node.names
    return [n for n in names if isinstance(n, str)]


def _plain_format_literal(value: ast.AST) -> bool:
    return isinstance(value, ast.Constant) and isinstance(value.value, str) and _plain_fields(value.value)


def _plain_fields(template: str, depth: int = 0) -> bool:
    """No field reads an attribute or an item — nested format specs included: in
    "{0:{1.__class__}}" the spec `{1.__class__}` is itself a field (Python allows one level)."""
    if depth > 1:
        return False
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return False
    for _, field, spec, _ in parsed:
        if field is not None and ("." in field or "[" in field):
            return False
        if spec and "{" in spec and not _plain_fields(spec, depth + 1):
            return False
    return True
