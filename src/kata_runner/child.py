"""Entry point of a grading child: `python -m kata_runner.child --parent PID [limits] -- <pytest args>`.

Runs in its own session (the parent starts it with `start_new_session`) in an empty working
directory. Before anything heavy is imported it ties its life to `kata` (it is killed when `kata`
dies), sets its resource limits, and sends fatal-signal tracebacks to a file the parent reads. Then
it runs pytest with only our plugins; the harness plugin takes over once the suite is collected. It
exits with `os._exit(0)` whatever happened: the signed records are the result, never the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import resource
import sys
from pathlib import Path

from kata_runner import sandbox

FILE_SIZE_LIMIT = 64 * 1024 * 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kata_runner.child")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--memory-bytes", type=int, default=0)
    parser.add_argument("--crash-file", type=Path, required=True)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    sandbox.die_with_parent(args.parent)
    if args.memory_bytes:
        sandbox.limit(resource.RLIMIT_AS, args.memory_bytes)
    sandbox.limit(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)
    sandbox.limit(resource.RLIMIT_CORE, 0)

    crash_file = args.crash_file.open("w")
    faulthandler.enable(file=crash_file, all_threads=True)
    sys.breakpointhook = lambda *a, **k: None

    import pytest  # after the limits: the memory cap applies to everything imported from here on

    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    try:
        pytest.main(pytest_args)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
