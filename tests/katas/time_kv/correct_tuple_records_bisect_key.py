"""Time-versioned KV store: one list of (timestamp, value, expires_at) records per key.

bisect with `key=itemgetter(0)` (Python 3.10+) searches the records by timestamp; a delete is a record whose
value is the _DELETED sentinel; compaction rebuilds each key's list from a slice.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from operator import itemgetter
from typing import NamedTuple

_DELETED = object()
_when = itemgetter(0)  # a record's timestamp, looked up in C


class _Record(NamedTuple):
    t: int
    value: object  # a str, or _DELETED
    expires_at: float | None  # None: never


class TimeKV:
    def __init__(self) -> None:
        self.data: dict[str, list[_Record]] = {}

    @staticmethod
    def _alive(record: _Record, t: int) -> bool:
        if record.value is _DELETED:
            return False
        return record.expires_at is None or t < record.expires_at

    def _records_for_write(self, key: str, t: int) -> list[_Record]:
        records = self.data.get(key, [])
        if records and records[-1].t >= t:
            raise ValueError("timestamps must increase per key")
        return records

    def set(self, key: str, value: str, t: int, ttl: int | None = None) -> None:
        if ttl is not None and not ttl > 0:
            raise ValueError("ttl must be > 0")
        records = self._records_for_write(key, t)
        records.append(_Record(t, value, None if ttl is None else t + ttl))
        self.data[key] = records

    def _current(self, key: str, t: int) -> _Record | None:
        records = self.data.get(key)
        if not records:
            return None
        position = bisect_right(records, t, key=_when)
        return records[position - 1] if position else None

    def get(self, key: str, t: int) -> str | None:
        record = self._current(key, t)
        if record is None or not self._alive(record, t):
            return None
        assert isinstance(record.value, str)
        return record.value

    def delete(self, key: str, t: int) -> bool:
        records = self._records_for_write(key, t)
        if not records or not self._alive(records[-1], t):
            return False
        records.append(_Record(t, _DELETED, None))
        return True

    def history(self, key: str, t0: int, t1: int) -> list[tuple[int, str | None]]:
        records = self.data.get(key, [])
        start = bisect_left(records, t0, key=_when)
        stop = bisect_right(records, t1, key=_when)
        out: list[tuple[int, str | None]] = []
        for index in range(start, stop):
            record = records[index]
            out.append((record.t, None if record.value is _DELETED else record.value))  # type: ignore[arg-type]
        return out

    def compact(self, t: int) -> int:
        removed = 0
        for key, records in list(self.data.items()):
            position = bisect_right(records, t, key=_when)
            start = position
            if position and self._alive(records[position - 1], t):
                start = position - 1
            if start:
                removed += start
                rest = records[start:]
                if rest:
                    self.data[key] = rest
                else:
                    del self.data[key]
        return removed
