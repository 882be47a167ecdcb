"""Re-grade on every save of one file (watchfiles, with a polling fallback), until Ctrl-C.

Editors save in different ways (in place, or a temporary file renamed over the original), so the
folder is watched and changes are filtered to the attempt's name. Bursts of events are debounced
into one grading. Each grading runs in a thread of its own while this loop keeps watching: a save
made during a grading cancels it (it records no verdict) and grades the new version at once, so the
verdict on screen is always that of the latest save. At every idle tick the file's size and
modification time are compared with the ones last graded, which catches saves a poll-based watcher
cannot tell apart (two in one second), and `tick()` is called (the header's clock). A syntax error or
an infinite loop in the attempt is a verdict like any other, never the end of the watch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

DEBOUNCE_MS = 300
IDLE_MS = 200

Grade = Callable[[threading.Event], None]


def watch_file(
    path: Path,
    grade: Grade,
    *,
    force_polling: bool = False,
    tick: Callable[[], None] | None = None,
) -> None:
    """Call `grade(cancel)` now and after every save of `path`; returns on Ctrl-C (KeyboardInterrupt
    propagates after the grading in flight is cancelled)."""
    try:
        _watch(path, grade, force_polling, tick)
    except OSError:
        if force_polling:
            raise
        _watch(
            path, grade, True, tick
        )  # file events unavailable (some network or container filesystems)


def _signature(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size), or None while the file is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class _Grading:
    """One grading in its own thread, with the event that cancels it."""

    def __init__(self, grade: Grade) -> None:
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=grade, args=(self.cancel,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.cancel.set()
        self.thread.join()


def _watch(path: Path, grade: Grade, force_polling: bool, tick: Callable[[], None] | None) -> None:
    import watchfiles

    target = path.resolve()

    def only_the_attempt(change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).resolve() == target and change != watchfiles.Change.deleted

    graded: tuple[int, int] | bool | None = False  # False: nothing graded yet
    current: _Grading | None = None
    changes_seen = watchfiles.watch(
        target.parent,
        watch_filter=only_the_attempt,
        debounce=DEBOUNCE_MS,
        force_polling=force_polling,
        raise_interrupt=True,
        rust_timeout=IDLE_MS,
        yield_on_timeout=True,
    )
    try:
        for changes in changes_seen:
            now = _signature(target)
            if changes or now != graded:
                graded = now  # taken before grading: a save during the grading triggers another one
                if current is not None:
                    current.stop()
                current = _Grading(grade)
            elif tick is not None:
                tick()
    finally:
        if current is not None:
            current.stop()
