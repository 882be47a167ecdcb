"""Hidden suite for rate_limiter.

Oracle: `BucketModel`, the statement's refill rule in exact `Fraction` arithmetic, written here and
sharing nothing with any solution: `tokens(t) = min(capacity, tokens(t0) + (t - t0) * rate)`, a
request granted when `tokens(now) >= cost`, and for `acquire` a wait of `(cost - tokens) / rate`.
`KeyedModel` keeps one `BucketModel` per key and never evicts, so the bounds on `len(limiter)`
follow from it: keys below capacity (must be held) and keys called within `capacity / rate`
seconds (may be held). Hypothesis state machines drive the attempt and the model side by side.

Every time, rate and cost is an exact binary fraction (times in 1/8 s from 1000.0, rates 1/4 to 8
tokens per second, costs in quarter tokens), so any correct float implementation computes every
boundary exactly and a verdict never hangs on rounding.

Nothing here really sleeps: `sleep` is a recorder that moves the fake clock, and while an attempt
runs at level 3, `time.sleep` and `asyncio.sleep` are replaced by recorders, so an attempt that
sleeps on its own is reported instead of stalling the run. Level 4 runs real threads whose traced
bytecodes of the attempt yield the GIL at random (`interleaver`: under CPython's GIL a thread is
switched only at calls and loop jumps, so inline read-modify-write code would look atomic by luck),
with a fast switch interval, against shared fake clocks:
`SharedClock` (frozen, or moving a tick per read) for `try_acquire`, and `VirtualTime` for
`acquire`, where time jumps to the earliest wake-up only when every worker is asleep, so the
budget `capacity + rate * elapsed` is tight for a correct bucket and any lost update exceeds it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kata_runner.testing import Trace, expect_raises, fail, returns, show, sleeps
from kata_runner.testing.sleeps import REAL_ASYNCIO_SLEEP, REAL_TIME_SLEEP

START = 1000.0  # every fake clock starts here: a bucket must not assume the clock starts at 0

# ---------------------------------------------------------------------------------------------
# The rules of the statement, as the failure messages name them

STARTS_FULL = "rule: the bucket starts full: capacity tokens when it is constructed"
REFILL = (
    "rule: refill is continuous: tokens(t) = min(capacity, tokens(t0) + (t - t0) * refill_rate)"
)
CAPPED = "rule: the bucket never holds more than capacity, however long it sits idle"
GRANT = "rule: a request is granted when the bucket holds at least cost tokens now, and takes them"
EXACT = "rule: a request for exactly the tokens held is granted"
REFUSED = "rule: a refused request takes nothing"
CLOCK = "rule: all time comes from the injected clock, read whenever the bucket needs now"
AVAILABLE = "rule: available() includes the refill up to now and takes nothing"
COST_ABOVE = "rule: a cost above capacity raises ValueError"
COST_NONPOSITIVE = "rule: a cost <= 0 raises ValueError"
BAD_LIMITS = "rule: capacity <= 0 or refill_rate <= 0 raise ValueError in the constructor"
SEPARATE = "rule: each TokenBucket is separate: two buckets sharing a clock share nothing else"
RETURNS_BOOL = "rule: try_acquire returns True or False"
VALID_COSTS = "(any cost in (0, capacity] is valid, capacity itself included)"
CONSTRUCT = "rule: TokenBucket(capacity, refill_rate, clock=clock) makes a full bucket"

PER_KEY = "rule: each key has its own bucket, under every rule of level 1"
NEW_KEY = "rule: a key never seen before starts full"
EVICT_SAFE = "rule: evicting a key never changes an answer (a key may be forgotten only once its bucket is full again)"
LEN_HELD = "rule: len(limiter): a key whose bucket is below capacity is always held"
LEN_FORGOTTEN = (
    "rule: len(limiter): a key whose last try_acquire was more than capacity / refill_rate "
    "seconds ago is never held"
)
AMORTIZED = (
    "rule: try_acquire takes amortized O(1) time, however many keys are held: no scan of every "
    "key on every call"
)
KEYED_ERRORS = "rule: the keyed limiter raises the same ValueErrors as level 1"

NO_WAIT = (
    "rule: when the bucket holds cost tokens, acquire takes them at once, returns 0.0 and does "
    "not call sleep"
)
WAIT = (
    "rule: otherwise acquire calls sleep(wait) exactly once, wait = (cost - available) / "
    "refill_rate, then takes the tokens and returns wait"
)
WAIT_TAKES = "rule: after acquire returns, the bucket is empty (the clock moved by exactly wait)"
ACQUIRE_ERRORS = (
    "rule: acquire raises ValueError for a cost above capacity or <= 0, before sleeping"
)
INJECTED_SLEEP = (
    "rule: sleep only through the injected sleep (awaited in acquire_async); never call "
    "time.sleep, which would also block the event loop, or asyncio.sleep yourself"
)
ASYNC_SAME = "rule: acquire_async follows the same rules, with await sleep(wait)"
ASYNC_AWAIT = "rule: acquire_async awaits sleep(wait); calling it without await sleeps nothing"
ASYNC_OTHERS = "rule: while one task waits in acquire_async, other tasks run"

BUDGET = (
    "rule: concurrent calls never hand out more than the budget: "
    "capacity + refill_rate * (T - start)"
)
FROZEN = (
    "rule: with a clock that does not move, a bucket (or one key) hands out exactly capacity "
    "tokens to many threads calling try_acquire(1), never one more"
)
ONE_AT_A_TIME = "rule: every call behaves as if the calls ran one at a time, in some order"
NO_BLOCK = (
    "rule: a thread sleeping in acquire blocks nobody: never hold the lock while sleeping "
    "(try_acquire and available answer at once)"
)
RETURNS = "rule: every call returns (no deadlock)"

# ---------------------------------------------------------------------------------------------
# The oracle


class BucketModel:
    """One token bucket in exact arithmetic: `tokens` at time `since`."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate = Fraction(capacity), Fraction(rate)
        self.tokens, self.since = self.capacity, Fraction(now)

    def at(self, now: float) -> Fraction:
        return min(self.capacity, self.tokens + (Fraction(now) - self.since) * self.rate)

    def update(self, now: float) -> Fraction:
        self.tokens, self.since = self.at(now), Fraction(now)
        return self.tokens

    def try_acquire(self, cost: float, now: float) -> bool:
        if self.update(now) < cost:
            return False
        self.tokens -= Fraction(cost)
        return True

    def acquire(self, cost: float, now: float) -> Fraction:
        """The wait; afterwards the model stands at now + wait with the tokens taken."""
        wait = max(Fraction(0), (Fraction(cost) - self.update(now)) / self.rate)
        self.tokens, self.since = self.tokens + wait * self.rate - Fraction(cost), self.since + wait
        return wait

    def describe(self, now: float) -> str:
        return f"model: the bucket holds {num(self.at(now))} tokens at t = {num(now)}"


