"""Key-value store with nested transactions: WRONG VERSION.

Bug: commit copies only the sets of the transaction into its parent; its deletes (tombstones) are lost."""

from __future__ import annotations

_DELETED = object()  # tombstone: a delete inside a transaction


class TransactionError(Exception):
    pass


class KVStore:
    def __init__(self) -> None:
        self.data: dict[str, object] = {}
        self.stack: list[dict[str, object]] = []
        self.snapshots: list[dict[str, object]] = []

    def get(self, key: str) -> str | None:
        for layer in reversed(self.stack):
            if key in layer:
                value = layer[key]
                return None if value is _DELETED else value  # type: ignore[return-value]
        return self.data.get(key)  # type: ignore[return-value]

    def set(self, key: str, value: str) -> None:
        if self.stack:
            self.stack[-1][key] = value
        else:
            self.data[key] = value

    def delete(self, key: str) -> bool:
        if self.get(key) is None:
            return False
        if self.stack:
            self.stack[-1][key] = _DELETED
        else:
            del self.data[key]
        return True

    def _view(self) -> dict[str, object]:
        view = dict(self.data)
        for layer in self.stack:
            for k, v in layer.items():
                if v is _DELETED:
                    view.pop(k, None)
                else:
                    view[k] = v
        return view

    def count(self, value: str) -> int:
        return sum(1 for v in self._view().values() if v == value)

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self._view().items() if k.startswith(prefix))  # type: ignore[misc]

    def begin(self) -> None:
        self.stack.append({})

    def commit(self) -> None:
        if not self.stack:
            raise TransactionError("no open transaction")
        top = self.stack.pop()
        target = self.stack[-1] if self.stack else self.data
        for k, v in top.items():
            if v is not _DELETED:  # BUG: deletes are dropped
                target[k] = v

    def rollback(self) -> None:
        if not self.stack:
            raise TransactionError("no open transaction")
        self.stack.pop()

    def snapshot(self) -> int:
        self.snapshots.append(self._view())
        return len(self.snapshots)

    def restore(self, snapshot_id: int) -> None:
        if not 1 <= snapshot_id <= len(self.snapshots):
            raise KeyError(snapshot_id)
        target = self.snapshots[snapshot_id - 1]
        for k in list(self._view()):
            if k not in target:
                self.delete(k)
        for k, v in target.items():
            self.set(k, v)  # type: ignore[arg-type]
