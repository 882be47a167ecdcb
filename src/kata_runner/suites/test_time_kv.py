"""Hidden suite for time_kv.

Oracle: `Model`, written here and sharing nothing with any solution: every key's versions in a
plain list, scanned from end to end on every call (no bisect, no ordering assumed). A Hypothesis
`RuleBasedStateMachine` per level drives the store and the model side by side: writes at valid and
at refused timestamps, reads at times anchored on the versions written (exactly at a version, just
before, just after, at a TTL's edge), and after every step the reads at each key's latest time
(and, from level 3, each key's whole history) are compared.

Level 4 writes a regular pattern (version i of the hot key at time 3i, every tenth a delete, every
seventh with a TTL of 2), so the expected answer of every call is a line of arithmetic: a million
checks cost the suite next to nothing, and the store's own time is what the limit measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kata_runner.testing import Trace, call_repr, expect_raises, fail, returns

# ---------------------------------------------------------------------------------------------
# The rules of the statement, as the failure messages name them

GET_LATEST = (
    "rule: get(key, t) returns the value of the version with the greatest timestamp <= t "
    "(a version written at exactly t counts)"
)
BEFORE_FIRST = "rule: before the key's first version, and for a key never set, get returns None"
INCREASING = (
    "rule: timestamps of one key strictly increase: a set with t not greater than the key's "
    "latest timestamp raises ValueError and changes nothing"
)
INDEPENDENT = (
    "rule: keys are independent: the timestamp rule compares only versions of the same key"
)
EMPTY_VALUE = 'rule: values are any strings, "" included: a version holding "" answers ""'
TTL_WINDOW = (
    "rule: a value written at t with a ttl is visible on [t, t + ttl): at t + ttl it has expired"
)
TTL_RANGE = "rule: a ttl that is not positive raises ValueError and changes nothing"
ONE_VERSION = (
    "rule: get looks only at the version with the greatest timestamp <= t: if it is a delete, "
    "or a value expired at t, the answer is None (an older version is never uncovered)"
)
DELETE_ORDER = (
    "rule: delete follows the timestamp rule of set, checked first: t not greater than the "
    "key's latest timestamp raises ValueError"
)
DELETE_RESULT = (
    "rule: delete returns True and writes a tombstone if the key has a value visible at t; "
    "otherwise it returns False and writes nothing"
)
RESTART = "rule: a set after a delete or an expiry starts the key again"
HISTORY = (
    "rule: history(key, t0, t1) lists the key's versions with t0 <= timestamp <= t1, oldest "
    "first: (timestamp, value) for a set, (timestamp, None) for a delete"
)
HISTORY_BOUNDS = "rule: both bounds of history are inclusive; t0 > t1 gives []"
HISTORY_TTL = "rule: a TTL does not show in history: an expired value is still listed"
COMPACT = (
    "rule: compact(t) drops every version that no get at a time >= t can see, and returns how "
    "many it dropped"
)
COMPACT_KEEP = (
    "rule: compact(t) keeps the versions after t and, of those at or before t, the latest only "
    "if it is a value still visible at t"
)
COMPACT_AS_IF = (
    "rule: after compact, the store answers every call as if the dropped versions had never "
    "been written"
)

# ---------------------------------------------------------------------------------------------
# The oracle


@dataclass(frozen=True)
class Version:
    t: int
    value: str | None  # None: a delete
    expires: float  # math.inf without a TTL

    def visible_at(self, t: int) -> bool:
        return self.value is not None and t < self.expires


class Refused(Exception):
    """The model's ValueError."""