class KeyedModel:
    """One BucketModel per key ever called, never evicted; the last call of each key."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate = Fraction(capacity), Fraction(rate)
        self.buckets: dict[str, BucketModel] = {}
        self.last_call: dict[str, Fraction] = {}

    def bucket(self, key: str, now: float) -> BucketModel:
        if key not in self.buckets:
            self.buckets[key] = BucketModel(self.capacity, self.rate, now)
        return self.buckets[key]

    def try_acquire(self, key: str, cost: float, now: float) -> bool:
        self.last_call[key] = Fraction(now)
        return self.bucket(key, now).try_acquire(cost, now)

    def must_hold(self, now: float) -> list[str]:
        return sorted(k for k, b in self.buckets.items() if b.at(now) < self.capacity)

    def may_hold(self, now: float) -> list[str]:
        idle = self.capacity / self.rate
        return sorted(k for k, t in self.last_call.items() if Fraction(now) - t <= idle)


def num(x: Any) -> str:
    """1000.25, 0.5, 3: a number as a reader writes it."""
    if isinstance(x, Fraction):
        x = float(x) if x.denominator & (x.denominator - 1) == 0 else x
    if isinstance(x, float):
        text = f"{x:.12g}"
        return text + ".0" if text.lstrip("-").isdigit() else text
    return str(x)


# sleeps of the attempt's own are recorded with numbers as `num` writes them
no_real_sleep = functools.partial(sleeps.no_real_sleep, show=num)


# ---------------------------------------------------------------------------------------------
# Fakes: a clock moved by hand, a recording sleep


class FakeClock:
    """A clock the test moves by hand (`t.now = ...`)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeper:
    """A recording sleep that moves a FakeClock by the time asked, and its async twin."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[Any] = []
        self.coroutines: list[Any] = []

    def __call__(self, seconds: Any, /) -> None:
        self.slept.append(seconds)
        self.clock.now += seconds

    def async_sleep(self, seconds: Any, /) -> Any:
        async def sleeping() -> None:
            self(seconds)
            await REAL_ASYNCIO_SLEEP(0)  # let other tasks run, as a real sleep would

        coroutine = sleeping()
        self.coroutines.append(coroutine)
        return coroutine

    def unawaited(self) -> int:
        """Close the sleep coroutines nobody awaited (no warning); return how many."""
        left = [c for c in self.coroutines if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        for coroutine in left:
            coroutine.close()
        return len(left)


# ---------------------------------------------------------------------------------------------
# A bucket under test, its clock, its model and the program that led here


class Program:
    """The program of a Trace, rendered only when a failure message formats it: a state machine
    checks every step, and rendering the whole program at each one would cost O(steps²)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __str__(self) -> str:
        return self.trace.program

    def __add__(self, more: str) -> str:
        return str(self) + more


class Scene:
    """`t = FakeClock(1000.0); bucket = TokenBucket(...)` with the model beside it."""

    def __init__(self, impl: ModuleType, capacity: float, rate: float) -> None:
        self.clock = FakeClock()
        self.capacity, self.rate = capacity, rate
        made = f"t = FakeClock({num(START)}); bucket = TokenBucket({num(capacity)}, {num(rate)}, clock=t)"
        target = returns(
            impl.TokenBucket, capacity, rate, clock=self.clock, call=made, rule=CONSTRUCT
        )
        self.bucket = Trace(target, "bucket", made)
        self.model = BucketModel(capacity, rate, START)

    @property
    def now(self) -> float:
        return self.clock.now

    @property
    def program(self) -> Any:
        return Program(self.bucket)

    def at(self, now: float) -> None:
        self.clock.now = now
        self.bucket.note(f"t.now = {num(now)}")

    def wait(self, seconds: float) -> None:
        if seconds:
            self.at(self.clock.now + seconds)

    def try_acquire(self, cost: float, rule: str = GRANT) -> bool:
        """bucket.try_acquire(cost) against the model; returns the answer."""
        __tracebackhide__ = True
        actual = returns(
            self.bucket.try_acquire, cost, call=self.program, rule=f"{rule} {VALID_COSTS}"
        )
        before = self.model.at(self.now)
        expected = self.model.try_acquire(cost, self.now)
        check_grant(
            actual,
            expected,
            before,
            cost,
            capacity=self.capacity,
            call=self.program,
            rule=rule,
            now=self.now,
        )
        return expected

    def available(self, rule: str = AVAILABLE) -> None:
        """bucket.available() against the model."""
        __tracebackhide__ = True
        actual = returns(self.bucket.available, call=self.program, rule=rule)
        expected = self.model.update(self.now)
        check_tokens(actual, expected, self.capacity, call=self.program, rule=rule)


def check_grant(
    actual: Any,
    expected: bool,
    held: Fraction,
    cost: float,
    *,
    capacity: float,
    call: str,
    rule: str,
    now: float,
) -> None:
    """try_acquire's answer: a bool, the model's. The headline names the rule the case hinges on."""
    __tracebackhide__ = True
    if not isinstance(actual, bool):
        fail(RETURNS_BOOL, call=call, expected=expected, actual=actual)
    if actual == expected:
        return
    if rule == GRANT and not actual and held == Fraction(cost) and held < capacity:
        rule = EXACT  # (with held == capacity, a bucket that did not start full is as likely)
    fail(
        rule,
        call=call,
        expected=expected,
        actual=actual,
        detail=f"model: the bucket holds {num(held)} tokens at t = {num(now)}, the request costs {num(cost)}",
    )


def check_tokens(actual: Any, expected: Fraction, capacity: float, *, call: str, rule: str) -> None:
    """available(): the model's token count, to within rounding."""
    __tracebackhide__ = True
    try:
        value = float(actual)
    except (TypeError, ValueError):
        fail(
            rule + " (available() returns a number)",
            call=call,
            expected=num(expected),
            actual=actual,
        )
        return
    if abs(value - float(expected)) <= 1e-9 * max(1.0, abs(float(expected))):
        return
    if value > capacity and rule in (AVAILABLE, REFILL):
        rule = CAPPED
    fail(
        rule,
        call=call,
        expected=num(expected),
        actual=show(actual),
        show_values=False,
        detail="(the model's count, in exact arithmetic)",
    )


# ---------------------------------------------------------------------------------------------
# Strategies: exact binary fractions

CAPACITIES = [1, 2.5, 4, 10]
RATES = [0.25, 0.5, 1, 2, 8]
STEPS = [0.125, 0.25, 0.5, 1.0, 3.0, 1000.0]
capacities = st.sampled_from(CAPACITIES)
rates = st.sampled_from(RATES)
steps = st.sampled_from(STEPS)


