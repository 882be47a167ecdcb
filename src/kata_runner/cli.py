"""The `kata` command: parse arguments, call one library function per verb, print the result.

Errors are `KataError`s, turned into one line on stderr and an exit code here and nowhere else:
0 every level cleared, 1 not cleared, 2 usage error, 3 harness or storage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kata_runner import __version__, report
from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import KataError, UsageError
from kata_runner.grading import grade, read_attempt

EXIT_CLEARED, EXIT_NOT_CLEARED, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class App:
    """What every verb needs: the catalogue and the two consoles (stdout for results, stderr for chatter)."""

    def __init__(
        self, catalog: Catalog | None = None, out: Console | None = None, err: Console | None = None
    ) -> None:
        self.catalog = catalog or Catalog()
        self.out = out or Console(highlight=False)
        self.err = err or Console(stderr=True, highlight=False)

    def kata(self, typed: str) -> Kata:
        return self.catalog.resolve(typed)

    def progress(
        self, kata: Kata
    ) -> tuple[AbstractContextManager[Any], Callable[[int, int, str | None], None] | None]:
        """A progress bar on stderr when it is a terminal; otherwise nothing."""
        if not self.err.is_terminal:
            return nullcontext(), None
        bar = Progress(
            SpinnerColumn(),
            TextColumn(f"grading {kata.slug}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tests"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        )
        task = bar.add_task("grade", total=None)

        def update(done: int, total: int, current: str | None) -> None:
            bar.update(task, completed=done, total=total or None)

        return bar, update


# ---------------------------------------------------------------------------------------------
# Verbs


def cmd_list(app: App, args: argparse.Namespace) -> int:
    table = Table(title="katas", title_justify="left", header_style="bold")
    for column in ("slug", "title", "budget", "levels", "requires"):
        table.add_column(column)
    for kata in app.catalog:
        table.add_row(
            kata.slug,
            kata.title,
            f"{kata.budget_minutes} min",
            str(len(kata.levels)),
            ", ".join(kata.requires),
        )
    app.out.print(table)
    return EXIT_CLEARED


def cmd_show(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    text = kata.statement_path.read_text(encoding="utf-8")
    if args.raw:
        app.out.print(text, markup=False, highlight=False, end="")
    else:
        app.out.print(Markdown(text))
    return EXIT_CLEARED


def cmd_run(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    if args.reference and args.file:
        raise UsageError("give --file or --reference, not both")
    if args.reference:
        path, origin = kata.solution_path, "the reference solution"
    elif args.file:
        path, origin = Path(args.file), None
    else:
        path, origin = kata.stub_path, "the pristine stub (the workspace arrives with `kata start`)"
    attempt = read_attempt(kata, path)
    if origin and not args.json:
        app.err.print(f"grading {origin}: {path}", style="dim")
    bar, update = app.progress(kata)
    with bar:
        doc = grade(attempt, progress=update)
    if args.json:
        app.out.file.write(json.dumps(doc, indent=2) + "\n")
    else:
        report.render(doc, app.out)
    return exit_code(doc)


def exit_code(doc: dict[str, Any]) -> int:
    if doc["reason"] == "interrupted":
        return EXIT_INTERRUPTED
    if doc["reason"] == "harness_error":
        return EXIT_HARNESS
    return EXIT_CLEARED if doc["status"] == "pass" else EXIT_NOT_CLEARED


# ---------------------------------------------------------------------------------------------
# Parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Coding katas for AI-engineering interviews, graded by hidden test suites.",
        epilog="Start with `kata list`, then `kata run <kata>`. Katas may be named by a unique prefix.",
    )
    parser.add_argument("--version", action="version", version=f"kata {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="<command>")

    def verb(
        name: str, help_text: str, handler: Callable[[App, argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    verb("list", "List the katas: title, time budget, levels, requirements.", cmd_list)

    show = verb("show", "Print a kata's statement.", cmd_show)
    show.add_argument("kata", help="kata name or unique prefix")
    show.add_argument(
        "--raw", action="store_true", help="print the Markdown source instead of rendering it"
    )

    run = verb("run", "Grade an attempt against the kata's hidden suite.", cmd_run)
    run.add_argument("kata", help="kata name or unique prefix")
    run.add_argument(
        "--file", metavar="PATH", help="grade this file instead of your workspace copy"
    )
    run.add_argument("--reference", action="store_true", help="grade the reference solution")
    run.add_argument(
        "--json",
        action="store_true",
        help="print the results document (JSON) instead of the report",
    )
    return parser


def main(argv: Sequence[str] | None = None, app: App | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return EXIT_USAGE
    app = app or App()
    try:
        return int(args.handler(app, args))
    except KataError as exc:
        app.err.print(f"kata: {exc}", markup=False, highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        app.err.print("kata: interrupted", markup=False)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_CLEARED
    except Exception as exc:  # a bug in kata: one line, the traceback only on request
        if os.environ.get("KATA_DEBUG"):
            raise
        app.err.print(
            f"kata: internal error: {type(exc).__name__}: {exc} (set KATA_DEBUG=1 for the traceback)",
            markup=False,
            highlight=False,
        )
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())
