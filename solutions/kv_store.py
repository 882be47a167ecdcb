"""Key-value store with nested transactions: reference solution.

The committed data is one dict. Each open transaction is an overlay dict on a stack, holding only
the keys it wrote; a delete is written as a tombstone (`None`, which can never be a value, since
values are strings). A read walks the stack from the innermost overlay outwards, then the data.

Notes
-----
- Complexity (d = open transactions, n = keys in the view, w = writes in the innermost
  transaction): get, set and delete are O(d); begin is O(1); commit is O(w); rollback is O(w·d)
  (it restores the value counts); count is O(1) from a Counter of the current view; scan is
  O(n·d + n log n) to merge the overlays and sort; snapshot is O(n·d); restore is O(n·d).
- Trade-offs: overlays make begin free and commit/rollback touch only the innermost transaction,
  at the price of O(d) reads. The alternative (one dict plus an undo log per transaction) reads in
  O(1) and pays on rollback instead; both are fine at interview scale. Copying the whole view on
  begin is the simplest correct design and costs O(n) per begin.
- The tombstone is what makes deletes transactional: without it a delete inside a transaction
  cannot hide an outer value, and rollback cannot bring it back.
- Restore is written as set and delete calls, so it joins the innermost transaction (rollback
  undoes it) and keeps the counts right with no extra code.
- Follow-ups interviewers ask: make scan fast (a sorted key list with bisect, or a trie, kept per
  layer); TTL with explicit timestamps (values valid on [ts, ts + ttl)); persistence (a write-ahead
  log replayed on start); thread safety (one lock, or per-transaction isolation levels).
"""

from __future__ import annotations

from collections import Counter


class TransactionError(Exception):
    """commit() or rollback() with no open transaction."""


class KVStore:
    """An in-memory str -> str map with nested transactions and snapshots."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._layers: list[dict[str, str | None]] = []  # innermost last; None = deleted
        self._counts: Counter[str] = Counter()  # value -> keys holding it in the current view
        self._snapshots: list[dict[str, str]] = []  # snapshot id i is at index i - 1

    # ---- level 1 -------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]  # a tombstone reads as None
        return self._data.get(key)

    def set(self, key: str, value: str) -> None:
        self._write(key, value)

    def delete(self, key: str) -> bool:
        if self.get(key) is None:
            return False
        self._write(key, None)
        return True

    def _write(self, key: str, value: str | None) -> None:
        """Write value (None = delete) in the innermost transaction, or in the data if none."""
        self._recount(self.get(key), value)
        if self._layers:
            self._layers[-1][key] = value
        elif value is None:
            del self._data[key]
        else:
            self._data[key] = value

    def _recount(self, old: str | None, new: str | None) -> None:
        if old is not None:
            self._counts[old] -= 1
        if new is not None:
            self._counts[new] += 1

    # ---- level 2 -------------------------------------------------------------------------------

    def count(self, value: str) -> int:
        return self._counts[value]

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self._view().items() if k.startswith(prefix))

    def _view(self) -> dict[str, str]:
        """The current view as one dict: the data with every overlay applied, outermost first."""
        view = dict(self._data)
        for layer in self._layers:
            for key, value in layer.items():
                if value is None:
                    view.pop(key, None)
                else:
                    view[key] = value
        return view

    # ---- level 3 -------------------------------------------------------------------------------

    def begin(self) -> None:
        self._layers.append({})

    def commit(self) -> None:
        if not self._layers:
            raise TransactionError("commit with no open transaction")
        top = self._layers.pop()  # the view does not change, so neither do the counts
        if self._layers:
            self._layers[-1].update(top)  # tombstones included: they hide the key in the parent
            return
        for key, value in top.items():
            if value is None:
                self._data.pop(key, None)
            else:
                self._data[key] = value

    def rollback(self) -> None:
        if not self._layers:
            raise TransactionError("rollback with no open transaction")
        current = {key: self.get(key) for key in self._layers[-1]}
        self._layers.pop()
        for key, value in current.items():
            self._recount(value, self.get(key))

    # ---- level 4 -------------------------------------------------------------------------------

    def snapshot(self) -> int:
        self._snapshots.append(self._view())
        return len(self._snapshots)

    def restore(self, snapshot_id: int) -> None:
        if not 1 <= snapshot_id <= len(self._snapshots):
            raise KeyError(snapshot_id)
        target = self._snapshots[snapshot_id - 1]
        for key in self._view().keys() - target.keys():
            self.delete(key)
        for key, value in target.items():
            if self.get(key) != value:
                self.set(key, value)