def quarter_costs(capacity: float) -> st.SearchStrategy[float]:
    """Costs in (0, capacity], in quarter tokens: whole ones as int, the others as float."""
    return st.integers(1, int(capacity * 4)).map(lambda k: k // 4 if k % 4 == 0 else k / 4)


def costs(capacity: float) -> st.SearchStrategy[float]:
    """A quarter, a half, three quarters or all of the capacity, or any quarter-token cost."""
    shares = [_plain(capacity * share) for share in (0.25, 0.5, 0.75, 1.0)]
    return st.one_of(st.sampled_from(shares), quarter_costs(capacity))


def waits(capacity: float, rate: float) -> st.SearchStrategy[float]:
    """Fixed steps, or a share of the time a drained bucket takes to fill (capacity / rate)."""
    fill = capacity / rate
    return st.one_of(st.sampled_from([fill / 8, fill / 4, fill / 2, fill]), steps)


def _plain(x: float) -> float:
    return int(x) if x == int(x) else x


def invalid_costs(capacity: float) -> st.SearchStrategy[float]:
    return st.sampled_from([0, -1.0, capacity + 0.25, capacity * 2])


# ---------------------------------------------------------------------------------------------
# The state machine for one bucket (levels 1 and 3)


class BucketMachine(RuleBasedStateMachine):
    """Random programs of clock moves, try_acquire, available (and acquire), against the model."""

    def __init__(self, impl: ModuleType, level: int) -> None:
        super().__init__()
        self.impl, self.level = impl, level
        self.scene: Scene | None = None

    @initialize(capacity=capacities, rate=rates)
    def make(self, capacity: float, rate: float) -> None:
        self.scene = Scene(self.impl, capacity, rate)

    @property
    def s(self) -> Scene:
        assert self.scene is not None
        return self.scene

    @rule(data=st.data())
    def wait(self, data: st.DataObject) -> None:
        self.s.wait(data.draw(waits(self.s.capacity, self.s.rate), label="seconds"))

    @rule(data=st.data())
    def try_acquire(self, data: st.DataObject) -> None:
        self.s.try_acquire(data.draw(costs(self.s.capacity), label="cost"))

    @rule(data=st.data())
    def try_acquire_an_impossible_cost(self, data: st.DataObject) -> None:
        cost = data.draw(invalid_costs(self.s.capacity), label="cost")
        self.s.bucket.note(f"bucket.try_acquire({num(cost)})")
        expect_raises(
            ValueError,
            self.s.bucket.target.try_acquire,
            cost,
            call=self.s.program,
            rule=COST_ABOVE if cost > 0 else COST_NONPOSITIVE,
        )

    @precondition(lambda self: self.level >= 3)
    @rule(data=st.data(), form=st.sampled_from(["acquire", "acquire_async"]))
    def acquire(self, data: st.DataObject, form: str) -> None:
        cost = data.draw(costs(self.s.capacity), label="cost")
        run_acquire(self.impl, self.s, form, cost, rule=WAIT)

    @invariant()
    def available_matches_the_model(self) -> None:
        if self.scene is not None:
            self.s.available(rule=f"{REFILL}; {AVAILABLE}")


def run_bucket_machine(impl: ModuleType, level: int, max_examples: int, steps: int) -> None:
    run_state_machine_as_test(
        lambda: BucketMachine(impl, level),
        settings=settings(max_examples=max_examples, stateful_step_count=steps),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: one bucket


@pytest.mark.level(1)
def test_the_statement_example(impl):
    s = Scene(impl, 4, 2)
    s.try_acquire(3)
    s.try_acquire(2, rule=REFUSED)
    s.wait(0.25)
    s.available(rule=REFILL)
    s.wait(0.25)
    s.try_acquire(2, rule=EXACT)
    s.at(START + 100)
    s.available(rule=CAPPED)
    s.bucket.note("bucket.try_acquire(5)")
    expect_raises(ValueError, s.bucket.target.try_acquire, 5, call=s.program, rule=COST_ABOVE)


@pytest.mark.level(1)
@pytest.mark.parametrize(("capacity", "rate"), [(5, 1), (2.5, 0.25), (1, 8)])
def test_a_new_bucket_starts_full(impl, capacity, rate):
    s = Scene(impl, capacity, rate)
    s.available(rule=STARTS_FULL)
    s.try_acquire(capacity, rule=STARTS_FULL)
    s.try_acquire(0.25, rule=STARTS_FULL + " (and a full bucket holds only capacity)")


@pytest.mark.level(1)
def test_a_bucket_made_late_in_time_starts_full(impl):
    s = Scene(impl, 3, 1)
    s.at(START + 5000)  # time passes before the first call: still exactly full, never more
    s.try_acquire(3, rule=STARTS_FULL)
    s.try_acquire(0.25, rule=CAPPED)


@pytest.mark.level(1)
def test_refill_is_continuous_and_fractions_count(impl):
    s = Scene(impl, 4, 2)
    s.try_acquire(4)
    s.wait(0.125)
    s.available(rule=REFILL + " (0.125 s at 2 tokens/s is 0.25 tokens)")
    s.try_acquire(0.5, rule=REFILL)
    s.wait(0.125)
    s.try_acquire(0.5, rule=REFILL + " (fractions of a token count)")
    s.wait(1.25)
    s.available(rule=REFILL)
    s.try_acquire(2.5, rule=REFILL)
    s.try_acquire(0.25, rule=REFILL)


@pytest.mark.level(1)
def test_refill_counts_from_the_last_update_not_from_the_start(impl):
    s = Scene(impl, 10, 1)
    s.try_acquire(10)
    s.wait(2)
    s.try_acquire(2, rule=REFILL)
    s.wait(1)
    s.available(rule=REFILL + " (1 s after the last call: 1 token, not 3)")
    s.try_acquire(1)
    s.wait(0.5)
    s.try_acquire(1, rule=REFILL + " (0.5 token since the last call)")
    s.wait(0.5)
    s.try_acquire(1, rule=REFILL)
    s.try_acquire(0.25, rule=REFILL)


@pytest.mark.level(1)
def test_refill_is_capped_at_capacity(impl):
    s = Scene(impl, 4, 2)
    s.try_acquire(1)
    s.wait(1000)
    s.available(rule=CAPPED)
    s.try_acquire(4, rule=CAPPED)
    s.try_acquire(0.25, rule=CAPPED + " (4 tokens after a long idle time, not 2000)")
    s.wait(1.5)
    s.try_acquire(3, rule=CAPPED)
    s.try_acquire(0.25, rule=CAPPED)


@pytest.mark.level(1)
def test_a_refused_request_takes_nothing(impl):
    s = Scene(impl, 4, 1)
    s.try_acquire(3)
    s.try_acquire(2, rule=REFUSED)
    s.try_acquire(1.5, rule=REFUSED)
    s.available(rule=REFUSED + " (the bucket still holds 1 token)")
    s.try_acquire(1, rule=REFUSED + " (the refused requests took nothing)")
    s.wait(0.5)
    s.try_acquire(1, rule=REFUSED)
    s.try_acquire(0.5, rule=REFUSED)


@pytest.mark.level(1)
def test_a_request_for_exactly_the_tokens_held_is_granted(impl):
    s = Scene(impl, 2.5, 0.5)
    s.try_acquire(2.5, rule=EXACT)
    s.wait(3)
    s.try_acquire(1.5, rule=EXACT)
    s.wait(0.5)
    s.try_acquire(0.25, rule=EXACT)


@pytest.mark.level(1)
def test_time_comes_from_the_injected_clock(impl):
    s = Scene(impl, 2, 0.25)
    s.try_acquire(2)
    s.try_acquire(0.25, rule=CLOCK)
    s.wait(2)  # only the fake clock moves: 0.5 token
    s.available(rule=CLOCK)
    s.try_acquire(0.5, rule=CLOCK)
    s.wait(8)
    s.try_acquire(2, rule=CLOCK)


@pytest.mark.level(1)
def test_available_refills_and_takes_nothing(impl):
    s = Scene(impl, 4, 2)
    s.try_acquire(4)
    s.wait(0.5)
    s.available()
    s.available(rule=AVAILABLE + " (twice at the same time: the same answer)")
    s.wait(0.5)
    s.available()
    s.try_acquire(2, rule=AVAILABLE)
    s.available()


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("cost", "rule"),
    [(4.25, COST_ABOVE), (100, COST_ABOVE), (0, COST_NONPOSITIVE), (-1, COST_NONPOSITIVE)],
)
def test_an_impossible_cost_raises_value_error(impl, cost, rule):
    s = Scene(impl, 4, 1)
    s.bucket.note(f"bucket.try_acquire({num(cost)})")
    expect_raises(ValueError, s.bucket.target.try_acquire, cost, call=s.program, rule=rule)
    s.try_acquire(4, rule=rule + " (and takes nothing)")


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("capacity", "rate"),
    [(0, 1), (-1, 1), (1, 0), (1, -0.5)],
    ids=["cap-0", "cap-neg", "rate-0", "rate-neg"],
)
def test_invalid_capacity_or_rate_raises_value_error(impl, capacity, rate):
    call = f"TokenBucket({num(capacity)}, {num(rate)}, clock=FakeClock({num(START)}))"
    expect_raises(
        ValueError, impl.TokenBucket, capacity, rate, clock=FakeClock(), call=call, rule=BAD_LIMITS
    )


