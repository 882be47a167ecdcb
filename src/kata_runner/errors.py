"""One hierarchy for every error a user can meet; the CLI turns each into one line and an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of `kata`, defined once."""

    OK = 0  # every level cleared, or the command did what was asked
    NOT_CLEARED = 1
    USAGE = 2
    HARNESS = 3  # kata itself (or its storage) failed, not the user's code
    INTERRUPTED = 130


class KataError(Exception):
    """An error the user can fix; `str()` is one line that says what to do next."""

    exit_code = ExitCode.USAGE


class UsageError(KataError):
    """Bad command-line input: unknown kata, missing file, conflicting options (exit 2)."""

    exit_code = ExitCode.USAGE


class CatalogError(KataError):
    """A kata's files are malformed; names the file, the key and the fix (exit 3: our fault)."""

    exit_code = ExitCode.HARNESS


class HarnessError(KataError):
    """The grading machinery failed, not the user's code (exit 3)."""

    exit_code = ExitCode.HARNESS


class StorageError(KataError):
    """The history database could not be read or written (exit 3)."""

    exit_code = ExitCode.HARNESS
