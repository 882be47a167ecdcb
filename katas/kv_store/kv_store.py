"""Key-value store with nested transactions. Read README.md beside this file for the rules; `kata run kv_store` grades you."""

from __future__ import annotations


class TransactionError(Exception):
    """Raised by commit() and rollback() when no transaction is open (level 3). Keep this class."""


class KVStore:
    """An in-memory map from str keys to str values, with nested transactions and snapshots."""

    def __init__(self) -> None:
        """A new, empty store with no open transaction and no snapshots."""
        raise NotImplementedError("KVStore: level 1")

    # ---- level 1 -------------------------------------------------------------------------------

    def set(self, key: str, value: str) -> None:
        """Store value under key, replacing any value it had. Any str is valid, "" included."""
        raise NotImplementedError("KVStore.set: level 1")

    def get(self, key: str) -> str | None:
        """The value of key in the current view, or None if the key is not set (or deleted)."""
        raise NotImplementedError("KVStore.get: level 1")

    def delete(self, key: str) -> bool:
        """Remove key. True if it was visible in the current view; False (and no change) if not."""
        raise NotImplementedError("KVStore.delete: level 1")

    # ---- level 2 -------------------------------------------------------------------------------

    def count(self, value: str) -> int:
        """How many keys in the current view hold exactly value (0 if none)."""
        raise NotImplementedError("KVStore.count: level 2")

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        """(key, value) tuples for every key with key.startswith(prefix), sorted by key.

        Plain str order (by code point: "B" < "a" < "ab"); the empty prefix matches every key;
        deleted keys are not listed. Returns a new list.
        """
        raise NotImplementedError("KVStore.scan: level 2")

    # ---- level 3 -------------------------------------------------------------------------------

    def begin(self) -> None:
        """Open a transaction, nested inside the innermost open one (any depth)."""
        raise NotImplementedError("KVStore.begin: level 3")

    def commit(self) -> None:
        """Merge the innermost open transaction into its parent (or into the store if outermost).

        Only the innermost transaction closes. Raises TransactionError if none is open.
        """
        raise NotImplementedError("KVStore.commit: level 3")

    def rollback(self) -> None:
        """Discard the innermost open transaction: its sets and its deletes.

        Raises TransactionError if none is open.
        """
        raise NotImplementedError("KVStore.rollback: level 3")

    # ---- level 4 -------------------------------------------------------------------------------

    def snapshot(self) -> int:
        """Record a copy of the current view (open transactions included); return its id.

        Ids are 1, 2, 3, ... in the order taken, per store. Snapshots survive rollbacks.
        """
        raise NotImplementedError("KVStore.snapshot: level 4")

    def restore(self, snapshot_id: int) -> None:
        """Make the current view equal to snapshot snapshot_id (sets and deletes).

        Inside a transaction these are writes of the innermost transaction (rollback undoes them).
        Raises KeyError, changing nothing, if snapshot() never returned snapshot_id.
        """
        raise NotImplementedError("KVStore.restore: level 4")