@pytest.mark.level(1)
def test_buckets_sharing_a_clock_are_separate(impl):
    s = Scene(impl, 2, 1)
    other = Scene(impl, 2, 1)
    other.clock = s.clock
    other.bucket = Trace(
        impl.TokenBucket(2, 1, clock=s.clock),
        "other",
        s.program + "; other = TokenBucket(2, 1, clock=t)",
    )
    s.try_acquire(2)
    other.bucket.note("bucket.try_acquire(2)")
    other.try_acquire(2, rule=SEPARATE)
    s.try_acquire(0.25, rule=SEPARATE)


@pytest.mark.level(1)
def test_random_programs_match_the_exact_model(impl):
    run_bucket_machine(impl, level=1, max_examples=40, steps=20)


# ---------------------------------------------------------------------------------------------
# Level 2: one bucket per key, idle keys evicted


class Keyed:
    """A KeyedRateLimiter under test, its clock, its model and the program that led here."""

    def __init__(self, impl: ModuleType, capacity: float, rate: float) -> None:
        self.clock = FakeClock()
        self.capacity, self.rate = capacity, rate
        made = f"t = FakeClock({num(START)}); limiter = KeyedRateLimiter({num(capacity)}, {num(rate)}, clock=t)"
        target = returns(
            impl.KeyedRateLimiter, capacity, rate, clock=self.clock, call=made, rule=PER_KEY
        )
        self.limiter = Trace(target, "limiter", made)
        self.model = KeyedModel(capacity, rate)

    @property
    def now(self) -> float:
        return self.clock.now

    @property
    def program(self) -> Any:
        return Program(self.limiter)

    def at(self, now: float) -> None:
        self.clock.now = now
        self.limiter.note(f"t.now = {num(now)}")

    def wait(self, seconds: float) -> None:
        if seconds:
            self.at(self.clock.now + seconds)

    def try_acquire(self, key: str, cost: float = 1, rule: str = PER_KEY) -> bool:
        __tracebackhide__ = True
        actual = returns(
            self.limiter.try_acquire, key, cost, call=self.program, rule=f"{rule} {VALID_COSTS}"
        )
        known = key in self.model.buckets
        before = self.model.buckets[key].at(self.now) if known else Fraction(self.capacity)
        expected = self.model.try_acquire(key, cost, self.now)
        if actual != expected and rule == PER_KEY and known:
            rule = f"{PER_KEY}; {EVICT_SAFE}"
        check_grant(
            actual,
            expected,
            before,
            cost,
            capacity=self.capacity,
            call=self.program,
            rule=rule,
            now=self.now,
        )
        return expected

    def check_len(self, rule: str | None = None) -> int:
        """len(limiter) within the model's bounds; returns it."""
        __tracebackhide__ = True
        self.limiter.note("len(limiter)")
        actual = len(self.limiter.target)
        must, may = self.model.must_hold(self.now), self.model.may_hold(self.now)
        if not isinstance(actual, int) or not len(must) <= actual <= len(may):
            low = not isinstance(actual, int) or actual < len(must)
            fail(
                rule or (LEN_HELD if low else LEN_FORGOTTEN),
                call=self.program,
                expected=f"between {len(must)} and {len(may)}",
                actual=actual,
                show_values=False,
                detail=(
                    f"below capacity (must be held): {show(must)}\n"
                    f"called within the last {num(self.model.capacity / self.model.rate)} s (may be held): {show(may)}"
                ),
            )
        return actual


class KeyedMachine(RuleBasedStateMachine):
    """Random programs of clock moves and keyed try_acquire, len checked after every step."""

    def __init__(self, impl: ModuleType) -> None:
        super().__init__()
        self.impl = impl
        self.keyed: Keyed | None = None

    @initialize(capacity=capacities, rate=rates)
    def make(self, capacity: float, rate: float) -> None:
        self.keyed = Keyed(self.impl, capacity, rate)

    @property
    def k(self) -> Keyed:
        assert self.keyed is not None
        return self.keyed

    @rule(data=st.data())
    def wait(self, data: st.DataObject) -> None:
        self.k.wait(data.draw(waits(self.k.capacity, self.k.rate), label="seconds"))

    @rule(key=st.sampled_from(["a", "b", "c"]), data=st.data())
    def try_acquire(self, key: str, data: st.DataObject) -> None:
        self.k.try_acquire(key, data.draw(costs(self.k.capacity), label="cost"))

    @invariant()
    def len_within_the_bounds(self) -> None:
        if self.keyed is not None:
            self.k.check_len()


@pytest.mark.level(2)
def test_the_statement_example_for_keys(impl):
    k = Keyed(impl, 2, 1)
    for _ in range(3):
        k.try_acquire("alice")
    k.try_acquire("bob", rule=PER_KEY + " (bob has his own full bucket)")
    k.at(START + 0.5)
    k.check_len(LEN_HELD)
    k.at(START + 2.5)
    k.check_len(LEN_FORGOTTEN)
    k.try_acquire("alice", 2, rule=EVICT_SAFE)


