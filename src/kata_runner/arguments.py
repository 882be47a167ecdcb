"""The command line of `kata`: every verb, its options and their help (what `kata --help` reads).
The handlers are `cli.HANDLERS`, by verb."""

from __future__ import annotations

import argparse

from kata_runner import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Coding katas for AI-engineering interviews, graded by hidden test suites.",
        epilog="The loop: `kata start <kata>`, edit the file it names, `kata run <kata>` (or `kata "
        "watch`), `kata hint` when stuck, then `kata compare`, `kata stats` and `kata next`. Katas "
        "may be named by a unique prefix.",
    )
    parser.add_argument("--version", action="version", version=f"kata {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="<command>")

    def verb(name: str, help_text: str, kata: bool = True) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        if kata:
            sub.add_argument("kata", help="kata name, or a unique prefix of it")
        return sub

    verb("list", "List the katas with their budget, levels and your progress.", kata=False)
    show = verb(
        "show",
        "Print a kata's statement (in an interview session, only the unlocked levels), through a "
        "pager on a terminal.",
    )
    show.add_argument("--raw", action="store_true", help="print the Markdown source instead")

    start = verb(
        "start",
        "Put a fresh copy in your workspace, write the statement beside it, start the clock. An "
        "existing attempt is archived first.",
    )
    rounds = start.add_mutually_exclusive_group()
    rounds.add_argument(
        "--interview",
        action="store_true",
        help="interview mode: levels unlock one at a time, no hints, failures show test names only",
    )
    rounds.add_argument(
        "--review",
        dest="round",
        action="store_const",
        const="review",
        default="write",
        help="a review round: the reference with one bug from the kata's bug set; find and fix it "
        "(a shorter clock)",
    )
    rounds.add_argument(
        "--refactor",
        dest="round",
        action="store_const",
        const="refactor",
        help="a refactoring round: a correct but convoluted version; make it clean while every "
        "level still clears",
    )

    run = verb(
        "run",
        "Grade your attempt (the workspace copy) against the kata's hidden suite.",
    )
    run.add_argument(
        "--file", metavar="PATH", help="grade this file instead (recorded, outside any session)"
    )
    run.add_argument("--reference", action="store_true", help="grade the reference solution")
    run.add_argument(
        "--json", action="store_true", help="print the results document (JSON) instead"
    )
    run.add_argument(
        "--interview", action="store_true", help="report as in interview mode: test names only"
    )
    run.add_argument(
        "--level",
        type=int,
        metavar="N",
        help="grade levels 1 to N only (faster); the rest are not run",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="show every failure in full")
    add_jobs(run)

    watch = verb(
        "watch",
        "Re-grade your attempt on every save, with the clock; a save during a grading restarts it. "
        "Ctrl-C stops.",
    )
    watch.add_argument(
        "--poll", action="store_true", help="poll for changes instead of file events"
    )
    add_jobs(watch)

    verb(
        "hint",
        "Reveal the next hint for the level you are on (recorded; off in interview mode).",
    )
    reset = verb(
        "reset",
        "Archive your attempt and restore the stub; ends the kata's open session.",
        kata=False,
    )
    reset.add_argument("kata", nargs="?", help="kata name, or a unique prefix of it")
    reset.add_argument("--all", action="store_true", help="reset every kata that has an attempt")
    reset.add_argument("--yes", action="store_true", help="with --all: do not ask for confirmation")
    verb(
        "give-up",
        "End the kata's open session as given up (a review round shows its bug).",
    )
    verb("status", "Show the open sessions and their clocks.", kata=False)
    verb(
        "stats",
        "Per kata: sessions, best time to clear, highest level, hints, reveals, review rounds, last "
        "practised.",
        kata=False,
    )
    history = verb(
        "history",
        "List a kata's sessions, graded runs and archived attempts.",
    )
    shown = history.add_mutually_exclusive_group()
    shown.add_argument(
        "--show", type=int, metavar="N", help="print the source of this kata's run N"
    )
    shown.add_argument(
        "--archive", type=int, metavar="N", help="print this kata's archived attempt N"
    )
    cmp = verb(
        "compare",
        "Your attempt beside the reference, both graded by the same suite, and your speed on the "
        "kata's benchmark. Unlocks once you clear every level.",
    )
    cmp.add_argument(
        "--file", metavar="PATH", help="compare this file instead of your workspace copy"
    )
    cmp.add_argument(
        "--reveal", action="store_true", help="show the reference before a clear (recorded)"
    )
    cmp.add_argument("--diff", action="store_true", help="a unified diff even on a wide terminal")
    cmp.add_argument("--no-bench", action="store_true", help="skip the timing")
    cmp.add_argument(
        "--json", action="store_true", help="print both results and the timing as JSON"
    )
    sol = verb(
        "solution",
        "Print the reference solution (unlocks once you clear every level); piped, the file itself.",
    )
    sol.add_argument("--reveal", action="store_true", help="show it before a clear (recorded)")
    nxt = verb(
        "next",
        "Recommend what to practise now (spaced repetition over your history), and why.",
        kata=False,
    )
    nxt.add_argument(
        "-n", "--count", type=int, default=3, help="how many recommendations (default 3)"
    )
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def add_jobs(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        help="run up to N tests at once (default: $KATA_JOBS, else your cores, at most 4; "
        "1 runs them one after the other); verdicts never depend on it",
    )
