"""Re-grade on every save of one file (watchfiles, with a polling fallback), until Ctrl-C.

Editors save in different ways (in place, or a temporary file renamed over the original), so the
folder is watched and changes are filtered to the attempt's name. Bursts of events are debounced
into one grading. The watcher starts before the first grading, so a save made while a grading runs
is never missed; and at every idle tick the file's size and modification time are compared with the
ones last graded, which catches saves a poll-based watcher cannot tell apart (two in one second).
A syntax error or an infinite loop in the attempt is a verdict like any other, never the end of the
watch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEBOUNCE_MS = 300
IDLE_MS = 200


def watch_file(path: Path, on_change: Callable[[], None], *, force_polling: bool = False) -> None:
    """Call `on_change()` now and after every save of `path`; returns on Ctrl-C (KeyboardInterrupt)."""
    try:
        _watch(path, on_change, force_polling)
    except OSError:
        if force_polling:
            raise
        _watch(
            path, on_change, True
        )  # file events unavailable (some network or container filesystems)


def _signature(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size), or None while the file is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _watch(path: Path, on_change: Callable[[], None], force_polling: bool) -> None:
    import watchfiles

    target = path.resolve()

    def only_the_attempt(change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).resolve() == target and change != watchfiles.Change.deleted

    graded: tuple[int, int] | bool | None = False  # False: nothing graded yet
    changes_seen = watchfiles.watch(
        target.parent,
        watch_filter=only_the_attempt,
        debounce=DEBOUNCE_MS,
        force_polling=force_polling,
        raise_interrupt=True,
        rust_timeout=IDLE_MS,
        yield_on_timeout=True,
    )
    for changes in changes_seen:
        now = _signature(target)
        if changes or now != graded:
            graded = now  # taken before grading: a save during the grading triggers another one
            on_change()