@pytest.mark.level(2)
def test_each_key_has_its_own_bucket(impl):
    k = Keyed(impl, 3, 0.5)
    k.try_acquire("a", 3)
    k.try_acquire("b", 2.5, rule=NEW_KEY)
    k.try_acquire("a", 0.25, rule=PER_KEY)
    k.wait(1)
    k.try_acquire("b", 1, rule=PER_KEY)
    k.try_acquire("a", 0.5, rule=PER_KEY)
    k.try_acquire("c", 3, rule=NEW_KEY)
    k.try_acquire("a", 0.25, rule=PER_KEY)


@pytest.mark.level(2)
def test_keys_refill_continuously_and_are_capped(impl):
    k = Keyed(impl, 4, 2)
    k.try_acquire("a", 4)
    k.wait(0.125)
    k.try_acquire("a", 0.5, rule=REFILL)
    k.try_acquire("a", 0.25, rule=REFILL)
    k.wait(0.5)
    k.try_acquire("a", 1, rule=EXACT)
    k.wait(1000)
    k.try_acquire("a", 4, rule=CAPPED)
    k.try_acquire("a", 0.25, rule=CAPPED)


@pytest.mark.level(2)
def test_an_evicted_key_comes_back_as_it_would_have_been(impl):
    k = Keyed(impl, 4, 1)  # a drained bucket is full again after 4 s
    k.try_acquire("a", 4)
    k.try_acquire("b", 1)
    k.wait(3.5)
    k.check_len(LEN_HELD)  # an eviction now must keep "a": it holds 3.5 tokens
    k.try_acquire("a", 4, rule=EVICT_SAFE)
    k.try_acquire("a", 3.5, rule=EVICT_SAFE)
    k.wait(0.5)
    k.try_acquire("b", 4, rule=EVICT_SAFE)
    k.wait(4)
    k.check_len()
    k.try_acquire("a", 4, rule=EVICT_SAFE)
    k.try_acquire("a", 0.25, rule=EVICT_SAFE)


@pytest.mark.level(2)
def test_keys_idle_longer_than_the_refill_time_are_forgotten(impl):
    k = Keyed(impl, 2, 0.5)  # full again at most 4 s after a call
    for i in range(20):
        k.try_acquire(f"user{i}", 1 + (i % 4) / 4)
    k.check_len(LEN_HELD)
    k.wait(3)
    k.try_acquire("user3", 0.25)
    k.wait(1.125)  # everyone but user3 last called 4.125 s ago
    k.check_len(LEN_FORGOTTEN)
    k.wait(4)
    k.check_len(LEN_FORGOTTEN)


@pytest.mark.level(2)
def test_a_key_refused_or_granted_stays_held_while_below_capacity(impl):
    k = Keyed(impl, 1, 0.25)  # full again 4 s after a drain
    k.try_acquire("a", 1)
    k.wait(1)
    k.try_acquire("a", 1)  # refused: 0.25 token
    k.wait(2.5)
    k.check_len(LEN_HELD)
    k.try_acquire("a", 1, rule=EVICT_SAFE)


@pytest.mark.level(2)
def test_keyed_limiter_rejects_invalid_arguments(impl):
    for capacity, rate in [(0, 1), (1, 0), (-2, 1)]:
        call = f"KeyedRateLimiter({num(capacity)}, {num(rate)}, clock=FakeClock({num(START)}))"
        expect_raises(
            ValueError,
            impl.KeyedRateLimiter,
            capacity,
            rate,
            clock=FakeClock(),
            call=call,
            rule=KEYED_ERRORS,
        )
    k = Keyed(impl, 2, 1)
    for cost in (2.25, 0, -1):
        k.limiter.note(f"limiter.try_acquire('a', {num(cost)})")
        expect_raises(
            ValueError, k.limiter.target.try_acquire, "a", cost, call=k.program, rule=KEYED_ERRORS
        )
    k.try_acquire("a", 2, rule=KEYED_ERRORS + " (and takes nothing)")


@pytest.mark.level(2)
@pytest.mark.timeout(10)
def test_try_acquire_is_amortized_constant_time_with_60000_keys(impl):
    # cap 1, rate 1/1024: a key is held for 1024 s after its call. One new key every 1/64 s: after
    # 60,000 calls (937.5 s) all 60,000 are held; the next 40,000 start evicting the oldest.
    clock = FakeClock()
    limiter = impl.KeyedRateLimiter(1, 1 / 1024, clock=clock)
    call = (
        "limiter = KeyedRateLimiter(1, 1/1024, clock=t); for i in range(100_000): "
        "t.now = 1000 + i/64; limiter.try_acquire(f'user{i}')"
    )
    refused = 0
    for i in range(100_000):
        clock.now = START + i / 64
        if not limiter.try_acquire(f"user{i}"):
            refused += 1
    if refused:
        fail(
            NEW_KEY,
            call=call,
            expected="every call granted (each key is new)",
            actual=f"{refused} refused",
        )
    held = len(limiter)
    # at t = 1000 + 99999/64, keys i with (99999 - i)/64 < 1024 are below capacity: i > 34463
    must, may = 99_999 - 34_463, 99_999 - 34_463 + 1
    if not must <= held <= may:
        fail(
            LEN_HELD if held < must else LEN_FORGOTTEN,
            call=call + "; len(limiter)",
            expected=f"between {must} and {may}",
            actual=held,
        )


@pytest.mark.level(2)
@settings(max_examples=40)
@given(
    capacity=capacities,
    rate=rates,
    program=st.lists(
        st.tuples(st.sampled_from([0.0, 0.125, 0.5, 2.0, 50.0]), st.integers(1, 40)), max_size=20
    ),
)
def test_a_single_key_answers_like_a_single_bucket(impl, capacity, rate, program):
    k = Keyed(impl, capacity, rate)
    for seconds, quarters in program:
        k.wait(seconds)
        cost = min(quarters / 4, capacity)
        k.try_acquire("only", cost, rule=f"{PER_KEY}; {EVICT_SAFE}")
        k.check_len()


@pytest.mark.level(2)
def test_random_keyed_programs_match_the_model(impl):
    run_state_machine_as_test(
        lambda: KeyedMachine(impl), settings=settings(max_examples=40, stateful_step_count=20)
    )


# ---------------------------------------------------------------------------------------------
# Level 3: acquire and acquire_async


