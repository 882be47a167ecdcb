"""Hidden suite for lru_cache.

Oracle: a plain model, a `collections.OrderedDict` kept least recent first (`move_to_end` on a get
hit or a put, `popitem(last=False)` to evict), driven side by side with the candidate's cache: by
hand in the example tests, by a Hypothesis `RuleBasedStateMachine` in the properties, and over a
seeded workload of 200,000 operations at level 2.

Recency order in comments and messages is written least recent first: `order: 2, 1` means 2 is
the next key to be evicted. Which keys a cache holds is read with `in`, which must not change the
order. So that a cache whose `in` wrongly refreshes keys is not healed by the checks themselves,
the example tests read stored keys in their recency order (a no-op even for such a cache) and the
state machine reads only keys that should be absent, plus len(cache). The machine's teardown then
reads the cache's whole recency order by putting fresh keys and watching what each one evicts.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from kata_runner.testing import call_repr, expect_equal, expect_raises, fail, returns

RECENCY_HINT = "a get hit and a put make a key the most recent; `in`, len and a get miss do not"


def order(keys: Iterable[Hashable]) -> str:
    """Keys least recent first, as the statement writes them: `2, 1`."""
    shown = ", ".join(repr(k) for k in keys)
    return shown or "(empty)"


def keyset(keys: Iterable[Hashable]) -> str:
    """Keys held, order not implied: `{1, 3}`."""
    return "{" + ", ".join(repr(k) for k in keys) + "}"


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type, so None, 0 and False are told apart."""
    return actual is expected or (type(actual) is type(expected) and actual == expected)


# The rule an operation breaks when it raises where the statement expects an answer.
PUT_RULE = "rule: put stores the value under the key as the most recently used (put never raises)"
GET_RULE = "rule: a get hit returns the stored value; a get miss returns default (get never raises)"
CONTAINS_RULE = "rule: `key in cache` is True exactly when the key is stored"
DELETE_RULE = "rule: delete returns True if the key was stored (and removes it), False if not"
RESIZE_RULE = "rule: resize(n), n >= 1, evicts least recently used entries until at most n remain"


class Script:
    """A cache plus the calls made on it so far, so a failure shows the whole program."""

    def __init__(self, impl: Any, capacity: int) -> None:
        self.steps = [f"cache = LRUCache({capacity!r})"]
        self.cache = impl.LRUCache(capacity)

    @property
    def call(self) -> str:
        return "; ".join(self.steps)

    def put(self, key: Hashable, value: Any) -> Any:
        self.steps.append(call_repr("cache.put", key, value))
        return returns(self.cache.put, key, value, call=self.call, rule=PUT_RULE)

    def get(self, key: Hashable, *default: Any) -> Any:
        self.steps.append(call_repr("cache.get", key, *default))
        return returns(self.cache.get, key, *default, call=self.call, rule=GET_RULE)

    def contains(self, key: Hashable) -> bool:
        self.steps.append(f"{key!r} in cache")
        return bool(returns(self.cache.__contains__, key, call=self.call, rule=CONTAINS_RULE))

    def delete(self, key: Hashable) -> Any:
        self.steps.append(call_repr("cache.delete", key))
        return returns(self.cache.delete, key, call=self.call, rule=DELETE_RULE)

    def resize(self, capacity: int) -> Any:
        self.steps.append(call_repr("cache.resize", capacity))
        return returns(self.cache.resize, capacity, call=self.call, rule=RESIZE_RULE)

    def fill(self, *pairs: tuple[Hashable, Any]) -> None:
        """put each (key, value) of distinct new keys into a cache with room for all of them, then
        check that all are held: a cache that evicts early fails here, not at the rule under test."""
        __tracebackhide__ = True
        for key, value in pairs:
            self.put(key, value)
        self.expect_holds(
            [key for key, _ in pairs],
            [],
            "rule: put stores a new key and never evicts while len(cache) < capacity",
        )

    def expect_value(self, actual: Any, expected: Any, rule: str) -> None:
        """`actual` (the result of the last step) must be `expected`, type included."""
        __tracebackhide__ = True
        if not same(actual, expected):
            fail(
                rule,
                call=self.call,
                expected=expected,
                actual=actual,
                detail="(the call is the last step of the program)",
            )

    def expect_holds(
        self, keys: list[Hashable], absent: Iterable[Hashable], rule: str, detail: str = ""
    ) -> None:
        """The cache holds exactly `keys` (given least recent first) of `keys + absent`, and
        len(cache) == len(keys). Membership is read with `in`, in that order, after the program."""
        __tracebackhide__ = True
        candidates = [*keys, *(k for k in absent if k not in keys)]
        held = [k for k in candidates if k in self.cache]
        if held != keys:
            missing = [k for k in keys if k not in held]
            extra = [k for k in held if k not in keys]
            what = "; ".join(
                part
                for part in (
                    f"missing: {order(missing)}" if missing else "",
                    f"should not be there: {order(extra)}" if extra else "",
                )
                if part
            )
            fail(
                rule,
                call=self.call,
                expected=f"holds {keyset(keys)}",
                actual=f"holds {keyset(held)}",
                show_values=False,
                detail=f"{what} (read with `in` after the program)\n{detail}".rstrip(),
            )
        size = len(self.cache)
        if size != len(keys):
            fail(
                "rule: len(cache) is the number of entries stored",
                call=self.call + "; len(cache)",
                expected=len(keys),
                actual=size,
                detail=f"the cache holds {keyset(keys)}",
            )