@dataclass
class Model:
    """Every key's versions in a list, scanned whole on every call."""

    versions: dict[str, list[Version]] = field(default_factory=dict)
    compacted: set[str] = field(default_factory=set)  # keys that lost versions to compact

    def latest(self, key: str) -> int | None:
        times = [v.t for v in self.versions.get(key, [])]
        return max(times) if times else None

    def current(self, key: str, t: int) -> Version | None:
        """The version with the greatest timestamp <= t, found by a full scan."""
        best: Version | None = None
        for v in self.versions.get(key, []):
            if v.t <= t and (best is None or v.t > best.t):
                best = v
        return best

    def get(self, key: str, t: int) -> str | None:
        v = self.current(key, t)
        return v.value if v is not None and v.visible_at(t) else None

    def check(self, key: str, t: int) -> None:
        latest = self.latest(key)
        if latest is not None and t <= latest:
            raise Refused

    def set(self, key: str, value: str, t: int, ttl: int | None) -> None:
        self.check(key, t)
        expires = math.inf if ttl is None else t + ttl
        self.versions.setdefault(key, []).append(Version(t, value, expires))

    def delete(self, key: str, t: int) -> bool:
        self.check(key, t)
        if self.get(key, t) is None:
            return False
        self.versions[key].append(Version(t, None, math.inf))
        return True

    def history(self, key: str, t0: int, t1: int) -> list[tuple[int, str | None]]:
        return sorted((v.t, v.value) for v in self.versions.get(key, []) if t0 <= v.t <= t1)

    def compact(self, t: int) -> int:
        dropped = 0
        for key in list(self.versions):
            versions = self.versions[key]
            kept = [v for v in versions if v.t > t]
            current = self.current(key, t)
            if current is not None and current.visible_at(t):
                kept.append(current)
            kept.sort(key=lambda v: v.t)
            if len(kept) < len(versions):
                dropped += len(versions) - len(kept)
                self.compacted.add(key)
            if kept:
                self.versions[key] = kept
            else:
                del self.versions[key]
        return dropped

    def describe(self, key: str) -> str:
        shown = [
            f"{v.t}: {'delete' if v.value is None else repr(v.value)}"
            + (f" (ttl until {v.expires:g})" if v.expires != math.inf else "")
            for v in self.versions.get(key, [])
        ]
        return f"model's versions of {key!r}: " + (", ".join(shown) or "none")


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type (a list of tuples is not a list of lists)."""
    if isinstance(expected, list):
        return (
            type(actual) is list
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, tuple):
        return (
            type(actual) is tuple
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual is expected or (type(actual) is type(expected) and actual == expected)


# ---------------------------------------------------------------------------------------------
# Example tests: a traced store


class Store:
    """The store under test and the program of calls made on it, for failure messages."""

    def __init__(self, impl: ModuleType) -> None:
        self.impl = impl
        self.kv = Trace(impl.TimeKV(), "kv", "kv = TimeKV()")

    def expect(self, actual: Any, expected: Any, rule: str, detail: str = "") -> None:
        """The result of the last call in the program must be `expected` (type included)."""
        __tracebackhide__ = True
        if not same(actual, expected):
            fail(rule, call=self.kv.program, expected=expected, actual=actual, detail=detail)

    def accepts(self, name: str, *args: Any, rule: str, **kwargs: Any) -> Any:
        """kv.name(*args): a ValueError (or any exception) fails `rule`."""
        __tracebackhide__ = True
        self.kv.steps.append((name, args, kwargs))
        method = getattr(self.kv.target, name)
        return returns(method, *args, call=self.kv.program, rule=rule, **kwargs)

    def refuses(self, name: str, *args: Any, rule: str, **kwargs: Any) -> None:
        """kv.name(*args) must raise ValueError."""
        __tracebackhide__ = True
        self.kv.steps.append((name, args, kwargs))
        expect_raises(
            ValueError,
            getattr(self.kv.target, name),
            *args,
            call=self.kv.program,
            rule=rule,
            **kwargs,
        )
        self.kv.note("(raised ValueError)")


# ---------------------------------------------------------------------------------------------
# The state machine: two keys, timestamps anchored on the versions written

KEYS = st.sampled_from(["a", "b"])
GAPS = st.sampled_from([1, 2, 1, 3, 5])  # a valid write lands this far after the key's latest
STARTS = st.sampled_from([0, -3, 2])  # where a key's first version lands
BACKS = st.sampled_from([0, 1, 2])  # a refused write lands this far before the key's latest
OFFSETS = st.sampled_from([0, -1, 1, 2, 4])  # a read lands this far from an anchor
ANCHORS = st.integers(0, 7)  # which timestamp written to the key anchors a read
TTLS = st.sampled_from([None, 1, 2, 4])
FAR = 10**9


class TimeMachine(RuleBasedStateMachine):
    """Level 1: set (at valid and refused timestamps) and get, against the model."""

    level = 1

    def __init__(self, impl: ModuleType) -> None:
        super().__init__()
        self.impl = impl
        self.kv = impl.TimeKV()
        self.model = Model()
        self.steps: list[str] = ["kv = TimeKV()"]
        self.seen: dict[str, list[int]] = {}  # every timestamp written to a key, in order
        self.false_deletes: dict[str, list[int]] = {}  # timestamps of deletes that returned False
        self.writes = 0

    # ---- plumbing

    @property
    def program(self) -> str:
        shown = self.steps
        if len(shown) > 40:
            shown = [*shown[:5], f"... {len(shown) - 30} more steps ...", *shown[-25:]]
        return "; ".join(shown)

    def record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.steps.append(call_repr(f"kv.{name}", *args, **kwargs))

    def mismatch(self, headline: str, actual: Any, expected: Any, key: str) -> None:
        fail(
            headline,
            call=self.program,
            expected=f"{expected!r} (the model's answer)",
            actual=f"{actual!r} (your store's answer)",
            detail=self.model.describe(key),
            show_values=False,
        )

    def next_time(self, key: str, gap: int, start: int) -> int:
        latest = self.model.latest(key)
        return start if latest is None else latest + gap

    def anchored(self, key: str, anchor: int, offset: int) -> int:
        seen = self.seen.get(key, [])
        return (seen[anchor % len(seen)] if seen else 0) + offset

    def value(self, key: str, empty: bool) -> str:
        self.writes += 1
        return "" if empty else f"{key}{self.writes}"

    def write(self, name: str, key: str, *args: Any, **kwargs: Any) -> Any:
        """A write the model accepts: a ValueError from the store fails the right rule."""
        self.record(name, key, *args, **kwargs)
        t = args[-1] if name == "delete" else args[1]
        self.seen.setdefault(key, []).append(t)
        try:
            return getattr(self.kv, name)(key, *args, **kwargs)
        except ValueError as exc:
            raised = f"raised ValueError: {exc}"
        others = [k for k in self.model.versions if k != key and self.model.latest(k) is not None]
        if any(d >= t for d in self.false_deletes.get(key, [])):
            headline = DELETE_RESULT + " (a delete that returned False wrote no timestamp)"
        elif any((self.model.latest(k) or 0) >= t for k in others):
            headline = INDEPENDENT
        elif key in self.model.compacted:
            headline = COMPACT_AS_IF + " (the timestamp rule sees only the versions kept)"
        elif name == "delete":
            headline = DELETE_RESULT
        else:
            headline = INCREASING
        fail(
            headline,
            call=self.program,
            expected=f"the write is accepted (t = {t} is after {key!r}'s latest timestamp, "
            f"{self.model.latest(key)})",
            actual=raised,
            detail=self.model.describe(key),
            show_values=False,
        )
        return None

    def refused(self, name: str, key: str, *args: Any, rule: str, **kwargs: Any) -> None:
        self.record(name, key, *args, **kwargs)
        expect_raises(
            ValueError, getattr(self.kv, name), key, *args, call=self.program, rule=rule, **kwargs
        )
        self.steps.append("(raised ValueError)")

    def diagnose_get(self, key: str, t: int, actual: Any) -> str:
        """The rule that best explains a wrong answer of get(key, t)."""
        current = self.model.current(key, t)
        older = [v.value for v in self.model.versions.get(key, []) if v.t < t]
        later = [v.value for v in self.model.versions.get(key, []) if v.t > t]
        if current is None:
            return COMPACT_AS_IF if key in self.model.compacted else BEFORE_FIRST
        if current.value is None or not current.visible_at(t):
            if actual is not None and actual in older:
                return ONE_VERSION
            if current.value is not None and t >= current.expires:
                return TTL_WINDOW
            return ONE_VERSION
        if actual is None:
            if current.value == "":
                return EMPTY_VALUE
            if current.expires != math.inf:
                return TTL_WINDOW
            return GET_LATEST if current.t != t else GET_LATEST + " (here t is exactly a version)"
        if actual in later or actual in older:
            return GET_LATEST
        return INDEPENDENT

    def compare_get(self, key: str, t: int) -> None:
        self.record("get", key, t)
        actual = self.kv.get(key, t)
        expected = self.model.get(key, t)
        if not same(actual, expected):
            self.mismatch(self.diagnose_get(key, t, actual), actual, expected, key)
        self.steps.pop()

    # ---- level 1

    @rule(key=KEYS, gap=GAPS, start=STARTS, empty=st.sampled_from([False, False, False, True]))
    def set(self, key: str, gap: int, start: int, empty: bool) -> None:
        t = self.next_time(key, gap, start)
        value = self.value(key, empty)
        self.write("set", key, value, t)
        self.model.set(key, value, t, None)

    @precondition(lambda self: bool(self.model.versions))
    @rule(key=KEYS, back=BACKS)
    def set_too_early(self, key: str, back: int) -> None:
        latest = self.model.latest(key)
        if latest is None:
            return
        self.refused("set", key, self.value(key, False), latest - back, rule=INCREASING)

    @rule(key=KEYS, anchor=ANCHORS, offset=OFFSETS)
    def get(self, key: str, anchor: int, offset: int) -> None:
        t = self.anchored(key, anchor, offset)
        self.record("get", key, t)
        actual = self.kv.get(key, t)
        expected = self.model.get(key, t)
        if not same(actual, expected):
            self.mismatch(self.diagnose_get(key, t, actual), actual, expected, key)

    # ---- after every step

    @invariant()
    def reads_at_the_edges_match_the_model(self) -> None:
        for key in ("a", "b"):
            latest = self.model.latest(key)
            for t in ([] if latest is None else [latest]) + [FAR]:
                self.compare_get(key, t)


class DeleteMachine(TimeMachine):
    """Level 2: deletes (valid and refused) and sets with a TTL."""

    level = 2

    @rule(key=KEYS, gap=GAPS, start=STARTS, ttl=TTLS)
    def set_with_ttl(self, key: str, gap: int, start: int, ttl: int | None) -> None:
        t = self.next_time(key, gap, start)
        value = self.value(key, False)
        self.write("set", key, value, t, ttl=ttl)
        self.model.set(key, value, t, ttl)

    @rule(key=KEYS, gap=GAPS, start=STARTS)
    def delete(self, key: str, gap: int, start: int) -> None:
        t = self.next_time(key, gap, start)
        actual = self.write("delete", key, t)
        expected = self.model.delete(key, t)
        if not expected:
            self.false_deletes.setdefault(key, []).append(t)
        if not same(actual, expected):
            current = self.model.current(key, t)
            expired = current is not None and current.value is not None and t >= current.expires
            headline = DELETE_RESULT
            if expired and current is not None and t == current.expires:
                headline = f"{TTL_WINDOW}\n  (so nothing is visible at {t}: {DELETE_RESULT[6:]})"
            self.mismatch(headline, actual, expected, key)

    @precondition(lambda self: bool(self.model.versions))
    @rule(key=KEYS, back=BACKS)
    def delete_too_early(self, key: str, back: int) -> None:
        latest = self.model.latest(key)
        if latest is None:
            return
        self.refused("delete", key, latest - back, rule=DELETE_ORDER)


class HistoryMachine(DeleteMachine):
    """Level 3: history and compact; the whole history of each key is compared after every step."""

    level = 3

    @rule(key=KEYS, a0=ANCHORS, o0=OFFSETS, a1=ANCHORS, o1=OFFSETS)
    def history(self, key: str, a0: int, o0: int, a1: int, o1: int) -> None:
        t0, t1 = self.anchored(key, a0, o0), self.anchored(key, a1, o1)
        self.record("history", key, t0, t1)
        actual = self.kv.history(key, t0, t1)
        expected = self.model.history(key, t0, t1)
        if not same(actual, expected):
            self.mismatch(self.diagnose_history(key, t0, t1, actual), actual, expected, key)

    @rule(key=KEYS, anchor=ANCHORS, offset=OFFSETS)
    def compact(self, key: str, anchor: int, offset: int) -> None:
        t = self.anchored(key, anchor, offset)
        self.record("compact", t)
        actual = self.kv.compact(t)
        expected = self.model.compact(t)
        if not same(actual, expected):
            self.mismatch(COMPACT, actual, expected, key)

    def diagnose_history(self, key: str, t0: int, t1: int, actual: Any) -> str:
        expected = self.model.history(key, t0, t1)
        if t0 > t1:
            return HISTORY_BOUNDS
        if isinstance(actual, list) and [e for e in expected if e[1] is not None] == actual:
            return HISTORY + " (deletes are listed too)"
        edges = [e for e in expected if e[0] in (t0, t1)]
        if isinstance(actual, list) and any(e not in actual for e in edges):
            return HISTORY_BOUNDS
        if key in self.model.compacted:
            return f"{COMPACT_AS_IF} (or: {HISTORY})"
        return HISTORY

    @invariant()
    def whole_histories_match_the_model(self) -> None:
        for key in ("a", "b"):
            self.record("history", key, -FAR, FAR)
            actual = self.kv.history(key, -FAR, FAR)
            expected = self.model.history(key, -FAR, FAR)
            if not same(actual, expected):
                headline = self.diagnose_history(key, -FAR, FAR, actual)
                if self.steps[-2].startswith("kv.compact"):
                    headline = COMPACT_KEEP
                self.mismatch(headline, actual, expected, key)
            self.steps.pop()


MACHINES = {1: TimeMachine, 2: DeleteMachine, 3: HistoryMachine}


def run_machine(impl: ModuleType, level: int, max_examples: int, steps: int = 12) -> None:
    machine = MACHINES[level]
    run_state_machine_as_test(
        lambda: machine(impl),
        settings=settings(max_examples=max_examples, stateful_step_count=steps),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: set and get at a time


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("model", "gpt-4o", 10)
    kv.set("model", "gpt-4.1", 20)
    s.expect(kv.get("model", 9), None, BEFORE_FIRST)
    s.expect(kv.get("model", 10), "gpt-4o", GET_LATEST)
    s.expect(kv.get("model", 15), "gpt-4o", GET_LATEST)
    s.expect(kv.get("model", 20), "gpt-4.1", GET_LATEST)
    s.expect(kv.get("model", 99), "gpt-4.1", GET_LATEST)
    s.expect(kv.get("prompt", 15), None, BEFORE_FIRST)
    s.accepts("set", "prompt", "be brief", 5, rule=INDEPENDENT)
    s.refuses("set", "model", "o3", 20, rule=INCREASING)
    s.expect(kv.get("model", 20), "gpt-4.1", INCREASING)


@pytest.mark.level(1)
def test_get_returns_the_version_with_the_greatest_timestamp_at_or_before_t(impl):
    s = Store(impl)
    kv = s.kv
    for t, value in [(1, "one"), (4, "four"), (9, "nine")]:
        kv.set("k", value, t)
    for t, expected in [(1, "one"), (3, "one"), (4, "four"), (5, "four"), (8, "four"), (9, "nine")]:
        s.expect(kv.get("k", t), expected, GET_LATEST)
    s.expect(kv.get("k", 10**12), "nine", GET_LATEST + " (long after the last version)")


@pytest.mark.level(1)
def test_a_version_written_at_exactly_t_counts(impl):
    s = Store(impl)
    s.kv.set("k", "first", 7)
    s.expect(s.kv.get("k", 7), "first", GET_LATEST)
    s.kv.set("k", "second", 8)
    s.expect(s.kv.get("k", 8), "second", GET_LATEST)
    s.expect(s.kv.get("k", 7), "first", GET_LATEST)


@pytest.mark.level(1)
def test_get_before_the_first_version_or_of_a_key_never_set_returns_none(impl):
    s = Store(impl)
    s.expect(s.kv.get("k", 0), None, BEFORE_FIRST + " (an empty store)")
    s.kv.set("k", "v", 10)
    s.kv.set("k", "w", 20)
    s.expect(s.kv.get("k", 9), None, BEFORE_FIRST)
    s.expect(s.kv.get("k", -(10**12)), None, BEFORE_FIRST)
    s.expect(s.kv.get("other", 15), None, BEFORE_FIRST + " (a key never set)")


@pytest.mark.level(1)
def test_timestamps_may_be_negative_or_zero(impl):
    s = Store(impl)
    s.kv.set("k", "minus five", -5)
    s.kv.set("k", "zero", 0)
    s.expect(s.kv.get("k", -6), None, BEFORE_FIRST)
    s.expect(s.kv.get("k", -1), "minus five", GET_LATEST + " (timestamps are any int)")
    s.expect(s.kv.get("k", 0), "zero", GET_LATEST + " (timestamps are any int)")


@pytest.mark.level(1)
@pytest.mark.parametrize("back", [0, 1, 10])
def test_a_set_at_or_before_the_latest_timestamp_raises_and_changes_nothing(impl, back):
    s = Store(impl)
    s.kv.set("k", "old", 5)
    s.kv.set("k", "new", 10)
    s.refuses("set", "k", "refused", 10 - back, rule=INCREASING)
    s.expect(s.kv.get("k", 10), "new", INCREASING + " (the refused set changed nothing)")
    s.expect(s.kv.get("k", 9), "old", INCREASING + " (the refused set changed nothing)")
    s.expect(s.kv.get("k", 100), "new", INCREASING + " (the refused set changed nothing)")
    s.accepts("set", "k", "next", 11, rule=INCREASING + " (11 is after 10)")
    s.expect(s.kv.get("k", 11), "next", INCREASING)


@pytest.mark.level(1)
def test_keys_have_independent_timelines(impl):
    s = Store(impl)
    s.kv.set("a", "a at 10", 10)
    s.accepts("set", "b", "b at 3", 3, rule=INDEPENDENT + " ('b' has no version yet)")
    s.accepts("set", "b", "b at 10", 10, rule=INDEPENDENT)
    s.accepts("set", "a", "a at 11", 11, rule=INDEPENDENT)
    s.expect(s.kv.get("a", 10), "a at 10", INDEPENDENT)
    s.expect(s.kv.get("b", 9), "b at 3", INDEPENDENT)
    s.expect(s.kv.get("b", 11), "b at 10", INDEPENDENT)
    s.expect(s.kv.get("a", 3), None, INDEPENDENT + " ('a' starts at 10)")


@pytest.mark.level(1)
def test_an_empty_string_is_a_value(impl):
    s = Store(impl)
    s.kv.set("k", "x", 1)
    s.kv.set("k", "", 2)
    s.expect(s.kv.get("k", 2), "", EMPTY_VALUE)
    s.expect(s.kv.get("k", 5), "", EMPTY_VALUE)
    s.kv.set("", "empty key", 1)
    s.expect(s.kv.get("", 1), "empty key", EMPTY_VALUE + " (keys too)")


@pytest.mark.level(1)
def test_each_store_is_separate(impl):
    first = impl.TimeKV()
    first.set("k", "v", 1)
    s = Store(impl)
    s.kv.steps[0] = "first = TimeKV(); first.set('k', 'v', 1); kv = TimeKV()"
    s.expect(s.kv.get("k", 5), None, "rule: each TimeKV() is a separate, empty store")
    s.kv.set("k", "w", 0)
    s.expect(s.kv.get("k", 5), "w", "rule: each TimeKV() is a separate, empty store")


@pytest.mark.level(1)
def test_random_programs_of_set_and_get_match_the_model(impl):
    run_machine(impl, level=1, max_examples=60)


# ---------------------------------------------------------------------------------------------
# Level 2: deletes and time to live


@pytest.mark.level(2)
def test_worked_example_of_deletes_and_ttl(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("flag", "on", 10, ttl=5)
    s.expect(kv.get("flag", 14), "on", TTL_WINDOW)
    s.expect(kv.get("flag", 15), None, TTL_WINDOW)
    s.expect(kv.delete("flag", 16), False, DELETE_RESULT + " (nothing is visible at 16)")
    kv.set("flag", "off", 16)
    kv.set("flag", "on", 20, ttl=100)
    s.expect(kv.delete("flag", 30), True, DELETE_RESULT)
    s.expect(kv.get("flag", 29), "on", GET_LATEST)
    s.expect(kv.get("flag", 30), None, ONE_VERSION)
    s.expect(kv.get("flag", 31), None, ONE_VERSION)
    s.refuses("delete", "flag", 30, rule=DELETE_ORDER)


@pytest.mark.level(2)
def test_a_value_with_a_ttl_is_visible_from_t_until_just_before_t_plus_ttl(impl):
    s = Store(impl)
    s.kv.set("k", "short", 100, ttl=3)
    for t, expected in [(99, None), (100, "short"), (102, "short"), (103, None), (500, None)]:
        s.expect(s.kv.get("k", t), expected, TTL_WINDOW)


@pytest.mark.level(2)
@pytest.mark.parametrize("ttl", [0, -1])
def test_a_ttl_that_is_not_positive_raises_and_changes_nothing(impl, ttl):
    s = Store(impl)
    s.kv.set("k", "kept", 1)
    s.refuses("set", "k", "refused", 5, rule=TTL_RANGE, ttl=ttl)
    s.expect(s.kv.get("k", 5), "kept", TTL_RANGE)
    s.accepts("set", "k", "later", 2, rule=TTL_RANGE + " (the refused set wrote no timestamp)")
    s.expect(s.kv.get("k", 2), "later", TTL_RANGE + " (the refused set wrote no timestamp)")


@pytest.mark.level(2)
def test_an_expired_value_never_uncovers_an_older_one(impl):
    s = Store(impl)
    s.kv.set("k", "forever", 1)
    s.kv.set("k", "brief", 10, ttl=2)
    s.expect(s.kv.get("k", 11), "brief", TTL_WINDOW)
    s.expect(
        s.kv.get("k", 12),
        None,
        ONE_VERSION,
        detail="the version at 10 has expired at 12; the version at 1 must not come back",
    )
    s.expect(s.kv.get("k", 9), "forever", GET_LATEST)


@pytest.mark.level(2)
def test_a_delete_never_uncovers_an_older_value(impl):
    s = Store(impl)
    s.kv.set("k", "first", 1)
    s.kv.set("k", "second", 5)
    s.expect(s.kv.delete("k", 8), True, DELETE_RESULT)
    s.expect(s.kv.get("k", 8), None, ONE_VERSION)
    s.expect(s.kv.get("k", 100), None, ONE_VERSION + " (the delete at 8 is the latest version)")
    s.expect(s.kv.get("k", 7), "second", GET_LATEST + " (before the delete)")


@pytest.mark.level(2)
def test_delete_returns_whether_a_value_was_visible(impl):
    s = Store(impl)
    s.expect(s.kv.delete("never", 5), False, DELETE_RESULT + " (a key never set)")
    s.accepts("set", "never", "v", 1, rule=DELETE_RESULT + " (the False delete wrote no timestamp)")
    s.expect(s.kv.get("never", 1), "v", DELETE_RESULT + " (the False delete wrote nothing)")
    s.kv.set("k", "v", 10)
    s.expect(s.kv.delete("k", 11), True, DELETE_RESULT)
    s.expect(s.kv.delete("k", 12), False, DELETE_RESULT + " (already deleted at 11)")
    s.accepts("set", "k", "w", 12, rule=DELETE_RESULT + " (the False delete wrote no timestamp)")
    s.expect(s.kv.get("k", 12), "w", DELETE_RESULT + " (the False delete wrote no timestamp)")
    s.expect(s.kv.delete("k", 13), True, DELETE_RESULT)


@pytest.mark.level(2)
def test_a_delete_after_an_expiry_returns_false_and_writes_nothing(impl):
    s = Store(impl)
    s.kv.set("k", "v", 10, ttl=5)
    s.expect(s.kv.delete("k", 15), False, DELETE_RESULT + " ('v' expired at 15)")
    s.accepts("set", "k", "w", 15, rule=DELETE_RESULT + " (the False delete wrote no timestamp)")
    s.expect(s.kv.get("k", 15), "w", DELETE_RESULT + " (the False delete wrote no timestamp 15)")


@pytest.mark.level(2)
def test_delete_checks_the_timestamp_rule_first(impl):
    s = Store(impl)
    s.kv.set("k", "v", 10, ttl=2)
    s.refuses(
        "delete",
        "k",
        5,
        rule=DELETE_ORDER + " (even though nothing is visible at 5, and nothing would be deleted)",
    )
    s.refuses("delete", "k", 10, rule=DELETE_ORDER)
    s.expect(s.kv.get("k", 11), "v", DELETE_ORDER + " (the refused deletes changed nothing)")


@pytest.mark.level(2)
def test_a_set_after_a_delete_or_an_expiry_starts_the_key_again(impl):
    s = Store(impl)
    s.kv.set("k", "v1", 1)
    s.kv.delete("k", 2)
    s.kv.set("k", "v2", 3, ttl=1)
    s.kv.set("k", "v3", 6)
    for t, expected in [(2, None), (3, "v2"), (4, None), (5, None), (6, "v3"), (9, "v3")]:
        s.expect(s.kv.get("k", t), expected, RESTART if expected else ONE_VERSION)


@pytest.mark.level(2)
def test_random_programs_with_deletes_and_ttls_match_the_model(impl):
    run_machine(impl, level=2, max_examples=80)


# ---------------------------------------------------------------------------------------------
# Level 3: history and compaction


@pytest.mark.level(3)
def test_worked_example_of_history_and_compaction(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("a", "1", 10)
    kv.set("a", "2", 20)
    kv.delete("a", 30)
    kv.set("a", "3", 40)
    kv.set("b", "x", 5, ttl=10)
    s.expect(kv.history("a", 15, 40), [(20, "2"), (30, None), (40, "3")], HISTORY)
    s.expect(kv.compact(25), 2, COMPACT, detail="'a' at 10 and 'b' at 5 (expired at 25) go")
    s.expect(kv.history("a", 0, 100), [(20, "2"), (30, None), (40, "3")], COMPACT_KEEP)
    s.expect(kv.get("a", 25), "2", COMPACT_KEEP)
    s.expect(kv.get("a", 15), None, COMPACT_AS_IF + " (the version at 10 is gone)")
    s.accepts("set", "b", "y", 1, rule=COMPACT_AS_IF + " ('b' is as if never set)")
    s.expect(kv.get("b", 1), "y", COMPACT_AS_IF + " ('b' is as if never set)")


@pytest.mark.level(3)
def test_history_lists_sets_and_deletes_in_time_order(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("k", "a", 1)
    kv.set("k", "b", 3, ttl=1)
    kv.set("k", "c", 5)
    kv.delete("k", 7)
    kv.set("k", "", 9)
    full = [(1, "a"), (3, "b"), (5, "c"), (7, None), (9, "")]
    s.expect(kv.history("k", 1, 9), full, HISTORY + " (a TTL does not show; deletes are listed)")
    s.expect(kv.history("k", -100, 100), full, HISTORY)
    s.expect(kv.history("other", -100, 100), [], HISTORY + " (a key never set)")


@pytest.mark.level(3)
def test_history_bounds_are_inclusive(impl):
    s = Store(impl)
    for t in (10, 20, 30):
        s.kv.set("k", f"v{t}", t)
    s.expect(s.kv.history("k", 10, 30), [(10, "v10"), (20, "v20"), (30, "v30")], HISTORY_BOUNDS)
    s.expect(s.kv.history("k", 11, 29), [(20, "v20")], HISTORY_BOUNDS)
    s.expect(s.kv.history("k", 20, 20), [(20, "v20")], HISTORY_BOUNDS)
    s.expect(s.kv.history("k", 21, 29), [], HISTORY_BOUNDS)
    s.expect(
        s.accepts("history", "k", 30, 10, rule=HISTORY_BOUNDS + " (t0 > t1)"),
        [],
        HISTORY_BOUNDS + " (t0 > t1)",
    )


@pytest.mark.level(3)
def test_history_lists_an_expired_value_at_the_time_it_was_written(impl):
    s = Store(impl)
    s.kv.set("k", "brief", 5, ttl=1)
    s.expect(s.kv.get("k", 7), None, TTL_WINDOW)
    s.expect(s.kv.history("k", 0, 10), [(5, "brief")], HISTORY_TTL)


@pytest.mark.level(3)
def test_compact_keeps_the_version_visible_at_t_and_everything_after(impl):
    s = Store(impl)
    kv = s.kv
    for t in (1, 2, 3, 6, 8):
        kv.set("k", f"v{t}", t)
    s.expect(kv.compact(5), 2, COMPACT, detail="at 5 'v3' (written at 3) is visible: 1 and 2 go")
    s.expect(kv.history("k", -100, 100), [(3, "v3"), (6, "v6"), (8, "v8")], COMPACT_KEEP)
    s.expect(kv.get("k", 5), "v3", COMPACT_KEEP)
    s.expect(kv.get("k", 3), "v3", COMPACT_KEEP)
    s.expect(kv.get("k", 2), None, COMPACT_AS_IF)
    s.expect(kv.compact(5), 0, COMPACT + " (nothing more to drop)")
    s.expect(kv.compact(6), 1, COMPACT + " (at 6 'v6' is visible: 3 goes)")


@pytest.mark.level(3)
def test_compact_at_exactly_a_version_keeps_it(impl):
    s = Store(impl)
    s.kv.set("k", "old", 1)
    s.kv.set("k", "new", 4)
    s.expect(s.kv.compact(4), 1, COMPACT, detail="at 4 'new' is visible: only 1 goes")
    s.expect(s.kv.history("k", 0, 10), [(4, "new")], COMPACT_KEEP)


@pytest.mark.level(3)
def test_compact_drops_a_delete_or_an_expired_value_current_at_t(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("d", "x", 1)
    kv.delete("d", 2)
    kv.set("d", "y", 9)
    kv.set("e", "x", 1, ttl=3)
    kv.set("e", "y", 9)
    s.expect(
        kv.compact(5),
        3,
        COMPACT,
        detail="at 5 'd' shows its delete (at 2), which goes with the value at 1; 'e' shows an "
        "expired value (at 1), which goes",
    )
    s.expect(kv.history("d", 0, 10), [(9, "y")], COMPACT_KEEP)
    s.expect(kv.history("e", 0, 10), [(9, "y")], COMPACT_KEEP)
    s.expect(kv.get("d", 5), None, COMPACT_KEEP)
    s.expect(kv.get("e", 5), None, COMPACT_KEEP)


@pytest.mark.level(3)
def test_a_key_compacted_away_is_as_if_never_set(impl):
    s = Store(impl)
    kv = s.kv
    kv.set("k", "v", 10)
    kv.delete("k", 20)
    s.expect(kv.compact(30), 2, COMPACT)
    s.expect(kv.history("k", -100, 100), [], COMPACT_AS_IF)
    s.expect(
        s.accepts(
            "delete", "k", 5, rule=COMPACT_AS_IF + " (a key compacted away is as if never set)"
        ),
        False,
        COMPACT_AS_IF + " (delete of a key never set)",
    )
    s.accepts(
        "set", "k", "again", 5, rule=COMPACT_AS_IF + " (the timestamp rule forgets 10 and 20)"
    )
    s.expect(kv.get("k", 5), "again", COMPACT_AS_IF + " (the timestamp rule forgets 10 and 20)")
    s.expect(kv.get("k", 25), "again", COMPACT_AS_IF)


@pytest.mark.level(3)
def test_compact_before_every_version_drops_nothing(impl):
    s = Store(impl)
    s.kv.set("k", "v", 10, ttl=1)
    s.kv.set("j", "w", 3)
    s.expect(s.kv.compact(2), 0, COMPACT + " (every version is after 2)")
    s.expect(s.kv.compact(3), 0, COMPACT + " ('w' is visible at 3)")
    s.expect(s.kv.history("k", 0, 100), [(10, "v")], COMPACT_KEEP)


@pytest.mark.level(3)
def test_random_programs_with_history_and_compaction_match_the_model(impl):
    run_machine(impl, level=3, max_examples=80)


# ---------------------------------------------------------------------------------------------
# Level 4: a million operations. Version i of "hot" is at time 3i: a delete when i % 10 == 9, a
# value f"v{i}" otherwise, with ttl=2 when i % 7 == 3 (so it expires before the next version).

HOT = 150_000
SPARSE = 10_000
SPARSE_GAP = 1_000_003  # times far apart: counting down from t one step at a time cannot keep up
COLD_KEYS = 500
COLD_VERSIONS = 100


def hot_is_delete(i: int) -> bool:
    return i % 10 == 9


def hot_ttl(i: int) -> int | None:
    return 2 if i % 7 == 3 else None


def hot_recorded(i: int) -> bool:
    """A delete is written only if version i - 1 (a value) is still visible at 3i."""
    return not hot_is_delete(i) or hot_ttl(i - 1) is None


def hot_get(t: int, versions: int = HOT) -> str | None:
    """get('hot', t) by arithmetic on the pattern of `versions` versions."""
    if t < 0:
        return None
    i = min(t // 3, versions - 1)
    if hot_is_delete(i):  # a tombstone, or a delete that found the value before it expired
        return None
    ttl = hot_ttl(i)
    return None if ttl is not None and t >= 3 * i + ttl else f"v{i}"


def write_hot(kv: Any, upto: int = HOT) -> list[tuple[int, bool]]:
    """Write versions 0..upto-1 of "hot"; returns the delete results (index, result)."""
    set_, delete = kv.set, kv.delete
    deleted = []
    for i in range(upto):
        if hot_is_delete(i):
            deleted.append((i, delete("hot", 3 * i)))
        else:
            ttl = hot_ttl(i)
            if ttl is None:
                set_("hot", f"v{i}", 3 * i)
            else:
                set_("hot", f"v{i}", 3 * i, ttl=ttl)
    return deleted


def spread(count: int, span: int, low: int, stride: int = 104_729) -> list[int]:
    """`count` times spread over [low, low + span): a fixed stride, cheap and repeatable."""
    return [low + (k * stride) % span for k in range(count)]


def first_difference(actual: list[Any], expected: list[Any]) -> int | None:
    """The index of the first answer that differs from the expected one (None if all agree)."""
    if actual == expected and all(type(a) is type(e) for a, e in zip(actual, expected)):
        return None
    for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if not same(a, e):
            return k
    return None


@pytest.mark.level(4)
@pytest.mark.timeout(10)
def test_a_million_operations_with_logarithmic_lookups(impl):
    kv = impl.TimeKV()
    deleted = write_hot(kv)
    for i, result in deleted:
        if result is not hot_recorded(i):
            fail(
                DELETE_RESULT,
                call=f"{HOT:,} writes to 'hot' (see the suite's docstring); delete('hot', {3 * i})",
                expected=hot_recorded(i),
                actual=result,
            )
    for i in range(SPARSE):
        kv.set("sparse", f"s{i}", i * SPARSE_GAP)
    for r in range(COLD_VERSIONS):
        for j in range(COLD_KEYS):
            kv.set(f"k{j}", f"{j}:{r}", 5 * r)
    get = kv.get
    hot_times = spread(300_000, 3 * HOT + 10, -5)
    hot_answers = [get("hot", t) for t in hot_times]
    sparse_times = spread(50_000, SPARSE * SPARSE_GAP, -SPARSE_GAP)
    sparse_answers = [get("sparse", t) for t in sparse_times]
    cold_times = spread(30_000, 5 * COLD_VERSIONS + 10, -5, stride=7919)
    cold_answers = [get(f"k{k % COLD_KEYS}", t) for k, t in enumerate(cold_times)]
    writes = f"{HOT:,} writes to 'hot' (version i at 3i), {SPARSE:,} to 'sparse' (version i at "
    writes += f"{SPARSE_GAP:,}·i), 100 to each of {COLD_KEYS} cold keys; then "
    checks = [
        ("hot", hot_times, hot_answers, hot_get),
        ("sparse", sparse_times, sparse_answers, sparse_get),
    ]
    for key, times, answers, oracle in checks:
        expected = [oracle(t) for t in times]
        k = first_difference(answers, expected)
        if k is not None:
            fail(
                scale_rule(key, times[k], answers[k]),
                call=writes + call_repr("get", key, times[k]),
                expected=expected[k],
                actual=answers[k],
            )
    expected_cold = [cold_get(k % COLD_KEYS, t) for k, t in enumerate(cold_times)]
    k = first_difference(cold_answers, expected_cold)
    if k is not None:
        fail(
            scale_rule("cold", cold_times[k], cold_answers[k]),
            call=writes + call_repr("get", f"k{k % COLD_KEYS}", cold_times[k]),
            expected=expected_cold[k],
            actual=cold_answers[k],
        )


def scale_rule(key: str, t: int, actual: Any) -> str:
    """The rule a wrong get at scale breaks, read off the pattern written."""
    if t < 0:
        return BEFORE_FIRST
    if key == "hot":
        i = min(t // 3, HOT - 1)
        uncovered = isinstance(actual, str) and actual != f"v{i}"
        if hot_is_delete(i) or (hot_ttl(i) is not None and uncovered):
            return ONE_VERSION
        if hot_ttl(i) is not None:
            return TTL_WINDOW
    return GET_LATEST


def sparse_get(t: int) -> str | None:
    if t < 0:
        return None
    return f"s{min(t // SPARSE_GAP, SPARSE - 1)}"


def cold_get(j: int, t: int) -> str | None:
    if t < 0:
        return None
    return f"{j}:{min(t // 5, COLD_VERSIONS - 1)}"


@pytest.mark.level(4)
@pytest.mark.timeout(10)
def test_histories_and_compaction_at_scale(impl):
    kv = impl.TimeKV()
    write_hot(kv, 150_000)
    history = kv.history
    windows = [(t, t + 30) for t in spread(30_000, 3 * 150_000, -10)]
    answers = [history("hot", t0, t1) for t0, t1 in windows]
    for (t0, t1), actual in zip(windows, answers, strict=True):
        expected = [
            (3 * i, None if hot_is_delete(i) else f"v{i}")
            for i in range(max(0, -(-t0 // 3)), min(150_000, t1 // 3 + 1))
            if hot_recorded(i)
        ]
        if (
            type(actual) is not list
            or actual != expected
            or not all(type(p) is tuple for p in actual)
        ):
            fail(
                HISTORY,
                call="150,000 writes to 'hot' (version i at 3i); "
                + call_repr("history", "hot", t0, t1),
                expected=expected,
                actual=actual,
            )
    t = 3 * 50_000 + 1
    current = 50_000
    visible = not hot_is_delete(current) and (hot_ttl(current) is None or t < 3 * current + 2)
    keep = current if visible else current + 1
    dropped_expected = sum(1 for i in range(keep) if hot_recorded(i))
    dropped = kv.compact(t)
    if dropped != dropped_expected:
        fail(
            COMPACT,
            call=f"150,000 writes to 'hot' (version i at 3i); compact({t})",
            expected=dropped_expected,
            actual=dropped,
        )
    get = kv.get
    after = [3 * 50_000 - 1, 3 * 50_000, *spread(20_000, 3 * 150_000, t)]
    answers = [get("hot", q) for q in after]
    for q, actual in zip(after, answers, strict=True):
        expected = hot_get(q, 150_000) if q >= 3 * keep else None
        if not same(actual, expected):
            fail(
                COMPACT_AS_IF,
                call=f"150,000 writes to 'hot' (version i at 3i); compact({t}); "
                + call_repr("get", "hot", q),
                expected=expected,
                actual=actual,
            )