def run_acquire(impl: ModuleType, s: Scene, form: str, cost: float, *, rule: str) -> None:
    """bucket.acquire(cost, sleep=fake) (or acquire_async) against the model: the wait returned,
    the sleeps made, no real sleep; then the state is checked by the caller's next steps."""
    __tracebackhide__ = True
    sleeper = Sleeper(s.clock)
    start = s.now
    if form == "acquire":
        s.bucket.note(f"bucket.acquire({num(cost)}, sleep=fake_sleep)")
        with no_real_sleep(impl) as real:
            wait = returns(s.bucket.target.acquire, cost, sleep=sleeper, call=s.program, rule=rule)
        unawaited = 0
    else:
        s.bucket.note(f"await bucket.acquire_async({num(cost)}, sleep=fake_sleep)")

        async def main() -> Any:
            return await s.bucket.target.acquire_async(cost, sleep=sleeper.async_sleep)

        with no_real_sleep(impl) as real:
            wait = returns(asyncio.run, main(), call=s.program, rule=rule)
        unawaited = sleeper.unawaited()
    held = s.model.at(start)
    expected = s.model.acquire(cost, start)
    if real:
        fail(
            INJECTED_SLEEP,
            call=s.program,
            expected="only the injected sleep",
            actual=", ".join(real),
            show_values=False,
        )
    if unawaited:
        fail(
            ASYNC_AWAIT,
            call=s.program,
            expected="every sleep(...) awaited",
            actual=f"sleep(...) called {unawaited} time(s) without being awaited",
            show_values=False,
        )
    want_slept = [] if expected == 0 else [expected]
    same_sleeps = len(sleeper.slept) == len(want_slept) and all(
        close(a, e) for a, e in zip(sleeper.slept, want_slept, strict=False)
    )
    if not same_sleeps or not close(wait, expected):
        fail(
            NO_WAIT if expected == 0 else rule,
            call=s.program,
            expected=f"returns {num(expected)}; sleeps {seq(want_slept)}",
            actual=f"returns {show(wait)}; sleeps {seq(sleeper.slept)}",
            show_values=False,
            detail=f"model: the bucket held {num(held)} tokens at t = {num(start)}, the request costs {num(cost)}",
        )
    s.bucket.note(f"# slept {seq(sleeper.slept)}; t.now = {num(s.now)}")
    if s.now != start + float(expected):  # a fake sleep moved the clock by what was asked
        s.at(start + float(expected))


def seq(values: list[Any]) -> str:
    return (
        "["
        + ", ".join(num(v) if isinstance(v, float | int | Fraction) else show(v) for v in values)
        + "]"
    )


def close(actual: Any, expected: Fraction) -> bool:
    try:
        return abs(float(actual) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    except (TypeError, ValueError):
        return False


forms = pytest.mark.parametrize("form", ["acquire", "acquire_async"])


@pytest.mark.level(3)
@forms
def test_the_statement_example_for_acquire(impl, form):
    s = Scene(impl, 4, 2)
    run_acquire(impl, s, form, 3, rule=NO_WAIT)
    run_acquire(impl, s, form, 4, rule=WAIT)
    s.available(rule=WAIT_TAKES)


@pytest.mark.level(3)
@forms
@pytest.mark.parametrize(("drain", "cost"), [(0, 4), (1, 3), (2.5, 1.5), (3.75, 0.25)])
def test_acquire_takes_at_once_when_the_tokens_are_there(impl, form, drain, cost):
    s = Scene(impl, 4, 1)
    if drain:
        s.try_acquire(drain)
    run_acquire(impl, s, form, cost, rule=NO_WAIT)
    s.available(rule=NO_WAIT + " (the tokens are taken)")


@pytest.mark.level(3)
@forms
@pytest.mark.parametrize(
    ("capacity", "rate", "drain", "elapsed", "cost"),
    [
        (4, 2, 4, 0, 1),
        (4, 2, 3, 0, 4),
        (10, 0.25, 10, 2, 3),
        (2.5, 8, 2.5, 0.125, 2.5),
        (1, 0.5, 1, 1.5, 1),
    ],
)
def test_acquire_sleeps_once_for_the_missing_tokens(
    impl, form, capacity, rate, drain, elapsed, cost
):
    s = Scene(impl, capacity, rate)
    s.try_acquire(drain)
    s.wait(elapsed)
    run_acquire(impl, s, form, cost, rule=WAIT)
    s.available(rule=WAIT_TAKES)


@pytest.mark.level(3)
@forms
def test_acquire_leaves_the_bucket_empty_and_refilling(impl, form):
    s = Scene(impl, 4, 2)
    run_acquire(impl, s, form, 3, rule=NO_WAIT)
    run_acquire(impl, s, form, 2, rule=WAIT)
    s.available(rule=WAIT_TAKES)
    s.try_acquire(0.25, rule=WAIT_TAKES + " (the waited-for tokens were taken)")
    s.wait(0.25)
    s.try_acquire(0.5, rule=WAIT_TAKES)
    run_acquire(impl, s, form, 4, rule=WAIT)
    run_acquire(impl, s, form, 1, rule=WAIT + " (a second wait right after the first)")
    s.available(rule=WAIT_TAKES)


@pytest.mark.level(3)
@forms
@pytest.mark.parametrize("cost", [4.25, 9, 0, -1])
def test_acquire_of_an_impossible_cost_raises_before_sleeping(impl, form, cost):
    s = Scene(impl, 4, 1)
    s.try_acquire(4)
    sleeper = Sleeper(s.clock)
    if form == "acquire":
        s.bucket.note(f"bucket.acquire({num(cost)}, sleep=fake_sleep)")
        fn: Callable[[], Any] = lambda: s.bucket.target.acquire(cost, sleep=sleeper)
    else:
        s.bucket.note(f"await bucket.acquire_async({num(cost)}, sleep=fake_sleep)")

        async def main() -> Any:
            return await s.bucket.target.acquire_async(cost, sleep=sleeper.async_sleep)

        fn = lambda: asyncio.run(main())
    with no_real_sleep(impl) as real:
        expect_raises(ValueError, fn, call=s.program, rule=ACQUIRE_ERRORS)
    sleeper.unawaited()
    if sleeper.slept or real:
        fail(
            ACQUIRE_ERRORS,
            call=s.program,
            expected="ValueError before any sleep",
            actual=f"slept {seq(sleeper.slept)} {', '.join(real)} first",
            show_values=False,
        )


@pytest.mark.level(3)
def test_other_tasks_run_while_acquire_async_waits(impl):
    s = Scene(impl, 2, 1)
    s.try_acquire(2)
    log: list[str] = []
    sleeper = Sleeper(s.clock)

    async def waiter() -> Any:
        log.append("acquire starts")
        wait = await s.bucket.target.acquire_async(1, sleep=sleeper.async_sleep)
        log.append("acquire returns")
        return wait

    async def other() -> None:
        log.append("other task runs")

    async def main() -> Any:
        results = await asyncio.gather(waiter(), other())
        return results[0]

    call = (
        s.program
        + "; await asyncio.gather(bucket.acquire_async(1, sleep=fake_sleep), other_task())"
    )
    with no_real_sleep(impl) as real:
        returns(asyncio.run, main(), call=call, rule=ASYNC_OTHERS)
    unawaited = sleeper.unawaited()
    if real or unawaited:
        fail(
            INJECTED_SLEEP if real else ASYNC_AWAIT,
            call=call,
            expected="the injected sleep awaited once",
            actual=", ".join(real) or f"sleep(...) not awaited {unawaited} time(s)",
            show_values=False,
        )
    if log != ["acquire starts", "other task runs", "acquire returns"]:
        fail(
            ASYNC_OTHERS,
            call=call,
            expected="acquire starts, other task runs, acquire returns",
            actual=", ".join(log),
            show_values=False,
        )


@pytest.mark.level(3)
def test_random_programs_with_acquire_match_the_exact_model(impl):
    run_bucket_machine(impl, level=3, max_examples=40, steps=20)


# ---------------------------------------------------------------------------------------------
# Level 4: many threads at once

THREADS = 6
YIELD_CHANCE = 0.05  # per bytecode of the attempt's code, in worker threads
TRIALS = (
    3  # runs of each racy scenario: with forced interleaving, a missing lock shows in the first
)
JOIN_SECONDS = 5.0  # a correct bucket finishes a scenario in milliseconds; only a hang takes this


@contextmanager
def fast_switching() -> Iterator[None]:
    """Switch threads every microsecond, so unguarded read-modify-write sequences interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class SharedClock:
    """A fake clock many threads read at once: each read moves time by `tick` (0: frozen)."""

    def __init__(self, tick: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.now = START
        self.tick = tick

    def __call__(self) -> float:
        with self._lock:
            self.now += self.tick
            return self.now


class VirtualTime:
    """Fake time for worker threads that sleep: it jumps to the earliest wake-up, and only when
    every live worker is asleep. So time passes exactly as fast as the sleepers need it to, and
    overlapping sleeps never add up."""

    def __init__(self, workers: int) -> None:
        self._cond = threading.Condition()
        self.now = START
        self._awake = workers
        self._wakeups: list[float] = []
        self._aborted = False

    def clock(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._cond:
            target = self.now + seconds
            self._wakeups.append(target)
            self._awake -= 1
            self._advance()
            while self.now < target and not self._aborted:
                self._cond.wait(0.05)

    def done(self) -> None:
        with self._cond:
            self._awake -= 1
            self._advance()

    def abort(self) -> None:
        """Wake every sleeper for good (after a hang), so the threads can finish."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def _advance(self) -> None:
        if self._awake > 0 or not self._wakeups:
            return
        self.now = max(self.now, min(self._wakeups))
        woken = [w for w in self._wakeups if w <= self.now]
        self._wakeups = [w for w in self._wakeups if w > self.now]
        self._awake += len(woken)
        self._cond.notify_all()


@dataclass
class Outcome:
    """What the workers of one scenario did."""

    granted: list[float]  # per worker: the cost granted in total
    errors: list[str]
    hung: bool


def attempt_file(impl: ModuleType) -> str | None:
    try:
        return getattr(impl, "__file__", None) or inspect.getsourcefile(impl.TokenBucket)
    except TypeError:
        return None


def interleaver(filename: str | None, seed: int) -> Any:
    """A trace function that yields the GIL at random bytecodes of the attempt's own code.

    Under CPython's GIL a thread is switched only at calls and loop jumps, so a read-modify-write
    written inline would look atomic by luck; yielding between bytecodes makes every unguarded
    sequence interleave, as it would on a free-threaded build or another interpreter."""
    chance = random.Random(seed)

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode" and chance.random() < YIELD_CHANCE:
            REAL_TIME_SLEEP(0)
        return local

    def trace(frame: Any, event: str, arg: Any) -> Any:
        if filename is None or frame.f_code.co_filename != filename:
            return None
        frame.f_trace_opcodes = True
        return local

    return trace


def run_workers(
    impl: ModuleType,
    workers: list[Callable[[], float]],
    *,
    on_hang: Callable[[], None] = lambda: None,
) -> Outcome:
    """Start the workers together, wait for them; each returns the cost it was granted."""
    barrier = threading.Barrier(len(workers))
    granted = [0.0] * len(workers)
    errors: list[str] = []
    filename = attempt_file(impl)

    def run(i: int) -> None:
        try:
            barrier.wait()
            sys.settrace(interleaver(filename, seed=i))
            granted[i] = workers[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            sys.settrace(None)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(workers))]
    with fast_switching():
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    hung = any(thread.is_alive() for thread in threads)
    if hung:
        on_hang()
        for thread in threads:
            thread.join(1.0)
    return Outcome(granted, errors, hung)