# ---------------------------------------------------------------------------------------------
# Level 1: get, put, eviction


@pytest.mark.level(1)
def test_eviction_removes_the_least_recently_used_key(impl):
    s = Script(impl, 3)
    s.fill((1, "1"), (2, "2"), (3, "3"))  # order: 1, 2, 3
    s.put(4, "4")  # evicts 1; order: 2, 3, 4
    s.expect_holds(
        [2, 3, 4],
        [1],
        "rule: put of a new key on a full cache evicts exactly one entry, the least recently used",
        detail="order before put(4, '4'): 1, 2, 3, so 1 goes",
    )
    s.put(5, "5")  # evicts 2; order: 3, 4, 5
    s.expect_holds(
        [3, 4, 5],
        [1, 2],
        "rule: put of a new key on a full cache evicts exactly one entry, the least recently used",
        detail="order before put(5, '5'): 2, 3, 4, so 2 goes",
    )


@pytest.mark.level(1)
def test_get_hit_makes_the_key_most_recent(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.expect_value(s.get(1), "one", "rule: a get hit returns the stored value")  # order: 2, 1
    s.put(3, "three")  # evicts 2; order: 1, 3
    s.expect_holds(
        [1, 3],
        [2],
        "rule: a get hit makes the key the most recently used",
        detail="get(1) made the order 2, 1, so put(3, 'three') must evict 2, not 1",
    )


@pytest.mark.level(1)
def test_put_of_an_existing_key_never_evicts(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # full; order: 1, 2
    s.put(2, "TWO")  # update, no eviction; order: 1, 2
    s.expect_holds(
        [1, 2],
        [],
        "rule: put of an existing key updates it in place and never evicts",
        detail="the cache was full, but 2 was already stored: nothing may be evicted",
    )
    s.put(1, "ONE")  # order: 2, 1
    s.expect_holds([2, 1], [], "rule: put of an existing key updates it in place and never evicts")
    s.expect_value(s.get(2), "TWO", "rule: put of an existing key updates its value")


@pytest.mark.level(1)
def test_put_of_an_existing_key_makes_it_most_recent(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.put(1, "ONE")  # order: 2, 1
    s.put(3, "three")  # evicts 2; order: 1, 3
    s.expect_holds(
        [1, 3],
        [2],
        "rule: put of an existing key makes it the most recently used",
        detail="put(1, 'ONE') made the order 2, 1, so put(3, 'three') must evict 2, not 1",
    )
    s.expect_value(s.get(1), "ONE", "rule: put of an existing key updates its value")


@pytest.mark.level(1)
def test_contains_does_not_change_recency(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.expect_value(s.contains(1), True, "rule: `key in cache` is True when the key is stored")
    s.expect_value(s.contains(9), False, "rule: `key in cache` is False when the key is not stored")
    s.put(3, "three")  # `in` did not refresh 1: evicts 1; order: 2, 3
    s.expect_holds(
        [2, 3],
        [1, 9],
        "rule: `key in cache` does not change recency",
        detail="after `1 in cache` the order is still 1, 2, so put(3, 'three') must evict 1",
    )


@pytest.mark.level(1)
def test_len_does_not_change_recency(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))
    s.steps.append("len(cache)")
    expect_equal(
        len(s.cache), 2, call=s.call, rule="rule: len(cache) is the number of entries stored"
    )
    s.put(3, "three")
    s.expect_holds(
        [2, 3],
        [1],
        "rule: len(cache) does not change recency",
        detail="the order before put(3, 'three') is 1, 2, so 1 goes",
    )


@pytest.mark.level(1)
def test_get_miss_returns_default_and_changes_nothing(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.expect_value(s.get(9, "missing"), "missing", "rule: a get miss returns default")
    inserted = "rule: a get miss changes nothing: the key is not inserted"
    s.expect_holds([1, 2], [9], inserted, detail="get(9, 'missing') missed: 9 must not be stored")
    s.expect_value(s.get(8), None, "rule: a get miss returns default (None when not given)")
    s.expect_value(s.get(7, 0), 0, "rule: a get miss returns default")
    s.expect_holds([1, 2], [7, 8, 9], inserted, detail="the cache must still hold only 1 and 2")
    s.put(3, "three")  # order unchanged by the misses: evicts 1
    s.expect_holds(
        [2, 3], [1, 7, 8, 9], "rule: a get miss changes nothing: the recency order stays 1, 2"
    )


@pytest.mark.level(1)
@pytest.mark.parametrize("capacity", [0, -1, -100])
def test_capacity_below_one_raises_value_error(impl, capacity):
    expect_raises(
        ValueError,
        impl.LRUCache,
        capacity,
        call=call_repr("LRUCache", capacity),
        rule="rule: capacity must be at least 1; LRUCache(capacity < 1) raises ValueError",
    )


@pytest.mark.level(1)
@pytest.mark.parametrize("capacity", [1, 3, 5])
def test_the_cache_fills_to_capacity_before_evicting(impl, capacity):
    s = Script(impl, capacity)
    for key in range(capacity):
        s.put(key, key * 10)
        s.expect_holds(
            list(range(key + 1)),
            [],
            "rule: the cache never evicts while len(cache) < capacity",
            detail=f"capacity {capacity}: {key + 1} puts of new keys fit without an eviction",
        )
    s.put(capacity, capacity * 10)  # evicts 0
    s.expect_holds(
        list(range(1, capacity + 1)),
        [0],
        "rule: put of a new key on a full cache evicts exactly one entry, the least recently used",
        detail=f"order before the last put: {order(range(capacity))}",
    )


@pytest.mark.level(1)
def test_capacity_one_keeps_the_last_key(impl):
    s = Script(impl, 1)
    s.fill(("a", 1))
    s.expect_value(s.get("a"), 1, "rule: a get hit returns the stored value")
    s.put("b", 2)  # evicts a
    s.expect_holds(
        ["b"], ["a"], "rule: put of a new key on a full cache evicts the least recently used"
    )
    s.put("b", 3)  # update, no eviction
    s.expect_holds(
        ["b"], ["a"], "rule: put of an existing key updates it in place and never evicts"
    )
    s.expect_value(s.get("b"), 3, "rule: put of an existing key updates its value")


@pytest.mark.level(1)
def test_keys_are_any_hashable(impl):
    keys: list[Hashable] = ["prompt-hash", (1, "two"), frozenset({3}), 4.5, b"bytes", 7]
    s = Script(impl, len(keys))
    s.fill(*[(key, i) for i, key in enumerate(keys)])
    for i, key in enumerate(keys):
        s.expect_value(
            s.get(key), i, "rule: keys are any hashable (str, tuple, frozenset, float, bytes, int)"
        )
    s.put((1, "two"), "new")  # equal tuple, a new object: the same key
    s.expect_value(
        s.get((1, "two")),
        "new",
        "rule: keys are compared like dict keys (equal keys are the same key)",
    )
    s.expect_holds(keys, [], "rule: keys are any hashable; put of an existing key never evicts")


@pytest.mark.level(1)
def test_a_key_stored_with_none_is_a_hit(impl):
    s = Script(impl, 2)
    s.fill(("a", None), ("b", 1))  # order: a, b
    s.expect_value(
        s.contains("a"), True, "rule: values may be None: `key in cache` is True for a stored None"
    )
    s.expect_value(
        s.get("a", "default"),
        None,
        "rule: values may be None: get of a key stored with None returns None, not default",
    )
    s.put("c", 2)  # the hit refreshed a: evicts b; order: a, c
    s.expect_holds(
        ["a", "c"],
        ["b"],
        "rule: values may be None: a get of a stored None is a hit and makes the key most recent",
        detail="get('a', 'default') made the order b, a, so put('c', 2) must evict b",
    )
    s.put("c", None)  # update to None, no eviction
    s.expect_holds(["a", "c"], ["b"], "rule: put of an existing key (even with None) never evicts")
    s.expect_value(
        s.get("c", "default"), None, "rule: values may be None: put of an existing key stores None"
    )


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    # After the examples of single rules: it exercises most of them at once, so a bug fails the
    # example of its own rule first.
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.expect_value(s.get(1), "one", "rule: a get hit returns the stored value")  # order: 2, 1
    s.put(3, "three")  # evicts 2; order: 1, 3
    s.expect_holds(
        [1, 3],
        [2],
        "rule: put of a new key on a full cache evicts the least recently used",
        detail=f"get(1) made the order 2, 1, so put(3, 'three') evicts 2 ({RECENCY_HINT})",
    )
    s.expect_value(s.get(2), None, "rule: a get miss returns default (None when not given)")
    s.expect_value(s.get(2, "missing"), "missing", "rule: a get miss returns default")
    s.put(1, "ONE")  # existing key: updated and refreshed; order: 3, 1
    s.expect_value(s.contains(3), True, "rule: `key in cache` is True when the key is stored")
    s.put(4, "four")  # evicts 3 (`in` did not refresh it); order: 1, 4
    s.expect_holds(
        [1, 4],
        [2, 3],
        "rule: put of a new key on a full cache evicts the least recently used",
        detail=f"order before put(4, 'four'): 3, 1 ({RECENCY_HINT})",
    )
    s.expect_value(s.get(1), "ONE", "rule: put of an existing key updates its value")


# ---------------------------------------------------------------------------------------------
# The state machine: random programs against an OrderedDict model (level 1 rules, then level 3)

KEYS = st.integers(0, 3)
KEY_SPACE = range(4)  # every key a program uses; the probe keys of teardown are outside it
PROBE_KEYS = range(100, 110)
MACHINE_EXAMPLES = 100  # programs per state-machine test
MACHINE_STEPS = 10  # at most this many steps per program
VALUES = st.none() | st.integers(0, 99)


class LRUMachine(RuleBasedStateMachine):
    """put / get / `in` on the candidate's cache and on an OrderedDict model, side by side.

    After every step the cache must hold exactly the model's keys (checked without touching a
    stored key). At the end of every program, teardown reads the cache's whole recency order by
    putting fresh keys and checking that they evict the model's keys least recent first, so a
    recency bug shows even when the program itself never evicted. Every failure message carries
    the program run so far (`call:`), so it reads the same wherever Hypothesis's own printout goes.
    """

    def __init__(self, impl: Any) -> None:
        super().__init__()
        self.impl = impl
        self.model: OrderedDict[int, Any] = OrderedDict()  # least recent first
        self.capacity = 0
        self.cache: Any = None
        self.history: list[str] = []  # the calls made on the cache, for failure messages
        self.in_step = False  # True while a step runs: teardown must not mask its failure

    @property
    def program(self) -> str:
        return "; ".join(self.history)

    @initialize(capacity=st.integers(1, 3), free=st.integers(0, 3))
    def make_cache(self, capacity: int, free: int) -> None:
        # Programs start from a full cache unless Hypothesis leaves slots free: recency only shows
        # when a put evicts.
        self.in_step = True
        self.capacity = capacity
        self.history.append(f"cache = LRUCache({capacity})")
        self.cache = self.impl.LRUCache(capacity)
        for key in range(max(capacity - free, 0)):
            self.history.append(call_repr("cache.put", key, 10 * key))
            returns(self.cache.put, key, 10 * key, call=self.program, rule=PUT_RULE)
            self.model[key] = 10 * key
        note(f"make_cache(capacity={capacity}, free={free}) runs: {self.program}")
        self.check_contents(
            "rule: put stores a new key and never evicts while len(cache) < capacity", []
        )
        self.in_step = False

    def check_contents(self, rule: str, before: list[int]) -> None:
        """After the last step, the cache must hold exactly the model's keys.

        Only keys the model does not hold are probed with `in`, plus len(cache): that settles the
        contents without touching a stored key, so a cache whose `in` wrongly refreshes keys is
        not put back into the model's order by the check itself."""
        __tracebackhide__ = True
        extra = [k for k in KEY_SPACE if k not in self.model and k in self.cache]
        size = len(self.cache)
        if not extra and size == len(self.model):
            return
        expected = list(self.model)
        missing = [k for k in expected if k not in self.cache]  # failing anyway: probe freely
        if extra or missing:
            held = [k for k in expected if k not in missing] + extra
            fail(
                rule,
                call=self.program,
                expected=f"holds {keyset(expected)}",
                actual=f"holds {keyset(held)}",
                show_values=False,
                detail=(
                    f"missing: {order(missing)}; should not be there: {order(extra)} (read with "
                    f"`in`)\nrecency order before the last call: {order(before)}; after it, per "
                    f"the model: {order(expected)} (capacity {self.capacity})\n"
                    f"remember: {RECENCY_HINT}"
                ),
            )
        fail(
            "rule: len(cache) is the number of entries stored",
            call=self.program + "; len(cache)",
            expected=len(expected),
            actual=size,
            detail=f"the cache holds {keyset(expected)}",
        )

    @rule(key=KEYS, value=VALUES)
    def put(self, key: int, value: Any) -> None:
        self.in_step = True
        before = list(self.model)
        self.history.append(call_repr("cache.put", key, value))
        returns(self.cache.put, key, value, call=self.program, rule=PUT_RULE)
        if key in self.model:
            rule_ = "rule: put of an existing key updates it in place and never evicts"
            self.model.move_to_end(key)
        elif len(self.model) >= self.capacity:
            victim, _ = self.model.popitem(last=False)
            rule_ = (
                "rule: put of a new key on a full cache evicts exactly one entry, the least "
                f"recently used (here {victim!r})"
            )
        else:
            rule_ = "rule: put stores a new key and never evicts while len(cache) < capacity"
        self.model[key] = value
        self.check_contents(rule_, before)
        self.in_step = False

    @rule(key=KEYS, default=st.sampled_from([None, "missing"]))
    def get(self, key: int, default: str | None) -> None:
        # default=None stands for a call without a default: cache.get(key).
        self.in_step = True
        args = () if default is None else (default,)
        before = list(self.model)
        self.history.append(call_repr("cache.get", key, *args))
        result = returns(self.cache.get, key, *args, call=self.program, rule=GET_RULE)
        if key in self.model:
            expected = self.model[key]
            self.model.move_to_end(key)
            rule_ = (
                "rule: a get hit returns the value last put for the key (a stored None is a hit)"
            )
        else:
            expected = default
            rule_ = "rule: a get miss returns default"
        if not same(result, expected):
            stored = ", ".join(f"{k!r}: {self.model[k]!r}" for k in before)
            fail(
                rule_,
                call=self.program,
                expected=expected,
                actual=result,
                detail=f"recency order before the last call: {order(before)}; stored: {stored}",
            )
        rule_ = (
            "rule: a get hit changes nothing but the recency order"
            if key in before
            else "rule: a get miss changes nothing: the key is not inserted"
        )
        self.check_contents(rule_, before)
        self.in_step = False

    @rule(key=KEYS)
    def contains(self, key: int) -> None:
        self.in_step = True
        before = list(self.model)
        self.history.append(f"{key!r} in cache")
        result = key in self.cache
        if not same(result, key in self.model):
            fail(
                "rule: `key in cache` is True exactly when the key is stored",
                call=self.program,
                expected=key in self.model,
                actual=result,
                detail=f"the model holds {keyset(before)}",
            )
        self.check_contents("rule: `key in cache` changes nothing", before)
        self.in_step = False

    def teardown(self) -> None:
        """Read the whole recency order: fill the cache with fresh keys, then each further fresh key
        must evict the model's least recent key."""
        if self.cache is None or self.in_step:
            return  # no cache, or a step failed: report that failure, not this one
        expected_order = list(self.model)
        probes = iter(PROBE_KEYS)
        while len(self.model) < self.capacity:  # fill the free slots first: no eviction yet
            key = next(probes)
            self.history.append(call_repr("cache.put", key, "probe"))
            self.cache.put(key, "probe")
            self.model[key] = "probe"
        self.check_contents(
            "rule: put stores a new key and never evicts while len(cache) < capacity",
            expected_order,
        )
        for victim in expected_order:
            key = next(probes)
            self.history.append(call_repr("cache.put", key, "probe"))
            self.cache.put(key, "probe")
            size = len(self.cache)
            if victim in self.cache or size != self.capacity:
                evicted = [k for k in self.model if k != victim and k not in self.cache]
                fail(
                    "rule: put of a new key on a full cache evicts exactly one entry, the least "
                    f"recently used (here {victim!r})",
                    call=self.program,
                    expected=f"the last put evicts {victim!r}",
                    actual=f"it evicted {keyset(evicted) if evicted else 'nothing'}"
                    + ("" if size == self.capacity else f", len(cache) = {size}"),
                    show_values=False,
                    detail=(
                        "after the program, the test puts fresh keys 100, 101, ... to read the "
                        f"cache's recency order,\nwhich should be {order(expected_order)} (least "
                        f"recent first, per the model; capacity {self.capacity})\n"
                        f"remember: {RECENCY_HINT}"
                    ),
                )
            self.model.popitem(last=False)
            self.model[key] = "probe"


class LRUMachineWithDeleteAndResize(LRUMachine):
    """The level 1 machine plus delete and resize."""

    @rule(key=KEYS)
    def delete(self, key: int) -> None:
        self.in_step = True
        before = list(self.model)
        self.history.append(call_repr("cache.delete", key))
        result = returns(self.cache.delete, key, call=self.program, rule=DELETE_RULE)
        expected = key in self.model
        if not same(result, expected):
            fail(
                "rule: delete returns True if the key was stored (and removes it), False if not",
                call=self.program,
                expected=expected,
                actual=result,
                detail=f"the model holds {keyset(before)}",
            )
        self.model.pop(key, None)
        rule_ = (
            "rule: delete removes exactly that key"
            if expected
            else "rule: delete of a missing key returns False and changes nothing"
        )
        self.check_contents(rule_, before)
        self.in_step = False

    @rule(capacity=st.integers(0, 3))  # 0 must raise; 1..3 shrink as often as they grow
    def resize(self, capacity: int) -> None:
        self.in_step = True
        before = list(self.model)
        self.history.append(call_repr("cache.resize", capacity))
        if capacity < 1:
            expect_raises(
                ValueError,
                self.cache.resize,
                capacity,
                call=self.program,
                rule="rule: resize to a capacity below 1 raises ValueError",
            )
            self.history[-1] += "  # raised ValueError"
            self.check_contents("rule: a resize that raises leaves the cache unchanged", before)
        else:
            returns(self.cache.resize, capacity, call=self.program, rule=RESIZE_RULE)
            self.capacity = capacity
            while len(self.model) > capacity:
                self.model.popitem(last=False)
            self.check_contents(
                "rule: resize(n) evicts least recently used entries until at most n remain; "
                "growing keeps every entry",
                before,
            )
        self.in_step = False


@pytest.mark.level(1)
def test_random_programs_of_put_get_and_in_agree_with_an_lru_model(impl):
    run_state_machine_as_test(
        lambda: LRUMachine(impl),
        settings=settings(max_examples=MACHINE_EXAMPLES, stateful_step_count=MACHINE_STEPS),
    )


# ---------------------------------------------------------------------------------------------
# Level 2: O(1) at scale

SCALE_CAPACITY = 100_000
SCALE_KEYS = 150_000
SCALE_SEED = 146


@pytest.mark.level(2)
@pytest.mark.timeout(10)
def test_200000_operations_at_capacity_100000_take_constant_time_each(impl):
    # 100,000 puts fill the cache, then 100,000 mixed operations: about 27,000 updates, 13,000
    # puts that evict, 27,000 get hits, 13,000 get misses and 20,000 `in` checks, every answer
    # compared with the model. An O(n) cache spends ~50,000 steps per hit, update or eviction here.
    workload = (
        f"LRUCache({SCALE_CAPACITY:,}); put(k, k) for k in range({SCALE_CAPACITY:,}); then "
        f"100,000 seeded put/get/`in` on keys 0..{SCALE_KEYS - 1:,} (random.Random({SCALE_SEED}))"
    )
    rule_ = "every operation agrees with an LRU model at scale"
    cache = impl.LRUCache(SCALE_CAPACITY)
    put, get = cache.put, cache.get  # looked up once: each lookup is a call into the attempt
    model: OrderedDict[int, int] = OrderedDict()
    for key in range(SCALE_CAPACITY):
        put(key, key)
        model[key] = key
    rng = random.Random(SCALE_SEED)
    for i in range(SCALE_CAPACITY, 2 * SCALE_CAPACITY):
        draw = rng.random()
        key = rng.randrange(SCALE_KEYS)
        if draw < 0.4:
            put(key, i)
            if key in model:
                model.move_to_end(key)
            elif len(model) >= SCALE_CAPACITY:
                model.popitem(last=False)
            model[key] = i
        elif draw < 0.8:
            result = get(key)
            expected = model.get(key)
            if key in model:
                model.move_to_end(key)
            if result != expected:
                fail(
                    f"rule: {rule_}",
                    call=f"operation #{i:,}: cache.get({key})",
                    expected=expected,
                    actual=result,
                    detail=f"workload: {workload}",
                )
        else:
            result = key in cache
            if result != (key in model):
                fail(
                    f"rule: {rule_}",
                    call=f"operation #{i:,}: {key} in cache",
                    expected=key in model,
                    actual=result,
                    detail=f"workload: {workload}",
                )
    size = len(cache)
    if size != len(model):
        fail(
            f"rule: {rule_}",
            call="len(cache) after the workload",
            expected=len(model),
            actual=size,
            detail=f"workload: {workload}",
        )
    wrong = [k for k in range(SCALE_KEYS) if (k in cache) != (k in model)]
    if wrong:
        fail(
            f"rule: {rule_}",
            call="`k in cache` for every k after the workload",
            expected="the model's keys",
            actual=f"{len(wrong):,} keys differ, first {wrong[:5]}",
            show_values=False,
            detail=f"workload: {workload}",
        )


OPS = st.sampled_from(["put", "get", "in"])


@pytest.mark.level(2)
@settings(max_examples=60)
@given(capacity=st.integers(1, 60), data=st.data())
def test_long_programs_at_larger_capacities_agree_with_the_model(impl, capacity, data):
    ops = data.draw(
        st.lists(st.tuples(OPS, st.integers(0, 2 * capacity)), min_size=1, max_size=400),
        label="ops (operation, key); put stores the operation's index",
    )
    cache = impl.LRUCache(capacity)
    model: OrderedDict[int, int] = OrderedDict()
    for i, (op, key) in enumerate(ops):
        if op == "put":
            cache.put(key, i)
            if key in model:
                model.move_to_end(key)
            elif len(model) >= capacity:
                model.popitem(last=False)
            model[key] = i
            continue
        before = list(model)
        if op == "get":
            result: Any = cache.get(key)
            expected: Any = model.get(key)
            if key in model:
                model.move_to_end(key)
        else:
            result, expected = key in cache, key in model
        if not same(result, expected):
            step = call_repr("cache.get", key) if op == "get" else f"{key} in cache"
            fail(
                f"rule: every operation agrees with an LRU model (capacity {capacity})",
                call=f"ops[{i}]: {step}",
                expected=expected,
                actual=result,
                detail=f"recency order before: {order(before)}",
            )
    size = len(cache)
    if size != len(model):
        fail(
            "rule: len(cache) is the number of entries stored",
            call=f"len(cache) after {len(ops)} ops",
            expected=len(model),
            actual=size,
        )


# ---------------------------------------------------------------------------------------------
# Level 3: delete and resize


@pytest.mark.level(3)
def test_worked_example_of_delete_and_resize(impl):
    s = Script(impl, 3)
    s.fill(("a", 1), ("b", 2), ("c", 3))  # order: a, b, c
    s.expect_value(s.get("a"), 1, "rule: a get hit returns the stored value")  # order: b, c, a
    s.expect_value(
        s.delete("c"), True, "rule: delete returns True if the key was stored"
    )  # order: b, a
    s.expect_value(s.delete("c"), False, "rule: delete of a missing key returns False")
    s.resize(1)  # evicts b; order: a
    s.expect_holds(
        ["a"],
        ["b", "c"],
        "rule: resize(n) evicts the least recently used entries until at most n remain",
        detail="the order before resize(1) was b, a",
    )
    expect_raises(
        ValueError,
        s.cache.resize,
        0,
        call=s.call + "; cache.resize(0)",
        rule="rule: resize to a capacity below 1 raises ValueError",
    )
    s.steps.append("cache.resize(0)  # raised ValueError")
    s.expect_holds(["a"], ["b", "c"], "rule: a resize that raises leaves the cache unchanged")
    s.resize(3)  # grows; order: a
    s.put("d", 4)
    s.put("e", 5)  # no eviction; order: a, d, e
    s.expect_holds(
        ["a", "d", "e"], ["b", "c"], "rule: later puts use the new capacity (resize(3) grew it)"
    )


@pytest.mark.level(3)
def test_delete_returns_true_and_removes_the_key(impl):
    s = Script(impl, 3)
    s.fill((1, "one"), (2, None), (3, "three"))  # order: 1, 2, 3
    s.expect_value(
        s.delete(2), True, "rule: delete returns True if the key was stored (even with None)"
    )
    s.expect_holds([1, 3], [2], "rule: delete removes the key and nothing else")
    s.expect_value(s.get(2, "gone"), "gone", "rule: a deleted key is a miss")


@pytest.mark.level(3)
def test_delete_of_a_missing_key_returns_false_and_changes_nothing(impl):
    s = Script(impl, 2)
    s.fill((1, "one"), (2, "two"))  # order: 1, 2
    s.expect_value(s.delete(9), False, "rule: delete of a missing key returns False")
    s.expect_holds([1, 2], [9], "rule: delete of a missing key changes nothing")
    s.put(3, "three")  # order unchanged: evicts 1
    s.expect_holds(
        [2, 3], [1, 9], "rule: delete of a missing key changes nothing (the order stays 1, 2)"
    )


@pytest.mark.level(3)
def test_delete_frees_a_slot_and_keeps_the_order_of_the_others(impl):
    s = Script(impl, 3)
    s.fill((1, 1), (2, 2), (3, 3))  # order: 1, 2, 3
    s.delete(2)  # order: 1, 3
    s.put(4, 4)  # room: no eviction; order: 1, 3, 4
    s.expect_holds(
        [1, 3, 4], [2], "rule: delete frees a slot: the next put of a new key evicts nothing"
    )
    s.put(5, 5)  # full: evicts 1; order: 3, 4, 5
    s.expect_holds(
        [3, 4, 5],
        [1, 2],
        "rule: delete does not change the recency order of the other keys",
        detail="the order before put(5, 5) was 1, 3, 4, so 1 goes",
    )


@pytest.mark.level(3)
def test_resize_down_evicts_the_least_recent_entries(impl):
    s = Script(impl, 4)
    s.fill((1, 10), (2, 20), (3, 30), (4, 40))  # order: 1, 2, 3, 4
    s.get(1)  # order: 2, 3, 4, 1
    s.resize(2)  # evicts 2 and 3; order: 4, 1
    s.expect_holds(
        [4, 1],
        [2, 3],
        "rule: resize(n) evicts the least recently used entries until at most n remain",
        detail="the order before resize(2) was 2, 3, 4, 1, so 2 and 3 go",
    )
    s.put(5, 50)  # capacity is now 2: evicts 4; order: 1, 5
    s.expect_holds(
        [1, 5],
        [2, 3, 4],
        "rule: later puts use the new capacity; resize keeps the survivors' recency order",
        detail="the order before put(5, 50) was 4, 1 at capacity 2, so 4 goes",
    )


@pytest.mark.level(3)
def test_resize_up_keeps_everything_and_raises_the_limit(impl):
    s = Script(impl, 2)
    s.fill((1, 1), (2, 2))  # order: 1, 2
    s.resize(4)
    s.expect_holds([1, 2], [], "rule: growing keeps every entry")
    s.put(3, 3)
    s.put(4, 4)  # room for both: order 1, 2, 3, 4
    s.expect_holds([1, 2, 3, 4], [], "rule: later puts use the new capacity (resize(4) grew it)")
    s.put(5, 5)  # full at 4: evicts 1
    s.expect_holds(
        [2, 3, 4, 5], [1], "rule: later puts use the new capacity: a full cache evicts its LRU"
    )


@pytest.mark.level(3)
def test_resize_to_the_same_or_a_larger_size_evicts_nothing(impl):
    s = Script(impl, 3)
    s.fill((1, 1), (2, 2), (3, 3))  # order: 1, 2, 3
    s.resize(3)
    s.expect_holds([1, 2, 3], [], "rule: resize(n) evicts only while more than n entries remain")
    s.put(4, 4)  # evicts 1
    s.expect_holds(
        [2, 3, 4], [1], "rule: resize keeps the recency order (1 is still the least recent)"
    )


@pytest.mark.level(3)
@pytest.mark.parametrize("capacity", [0, -1])
def test_resize_below_one_raises_and_leaves_the_cache_unchanged(impl, capacity):
    s = Script(impl, 3)
    s.fill((1, 1), (2, 2), (3, 3))  # order: 1, 2, 3
    expect_raises(
        ValueError,
        s.cache.resize,
        capacity,
        call=s.call + f"; cache.resize({capacity})",
        rule="rule: resize to a capacity below 1 raises ValueError",
    )
    s.steps.append(f"cache.resize({capacity})  # raised ValueError")
    s.expect_holds(
        [1, 2, 3], [], "rule: a resize that raises leaves the cache unchanged (same entries)"
    )
    s.put(4, 4)  # still capacity 3: evicts 1
    s.expect_holds(
        [2, 3, 4],
        [1],
        "rule: a resize that raises leaves the cache unchanged (same order and capacity)",
        detail="the order is still 1, 2, 3 at capacity 3, so put(4, 4) evicts 1",
    )


@pytest.mark.level(3)
def test_random_programs_with_delete_and_resize_agree_with_an_lru_model(impl):
    run_state_machine_as_test(
        lambda: LRUMachineWithDeleteAndResize(impl),
        settings=settings(max_examples=MACHINE_EXAMPLES, stateful_step_count=MACHINE_STEPS),
    )
