"""A kata's bug set: plausible versions of the reference with one defect each (`katas/<slug>/bugs.toml`).

Each bug is the reference with a few lines changed, stored as `old`/`new` text beside its
description, the level it breaks and a substring of the message that must point at it:

    format_version = 1

    [[bugs]]
    id = "no_scale"
    level = 1
    description = "forgets the 1/sqrt(E) scale on the scores"
    message = "rule: scores are scaled by 1/√E"
    old = "scores_BHLS = q_BHLE @ k_BHSE.transpose(-2, -1) * scale"
    new = "scores_BHLS = q_BHLE @ k_BHSE.transpose(-2, -1)"

A bug with several edits lists them as `[[bugs.changes]]` tables (`old`, `new`) instead. Every `old`
must occur exactly once in the reference, so a bug cannot drift: when the reference changes under
it, loading the set fails and names the bug. The contract test grades every bug; review mode
(`kata start <slug> --review`) hands one out.
"""

from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kata_runner.catalog import Kata, StrictTable
from kata_runner.errors import CatalogError

FORMAT_VERSION = 1
BUG_ID = re.compile(r"^[a-z][a-z0-9_]*$")
TEST_STATUSES = ("fail", "error", "not_implemented", "timeout", "memory", "crash", "not_run")


@dataclass(frozen=True)
class Change:
    """Replace `old` (which occurs exactly once in the reference) by `new`."""

    old: str
    new: str


@dataclass(frozen=True)
class Bug:
    """One defect: the reference with `changes` applied fails `level` with `message`."""

    id: str
    level: int
    description: str
    message: str
    status: str | None
    changes: tuple[Change, ...]
    source: str  # the reference with the changes applied

    def diff(self, reference: str, *, context: int = 1) -> str:
        """The unified diff from the buggy version to the reference: the smallest fix."""
        return "".join(
            difflib.unified_diff(
                self.source.splitlines(keepends=True),
                reference.splitlines(keepends=True),
                fromfile="given",
                tofile="fixed",
                n=context,
            )
        )

    def changed_lines(self, reference: str) -> tuple[int, int]:
        """(first, last) line numbers in the buggy source that differ from the reference."""
        lines = changed_line_numbers(self.source, reference)
        return (min(lines), max(lines)) if lines else (1, 1)