def check_outcome(
    outcome: Outcome, *, call: str, hang_rule: str = RETURNS, hang_detail: str = ""
) -> None:
    __tracebackhide__ = True
    if outcome.hung:
        fail(
            hang_rule,
            call=call,
            expected=f"every thread done within {num(JOIN_SECONDS)} s",
            actual="a call never returned: a deadlock",
            show_values=False,
            detail=hang_detail
            or "a method holding a threading.Lock called another method that takes the same lock?",
        )
    if outcome.errors:
        fail(
            ONE_AT_A_TIME,
            call=call,
            expected="no exception in any thread",
            actual=outcome.errors[0],
            show_values=False,
        )


@pytest.mark.level(4)
def test_threads_get_exactly_the_capacity_from_a_frozen_clock(impl):
    capacity, calls = 100, 30
    call = (
        f"bucket = TokenBucket({capacity}, 1, clock=frozen_clock); {THREADS} threads at once, each "
        f"calling bucket.try_acquire(1) {calls} times"
    )
    for trial in range(TRIALS):
        clock = SharedClock()
        bucket = impl.TokenBucket(capacity, 1, clock=clock)

        def worker() -> float:
            return float(sum(1 for _ in range(calls) if bucket.try_acquire(1)))

        outcome = run_workers(impl, [worker] * THREADS)
        check_outcome(outcome, call=call)
        total = sum(outcome.granted)
        if total != capacity:
            fail(
                FROZEN,
                call=call,
                expected=f"{capacity} granted",
                actual=f"{num(total)} granted (in run {trial + 1} of the same scenario)",
                show_values=False,
                detail="an unguarded read-refill-check-take: two threads saw the same tokens, so the calls did "
                "not behave as if the calls ran one at a time",
            )


@pytest.mark.level(4)
def test_threads_mixing_try_acquire_and_available_stay_within_the_budget(impl):
    capacity, rate, tick, calls = 20, 8, 1 / 64, 40
    call = (
        f"bucket = TokenBucket({capacity}, {rate}, clock=shared_clock); the clock moves 1/64 s at "
        f"every read; {THREADS - 2} threads each calling bucket.try_acquire(1) {calls} times and 2 "
        f"threads each calling bucket.available() {calls} times, all at once"
    )
    for trial in range(TRIALS):
        clock = SharedClock(tick)
        start = clock.now
        bucket = impl.TokenBucket(capacity, rate, clock=clock)
        seen: list[float] = []

        def taker() -> float:
            return float(sum(1 for _ in range(calls) if bucket.try_acquire(1)))

        def looker() -> float:
            for _ in range(calls):
                seen.append(bucket.available())
            return 0.0

        outcome = run_workers(impl, [taker] * (THREADS - 2) + [looker] * 2)
        check_outcome(outcome, call=call)
        total, budget = sum(outcome.granted), capacity + rate * (clock.now - start)
        if total > budget:
            fail(
                BUDGET,
                call=call,
                expected=f"at most {num(budget)} tokens granted (capacity + rate * {num(clock.now - start)} s)",
                actual=f"{num(total)} granted (in run {trial + 1} of the same scenario)",
                show_values=False,
                detail="a lost update: a refill or a take computed from a stale count overwrote another "
                "thread's, so the calls did not behave as if the calls ran one at a time",
            )
        wrong = [v for v in seen if not 0 <= v <= capacity]
        if wrong:
            fail(
                ONE_AT_A_TIME,
                call=call,
                expected=f"available() in [0, {capacity}]",
                actual=f"available() returned {show(wrong[0])}",
                show_values=False,
            )


