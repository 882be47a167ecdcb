"""The `kata` command: parse the arguments, call the library, print through `render`.

Errors are `KataError`s, turned into one line on stderr and an exit code here and nowhere else
(`errors.ExitCode`: 0 every level cleared or the command succeeded, 1 not cleared, 2 usage error,
3 harness or storage error, 130 interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kata_runner import arguments, views
from kata_runner.app import App
from kata_runner.attempt import read_attempt
from kata_runner.errors import ExitCode, KataError, UsageError
from kata_runner.practice import NoHintsLeft
from kata_runner.requirements import require

EXIT_OK = EXIT_CLEARED = ExitCode.OK
EXIT_NOT_CLEARED, EXIT_USAGE = ExitCode.NOT_CLEARED, ExitCode.USAGE
EXIT_HARNESS, EXIT_INTERRUPTED = ExitCode.HARNESS, ExitCode.INTERRUPTED
WRITING_VERBS = frozenset({"start", "run", "watch", "hint", "reset", "give-up"})


# ---------------------------------------------------------------------------------------------
# The verbs: each parses nothing more, calls the library, and hands the answer to `views`


def cmd_list(app: App, args: argparse.Namespace) -> int:
    views.catalogue(app.screen, app.catalog, app.practice.history)
    return EXIT_OK


def cmd_show(app: App, args: argparse.Namespace) -> int:
    from kata_runner.practice import statement_text

    kata = app.kata(args.kata)
    session = app.practice.history.open_session(kata.slug)
    app.screen.page(statement_text(kata, session), raw=args.raw)
    return EXIT_OK


def cmd_start(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    require(kata)
    started = app.practice.start(kata, interview=args.interview, round=args.round)
    views.started(app.screen, kata, started, created=app.practice.created_workspace)
    return EXIT_OK


def cmd_run(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    require(kata)
    if args.reference and args.file:
        raise UsageError("give --file or --reference, not both")
    if args.level is not None and not 1 <= args.level <= len(kata.levels):
        raise UsageError(f"--level must be from 1 to {len(kata.levels)} for {kata.slug}")
    session = None
    if args.reference:
        attempt = read_attempt(kata, kata.solution_path)
    elif args.file:
        attempt = read_attempt(kata, Path(args.file))
    else:
        attempt = app.practice.attempt_for(kata)
        session = app.practice.history.open_session(kata.slug)
    with app.screen.progress(f"grading {kata.slug}", "tests") as update:
        result, updated, warnings = app.practice.grade(
            attempt,
            session,
            progress=(lambda done, total, _: update(done, total)) if update else None,
            record=not args.reference,
            up_to_level=args.level,
        )
    for warning in warnings:
        app.screen.warn(warning)
    if args.json:
        app.screen.raw(
            json.dumps(views.json_for(kata, result, session, args.interview), indent=2) + "\n"
        )
    else:
        views.run(
            app,
            kata,
            attempt,
            result,
            updated,
            session,
            interview=args.interview,
            verbose=args.verbose,
        )
    return views.exit_code(result)


def cmd_watch(app: App, args: argparse.Namespace) -> int:
    from kata_runner.watch import watch_file

    kata = app.kata(args.kata)
    require(kata)
    app.practice.attempt_for(kata)  # a clear error when there is no attempt yet
    watcher = views.Watching(app, kata)
    try:
        watch_file(watcher.path, watcher.grade, force_polling=args.poll, tick=watcher.tick)
    except KeyboardInterrupt:
        app.screen.chatter("stopped watching")
        return EXIT_INTERRUPTED
    finally:
        watcher.close()
    return EXIT_OK


def cmd_hint(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    try:
        hint = app.practice.next_hint(kata)
    except NoHintsLeft as notice:
        app.screen.say(str(notice))
        return EXIT_OK
    views.hint(app.screen, hint)
    return EXIT_OK


def cmd_reset(app: App, args: argparse.Namespace) -> int:
    if args.all == bool(args.kata):
        raise UsageError("name a kata, or use --all")
    if not args.all:
        kata = app.kata(args.kata)
        views.reset(app.screen, kata, *app.practice.reset(kata), single=True)
        return EXIT_OK
    targets = [k for k in app.catalog if app.workspace.attempt_path(k).exists()]
    if not args.yes:
        views.confirm_reset_all(app.screen, targets)
    for kata in targets:
        views.reset(app.screen, kata, *app.practice.reset(kata), single=False)
    return EXIT_OK


def cmd_give_up(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    session = app.practice.give_up(kata)
    views.gave_up(app, kata, session)
    return EXIT_OK


def cmd_status(app: App, args: argparse.Namespace) -> int:
    views.status(app.screen, app.practice)
    return EXIT_OK


def cmd_stats(app: App, args: argparse.Namespace) -> int:
    views.stats(app.screen, app.catalog, app.practice.history)
    return EXIT_OK


def cmd_history(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    views.history(app.screen, kata, app.practice.history, show=args.show, archive=args.archive)
    return EXIT_OK


def cmd_compare(app: App, args: argparse.Namespace) -> int:
    from kata_runner import compare

    kata = app.kata(args.kata)
    attempt = read_attempt(kata, Path(args.file)) if args.file else app.practice.attempt_for(kata)
    revealed = compare.check_reveal(app.practice.history, kata, args.reveal, "compare")
    with app.screen.busy(f"grading your attempt and the reference for {kata.slug}"):
        mine, theirs = compare.grade_both(kata, attempt)
    label = kata.benchmark.label if kata.benchmark else ""
    with app.screen.progress(f"timing at {label}", "calls") as timing:
        comparison = compare.Comparison.of(
            kata, attempt, revealed, mine, theirs, bench=not args.no_bench, timing=timing
        )
    if args.json:
        app.screen.raw(json.dumps(comparison.to_json(), indent=2) + "\n")
    else:
        views.comparison(app.screen, comparison, force_diff=args.diff)
    return EXIT_OK


def cmd_solution(app: App, args: argparse.Namespace) -> int:
    from kata_runner import compare

    kata = app.kata(args.kata)
    revealed = compare.check_reveal(app.practice.history, kata, args.reveal, "solution")
    views.solution(app.screen, kata, revealed)
    return EXIT_OK


def cmd_next(app: App, args: argparse.Namespace) -> int:
    from kata_runner.scheduling import recommend

    views.recommendations(
        app.screen, recommend(app.catalog, app.practice.history, limit=args.count)
    )
    return EXIT_OK


HANDLERS: dict[str, Callable[[App, argparse.Namespace], int]] = {
    "list": cmd_list,
    "show": cmd_show,
    "start": cmd_start,
    "run": cmd_run,
    "watch": cmd_watch,
    "hint": cmd_hint,
    "reset": cmd_reset,
    "give-up": cmd_give_up,
    "status": cmd_status,
    "stats": cmd_stats,
    "history": cmd_history,
    "compare": cmd_compare,
    "solution": cmd_solution,
    "next": cmd_next,
}


def main(argv: Sequence[str] | None = None, app: App | None = None) -> int:
    parser = arguments.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as usage:  # argparse has printed the usage line (or the help)
        return int(usage.code or 0)
    if args.verb is None:
        parser.print_help()
        return EXIT_USAGE
    if threading.current_thread() is threading.main_thread():
        # started in the background without job control, SIGINT is inherited as ignored; Ctrl-C
        # (or a script's SIGINT) must still stop grading cleanly
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from kata_runner import sandbox

    sandbox.become_subreaper()  # orphans of an attempt come back to us, and are killed
    sandbox.sweep_stale_runs()  # what a killed `kata` left behind goes at the next command
    if getattr(args, "jobs", None):
        os.environ["KATA_JOBS"] = str(args.jobs)  # what every grading of this command reads
    app = app or App()
    app.writes = args.verb in WRITING_VERBS or bool(getattr(args, "reveal", False))
    try:
        return int(HANDLERS[args.verb](app, args))
    except KataError as exc:
        app.screen.err.print(f"kata: {exc}", markup=False, highlight=False, soft_wrap=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        app.screen.err.print("kata: interrupted", markup=False)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in kata: one line, the traceback only on request
        if os.environ.get("KATA_DEBUG"):
            raise
        app.screen.err.print(
            f"kata: internal error: {type(exc).__name__}: {exc} (set KATA_DEBUG=1 for the traceback)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_HARNESS
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
