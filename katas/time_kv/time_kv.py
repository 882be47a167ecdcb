"""Time-versioned key-value store. Read README.md beside this file for the rules; `kata run time_kv` grades you."""

from __future__ import annotations


class TimeKV:
    """A map from str keys to str values in which every write is a version at an int timestamp.

    A read at time t sees the version with the greatest timestamp <= t. Timestamps of one key
    strictly increase (ValueError otherwise); keys are independent.
    """

    def __init__(self) -> None:
        """A new, empty store."""
        raise NotImplementedError("TimeKV.__init__: level 1")

    # ---- level 1 -------------------------------------------------------------------------------

    def set(self, key: str, value: str, t: int, ttl: int | None = None) -> None:
        """Write value for key at time t. Any str value, "" included.

        Raises ValueError, changing nothing, if t is not greater than the key's latest timestamp.
        Level 2: with ttl (an int > 0, else ValueError), the value is visible on [t, t + ttl).
        """
        raise NotImplementedError("TimeKV.set: level 1")

    def get(self, key: str, t: int) -> str | None:
        """The value of key's version with the greatest timestamp <= t.

        None before the key's first version and for a key never set. Level 2: None if that
        version is a delete or a value expired at t (an older version is never uncovered).
        """
        raise NotImplementedError("TimeKV.get: level 1")

    # ---- level 2 -------------------------------------------------------------------------------

    def delete(self, key: str, t: int) -> bool:
        """Write a tombstone for key at time t, if the key has a value visible at t.

        First raises ValueError if t is not greater than the key's latest timestamp. Then returns
        True (tombstone written) if get(key, t) is not None, else False (nothing written).
        """
        raise NotImplementedError("TimeKV.delete: level 2")

    # ---- level 3 -------------------------------------------------------------------------------

    def history(self, key: str, t0: int, t1: int) -> list[tuple[int, str | None]]:
        """key's versions with t0 <= timestamp <= t1, oldest first.

        (timestamp, value) for a set, (timestamp, None) for a delete; [] if t0 > t1 or none in
        range. TTLs do not show. Level 4: O(log n + k) for k versions returned.
        """
        raise NotImplementedError("TimeKV.history: level 3")

    def compact(self, t: int) -> int:
        """Drop every version no get at a time >= t can see; return how many were dropped.

        Per key: versions after t stay; of those at or before t only the latest stays, and only
        if it is a value visible at t. Afterwards every call answers as if the dropped versions
        had never been written (a key with none left is as if never set).
        """
        raise NotImplementedError("TimeKV.compact: level 3")
