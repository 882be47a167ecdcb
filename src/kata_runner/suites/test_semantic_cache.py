"""Hidden suite for semantic_cache.

Oracle: `Model`, written here and sharing nothing with any solution: a plain list of entries,
scanned on every call. Similarity is exact: `exact_cosine_key` (sign · cos², a rational) ranks the
entries and meets the threshold, read as the exact decimal it is written as ("0.8" is 4/5). A
Hypothesis `RuleBasedStateMachine` per level drives the cache and the model side by side and
compares every answer, `invalidate`'s count and `len` after every step.

Embeddings come from `PALETTE`, small integer vectors with integer norms (and [1, 1, 0]). Over
every pair and every threshold the suite uses, float64 similarities computed any usual way
(norms then a dot, unit vectors then a dot, a matrix of unit rows, pure Python, `math.fsum`) meet
the threshold exactly when the exact value does, and tie exactly when it ties; everything else is
at least 1e-3 apart. So a correct cache that compares floats plainly agrees with the exact model.

Every answer a test stores is unique (or ""), so when a cache returns a wrong answer the model
knows which put stored it and what became of that entry (evicted, expired, replaced,
invalidated, in another namespace, or live but less similar), and the failure names that rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kata_runner.testing import Trace, call_repr, exact_cosine_key, expect_raises, fail

# ---------------------------------------------------------------------------------------------
# The rules of the statement, as the failure messages name them

THRESHOLD_RANGE = "rule: threshold must satisfy 0 < threshold <= 1; otherwise ValueError"
ZERO = "rule: a zero embedding has similarity 0 with everything, itself included: it never hits"
ZERO_POISON = "rule: a stored zero embedding never stops another entry from hitting"
MOST_SIMILAR = (
    "rule: get returns the answer of the most similar stored entry when that similarity is "
    ">= threshold"
)
BELOW = "rule: get returns None when the greatest similarity is below the threshold"
AT_THRESHOLD = "rule: a similarity exactly equal to the threshold is a hit"
TIES = "rule: ties go to the most recently used entry (put, or returned by a hit)"
TEXT_NOT_SPECIAL = "rule: only similarity decides: an exact text match is not special"
REPLACE = "rule: put of a stored query replaces its answer (one entry per distinct query string)"
REPLACE_EMBEDDING = "rule: put of a stored query replaces its answer and its embedding"
NEVER_STORES = "rule: get never stores anything"
EMPTY_ANSWER = 'rule: answers are strings, and "" is an answer: a hit on it returns ""'
EMBED_ONCE = (
    "rule: the embedder is called at most once per get or put, with that call's query; "
    "a stored query is never embedded again"
)
NO_MUTATION = "rule: the cache never modifies an array the embedder returned"
LEN = "rule: len(cache) is the number of stored entries"
SEPARATE = "rule: each SemanticCache() is a separate cache"
CAPACITY_RANGE = "rule: capacity is None (no limit) or at least 1; below 1 raises ValueError"
EVICT_LRU = (
    "rule: put of a new query on a full cache first evicts exactly one entry: "
    "the least recently used"
)
NO_EARLY_EVICTION = "rule: the cache never evicts while len(cache) < capacity"
REPLACE_NO_EVICT = "rule: put of a stored query replaces its answer and never evicts"
HIT_REFRESHES = "rule: a hit makes the entry that answered the most recently used"
MISS_NOTHING = "rule: a miss changes nothing: no entry is refreshed, none is evicted"
TTL_RANGE = "rule: ttl is None or a positive number; ttl <= 0 raises ValueError"
EXPIRY = (
    "rule: an entry put when clock() reads t is live while clock() < t + ttl, "
    "and expired from t + ttl on"
)
EXPIRED_NEVER_HIT = (
    "rule: expired entries never hit: get looks only at live entries, "
    "and the most similar live entry decides"
)
EXPIRED_CAPACITY = "rule: expired entries do not count against capacity, nor in len"
HIT_NO_EXTEND = "rule: a hit does not extend the time to live"
EXPIRED_GONE = (
    "rule: an expired entry is gone: a put of its query is the put of a new query, "
    "with a fresh time to live"
)
FRESH_TTL = "rule: a put of a live stored query starts a fresh time to live"
NAMESPACE_SCOPE = "rule: a get sees only the entries of its namespace"
NAMESPACE_KEY = (
    "rule: an entry is identified by (namespace, query): the same query in two namespaces "
    "is two entries"
)
NAMESPACE_SHARED = (
    "rule: capacity, recency and time to live are shared across namespaces "
    "(one least-recently-used order, len counts every namespace)"
)
INVALIDATE = (
    "rule: invalidate removes every live entry that matches all the filters given "
    "(namespace equal, predicate(query, answer) true)"
)
INVALIDATE_ALL = "rule: a filter left None matches every entry, so invalidate() empties the cache"
INVALIDATE_COUNT = (
    "rule: invalidate returns the number of live entries it removed (expired ones not counted)"
)
INVALIDATE_RECENCY = "rule: invalidate does not change the recency of the entries it keeps"

# ---------------------------------------------------------------------------------------------
# Embeddings, the injected embedder and the injected clock

# Query -> embedding. Cosines with "x": X, 2x: 1; s, r: 0.8; d: 0.7071; p, 2p: 0.6; y, z, q, t,
# 0: 0; -x: -1. "x", "X" and "2x" point the same way, as do "p" and "2p": they tie.
PALETTE: dict[str, tuple[int, ...]] = {
    "x": (1, 0, 0),
    "X": (1, 0, 0),
    "2x": (2, 0, 0),
    "-x": (-1, 0, 0),
    "y": (0, 1, 0),
    "z": (0, 0, 1),
    "p": (3, 4, 0),
    "2p": (6, 8, 0),
    "s": (4, 3, 0),
    "q": (0, 3, 4),
    "r": (4, 0, 3),
    "t": (0, 4, 3),
    "d": (1, 1, 0),
    "0": (0, 0, 0),
}
# 0.8 and 0.6 first: they are where similarities meet the threshold exactly.
THRESHOLDS = ["0.8", "0.6", "0.95", "0.7", "0.5", "0.75", "0.9"]


@cache
def similarity_key(a: tuple[float, ...], b: tuple[float, ...]) -> Fraction:
    """sign(cos) · cos² as an exact rational: ordered like the cosine; 0 for a zero vector."""
    return exact_cosine_key(a, b)


def reaches(key: Fraction, threshold: Fraction) -> bool:
    """cos >= threshold, exactly, for a threshold in (0, 1]."""
    return key >= threshold * threshold


class Embedder:
    """A lookup table that records its calls; each call returns a new float64 array."""

    def __init__(self, table: dict[str, tuple[float, ...]] | None = None) -> None:
        self.table = dict(PALETTE if table is None else table)
        self.calls: list[str] = []

    def __call__(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return np.array(self.table[text], dtype=np.float64)

    def __repr__(self) -> str:
        return "embed"

    def describe(self, queries: Sequence[str]) -> str:
        used = list(dict.fromkeys(q for q in queries if q in self.table))
        return "embeddings: " + ", ".join(f"{q!r} -> {list(self.table[q])}" for q in used)


class Clock:
    """The injected clock: returns `now`, which only the suite moves (between calls)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def __repr__(self) -> str:
        return "clock"


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type, so None and "" are told apart."""
    return actual is expected or (type(actual) is type(expected) and actual == expected)


# ---------------------------------------------------------------------------------------------
# Example tests: a traced cache with its embedder and clock


class Session:
    """A cache under test, the calls made on it, its embedder and (with a ttl) its fake clock."""

    def __init__(
        self,
        impl: ModuleType,
        threshold: float,
        table: dict[str, tuple[float, ...]] | None = None,
        **options: Any,
    ) -> None:
        self.embed = Embedder(table)
        self.clock = Clock()
        shown = [f"threshold={threshold!r}", *(f"{k}={v!r}" for k, v in options.items())]
        if "ttl" in options:
            options["clock"] = self.clock
            shown.append("clock=clock")
        target = impl.SemanticCache(self.embed, threshold=threshold, **options)
        self.cache = Trace(target, "cache", f"cache = SemanticCache(embed, {', '.join(shown)})")

    def at(self, now: float) -> None:
        self.clock.now = now
        self.cache.note(f"clock.now = {now!r}")

    def length(self) -> int:
        self.cache.note("len(cache)")
        return len(self.cache.target)

    def queries(self) -> list[str]:
        return [a for s in self.cache.steps if not isinstance(s, str) for a in s[1][:1]]

    def expect(self, actual: Any, expected: Any, rule: str, detail: str = "") -> None:
        """The result of the last call in the program must be `expected` (type included)."""
        __tracebackhide__ = True
        if not same(actual, expected):
            fail(
                rule,
                call=self.cache.program,
                expected=expected,
                actual=actual,
                detail="\n".join(filter(None, [detail, self.embed.describe(self.queries())])),
            )


# ---------------------------------------------------------------------------------------------
# The oracle


@dataclass
class Entry:
    namespace: str
    query: str
    vector: tuple[int, ...]
    answer: str
    expires: float
    used: int
    fate: str = "live"  # or how it left: "evicted by ...", "replaced by ...", ...


@dataclass
class Model:
    """Entries in a plain list, scanned on every call; recency is a counter stamped on use."""

    threshold: Fraction
    capacity: int | None
    ttl: float | None
    entries: list[Entry] = field(default_factory=list)
    gone: dict[str, Entry] = field(default_factory=dict)  # answer -> an entry no longer live
    tick: int = 0

    def stamp(self, entry: Entry) -> None:
        self.tick += 1
        entry.used = self.tick

    def leave(self, entry: Entry, fate: str) -> None:
        entry.fate = fate
        self.entries.remove(entry)
        self.gone[entry.answer] = entry

    def expire(self, now: float) -> None:
        for entry in [e for e in self.entries if e.expires <= now]:
            self.leave(entry, f"expired at clock {entry.expires:g}")

    def live(self, now: float) -> list[Entry]:
        return [e for e in self.entries if now < e.expires]

    def by_answer(self, answer: str) -> Entry | None:
        return next((e for e in self.entries if e.answer == answer), self.gone.get(answer))

    def best(self, vector: tuple[int, ...], namespace: str, now: float) -> Entry | None:
        candidates = [e for e in self.live(now) if e.namespace == namespace]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (similarity_key(vector, e.vector), e.used))

    def get(self, vector: tuple[int, ...], namespace: str, now: float) -> str | None:
        self.expire(now)
        best = self.best(vector, namespace, now)
        if best is None or not reaches(similarity_key(vector, best.vector), self.threshold):
            return None
        self.stamp(best)
        return best.answer

    def put(
        self,
        query: str,
        vector: tuple[int, ...],
        answer: str,
        namespace: str,
        now: float,
        step: str,
    ) -> None:
        self.expire(now)
        expires = float("inf") if self.ttl is None else now + self.ttl
        old = next((e for e in self.entries if (e.namespace, e.query) == (namespace, query)), None)
        if old is not None:
            self.leave(old, f"replaced by {step}")
        elif self.capacity is not None and len(self.entries) >= self.capacity:
            self.leave(min(self.entries, key=lambda e: e.used), f"evicted by {step}")
        entry = Entry(namespace, query, vector, answer, expires, 0)
        self.entries.append(entry)
        self.stamp(entry)

    def invalidate(
        self,
        namespace: str | None,
        predicate: Callable[[str, str], bool] | None,
        now: float,
        step: str,
    ) -> int:
        self.expire(now)
        doomed = [
            e
            for e in self.entries
            if (namespace is None or e.namespace == namespace)
            and (predicate is None or predicate(e.query, e.answer))
        ]
        for entry in doomed:
            self.leave(entry, f"invalidated by {step}")
        return len(doomed)

    def describe(self, e: Entry) -> str:
        where = f" in {e.namespace!r}" if e.namespace != "default" else ""
        until = f" (live until {e.expires:g})" if self.ttl is not None else ""
        return f"{e.query!r}{where} -> {e.answer!r}{until}"

    def order(self, now: float) -> str:
        """Live entries, least recently used first, for failure messages."""
        shown = [self.describe(e) for e in sorted(self.live(now), key=lambda e: e.used)]
        return "model's live entries, least recently used first: " + (", ".join(shown) or "none")


# ---------------------------------------------------------------------------------------------
# The state machine. A small palette and capacities up to 4, so that programs collide.

ANSWER_KINDS = st.sampled_from(["unique", "unique", "unique", "empty"])
# The machine's queries, few so that programs collide: "x", "X" and "2x" tie (1.0 to each other),
# "s" is exactly 0.8 to them and 0.6 to "y", "d" ties between the "x" family and "y" (0.7071),
# "0" is the zero vector.
QUERIES = st.sampled_from(["x", "X", "2x", "s", "y", "d", "0"])
STEPS = [0.5, 1.0, 2.5]
TTLS = [1.0, 2.5, 3.0]
NAMESPACES = ["default", "other"]


@dataclass(frozen=True)
class Predicate:
    """A named predicate(query, answer), so the program in a message reads well."""

    text: str
    fn: Callable[[str, str], bool]

    def __call__(self, query: str, answer: str) -> bool:
        return self.fn(query, answer)

    def __repr__(self) -> str:
        return self.text


PREDICATES = [
    Predicate("lambda query, answer: query in ('x', '2x')", lambda q, a: q in ("x", "2x")),
    Predicate("lambda query, answer: answer == ''", lambda q, a: a == ""),
    Predicate("lambda query, answer: len(query) == 1", lambda q, a: len(q) == 1),
    Predicate("lambda query, answer: answer.startswith('p')", lambda q, a: a.startswith("p")),
]


class CacheMachine(RuleBasedStateMachine):
    """Random programs of the operations of levels 1..level, against the model, checked every step."""

    def __init__(self, impl: ModuleType, level: int) -> None:
        super().__init__()
        self.impl, self.level = impl, level
        self.embed = Embedder()
        self.clock = Clock()
        self.model = Model(Fraction(1), None, None)
        self.cache: Any = None
        self.steps: list[str] = []
        self.puts = 0

    # ---- plumbing

    @property
    def program(self) -> str:
        shown = self.steps
        if len(shown) > 40:
            shown = [*shown[:5], f"... {len(shown) - 30} more steps ...", *shown[-25:]]
        return "; ".join(shown)

    def ns_args(self, namespace: str) -> dict[str, str]:
        return {"namespace": namespace} if namespace != "default" else {}

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """cache.name(*args, **kwargs), recorded; checks how the embedder was called."""
        self.steps.append(call_repr(f"cache.{name}", *args, **kwargs))
        before = len(self.embed.calls)
        result = getattr(self.cache, name)(*args, **kwargs)
        calls = self.embed.calls[before:]
        if name in ("get", "put") and calls not in ([], [args[0]]):
            fail(
                EMBED_ONCE,
                call=self.program,
                expected=f"at most one call, embed({args[0]!r})",
                actual=f"calls: {', '.join(call_repr('embed', c) for c in calls)}",
                show_values=False,
            )
        return result

    def mismatch(self, headline: str, actual: Any, expected: Any, why: str = "") -> None:
        fail(
            headline,
            call=self.program,
            expected=f"{expected!r} (the model's answer)",
            actual=f"{actual!r} (your cache's answer)",
            detail="\n".join(
                filter(None, [why, self.model.order(self.clock.now), self.embedded()])
            ),
            show_values=False,
        )

    def embedded(self) -> str:
        queries = [q for q in PALETTE if any(f"({q!r}" in s for s in self.steps)]
        return self.embed.describe(queries)

    def diagnose_get(self, query: str, namespace: str, actual: Any, expected: str | None) -> str:
        """The rule that best explains why the cache's answer differs from the model's."""
        vector, now = PALETTE[query], self.clock.now
        if expected == "" and actual is None:
            return EMPTY_ANSWER
        if expected is not None and actual is None:
            best = self.model.by_answer(expected)
            assert best is not None
            if similarity_key(vector, best.vector) == self.model.threshold**2:
                return AT_THRESHOLD
            if any(e.vector == PALETTE["0"] for e in self.model.live(now)):
                return f"{ZERO_POISON} (or: {MOST_SIMILAR})"
            fates = {e.fate.split(" ")[0] for e in self.model.gone.values()}
            lost = f"\n  (your cache no longer holds {best.query!r}, which the model keeps live"
            if "evicted" in fates:
                return (
                    f"{EVICT_LRU}{lost}: a wrong entry was evicted? Only a put or a hit uses one)"
                )
            if "expired" in fates:
                return f"{EXPIRY}{lost}: did it expire too soon?)"
            if "invalidated" in fates:
                return f"{INVALIDATE}{lost}: was it invalidated?)"
            return MOST_SIMILAR
        source = self.model.by_answer(actual) if isinstance(actual, str) else None
        if source is None:
            return MOST_SIMILAR
        if source.fate.startswith("expired"):
            return EXPIRED_NEVER_HIT
        if source.fate.startswith("evicted"):
            return f"{EVICT_LRU} (your cache kept an entry the model evicted)"
        if source.fate.startswith("replaced"):
            return REPLACE
        if source.fate.startswith("invalidated"):
            return INVALIDATE
        if source.namespace != namespace:
            return NAMESPACE_SCOPE
        key = similarity_key(vector, source.vector)
        if source.vector == PALETTE["0"] or vector == PALETTE["0"]:
            return ZERO
        if expected is None:
            return BELOW if not reaches(key, self.model.threshold) else MOST_SIMILAR
        best = self.model.by_answer(expected)
        assert best is not None
        if key == similarity_key(vector, best.vector):
            return TIES
        return MOST_SIMILAR

    # ---- setup

    @initialize(
        threshold=st.sampled_from(THRESHOLDS),
        capacity=st.sampled_from([None, 1, 2, 3, 4]),
        ttl=st.sampled_from(TTLS),
    )
    def make_cache(self, threshold: str, capacity: int | None, ttl: float) -> None:
        options: dict[str, Any] = {}
        if self.level >= 2:
            options["capacity"] = capacity if self.level >= 3 else capacity or 2
        if self.level >= 3:
            options["ttl"] = ttl
        self.model = Model(Fraction(threshold), options.get("capacity"), options.get("ttl"))
        shown = [f"threshold={float(threshold)!r}", *(f"{k}={v!r}" for k, v in options.items())]
        if self.level >= 3:
            options["clock"] = self.clock
            shown.append("clock=clock")
        self.steps.append(f"cache = SemanticCache(embed, {', '.join(shown)})")
        self.cache = self.impl.SemanticCache(self.embed, threshold=float(threshold), **options)

    # ---- operations

    def do_put(self, query: str, kind: str, namespace: str) -> None:
        self.puts += 1
        answer = "" if kind == "empty" else f"{query}#{self.puts}"
        self.call("put", query, answer, **self.ns_args(namespace))
        self.model.put(query, PALETTE[query], answer, namespace, self.clock.now, self.steps[-1])

    def do_get(self, query: str, namespace: str) -> None:
        actual = self.call("get", query, **self.ns_args(namespace))
        expected = self.model.get(PALETTE[query], namespace, self.clock.now)
        if not same(actual, expected):
            self.mismatch(self.diagnose_get(query, namespace, actual, expected), actual, expected)

    @rule(query=QUERIES, kind=ANSWER_KINDS)
    def put(self, query: str, kind: str) -> None:
        self.do_put(query, kind, "default")

    @rule(query=QUERIES)
    def get(self, query: str) -> None:
        self.do_get(query, "default")

    # ---- after every step

    @invariant()
    def len_matches_the_model(self) -> None:
        if self.cache is None:
            return
        actual = len(self.cache)
        expected = len(self.model.live(self.clock.now))
        if actual == expected:
            return
        last = self.steps[-1]
        expired = any(e.fate.startswith("expired") for e in self.model.gone.values())
        if last.startswith("clock") and actual > expected:
            headline = (
                f"{EXPIRED_CAPACITY}\n  (after the clock moved, your cache still counts an entry "
                f"that has expired: {EXPIRY[6:]}; {HIT_NO_EXTEND[6:]})"
            )
        elif last.startswith("clock"):
            headline = (
                f"{EXPIRY}\n  (your cache lost an entry that is still live: {FRESH_TTL[6:]}?)"
            )
        elif expired and actual > expected:
            headline = EXPIRED_CAPACITY
        elif self.model.capacity is not None and actual > self.model.capacity:
            headline = EVICT_LRU
        elif last.startswith("cache.put") and actual < expected:
            headline = NO_EARLY_EVICTION
        elif last.startswith("cache.put"):
            headline = REPLACE
        elif last.startswith("cache.get"):
            headline = NEVER_STORES
        else:
            headline = LEN
        self.steps.append("len(cache)")
        self.mismatch(headline, actual, expected)


class ClockMachine(CacheMachine):
    """Level 3: the clock moves between calls."""

    @precondition(lambda self: bool(self.model.entries))  # time only matters with something stored
    @rule(step=st.sampled_from(STEPS))
    def wait(self, step: float) -> None:
        self.clock.now += step
        self.steps.append(f"clock.now = {self.clock.now:g}")


class NamespaceMachine(ClockMachine):
    """Level 4: a second namespace and invalidate."""

    @rule(query=QUERIES, kind=ANSWER_KINDS)
    def put_in_other(self, query: str, kind: str) -> None:
        self.do_put(query, kind, "other")

    @rule(query=QUERIES)
    def get_in_other(self, query: str) -> None:
        self.do_get(query, "other")

    @precondition(lambda self: bool(self.model.entries))
    @rule(
        ns=st.sampled_from([None, *NAMESPACES]),
        predicate=st.sampled_from([None, *PREDICATES]),
    )
    def invalidate(self, ns: str | None, predicate: Predicate | None) -> None:
        kwargs = {k: v for k, v in (("namespace", ns), ("predicate", predicate)) if v is not None}
        actual = self.call("invalidate", **kwargs)
        expected = self.model.invalidate(ns, predicate, self.clock.now, self.steps[-1])
        if not same(actual, expected):
            self.mismatch(INVALIDATE_COUNT, actual, expected)


MACHINES = {1: CacheMachine, 2: CacheMachine, 3: ClockMachine, 4: NamespaceMachine}


def run_machine(impl: ModuleType, level: int, max_examples: int, steps: int = 10) -> None:
    machine = MACHINES[level]
    run_state_machine_as_test(
        lambda: machine(impl, level),
        settings=settings(max_examples=max_examples, stateful_step_count=steps),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: get and put by similarity

FRANCE: dict[str, tuple[float, ...]] = {
    "capital of France?": (1.0, 0.0, 0.0),
    "France's capital city?": (4.0, 3.0, 0.0),
    "what is the capital of France": (3.0, 4.0, 0.0),
    "CAPITAL OF FRANCE?": (2.0, 0.0, 0.0),
    "how tall is Everest?": (0.0, 0.0, 1.0),
}


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    s = Session(impl, 0.8, FRANCE)
    c = s.cache
    s.expect(c.get("capital of France?"), None, MOST_SIMILAR + " (an empty cache returns None)")
    c.put("capital of France?", "Paris")
    s.expect(c.get("France's capital city?"), "Paris", AT_THRESHOLD + " (0.8 >= 0.8)")
    s.expect(c.get("what is the capital of France"), None, BELOW + " (0.6 < 0.8)")
    c.put("CAPITAL OF FRANCE?", "Paris, France")
    s.expect(c.get("capital of France?"), "Paris, France", TIES + " (a tie at 1.0)")
    c.put("capital of France?", "Paris (FR)")
    s.expect(c.get("France's capital city?"), "Paris (FR)", TIES + " (a tie at 0.8)")
    s.expect(s.length(), 2, LEN)


@pytest.mark.level(1)
def test_get_of_an_empty_cache_returns_none(impl):
    s = Session(impl, 0.5)
    s.expect(s.cache.get("x"), None, MOST_SIMILAR + " (an empty cache returns None)")
    s.expect(s.length(), 0, LEN)


@pytest.mark.level(1)
@pytest.mark.parametrize("first", ["p", "s"])
def test_get_returns_the_most_similar_entry_not_the_first_above_the_threshold(impl, first):
    s = Session(impl, 0.5)
    second = "s" if first == "p" else "p"
    s.cache.put(first, f"answer of {first}")
    s.cache.put(second, f"answer of {second}")
    s.expect(
        s.cache.get("x"),
        "answer of s",
        MOST_SIMILAR,
        detail="similarity to 'x': 's' 0.8, 'p' 0.6; both reach 0.5, 's' is the most similar",
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("threshold", "query", "similarity"), [(0.8, "s", "0.8"), (0.6, "p", "0.6"), (1.0, "2x", "1.0")]
)
def test_a_similarity_equal_to_the_threshold_is_a_hit(impl, threshold, query, similarity):
    s = Session(impl, threshold)
    s.cache.put("x", "answer of x")
    s.expect(
        s.cache.get(query),
        "answer of x",
        AT_THRESHOLD,
        detail=f"similarity of {query!r} to 'x': exactly {similarity} in float64",
    )


@pytest.mark.level(1)
def test_a_similarity_below_the_threshold_is_a_miss(impl):
    s = Session(impl, 0.75)
    s.cache.put("x", "answer of x")
    s.expect(s.cache.get("p"), None, BELOW + " (0.6 < 0.75)")
    s.expect(s.cache.get("d"), None, BELOW + " (0.7071 < 0.75)")
    s.expect(s.cache.get("-x"), None, BELOW + " (-1 < 0.75)")
    s.expect(s.cache.get("y"), None, BELOW + " (0 < 0.75)")
    s.expect(s.cache.get("s"), "answer of x", MOST_SIMILAR + " (0.8 >= 0.75)")


@pytest.mark.level(1)
def test_ties_go_to_the_most_recently_used_entry(impl):
    s = Session(impl, 0.7)
    c = s.cache
    c.put("x", "answer of x")
    c.put("y", "answer of y")
    why = "'d' = [1, 1, 0] is equally similar (0.7071) to 'x' and 'y'"
    s.expect(c.get("d"), "answer of y", TIES, detail=why + "; 'y' was put last")
    s.expect(c.get("s"), "answer of x", MOST_SIMILAR + " ('s' is 0.8 to 'x', 0.6 to 'y')")
    s.expect(
        c.get("d"),
        "answer of x",
        TIES,
        detail=why + "; the hit get('s') used 'x' after 'y' was put (a hit counts as a use)",
    )
    c.put("y", "answer of y, again")
    s.expect(c.get("d"), "answer of y, again", TIES, detail=why + "; 'y' was put again last")


@pytest.mark.level(1)
def test_only_similarity_decides_an_exact_text_match_is_not_special(impl):
    s = Session(impl, 0.9)
    s.cache.put("x", "answer of x")
    s.cache.put("X", "answer of X")
    s.expect(
        s.cache.get("x"),
        "answer of X",
        TEXT_NOT_SPECIAL,
        detail="'x' and 'X' have the same embedding (a tie at 1.0): 'X' was used most recently",
    )
    s.cache.put("2x", "answer of 2x")
    s.expect(s.cache.get("X"), "answer of 2x", TEXT_NOT_SPECIAL + " (a tie at 1.0)")


@pytest.mark.level(1)
def test_put_of_a_stored_query_replaces_its_answer(impl):
    s = Session(impl, 0.9)
    c = s.cache
    c.put("x", "first")
    c.put("y", "answer of y")
    c.put("x", "second")
    s.expect(s.length(), 2, REPLACE + ": len does not change")
    s.expect(c.get("x"), "second", REPLACE)
    s.expect(c.get("2x"), "second", REPLACE)
    s.expect(c.get("y"), "answer of y", REPLACE + " (and nothing else)")


@pytest.mark.level(1)
def test_put_of_a_stored_query_replaces_its_embedding(impl):
    s = Session(impl, 0.9)
    s.embed.table["doc"] = (1.0, 0.0, 0.0)
    s.cache.put("doc", "old answer")
    s.embed.table["doc"] = (0.0, 0.0, 1.0)
    s.cache.note("(the embedder now maps 'doc' to [0, 0, 1])")
    s.cache.put("doc", "new answer")
    s.expect(s.cache.get("z"), "new answer", REPLACE_EMBEDDING)
    s.expect(s.cache.get("x"), None, REPLACE_EMBEDDING + " (the old embedding is gone)")
    s.expect(s.length(), 1, REPLACE)


@pytest.mark.level(1)
def test_a_zero_embedding_never_hits(impl):
    s = Session(impl, 0.5)
    s.cache.put("0", "answer of 0")
    s.expect(s.cache.get("0"), None, ZERO + " (a zero query against a stored zero embedding)")
    s.expect(s.cache.get("x"), None, ZERO)
    s.cache.put("x", "answer of x")
    s.expect(s.cache.get("0"), None, ZERO + " (a zero query)")


@pytest.mark.level(1)
@pytest.mark.parametrize("zero_first", [True, False])
def test_a_stored_zero_embedding_does_not_stop_other_entries_from_hitting(impl, zero_first):
    s = Session(impl, 0.5)
    order = ["0", "x"] if zero_first else ["x", "0"]
    for query in order:
        s.cache.put(query, f"answer of {query}")
    s.expect(s.cache.get("x"), "answer of x", ZERO_POISON)
    s.expect(s.cache.get("s"), "answer of x", ZERO_POISON + " (0.8 to 'x')")


@pytest.mark.level(1)
def test_an_empty_answer_is_a_hit(impl):
    s = Session(impl, 0.9)
    s.cache.put("x", "")
    s.cache.put("y", "answer of y")
    s.expect(s.cache.get("x"), "", EMPTY_ANSWER)
    s.expect(s.cache.get("2x"), "", EMPTY_ANSWER)
    s.cache.put("X", "answer of X")
    s.expect(s.cache.get("x"), "answer of X", TIES + " ('X' was put last)")


@pytest.mark.level(1)
def test_get_never_stores_anything(impl):
    s = Session(impl, 0.75)
    s.cache.put("x", "answer of x")
    s.expect(s.cache.get("s"), "answer of x", MOST_SIMILAR + " (0.8 >= 0.75)")
    s.expect(s.cache.get("z"), None, BELOW)
    s.expect(s.length(), 1, NEVER_STORES + " (neither the hit nor the miss adds an entry)")
    s.cache.put("y", "answer of y")
    s.expect(s.cache.get("s"), "answer of x", NEVER_STORES + " ('s' was never put)")


@pytest.mark.level(1)
@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.5, 1.0000001])
def test_a_threshold_outside_zero_to_one_raises_value_error(impl, threshold):
    expect_raises(
        ValueError,
        impl.SemanticCache,
        Embedder(),
        threshold=threshold,
        call=call_repr("SemanticCache", Embedder(), threshold=threshold),
        rule=THRESHOLD_RANGE,
    )


@pytest.mark.level(1)
def test_the_embedder_is_called_once_per_call_and_never_on_stored_queries(impl):
    s = Session(impl, 0.75)
    for query in ["x", "y", "z", "r"]:
        s.cache.put(query, f"answer of {query}")
    for query, expected in [("s", "answer of x"), ("d", None), ("y", "answer of y")]:
        before = len(s.embed.calls)
        s.expect(s.cache.get(query), expected, MOST_SIMILAR)
        calls = s.embed.calls[before:]
        if calls not in ([], [query]):
            s.expect(calls, [query], EMBED_ONCE + " (the list of embed calls made by the get)")
    before = len(s.embed.calls)
    s.cache.put("r", "answer of r")
    calls = s.embed.calls[before:]
    s.expect(calls, ["r"], EMBED_ONCE + " (put embeds its own query)")


@pytest.mark.level(1)
def test_the_cache_never_modifies_the_embedders_arrays(impl):
    arrays = {name: np.array(PALETTE[name], dtype=np.float64) for name in ["p", "s", "2x"]}
    cache = impl.SemanticCache(arrays.__getitem__, threshold=0.5)
    cache.put("p", "answer of p")
    cache.put("2x", "answer of 2x")
    cache.get("s")
    for name, array in arrays.items():
        if array.tolist() != [float(v) for v in PALETTE[name]]:
            fail(
                NO_MUTATION,
                call="arrays = {'p': array([3., 4., 0.]), 's': array([4., 3., 0.]), "
                "'2x': array([2., 0., 0.])}; cache = SemanticCache(arrays.__getitem__, "
                "threshold=0.5); cache.put('p', ...); cache.put('2x', ...); cache.get('s')",
                expected=f"arrays[{name!r}] unchanged: {list(PALETTE[name])}",
                actual=f"arrays[{name!r}] is now {array.tolist()}",
                show_values=False,
            )


@pytest.mark.level(1)
def test_each_cache_is_separate(impl):
    first = Session(impl, 0.9)
    first.cache.put("x", "answer of x")
    second = Session(impl, 0.9)
    second.cache.steps[0] = (
        "first = SemanticCache(embed, threshold=0.9); first.put('x', ...); "
        + (second.cache.steps[0])
    )
    second.expect(second.cache.get("x"), None, SEPARATE)
    second.expect(second.length(), 0, SEPARATE)


@pytest.mark.level(1)
def test_random_programs_of_put_and_get_match_the_model(impl):
    run_machine(impl, level=1, max_examples=80)


# ---------------------------------------------------------------------------------------------
# Level 2: capacity with least-recently-used eviction


@pytest.mark.level(2)
def test_worked_example_of_eviction(impl):
    s = Session(impl, 0.8, FRANCE, capacity=2)
    c = s.cache
    c.put("capital of France?", "Paris")
    c.put("how tall is Everest?", "8,849 m")
    s.expect(c.get("France's capital city?"), "Paris", AT_THRESHOLD)
    c.put("what is the capital of France", "Paris, again")
    s.expect(
        c.get("how tall is Everest?"),
        None,
        EVICT_LRU,
        detail="the hit refreshed 'capital of France?', so 'how tall is Everest?' was the least "
        "recently used",
    )
    s.expect(c.get("capital of France?"), "Paris", HIT_REFRESHES)
    s.expect(s.length(), 2, LEN)


@pytest.mark.level(2)
@pytest.mark.parametrize("capacity", [0, -1])
def test_a_capacity_below_one_raises_value_error(impl, capacity):
    expect_raises(
        ValueError,
        impl.SemanticCache,
        Embedder(),
        threshold=0.8,
        capacity=capacity,
        call=call_repr("SemanticCache", Embedder(), threshold=0.8, capacity=capacity),
        rule=CAPACITY_RANGE,
    )


@pytest.mark.level(2)
def test_capacity_none_never_evicts(impl):
    table = {f"k{i}": tuple(float(i == j) for j in range(40)) for i in range(40)}
    s = Session(impl, 0.9, table, capacity=None)
    for i in range(40):
        s.cache.put(f"k{i}", f"answer {i}")
    s.expect(s.length(), 40, CAPACITY_RANGE + " (None: no limit)")
    s.expect(s.cache.get("k0"), "answer 0", CAPACITY_RANGE + " (None: no limit)")


@pytest.mark.level(2)
@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_the_cache_fills_to_capacity_then_evicts_the_least_recently_used(impl, capacity):
    s = Session(impl, 0.9, capacity=capacity)
    queries = ["x", "y", "z", "-x"][: capacity + 1]
    for n, query in enumerate(queries[:capacity], start=1):
        s.cache.put(query, f"answer of {query}")
        s.expect(s.length(), n, NO_EARLY_EVICTION)
    s.cache.put(queries[-1], f"answer of {queries[-1]}")
    s.expect(s.length(), capacity, EVICT_LRU + " (exactly one entry)")
    s.expect(s.cache.get(queries[0]), None, EVICT_LRU + f" ({queries[0]!r} was put first)")
    for query in queries[1:]:
        s.expect(s.cache.get(query), f"answer of {query}", EVICT_LRU + " (only one entry goes)")


@pytest.mark.level(2)
def test_a_hit_refreshes_the_entry_that_answered(impl):
    s = Session(impl, 0.75, capacity=2)
    c = s.cache
    c.put("x", "answer of x")
    c.put("y", "answer of y")
    s.expect(c.get("s"), "answer of x", MOST_SIMILAR + " (0.8 to 'x')")
    c.put("z", "answer of z")
    s.expect(
        c.get("y"),
        None,
        HIT_REFRESHES,
        detail="get('s') hit 'x', making 'x' the most recently used: put('z') evicts 'y'",
    )
    s.expect(c.get("x"), "answer of x", HIT_REFRESHES)
    s.expect(s.length(), 2, NEVER_STORES + " (the asked query 's' is not stored)")


@pytest.mark.level(2)
def test_a_miss_changes_nothing(impl):
    s = Session(impl, 0.9, capacity=2)
    c = s.cache
    c.put("x", "answer of x")
    c.put("y", "answer of y")
    s.expect(c.get("s"), None, BELOW + " (0.8 to 'x', 0.6 to 'y')")
    s.expect(c.get("r"), None, BELOW + " (0.8 to 'x', 0 to 'y')")
    s.expect(c.get("d"), None, BELOW + " (0.7071 to 'x' and to 'y')")
    s.expect(s.length(), 2, MISS_NOTHING)
    c.put("z", "answer of z")
    s.expect(
        c.get("x"),
        None,
        MISS_NOTHING,
        detail="the misses refreshed nothing (not even 'x', the nearest entry): 'x' was still "
        "the least recently used, so put('z', ...) evicted it",
    )
    s.expect(c.get("y"), "answer of y", MISS_NOTHING)


@pytest.mark.level(2)
def test_put_of_a_stored_query_never_evicts_and_refreshes_it(impl):
    s = Session(impl, 0.9, capacity=2)
    c = s.cache
    c.put("x", "answer of x")
    c.put("y", "first y")
    c.put("y", "second y")
    s.expect(s.length(), 2, REPLACE_NO_EVICT)
    s.expect(c.get("x"), "answer of x", REPLACE_NO_EVICT + " (the cache was full, 'y' was stored)")
    s.expect(c.get("y"), "second y", REPLACE)
    c.put("x", "x again")
    c.put("z", "answer of z")
    s.expect(
        c.get("y"),
        None,
        "rule: put of a stored query makes it the most recently used",
        detail="put('x', 'x again') refreshed 'x', so put('z', ...) evicted 'y'",
    )
    s.expect(c.get("x"), "x again", "rule: put of a stored query makes it the most recently used")


@pytest.mark.level(2)
def test_random_programs_with_a_capacity_match_the_model(impl):
    run_machine(impl, level=2, max_examples=80)


# ---------------------------------------------------------------------------------------------
# Level 3: time to live, with an injected clock


@pytest.mark.level(3)
def test_worked_example_of_expiry(impl):
    s = Session(impl, 0.8, FRANCE, capacity=2, ttl=60.0)
    c = s.cache
    s.at(100.0)
    c.put("capital of France?", "Paris")
    s.at(130.0)
    c.put("France's capital city?", "Paris!")
    s.at(150.0)
    s.expect(c.get("capital of France?"), "Paris", MOST_SIMILAR)
    s.at(160.0)
    s.expect(
        c.get("capital of France?"),
        "Paris!",
        EXPIRED_NEVER_HIT,
        detail="'capital of France?' expired at 160.0; the live entry, at 0.8, answers",
    )
    s.expect(s.length(), 1, EXPIRED_CAPACITY)
    c.put("how tall is Everest?", "8,849 m")
    s.expect(s.length(), 2, EXPIRED_CAPACITY)
    s.expect(c.get("France's capital city?"), "Paris!", EXPIRED_CAPACITY + " (nothing evicted)")


@pytest.mark.level(3)
@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_a_ttl_that_is_not_positive_raises_value_error(impl, ttl):
    expect_raises(
        ValueError,
        impl.SemanticCache,
        Embedder(),
        threshold=0.8,
        ttl=ttl,
        clock=Clock(),
        call=call_repr("SemanticCache", Embedder(), threshold=0.8, ttl=ttl, clock=Clock()),
        rule=TTL_RANGE,
    )


@pytest.mark.level(3)
def test_an_entry_expires_exactly_at_put_time_plus_ttl(impl):
    s = Session(impl, 0.9, ttl=10.0)
    s.at(100.0)
    s.cache.put("x", "answer of x")
    s.at(109.5)
    s.expect(s.cache.get("x"), "answer of x", EXPIRY + " (109.5 < 110)")
    s.expect(s.length(), 1, EXPIRY)
    s.at(110.0)
    s.expect(s.cache.get("x"), None, EXPIRY + " (at exactly 100 + 10 it has expired)")
    s.expect(s.length(), 0, EXPIRED_CAPACITY)


@pytest.mark.level(3)
def test_an_expired_entry_never_hits_even_when_it_is_the_most_similar(impl):
    s = Session(impl, 0.8, ttl=5.0)
    s.cache.put("x", "answer of x")
    s.at(2.0)
    s.cache.put("s", "answer of s")
    s.at(5.0)
    s.expect(
        s.cache.get("x"),
        "answer of s",
        EXPIRED_NEVER_HIT,
        detail="'x' (similarity 1.0) expired at 5; 's' (0.8) is live until 7",
    )
    s.at(7.0)
    s.expect(s.cache.get("x"), None, EXPIRED_NEVER_HIT)


@pytest.mark.level(3)
def test_a_hit_does_not_extend_the_time_to_live(impl):
    s = Session(impl, 0.9, ttl=5.0)
    s.cache.put("x", "answer of x")
    s.at(4.0)
    s.expect(s.cache.get("x"), "answer of x", EXPIRY)
    s.at(5.0)
    s.expect(s.cache.get("x"), None, HIT_NO_EXTEND + " (put at 0 with ttl 5: expired at 5)")


@pytest.mark.level(3)
def test_a_put_of_a_live_stored_query_starts_a_fresh_time_to_live(impl):
    s = Session(impl, 0.9, ttl=5.0)
    s.cache.put("x", "first")
    s.at(4.0)
    s.cache.put("x", "second")
    s.at(5.0)
    s.expect(s.cache.get("x"), "second", FRESH_TTL + " (put again at 4: live until 9)")
    s.at(9.0)
    s.expect(s.cache.get("x"), None, EXPIRY)


@pytest.mark.level(3)
def test_expired_entries_do_not_count_against_capacity(impl):
    s = Session(impl, 0.9, capacity=2, ttl=5.0)
    c = s.cache
    c.put("x", "answer of x")
    s.at(1.0)
    c.put("y", "answer of y")
    s.at(2.0)
    s.expect(c.get("x"), "answer of x", MOST_SIMILAR)
    s.at(5.5)
    c.put("z", "answer of z")
    s.expect(
        c.get("y"),
        "answer of y",
        EXPIRED_CAPACITY,
        detail="at 5.5 'x' has expired (put at 0, ttl 5), so one entry is live: put('z', ...) "
        "must not evict 'y'",
    )
    s.expect(c.get("z"), "answer of z", EXPIRED_CAPACITY)
    s.expect(s.length(), 2, EXPIRED_CAPACITY)


@pytest.mark.level(3)
def test_len_does_not_count_expired_entries(impl):
    s = Session(impl, 0.9, ttl=2.5)
    for now, query in [(0.0, "x"), (1.0, "y"), (2.0, "z")]:
        s.at(now)
        s.cache.put(query, f"answer of {query}")
    for now, expected in [(2.0, 3), (2.5, 2), (3.5, 1), (4.5, 0)]:
        s.at(now)
        s.expect(s.length(), expected, EXPIRED_CAPACITY)


@pytest.mark.level(3)
def test_a_put_of_an_expired_query_is_the_put_of_a_new_query(impl):
    s = Session(impl, 0.9, capacity=2, ttl=5.0)
    c = s.cache
    c.put("x", "first x")
    s.at(4.0)
    c.put("y", "answer of y")
    s.at(5.0)
    c.put("z", "answer of z")
    s.at(6.0)
    c.put("x", "second x")
    s.expect(
        s.length(),
        2,
        EXPIRED_GONE,
        detail="at 6 'x' had expired: the put of 'x' is a new query on a full cache ('y', 'z')",
    )
    s.expect(c.get("y"), None, EXPIRED_GONE + ": it evicts the least recently used live entry")
    s.expect(c.get("x"), "second x", EXPIRED_GONE)
    s.at(10.5)
    s.expect(c.get("x"), "second x", EXPIRED_GONE + " (put at 6: live until 11)")


@pytest.mark.level(3)
def test_random_programs_with_a_clock_match_the_model(impl):
    run_machine(impl, level=3, max_examples=80)


# ---------------------------------------------------------------------------------------------
# Level 4: namespaces and invalidation


@pytest.mark.level(4)
def test_worked_example_of_namespaces(impl):
    s = Session(impl, 0.8, FRANCE)
    c = s.cache
    c.put("capital of France?", "Paris", namespace="geo-v1")
    c.put("capital of France?", "Paris, France", namespace="geo-v2")
    c.put("how tall is Everest?", "8,849 m", namespace="geo-v2")
    s.expect(c.get("France's capital city?", namespace="geo-v1"), "Paris", NAMESPACE_SCOPE)
    s.expect(c.get("France's capital city?"), None, NAMESPACE_SCOPE + " ('default' is empty)")
    s.expect(c.invalidate(namespace="geo-v1"), 1, INVALIDATE_COUNT)
    s.expect(c.invalidate(predicate=lambda query, answer: "Everest" in query), 1, INVALIDATE_COUNT)
    s.expect(c.invalidate(), 1, INVALIDATE_ALL)
    s.expect(s.length(), 0, INVALIDATE_ALL)


@pytest.mark.level(4)
def test_a_get_sees_only_its_namespace(impl):
    s = Session(impl, 0.75)
    c = s.cache
    c.put("x", "x in a", namespace="a")
    c.put("p", "p in default")
    s.expect(c.get("x", namespace="a"), "x in a", NAMESPACE_SCOPE)
    s.expect(c.get("s", namespace="b"), None, NAMESPACE_SCOPE + " (nothing in 'b')")
    s.expect(
        c.get("x"),
        None,
        NAMESPACE_SCOPE,
        detail="in 'default' only 'p' is stored, at 0.6 to 'x'; 'x' is in namespace 'a'",
    )
    c.put("y", "y in b", namespace="b")
    s.expect(c.get("d", namespace="b"), None, NAMESPACE_SCOPE + " (0.7071 to 'y')")
    s.expect(c.get("y", namespace="b"), "y in b", NAMESPACE_SCOPE)


@pytest.mark.level(4)
def test_the_same_query_in_two_namespaces_is_two_entries(impl):
    s = Session(impl, 0.9)
    c = s.cache
    c.put("x", "x in a", namespace="a")
    c.put("x", "x in b", namespace="b")
    s.expect(s.length(), 2, NAMESPACE_KEY)
    s.expect(c.get("x", namespace="a"), "x in a", NAMESPACE_KEY)
    s.expect(c.get("x", namespace="b"), "x in b", NAMESPACE_KEY)
    s.expect(c.get("x"), None, NAMESPACE_SCOPE)


@pytest.mark.level(4)
def test_capacity_and_recency_are_shared_across_namespaces(impl):
    s = Session(impl, 0.9, capacity=2)
    c = s.cache
    c.put("x", "x in a", namespace="a")
    c.put("y", "y in b", namespace="b")
    s.expect(c.get("x", namespace="a"), "x in a", NAMESPACE_SCOPE)
    c.put("z", "z in a", namespace="a")
    s.expect(s.length(), 2, NAMESPACE_SHARED)
    s.expect(
        c.get("y", namespace="b"),
        None,
        NAMESPACE_SHARED,
        detail="one order over all entries: 'y' in 'b' was the least recently used",
    )
    s.expect(c.get("x", namespace="a"), "x in a", NAMESPACE_SHARED)


@pytest.mark.level(4)
def test_invalidate_by_namespace_removes_only_that_namespace(impl):
    s = Session(impl, 0.9)
    c = s.cache
    for query, namespace in [("x", "a"), ("y", "a"), ("x", "b"), ("z", "default")]:
        c.put(query, f"{query} in {namespace}", namespace=namespace)
    s.expect(c.invalidate(namespace="a"), 2, INVALIDATE_COUNT)
    s.expect(c.get("x", namespace="a"), None, INVALIDATE)
    s.expect(c.get("y", namespace="a"), None, INVALIDATE)
    s.expect(c.get("x", namespace="b"), "x in b", INVALIDATE + " (other namespaces stay)")
    s.expect(c.get("z"), "z in default", INVALIDATE + " (other namespaces stay)")
    s.expect(c.invalidate(namespace="a"), 0, INVALIDATE_COUNT)
    s.expect(s.length(), 2, INVALIDATE)


@pytest.mark.level(4)
def test_invalidate_by_predicate_passes_query_and_answer(impl):
    s = Session(impl, 0.9)
    c = s.cache
    for query in ["x", "y", "z", "p"]:
        c.put(query, f"answer of {query}")
    seen: list[tuple[str, str]] = []

    def stale(query: str, answer: str) -> bool:
        seen.append((query, answer))
        return query in ("x", "p")

    removed = c.invalidate(predicate=stale)
    s.expect(
        sorted(set(seen)),
        [(q, f"answer of {q}") for q in ["p", "x", "y", "z"]],
        INVALIDATE + ": it is called as predicate(query, answer), for every live entry",
        detail="the list shows the (query, answer) pairs your cache passed to the predicate",
    )
    s.expect(removed, 2, INVALIDATE_COUNT)
    s.expect(c.get("x"), None, INVALIDATE)
    s.expect(c.get("y"), "answer of y", INVALIDATE + " (the predicate was false for 'y')")
    s.expect(c.get("2p"), None, INVALIDATE)


@pytest.mark.level(4)
def test_invalidate_with_both_filters_removes_entries_matching_both(impl):
    s = Session(impl, 0.9)
    c = s.cache
    for query, namespace in [("x", "a"), ("y", "a"), ("x", "b")]:
        c.put(query, f"{query} in {namespace}", namespace=namespace)
    removed = c.invalidate(namespace="a", predicate=lambda query, answer: query == "x")
    s.expect(removed, 1, INVALIDATE + " (both filters must match)")
    s.expect(c.get("x", namespace="a"), None, INVALIDATE)
    s.expect(c.get("y", namespace="a"), "y in a", INVALIDATE + " (the predicate is false)")
    s.expect(c.get("x", namespace="b"), "x in b", INVALIDATE + " (another namespace)")


@pytest.mark.level(4)
def test_invalidate_with_no_filter_empties_the_cache(impl):
    s = Session(impl, 0.9)
    for query, namespace in [("x", "a"), ("y", "default"), ("z", "b")]:
        s.cache.put(query, f"{query} in {namespace}", namespace=namespace)
    s.expect(s.cache.invalidate(), 3, INVALIDATE_ALL)
    s.expect(s.length(), 0, INVALIDATE_ALL)
    s.expect(s.cache.get("y"), None, INVALIDATE_ALL)


@pytest.mark.level(4)
def test_invalidate_does_not_count_expired_entries(impl):
    s = Session(impl, 0.9, ttl=5.0)
    c = s.cache
    c.put("x", "answer of x")
    c.put("y", "y in a", namespace="a")
    s.at(3.0)
    c.put("z", "answer of z")
    s.at(5.0)
    s.expect(
        c.invalidate(predicate=lambda query, answer: True),
        1,
        INVALIDATE_COUNT,
        detail="at 5 'x' and 'y' have expired; only 'z' is live",
    )
    s.expect(c.invalidate(namespace="a"), 0, INVALIDATE_COUNT)


@pytest.mark.level(4)
def test_invalidate_keeps_the_recency_of_the_entries_it_keeps(impl):
    s = Session(impl, 0.9, capacity=3)
    c = s.cache
    for query in ["x", "y", "z"]:
        c.put(query, f"answer of {query}")
    s.expect(c.get("x"), "answer of x", MOST_SIMILAR)  # order: y, z, x
    s.expect(c.invalidate(predicate=lambda query, answer: query == "z"), 1, INVALIDATE_COUNT)
    c.put("p", "answer of p")  # order: y, x, p; full
    c.put("q", "answer of q")  # evicts y
    s.expect(
        c.get("y"),
        None,
        INVALIDATE_RECENCY,
        detail="order before put('q'): 'y', 'x', 'p' (least recent first): 'y' goes",
    )
    s.expect(c.get("x"), "answer of x", INVALIDATE_RECENCY)


@pytest.mark.level(4)
def test_random_programs_with_namespaces_and_invalidation_match_the_model(impl):
    run_machine(impl, level=4, max_examples=80)
