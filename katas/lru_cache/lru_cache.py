"""LRU cache. Read README.md beside this file for the rules; `kata run lru_cache` grades you."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LRUCache(Generic[_K, _V]):
    """A key-value cache holding at most `capacity` entries; a new key on a full cache evicts the
    least recently used one.

    Recency: a `get` hit and a `put` (new or existing key) make the key the most recently used.
    `key in cache`, `len(cache)`, a `get` miss and `delete` do not refresh any key.
    Keys are any hashable; values are anything, including None.
    """

    def __init__(self, capacity: int) -> None:
        """capacity: the maximum number of entries, an int >= 1. Raises ValueError if capacity < 1."""
        raise NotImplementedError("LRUCache.__init__: level 1")

    def get(self, key: _K, default: _V | None = None) -> _V | None:
        """The value stored under `key`, and `key` becomes the most recently used.

        On a miss, return `default` and change nothing (the key is not inserted).
        A key stored with the value None is a hit: return None (not `default`).
        """
        raise NotImplementedError("LRUCache.get: level 1")

    def put(self, key: _K, value: _V) -> None:
        """Store `value` under `key`; `key` becomes the most recently used.

        An existing key is updated in place and never causes an eviction. A new key when
        len(cache) == capacity first evicts exactly one entry, the least recently used.
        Level 2: O(1).
        """
        raise NotImplementedError("LRUCache.put: level 1")

    def __len__(self) -> int:
        """The number of entries stored (0 <= len <= capacity). Does not change recency."""
        raise NotImplementedError("LRUCache.__len__: level 1")

    def __contains__(self, key: object) -> bool:
        """`key in cache`: True if `key` is stored. Does not change recency."""
        raise NotImplementedError("LRUCache.__contains__: level 1")

    def delete(self, key: _K) -> bool:
        """Remove `key`. Returns True if it was stored, False (and no change) if it was not.

        Level 3. Does not change the recency of the other keys.
        """
        raise NotImplementedError("LRUCache.delete: level 3")

    def resize(self, capacity: int) -> None:
        """Set a new capacity (an int >= 1). Level 3.

        Shrinking evicts least recently used entries until len(cache) <= capacity; growing keeps
        every entry. Later puts use the new capacity. The survivors keep their recency order.
        Raises ValueError if capacity < 1, leaving the cache unchanged (entries, order, capacity).
        """
        raise NotImplementedError("LRUCache.resize: level 3")
