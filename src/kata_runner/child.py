"""Entry point of the grading child: `python -m kata_runner.child --run-dir D [limits] -- <pytest args>`.

Runs in its own session (the parent starts it with `start_new_session`) in an empty working
directory. It sets resource limits before anything heavy is imported, sends fatal-signal tracebacks
to a file the parent reads, then runs pytest with only our plugins. It exits with `os._exit(0)`
whatever happened: the records file is the result, never the exit status, and a non-daemon thread
left by the attempt must not keep the process alive.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import resource
import sys
from pathlib import Path

FILE_SIZE_LIMIT = 64 * 1024 * 1024


def _limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else value))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kata_runner.child")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--memory-bytes", type=int, default=0)
    parser.add_argument("--cpu-seconds", type=int, default=0)
    parser.add_argument("--crash-file", type=Path, required=True)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.memory_bytes:
        _limit(resource.RLIMIT_AS, args.memory_bytes)
    if args.cpu_seconds:
        _limit(resource.RLIMIT_CPU, args.cpu_seconds)
    _limit(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)
    _limit(resource.RLIMIT_CORE, 0)

    crash_file = args.crash_file.open("w")
    faulthandler.enable(file=crash_file, all_threads=False)
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
