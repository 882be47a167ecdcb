"""What goes into the workspace in place of the pristine stub.

- `locked_stub`: for interview mode, the stub with the description of every name of a locked level
  replaced by "Unlocks at level N." (the names and signatures stay, so the file imports). A stub says
  which level a name belongs to in its body: `raise NotImplementedError("name: level N")`.
- `point_at_statement`: the stub's first line says where the statement is; in the workspace it is
  `<slug>.md` beside the attempt.
- `without_notes`: a reference (for a review or refactoring round) without its notes section.
"""

from __future__ import annotations

import ast
import re

LEVEL_OF_NAME = re.compile(r":\s*level\s+(\d+)\b")
NOTES = re.compile(r"\n\s*Notes\n\s*-----\n.*?(?=\"\"\"|''')", re.DOTALL)


def _level_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    for statement in ast.walk(node):
        if (
            isinstance(statement, ast.Raise)
            and isinstance(statement.exc, ast.Call)
            and isinstance(statement.exc.func, ast.Name)
            and statement.exc.func.id == "NotImplementedError"
            and statement.exc.args
            and isinstance(statement.exc.args[0], ast.Constant)
            and isinstance(statement.exc.args[0].value, str)
        ):
            match = LEVEL_OF_NAME.search(statement.exc.args[0].value)
            if match:
                return int(match.group(1))
    return None


def _docstring_span(node: ast.AST) -> tuple[int, int, int] | None:
    """(first line, last line, indent) of a definition's docstring, 1-based."""
    body = getattr(node, "body", [])
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
        and body[0].end_lineno is not None
    ):
        return body[0].lineno, body[0].end_lineno, body[0].col_offset
    return None


def locked_stub(source: str, unlocked: int) -> str:
    """`source` with the docstrings of names above level `unlocked` replaced."""
    tree = ast.parse(source)
    replacements: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            level = _level_of(node)
            if level is not None and level > unlocked and (span := _docstring_span(node)):
                first, last, indent = span
                replacements.append(
                    (first, last, " " * indent + f'"""Unlocks at level {level}."""')
                )
        elif isinstance(node, ast.ClassDef):
            levels = [
                _level_of(item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            known = [level for level in levels if level is not None]
            if known and min(known) > unlocked and (span := _docstring_span(node)):
                first, last, indent = span
                text = " " * indent + f'"""Unlocks at level {min(known)}."""'
                replacements.append((first, last, text))
    lines = source.splitlines(keepends=True)
    for first, last, text in sorted(replacements, reverse=True):
        lines[first - 1 : last] = [text + "\n"]
    return "".join(lines)


def point_at_statement(source: str, slug: str) -> str:
    """The stub's pointer to its statement, true in the workspace: `<slug>.md` beside the file."""
    return source.replace("Read README.md beside this file", f"Read {slug}.md beside this file", 1)


def without_notes(source: str) -> str:
    """A reference's module docstring without its `Notes` section (the author's commentary)."""
    return NOTES.sub("\n", source, count=1)
