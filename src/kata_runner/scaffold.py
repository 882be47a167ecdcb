"""A new kata's files, ready to fill in: `nox -s new -- <slug>` (or `python -m kata_runner.scaffold`).

Writes the statement, metadata, stub, bug set, reference, hidden suite and correct-alternative list
for `<slug>` under a checkout's root, and appends the slug to `katas/ORDER`. Every file is valid from
the start (the catalogue loads it, the stub and the reference import), and every place to fill in
says so. Refuses to overwrite anything.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


def _files(slug: str) -> dict[str, str]:
    title = slug.replace("_", " ").capitalize()
    return {
        f"katas/{slug}/README.md": f"""# {title}

What the interviewer asks, in two or three sentences, and the formula.

## Level 1: <title of level 1>

```python
def {slug}(x: list[float]) -> float: ...
```

**Every contested choice is a bold rule.** Then a worked example:

```python
>>> {slug}([1.0, 2.0])
3.0
```

## Level 2: <title of level 2>

```python
def {slug}_batch(rows: list[list[float]]) -> list[float]: ...
```

**The follow-up a strong candidate reaches within the budget**, as bold rules, and an example.
""",
        f"katas/{slug}/kata.toml": f"""format_version = 1
title = "{title}"
summary = "One sentence: what the user builds, level by level."
difficulty = 1
budget_minutes = 25
tags = []
requires = []

[[levels]]
title = "<title of level 1>"

[[levels]]
title = "<title of level 2>"

[[hints]]
level = 1
text = "A nudge: which property of the problem matters."

[[hints]]
level = 1
text = "The approach."

[[hints]]
level = 2
text = "A nudge for level 2."

[benchmark]
label = "<the size measured>"
setup = \"\"\"
xs = [float(i) for i in range(100_000)]
\"\"\"
call = "impl.{slug}(xs)"
""",
        f"katas/{slug}/{slug}.py": f'''"""{title}: see the statement beside this file."""

from __future__ import annotations


def {slug}(x: list[float]) -> float:
    """<What it returns, with shapes, units and edge cases.>"""
    raise NotImplementedError("{slug}: level 1")


def {slug}_batch(rows: list[list[float]]) -> list[float]:
    """<Level 2.>"""
    raise NotImplementedError("{slug}_batch: level 2")
''',
        f"katas/{slug}/bugs.toml": """format_version = 1

# At least eight bugs, each the reference with one realistic defect (see CONTRIBUTING.md).
[[bugs]]
id = "skips_the_first"
level = 1
description = "starts at the second element: an off-by-one"
message = "the bold rule of the statement this test checks"
old = "    return float(sum(x))"
new = "    return float(sum(x[1:]))"
""",
        f"solutions/{slug}.py": f'''"""{title}: the reference solution.

Notes
-----
Complexity, trade-offs, and the follow-ups interviewers ask.
"""

from __future__ import annotations


def {slug}(x: list[float]) -> float:
    """<As in the stub.>"""
    return float(sum(x))


def {slug}_batch(rows: list[list[float]]) -> list[float]:
    """<As in the stub.>"""
    return [{slug}(row) for row in rows]
''',
        f"src/kata_runner/suites/test_{slug}.py": f'''"""Hidden suite of {slug}: every test names the rule it checks (see CONTRIBUTING.md)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kata_runner.testing import call_repr, expect_close, expect_equal

RULE_SUM = "<the bold rule of the statement this test checks>"


@pytest.mark.level(1)
def test_worked_example(impl):
    expect_close(impl.{slug}([1.0, 2.0]), 3.0, call=call_repr("{slug}", [1.0, 2.0]), rule=RULE_SUM)


@pytest.mark.level(1)
@given(st.lists(st.floats(-1e6, 1e6), max_size=20))
def test_agrees_with_an_independent_oracle(impl, xs):
    got = impl.{slug}(xs)  # call the attempt first, then compute the expected value
    expect_close(got, math.fsum(xs), call=call_repr("{slug}", xs), rule=RULE_SUM)


@pytest.mark.level(2)
def test_batch_is_one_answer_per_row(impl):
    rows = [[1.0], [], [2.0, 3.0]]
    expect_equal(
        impl.{slug}_batch(rows), [1.0, 0.0, 5.0], call=call_repr("{slug}_batch", rows), rule=RULE_SUM
    )
''',
        f"tests/katas/{slug}/cases.toml": """# Correct solutions in a different style, each clearing every level.
# [[correct]]
# file = "correct_<style>.py"
# style = "what differs from the reference"
""",
    }


def scaffold(root: Path, slug: str) -> list[Path]:
    """Write the kata's files under `root`; returns them. Raises ValueError for a bad or taken slug."""
    if not SLUG.match(slug):
        raise ValueError(f"{slug!r} is not a snake_case slug")
    files = {root / relative: text for relative, text in _files(slug).items()}
    taken = [path for path in files if path.exists()]
    if taken:
        raise ValueError(f"{taken[0]} exists already: choose another slug")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    order = root / "katas" / "ORDER"
    existing = order.read_text() if order.exists() else ""
    order.write_text(
        existing + ("" if not existing or existing.endswith("\n") else "\n") + slug + "\n"
    )
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata_runner.scaffold", description="Write a new kata's files, to fill in."
    )
    parser.add_argument("slug", help="the kata's snake_case name")
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the checkout (default: here)"
    )
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.root, args.slug)
    except ValueError as exc:
        print(f"scaffold: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(args.root)}")
    print(f"added {args.slug} to katas/ORDER; next: CONTRIBUTING.md, then the contract for it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