@pytest.mark.level(4)
def test_threads_calling_acquire_stay_within_the_budget(impl):
    capacity, rate, calls = 4, 2, 8
    call = (
        f"bucket = TokenBucket({capacity}, {rate}, clock=virtual_clock); {THREADS} threads at once, "
        f"each calling bucket.acquire(1, sleep=virtual_sleep) {calls} times; virtual time jumps to "
        f"the earliest wake-up when every thread sleeps"
    )
    for trial in range(TRIALS):
        vt = VirtualTime(THREADS)
        bucket = impl.TokenBucket(capacity, rate, clock=vt.clock)

        def worker() -> float:
            try:
                got = 0.0
                for _ in range(calls):
                    bucket.acquire(1, sleep=vt.sleep)
                    got += 1
                return got
            finally:
                vt.done()

        with no_real_sleep(impl) as real:
            outcome = run_workers(impl, [worker] * THREADS, on_hang=vt.abort)
        if real:
            fail(
                INJECTED_SLEEP,
                call=call,
                expected="only the injected sleep",
                actual=", ".join(real[:3]),
                show_values=False,
            )
        check_outcome(
            outcome,
            call=call,
            hang_rule=NO_BLOCK if not outcome.errors else RETURNS,
            hang_detail="a thread waited for a lock while another slept holding it (time moves only when every thread sleeps), or a deadlock",
        )
        total, budget = sum(outcome.granted), capacity + rate * (vt.now - START)
        if total > budget:
            fail(
                BUDGET,
                call=call,
                expected=f"at most {num(budget)} tokens granted by t = {num(vt.now)}",
                actual=f"{num(total)} granted (in run {trial + 1} of the same scenario)",
                show_values=False,
                detail="a lost update: two threads took from the same count, so the calls did not behave as "
                "if the calls ran one at a time",
            )


@pytest.mark.level(4)
def test_a_thread_sleeping_in_acquire_blocks_nobody(impl):
    clock = FakeClock()
    bucket = impl.TokenBucket(2, 1, clock=clock)
    bucket.try_acquire(2)
    asleep, release = threading.Event(), threading.Event()

    def long_sleep(seconds: float) -> None:
        asleep.set()
        release.wait(JOIN_SECONDS)
        clock.now += seconds

    sleeper = threading.Thread(target=lambda: bucket.acquire(1, sleep=long_sleep), daemon=True)
    call = (
        "bucket = TokenBucket(2, 1, clock=t); bucket.try_acquire(2); thread A: bucket.acquire(1, "
        "sleep=long_sleep); while A sleeps, thread B: bucket.try_acquire(0.25); bucket.available()"
    )
    answered: list[Any] = []

    def other() -> None:
        answered.append(bucket.try_acquire(0.25))
        answered.append(bucket.available())

    with no_real_sleep(impl):
        sleeper.start()
        if not asleep.wait(JOIN_SECONDS):
            release.set()
            fail(
                WAIT,
                call=call,
                expected="A calls sleep(1.0)",
                actual="A never called sleep",
                show_values=False,
            )
        helper = threading.Thread(target=other, daemon=True)
        helper.start()
        helper.join(1.0)
        blocked = helper.is_alive()
        release.set()
        sleeper.join(JOIN_SECONDS)
        helper.join(JOIN_SECONDS)
    if blocked:
        fail(
            NO_BLOCK,
            call=call,
            expected="B's calls return at once",
            actual="B was blocked until A woke up",
            show_values=False,
        )


@pytest.mark.level(4)
def test_threads_on_one_key_get_exactly_the_capacity(impl):
    capacity, calls = 60, 20
    call = (
        f"limiter = KeyedRateLimiter({capacity}, 1, clock=frozen_clock); {THREADS} threads at once, "
        f"each calling limiter.try_acquire('k', 1) {calls} times (a key never seen before)"
    )
    for trial in range(TRIALS):
        limiter = impl.KeyedRateLimiter(capacity, 1, clock=SharedClock())

        def worker() -> float:
            return float(sum(1 for _ in range(calls) if limiter.try_acquire("k", 1)))

        outcome = run_workers(impl, [worker] * THREADS)
        check_outcome(outcome, call=call)
        total = sum(outcome.granted)
        if total != capacity:
            fail(
                FROZEN,
                call=call,
                expected=f"{capacity} granted",
                actual=f"{num(total)} granted (in run {trial + 1} of the same scenario)",
                show_values=False,
                detail="two threads created or updated the key's bucket at once, so the calls did not behave "
                "as if the calls ran one at a time",
            )


@pytest.mark.level(4)
def test_threads_on_many_keys_stay_within_each_keys_budget(impl):
    # 60 keys, each worker walking through them from its own offset: a key is called about every
    # 60 clock reads, so keys go idle (0.5 s = 32 reads) and len and try_acquire evict concurrently.
    capacity, rate, tick, calls = 2, 4, 1 / 64, 120
    keys = [f"k{i}" for i in range(60)]
    call = (
        f"limiter = KeyedRateLimiter({capacity}, {rate}, clock=shared_clock); the clock moves 1/64 s "
        f"at every read; {THREADS - 1} threads each calling limiter.try_acquire(key, 1) {calls} times "
        f"over keys 'k0'..'k59', each from its own offset (idle keys get evicted), 1 thread calling "
        f"len(limiter) {calls} times, all at once"
    )
    for trial in range(TRIALS):
        clock = SharedClock(tick)
        start = clock.now
        limiter = impl.KeyedRateLimiter(capacity, rate, clock=clock)
        per_key: dict[str, list[int]] = {key: [] for key in keys}
        lock = threading.Lock()

        def worker(offset: int) -> float:
            got = dict.fromkeys(keys, 0)
            for j in range(calls):
                key = keys[(j + 12 * offset) % len(keys)]
                if limiter.try_acquire(key, 1):
                    got[key] += 1
            with lock:
                for key in keys:
                    per_key[key].append(got[key])
            return float(sum(got.values()))

        def counter() -> float:
            for _ in range(calls):
                len(limiter)
            return 0.0

        outcome = run_workers(impl, [lambda o=o: worker(o) for o in range(THREADS - 1)] + [counter])
        check_outcome(outcome, call=call)
        budget = capacity + rate * (clock.now - start)
        for key, counts in per_key.items():
            if sum(counts) > budget:
                fail(
                    BUDGET,
                    call=call,
                    expected=f"at most {num(budget)} tokens granted on key {key!r}",
                    actual=f"{sum(counts)} granted (in run {trial + 1} of the same scenario)",
                    show_values=False,
                    detail="a lost update, or a bucket evicted or re-created while another thread used it, so the "
                    "calls did not behave as if the calls ran one at a time",
                )