def changed_line_numbers(given: str, edited: str) -> list[int]:
    """1-based line numbers of `given` that `edited` replaces or deletes (insertions count the line
    they follow)."""
    numbers: list[int] = []
    matcher = difflib.SequenceMatcher(a=given.splitlines(), b=edited.splitlines(), autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        numbers.extend(range(i1 + 1, i2 + 1) if i2 > i1 else [max(1, i1)])
    return numbers


def lines_changed(given: str, edited: str) -> int:
    """How many lines differ between two versions: max(removed, added) per changed block, summed."""
    total = 0
    matcher = difflib.SequenceMatcher(a=given.splitlines(), b=edited.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            total += max(i2 - i1, j2 - j1)
    return total


def apply_changes(reference: str, changes: tuple[Change, ...], where: str) -> str:
    """The reference with every change applied; CatalogError when an `old` is missing or ambiguous."""
    spans: list[tuple[int, int, str]] = []
    for number, change in enumerate(changes, start=1):
        count = reference.count(change.old)
        if count != 1:
            problem = "is not in" if count == 0 else f"occurs {count} times in"
            raise CatalogError(
                f"{where}: the `old` text of change {number} {problem} the reference; "
                "quote a unique passage of the reference exactly (did the reference change?)"
            )
        start = reference.index(change.old)
        spans.append((start, start + len(change.old), change.new))
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise CatalogError(f"{where}: two changes overlap; merge them into one")
    out, position = [], 0
    for start, end, new in spans:
        out.append(reference[position:start])
        out.append(new)
        position = end
    out.append(reference[position:])
    return "".join(out)


def load_bugs(kata: Kata) -> tuple[Bug, ...]:
    """The kata's bugs, validated strictly; () when it has no bugs.toml."""
    path = kata.bugs_path
    if not path.is_file():
        return ()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc})") from None
    reference = kata.solution_path.read_text(encoding="utf-8")
    top = StrictTable(raw, "the top level", path)
    version = top.get("format_version", int, expect=f"the integer {FORMAT_VERSION}")
    if version != FORMAT_VERSION:
        raise CatalogError(
            f"{path}: format_version {version} is not supported; use {FORMAT_VERSION}"
        )
    items = top.get("bugs", list, expect="an array of [[bugs]] tables")
    top.done()
    bugs: list[Bug] = []
    seen: set[str] = set()
    levels = len(kata.levels)
    for index, item in enumerate(items, start=1):
        table = StrictTable(item if isinstance(item, dict) else {}, f"[[bugs]] #{index}", path)
        bug_id = table.get(
            "id", str, expect="a snake_case name", check=lambda v: bool(BUG_ID.match(v))
        )
        if bug_id in seen:
            raise CatalogError(f"{path}: bug id '{bug_id}' is used twice; ids are unique per kata")
        seen.add(bug_id)
        level = table.get(
            "level", int, expect=f"a level from 1 to {levels}", check=lambda v: 1 <= v <= levels
        )
        description = table.get("description", str, expect="one line", check=_one_line)
        message = table.get("message", str, expect="a non-empty substring", check=bool)
        status = table.get(
            "status",
            str,
            default=None,
            expect=f"one of {', '.join(TEST_STATUSES)}",
            check=lambda v: v in TEST_STATUSES,
        )
        where = f"{path}: bug '{bug_id}'"
        changes = _changes(table, where)
        table.done()
        source = apply_changes(reference, changes, where)
        if source == reference:
            raise CatalogError(f"{where}: its changes leave the reference unchanged")
        try:
            compile(source, f"{kata.slug} bug {bug_id}", "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise CatalogError(
                f"{where}: the changed reference is not valid Python ({exc})"
            ) from None
        bugs.append(Bug(bug_id, level, description, message, status, changes, source))
    return tuple(bugs)


def _one_line(value: str) -> bool:
    return bool(value.strip()) and "\n" not in value


def _changes(table: StrictTable, where: str) -> tuple[Change, ...]:
    old = table.get("old", str, default=None, expect="the reference text to replace", check=bool)
    new = table.get("new", str, default=None, expect="the replacement text")
    listed = table.get("changes", list, default=None, expect="an array of [[bugs.changes]] tables")
    if listed is not None and (old is not None or new is not None):
        raise CatalogError(f"{where}: give `old`/`new` or [[bugs.changes]], not both")
    if listed is None:
        if old is None or new is None:
            raise CatalogError(f"{where}: needs `old` and `new` (or [[bugs.changes]] tables)")
        return (Change(old, new),)
    changes = []
    for number, item in enumerate(listed, start=1):
        change = StrictTable(
            item if isinstance(item, dict) else {}, f"change {number}", Path(where)
        )
        changes.append(
            Change(
                change.get("old", str, expect="the reference text to replace", check=bool),
                change.get("new", str, expect="the replacement text"),
            )
        )
        change.done()
    if not changes:
        raise CatalogError(f"{where}: [[bugs.changes]] is empty")
    return tuple(changes)


def main(argv: list[str] | None = None) -> int:
    """`python -m kata_runner.bugs <slug> [DIR]`: check a kata's bug set and write each bug as
    DIR/bug_<id>.py (for authors: grade one with `kata run <slug> --file DIR/bug_<id>.py`)."""
    import argparse

    from kata_runner.catalog import Catalog

    parser = argparse.ArgumentParser(prog="python -m kata_runner.bugs", description=main.__doc__)
    parser.add_argument("kata")
    parser.add_argument("directory", nargs="?", type=Path)
    args = parser.parse_args(argv)
    kata = Catalog().resolve(args.kata)
    bugs = load_bugs(kata)
    for bug in bugs:
        print(f"{bug.id:32} level {bug.level}  {bug.description}")
        if args.directory is not None:
            args.directory.mkdir(parents=True, exist_ok=True)
            (args.directory / f"bug_{bug.id}.py").write_text(bug.source, encoding="utf-8")
    print(f"{len(bugs)} bugs, all apply cleanly to {kata.solution_path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
