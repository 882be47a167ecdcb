"""One hierarchy for every error a user can meet; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class KataError(Exception):
    """An error the user can fix; `str()` is one line that says what to do next."""

    exit_code = 2


class UsageError(KataError):
    """Bad command-line input: unknown kata, missing file, conflicting options (exit 2)."""

    exit_code = 2


class CatalogError(KataError):
    """A kata's files are malformed; names the file, the key and the fix (exit 3: our fault)."""

    exit_code = 3


class HarnessError(KataError):
    """The grading machinery failed, not the user's code (exit 3)."""

    exit_code = 3


class StorageError(KataError):
    """The history database could not be read or written (exit 3)."""

    exit_code = 3
