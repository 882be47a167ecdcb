"""Key-value store with nested transactions: a correct solution in a different style.

One dict holds the current view at all times, so reads are O(1). Each open transaction keeps an
undo log of (key, value before the write) pairs; rollback replays its log backwards, and commit
hands the log to the parent (the parent's rollback must undo those writes too). A sorted list of
the keys (kept with bisect) lets scan find the prefix range without sorting; count walks the values.
"""

from __future__ import annotations

import bisect
import itertools


class TransactionError(Exception):
    """commit() or rollback() with no open transaction."""


class KVStore:
    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._sorted_keys: list[str] = []
        self._undo_logs: list[list[tuple[str, str | None]]] = []
        self._snapshots: dict[int, dict[str, str]] = {}

    def _apply(self, key: str, value: str | None) -> None:
        """Make the view hold value at key (None = absent), keeping the sorted key list in step."""
        present = key in self._data
        if value is None:
            if present:
                del self._data[key]
                self._sorted_keys.pop(bisect.bisect_left(self._sorted_keys, key))
            return
        if not present:
            bisect.insort(self._sorted_keys, key)
        self._data[key] = value

    def _write(self, key: str, value: str | None) -> None:
        if self._undo_logs:
            self._undo_logs[-1].append((key, self._data.get(key)))
        self._apply(key, value)

    def set(self, key: str, value: str) -> None:
        self._write(key, value)

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def delete(self, key: str) -> bool:
        if key not in self._data:
            return False
        self._write(key, None)
        return True

    def count(self, value: str) -> int:
        return sum(1 for v in self._data.values() if v == value)

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        start = bisect.bisect_left(self._sorted_keys, prefix)
        result = []
        for key in itertools.islice(self._sorted_keys, start, None):
            if not key.startswith(prefix):
                break
            result.append((key, self._data[key]))
        return result

    def begin(self) -> None:
        self._undo_logs.append([])

    def commit(self) -> None:
        if not self._undo_logs:
            raise TransactionError("nothing to commit")
        log = self._undo_logs.pop()
        if self._undo_logs:
            self._undo_logs[-1].extend(log)

    def rollback(self) -> None:
        if not self._undo_logs:
            raise TransactionError("nothing to roll back")
        for key, old in reversed(self._undo_logs.pop()):
            self._apply(key, old)

    def snapshot(self) -> int:
        snapshot_id = len(self._snapshots) + 1
        self._snapshots[snapshot_id] = dict(self._data)
        return snapshot_id

    def restore(self, snapshot_id: int) -> None:
        target = self._snapshots[snapshot_id]  # KeyError for an unknown id, before any change
        for key in [k for k in self._data if k not in target]:
            self.delete(key)
        for key, value in target.items():
            if self._data.get(key) != value:
                self.set(key, value)
