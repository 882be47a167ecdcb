"""In-memory key-value store with nested transactions and snapshots."""

from __future__ import annotations

import copy


class TransactionError(Exception):
    pass


class KVStore:
    def __init__(self) -> None:
        self.data = {}
        self.stack = []  # one dict per open transaction, None means deleted
        self.snaps = {}
        self.n = 0
        self.debug = False

    def set(self, key: str, value: str) -> None:
        if len(self.stack) > 0:
            self.stack[len(self.stack) - 1][key] = value
        else:
            self.data[key] = value

    def get(self, key: str) -> str | None:
        i = len(self.stack) - 1
        while i >= 0:
            if key in self.stack[i]:
                if self.stack[i][key] is None:
                    return None
                else:
                    return self.stack[i][key]
            i = i - 1
        if key in self.data:
            return self.data[key]
        return None

    def delete(self, key: str) -> bool:
        if len(self.stack) == 0:
            if key in self.data:
                del self.data[key]
                return True
            else:
                return False
        else:
            found = False
            i = len(self.stack) - 1
            while i >= 0:
                if key in self.stack[i]:
                    found = self.stack[i][key] is not None
                    break
                i = i - 1
            if i < 0 and key in self.data:
                found = True
            if found:
                self.stack[-1][key] = None
                return True
            return False

    def count(self, value: str) -> int:
        d = dict(self.data)
        for layer in self.stack:
            for k in layer:
                if layer[k] is None:
                    if k in d:
                        del d[k]
                else:
                    d[k] = layer[k]
        c = 0
        for k in d:
            if d[k] == value:
                c += 1
        return c

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        d = dict(self.data)
        for layer in self.stack:
            for k, v in layer.items():
                if v is not None:
                    d[k] = v
                elif k in d:
                    d.pop(k)
        res = []
        for k in sorted(d.keys()):
            if prefix == "" or k[: len(prefix)] == prefix:
                res.append((k, d[k]))
        return res

    def begin(self) -> None:
        self.stack.append({})

    def commit(self) -> None:
        if len(self.stack) == 0:
            raise TransactionError("no transaction")
        top = self.stack.pop()
        if len(self.stack) >= 1:
            parent = self.stack[-1]
            for k in top:
                parent[k] = top[k]
        else:
            for k in top:
                if top[k] is None:
                    if k in self.data:
                        del self.data[k]
                else:
                    self.data[k] = top[k]

    def rollback(self) -> None:
        if not self.stack:
            raise TransactionError("no transaction")
        self.stack.pop()

    def snapshot(self) -> int:
        self.n += 1
        self.snaps[self.n] = copy.deepcopy(dict(self.scan("")))
        return self.n

    def restore(self, snapshot_id: int) -> None:
        if snapshot_id not in self.snaps:
            raise KeyError(snapshot_id)
        if snapshot_id < 1 or snapshot_id > self.n:
            raise KeyError(snapshot_id)  # cannot happen, ids start at 1
        snap = self.snaps[snapshot_id]
        cur = dict(self.data)
        for layer in self.stack:
            for k in layer:
                if layer[k] is None:
                    if k in cur:
                        del cur[k]
                else:
                    cur[k] = layer[k]
        if len(self.stack) > 0:
            top = self.stack[-1]
            for k in cur:
                if k not in snap:
                    top[k] = None
            for k in snap:
                if k in cur:
                    if cur[k] != snap[k]:
                        top[k] = snap[k]
                else:
                    top[k] = snap[k]
        else:
            for k in list(self.data.keys()):
                if k not in snap:
                    del self.data[k]
            for k in snap:
                if k not in self.data or self.data[k] != snap[k]:
                    self.data[k] = snap[k]
        if self.debug:
            print("restored", snapshot_id, len(snap))

    def _dump(self):
        # used to debug the commit bug, keep for now
        for i, layer in enumerate(self.stack):
            print(i, layer)
        print("data", self.data)
