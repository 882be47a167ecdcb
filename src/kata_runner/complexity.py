"""Size and complexity of a source file, for refactoring rounds: lines of code (not blank, not a
comment, not a docstring) and the cyclomatic complexity of the most complex function, as PyCQA's
`mccabe` (flake8's checker) measures it."""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    lines: int
    largest_complexity: int
    largest_function: str


def lines_of_code(source: str) -> int:
    """Lines holding code: blank lines, comments and docstrings do not count."""
    docstring_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstring_lines.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            continue
        code_lines.update(range(token.start[0], token.end[0] + 1))
    return len(code_lines - docstring_lines)


def shape(source: str) -> Shape:
    """The size and the largest function's cyclomatic complexity of `source` (valid Python)."""
    import mccabe

    visitor = mccabe.PathGraphingAstVisitor()
    visitor.preorder(ast.parse(source), visitor)
    graphs = list(visitor.graphs.values())
    worst = max(graphs, key=lambda g: g.complexity(), default=None)
    return Shape(
        lines=lines_of_code(source),
        largest_complexity=worst.complexity() if worst is not None else 1,
        largest_function=str(worst.entity) if worst is not None else "-",
    )
